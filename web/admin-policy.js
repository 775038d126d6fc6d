// The policy editor: the Cedar text in force, validate and save (Cedar's
// message inline), schedule an activation in the browser's time zone or
// activate now, what the text would change (replay), the history with
// each activation's state, cancel, roll back, and a line diff.
import { api } from './api.js';
import { $, h, replace } from './dom.js';
import { t } from './i18n.js';
import { say, errorText, when, zone, toLocalInput, fromLocalInput, treatmentLabel } from './admin-common.js';

let saved = null; // { id, text } of the version the editor's text was saved as
let refresh = null; // timer: reload the history when a scheduled activation comes due
const MAX_WAIT_MS = 2 ** 31 - 1; // setTimeout's limit

/** The editor card. */
export function policyPage() {
  const text = h('textarea', { id: 'policy-text', rows: 16, spellcheck: 'false', 'aria-label': t('policyText'), 'aria-describedby': 'policy-error' });
  const comment = h('input', { id: 'policy-comment', 'aria-label': t('policyComment'), placeholder: t('policyComment'), maxlength: 500 });
  const at = h('input', { id: 'policy-at', type: 'datetime-local', step: 1, min: toLocalInput(new Date()) });
  text.addEventListener('input', () => { saved = null; });
  return h('section.admin-card', { id: 'admin-policy', 'aria-labelledby': 'policy-heading' },
    h('h3', { id: 'policy-heading' }, t('policyEditor')),
    h('p.admin-hint', { id: 'policy-loaded' }),
    text,
    h('p.admin-error', { id: 'policy-error', role: 'alert' }),
    h('label.field', {}, h('span', {}, t('policyComment')), comment),
    h('div.admin-row', {},
      h('button.primary', { type: 'button', id: 'policy-validate', onclick: () => validate() }, t('policyValidate')),
      h('button', { type: 'button', id: 'policy-replay', onclick: replay }, t('policyReplay'))),
    h('div.admin-row', {},
      h('label.field', { for: 'policy-at' }, h('span', {}, t('policyAtZone', { zone: zone() })), at),
      h('button', { type: 'button', id: 'policy-schedule', onclick: schedule }, t('policySchedule')),
      h('button', { type: 'button', id: 'policy-now', onclick: () => activate(null) }, t('policyNow'))),
    h('p.admin-status', { id: 'policy-status', role: 'status' }),
    h('div', { id: 'replay-out' }),
    h('h4', {}, t('policyHistory')),
    h('ul.admin-list', { id: 'policy-history' }),
    h('h4', {}, t('policyDiff')),
    h('div.admin-row', {},
      h('label.field', {}, h('span', {}, t('diffFrom')), h('select', { id: 'diff-from' })),
      h('label.field', {}, h('span', {}, t('diffTo')), h('select', { id: 'diff-to' })),
      h('button', { type: 'button', id: 'diff-run', onclick: diff }, t('policyDiffShow'))),
    h('p.admin-hint', { id: 'diff-summary', role: 'status' }),
    h('ol.diff', { id: 'diff-out' }));
}

/** Loads the text in force into the editor, and the history. */
export async function loadPolicy() {
  try {
    const hist = await api('GET', '/admin/policies');
    const v = await api('GET', `/admin/policies/${hist.active_version}`);
    $('#policy-text').value = v.text;
    saved = v.id === 0 ? null : { id: v.id, text: v.text };
    $('#policy-loaded').textContent = t('policyLoaded', { id: v.id });
    showHistory(hist);
  } catch (e) {
    say($('#policy-status'), errorText(e), true);
  }
}

async function validate() {
  const text = $('#policy-text').value;
  say($('#policy-error'), '');
  try {
    const v = await api('POST', '/admin/policies', { text, comment: $('#policy-comment').value });
    saved = { id: v.id, text };
    say($('#policy-status'), t('policySaved', { id: v.id }));
    await loadHistory();
    return v.id;
  } catch (e) {
    // Cedar's message (422) goes under the text it is about.
    say($('#policy-error'), errorText(e), true);
    say($('#policy-status'), t('policyNotSaved'), true);
    return null;
  }
}

