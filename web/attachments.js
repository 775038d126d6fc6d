// Attachments: the composer's attach button (each chosen file is uploaded,
// then sent as a message of its own), and how a message shows what it
// carries — an image as its thumbnail that opens the full image, any other
// file as its name and size with a download link. Downloads need the
// bearer header, which <img> and <a href> cannot send, so the bytes are
// fetched here and shown through blob: URLs.
import { $, h } from './dom.js';
import { t } from './i18n.js';
import { api, ApiError, getToken } from './api.js';
import { state } from './state.js';

const RASTER = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp']);
const blobUrls = new Map();

async function fetchBlob(path) {
  const r = await fetch(`/api/v1${path}`, { headers: { Authorization: `Bearer ${getToken()}` } });
  if (!r.ok) throw new ApiError(r.status, await r.json().catch(() => null));
  return r.blob();
}

/** A blob: URL for an attachment's bytes, fetched once. */
function blobUrl(path) {
  if (!blobUrls.has(path)) {
    const p = fetchBlob(path).then((b) => URL.createObjectURL(b));
    p.catch(() => blobUrls.delete(path));
    blobUrls.set(path, p);
  }
  return blobUrls.get(path);
}

export function formatSize(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

function imageNode(a) {
  const img = h('img.att-thumb', { alt: a.name, width: a.width ? Math.min(a.width, 320) : undefined });
  blobUrl(`/attachments/${a.id}/thumbnail`).then((u) => { img.src = u; }, () => { img.alt = `${a.name} (${t('attachmentUnavailable')})`; });
  const open = async (e) => {
    e.preventDefault();
    // Opened as a blob: URL of the image's own type: shown, never run.
    try {
      window.open(await blobUrl(`/attachments/${a.id}`), '_blank', 'noopener');
    } catch {
      /* gone (removed) or no longer a member: nothing to open */
    }
  };
  return h('a.att-image', { href: '#', title: a.name, onclick: open, dataset: { id: String(a.id) } }, img);
}

function fileNode(a) {
  const download = async (e) => {
    e.preventDefault();
    try {
      const link = h('a', { href: await blobUrl(`/attachments/${a.id}`), download: a.name });
      document.body.append(link);
      link.click();
      link.remove();
    } catch {
      /* see imageNode */
    }
  };
  return h(
    'div.att-file',
    { dataset: { id: String(a.id) } },
    h('span.att-name', {}, a.name),
    ' ',
    h('span.att-size', {}, formatSize(a.size)),
    ' ',
    h('a.att-download', { href: '#', onclick: download }, t('download')),
  );
}

/** What a message carries, or null. */
export function renderAttachments(m) {
  const list = Array.isArray(m.attachments) ? m.attachments : [];
  if (!list.length) return null;
  return h('div.attachments', {}, list.map((a) => (RASTER.has(a.content_type) && a.thumbnail ? imageNode(a) : fileNode(a))));
}

async function uploadAndSend(id, file, onSent, onError) {
  try {
    const r = await fetch(`/api/v1/conversations/${id}/attachments?name=${encodeURIComponent(file.name)}`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${getToken()}`, 'Content-Type': 'application/octet-stream' },
      body: file,
    });
    const up = await r.json().catch(() => null);
    if (!r.ok) throw new ApiError(r.status, up);
    onSent(await api('POST', `/conversations/${id}/messages`, { body: '', attachments: [up.id] }));
  } catch (e) {
    onError(e);
  }
}

/** Adds the attach button to the composer; `onSent(message)` shows a send. */
export function initAttachments({ onSent, onError }) {
  const input = h('input', { id: 'attach-input', type: 'file', multiple: true, hidden: true });
  const button = h('button.attach', { id: 'attach', type: 'button', title: t('attach'), 'aria-label': t('attach') }, '📎');
  button.addEventListener('click', () => input.click());
  input.addEventListener('change', async () => {
    const id = state.current;
    const files = [...input.files];
    input.value = '';
    if (id === null) return;
    for (const f of files) await uploadAndSend(id, f, onSent, onError);
  });
  $('#composer').prepend(button, input);
}
