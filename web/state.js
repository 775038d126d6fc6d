// The client's in-memory state, shared by the view modules. Messages are
// keyed by seq per conversation, so a message seen twice (history, the
// send's answer, the stream's catch-up) is stored once. Read state (read_seq,
// unread, muted) comes from the server's conversation list and events.
import { api } from './api.js';

export const state = {
  me: null, // {handle, display_name, is_admin}
  store: null, // userStore(handle)
  convs: new Map(), // id -> {id, kind, title, members, last_seq, last_message, activity}
  msgs: new Map(), // id -> {bySeq: Map<seq, message>, loaded, loading}
  pending: new Map(), // id -> [{txn, body, status: 'sending'|'failed', error}]
  current: null, // open conversation id
  evaluate: 'unknown', // is POST /links/evaluate there: 'unknown' | 'yes' | 'no'
};

export function resetState() {
  state.me = null;
  state.store = null;
  state.convs.clear();
  state.msgs.clear();
  state.pending.clear();
  state.current = null;
}

export function msgState(id) {
  let m = state.msgs.get(id);
  if (!m) {
    m = { bySeq: new Map(), loaded: false, loading: false };
    state.msgs.set(id, m);
  }
  return m;
}

export function oldestSeq(id) {
  let min = Infinity;
  for (const seq of msgState(id).bySeq.keys()) if (seq < min) min = seq;
  return min;
}

export function pendingOf(id) {
  let list = state.pending.get(id);
  if (!list) {
    list = [];
    state.pending.set(id, list);
  }
  return list;
}

/** The conversation's display name: the group title, or the other person. */
export function convTitle(conv) {
  if (!conv) return '';
  if (conv.kind === 'group') return conv.title || '';
  const other = (conv.members || []).find((m) => m.handle !== state.me?.handle);
  return other ? other.display_name || other.handle : conv.title || state.me?.handle || '';
}

export function myRole(conv) {
  return (conv?.members || []).find((m) => m.handle === state.me?.handle)?.role || null;
}

/** The server's unread count (from the list, then kept up to date by events). */
export function unread(conv) {
  return Math.max(0, conv.unread || 0);
}

/**
 * Marks the conversation read up to its newest message, on the server
 * (which tells this user's other devices). Only while the page is visible:
 * a message arriving in a hidden tab stays unread (title, notification).
 */
export function markRead(id) {
  const conv = state.convs.get(id);
  if (!conv || document.visibilityState !== 'visible') return;
  if ((conv.read_seq || 0) >= (conv.last_seq || 0)) return;
  conv.read_seq = conv.last_seq;
  conv.unread = 0;
  const seq = conv.last_seq;
  // Never backwards on the server; a failure is corrected by the next list.
  api('PUT', `/conversations/${id}/read`, { seq }).catch(() => {});
}

/** Adds or refreshes a conversation from the API's shape. */
export function upsertConv(c) {
  const old = state.convs.get(c.id);
  const conv = {
    ...(old || {}),
    ...c,
    last_message: c.last_message !== undefined ? c.last_message : old?.last_message || null,
  };
  conv.last_seq = Math.max(old?.last_seq || 0, c.last_seq || 0);
  conv.activity = conv.last_message?.created_at || old?.activity || new Date().toISOString();
  state.convs.set(c.id, conv);
  return conv;
}

/** An administrator removed the message: what is left of it is a placeholder. */
export function markRemoved(m) {
  Object.assign(m, { removed: true, body: '', links: [], previews: {} });
}

/**
 * A copy of a message made before an event changed it must not undo that
 * event: a send's answer that arrives after the stream brought the message
 * and its preview (seen under load: the card came, then went), or a page of
 * history read before the preview was attached. A card, once attached, goes
 * only for good (removal, the sender hiding the cards), so the copy keeps
 * the cards already here, and stays without them once they went.
 */
function keepWhatEventsGave(old, m) {
  if (old.removed) {
    markRemoved(m);
  } else if (old.previews_hidden) {
    Object.assign(m, { previews_hidden: true, previews: {} });
  } else if (old.previews && !m.removed && !m.previews_hidden) {
    m.previews = { ...old.previews, ...(m.previews || {}) };
  }
}

/** Records a message; returns true if it was new. */
export function recordMessage(m) {
  const ms = msgState(m.conversation_id);
  const old = ms.bySeq.get(m.seq);
  const isNew = !old;
  if (old && old.id === m.id) keepWhatEventsGave(old, m);
  ms.bySeq.set(m.seq, m);
  const conv = state.convs.get(m.conversation_id);
  // Newer than the list knew and from someone else: one more unread (older
  // ones loaded with history are in the server's count already).
  if (conv && isNew && m.seq > (conv.last_seq || 0) && m.seq > (conv.read_seq || 0) && m.sender !== state.me?.handle) {
    conv.unread = (conv.unread || 0) + 1;
  }
  if (conv && m.seq >= (conv.last_seq || 0)) {
    conv.last_seq = m.seq;
    conv.last_message = m;
    conv.activity = m.created_at;
  }
  // My own message (sent here or elsewhere) means I have read up to it
  // (the server never counts my own messages as unread).
  if (conv && m.sender === state.me?.handle) {
    conv.read_seq = Math.max(conv.read_seq || 0, m.seq);
  }
  if (m.client_txn_id) {
    const list = state.pending.get(m.conversation_id);
    if (list) {
      const i = list.findIndex((p) => p.txn === m.client_txn_id);
      if (i >= 0 && m.sender === state.me?.handle) list.splice(i, 1);
    }
  }
  return isNew;
}
