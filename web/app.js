// Boot, sign-in and sign-up, the live stream's events, and the wiring
// between the views. The views live in sidebar.js, chat.js and members.js.
import { $, h, replace } from './dom.js';
import { t, applyStatic, setLang, currentLang, onLangChange, LANGUAGES } from './i18n.js';
import { api, ApiError, setToken, setUnauthorizedHandler, clearImageCache } from './api.js';
import { session, userStore, forgetUser } from './storage.js';
import { initKeys, closeSwitcher } from './keys.js';
import { Stream } from './stream.js';
import { state, resetState, upsertConv, markRead, convTitle } from './state.js';
import { renderList, showForm, parseHandles } from './sidebar.js';
import { initSearch, clearSearch } from './search.js';
import { initChat, openChat, closeChat, showMessage, showPreview, showRemoval, rerenderChat, renderHeader } from './chat.js';
import { applyEdit, applyRecall, applyReaction, applyPreviewsHidden } from './actions.js';
import { initMembers, renderMembers, toggle as toggleMembers } from './members.js';
import { backoff } from './util.js';
import { initPeople } from './people.js';
import { initProfile, toggleProfile } from './profile.js';
import { forgetPictures } from './avatars.js';
import { setupAdmin, renderAdmin } from './admin.js';
import { outcomeText } from './moderation.js';
import { initChatState, loadSettings, notifyMessage, applyStateEvent, renderTyping } from './chatstate.js';
import { initPayments, resetPayments, paymentEvent, renderOrders, returnedFromProvider } from './payments.js';

const TOAST_MS = 6000;
let stream = null;
let signUpMode = false;
let bootAttempt = 0;
let wasOnline = false;

// ---- screens ---------------------------------------------------------------

function show(screen) {
  $('#boot').hidden = true;
  $('#auth').hidden = screen !== 'auth';
  $('#main').hidden = screen !== 'main';
}

function setView(view) {
  $('#main').dataset.view = view;
}

function toast(text) {
  const item = h('div.toast', { role: 'alert' }, h('span', {}, text), h('button', { type: 'button', 'aria-label': t('dismiss'), onclick: () => item.remove() }, '✕'));
  $('#toasts').append(item);
  setTimeout(() => item.remove(), TOAST_MS);
}

function showError(e) {
  if (e instanceof ApiError && e.status === 401) return;
  if (e instanceof ApiError && e.status === 0) toast(t('errNetwork'));
  else toast(t('errGeneric', { detail: e?.message || String(e) }));
}

function setConn(kind) {
  const labels = { online: 'connOnline', connecting: 'connConnecting', reconnecting: 'connReconnecting', offline: 'connOffline' };
  const conn = $('#conn');
  conn.textContent = t(labels[kind] || 'connConnecting');
  conn.dataset.state = kind;
  const banner = $('#banner');
  banner.hidden = kind === 'online' || kind === 'connecting';
  banner.textContent = t(labels[kind] || 'connReconnecting');
  $('#main').dataset.conn = kind;
}

// ---- authentication ----------------------------------------------------------

function renderAuth() {
  $('#auth-title').textContent = t(signUpMode ? 'signUp' : 'signIn');
  $('#auth-submit').textContent = t(signUpMode ? 'signUp' : 'signIn');
  $('#auth-toggle').textContent = t(signUpMode ? 'toSignIn' : 'toSignUp');
  $('#display-row').hidden = !signUpMode;
  $('#auth-password').autocomplete = signUpMode ? 'new-password' : 'current-password';
}

function showAuth(notice, handle) {
  show('auth');
  renderAuth();
  const n = $('#auth-notice');
  n.hidden = !notice;
  n.textContent = notice || '';
  $('#auth-error').textContent = '';
  if (handle) $('#auth-handle').value = handle;
  $('#auth-password').value = '';
  (handle ? $('#auth-password') : $('#auth-handle')).focus();
}

async function submitAuth(e) {
  e.preventDefault();
  const handle = $('#auth-handle').value.trim().toLowerCase();
  const password = $('#auth-password').value;
  const button = $('#auth-submit');
  $('#auth-error').textContent = '';
  button.disabled = true;
  try {
    if (signUpMode) {
      const display = $('#auth-display').value.trim();
      await api('POST', '/accounts', { handle, password, ...(display ? { display_name: display } : {}) });
    }
    const s = await api('POST', '/sessions', { handle, password });
    session.set({ token: s.token, handle });
    setToken(s.token);
    await enterApp();
  } catch (err) {
    $('#auth-error').textContent = err instanceof ApiError && err.status === 0 ? t('errNetwork') : err.message;
  } finally {
    button.disabled = false;
  }
}

function leaveApp() {
  stream?.stop();
  stream = null;
  closeSwitcher();
  closeChat();
  toggleMembers(false);
  toggleProfile(false);
  clearImageCache();
  forgetPictures();
  resetPayments();
  resetState();
  setToken(null);
  session.clear();
  wasOnline = false;
  document.title = t('appName');
}

function onUnauthorized() {
  if (!state.me) return;
  const handle = state.me.handle;
  // closeChat (in leaveApp) saves the composer's text as the draft.
  leaveApp();
  showAuth(t('sessionExpired'), handle);
}

