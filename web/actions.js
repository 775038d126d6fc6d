// Everyday chat on a message: Edit, Recall, Reply, React and (the sender's,
// when it has a card) Remove preview, the "edited"
// mark, the recalled placeholder, the quoted reply and reaction chips.
// The composer gains two modes (editing a message, replying to one):
// Up in an empty composer edits your last message, Esc leaves the mode.
import { $, h, replace } from './dom.js';
import { t } from './i18n.js';
import { api, ApiError } from './api.js';
import { state, msgState, myRole } from './state.js';
import { reportButton } from './moderation.js';

const QUICK = ['👍', '❤️', '😂', '🎉', '😮', '😢'];

let hooks = { rerender: () => {}, error: () => {} };
// { kind: 'edit' | 'reply', conv, seq, saved } or null.
let mode = null;

const mine = (m) => m.sender === state.me?.handle;

function moderator(conv) {
  const role = myRole(conv);
  return conv?.kind === 'group' && (role === 'admin' || role === 'owner');
}

/** What a recalled message says instead of its text. */
export function recalledText(m) {
  if (m.recalled_by && m.recalled_by !== m.sender) return t('messageRemovedByGroupAdmin', { by: m.recalled_by });
  return mine(m) ? t('youRecalled') : t('theyRecalled', { who: m.sender });
}

/** The placeholder of a recalled message, or null. */
export function recalledBody(m) {
  return m.recalled ? [h('div.msg-recalled', {}, recalledText(m))] : null;
}

/** What goes above the body: the quoted message, if this is a reply. */
export function quoteOf(m) {
  if (m.reply_to == null) return null;
  const q = m.reply;
  const local = msgState(m.conversation_id).bySeq.get(m.reply_to);
  // The original as this client knows it now (edited or recalled since).
  const sender = local?.sender ?? q?.sender ?? '';
  const recalled = local ? local.recalled || local.removed : q?.recalled || q?.removed;
  const first = local ? (local.body || '').split('\n')[0] : q?.text || '';
  return h(
    'blockquote.reply-quote',
    { dataset: { seq: String(m.reply_to) } },
    h('span.quote-sender', {}, sender),
    ' ',
    h('span.quote-text', {}, recalled ? t('quoteRecalled') : first),
  );
}

/** What goes under the body: the edited mark, reactions and the actions. */
export function extrasOf(m) {
  if (m.recalled || m.removed) return [];
  const conv = state.convs.get(m.conversation_id);
  const out = [];
  if (m.edited_at) out.push(h('span.edited', { title: m.edited_at }, t('edited')));
  const reactions = m.reactions || [];
  if (reactions.length) {
    out.push(
      h(
        'div.reactions',
        {},
        reactions.map((r) =>
          h(
            `button.reaction${r.users.includes(state.me?.handle) ? '.mine' : ''}`,
            {
              type: 'button',
              title: r.users.join(', '),
              dataset: { emoji: r.emoji },
              onclick: () => react(m, r.emoji, !r.users.includes(state.me?.handle)),
            },
            `${r.emoji} ${r.users.length}`,
          ),
        ),
      ),
    );
  }
  const buttons = [
    h('button.act-reply', { type: 'button', onclick: () => startReply(m) }, t('reply')),
    h('button.act-react', { type: 'button', onclick: (e) => togglePicker(e.currentTarget, m) }, t('react')),
  ];
  if (mine(m)) buttons.push(h('button.act-edit', { type: 'button', onclick: () => startEdit(m) }, t('edit')));
  if (mine(m) || moderator(conv)) buttons.push(h('button.act-recall', { type: 'button', onclick: () => recall(m) }, t('recall')));
  // Anyone may report a link someone else sent; the sender is never told who.
  if (!mine(m)) buttons.push(reportButton(m));
  if (mine(m) && hasPreview(m)) buttons.push(h('button.act-hide-preview', { type: 'button', onclick: () => hidePreview(m) }, t('hidePreview')));
  out.push(h('div.msg-actions', {}, buttons));
  return out;
}

function togglePicker(button, m) {
  const open = button.parentElement.querySelector('.react-picker');
  if (open) {
    open.remove();
    return;
  }
  button.after(
    h(
      'span.react-picker',
      {},
      QUICK.map((e) => h('button.pick', { type: 'button', dataset: { emoji: e }, onclick: () => react(m, e, true) }, e)),
    ),
  );
}

async function call(fn) {
  try {
    await fn();
  } catch (e) {
    if (e instanceof ApiError) hooks.error(e);
    else throw e;
  }
}

function react(m, emoji, on) {
  const path = `/conversations/${m.conversation_id}/messages/${m.seq}/reactions/${encodeURIComponent(emoji)}`;
  return call(() => api(on ? 'PUT' : 'DELETE', path));
}

/** Whether a card is shown for the message (what "Remove preview" removes). */
function hasPreview(m) {
  return !m.previews_hidden && Object.keys(m.previews || {}).length > 0;
}

function hidePreview(m) {
  return call(() => api('DELETE', `/conversations/${m.conversation_id}/messages/${m.seq}/previews`));
}

function recall(m) {
  return call(() => api('DELETE', `/conversations/${m.conversation_id}/messages/${m.seq}`));
}

