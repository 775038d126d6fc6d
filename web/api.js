// The HTTP API: JSON in and out, problem+json errors as ApiError, and one
// hook for 401 (the token is gone: back to sign-in, drafts kept).
import { currentLang } from './i18n.js';

export class ApiError extends Error {
  constructor(status, problem) {
    // Title and detail: the server writes both in the UI's language
    // (Accept-Language) when it can.
    const said = [problem?.title, problem?.detail].filter((s) => typeof s === 'string' && s);
    super(said.length ? [...new Set(said)].join(': ') : `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
}

let token = null;
let onUnauthorized = () => {};

export function setToken(t) {
  token = t;
}
export function getToken() {
  return token;
}
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

/**
 * Calls `/api/v1{path}` with `body` as JSON, or as raw bytes when it is a
 * Blob (a chosen file); `headers` adds request headers (an Idempotency-Key).
 * Network failures raise ApiError with status 0.
 */
export async function api(method, path, body, { signal, quiet401 = false, headers: extra = {} } = {}) {
  // The UI's language, so the server's problem titles match it.
  const headers = { ...extra, Accept: 'application/json, application/problem+json', 'Accept-Language': currentLang().startsWith('zh') ? 'zh-CN, zh;q=0.9, en;q=0.5' : 'en' };
  const raw = body instanceof Blob;
  if (body !== undefined) headers['Content-Type'] = raw ? 'application/octet-stream' : 'application/json';
  if (token) headers.Authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(`/api/v1${path}`, {
      method,
      headers,
      body: body === undefined || raw ? body : JSON.stringify(body),
      signal,
      cache: 'no-store',
    });
  } catch (e) {
    if (e?.name === 'AbortError') throw e;
    throw new ApiError(0, { title: 'network', detail: String(e?.message || e) });
  }
  if (response.status === 204) return null;
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    if (response.status === 401 && token && !quiet401) onUnauthorized();
    throw new ApiError(response.status, data);
  }
  return data;
}

const imageCache = new Map();
const IMAGE_CACHE_MAX = 200;

/**
 * An image through the server's proxy as a blob: URL (an <img> cannot send
 * the bearer header). Resolves to null when the proxy refuses or is absent.
 */
export function proxiedImage(url) {
  if (imageCache.has(url)) return imageCache.get(url);
  const promise = (async () => {
    try {
      const r = await fetch(`/api/v1/previews/image?url=${encodeURIComponent(url)}`, {
        headers: token ? { Authorization: `Bearer ${token}` } : {},
      });
      if (!r.ok) return null;
      const type = r.headers.get('Content-Type') || '';
      if (!type.startsWith('image/')) return null;
      return URL.createObjectURL(await r.blob());
    } catch {
      return null;
    }
  })();
  if (imageCache.size >= IMAGE_CACHE_MAX) {
    const [oldest, old] = imageCache.entries().next().value;
    imageCache.delete(oldest);
    old.then((u) => u && URL.revokeObjectURL(u));
  }
  imageCache.set(url, promise);
  return promise;
}

export function clearImageCache() {
  for (const p of imageCache.values()) p.then((u) => u && URL.revokeObjectURL(u));
  imageCache.clear();
}