async function signOut() {
  const handle = state.me?.handle;
  try {
    await api('DELETE', '/sessions/current', undefined, { quiet401: true });
  } catch {
    // Signed out locally all the same.
  }
  leaveApp();
  // After leaveApp, which saves the open draft: nothing of this account's
  // is left for whoever signs in next on this browser.
  if (handle) forgetUser(handle);
  showAuth('');
}

// ---- the signed-in app ------------------------------------------------------------

async function freshCursor() {
  const head = await api('GET', '/events?timeout_ms=0');
  return head.next;
}

async function loadConversations() {
  const list = await api('GET', '/conversations');
  for (const c of list.conversations || []) upsertConv(c);
}

async function enterApp() {
  const me = await api('GET', '/me');
  resetState();
  clearSearch();
  state.me = me;
  state.store = userStore(me.handle);
  // Take the cursor before the list: whatever happens in between arrives
  // again on the stream, and the keyed state shows it once.
  if (!state.store.cursor()) state.store.setCursor(await freshCursor());
  await loadConversations();
  loadSettings();
  show('main');
  $('#me').textContent = t('signedInAs', { handle: me.handle });
  setupAdmin(me, toggleAdmin);
  setView('list');
  renderList(open);
  setConn('connecting');
  stream = new Stream({
    cursor: () => state.store?.cursor() ?? null,
    saveCursor: (c) => state.store?.setCursor(c),
    onEvent: handleEvent,
    onState: (kind) => {
      // Back online after a break: read markers and mutes changed on other
      // devices meanwhile are not in the log; the list has them.
      if (kind === 'online' && wasOnline) loadConversations().then(() => renderList(open), () => {});
      if (kind === 'online') wasOnline = true;
      setConn(kind);
    },
    onUnauthorized,
    onCursorRejected: async () => {
      // The server's data was reset: start over from its present.
      const c = await freshCursor();
      state.convs.clear();
      state.msgs.clear();
      await loadConversations();
      renderList(open);
      if (state.current !== null && !state.convs.has(state.current)) closeChat();
      return c;
    },
  });
  stream.start();
  const fromHash = Number(location.hash.match(/^#\/c\/(\d+)$/)?.[1]);
  if (fromHash && state.convs.has(fromHash)) open(fromHash);
  // Back from a wallet provider's page: opens the order's conversation.
  await returnedFromProvider();
}

/** Operator pages in place of the chat, and back. */
async function toggleAdmin() {
  const admin = $('#admin');
  const opening = admin.hidden;
  admin.hidden = !opening;
  $('#layout').hidden = opening;
  $('#admin-open').setAttribute('aria-expanded', String(opening));
  $('#admin-open').textContent = opening ? t('backToChats') : t('operator');
  if (opening) await renderAdmin();
}

function open(id) {
  if (!state.convs.has(id)) return;
  openChat(id);
  // Opening a conversation is to write in it (keyboard users start there).
  $('#composer-input').focus();
  renderTyping();
  renderOrders();
  setView('chat');
  renderList(open);
  renderMembers();
  if (location.hash !== `#/c/${id}`) history.replaceState(null, '', `#/c/${id}`);
}

function backToList() {
  setView('list');
  toggleMembers(false);
  $('#sidebar').querySelector('[aria-current="true"]')?.focus();
}

const fetching = new Map();

/**
 * A conversation the stream mentions but the list does not have yet (or
 * whose roles changed). A new one comes with the whole list, which has its
 * unread count as the server counts it.
 */
function fetchConv(id) {
  if (!fetching.has(id)) {
    const known = state.convs.has(id);
    fetching.set(
      id,
      (known ? api('GET', `/conversations/${id}`).then((c) => upsertConv(c)) : loadConversations())
        .catch(() => null)
        .finally(() => fetching.delete(id)),
    );
  }
  return fetching.get(id);
}

function afterChange() {
  renderList(open);
  if (state.current !== null) {
    renderHeader();
    renderTyping();
    renderMembers();
  }
}

async function handleEvent(event) {
  const id = event.conversation_id ?? event.message?.conversation_id;
  if (typeof id !== 'number') return;
  if (event.type === 'member' && event.handle === state.me?.handle && (event.change === 'left' || event.change === 'removed')) {
    left(id);
    return;
  }
  if (!state.convs.has(id)) {
    await fetchConv(id);
    if (!state.convs.has(id)) return;
    if (event.type !== 'message') {
      renderList(open);
      return;
    }
  }
  const conv = state.convs.get(id);
  switch (event.type) {
    case 'message':
      // Before showing it: showing may mark it read.
      notifyMessage(event.message);
      showMessage(event.message);
      break;
    case 'read':
    case 'receipt':
    case 'mute':
    case 'typing':
      if (!applyStateEvent(conv, event)) return;
      break;
    case 'preview':
      showPreview(id, event.message_id, event.url, event.preview);
      break;
    case 'removal':
      showRemoval(id, event.message_id);
      break;
    case 'edit':
      applyEdit(event.message);
      break;
    case 'recall':
      applyRecall(id, event.message_id, event.by);
      break;
    case 'reaction':
      applyReaction(event);
      break;
    case 'complaint':
      // Only the reporter receives it: what became of their report.
      toast(outcomeText(event));
      return;
    case 'payment':
      // Only the buyer receives it: their order's new state.
      paymentEvent(event);
      return;
    case 'previews_hidden':
      applyPreviewsHidden(id, event.message_id);
      break;
    case 'member': {
      const members = conv.members || [];
      if (event.change === 'joined' && !members.some((m) => m.handle === event.handle)) {
        conv.members = [...members, { handle: event.handle, role: event.role || 'member' }];
        // The event has the handle only: read the list for the display name.
        await fetchConv(id);
      } else if (event.change === 'left' || event.change === 'removed') {
        conv.members = members.filter((m) => m.handle !== event.handle);
      } else if (event.change === 'role') {
        // Ownership hand-over changes two roles: ask for the whole list.
        await fetchConv(id);
      }
      break;
    }
    default:
      return;
  }
  afterChange();
}

function left(id) {
  const conv = state.convs.get(id);
  if (!conv) return;
  const title = convTitle(conv);
  state.convs.delete(id);
  state.msgs.delete(id);
  state.pending.delete(id);
  if (state.current === id) {
    closeChat();
    toggleMembers(false);
    setView('list');
    history.replaceState(null, '', '#');
    toast(t('leftConversation', { title }));
  }
  renderList(open);
}

// ---- wiring ------------------------------------------------------------------

function fillLanguages(select) {
  replace(select, LANGUAGES.map((l) => h('option', { value: l.code, selected: l.code === currentLang() }, l.label)));
  select.addEventListener('change', () => setLang(select.value));
}

function wire() {
  initSearch(open);
  fillLanguages($('#lang-auth'));
  fillLanguages($('#lang-main'));
  onLangChange((code) => {
    $('#lang-auth').value = code;
    $('#lang-main').value = code;
    renderAuth();
    if (state.me) {
      $('#me').textContent = t('signedInAs', { handle: state.me.handle });
      setConn($('#conn').dataset.state || 'connecting');
      renderList(open);
      rerenderChat();
      renderOrders();
      renderMembers();
    }
  });
  $('#auth-form').addEventListener('submit', submitAuth);
  $('#auth-toggle').addEventListener('click', () => {
    signUpMode = !signUpMode;
    renderAuth();
    $('#auth-error').textContent = '';
  });
  $('#sign-out').addEventListener('click', signOut);
  $('#new-chat').addEventListener('click', () => showForm('new-chat-form'));
  $('#new-group').addEventListener('click', () => showForm('new-group-form'));
  for (const b of document.querySelectorAll('.mini-form .cancel')) b.addEventListener('click', () => showForm(null));
  $('#new-chat-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const handle = $('#new-chat-handle').value.trim().toLowerCase();
    if (!handle) return;
    try {
      const c = upsertConv(await api('POST', '/conversations', { kind: 'direct', with: handle }));
      $('#new-chat-handle').value = '';
      showForm(null);
      open(c.id);
      $('#composer-input').focus();
    } catch (err) {
      showError(err);
    }
  });
  $('#new-group-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const title = $('#new-group-title').value.trim();
    if (!title) return;
    try {
      const members = parseHandles($('#new-group-members').value);
      const c = upsertConv(await api('POST', '/conversations', { kind: 'group', title, members }));
      $('#new-group-title').value = '';
      $('#new-group-members').value = '';
      showForm(null);
      open(c.id);
      $('#composer-input').focus();
    } catch (err) {
      showError(err);
    }
  });
  $('#back').addEventListener('click', backToList);
  initProfile(async () => {
    // Read the member lists again: they carry names and picture tags.
    await loadConversations();
    renderList(open);
    renderMembers();
    rerenderChat();
  });
  initKeys(open, () => {
    if (!$('#profile').hidden) toggleProfile(false);
    if (!$('#members-panel').hidden) toggleMembers(false);
    showForm(null);
  });
  window.addEventListener('hashchange', () => {
    const id = Number(location.hash.match(/^#\/c\/(\d+)$/)?.[1]);
    if (id && state.convs.has(id) && id !== state.current) open(id);
  });
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible' && state.current !== null) {
      markRead(state.current);
      renderList(open);
    }
  });
  initChat({ changed: afterChange, error: showError });
  initMembers({ changed: afterChange, error: showError, left });
  initPeople();
  initChatState({ changed: afterChange, error: showError });
  initPayments({ rerender: rerenderChat, toast, error: showError, open });
  setUnauthorizedHandler(onUnauthorized);
}

// ---- boot ------------------------------------------------------------------------

async function boot() {
  const s = session.get();
  if (!s?.token) {
    showAuth('');
    return;
  }
  setToken(s.token);
  try {
    await enterApp();
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      setToken(null);
      session.clear();
      showAuth(t('sessionExpired'), s.handle);
    } else {
      // The server is away: say so and try again, rather than a blank page.
      show('main');
      setConn('offline');
      setTimeout(boot, backoff(bootAttempt++));
    }
  }
}

applyStatic();
wire();
boot();
