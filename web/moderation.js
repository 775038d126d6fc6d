// Link complaints in the page: a "Report link" action on other people's
// messages that carry links, the reporter told the outcome, and the
// moderators' card in the operator pages (the complaint and appeal queues,
// and the penalty table). The server decides who may see what: the queues
// answer 404 to everyone but moderators.
import { api, ApiError } from './api.js';
import { $, h, replace } from './dom.js';
import { t } from './i18n.js';
import { errorText, when } from './admin-common.js';

/** The reasons the server accepts, in its order. */
export const REASONS = ['inducement', 'fraud', 'rumour', 'spam', 'vulgar', 'malware', 'phishing'];

/** Links of a message that can be reported (decided: they have a domain). */
function reportable(m) {
  return (m.links || []).map((l, index) => ({ ...l, index })).filter((l) => l.domain);
}

/** The "Report link" button for a message, or null when it has nothing to report. */
export function reportButton(m) {
  if (!reportable(m).length) return null;
  return h('button.act-report', { type: 'button', onclick: (e) => toggleForm(e.currentTarget, m) }, t('reportLink'));
}

function toggleForm(button, m) {
  const actions = button.closest('.msg-actions');
  const open = actions.parentElement.querySelector('.report-form');
  if (open) {
    open.remove();
    return;
  }
  const links = reportable(m);
  const which = h('select.report-which', { 'aria-label': t('reportWhich') },
    links.map((l) => h('option', { value: String(l.index) }, l.url)));
  const reason = h('select.report-reason', { 'aria-label': t('reportReason') },
    REASONS.map((r) => h('option', { value: r }, t(`reason_${r}`))));
  const note = h('input.report-note', { type: 'text', maxlength: 2000, placeholder: t('reportNote'), 'aria-label': t('reportNote') });
  const status = h('p.report-status', { role: 'status' });
  const form = h('form.report-form', {
    onsubmit: async (e) => {
      e.preventDefault();
      try {
        await api('POST', '/complaints', {
          conversation_id: m.conversation_id,
          seq: m.seq,
          link_index: Number(which.value),
          reason: reason.value,
          note: note.value,
        });
        status.classList.remove('error');
        status.textContent = t('reportSent');
        form.querySelector('button[type=submit]').disabled = true;
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        status.classList.add('error');
        status.textContent = errorText(err);
      }
    },
  },
  links.length > 1 ? which : null, reason, note,
  h('button', { type: 'submit' }, t('reportSend')),
  h('button', { type: 'button', onclick: () => form.remove() }, t('cancel')),
  status);
  actions.after(form);
  reason.focus();
}

/** The words telling a reporter what became of their report. */
export function outcomeText(event) {
  return t(event.state === 'upheld' ? 'reportUpheld' : 'reportDismissed', { url: event.url });
}

/** The moderators' card: complaints, appeals and penalties. */
export function moderationPage() {
  return h('section.admin-card', { id: 'admin-moderation', 'aria-labelledby': 'moderation-heading' },
    h('h3', { id: 'moderation-heading' }, t('moderation')),
    h('button', { type: 'button', id: 'moderation-refresh', onclick: () => loadModeration() }, t('auditRefresh')),
    h('h4', {}, t('modQueue')),
    h('div', { id: 'mod-queue' }),
    h('h4', {}, t('modAppeals')),
    h('div', { id: 'mod-appeals' }),
    h('h4', {}, t('modPenalties')),
    h('div', { id: 'mod-penalties' }));
}

function table(id, columns, rows, empty) {
  if (!rows.length) return h('p.admin-hint', { id }, empty);
  return h('div.table-wrap', {}, h('table.report.moderation', { id },
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, rows)));
}

async function decide(path, outcome, note) {
  try {
    await api('POST', path, { outcome, note });
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    $('#moderation-heading')?.after(h('p.error', { role: 'alert' }, errorText(e)));
  }
  await loadModeration();
}

