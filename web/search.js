// Searching messages: a box above the conversation list and the hits under
// it, newest first; a hit opens its conversation. The server matches text
// literally, Chinese words of two characters included (docs/search.md).
// The few strings live here, so that this module stands on its own.
import { api, ApiError } from './api.js';
import { $, h, replace } from './dom.js';
import { currentLang, formatTime, onLangChange } from './i18n.js';
import { state, convTitle } from './state.js';
import { stripBidi } from './util.js';
import { nameOf } from './people.js';

const TEXT = {
  en: {
    label: 'Search messages',
    placeholder: 'Search messages',
    go: 'Search',
    clear: 'Clear',
    none: 'No messages found.',
    more: 'Search further back',
    searching: 'Searching…',
    results: 'Search results',
  },
  'zh-CN': {
    label: '搜索消息',
    placeholder: '搜索消息',
    go: '搜索',
    clear: '清除',
    none: '没有找到消息。',
    more: '继续往前搜索',
    searching: '正在搜索…',
    results: '搜索结果',
  },
};

const tr = (key) => (TEXT[currentLang()] || TEXT.en)[key];

let onOpen = () => {};
let current = null; // { q, hits, next, busy, error }

function hitView(hit) {
  const conv = state.convs.get(hit.conversation_id);
  const title = conv ? stripBidi(convTitle(conv)) : `#${hit.conversation_id}`;
  return h(
    'li',
    {},
    h(
      'button.search-hit',
      {
        type: 'button',
        dataset: { conversation: String(hit.conversation_id), seq: String(hit.seq) },
        onclick: () => onOpen(hit.conversation_id),
      },
      h('span.search-where', { title: `@${hit.sender}` }, `${title} · ${nameOf(hit.sender, hit.conversation_id)}`),
      h('time.search-time', { datetime: hit.created_at }, formatTime(hit.created_at)),
      h('span.search-snippet', {}, stripBidi(hit.snippet)),
    ),
  );
}

function render() {
  const box = $('#search-results');
  if (!current) {
    box.hidden = true;
    replace(box);
    return;
  }
  box.hidden = false;
  const items = current.hits.map(hitView);
  if (current.error) items.push(h('li.search-note', { role: 'alert' }, current.error));
  else if (current.busy) items.push(h('li.search-note', {}, tr('searching')));
  else if (!current.hits.length && current.next === null) items.push(h('li.search-note', {}, tr('none')));
  if (!current.busy && current.next !== null) {
    items.push(h('li', {}, h('button.search-more', { type: 'button', onclick: () => fetchPage() }, tr('more'))));
  }
  replace(box, items);
}

async function fetchPage() {
  const run = current;
  if (!run || run.busy) return;
  run.busy = true;
  run.error = null;
  render();
  const params = new URLSearchParams({ q: run.q });
  if (run.next !== null) params.set('before', String(run.next));
  try {
    const page = await api('GET', `/search?${params}`);
    if (current !== run) return;
    run.hits.push(...page.results);
    run.next = page.next_before ?? null;
  } catch (e) {
    if (current !== run) return;
    run.error = e instanceof ApiError ? e.message : String(e);
  }
  run.busy = false;
  render();
}

/** Forgets the last search (sign-out, another account). */
export function clearSearch() {
  current = null;
  const input = $('#search-input');
  if (input) input.value = '';
  if ($('#search-results')) render();
}

/** Adds the search box to the sidebar; `open(id)` opens a conversation. */
export function initSearch(open) {
  onOpen = open;
  const input = h('input', { type: 'search', autocomplete: 'off', spellcheck: 'false', maxlength: '256' });
  input.id = 'search-input';
  const label = h('label.search-label', { for: 'search-input' });
  const go = h('button.search-go', { type: 'submit' });
  const clear = h('button.search-clear', { type: 'button', onclick: clearSearch });
  const form = h('form.search-form', { role: 'search' }, label, input, go, clear);
  form.id = 'search-form';
  const results = h('ul.search-results', { hidden: true });
  results.id = 'search-results';
  const texts = () => {
    label.textContent = tr('label');
    input.placeholder = tr('placeholder');
    go.textContent = tr('go');
    clear.textContent = tr('clear');
    results.setAttribute('aria-label', tr('results'));
    if (current) render();
  };
  texts();
  onLangChange(texts);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const q = input.value.trim();
    if (!q) return clearSearch();
    current = { q, hits: [], next: null, busy: false, error: null };
    fetchPage();
  });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') clearSearch();
  });
  $('.sidebar-head').after(form, results);
}
