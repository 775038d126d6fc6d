// Link complaints in the page (issue 11, item 6): a member reports a link
// from the message's actions, the moderator (here the administrator) sees
// it in the queue and upholds it, the penalty table shows the restriction,
// the reporter is told, the domain's next link arrives as plain text, and
// the transparency report counts the complaint. The sender never gets a
// "Report" action on their own message and is told nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTwo, closeAll, person, handle, signUp, startDirect, send } from './lib.mjs';

const LINK = 'https://item.taobao.com/item.htm?id=7';
let env;
let ops;
const O = handle('ops');
const A = handle('amy');
const B = handle('ben');

before(async () => {
  // The operator is JD here, so the report can set the house's commerce
  // platforms beside Taobao's.
  env = await startTwo({ config: '[links]\noperator_owner = "jd"\n' });
  ops = await person(env.browser, env.server);
  await signUp(ops.page, O); // the first account: administrator, so a moderator
  await signUp(env.alice.page, A);
  await signUp(env.bob.page, B);
  await startDirect(env.alice.page, B);
});

after(() => closeAll(env ?? {}));

const msg = (page, text) => page.locator('#msg-list .msg', { hasText: text });

test('a member reports a link; the sender gets no report action on their own message', async () => {
  const { alice, bob } = env;
  await bob.page.locator('#conv-list .conv').first().click();
  await send(bob.page, `first ${LINK}`);
  await msg(bob.page, 'first').locator('.msg-actions').waitFor();
  assert.equal(await msg(bob.page, 'first').locator('.act-report').count(), 0, 'no report action on one\'s own message');
  const m = msg(alice.page, 'first');
  await m.locator('.act-report').click();
  const form = m.locator('.report-form');
  await form.locator('.report-reason').selectOption('fraud');
  await form.locator('.report-note').fill('fake shop');
  await form.locator('button[type=submit]').click();
  await form.locator('.report-status', { hasText: 'Reported' }).waitFor();
});

test('the moderator upholds it; the penalty table shows the restriction and the reporter is told', async () => {
  const page = ops.page;
  await page.click('#admin-open');
  const row = page.locator('#mod-complaints tr[data-complaint]');
  await row.first().waitFor();
  assert.equal(await row.count(), 1);
  const text = await row.first().textContent();
  assert.match(text, /taobao\.com/);
  assert.match(text, new RegExp(A));
  assert.match(text, /Fraud/);
  await row.first().locator('.uphold').click();
  await page.locator('#mod-queue', { hasText: 'No open complaints.' }).waitFor();
  const penalty = page.locator('#penalty-table tr[data-state="inforce"]');
  await penalty.first().waitFor();
  assert.match(await penalty.first().textContent(), /taobao\.com.*restricted.*until an appeal is granted/s);
  await env.alice.page.locator('.toast', { hasText: `Your report about ${LINK} was upheld.` }).waitFor();
  assert.equal(await env.bob.page.locator('.toast', { hasText: 'report' }).count(), 0, 'the sender is told nothing');
});

test('the restricted domain\'s next link is plain text, and the report counts the complaint', async () => {
  await send(env.bob.page, `second ${LINK}`);
  const second = msg(env.alice.page, 'second');
  await second.locator('.link-text.inert').waitFor();
  assert.equal(await second.locator('a.link').count(), 0);
  const page = ops.page;
  await page.click('#report-run');
  const complaints = page.locator('#report-complaints tbody tr');
  await page.waitForFunction(() => /alibaba/.test(document.querySelector('#report-complaints tbody')?.textContent ?? ''));
  assert.match(await complaints.first().textContent(), /alibaba\s*taobao\s*Fraud\s*upheld\s*1/);
  assert.match(await page.locator('#report-penalties tbody').textContent(), /alibaba\s*taobao\s*Fraud\s*restricted\s*1\s*0/);
  // Strikes per thousand shares: the house (JD) has none and no shares, the
  // rival (Taobao) one strike over its two shares; the row is marked uneven.
  const strikes = page.locator('#report-strikes tbody tr');
  assert.match(await strikes.first().textContent(), /commerce\s*Fraud\s*0\/0\s*–\s*1\/2\s*500\.00/);
  assert.equal(await strikes.first().getAttribute('class'), 'uneven');
  for (const p of [ops, env.alice, env.bob]) assert.deepEqual(p.errors, []);
});
