// The transparency report over a time range: an SVG chart of treatments per
// owner and conversation kind over time (built node by node, coloured by
// classes), a table of counts and shares, the versions in force, and a CSV
// download link.
import { api, getToken } from './api.js';
import { $, h, replace } from './dom.js';
import { t } from './i18n.js';
import { svg, errorText, when, zone, toLocalInput, fromLocalInput, treatmentLabel, TREATMENTS } from './admin-common.js';
import { reportModeration } from './moderation.js';

const DAY = 86_400_000;
let csvUrl = null; // the current blob: URL behind the download link

/** The report card; the range defaults to the last seven days. */
export function reportPage() {
  const now = Date.now();
  const from = h('input', { id: 'report-from', type: 'datetime-local', step: 1, value: toLocalInput(new Date(now - 7 * DAY)) });
  const to = h('input', { id: 'report-to', type: 'datetime-local', step: 1, value: toLocalInput(new Date(now + 60_000)) });
  const preset = (days) => () => {
    const end = Date.now() + 60_000;
    to.value = toLocalInput(new Date(end));
    from.value = toLocalInput(new Date(end - days * DAY));
    loadReport();
  };
  return h('section.admin-card', { id: 'admin-report', 'aria-labelledby': 'report-heading' },
    h('h3', { id: 'report-heading' }, t('report')),
    h('div.admin-row', {},
      h('label.field', {}, h('span', {}, t('reportFrom', { zone: zone() })), from),
      h('label.field', {}, h('span', {}, t('reportTo')), to),
      h('button', { type: 'button', id: 'report-run', onclick: () => loadReport() }, t('reportRun'))),
    h('div.admin-row', { role: 'group', 'aria-label': t('reportPresets') },
      h('button.small', { type: 'button', onclick: preset(1) }, t('reportLastDay')),
      h('button.small', { type: 'button', onclick: preset(7) }, t('reportLastWeek')),
      h('button.small', { type: 'button', onclick: preset(30) }, t('reportLastMonth'))),
    h('div', { id: 'report-out' }));
}

/** Loads the report for the range in the inputs. */
export async function loadReport() {
  const out = $('#report-out');
  if (!out) return;
  const from = fromLocalInput($('#report-from').value);
  const to = fromLocalInput($('#report-to').value);
  if (!from || !to) {
    replace(out, h('p.error', { role: 'alert' }, t('reportPickRange')));
    return;
  }
  const q = `from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`;
  try {
    const r = await api('GET', `/admin/reports/links?${q}`);
    const versions = r.versions_in_force.map((v) => `${v.version === 0 ? t('policyStartup') : `v${v.version}`} (${when(v.from)})`).join(' → ');
    const rows = r.rows.map((row) => h('tr', {},
      h('td', {}, row.owner), h('td', {}, row.platform), h('td', {}, t(`kind_${row.conversation_kind}`)),
      h(`td.t-${row.treatment}`, {}, treatmentLabel(row.treatment)), h('td.num', {}, String(row.count)),
      h('td.num', {}, `${(row.share * 100).toFixed(1)}%`)));
    const link = h('a.button-link', { id: 'report-csv', download: `kaifang-links-${from.slice(0, 10)}-${to.slice(0, 10)}.csv`, 'aria-disabled': 'true' }, t('reportCsv'));
    replace(out,
      h('p', { id: 'report-total', role: 'status' }, t('reportTotal', { total: r.total, versions })),
      r.total ? chart(r) : h('p.admin-hint', {}, t('reportEmpty')),
      h('div.table-wrap', {}, h('table.report', {},
        h('caption', {}, t('reportTableCaption')),
        h('thead', {}, h('tr', {}, ['owner', 'platform', 'kind', 'treatment', 'count', 'share'].map((c) => h('th', { scope: 'col' }, t(`col_${c}`))))),
        h('tbody', {}, rows))),
      link,
      reportModeration(r));
  } catch (e) {
    replace(out, h('p.error', { role: 'alert' }, errorText(e)));
    return;
  }
  try {
    await csvLink($('#report-csv'), q);
  } catch (e) {
    // The report stays; only the link says it has no file.
    $('#report-csv')?.after(h('span.error', {}, ` ${errorText(e)}`));
  }
}

