// The conversation list (unread counts, last message) and the forms that
// start a direct chat or create a group.
import { $, h, replace } from './dom.js';
import { t, formatTime } from './i18n.js';
import { state, convTitle, unread } from './state.js';
import { stripBidi } from './util.js';
import { updateTitle } from './chatstate.js';
import { recalledText } from './actions.js';
import { nameOf } from './people.js';
import { avatarNode } from './avatars.js';

const PREVIEW_CHARS = 80;

function lastLine(conv) {
  const m = conv.last_message;
  if (!m) return t('noMessages');
  if (m.recalled) return recalledText(m);
  const who = m.sender === state.me?.handle ? t('you') : nameOf(m.sender, conv.id);
  const body = stripBidi(m.body).replace(/\s+/g, ' ').trim();
  const short = body.length > PREVIEW_CHARS ? `${body.slice(0, PREVIEW_CHARS)}…` : body;
  return `${who}: ${short}`;
}

/** The other member's handle of a direct chat (mine, in a chat with myself). */
function otherHandle(conv) {
  const other = (conv.members || []).find((m) => m.handle !== state.me?.handle);
  return other?.handle ?? state.me?.handle ?? '';
}

/** The other member's `@handle` of a direct chat, shown on hover. */
function directHandle(conv) {
  const other = (conv.members || []).find((m) => m.handle !== state.me?.handle);
  return other ? `@${other.handle}` : false;
}

export function sortedConvs() {
  return [...state.convs.values()].sort((a, b) => (a.activity < b.activity ? 1 : a.activity > b.activity ? -1 : b.id - a.id));
}

export function renderList(onOpen) {
  updateTitle();
  const list = $('#conv-list');
  const convs = sortedConvs();
  if (!convs.length) {
    replace(list, h('li.empty', {}, t('noConversations')));
    return;
  }
  replace(
    list,
    convs.map((conv) => {
      const n = conv.id === state.current ? 0 : unread(conv);
      const title = stripBidi(convTitle(conv));
      return h(
        'li',
        {},
        h(
          'button.conv',
          {
            type: 'button',
            dataset: { id: String(conv.id), kind: conv.kind },
            'aria-current': conv.id === state.current ? 'true' : false,
            title: conv.kind === 'direct' ? directHandle(conv) : false,
            onclick: () => onOpen(conv.id),
          },
          conv.kind === 'group' ? h('span.conv-avatar', { 'aria-hidden': 'true' }, '#') : avatarNode('conv-avatar', otherHandle(conv), conv.id),
          h(
            'span.conv-main',
            {},
            h('span.conv-title', {}, title, conv.kind === 'group' ? h('span.conv-kind', {}, ` · ${t('membersCount', { n: conv.members?.length || 0 })}`) : null),
            h('span.conv-last', {}, lastLine(conv)),
          ),
          h(
            'span.conv-side',
            {},
            conv.last_message ? h('time.conv-time', { datetime: conv.last_message.created_at }, formatTime(conv.last_message.created_at)) : null,
            n > 0 ? h('span.badge', { 'aria-label': t('unread', { n }) }, n > 99 ? '99+' : String(n)) : null,
          ),
        ),
      );
    }),
  );
}

/** Shows one of the two "new" forms (or none), moving focus into it. */
export function showForm(which) {
  for (const id of ['new-chat-form', 'new-group-form']) {
    const form = $(`#${id}`);
    const show = id === which && form.hidden;
    form.hidden = !show;
    if (show) form.querySelector('input')?.focus();
  }
  $('#new-chat').setAttribute('aria-expanded', String(!$('#new-chat-form').hidden));
  $('#new-group').setAttribute('aria-expanded', String(!$('#new-group-form').hidden));
}

export function parseHandles(text) {
  return [...new Set(String(text).toLowerCase().split(/[\s,，、;；]+/).filter(Boolean))];
}
