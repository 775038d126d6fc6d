// The server goes away and comes back on the same port with the same data:
// the page says it is reconnecting, then catches up from its cursor with
// nothing lost and nothing shown twice.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, launchBrowser, person, handle, signUp, startDirect, openConv, send, token, messageTexts } from './lib.mjs';

let server;
let browser;
let alice;
let bob;
const A = handle('alice');
const B = handle('bob');

before(async () => {
  server = await Server.start();
  browser = await launchBrowser();
  alice = await person(browser, server);
  bob = await person(browser, server);
  await signUp(alice.page, A);
  await signUp(bob.page, B);
});

after(async () => {
  await browser?.close();
  await server?.close();
});

test('after a restart on the same port and data, no message is lost or duplicated', async () => {
  await startDirect(alice.page, B);
  const expected = [];
  for (const text of ['before 1', 'before 2']) {
    await send(alice.page, text);
    expected.push(text);
  }
  await openConv(bob.page, A);
  await bob.page.locator('#msg-list .msg', { hasText: 'before 2' }).waitFor();
  const bobToken = await token(bob.page);
  const convId = Number(await alice.page.evaluate(() => location.hash.match(/\d+/)[0]));

  await server.stop();
  // A server that goes away shows a reconnecting state, not a blank page.
  for (const { page } of [alice, bob]) {
    await page.locator('#banner', { hasText: 'Reconnecting' }).waitFor();
    await page.locator('#conn[data-state="reconnecting"]').waitFor({ state: 'attached' });
    assert.ok(await page.locator('#msg-list .msg', { hasText: 'before 2' }).isVisible(), 'the conversation stays on screen');
  }
  // A send while the server is away fails visibly.
  await send(alice.page, 'during outage');
  const failed = alice.page.locator('#pending-list .msg.failed', { hasText: 'during outage' });
  await failed.waitFor();

  await server.startProcess();
  // Sent by bob's other device the moment the server is back, whether or
  // not the pages have reconnected yet: the catch-up or the live stream delivers it.
  for (const text of ['after 1', 'after 2', 'after 3']) {
    const r = await server.api('POST', `/conversations/${convId}/messages`, { body: text }, bobToken);
    assert.equal(r.status, 201);
    expected.push(text);
  }
  for (const { page } of [alice, bob]) {
    await page.locator('#conn[data-state="online"]').waitFor({ state: 'attached', timeout: 20000 });
    await page.locator('#banner').waitFor({ state: 'hidden' });
  }
  await failed.locator('button.retry').click();
  await failed.waitFor({ state: 'detached' });
  expected.push('during outage');
  await send(bob.page, 'after reconnect');
  expected.push('after reconnect');
  for (const { page } of [alice, bob]) {
    await page.locator('#msg-list .msg', { hasText: 'after reconnect' }).waitFor();
    assert.deepEqual(await messageTexts(page), expected);
  }
  // The server's history agrees: same messages, once each, in order.
  const history = await server.api('GET', `/conversations/${convId}/messages?limit=100`, undefined, bobToken);
  assert.deepEqual(history.json.messages.map((m) => m.body), expected);
  // A reload rebuilds the same view from history.
  await alice.page.reload();
  await alice.page.locator('#conn[data-state="online"]').waitFor({ state: 'attached' });
  await alice.page.locator('#msg-list .msg', { hasText: 'after reconnect' }).waitFor();
  assert.deepEqual(await messageTexts(alice.page), expected);
  assert.deepEqual(alice.errors, []);
  assert.deepEqual(bob.errors, []);
});

test('a second restart while a conversation is closed still counts unread messages once', async () => {
  await bob.page.click('#back').catch(() => {});
  await openConv(alice.page, B);
  await server.restart();
  await alice.page.locator('#conn[data-state="online"]').waitFor({ state: 'attached', timeout: 20000 });
  // Bob opens another view: alice's conversation is not open on his side.
  await bob.page.evaluate(() => history.replaceState(null, '', '#'));
  await bob.page.reload();
  await bob.page.locator('#conn[data-state="online"]').waitFor({ state: 'attached', timeout: 20000 });
  await send(alice.page, 'unread 1');
  await send(alice.page, 'unread 2');
  const row = bob.page.locator('#conv-list .conv', { hasText: A });
  await row.locator('.badge', { hasText: '2' }).waitFor();
  await row.click();
  const texts = await messageTexts(bob.page);
  assert.equal(texts.filter((t) => t.startsWith('unread')).length, 2);
  assert.equal(new Set(texts).size, texts.length, 'no duplicates');
});
