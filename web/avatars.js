// Avatars: a person's picture where their name is (the sidebar's direct
// chats, message lines, the member list), else their initial. The tag in
// member lists names the picture; it is in the address, so a new picture
// is fetched once and an old one never shown from a cache. Like
// attachments, the bytes need the bearer header, so they come through
// blob: URLs.
import { h } from './dom.js';
import { getToken } from './api.js';
import { state } from './state.js';
import { stripBidi } from './util.js';

/** Pictures fetched, `handle?tag` → Promise of a blob: URL (or null). */
const pictures = new Map();
const PICTURES_MAX = 500;

function picture(handle, tag) {
  const key = `${handle}?${tag}`;
  if (!pictures.has(key)) {
    if (pictures.size >= PICTURES_MAX) forgetPictures();
    const p = fetch(`/api/v1/users/${encodeURIComponent(handle)}/avatar?v=${encodeURIComponent(tag)}`, {
      headers: { Authorization: `Bearer ${getToken()}` },
    })
      .then((r) => (r.ok ? r.blob() : null))
      .then((b) => (b ? URL.createObjectURL(b) : null))
      .catch(() => null);
    pictures.set(key, p);
  }
  return pictures.get(key);
}

/** Drops every fetched picture (at sign-out, or when the cache is full). */
export function forgetPictures() {
  for (const p of pictures.values()) p.then((u) => u && URL.revokeObjectURL(u));
  pictures.clear();
}

/** `handle`'s member entry: from the conversation first, else any. */
function memberOf(handle, conversationId) {
  const find = (conv) => (conv?.members || []).find((m) => m.handle === handle);
  let m = find(state.convs.get(conversationId));
  if (!m) {
    for (const conv of state.convs.values()) {
      m = find(conv);
      if (m) break;
    }
  }
  return m;
}

/**
 * An avatar node of class `cls` for `handle`: the picture when they have
 * one (`tag` if known, else from the member lists), else their initial.
 * Decorative: the name beside it says who it is.
 */
export function avatarNode(cls, handle, conversationId, tag) {
  const m = memberOf(handle, conversationId);
  const avatarTag = tag === undefined ? m?.avatar : tag;
  const initial = (stripBidi(m?.display_name || handle)[0] || '?').toUpperCase();
  // The initial is drawn by CSS (attr(data-initial)), so it is not part of
  // the line's text that copying or a screen reader would take.
  const node = h(`span.avatar.${cls}`, { 'aria-hidden': 'true', dataset: { handle, initial } });
  if (avatarTag) {
    picture(handle, avatarTag).then((url) => {
      if (url) node.replaceChildren(h('img.avatar-img', { src: url, alt: '', dataset: { tag: avatarTag } }));
    });
  }
  return node;
}