/** Points the link at the CSV, fetched with the bearer token and held as a blob: URL. */
async function csvLink(link, q) {
  const res = await fetch(`/api/v1/admin/reports/links?${q}&format=csv`, { headers: { Authorization: `Bearer ${getToken()}` }, cache: 'no-store' });
  if (!res.ok) throw new Error(`CSV: HTTP ${res.status}`);
  if (csvUrl) URL.revokeObjectURL(csvUrl);
  csvUrl = URL.createObjectURL(await res.blob());
  link.href = csvUrl;
  link.removeAttribute('aria-disabled');
}

/**
 * Treatments per owner and conversation kind over time: one band per
 * owner × kind, one stacked column per time bucket (an hour or a day, as
 * the server chose), the tallest column scaled to the band's height.
 */
function chart(r) {
  const buckets = Math.max(1, Math.ceil((r.to - r.from) / r.bucket_ms));
  const bands = new Map();
  for (const p of r.series) {
    const key = `${p.owner} · ${t(`kind_${p.conversation_kind}`)}`;
    const band = bands.get(key) ?? new Map();
    const i = Math.max(0, Math.min(buckets - 1, Math.floor((p.at - r.from) / r.bucket_ms)));
    const cell = band.get(i) ?? { live: 0, warn: 0, inert: 0, blocked: 0 };
    if (p.treatment in cell) cell[p.treatment] += p.count;
    band.set(i, cell);
    bands.set(key, band);
  }
  const sum = (c) => TREATMENTS.reduce((n, k) => n + c[k], 0);
  const max = Math.max(1, ...[...bands.values()].flatMap((band) => [...band.values()].map(sum)));
  const labelW = 170;
  const bandH = 44;
  const width = 640;
  const plotW = width - labelW - 40;
  const colW = plotW / buckets;
  const top = 8;
  const height = top + bands.size * bandH + 44;
  const root = svg('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-labelledby': 'chart-title', class: 'chart', id: 'report-chart' },
    svg('title', { id: 'chart-title' }, t('reportChart')));
  [...bands.entries()].forEach(([key, band], row) => {
    const base = top + (row + 1) * bandH - 6;
    const g = svg('g', { class: 'chart-band' });
    g.append(svg('text', { x: 0, y: base - 12, class: 'chart-label' }, key));
    g.append(svg('line', { x1: labelW, x2: labelW + plotW, y1: base, y2: base, class: 'chart-axis' }));
    g.append(svg('text', { x: labelW + plotW + 4, y: base - bandH + 18, class: 'chart-tick' }, String(max)));
    for (const [i, cell] of band) {
      let y = base;
      const at = when(r.from + i * r.bucket_ms);
      for (const k of TREATMENTS) {
        const hgt = (cell[k] / max) * (bandH - 12);
        if (hgt <= 0) continue;
        y -= hgt;
        g.append(svg('rect', { x: labelW + i * colW, y, width: Math.max(2, colW - 1), height: hgt, class: `bar bar-${k}`, 'data-count': cell[k] },
          svg('title', {}, `${key} · ${at} · ${treatmentLabel(k)}: ${cell[k]}`)));
      }
    }
    root.append(g);
  });
  const axisY = top + bands.size * bandH + 12;
  root.append(svg('text', { x: labelW, y: axisY, class: 'chart-tick' }, when(r.from)));
  root.append(svg('text', { x: labelW + plotW, y: axisY, class: 'chart-tick', 'text-anchor': 'end' }, when(r.to)));
  const legendY = height - 8;
  TREATMENTS.forEach((k, i) => {
    root.append(svg('rect', { x: labelW + i * 100, y: legendY - 10, width: 12, height: 12, class: `bar-${k}` }));
    root.append(svg('text', { x: labelW + i * 100 + 16, y: legendY, class: 'chart-label' }, treatmentLabel(k)));
  });
  root.append(svg('text', { x: 0, y: legendY, class: 'chart-label' }, t(r.bucket_ms >= DAY ? 'reportPerDay' : 'reportPerHour')));
  return root;
}
