// Keyboard paths through the app: the skip link, Ctrl/Cmd-K to switch
// conversations by typing, Esc to close whatever panel is open.
import { $, h, replace } from './dom.js';
import { state, convTitle } from './state.js';
import { stripBidi } from './util.js';

let openConversation = () => {};
let closePanels = () => {};

/** `open(id)` opens a conversation; `close()` closes the app's own panels. */
export function initKeys(open, close) {
  openConversation = open;
  closePanels = close;
  $('#skip-link').addEventListener('click', (e) => {
    // Not a fragment jump: the hash holds the open conversation.
    e.preventDefault();
    const input = $('#composer-input');
    if (!$('#chat-view').hidden) input.focus();
    else $('#chat').focus();
  });
  $('#switcher-input').addEventListener('input', renderSwitcher);
  $('#switcher-input').addEventListener('keydown', onSwitcherKey);
  document.addEventListener('keydown', (e) => {
    if ((e.ctrlKey || e.metaKey) && !e.altKey && e.key.toLowerCase() === 'k' && !$('#main').hidden) {
      e.preventDefault();
      openSwitcher();
    } else if (e.key === 'Escape' && !e.defaultPrevented) {
      if (!$('#switcher').hidden) closeSwitcher();
      else closePanels();
    }
  });
}

function matches() {
  const query = $('#switcher-input').value.trim().toLowerCase();
  return [...state.convs.values()]
    .map((c) => ({ id: c.id, title: stripBidi(convTitle(c)) }))
    .filter((c) => !query || c.title.toLowerCase().includes(query))
    .slice(0, 20);
}

let selected = 0;

function renderSwitcher() {
  const found = matches();
  selected = Math.min(selected, Math.max(found.length - 1, 0));
  replace(
    $('#switcher-list'),
    ...found.map((c, i) =>
      h(
        'li.switcher-item',
        {
          role: 'option',
          id: `switch-${c.id}`,
          'aria-selected': String(i === selected),
          dataset: { id: String(c.id) },
          onmousedown: (e) => {
            e.preventDefault();
            choose(c.id);
          },
        },
        c.title,
      ),
    ),
  );
  const active = found[selected];
  if (active) $('#switcher-input').setAttribute('aria-activedescendant', `switch-${active.id}`);
  else $('#switcher-input').removeAttribute('aria-activedescendant');
}

function onSwitcherKey(e) {
  const found = matches();
  if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
    e.preventDefault();
    const step = e.key === 'ArrowDown' ? 1 : -1;
    selected = (selected + step + found.length) % Math.max(found.length, 1);
    renderSwitcher();
  } else if (e.key === 'Enter') {
    e.preventDefault();
    if (found[selected]) choose(found[selected].id);
  } else if (e.key === 'Escape') {
    e.preventDefault();
    closeSwitcher();
  }
}

function choose(id) {
  closeSwitcher();
  openConversation(id);
}

export function openSwitcher() {
  selected = 0;
  $('#switcher-input').value = '';
  $('#switcher').hidden = false;
  renderSwitcher();
  $('#switcher-input').focus();
}

export function closeSwitcher() {
  if ($('#switcher').hidden) return;
  $('#switcher').hidden = true;
  if (!$('#chat-view').hidden) $('#composer-input').focus();
}
