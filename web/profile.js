// The profile page: one's picture (uploaded as an attachment is, cut square
// by the server), display name and whether the directory finds one by a
// part of them. What others see changes once their member lists are read
// again; this client reads its own at once.
import { $ } from './dom.js';
import { t } from './i18n.js';
import { api } from './api.js';
import { state } from './state.js';
import { avatarNode } from './avatars.js';

let onChanged = async () => {};

function say(text, isError = false) {
  const status = $('#profile-status');
  status.textContent = text;
  status.classList.toggle('error', isError);
}

function showPicture(profile) {
  const picture = avatarNode('profile-avatar', profile.handle, null, profile.avatar ?? null);
  picture.id = 'profile-avatar';
  $('#profile-avatar').replaceWith(picture);
  $('#profile-avatar-remove').hidden = !profile.avatar;
}

async function afterChange(profile, what) {
  showPicture(profile);
  say(t(what));
  await onChanged();
}

/** Shows the profile page (`open`) or hides it. */
export async function toggleProfile(open = $('#profile').hidden) {
  $('#profile').hidden = !open;
  $('#profile-open').setAttribute('aria-expanded', String(open));
  if (!open) return;
  say('');
  const profile = await api('GET', '/me/profile');
  $('#profile-name').value = profile.display_name;
  $('#profile-discoverable').checked = profile.discoverable;
  showPicture(profile);
  $('#profile-name').focus();
}

async function attempt(work) {
  try {
    await work();
  } catch (e) {
    say(e?.message || String(e), true);
  }
}

/** Wires the page; `changed()` re-reads what shows names and pictures. */
export function initProfile(changed) {
  onChanged = changed;
  $('#profile-open').addEventListener('click', () => attempt(() => toggleProfile()));
  $('#profile-close').addEventListener('click', () => toggleProfile(false));
  $('#profile-avatar-input').addEventListener('change', (e) => {
    const file = e.target.files?.[0];
    e.target.value = '';
    if (file) attempt(async () => afterChange(await api('PUT', '/me/avatar', file), 'pictureSaved'));
  });
  $('#profile-avatar-remove').addEventListener('click', () =>
    attempt(async () => afterChange(await api('DELETE', '/me/avatar'), 'pictureRemoved')),
  );
  $('#profile-form').addEventListener('submit', (e) => {
    e.preventDefault();
    attempt(async () => {
      const profile = await api('PATCH', '/me', {
        display_name: $('#profile-name').value,
        discoverable: $('#profile-discoverable').checked,
      });
      if (state.me) state.me.display_name = profile.display_name;
      await afterChange(profile, 'profileSaved');
    });
  });
}
