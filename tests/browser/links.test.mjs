// Links end to end through the server's link engine (issue 6's scenarios):
// a Taobao-style link from a local test page is a live card in a direct
// chat, inert with its note in a group, a blocklisted link is refused
// before sending. (The admin's scheduled group opening: admin.test.mjs.)
// A server without the link engine, or that refuses the test settings,
// fails every test, saying which.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Server, launchBrowser, person, handle, signUp, startDirect, startGroup, openConv, send, token, messageTexts } from './lib.mjs';
import { startShop, startServerFor, BLOCKED_HOST } from './site.mjs';

let shop;
let server;
let browser;
let alice;
let bob;
const A = handle('alice');
const B = handle('bob');

before(async () => {
  shop = await startShop();
  const dir = mkdtempSync(path.join(tmpdir(), 'kaifang-links-'));
  server = await startServerFor(shop, Server, dir);
  browser = await launchBrowser();
  alice = await person(browser, server);
  bob = await person(browser, server);
  await signUp(alice.page, A);
  await signUp(bob.page, B);
  const t = await token(alice.page);
  const probe = await server.api('POST', '/links/evaluate', { text: 'https://www.taobao.com/', conversation_kind: 'direct' }, t);
  assert.equal(probe.status, 200, 'the server has a link engine (POST /api/v1/links/evaluate)');
  assert.ok(Array.isArray(probe.json?.links), 'POST /api/v1/links/evaluate answers {links: [...]}');
});

after(async () => {
  await browser?.close();
  await server?.close();
  shop?.close();
});

const shopUrl = () => shop.url(42);

test('direct chat: a Taobao link is a live anchor and its preview becomes a card', async () => {
  await startDirect(alice.page, B);
  await send(alice.page, `看看这个 ${shopUrl()} 不错`);
  await openConv(bob.page, A);
  const anchor = bob.page.locator('#msg-list a.link.live').first();
  await anchor.waitFor();
  assert.equal(await anchor.getAttribute('rel'), 'noopener noreferrer nofollow');
  assert.equal(await anchor.getAttribute('target'), '_blank');
  assert.match(await anchor.getAttribute('href'), /^http:\/\/item\.taobao\.com:\d+\/item\.htm\?id=42/);
  assert.equal(await anchor.textContent(), shopUrl());
  const card = bob.page.locator('#msg-list .card').first();
  await card.waitFor({ timeout: 20000 });
  assert.equal(await card.locator('.card-title').textContent(), 'Celadon tea set');
  assert.match(await card.locator('.card-desc').textContent(), /hand-glazed/);
  assert.match(await card.locator('.card-price').textContent(), /128/);
  // The image came through the authenticated proxy as a blob: URL.
  await bob.page.waitForFunction(() => document.querySelector('#msg-list .card img')?.src.startsWith('blob:'), null, { timeout: 10000 });
  assert.ok(await card.locator('img').evaluate((img) => img.complete && img.naturalWidth === 8));
});

test('a send answered after its card came keeps the card', async () => {
  // The stream can bring the message and then its preview before the send's own answer
  // arrives (a busy machine, a slow proxy): that answer, made before the preview existed,
  // must not take the card away. The answer is held here until the card is shown.
  const page = alice.page;
  await openConv(page, B);
  let release;
  const released = new Promise((resolve) => (release = resolve));
  const hold = async (route) => {
    if (route.request().method() !== 'POST') return route.fallback();
    const response = await route.fetch();
    await released;
    return route.fulfill({ response });
  };
  await page.route(/\/conversations\/\d+\/messages$/, hold);
  try {
    await send(page, `card first ${shop.url(43)}`);
    const first = page.locator('#msg-list .msg', { hasText: 'card first' });
    await first.locator('.card').waitFor({ timeout: 20000 });
    release();
    // Sends go out one after another, each after the one before was answered and shown:
    // once the next is shown, the held answer has been handled.
    await send(page, 'next in line');
    await page.locator('#msg-list .msg', { hasText: 'next in line' }).waitFor();
    assert.equal(await first.locator('.card').count(), 1, 'the card stays');
    assert.equal(await first.locator('.card .card-title').textContent(), 'Celadon tea set');
  } finally {
    release();
    await page.unroute(/\/conversations\/\d+\/messages$/, hold);
  }
});

test('group chat: the same link is inert text with a note naming Taobao and the policy', async () => {
  await startGroup(alice.page, 'Shoppers', [B]);
  await send(alice.page, `团购 ${shopUrl()}`);
  await openConv(bob.page, 'Shoppers');
  const inert = bob.page.locator('#msg-list .link-text.inert').first();
  await inert.waitFor();
  assert.equal(await inert.textContent(), shopUrl());
  assert.equal(await bob.page.locator('#msg-list a').count(), 0, 'no anchor in the group');
  assert.equal(await bob.page.locator('#msg-list .card').count(), 0, 'no card in the group');
  const note = await bob.page.locator('#msg-list .inert-note').first().textContent();
  assert.match(note, /Taobao/);
  assert.match(note, /group/);
  assert.match(note, /policy: \S+/);
});

test('a blocklisted link is refused before sending, with its reason', async () => {
  await openConv(alice.page, B);
  const posts = [];
  const spy = (request) => {
    if (request.method() === 'POST' && /\/conversations\/\d+\/messages$/.test(request.url())) posts.push(request.url());
  };
  alice.page.on('request', spy);
  const text = `free prize http://${BLOCKED_HOST}/win`;
  await send(alice.page, text);
  const refusal = alice.page.locator('#refusal-area .refusal');
  await refusal.waitFor();
  const said = await refusal.textContent();
  assert.match(said, new RegExp(BLOCKED_HOST.replace(/\./g, '\\.')));
  assert.match(said, /policy: \S+/, 'names the deciding policy');
  assert.equal(await alice.page.inputValue('#composer-input'), text, 'the text stays in the composer');
  alice.page.off('request', spy);
  assert.deepEqual(posts, [], 'nothing was sent');
  assert.ok(!(await messageTexts(bob.page)).some((m) => m.includes(BLOCKED_HOST)));
  await alice.page.fill('#composer-input', '');
});

test('a blocked link the evaluate step missed is refused by the send (422) and shown the same way', async () => {
  // A fresh page, with the evaluate endpoint hidden from it: the send's own check must hold.
  const carol = await person(browser, server);
  try {
    await carol.page.route('**/api/v1/links/evaluate', (route) => route.fulfill({ status: 404, contentType: 'application/problem+json', body: '{"type":"not-found","title":"Not found","status":404,"detail":"no such endpoint"}' }));
    await signUp(carol.page, handle('carol'));
    await startDirect(carol.page, A);
    const text = `again http://${BLOCKED_HOST}/win`;
    await send(carol.page, text);
    const refusal = carol.page.locator('#refusal-area .refusal');
    await refusal.waitFor();
    assert.match(await refusal.textContent(), /policy: \S+/);
    assert.equal(await carol.page.inputValue('#composer-input'), text, 'the text is back in the composer');
    assert.equal(await carol.page.locator('#pending-list .msg').count(), 0);
    assert.deepEqual(await messageTexts(carol.page), []);
  } finally {
    await carol.context.close();
  }
});

// The admin scheduling the group opening is tested in admin.test.mjs.
