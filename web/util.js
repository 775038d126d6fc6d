// Small pure helpers shared by the modules.

/** A v4 UUID; crypto.randomUUID only exists in secure contexts. */
export function uuid() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The URL if it is an absolute http(s) URL, else null: the only hrefs we ever emit. */
export function httpUrl(text) {
  if (typeof text !== 'string') return null;
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
  } catch {
    return null;
  }
}

/** Same-origin path such as `/go?…` (not `//host`), else null. */
export function localPath(text) {
  return typeof text === 'string' && /^\/(?![/\\])/.test(text) ? text : null;
}

// Bidirectional formatting controls: shown visibly instead of reordering text.
const BIDI = /[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/g;

/** Splits text into plain strings and {bidi: 'U+202E'} markers. */
export function splitBidi(text) {
  const parts = [];
  let last = 0;
  for (const m of text.matchAll(BIDI)) {
    if (m.index > last) parts.push(text.slice(last, m.index));
    const code = m[0].codePointAt(0).toString(16).toUpperCase().padStart(4, '0');
    parts.push({ bidi: `U+${code}` });
    last = m.index + m[0].length;
  }
  if (last < text.length) parts.push(text.slice(last));
  return parts;
}

/** Removes bidi controls (for one-line places such as the conversation list). */
export function stripBidi(text) {
  return String(text ?? '').replace(BIDI, '');
}

/** Capitalises a platform id when the server gave no display name. */
export function titleCase(id) {
  const s = String(id ?? '');
  return s ? s[0].toUpperCase() + s.slice(1) : s;
}

/** Exponential backoff with jitter, in ms: 500, 1000, 2000 … capped. */
export function backoff(attempt, base = 500, cap = 10000) {
  const ms = Math.min(cap, base * 2 ** Math.min(attempt, 10));
  return Math.round(ms / 2 + Math.random() * (ms / 2));
}
