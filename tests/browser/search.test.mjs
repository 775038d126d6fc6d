// Search in the web client: an old message, no longer in the loaded
// history, found by a two-character Chinese word; clicking the hit opens
// its conversation. Another person's conversation is never a hit.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTwo, closeAll, handle, signUpAndTalk, startGroup, send, token, PASSWORD } from './lib.mjs';

const LIVE = '明天下午三点在淘宝直播间见';
// More than the first history page (50), so the old message is not on screen.
const LATER = 60;

let server;
let browser;
let alice;
let bob;
const A = handle('alice');
const B = handle('bob');
const C = handle('carol');

before(async () => {
  ({ server, browser, alice, bob } = await startTwo());
});

after(() => closeAll({ server, browser }));

test('an old message is found by a Chinese word and opens its conversation', async () => {
  await signUpAndTalk(alice, bob, A, B);
  assert.equal((await server.api('POST', '/accounts', { handle: C, password: PASSWORD })).status, 201);
  await send(alice.page, LIVE);
  await alice.page.locator('#msg-list .msg', { hasText: LIVE }).waitFor();
  const conversation = Number(new URL(alice.page.url()).hash.match(/\/c\/(\d+)/)[1]);
  const t = await token(alice.page);
  for (let n = 1; n <= LATER; n++) {
    const r = await server.api('POST', `/conversations/${conversation}/messages`, { body: `later ${n}` }, t);
    assert.equal(r.status, 201);
  }
  // Alice and carol talk about 直播 too, without bob.
  await startGroup(alice.page, 'Without bob', [C]);
  await send(alice.page, '直播 without bob');
  await alice.page.locator('#msg-list .msg', { hasText: 'without bob' }).waitFor();

  // Bob is in another conversation when he searches.
  await startGroup(bob.page, 'Elsewhere', [A]);
  await bob.page.fill('#search-input', '直播');
  await bob.page.press('#search-input', 'Enter');
  const hits = bob.page.locator('#search-results .search-hit');
  await hits.first().waitFor();
  assert.equal(await hits.count(), 1);
  assert.equal(await hits.first().locator('.search-snippet').textContent(), LIVE);
  assert.match(await hits.first().locator('.search-where').textContent(), new RegExp(A));

  await hits.first().click();
  await bob.page.locator('#chat-title', { hasText: A }).waitFor();
  await bob.page.locator('#msg-list .msg', { hasText: `later ${LATER}` }).waitFor();
  assert.match(bob.page.url(), new RegExp(`#/c/${conversation}$`));

  // Nothing found says so.
  await bob.page.fill('#search-input', '没有这句话');
  await bob.page.press('#search-input', 'Enter');
  await bob.page.locator('#search-results .search-note', { hasText: 'No messages found.' }).waitFor();
  assert.equal(await hits.count(), 0);
  assert.deepEqual(alice.errors, []);
  assert.deepEqual(bob.errors, []);
});