function schedule() {
  const at = fromLocalInput($('#policy-at').value);
  if (!at) {
    say($('#policy-status'), t('policyPickTime'), true);
    $('#policy-at').focus();
    return;
  }
  return activate(at);
}

/** Activates the editor's text (saving it first if it changed) at `at` (RFC 3339) or now. */
async function activate(at) {
  const text = $('#policy-text').value;
  const id = saved && saved.text === text ? saved.id : await validate();
  if (id === null) return;
  try {
    const a = await api('POST', `/admin/policies/${id}/activate`, at ? { at } : {});
    say($('#policy-status'), t('policyScheduled', { id, at: when(a.effective_from) }));
    await loadHistory();
  } catch (e) {
    say($('#policy-status'), errorText(e), true);
  }
}

async function replay() {
  const out = $('#replay-out');
  replace(out, h('p.admin-hint', {}, t('loading')));
  try {
    const r = await api('POST', '/admin/replay', { text: $('#policy-text').value });
    const rows = r.changes.map((c) => h('tr', {},
      h('td', {}, c.owner), h('td', {}, c.platform), h('td', {}, t(`kind_${c.conversation_kind}`)),
      h('td', {}, `${treatmentLabel(c.from)} → ${treatmentLabel(c.to)}`), h('td.num', {}, String(c.count))));
    replace(out,
      h('p', { id: 'replay-summary', role: 'status' }, t('replaySummary', { replayed: r.replayed, changed: r.changed })),
      rows.length ? h('div.table-wrap', {}, h('table.report', {},
        h('thead', {}, h('tr', {}, ['owner', 'platform', 'kind', 'change', 'count'].map((c) => h('th', { scope: 'col' }, t(`col_${c}`))))),
        h('tbody', {}, rows))) : null);
  } catch (e) {
    replace(out, h('p.error', { role: 'alert' }, errorText(e)));
  }
}

async function loadHistory() {
  try {
    showHistory(await api('GET', '/admin/policies'));
  } catch (e) {
    replace($('#policy-history'), h('li.error', {}, errorText(e)));
  }
}

/** Each activation's state: cancelled, scheduled, in force, or superseded. */
function activationState(a, inForce, now) {
  if (a.cancelled_at != null) return 'cancelled';
  if (a.effective_from > now) return 'scheduled';
  return a.id === inForce?.id ? 'inforce' : 'past';
}

function showHistory(hist) {
  const list = $('#policy-history');
  if (!list) return;
  const now = Date.now();
  // The server's rule: the latest effective, uncancelled activation (latest id on ties).
  const inForce = hist.activations
    .filter((a) => a.cancelled_at == null && a.effective_from <= now)
    .reduce((best, a) => (!best || a.effective_from > best.effective_from || (a.effective_from === best.effective_from && a.id > best.id) ? a : best), null);
  const items = [...hist.versions].reverse().map((v) => {
    const acts = hist.activations.filter((a) => a.version_id === v.id);
    const active = hist.active_version === v.id;
    return h(`li${active ? '.in-force' : ''}`, { dataset: { version: String(v.id) } },
      h('div', {},
        h('strong', {}, `v${v.id}`),
        active ? h('span.badge-state.state-inforce', {}, t('policyActive')) : null,
        ` · ${v.author} · ${when(v.created_at)} · ${v.comment || '—'}`),
      // Activations are divs, not list items: one <li> per version.
      h('div.activations', {}, acts.length ? acts.map((a) => {
        const state = activationState(a, inForce, now);
        return h('div.activation', { dataset: { state } },
          h(`span.badge-state.state-${state}`, {}, t(`state_${state}`)), ` ${when(a.effective_from)} · ${a.created_by}`,
          state === 'scheduled' ? h('button.small', { type: 'button', onclick: () => cancel(a.id) }, t('policyCancel')) : null);
      }) : h('div.activation', {}, t('policyNotScheduled'))),
      h('div.admin-row', {},
        h('button.small', { type: 'button', onclick: () => load(v.id) }, t('policyLoad')),
        active ? null : h('button.small', { type: 'button', onclick: () => rollback(v.id) }, t('policyRollback'))));
  });
  replace(list, items.length ? items : h('li', {}, t('policyNone')));
  fillDiffChoices(hist);
  // Redraw when the next scheduled activation comes due (the server switches on its own).
  clearTimeout(refresh);
  const next = Math.min(...hist.activations.filter((a) => a.cancelled_at == null && a.effective_from > now).map((a) => a.effective_from));
  if (Number.isFinite(next)) refresh = setTimeout(() => { if ($('#policy-history')?.isConnected) loadHistory(); }, Math.min(MAX_WAIT_MS, next - now + 1500));
}

