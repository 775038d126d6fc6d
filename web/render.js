// Message bodies as text, with links drawn by the server's treatment.
// Nothing here parses HTML: user text only ever becomes text nodes, and
// hrefs are only ever http(s) URLs or same-origin paths (the interstitial).
import { h } from './dom.js';
import { t, currentLang } from './i18n.js';
import { httpUrl, localPath, splitBidi, titleCase } from './util.js';
import { proxiedImage } from './api.js';
import { buyButton } from './payments.js';

const REL = 'noopener noreferrer nofollow';

/** Text with bidi controls shown as visible ⟨U+202E⟩ marks instead of reordering. */
export function textNodes(text) {
  return splitBidi(text).map((part) =>
    typeof part === 'string'
      ? document.createTextNode(part)
      : h('span.bidi', { title: t('bidiMark', { code: part.bidi }), 'aria-label': t('bidiMark', { code: part.bidi }) }, `⟨${part.bidi}⟩`),
  );
}

function isUnknown(link) {
  return !link.platform || link.platform === 'unknown';
}

export function platformName(link) {
  if (isUnknown(link)) return t('unknownPlatform');
  // The registry's Chinese name (淘宝, 抖音…) in the Chinese interface.
  if (currentLang().startsWith('zh') && typeof link.platform_name_zh === 'string' && link.platform_name_zh) return link.platform_name_zh;
  return link.platform_name || titleCase(link.platform);
}

/** The link decisions that can be drawn: in range, not overlapping, sorted. */
function usableLinks(body, links) {
  if (!Array.isArray(links)) return [];
  const sorted = links
    .filter((l) => l && Number.isInteger(l.start_utf16) && Number.isInteger(l.end_utf16))
    .filter((l) => l.start_utf16 >= 0 && l.end_utf16 > l.start_utf16 && l.end_utf16 <= body.length)
    .sort((a, b) => a.start_utf16 - b.start_utf16);
  const out = [];
  let end = 0;
  for (const l of sorted) {
    if (l.start_utf16 < end) continue;
    out.push(l);
    end = l.end_utf16;
  }
  return out;
}

function liveAnchor(link, text) {
  const href = httpUrl(link.canonical) || httpUrl(link.url);
  if (!href) return h('span.link-text', {}, textNodes(text));
  return h('a.link.live', { href, rel: REL, target: '_blank', title: link.display_host || null, dataset: { treatment: 'live', platform: link.platform || '' } }, textNodes(text));
}

/**
 * A live share code (a Taobao passphrase, a Douyin share text…), or a payment
 * link a browser cannot open (a wallet deep link, a payment payload): a chip that
 * names the platform and copies the code, which opens in that platform's app.
 */
function codeChip(link, text) {
  const platform = platformName(link);
  const kind = link.kind === 'payment' ? 'payment' : 'share_code';
  const title = t(kind === 'payment' ? 'payChipTitle' : 'codeChipTitle', { platform });
  const chip = h(
    'button.code-chip',
    { type: 'button', title, dataset: { treatment: String(link.treatment), platform: link.platform || '', kind } },
    h('span.code-text', {}, textNodes(text)),
    h('span.code-platform', {}, ` ⧉ ${platform}`),
  );
  chip.addEventListener('click', () => {
    const done = () => { chip.dataset.copied = 'true'; chip.querySelector('.code-platform').textContent = ` ✓ ${t('codeCopied')}`; };
    if (navigator.clipboard && navigator.clipboard.writeText) navigator.clipboard.writeText(text).then(done, () => {});
  });
  return chip;
}

function goHref(link) {
  const given = localPath(link.go) || httpUrl(link.go);
  if (given) return given;
  const target = httpUrl(link.canonical) || httpUrl(link.url);
  return target ? `/go?url=${encodeURIComponent(target)}` : null;
}

function warnAnchor(link, text) {
  const href = goHref(link);
  const platform = platformName(link);
  if (!href) return h('span.link-text', {}, textNodes(text));
  return h(
    'a.link.warn',
    { href, rel: REL, target: '_blank', title: t('leavingForTitle', { platform }), dataset: { treatment: 'warn', platform: link.platform || '' } },
    textNodes(text),
    h('span.leaving', {}, ` ↗ ${t('leavingFor', { platform })}`),
  );
}

function policyText(link) {
  const ids = Array.isArray(link.policies) ? link.policies.filter((p) => typeof p === 'string') : [];
  return ids.length ? t('policy', { ids: ids.join(', ') }) : '';
}

function flagText(link) {
  const flags = Array.isArray(link.flags) ? link.flags.filter((f) => typeof f === 'string') : [];
  return flags.map((f) => (FLAG_KEYS[f] ? t(FLAG_KEYS[f]) : f)).join(', ');
}

const FLAG_KEYS = { bidi: 'flag_bidi', homograph: 'flag_homograph', lookalike: 'flag_lookalike' };

function inertNote(link, kind) {
  const platform = platformName(link);
  const flags = flagText(link);
  // A flagged link is inert because of what it contains, not where it leads.
  const sentence = flags
    ? t('inertFlagged', { flags })
    : t('inertNote', { platform, kind: t(kind === 'group' ? 'kind_group' : 'kind_direct') });
  const extra = [typeof link.reason === 'string' ? link.reason : '', policyText(link)].filter(Boolean).join(' · ');
  // Why it is text, in plain words, and a way to still use it: copying.
  const copy = h('button.copy-link', { type: 'button' }, t('copyLink'));
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(typeof link.url === 'string' ? link.url : '');
      copy.textContent = t('copied');
    } catch {
      copy.textContent = t('copyFailed');
    }
  });
  return h(
    'p.link-note.inert-note',
    { dataset: { platform: link.platform || '' } },
    'ⓘ ',
    sentence,
    extra ? h('small.policy-id', {}, ` (${extra})`) : '',
    ` ${t(flags ? 'inertWhyFlagged' : 'inertWhy')} `,
    copy,
  );
}