function renderMode() {
  let bar = $('#composer-mode');
  if (!bar) {
    bar = h('div.composer-mode', { id: 'composer-mode' });
    $('#composer').before(bar);
  }
  bar.hidden = !mode;
  if (!mode) return replace(bar);
  const target = msgState(mode.conv).bySeq.get(mode.seq);
  const label = mode.kind === 'edit' ? t('editing') : t('replyingTo', { who: target?.sender || '' });
  replace(
    bar,
    h('span.mode-label', {}, label),
    ' ',
    h('span.mode-text', {}, (target?.body || '').split('\n')[0]),
    ' ',
    h('button.mode-cancel', { type: 'button', onclick: () => cancel() }, t('cancel')),
  );
}

function startEdit(m) {
  const input = $('#composer-input');
  mode = { kind: 'edit', conv: m.conversation_id, seq: m.seq, saved: mode ? mode.saved : input.value };
  input.value = m.body;
  input.focus();
  renderMode();
}

function startReply(m) {
  const input = $('#composer-input');
  if (mode?.kind === 'edit') input.value = mode.saved;
  mode = { kind: 'reply', conv: m.conversation_id, seq: m.seq, saved: '' };
  input.focus();
  renderMode();
}

/** Leaves the edit or reply mode (Esc, Cancel, another conversation). */
export function cancel() {
  if (mode?.kind === 'edit') $('#composer-input').value = mode.saved;
  mode = null;
  renderMode();
}

/** The seq a send should reply to (and leaves reply mode), or null. */
export function takeReply(conversationId) {
  if (mode?.kind !== 'reply' || mode.conv !== conversationId) return null;
  const seq = mode.seq;
  mode = null;
  renderMode();
  return seq;
}

/** Saves an edit if the composer is in edit mode; true when it was. */
export function submitEdit() {
  if (mode?.kind !== 'edit') return false;
  const { conv, seq, saved } = mode;
  const input = $('#composer-input');
  const body = input.value;
  if (!body.trim()) return true;
  mode = null;
  input.value = saved;
  renderMode();
  call(async () => {
    const m = await api('PATCH', `/conversations/${conv}/messages/${seq}`, { body });
    applyEdit(m);
  });
  return true;
}

function lastOwn(conversationId) {
  const seqs = [...msgState(conversationId).bySeq.keys()].sort((a, b) => b - a);
  for (const seq of seqs) {
    const m = msgState(conversationId).bySeq.get(seq);
    if (mine(m) && !m.recalled && !m.removed) return m;
  }
  return null;
}

/** Up in an empty composer and Esc; called from the composer's keydown. */
export function onComposerKey(e) {
  const input = $('#composer-input');
  if (e.key === 'Escape' && mode) {
    e.preventDefault();
    cancel();
  } else if (e.key === 'ArrowUp' && !input.value && !mode && state.current !== null) {
    const m = lastOwn(state.current);
    if (m) {
      e.preventDefault();
      startEdit(m);
    }
  }
}

function find(conversationId, messageId) {
  for (const m of msgState(conversationId).bySeq.values()) if (m.id === messageId) return m;
  return null;
}

/** An `edit` event (or an edit's answer): the new text, reactions kept. */
export function applyEdit(m) {
  const old = msgState(m.conversation_id).bySeq.get(m.seq);
  const merged = { ...m, reactions: old ? old.reactions : m.reactions };
  msgState(m.conversation_id).bySeq.set(m.seq, merged);
  const conv = state.convs.get(m.conversation_id);
  // The conversation list shows the newest message's text.
  if (conv?.last_message?.seq === m.seq) conv.last_message = merged;
  hooks.rerender(m.conversation_id);
}

/** A `recall` event: the message becomes a placeholder. */
export function applyRecall(conversationId, messageId, by) {
  const m = find(conversationId, messageId);
  if (!m) return;
  Object.assign(m, { recalled: true, recalled_by: by, body: '', links: [], previews: {}, reactions: [] });
  if (mode && mode.conv === conversationId && mode.seq === m.seq) cancel();
  hooks.rerender(conversationId);
}

/** A `previews_hidden` event: the sender removed the message's cards, for good. */
export function applyPreviewsHidden(conversationId, messageId) {
  const m = find(conversationId, messageId);
  if (!m) return;
  Object.assign(m, { previews_hidden: true, previews: {} });
  hooks.rerender(conversationId);
}

/** A `reaction` event: applied as a set change, so a repeat changes nothing. */
export function applyReaction(event) {
  const m = find(event.conversation_id, event.message_id);
  if (!m) return;
  const reactions = (m.reactions || []).map((r) => ({ ...r, users: [...r.users] }));
  let entry = reactions.find((r) => r.emoji === event.emoji);
  if (event.on) {
    if (!entry) reactions.push((entry = { emoji: event.emoji, users: [] }));
    if (!entry.users.includes(event.user)) entry.users.push(event.user);
  } else if (entry) {
    entry.users = entry.users.filter((u) => u !== event.user);
  }
  m.reactions = reactions.filter((r) => r.users.length);
  hooks.rerender(event.conversation_id);
}

export function initActions(h_) {
  hooks = h_;
}
