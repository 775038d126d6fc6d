// One open conversation: its messages (history paging, live inserts), the
// pending sends with Retry, and the composer (Enter sends, drafts kept).
import { $, h, replace } from './dom.js';
import { t, formatTime } from './i18n.js';
import { api, ApiError } from './api.js';
import { renderBody, renderRefusal } from './render.js';
import { initAttachments, renderAttachments } from './attachments.js';
import { state, msgState, oldestSeq, pendingOf, convTitle, markRead, recordMessage, markRemoved } from './state.js';
import { uuid, stripBidi } from './util.js';
import { personNode } from './people.js';
import { avatarNode } from './avatars.js';
import { recalledBody, quoteOf, extrasOf, onComposerKey, submitEdit, takeReply, cancel as cancelMode, initActions } from './actions.js';

const PAGE = 50;
const NEAR_BOTTOM_PX = 80;
const NEAR_TOP_PX = 40;

let hooks = { changed: () => {}, error: () => {} };

const scroller = () => $('#messages');

function nearBottom() {
  const s = scroller();
  return s.scrollHeight - s.scrollTop - s.clientHeight < NEAR_BOTTOM_PX;
}

function toBottom() {
  const s = scroller();
  s.scrollTop = s.scrollHeight;
}

function messageNode(m) {
  const conv = state.convs.get(m.conversation_id);
  const mine = m.sender === state.me?.handle;
  return h(
    `li.msg${mine ? '.mine' : ''}`,
    { dataset: { seq: String(m.seq), id: String(m.id) } },
    h(
      'div.msg-meta',
      {},
      mine ? null : avatarNode('msg-avatar', m.sender, m.conversation_id),
      personNode('span.sender', m.sender, m.conversation_id, mine ? t('you') : undefined),
      ' ',
      h('time', { datetime: m.created_at, title: m.created_at }, formatTime(m.created_at)),
    ),
    quoteOf(m),
    recalledBody(m) || renderBody(m, conv?.kind),
    renderAttachments(m),
    extrasOf(m),
  );
}

function renderHistoryEdge(id) {
  const ms = msgState(id);
  const oldest = oldestSeq(id);
  const conv = state.convs.get(id);
  const more = ms.loaded ? oldest !== Infinity && oldest > 1 : (conv?.last_seq || 0) > 0;
  $('#load-earlier').hidden = !more || !ms.loaded;
  $('#load-earlier').disabled = ms.loading;
  $('#history-start').hidden = more || !ms.loaded;
  $('#history-loading').hidden = !ms.loading;
}

function renderMessages(id) {
  const seqs = [...msgState(id).bySeq.keys()].sort((a, b) => a - b);
  replace($('#msg-list'), seqs.map((seq) => messageNode(msgState(id).bySeq.get(seq))));
  renderHistoryEdge(id);
}

function renderPending(id) {
  replace(
    $('#pending-list'),
    pendingOf(id).map((p) =>
      h(
        `li.msg.mine.pending.${p.status}`,
        { dataset: { txn: p.txn } },
        h('div.msg-meta', {}, h('span.sender', {}, t('you')), ' ', h('span.status', {}, p.status === 'sending' ? t('sending') : t('notSent', { error: p.error || '' }))),
        renderBody({ body: p.body, links: [] }, null),
        p.status === 'failed'
          ? h(
              'div.pending-actions',
              {},
              h('button.retry', { type: 'button', onclick: () => send(id, p) }, t('retry')),
              h('button.discard', { type: 'button', onclick: () => discard(id, p) }, t('discard')),
            )
          : null,
      ),
    ),
  );
}

export function initChat(h_) {
  hooks = h_;
  initAttachments({ onSent: (m) => { showMessage(m); hooks.changed(); }, onError: (e) => hooks.error(e) });
  initActions({ rerender: (id) => id === state.current && renderMessages(id), error: (e) => hooks.error(e) });
  const input = $('#composer-input');
  input.addEventListener('keydown', onComposerKey);
  input.addEventListener('input', () => {
    if (state.current !== null) state.store?.setDraft(state.current, input.value);
    grow();
  });
  input.addEventListener('keydown', (e) => {
    // isComposing/229: an IME (pinyin) is still choosing characters.
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      submit();
    }
  });
  $('#composer').addEventListener('submit', (e) => {
    e.preventDefault();
    submit();
  });
  $('#load-earlier').addEventListener('click', () => state.current !== null && loadEarlier(state.current));
  scroller().addEventListener('scroll', () => {
    if (state.current !== null && scroller().scrollTop < NEAR_TOP_PX && !$('#load-earlier').hidden) loadEarlier(state.current);
    if (state.current !== null && nearBottom()) markRead(state.current);
  });
}

