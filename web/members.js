// The members panel of the open conversation: roles, add, remove, change
// role, leave. The server decides who may do what; the panel only offers
// what the caller's role allows and reports refusals.
import { avatarNode } from './avatars.js';
import { $, h, replace } from './dom.js';
import { t } from './i18n.js';
import { api } from './api.js';
import { stripBidi } from './util.js';
import { state, myRole, convTitle, upsertConv } from './state.js';

let hooks = { changed: () => {}, error: () => {}, left: () => {} };

const ROLE_RANK = { owner: 0, admin: 1, member: 2 };

export function initMembers(h_) {
  hooks = h_;
  $('#members-toggle').addEventListener('click', () => toggle());
  $('#members-close').addEventListener('click', () => toggle(false));
  $('#add-member-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const input = $('#add-member-handle');
    const handle = input.value.trim().toLowerCase();
    const id = state.current;
    if (!handle || id === null) return;
    try {
      upsertConv(await api('POST', `/conversations/${id}/members`, { handle }));
      input.value = '';
      hooks.changed();
    } catch (err) {
      hooks.error(err);
    }
  });
  $('#leave').addEventListener('click', async () => {
    const id = state.current;
    const conv = state.convs.get(id);
    if (!conv || !window.confirm(t('confirmLeave', { title: convTitle(conv) }))) return;
    try {
      await api('DELETE', `/conversations/${id}/members/${encodeURIComponent(state.me.handle)}`);
      hooks.left(id);
    } catch (err) {
      hooks.error(err);
    }
  });
}

export function toggle(show) {
  const panel = $('#members-panel');
  const open = show ?? panel.hidden;
  panel.hidden = !open;
  $('#members-toggle').setAttribute('aria-expanded', String(open));
  if (open) {
    renderMembers();
    $('#members-close').focus();
  }
}

async function setRole(id, handle, role) {
  try {
    upsertConv(await api('PATCH', `/conversations/${id}/members/${encodeURIComponent(handle)}`, { role }));
    hooks.changed();
  } catch (err) {
    hooks.error(err);
    renderMembers();
  }
}

async function remove(id, handle) {
  try {
    await api('DELETE', `/conversations/${id}/members/${encodeURIComponent(handle)}`);
    const conv = state.convs.get(id);
    if (conv) conv.members = conv.members.filter((m) => m.handle !== handle);
    hooks.changed();
  } catch (err) {
    hooks.error(err);
  }
}

export function renderMembers() {
  const conv = state.convs.get(state.current);
  if ($('#members-panel').hidden || !conv) return;
  const mine = myRole(conv);
  const isGroup = conv.kind === 'group';
  const canManage = isGroup && (mine === 'owner' || mine === 'admin');
  const members = [...(conv.members || [])].sort((a, b) => (ROLE_RANK[a.role] ?? 3) - (ROLE_RANK[b.role] ?? 3) || a.handle.localeCompare(b.handle));
  replace(
    $('#member-list'),
    members.map((m) => {
      const me = m.handle === state.me?.handle;
      const roleLabel = t(`role${m.role[0].toUpperCase()}${m.role.slice(1)}`);
      let roleControl = h(`span.role.role-${m.role}`, {}, roleLabel);
      if (isGroup && mine === 'owner' && !me) {
        roleControl = h(
          'select.role-select',
          { 'aria-label': t('roleOf', { handle: m.handle }), onchange: (e) => setRole(conv.id, m.handle, e.target.value) },
          ['member', 'admin', 'owner'].map((r) => h('option', { value: r, selected: r === m.role }, t(`role${r[0].toUpperCase()}${r.slice(1)}`))),
        );
      }
      const removable = canManage && !me && m.role !== 'owner' && (mine === 'owner' || m.role === 'member');
      return h(
        'li.member',
        { dataset: { handle: m.handle, role: m.role } },
        avatarNode('member-avatar', m.handle, conv.id, m.avatar ?? null),
        h('span.member-handle', { title: `@${m.handle}` }, stripBidi(m.display_name || m.handle), me ? ` (${t('you')})` : ''),
        roleControl,
        removable ? h('button.remove', { type: 'button', 'aria-label': t('removeMember', { handle: m.handle }), title: t('removeMember', { handle: m.handle }), onclick: () => remove(conv.id, m.handle) }, '✕') : null,
      );
    }),
  );
  $('#add-member-form').hidden = !canManage;
  $('#leave').hidden = !isGroup;
}