function flagNote(link) {
  const flags = flagText(link);
  return flags ? h('p.link-note.flag-note', {}, '⚠ ', t('flagged', { host: String(link.display_host || ''), flags })) : null;
}

function previewFor(message, link) {
  const previews = message.previews && typeof message.previews === 'object' ? message.previews : {};
  return previews[link.url] || previews[link.canonical] || null;
}

function card(link, preview) {
  const href = httpUrl(link.canonical) || httpUrl(link.url);
  if (!href || !preview || typeof preview !== 'object') return null;
  const str = (v) => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');
  const title = str(preview.title);
  const description = str(preview.description);
  let site = str(preview.publisher);
  if (!site) {
    try {
      site = new URL(href).hostname;
    } catch {
      site = '';
    }
  }
  const isVideo = preview.kind === 'video' || Boolean(preview.video);
  const price = str(preview.price);
  const media = h('div.card-media');
  const image = httpUrl(preview.image);
  if (image) {
    const img = h('img', { alt: '', loading: 'lazy', decoding: 'async' });
    proxiedImage(image).then((src) => {
      if (src) {
        img.src = src;
        media.classList.add('has-image');
      }
    });
    media.append(img);
  }
  if (isVideo) media.append(h('span.play-badge', { role: 'img', 'aria-label': t('video') }, '▶'));
  const body = h(
    'div.card-body',
    {},
    h('span.card-site', {}, textNodes(site)),
    title ? h('strong.card-title', {}, textNodes(title)) : null,
    description ? h('span.card-desc', {}, textNodes(description)) : null,
    price ? h('span.card-price', {}, textNodes([str(preview.currency), price].filter(Boolean).join(' '))) : null,
  );
  return h('a.card', { href, rel: REL, target: '_blank', dataset: { kind: str(preview.kind) } }, media, body);
}

/**
 * The body of a message: a fragment for the text with its links, and the
 * notes and cards that go under it.
 */
export function renderBody(message, kind) {
  // Its text is gone from the server; only the placeholder is left.
  if (message.removed) return [h('div.msg-text.removed', {}, t('messageRemoved'))];
  const body = typeof message.body === 'string' ? message.body : '';
  const text = h('div.msg-text');
  const extras = [];
  let pos = 0;
  for (const link of usableLinks(body, message.links)) {
    if (link.start_utf16 > pos) text.append(...textNodes(body.slice(pos, link.start_utf16)));
    const slice = body.slice(link.start_utf16, link.end_utf16);
    // A code is never a hyperlink: live (or warn) is a chip, inert is text. So is a payment
    // link a browser cannot open (alipays://…, wxp://…, an EMVCo payload).
    const chipKind = link.kind === 'share_code' || (link.kind === 'payment' && !httpUrl(link.url));
    const code = chipKind && (link.treatment === 'live' || link.treatment === 'warn');
    switch (code ? 'code' : link.treatment) {
      case 'code':
        text.append(codeChip(link, slice));
        break;
      case 'live': {
        text.append(liveAnchor(link, slice));
        const preview = link.preview !== false && !message.previews_hidden ? previewFor(message, link) : null;
        const c = card(link, preview);
        if (c) {
          extras.push(c);
          // Beside the card, not inside it: the card is a link, and a button in a link is not allowed.
          const buy = buyButton(message, link, preview);
          if (buy) extras.push(buy);
        }
        const f = flagNote(link);
        if (f) extras.push(f);
        break;
      }
      case 'warn': {
        text.append(warnAnchor(link, slice));
        const f = flagNote(link);
        if (f) extras.push(f);
        break;
      }
      case 'inert':
        text.append(h('span.link-text.inert', { dataset: { treatment: 'inert', platform: link.platform || '' } }, textNodes(slice)));
        extras.push(inertNote(link, kind));
        break;
      default:
        text.append(h('span.link-text.blocked', { title: t('blockedNote'), dataset: { treatment: String(link.treatment || 'unknown') } }, textNodes(slice)));
    }
    pos = link.end_utf16;
  }
  if (pos < body.length) text.append(...textNodes(body.slice(pos)));
  return [text, ...extras];
}

/** The refusal shown instead of sending when a link is blocked. */
export function renderRefusal(links) {
  const blocked = (links || []).filter((l) => l && l.treatment === 'blocked');
  return h(
    'div.refusal',
    { role: 'alert' },
    h('strong', {}, t('blockedTitle')),
    h(
      'ul',
      {},
      blocked.map((l) =>
        h(
          'li',
          {},
          textNodes(isUnknown(l) ? String(l.url || l.canonical || '') : t('blockedLink', { url: l.url || l.canonical || '', platform: platformName(l) })),
          l.reason ? h('span.reason', {}, ' — ', textNodes(String(l.reason))) : null,
          Array.isArray(l.lists) && l.lists.length ? h('span.lists', {}, ' — ', t('onLists', { lists: l.lists.join(', ') })) : null,
          policyText(l) ? h('span.policies', {}, ` (${policyText(l)})`) : null,
        ),
      ),
    ),
  );
}
