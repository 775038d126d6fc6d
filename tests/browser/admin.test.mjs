// Operator pages in the real page (issue 6, point 5, and its "Done when"):
// only the administrator (the first account) sees them; the group link is
// inert under the default policy; the admin pastes a policy that opens
// groups, sees what it would change, schedules it a few seconds ahead in the
// browser's time zone, and after the instant the same link in the group is
// live; the non-discrimination matrix renders and catches a planted
// self-preferencing rule; the transparency report counts the links.
// A server without the admin endpoints fails every test, saying which.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Server, launchBrowser, person, handle, signUp, startGroup, openConv, send, token } from './lib.mjs';
import { startShop, startServerFor } from './site.mjs';

const repo = path.join(import.meta.dirname, '../..');
const DEFAULT = readFileSync(path.join(repo, 'policies/default.cedar'), 'utf8');
const PLANTED = readFileSync(path.join(repo, 'policies/examples/planted-self-preferencing.cedar'), 'utf8');
const HUGE_GROUPS = readFileSync(path.join(repo, 'crates/policy/tests/fairness_corpus/planted/p01-huge-groups.cedar'), 'utf8');
const GROUP_FORBIDS = ['groups-rival-platforms-inert', 'groups-contested-house-inert'];

/** The default policy without the group forbids: groups open. */
function groupsOpen() {
  let text = DEFAULT;
  for (const id of GROUP_FORBIDS) {
    const rule = new RegExp(`@id\\("${id}"\\)\\s*forbid[\\s\\S]*?\\};\\n`);
    assert.match(text, rule, `default.cedar has ${id}`);
    text = text.replace(rule, '');
  }
  return text;
}

let shop;
let server;
let browser;
let admin;
let member;
const A = handle('ops');
const B = handle('bea');
const GROUP = 'Tea buyers';

before(async () => {
  shop = await startShop();
  // The operator is JD here (it owns a commerce platform), so that a rule
  // favouring the house's own shop has something to favour.
  const dir = mkdtempSync(path.join(tmpdir(), 'kaifang-admin-'));
  server = await startServerFor(shop, Server, dir, '[links]\noperator_owner = "jd"\n\n');
  browser = await launchBrowser();
  admin = await person(browser, server);
  member = await person(browser, server);
  await signUp(admin.page, A); // the first account: the operator's administrator
  await signUp(member.page, B);
  const t = await token(admin.page);
  const engine = await server.api('POST', '/links/evaluate', { text: 'https://www.taobao.com/', conversation_kind: 'group' }, t);
  const policies = await server.api('GET', '/admin/policies', undefined, t);
  assert.equal(engine.status, 200, 'the server has a link engine (POST /api/v1/links/evaluate)');
  assert.equal(policies.status, 200, 'the server has the admin policy endpoints (GET /api/v1/admin/policies)');
});

after(async () => {
  await browser?.close();
  await server?.close();
  shop?.close();
});

const shopUrl = () => shop.url(42);
// How far ahead the group opening is scheduled (see the test that uses it).
const SCHEDULE_AHEAD_MS = 12000;
const inGroup = (page, text) => page.locator('#msg-list .msg', { hasText: text });

/** Opens the operator pages unless they are showing: `#admin-open` toggles,
 * and a test must not inherit the view an earlier failure left behind. */
async function showAdmin(page) {
  if (!(await page.locator('#policy-text').isVisible())) await page.click('#admin-open');
  await page.locator('#policy-text').waitFor();
}

test('only the administrator sees the operator pages; the API answers 404 to others', async () => {
  await admin.page.locator('#admin-open').waitFor();
  assert.ok(await admin.page.locator('#admin-open').isVisible());
  assert.equal(await member.page.locator('#admin-open').isVisible(), false, 'no entry for a member');
  const status = await member.page.evaluate(async () => {
    const { token } = JSON.parse(localStorage.getItem('kaifang:session'));
    return (await fetch('/api/v1/admin/policies', { headers: { Authorization: `Bearer ${token}` } })).status;
  });
  assert.equal(status, 404);
});

test('under the default policy the link is inert in the group, with its note', async () => {
  await startGroup(admin.page, GROUP, [B]);
  await send(admin.page, `before ${shopUrl()}`);
  await openConv(member.page, GROUP);
  const msg = inGroup(member.page, 'before');
  await msg.locator('.link-text.inert').waitFor();
  assert.equal(await msg.locator('a').count(), 0);
  assert.match(await msg.locator('.inert-note').textContent(), /Taobao.*group.*policy: \S+/s);
});

