// The operator's per-domain preview rules: an allowlist and a denylist of
// `example.com`, `*.example.com` or `domain:example.com`, each listed with
// a remove button, and a form to add one. The server parses and normalises
// every rule; a rule that is not a domain comes back as its 400, shown as is.
import { api } from './api.js';
import { $, h, replace } from './dom.js';
import { t } from './i18n.js';
import { errorText, say, when } from './admin-common.js';

export function rulesPage() {
  return h('section.admin-card', { id: 'admin-rules', 'aria-labelledby': 'rules-heading' },
    h('h3', { id: 'rules-heading' }, t('previewRules')),
    h('p', {}, t('previewRulesHelp')),
    h('form', { id: 'rule-form', onsubmit: addRule },
      h('label', { for: 'rule-list' }, t('ruleList')),
      h('select', { id: 'rule-list' },
        h('option', { value: 'deny' }, t('ruleDeny')),
        h('option', { value: 'allow' }, t('ruleAllow'))),
      h('label', { for: 'rule-text' }, t('ruleText')),
      h('input', { id: 'rule-text', type: 'text', placeholder: '*.example.com', autocomplete: 'off' }),
      h('button', { type: 'submit' }, t('ruleAdd'))),
    h('p.admin-status', { id: 'rules-status', role: 'status' }),
    h('h4', {}, t('ruleDenyList')),
    h('ul.admin-list', { id: 'rules-deny' }),
    h('h4', {}, t('ruleAllowList')),
    h('ul.admin-list', { id: 'rules-allow' }));
}

export async function loadRules() {
  if (!$('#rules-deny')) return;
  try {
    const listing = await api('GET', '/admin/preview-rules');
    for (const list of ['deny', 'allow']) {
      const rules = listing[list];
      const empty = list === 'allow' ? t('ruleAllowEmpty') : t('ruleDenyEmpty');
      replace($(`#rules-${list}`), rules.length ? rules.map((r) => ruleItem(list, r)) : h('li', {}, empty));
    }
  } catch (e) {
    say($('#rules-status'), errorText(e), true);
  }
}

function ruleItem(list, r) {
  return h('li', { dataset: { rule: r.rule } },
    h('code', {}, r.display), ` · ${r.created_by} · ${when(r.created_at)} `,
    h('button', { type: 'button', 'aria-label': t('ruleRemoveNamed', { rule: r.display }), onclick: () => removeRule(list, r) }, t('ruleRemove')));
}

async function addRule(event) {
  event.preventDefault();
  const list = $('#rule-list').value;
  const rule = $('#rule-text').value;
  try {
    const added = await api('POST', '/admin/preview-rules', { list, rule });
    say($('#rules-status'), t('ruleAdded', { rule: added.display }));
    $('#rule-text').value = '';
    await loadRules();
  } catch (e) {
    say($('#rules-status'), errorText(e), true);
  }
}

async function removeRule(list, r) {
  try {
    const q = `?list=${encodeURIComponent(list)}&rule=${encodeURIComponent(r.rule)}`;
    await api('DELETE', `/admin/preview-rules${q}`);
    say($('#rules-status'), t('ruleRemoved', { rule: r.display }));
    await loadRules();
  } catch (e) {
    say($('#rules-status'), errorText(e), true);
  }
}