/** Loads the three lists. */
export async function loadModeration() {
  const queue = $('#mod-queue');
  if (!queue) return;
  try {
    const [{ complaints }, { appeals }, { penalties }] = await Promise.all([
      api('GET', '/moderation/complaints'),
      api('GET', '/moderation/appeals'),
      api('GET', '/penalties'),
    ]);
    replace(queue, table('mod-complaints', [t('col_link'), t('col_domain'), t('reportReason'), t('col_reporter'), t('col_when'), ''],
      complaints.map((c) => {
        const note = h('input.decision-note', { type: 'text', 'aria-label': t('decisionNote'), placeholder: t('decisionNote') });
        const path = `/moderation/complaints/${c.id}/decision`;
        return h('tr', { dataset: { complaint: String(c.id) } },
          h('td', {}, h('code', {}, c.url)), h('td', {}, c.domain),
          h('td', {}, t(`reason_${c.reason}`), c.note ? h('div.admin-hint', {}, c.note) : null),
          h('td', {}, c.reporter), h('td', {}, when(c.created_at)),
          h('td', {}, note,
            h('button.uphold', { type: 'button', onclick: () => decide(path, 'upheld', note.value) }, t('uphold')),
            h('button.dismiss', { type: 'button', onclick: () => decide(path, 'dismissed', note.value) }, t('dismissComplaint'))));
      }), t('modQueueEmpty')));
    replace($('#mod-appeals'), table('mod-appeal-list', [t('col_domain'), t('col_appellant'), t('col_note'), t('col_when'), ''],
      appeals.map((a) => {
        const path = `/moderation/appeals/${a.id}/decision`;
        return h('tr', { dataset: { appeal: String(a.id) } },
          h('td', {}, a.domain), h('td', {}, a.appellant), h('td', {}, a.note), h('td', {}, when(a.created_at)),
          h('td', {},
            h('button.grant', { type: 'button', onclick: () => decide(path, 'granted', '') }, t('grantAppeal')),
            h('button.refuse', { type: 'button', onclick: () => decide(path, 'refused', '') }, t('refuseAppeal'))));
      }), t('modAppealsEmpty')));
    replace($('#mod-penalties'), table('penalty-table', [t('col_domain'), t('col_platform'), t('col_owner'), t('col_strike'), t('col_penalty'), t('col_until')],
      penalties.map((p) => h('tr', { dataset: { penalty: String(p.id), state: p.in_force ? 'inforce' : 'over' } },
        h('td', {}, p.domain), h('td', {}, p.platform), h('td', {}, p.owner), h('td.num', {}, String(p.strike)),
        h('td', {}, t(`penalty_${p.state}`)),
        h('td', {}, p.lifted_at ? t('penaltyLifted', { at: when(p.lifted_at) })
          : p.ends_at ? when(p.ends_at) : t('penaltyUntilAppeal')))),
      t('modPenaltiesEmpty')));
  } catch (e) {
    replace(queue, h('p.error', { role: 'alert' }, errorText(e)));
  }
}

/** The report's moderation tables: complaints, penalties and strike rates. */
export function reportModeration(r) {
  const complaints = (r.complaints || []).map((c) => h('tr', {},
    h('td', {}, c.owner), h('td', {}, c.platform), h('td', {}, t(`reason_${c.reason}`)),
    h('td', {}, t(`outcome_${c.state}`)), h('td.num', {}, String(c.count))));
  const penalties = (r.penalties || []).map((p) => h('tr', {},
    h('td', {}, p.owner), h('td', {}, p.platform), h('td', {}, t(`reason_${p.reason}`)), h('td', {}, t(`penalty_${p.state}`)),
    h('td.num', {}, String(p.count)), h('td.num', {}, String(p.lifted))));
  const rate = (v) => (v === null || v === undefined ? '–' : v.toFixed(2));
  const rates = (r.strike_rates || []).map((s) => h(`tr${(s.rival_per_thousand ?? 0) > (s.house_per_thousand ?? 0) ? '.uneven' : ''}`, {},
    h('td', {}, s.category), h('td', {}, t(`reason_${s.reason}`)),
    h('td.num', {}, `${s.house_strikes}/${s.house_shares}`), h('td.num', {}, rate(s.house_per_thousand)),
    h('td.num', {}, `${s.rival_strikes}/${s.rival_shares}`), h('td.num', {}, rate(s.rival_per_thousand))));
  const section = (id, caption, columns, rows) => h('div.table-wrap', {}, h('table.report.report-moderation', { id },
    h('caption', {}, caption),
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', { colspan: columns.length }, t('reportNone'))))));
  return [
    section('report-complaints', t('reportComplaints'), [t('col_owner'), t('col_platform'), t('reportReason'), t('col_outcome'), t('col_count')], complaints),
    section('report-penalties', t('reportPenalties'), [t('col_owner'), t('col_platform'), t('reportReason'), t('col_penalty'), t('col_count'), t('col_lifted')], penalties),
    section('report-strikes', t('reportStrikes'), [t('col_category'), t('reportReason'), t('col_house'), '‰', t('col_rivals'), '‰'], rates),
  ];
}