// The textarea grows with its text through CSS (field-sizing); nothing to do
// here beyond keeping the caret in view.
function grow() {
  const input = $('#composer-input');
  input.scrollTop = input.scrollHeight;
}

export function openChat(id) {
  const conv = state.convs.get(id);
  if (!conv) return;
  if (state.current !== null && state.current !== id) state.store?.setDraft(state.current, $('#composer-input').value);
  if (state.current !== id) cancelMode();
  state.current = id;
  $('#chat-empty').hidden = true;
  $('#chat-view').hidden = false;
  renderHeader();
  replace($('#refusal-area'));
  renderMessages(id);
  renderPending(id);
  const input = $('#composer-input');
  input.value = state.store?.draft(id) || '';
  grow();
  toBottom();
  markRead(id);
  if (!msgState(id).loaded) loadLatest(id);
}

export function closeChat() {
  if (state.current !== null) state.store?.setDraft(state.current, $('#composer-input').value);
  state.current = null;
  $('#chat-view').hidden = true;
  $('#chat-empty').hidden = false;
  $('#composer-input').value = '';
}

export function renderHeader() {
  const conv = state.convs.get(state.current);
  if (!conv) return;
  const title = stripBidi(convTitle(conv));
  $('#chat-title').textContent = title;
  $('#chat-subtitle').textContent = conv.kind === 'group' ? t('membersCount', { n: conv.members?.length || 0 }) : t('directWith', { handle: title });
  $('#messages').setAttribute('aria-label', title);
}

async function loadLatest(id) {
  const ms = msgState(id);
  if (ms.loading) return;
  ms.loading = true;
  if (id === state.current) renderHistoryEdge(id);
  try {
    const page = await api('GET', `/conversations/${id}/messages?limit=${PAGE}`);
    for (const m of page.messages || []) recordMessage(m);
    ms.loaded = true;
  } catch (e) {
    hooks.error(e);
  } finally {
    ms.loading = false;
  }
  if (id === state.current) {
    renderMessages(id);
    renderPending(id);
    toBottom();
    markRead(id);
    hooks.changed();
  }
}

async function loadEarlier(id) {
  const ms = msgState(id);
  const before = oldestSeq(id);
  if (ms.loading || before === Infinity || before <= 1) return;
  ms.loading = true;
  renderHistoryEdge(id);
  const s = scroller();
  const fromBottom = s.scrollHeight - s.scrollTop;
  try {
    const page = await api('GET', `/conversations/${id}/messages?before_seq=${before}&limit=${PAGE}`);
    for (const m of page.messages || []) recordMessage(m);
  } catch (e) {
    hooks.error(e);
  } finally {
    ms.loading = false;
  }
  if (id === state.current) {
    renderMessages(id);
    // Keep the message that was on screen where it was.
    s.scrollTop = s.scrollHeight - fromBottom;
  }
}

/** A message from the stream or a send's answer. */
export function showMessage(m) {
  recordMessage(m);
  if (m.conversation_id !== state.current) return;
  const stick = nearBottom();
  const list = $('#msg-list');
  const node = messageNode(m);
  const old = list.querySelector(`li[data-seq="${m.seq}"]`);
  if (old) old.replaceWith(node);
  else {
    const after = [...list.children].find((li) => Number(li.dataset.seq) > m.seq);
    list.insertBefore(node, after || null);
  }
  renderPending(m.conversation_id);
  renderHistoryEdge(m.conversation_id);
  if (stick || m.sender === state.me?.handle) {
    toBottom();
    markRead(m.conversation_id);
  }
}

/** An administrator removed a message: it becomes a placeholder. */
export function showRemoval(conversationId, messageId) {
  const ms = msgState(conversationId);
  for (const m of ms.bySeq.values()) {
    if (m.id !== messageId) continue;
    markRemoved(m);
    if (conversationId === state.current) showMessage(m);
    return;
  }
}