test('the editor loads the policy in force; an invalid policy shows Cedar\'s message and saves nothing', async () => {
  const page = admin.page;
  await page.click('#admin-open');
  await page.waitForFunction(() => document.querySelector('#policy-text')?.value.includes('groups-rival-platforms-inert'));
  assert.equal(await page.locator('#policy-history li').count(), 1);
  assert.match(await page.locator('#policy-history').textContent(), /No versions yet/);
  await page.fill('#policy-text', 'permit (principal, action == Kaifang::Action::"deliver", resource) when { nonsense };');
  await page.click('#policy-validate');
  const error = page.locator('#policy-error');
  await page.waitForFunction(() => document.querySelector('#policy-error')?.textContent.length > 0);
  assert.match(await error.textContent(), /Invalid policy/);
  assert.equal(await error.getAttribute('role'), 'alert');
  assert.match(await page.locator('#policy-status').textContent(), /Not saved/);
  assert.match(await page.locator('#policy-history').textContent(), /No versions yet/, 'nothing was stored');
  // Scheduling with no time chosen does not quietly activate now.
  await page.fill('#policy-text', DEFAULT);
  await page.fill('#policy-at', '');
  await page.click('#policy-schedule');
  assert.match(await page.locator('#policy-status').textContent(), /Choose when/);
  assert.match(await page.locator('#policy-history').textContent(), /No versions yet/);
});

test('an admin schedules the group opening a few seconds ahead and the link becomes live', async () => {
  const page = admin.page;
  const open = groupsOpen();
  await page.fill('#policy-text', open);
  await page.fill('#policy-comment', 'groups open');
  // What it would change, over the links logged so far: the one group link.
  await page.click('#policy-replay');
  await page.locator('#replay-summary').waitFor();
  assert.match(await page.locator('#replay-summary').textContent(), /^\d+ logged links replayed; 1 would be treated differently/);
  assert.match(await page.locator('#replay-out tbody').textContent(), /taobao.*group.*inert → live.*1/s);
  // Some seconds ahead, typed in the browser's own time zone (datetime-local).
  // The margin is wide because a loaded CI machine can take several seconds
  // between scheduling and reading the history back; with three seconds the
  // version was sometimes already in force when the test asserted "not yet".
  const at = await page.evaluate((ahead) => {
    const d = new Date(Date.now() + ahead);
    const p = (n) => String(n).padStart(2, '0');
    return { local: `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`, ms: Math.floor(d.getTime() / 1000) * 1000 };
  }, SCHEDULE_AHEAD_MS);
  await page.fill('#policy-at', at.local);
  await page.click('#policy-schedule');
  await page.waitForFunction(() => /takes effect/.test(document.querySelector('#policy-status')?.textContent ?? ''));
  const version = page.locator('#policy-history > li[data-version="1"]');
  await version.locator('.activation[data-state="scheduled"]').waitFor();
  assert.match(await version.textContent(), /groups open/);
  // The server got the instant as UTC: the one typed, to the second.
  const hist = await server.api('GET', '/admin/policies', undefined, await token(page));
  const answeredAt = Date.now();
  assert.equal(hist.json.activations.length, 1);
  assert.equal(hist.json.activations[0].effective_from, at.ms);
  // Asked before the instant, the server must not have it in force yet.
  assert.ok(answeredAt < at.ms, `the history was read ${answeredAt - at.ms} ms after the instant: widen SCHEDULE_AHEAD_MS`);
  assert.equal(hist.json.active_version, 0, 'not yet in force');
  // The diff from the start-up policy shows exactly the two forbids removed.
  await page.selectOption('#diff-from', '0');
  await page.selectOption('#diff-to', '1');
  await page.click('#diff-run');
  await page.locator('#diff-out li').first().waitFor();
  const removed = (await page.locator('#diff-out li.diff-del').allTextContents()).join('\n');
  for (const id of GROUP_FORBIDS) assert.ok(removed.includes(`@id("${id}")`), `${id} removed`);
  assert.equal(await page.locator('#diff-out li.diff-add').count(), 0);
  // After the instant the history shows it in force, without a reload.
  await version.locator('.activation[data-state="inforce"]').waitFor({ timeout: SCHEDULE_AHEAD_MS + 10000 });
  assert.match(await version.textContent(), /in force/);
  await page.click('#admin-open'); // back to chats
  await openConv(page, GROUP);
  await send(page, `after ${shopUrl()}`);
  const live = inGroup(member.page, 'after').locator('a.link.live');
  await live.waitFor({ timeout: 10000 });
  assert.match(await live.getAttribute('href'), /^http:\/\/item\.taobao\.com:\d+\/item\.htm\?id=42/);
  assert.equal(await live.getAttribute('rel'), 'noopener noreferrer nofollow');
  // The earlier message keeps the treatment it was given.
  assert.equal(await inGroup(member.page, 'before').locator('a').count(), 0);
});

