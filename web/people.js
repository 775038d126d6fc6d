// People: display names shown everywhere (the handle on hover), and the
// new-chat box suggesting people as one types (GET /users, debounced).
// Names come from the member lists the client already holds, so history,
// events and search hits all show the same name, and a rename shows once
// the conversation list is read again.
import { $, h, replace } from './dom.js';
import { api } from './api.js';
import { state } from './state.js';
import { stripBidi } from './util.js';

/** Milliseconds of quiet typing before asking the server. */
const SUGGEST_DELAY_MS = 250;

/** The display name of `handle`: from the conversation first, else any. */
export function nameOf(handle, conversationId) {
  const find = (conv) => (conv?.members || []).find((m) => m.handle === handle)?.display_name;
  let name = find(state.convs.get(conversationId));
  if (!name) {
    for (const conv of state.convs.values()) {
      name = find(conv);
      if (name) break;
    }
  }
  return stripBidi(name || handle);
}

/** A person's name as a node, with `@handle` on hover. */
export function personNode(spec, handle, conversationId, text) {
  return h(spec, { title: `@${handle}`, dataset: { handle } }, text ?? nameOf(handle, conversationId));
}

let timer = null;
let asked = '';

async function suggest(input, list, onPick) {
  const q = input.value.trim();
  asked = q;
  if (!q) {
    replace(list);
    list.hidden = true;
    return;
  }
  let users = [];
  try {
    ({ users } = await api('GET', `/users?q=${encodeURIComponent(q)}`));
  } catch {
    // Too fast or a bad query: no suggestions; typing the handle still works.
    users = [];
  }
  if (asked !== q) return; // a later keystroke has asked again
  users = users.filter((u) => u.handle !== state.me?.handle);
  replace(
    list,
    users.map((u) =>
      h(
        'li',
        {},
        h(
          'button.suggestion',
          { type: 'button', title: `@${u.handle}`, dataset: { handle: u.handle }, onclick: () => onPick(u.handle) },
          h('span.suggestion-name', {}, stripBidi(u.display_name)),
          ' ',
          h('span.suggestion-handle', {}, `@${u.handle}`),
        ),
      ),
    ),
  );
  list.hidden = users.length === 0;
}

/** Wires suggestions under the new-chat box; picking one starts the chat. */
export function initPeople() {
  const input = $('#new-chat-handle');
  const form = $('#new-chat-form');
  const list = h('ul.suggestions', { hidden: true });
  list.id = 'new-chat-suggestions';
  input.closest('label').after(list);
  input.setAttribute('autocomplete', 'off');
  const onPick = (handle) => {
    input.value = handle;
    replace(list);
    list.hidden = true;
    form.requestSubmit();
  };
  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => suggest(input, list, onPick), SUGGEST_DELAY_MS);
  });
  form.addEventListener('submit', () => {
    clearTimeout(timer);
    asked = ''; // an answer still on its way is for a box now closed
    replace(list);
    list.hidden = true;
  });
}
