// Everyday chat on top of the server's state: the unread count in the tab
// title, Web Notifications (direct messages and mentions of me only; not
// for muted conversations, nor the one open and focused), an optional
// sound (off unless turned on here), mute, typing indicators and read
// receipts. The server keeps read markers and mutes; this module shows them.
import { $ } from './dom.js';
import { t } from './i18n.js';
import { api } from './api.js';
import { state, unread, convTitle } from './state.js';
import { stripBidi } from './util.js';

const ASKED_KEY = 'kaifang:notifications-asked';
const SOUND_KEY = 'kaifang:sound';
/** At most one typing notice sent per conversation in this long (the server also throttles). */
const TYPING_SEND_MS = 3000;
/** How long "… is typing" stays up without a new notice. */
const TYPING_SHOW_MS = 5000;
const NOTE_BODY_CHARS = 120;

const typingShown = new Map(); // conversation id -> {handle, until}
let lastTypingSent = new Map(); // conversation id -> ms
let typingTimer = null;

function soundOn() {
  try {
    return localStorage.getItem(SOUND_KEY) === 'on';
  } catch {
    return false;
  }
}

// ---- the tab title -----------------------------------------------------------

/** "(3) Kaifang": unread messages in conversations that are not muted. */
export function updateTitle() {
  let n = 0;
  for (const conv of state.convs.values()) if (!conv.muted) n += unread(conv);
  document.title = n > 0 ? `(${n > 99 ? '99+' : n}) ${t('appName')}` : t('appName');
}

// ---- notifications -------------------------------------------------------------

/**
 * Asks for permission once, on the first gesture after sign-in (browsers
 * ignore or penalise asking without one; before sign-in the prompt would
 * make no sense), and remembers having asked, across reloads.
 */
export function askOnGesture() {
  const ask = () => {
    if (!state.me) return;
    document.removeEventListener('pointerdown', ask);
    document.removeEventListener('keydown', ask);
    if (!('Notification' in window) || Notification.permission !== 'default') return;
    try {
      if (localStorage.getItem(ASKED_KEY)) return;
      localStorage.setItem(ASKED_KEY, '1');
    } catch {
      return;
    }
    // Older browsers take a callback and return nothing.
    Notification.requestPermission()?.catch?.(() => {});
  };
  document.addEventListener('pointerdown', ask);
  document.addEventListener('keydown', ask);
}

function mentionsMe(m) {
  const me = state.me?.handle;
  return Boolean(m.mentions && (m.mentions.all || (m.mentions.handles || []).includes(me)));
}

function beep() {
  try {
    const ctx = new AudioContext();
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    gain.gain.value = 0.05;
    osc.connect(gain).connect(ctx.destination);
    osc.frequency.value = 880;
    osc.start();
    osc.stop(ctx.currentTime + 0.12);
    osc.onended = () => ctx.close();
  } catch {
    // No audio: the notification is enough.
  }
}

/** A new message from the stream: a notification when it is for me. */
export function notifyMessage(m) {
  const conv = state.convs.get(m.conversation_id);
  if (!conv || m.sender === state.me?.handle || m.removed || conv.muted) return;
  // Read on another device already (e.g. replayed after a reconnect).
  if (m.seq <= (conv.read_seq || 0)) return;
  const focused = conv.id === state.current && document.visibilityState === 'visible' && document.hasFocus();
  if (focused) return;
  if (conv.kind !== 'direct' && !mentionsMe(m)) return;
  if ('Notification' in window && Notification.permission === 'granted') {
    const body = stripBidi(m.body).replace(/\s+/g, ' ').trim().slice(0, NOTE_BODY_CHARS);
    const title = conv.kind === 'direct' ? m.sender : t('noteInGroup', { sender: m.sender, title: stripBidi(convTitle(conv)) });
    try {
      const note = new Notification(title, { body, tag: `kaifang-${conv.id}` });
      note.onclick = () => {
        window.focus();
        location.hash = `#/c/${conv.id}`;
      };
    } catch {
      // Some platforms only allow notifications from a service worker.
    }
  }
  if (soundOn()) beep();
}