function fillDiffChoices(hist) {
  const from = $('#diff-from');
  const to = $('#diff-to');
  const ids = [0, ...hist.versions.map((v) => v.id)];
  const options = (selected) => ids.map((id) => h('option', { value: String(id), selected: id === selected }, id === 0 ? t('policyStartup') : `v${id}`));
  replace(from, options(hist.active_version));
  replace(to, options(ids[ids.length - 1]));
}

async function load(id) {
  try {
    const v = await api('GET', `/admin/policies/${id}`);
    $('#policy-text').value = v.text;
    saved = { id: v.id, text: v.text };
    $('#policy-loaded').textContent = t('policyLoadedOther', { id: v.id });
    say($('#policy-error'), '');
  } catch (e) {
    say($('#policy-status'), errorText(e), true);
  }
}

async function rollback(id) {
  try {
    await api('POST', '/admin/policies/rollback', { to: id });
    say($('#policy-status'), t('policyRolledBack', { id }));
    await loadHistory();
  } catch (e) {
    say($('#policy-status'), errorText(e), true);
  }
}

async function cancel(activation) {
  try {
    await api('DELETE', `/admin/activations/${activation}`);
    say($('#policy-status'), t('policyCancelled'));
    await loadHistory();
  } catch (e) {
    say($('#policy-status'), errorText(e), true);
  }
}

async function diff() {
  const from = Number($('#diff-from').value);
  const to = Number($('#diff-to').value);
  const out = $('#diff-out');
  try {
    const d = await api('GET', `/admin/policies/diff?from=${from}&to=${to}`);
    const cls = { '+': 'add', '-': 'del', '=': 'same' };
    // Text only: each line is a text node inside an <li>. Long unchanged
    // runs fold to their first and last two lines.
    const items = [];
    for (let i = 0; i < d.lines.length;) {
      let j = i;
      while (j < d.lines.length && d.lines[j].op === '=') j += 1;
      const run = j - i;
      const keep = (k) => items.push(h(`li.diff-${cls[d.lines[k].op] ?? 'same'}`, {}, `${d.lines[k].op === '=' ? ' ' : d.lines[k].op} ${d.lines[k].line}`));
      if (run > 6) {
        keep(i); keep(i + 1);
        items.push(h('li.diff-fold', {}, t('diffFolded', { n: run - 4 })));
        keep(j - 2); keep(j - 1);
        i = j;
      } else if (run > 0) {
        for (let k = i; k < j; k++) keep(k);
        i = j;
      } else {
        keep(i);
        i += 1;
      }
    }
    replace(out, items);
    const added = d.lines.filter((l) => l.op === '+').length;
    const removed = d.lines.filter((l) => l.op === '-').length;
    $('#diff-summary').textContent = t('diffSummary', { from: from === 0 ? t('policyStartup') : `v${from}`, to: to === 0 ? t('policyStartup') : `v${to}`, added, removed });
  } catch (e) {
    replace(out, h('li.error', {}, errorText(e)));
  }
}
