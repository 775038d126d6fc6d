// The non-discrimination matrix: every registry platform (rows) in every
// context (columns), each cell's treatment in colour and in words; a rival
// treated worse than the operator's own platform of the same category in
// the same context is highlighted, with the offending policy ids listed.
import { api } from './api.js';
import { $, h, replace } from './dom.js';
import { t } from './i18n.js';
import { errorText, treatmentLabel, TREATMENTS } from './admin-common.js';

/** The matrix card. */
export function fairnessPage() {
  return h('section.admin-card', { id: 'admin-fairness', 'aria-labelledby': 'fairness-heading' },
    h('h3', { id: 'fairness-heading' }, t('fairness')),
    h('div.admin-row', {},
      h('button', { type: 'button', id: 'fairness-run', onclick: () => loadFairness() }, t('fairnessRun')),
      h('button', { type: 'button', id: 'fairness-candidate', onclick: () => loadFairness($('#policy-text')?.value ?? '') }, t('fairnessCandidate'))),
    h('div', { id: 'fairness-out' }));
}

const contextKey = (c) => `${c.kind}/${c.member_count}/${c.role}/${c.link || 'url'}`;

function contextLabel(c) {
  const context = t('fairnessContext', { kind: t(`kind_${c.kind}`), n: c.member_count, role: t(`role_${c.role}`) });
  if (c.link === 'share_code') return t('fairnessCodes', { context });
  return c.link === 'payment' ? t('fairnessPayments', { context }) : context;
}

/** Checks the policy in force, or `candidate` (Cedar text) when given. */
export async function loadFairness(candidate) {
  const out = $('#fairness-out');
  if (!out) return;
  try {
    const r = candidate === undefined
      ? await api('GET', '/admin/fairness')
      : await api('POST', '/admin/fairness', { text: candidate });
    out.replaceChildren(...render(r, candidate !== undefined));
  } catch (e) {
    replace(out, h('p.error', { id: 'fairness-verdict', role: 'alert' }, errorText(e)));
  }
}

/** One counterexample: both links' facts, the context, both outcomes, the policies. */
function counterexample(c) {
  const outcome = (treatment, preview) => treatmentLabel(treatment)
    + (preview || treatment === 'inert' || treatment === 'blocked' ? '' : ` · ${t('fairnessNoPreview')}`);
  const rival = c.rival;
  const flags = ['bidi', 'mixed_script', 'lookalike'].filter((f) => rival[f]).map((f) => `, ${f}`).join('');
  const context = contextLabel({ kind: c.context.conversation_kind, member_count: c.context.member_count, role: c.context.sender_role, link: rival.kind });
  return h('li', {}, t('fairnessCounterexample', {
    category: c.category,
    rival: rival.platform,
    rivalDomain: rival.domain,
    rivalTreatment: outcome(c.rival_treatment, c.rival_preview),
    house: c.house.platform,
    houseDomain: c.house.domain,
    houseTreatment: outcome(c.house_treatment, c.house_preview),
    context,
    lists: rival.lists.join(', '),
    penalty: rival.penalty ?? 'none',
    flags,
    ids: c.policies.join(', ') || '—',
  }));
}

function render(r, isCandidate) {
  // Offending cells: rival platform × context, with what it was compared with.
  const bad = new Map();
  for (const o of r.offences) {
    const key = `${o.rival}|${contextKey(o.context)}`;
    const list = bad.get(key) ?? [];
    list.push(o);
    bad.set(key, list);
  }
  const badRows = new Set(r.offences.map((o) => o.rival));
  const head = h('tr', {}, h('th', { scope: 'col' }, t('platform')),
    r.contexts.map((c) => h('th', { scope: 'col' }, contextLabel(c))));
  const rows = r.rows.map((row) => h(`tr${badRows.has(row.platform) ? '.offence' : ''}${row.house ? '.house' : ''}`, { dataset: { platform: row.platform } },
    h('th', { scope: 'row' }, row.name, h('span.matrix-owner', {}, ` ${row.owner}${row.house ? ` ★ ${t('fairnessHouse')}` : ''} · ${row.category}`)),
    row.cells.map((cell, i) => {
      const offences = bad.get(`${row.platform}|${contextKey(r.contexts[i])}`);
      const label = treatmentLabel(cell.treatment) + (cell.preview || cell.treatment === 'inert' || cell.treatment === 'blocked' ? '' : ` · ${t('fairnessNoPreview')}`);
      const title = offences
        ? offences.map((o) => t('fairnessWorse', { house: o.house, treatment: treatmentLabel(o.house_treatment), ids: o.policies.join(', ') || '—' })).join('\n')
        : undefined;
      return h(`td.t-${cell.treatment}${offences ? '.offence' : ''}`, { title }, offences ? `⚠ ${label}` : label);
    })));
  const ids = r.offending_policies;
  // The verdict comes from the complete check (r.check); the matrix is a sample.
  const check = r.check ?? { cases: 0, exhaustive: true, notes: [], counterexamples: [] };
  const partial = check.exhaustive ? '' : t('fairnessPartial', { notes: check.notes.join('; ') });
  return [
    h(`p.verdict${r.passed ? '.passed' : '.failed'}`, { id: 'fairness-verdict', role: 'status' },
      (isCandidate ? `${t('fairnessOfCandidate')} ` : `${t('fairnessOfActive')} `) + (r.passed ? t('fairnessPassed') : t('fairnessFailed', { n: check.counterexamples.length }))),
    h('p.method', { id: 'fairness-method' }, t('fairnessMethod', { cases: check.cases, partial })),
    check.counterexamples.length
      ? h('ul.counterexamples', { id: 'fairness-counterexamples', 'aria-label': t('fairnessCounterexamples') }, check.counterexamples.map(counterexample))
      : null,
    ids.length ? h('ul.offending', { id: 'fairness-policies', 'aria-label': t('fairnessPolicies') }, ids.map((id) => h('li', {}, h('code', {}, id)))) : null,
    h('p.legend', {}, TREATMENTS.map((k) => h(`span.t-${k}`, {}, treatmentLabel(k))), h('span.offence', {}, `⚠ ${t('fairnessLegendWorse')}`)),
    h('div.table-wrap', {}, h('table.matrix', {}, h('caption', {}, t('fairnessCaption', { operator: r.operator })), h('thead', {}, head), h('tbody', {}, rows))),
  ];
}