/** A preview arrived for a message already shown. */
export function showPreview(conversationId, messageId, url, preview) {
  const ms = msgState(conversationId);
  for (const m of ms.bySeq.values()) {
    if (m.id !== messageId) continue;
    if (m.previews_hidden) return;
    m.previews = { ...(m.previews || {}), [url]: preview };
    if (conversationId === state.current) showMessage(m);
    return;
  }
}

async function evaluate(body, kind) {
  if (state.evaluate === 'no') return null;
  try {
    const answer = await api('POST', '/links/evaluate', { text: body, conversation_kind: kind });
    state.evaluate = 'yes';
    return answer;
  } catch (e) {
    // 404/405: this server has no link engine yet; the send itself is still checked.
    if (e instanceof ApiError && (e.status === 404 || e.status === 405)) state.evaluate = 'no';
    if (e instanceof ApiError && e.status === 401) throw e;
    return null;
  }
}

// Sends go out one after another per conversation, in the order typed,
// each checked by the evaluate endpoint first.
const queues = new Map();

function enqueue(id, job) {
  const next = (queues.get(id) || Promise.resolve()).then(job);
  queues.set(id, next.catch(() => {}));
  return next;
}

/** Puts refused text back: in the composer if it is showing, else in the draft. */
function restoreText(store, id, body) {
  if (state.store === store && state.current === id) {
    const input = $('#composer-input');
    input.value = input.value ? `${body}\n${input.value}` : body;
    store.setDraft(id, input.value);
  } else if (store) {
    const draft = store.draft(id);
    store.setDraft(id, draft ? `${body}\n${draft}` : body);
  }
}

function submit() {
  const id = state.current;
  const conv = state.convs.get(id);
  const input = $('#composer-input');
  const body = input.value;
  if (submitEdit()) return;
  if (!conv || !body.trim()) return;
  const store = state.store;
  // Clear at once: whatever is typed next is a new message, never wiped.
  input.value = '';
  grow();
  store?.setDraft(id, '');
  replace($('#refusal-area'));
  const p = { txn: uuid(), body, status: 'sending', error: '', reply_to: takeReply(id) };
  pendingOf(id).push(p);
  renderPending(id);
  toBottom();
  return enqueue(id, async () => {
    let verdict;
    try {
      verdict = await evaluate(body, conv.kind);
    } catch {
      // 401: back at sign-in; the text becomes the draft.
      dropPending(id, p);
      restoreText(store, id, body);
      return;
    }
    if (verdict?.links?.some((l) => l.treatment === 'blocked')) {
      dropPending(id, p);
      restoreText(store, id, body);
      if (state.current === id) replace($('#refusal-area'), renderRefusal(verdict.links));
      return;
    }
    await send(id, p);
  });
}

async function send(id, p) {
  const store = state.store;
  p.status = 'sending';
  if (id === state.current) {
    renderPending(id);
    toBottom();
  }
  try {
    const m = await api('POST', `/conversations/${id}/messages`, { body: p.body, client_txn_id: p.txn, reply_to: p.reply_to ?? undefined });
    showMessage(m);
    hooks.changed();
    return;
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      // The token is gone: keep the text as the draft for after sign-in.
      dropPending(id, p);
      restoreText(store, id, p.body);
      return;
    }
    if (e instanceof ApiError && e.status === 422 && Array.isArray(e.problem.links)) {
      dropPending(id, p);
      restoreText(store, id, p.body);
      if (id === state.current) replace($('#refusal-area'), renderRefusal(e.problem.links));
      return;
    }
    p.status = 'failed';
    p.error = e instanceof ApiError && e.status === 0 ? t('errNetwork') : e.message;
  }
  if (id === state.current) renderPending(id);
}

function dropPending(id, p) {
  const list = pendingOf(id);
  const i = list.indexOf(p);
  if (i >= 0) list.splice(i, 1);
  if (id === state.current) renderPending(id);
}

function discard(id, p) {
  dropPending(id, p);
  $('#composer-input').focus();
}

/** Re-renders the open conversation (language change, member change). */
export function rerenderChat() {
  if (state.current === null) return;
  renderHeader();
  renderMessages(state.current);
  renderPending(state.current);
}
