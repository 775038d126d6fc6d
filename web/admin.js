// Operator pages (admins only, in place of the chat): the policy editor,
// the non-discrimination matrix, the transparency report, the preview
// rules, accounts, invite codes and the audit log, with a jump bar between them. Everything drawn with DOM APIs: text
// is text, the chart is SVG built node by node.
import { api } from './api.js';
import { $, h, replace } from './dom.js';
import { t, onLangChange } from './i18n.js';
import { errorText, when } from './admin-common.js';
import { policyPage, loadPolicy } from './admin-policy.js';
import { fairnessPage, loadFairness } from './admin-fairness.js';
import { reportPage, loadReport } from './admin-report.js';
import { accountsPage, invitesPage, loadAccounts, loadInvites } from './admin-accounts.js';
import { moderationPage, loadModeration } from './moderation.js';
import { rulesPage, loadRules } from './admin-rules.js';

// Who is signed in: administrators get every page, moderators the moderation card.
let who = { is_admin: false, is_moderator: false };

/** Shows the operator entry only to admins and moderators (the server answers 404 to everyone else anyway). */
export function setupAdmin(me, onOpen) {
  who = me;
  const button = $('#admin-open');
  button.hidden = !me.is_admin && !me.is_moderator;
  button.onclick = onOpen;
  // Every sign-in starts on the chats, whoever was signed in before.
  $('#admin').hidden = true;
  $('#layout').hidden = false;
  button.setAttribute('aria-expanded', 'false');
  button.textContent = t('operator');
}

/** Builds the operator pages into #admin and loads their data. */
export async function renderAdmin() {
  const root = $('#admin');
  if (!who.is_admin) {
    // A moderator who is not an administrator: the moderation card alone.
    replace(root, h('h2', {}, t('operator')), moderationPage());
    await loadModeration();
    return;
  }
  const pages = [['admin-policy', 'policyEditor'], ['admin-fairness', 'fairness'], ['admin-report', 'report'],
    ['admin-moderation', 'moderation'], ['admin-rules', 'previewRules'], ['admin-accounts', 'accounts'], ['admin-invites', 'invites'], ['admin-audit', 'audit']];
  replace(root,
    h('h2', {}, t('operator')),
    h('nav.admin-nav', { 'aria-label': t('operatorNav') },
      pages.map(([id, key]) => h('a', { href: `#${id}`, onclick: (e) => jump(e, id) }, t(key)))),
    policyPage(), fairnessPage(), reportPage(), moderationPage(), rulesPage(), accountsPage(), invitesPage(), auditPage());
  await Promise.all([loadPolicy(), loadFairness(), loadReport(), loadModeration(), loadRules(), loadAccounts(), loadInvites(), loadAudit()]);
}

// In-page jumps without touching location.hash (the chat owns #/c/<id>).
function jump(event, id) {
  event.preventDefault();
  const target = document.getElementById(id);
  const heading = target?.querySelector('h3');
  if (!heading) return;
  heading.tabIndex = -1; // focusable by script only, so keyboard users land where they jumped
  heading.scrollIntoView({ block: 'start' });
  heading.focus({ preventScroll: true });
}

function auditPage() {
  return h('section.admin-card', { id: 'admin-audit', 'aria-labelledby': 'audit-heading' },
    h('h3', { id: 'audit-heading' }, t('audit')),
    h('button', { type: 'button', id: 'audit-run', onclick: loadAudit }, t('auditRefresh')),
    h('ol.admin-list', { id: 'audit-list' }));
}

async function loadAudit() {
  const list = $('#audit-list');
  if (!list) return;
  try {
    const { entries } = await api('GET', '/admin/audit');
    replace(list, entries.length
      ? entries.slice(0, 50).map((e) => h('li', {}, h('code', {}, e.action), ` · ${e.actor} · ${when(e.at)} · ${e.detail}`))
      : h('li', {}, t('auditNone')));
  } catch (e) {
    replace(list, h('li.error', {}, errorText(e)));
  }
}

// A language switch redraws the pages (and the entry's label) if they are open.
onLangChange(() => {
  const root = $('#admin');
  const button = $('#admin-open');
  if (!root || root.hidden) return;
  if (button) button.textContent = t('backToChats');
  // Keep what the operator was typing across the redraw.
  const text = $('#policy-text')?.value;
  const comment = $('#policy-comment')?.value;
  renderAdmin().then(() => {
    if (text !== undefined) $('#policy-text').value = text;
    if (comment !== undefined) $('#policy-comment').value = comment;
  });
});