// ---- events that are not in the log -------------------------------------------------

/** Applies a `read`, `receipt`, `mute` or `typing` event; true if it changed what is shown. */
export function applyStateEvent(conv, event) {
  switch (event.type) {
    case 'read':
      // Markers only move forward; two devices' reports may cross.
      if (event.seq >= (conv.read_seq || 0)) {
        conv.read_seq = event.seq;
        conv.unread = event.unread;
      }
      return true;
    case 'receipt':
      conv.receipt_seq = Math.max(conv.receipt_seq || 0, event.seq);
      return true;
    case 'mute':
      conv.muted = event.muted;
      return true;
    case 'typing':
      typingShown.set(conv.id, { handle: event.handle, until: Date.now() + TYPING_SHOW_MS });
      renderTyping();
      clearTimeout(typingTimer);
      typingTimer = setTimeout(renderTyping, TYPING_SHOW_MS + 50);
      return false;
    default:
      return false;
  }
}

/** The open conversation's status line: typing, or the other's read receipt. */
export function renderTyping() {
  const line = $('#chat-status');
  if (!line) return;
  const conv = state.convs.get(state.current);
  const typing = conv && typingShown.get(conv.id);
  if (typing && typing.until > Date.now()) {
    line.textContent = t('typing', { handle: typing.handle });
  } else if (conv?.kind === 'direct' && conv.receipt_seq) {
    line.textContent = t('readUpTo', { seq: conv.receipt_seq });
  } else {
    line.textContent = '';
  }
  const mute = $('#mute-toggle');
  if (mute && conv) {
    mute.textContent = conv.muted ? t('unmute') : t('mute');
    mute.setAttribute('aria-pressed', String(Boolean(conv.muted)));
  }
}

// ---- what this user does ------------------------------------------------------------

/** The composer changed: tell the other member of a direct chat, now and then. */
function typed() {
  const conv = state.convs.get(state.current);
  if (!conv || conv.kind !== 'direct') return;
  const now = Date.now();
  if (now - (lastTypingSent.get(conv.id) || 0) < TYPING_SEND_MS) return;
  lastTypingSent.set(conv.id, now);
  api('POST', `/conversations/${conv.id}/typing`).catch(() => {});
}

/** Wires the header's controls; `changed` re-renders what depends on state. */
export function initChatState({ changed, error }) {
  lastTypingSent = new Map();
  $('#composer-input').addEventListener('input', typed);
  $('#mute-toggle').addEventListener('click', async () => {
    const conv = state.convs.get(state.current);
    if (!conv) return;
    try {
      const s = await api(conv.muted ? 'DELETE' : 'PUT', `/conversations/${conv.id}/mute`);
      conv.muted = s.muted;
      renderTyping();
      changed();
    } catch (e) {
      error(e);
    }
  });
  const sound = $('#sound-toggle');
  sound.checked = soundOn();
  sound.addEventListener('change', () => {
    try {
      localStorage.setItem(SOUND_KEY, sound.checked ? 'on' : 'off');
    } catch {
      // Not remembered; it still applies now.
    }
  });
  const receipts = $('#receipts-toggle');
  receipts.addEventListener('change', async () => {
    try {
      const s = await api('PUT', '/me/read-receipts', { enabled: receipts.checked });
      receipts.checked = s.enabled;
    } catch (e) {
      receipts.checked = !receipts.checked;
      error(e);
    }
  });
  askOnGesture();
}

/** After sign-in: the read-receipt setting as the server has it. */
export async function loadSettings() {
  try {
    const s = await api('GET', '/me/read-receipts');
    $('#receipts-toggle').checked = Boolean(s.enabled);
  } catch {
    // Shown as off; changing it will say if the server is away.
  }
}

