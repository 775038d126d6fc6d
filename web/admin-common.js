// Helpers shared by the operator pages: SVG nodes, status lines, error
// text, time in the browser's zone, treatment labels.
import { ApiError } from './api.js';
import { t, currentLang } from './i18n.js';

const SVG = 'http://www.w3.org/2000/svg';
export const TREATMENTS = ['live', 'warn', 'inert', 'blocked'];

/** An SVG element; attributes are set as attributes, children as text nodes. */
export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

/** Sets a status line's text, marked as an error or not. */
export function say(el, text, isError = false) {
  if (!el) return;
  el.textContent = text;
  el.classList.toggle('error', isError);
}

/** What went wrong, in the server's words (problem+json title and detail). */
export function errorText(e) {
  if (!(e instanceof ApiError)) return String(e?.message || e);
  const { title, detail } = e.problem;
  if (title && detail && title !== detail) return `${title}: ${detail}`;
  return detail || title || e.message;
}

/** A server instant (ms since the epoch) in the browser's zone and language. */
export function when(ms) {
  return new Intl.DateTimeFormat(currentLang(), { dateStyle: 'medium', timeStyle: 'medium' }).format(new Date(ms));
}

/** The browser's time zone name, e.g. Asia/Shanghai. */
export function zone() {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'local';
}

/** A Date as a `datetime-local` value (the browser's zone, to the second). */
export function toLocalInput(d) {
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/**
 * A `datetime-local` value read in the browser's zone, as RFC 3339 UTC
 * (`new Date('YYYY-MM-DDTHH:MM[:SS]')` without an offset is local time).
 * Null when empty or malformed.
 */
export function fromLocalInput(value) {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(value || '')) return null;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/** A treatment's name in the interface language. */
export function treatmentLabel(treatment) {
  return t(`treat_${treatment}`);
}