test('the non-discrimination matrix renders, and catches a planted self-preferencing rule', async () => {
  const page = admin.page;
  await showAdmin(page);
  await page.locator('#fairness-verdict').waitFor();
  assert.match(await page.locator('#fairness-verdict').textContent(), /Policy in force: Passed/);
  assert.ok((await page.locator('table.matrix tbody tr').count()) > 10);
  const columns = await page.locator('table.matrix thead th').count();
  assert.ok(columns > 2, 'contexts as columns');
  const taobao = page.locator('table.matrix tr[data-platform="taobao"] td');
  assert.equal(await taobao.count(), columns - 1);
  assert.match(await taobao.first().textContent(), /^live/);
  assert.equal(await page.locator('table.matrix td.offence').count(), 0);
  // The verdict says how it was reached: by enumerating cases, not the matrix's sample.
  const cases = Number((await page.locator('#fairness-method').textContent()).match(/enumeration: (\d+) cases/)?.[1]);
  assert.ok(cases > 0, 'enumerated cases counted');
  assert.equal(await page.locator('#fairness-counterexamples li').count(), 0);
  // A candidate from the editor: rival commerce inert in groups, the house's own live.
  await page.fill('#policy-text', PLANTED);
  await page.click('#fairness-candidate');
  await page.waitForFunction(() => /Text in the editor: Failed/.test(document.querySelector('#fairness-verdict')?.textContent ?? ''));
  const offending = page.locator('table.matrix td.offence');
  assert.ok((await offending.count()) > 0, 'offending cells highlighted');
  assert.match(await offending.first().textContent(), /⚠ inert/);
  assert.match(await offending.first().getAttribute('title'), /Worse than \S+ \(live\)/);
  assert.ok((await page.locator('#fairness-policies li code').count()) > 0, 'offending policy ids listed');
  assert.match(await page.locator('#fairness-counterexamples li').first().textContent(), /^commerce: .* gets inert where jd \(jd\.com\) gets live .*planted-rival-commerce-inert/);
  // Self-preferencing only in groups of more than 1,000: no sampled matrix
  // column shows it, the complete check does, with the group size.
  await page.fill('#policy-text', HUGE_GROUPS);
  await page.click('#fairness-candidate');
  await page.waitForFunction(() => document.querySelector('#fairness-counterexamples li')?.textContent.includes('huge-groups-rivals-inert'));
  assert.match(await page.locator('#fairness-verdict').textContent(), /Text in the editor: Failed/);
  assert.equal(await page.locator('table.matrix td.offence').count(), 0, 'the sample misses it');
  const size = Number((await page.locator('#fairness-counterexamples li').first().textContent()).match(/group · (\d+) ·/)?.[1]);
  assert.ok(size > 1000, `counterexample in a group of ${size}`);
  // The candidate was only checked: the policy in force is unchanged.
  await page.click('#fairness-run');
  await page.waitForFunction(() => /Policy in force: Passed/.test(document.querySelector('#fairness-verdict')?.textContent ?? ''));
});

test('the transparency report counts the links, with a chart, a table and a CSV link', async () => {
  const page = admin.page;
  await showAdmin(page);
  await page.click('#report-run');
  await page.waitForFunction(() => /^[1-9]\d* links decided/.test(document.querySelector('#report-total')?.textContent ?? ''));
  assert.match(await page.locator('#report-total').textContent(), /^2 links decided · versions in force: v0 .* → v1 /);
  const rows = await page.locator('table.report tbody tr').allTextContents();
  assert.ok(rows.some((r) => /alibaba\s*taobao\s*group\s*inert\s*1\s*50\.0%/.test(r)), rows.join(' | '));
  assert.ok(rows.some((r) => /alibaba\s*taobao\s*group\s*live\s*1\s*50\.0%/.test(r)), rows.join(' | '));
  const bars = page.locator('#report-chart rect.bar');
  assert.ok((await bars.count()) >= 2, 'bars for inert and live');
  const counted = await bars.evaluateAll((els) => els.reduce((n, el) => n + Number(el.getAttribute('data-count')), 0));
  assert.equal(counted, 2, 'the bars add up to the links decided');
  assert.equal(await page.locator('#report-chart').evaluate((el) => el.closest('[style]') === null && !el.hasAttribute('style')), true);
  const csv = page.locator('#report-csv');
  await page.waitForFunction(() => document.querySelector('#report-csv')?.href.startsWith('blob:'));
  assert.ok(await csv.getAttribute('download'));
  // A real download (the page's CSP forbids fetching the blob: URL back).
  const [download] = await Promise.all([page.waitForEvent('download'), csv.click()]);
  assert.match(download.suggestedFilename(), /^kaifang-links-\d{4}-\d{2}-\d{2}-\d{4}-\d{2}-\d{2}\.csv$/);
  const text = readFileSync(await download.path(), 'utf8');
  assert.match(text, /^owner,platform,conversation_kind,treatment,count,share\n/);
  assert.match(text, /alibaba,taobao,group,inert,1,0\.5000/);
});

test('the operator pages follow the language switch; no page errors', async () => {
  const page = admin.page;
  await showAdmin(page);
  await page.fill('#policy-text', '// unsaved edit');
  await page.selectOption('#lang-main', 'zh-CN');
  await page.locator('#policy-heading', { hasText: '链接策略' }).waitFor();
  await page.locator('#fairness-verdict', { hasText: '通过' }).waitFor();
  await page.locator('#report-total', { hasText: '共判定 2 个链接' }).waitFor();
  assert.equal(await page.inputValue('#policy-text'), '// unsaved edit', 'the redraw keeps what was typed');
  assert.equal(await page.locator('#admin-open').textContent(), '返回聊天');
  await page.selectOption('#lang-main', 'en');
  await page.locator('#policy-heading', { hasText: 'Link policy' }).waitFor();
  assert.deepEqual(admin.errors, []);
  assert.deepEqual(member.errors, []);
});
