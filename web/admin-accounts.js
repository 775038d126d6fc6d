// The operator's account pages: the account list (suspend, restore, a
// one-time password-reset code), removing a message by id, and invite
// codes. Codes are shown once, as text to copy: the server keeps only
// their digests.
import { api } from './api.js';
import { $, h, replace } from './dom.js';
import { t } from './i18n.js';
import { errorText, say, when } from './admin-common.js';

const PAGE = 50;

export function accountsPage() {
  return h('section.admin-card', { id: 'admin-accounts', 'aria-labelledby': 'accounts-heading' },
    h('h3', { id: 'accounts-heading' }, t('accounts')),
    h('p.admin-status', { id: 'accounts-status', role: 'status' }),
    h('table.admin-table', { id: 'accounts-table' }),
    h('button', { type: 'button', id: 'accounts-more', hidden: true }, t('accountsMore')),
    h('form', { id: 'remove-form', onsubmit: removeMessage },
      h('label', { for: 'remove-id' }, t('removeMessageId')),
      h('input', { id: 'remove-id', type: 'number', min: '1', required: true }),
      h('button', { type: 'submit' }, t('removeMessage'))));
}

export function invitesPage() {
  return h('section.admin-card', { id: 'admin-invites', 'aria-labelledby': 'invites-heading' },
    h('h3', { id: 'invites-heading' }, t('invites')),
    h('form', { id: 'invite-form', onsubmit: createInvite },
      h('label', { for: 'invite-uses' }, t('inviteUses')),
      h('input', { id: 'invite-uses', type: 'number', min: '1', value: '1', required: true }),
      h('label', { for: 'invite-days' }, t('inviteDays')),
      h('input', { id: 'invite-days', type: 'number', min: '1', value: '7', required: true }),
      h('button', { type: 'submit' }, t('inviteCreate'))),
    h('p.admin-status', { id: 'invite-status', role: 'status' }),
    h('ol.admin-list', { id: 'invite-list' }));
}

export async function loadAccounts() {
  const table = $('#accounts-table');
  if (!table) return;
  replace(table, h('tr', {}, ['accountHandle', 'accountCreated', 'accountState', 'accountActions'].map((k) => h('th', { scope: 'col' }, t(k)))));
  await morePage(null);
}

async function morePage(after) {
  const table = $('#accounts-table');
  const more = $('#accounts-more');
  try {
    const q = after === null ? `?limit=${PAGE}` : `?limit=${PAGE}&after=${after}`;
    const page = await api('GET', `/admin/users${q}`);
    for (const u of page.users) table.append(accountRow(u));
    more.hidden = page.next_after === null || page.next_after === undefined;
    more.onclick = () => morePage(page.next_after);
  } catch (e) {
    say($('#accounts-status'), errorText(e), true);
  }
}

function accountRow(u) {
  const state = u.is_admin ? t('accountAdmin') : u.suspended ? t('accountSuspended') : t('accountActive');
  const actions = [];
  if (!u.is_admin) {
    actions.push(u.suspended
      ? h('button', { type: 'button', onclick: () => setSuspended(u.handle, false) }, t('accountRestore'))
      : h('button', { type: 'button', onclick: () => setSuspended(u.handle, true) }, t('accountSuspend')));
  }
  actions.push(h('button', { type: 'button', onclick: () => resetCode(u.handle) }, t('accountReset')));
  return h('tr', { dataset: { handle: u.handle } },
    h('td', {}, u.handle), h('td', {}, when(u.created_at)), h('td.account-state', {}, state), h('td', {}, actions));
}

async function setSuspended(handle, suspend) {
  try {
    await api(suspend ? 'PUT' : 'DELETE', `/admin/users/${encodeURIComponent(handle)}/suspension`);
    say($('#accounts-status'), t(suspend ? 'accountSuspendedNow' : 'accountRestoredNow', { handle }));
    await loadAccounts();
  } catch (e) {
    say($('#accounts-status'), errorText(e), true);
  }
}

async function resetCode(handle) {
  try {
    const made = await api('POST', `/admin/users/${encodeURIComponent(handle)}/password-reset`);
    const status = $('#accounts-status');
    replace(status, t('accountResetCode', { handle, until: when(made.expires_at) }), ' ', h('code', { id: 'reset-code' }, made.code));
    status.classList.remove('error');
  } catch (e) {
    say($('#accounts-status'), errorText(e), true);
  }
}

async function removeMessage(event) {
  event.preventDefault();
  const id = Number($('#remove-id').value);
  try {
    await api('DELETE', `/admin/messages/${id}`);
    say($('#accounts-status'), t('messageRemovedNow', { id }));
  } catch (e) {
    say($('#accounts-status'), errorText(e), true);
  }
}

async function createInvite(event) {
  event.preventDefault();
  const maxUses = Number($('#invite-uses').value);
  const days = Number($('#invite-days').value);
  try {
    const made = await api('POST', '/admin/invites', { max_uses: maxUses, valid_seconds: days * 86400 });
    const status = $('#invite-status');
    replace(status, t('inviteMade'), ' ', h('code', { id: 'invite-code' }, made.code));
    status.classList.remove('error');
    await loadInvites();
  } catch (e) {
    say($('#invite-status'), errorText(e), true);
  }
}

export async function loadInvites() {
  const list = $('#invite-list');
  if (!list) return;
  try {
    const { invites } = await api('GET', '/admin/invites');
    replace(list, invites.length ? invites.map(inviteItem) : h('li', {}, t('invitesNone')));
  } catch (e) {
    replace(list, h('li.error', {}, errorText(e)));
  }
}

function inviteItem(i) {
  const text = t('inviteLine', { id: i.id, uses: i.uses, max: i.max_uses, until: when(i.expires_at), by: i.created_by });
  const revoke = i.revoked_at
    ? t('inviteRevoked')
    : h('button', { type: 'button', onclick: () => revokeInvite(i.id) }, t('inviteRevoke'));
  return h('li', { dataset: { invite: String(i.id) } }, text, ' ', revoke);
}

async function revokeInvite(id) {
  try {
    await api('DELETE', `/admin/invites/${id}`);
    await loadInvites();
  } catch (e) {
    say($('#invite-status'), errorText(e), true);
  }
}
