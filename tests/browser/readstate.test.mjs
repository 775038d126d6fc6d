// Read state on the server, mentions and notifications: one user on two
// devices (two browser contexts) sees a conversation read on one become
// read on the other; a mention of them produces a Web Notification and a
// count in the tab title; a plain group message produces neither a
// notification nor anything for a muted conversation.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, launchBrowser, person, handle, signUp, signIn, startGroup, openConv, send, PASSWORD } from './lib.mjs';

let server;
let browser;
let alice;
let bobLaptop;
let bobPhone;
const A = handle('alice');
const B = handle('bob');

/** A context with notifications granted; every Notification built is recorded in `window.__notes`. */
async function deviceWithNotifications() {
  const context = await browser.newContext({ baseURL: server.url, locale: 'en-US', viewport: { width: 1100, height: 760 } });
  await context.grantPermissions(['notifications'], { origin: server.url });
  await context.addInitScript(() => {
    const Original = window.Notification;
    window.__notes = [];
    class Recorded extends Original {
      constructor(title, options) {
        window.__notes.push({ title, body: options?.body ?? '' });
        super(title, options);
      }
      static get permission() {
        return Original.permission;
      }
      static requestPermission(...args) {
        return Original.requestPermission(...args);
      }
    }
    window.Notification = Recorded;
  });
  context.setDefaultTimeout(10000);
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto('/');
  return { context, page, errors };
}

before(async () => {
  server = await Server.start();
  browser = await launchBrowser();
  alice = await person(browser, server);
  bobLaptop = await deviceWithNotifications();
  bobPhone = await deviceWithNotifications();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

const notes = (device) => device.page.evaluate(() => window.__notes);

test('a mention notifies and counts in the title; a plain group message does not notify', async () => {
  await signUp(alice.page, A);
  await signUp(bobLaptop.page, B);
  await signIn(bobPhone.page, B);
  await bobPhone.page.locator('#conn[data-state="online"]').waitFor({ state: 'attached' });
  await startGroup(alice.page, 'Plans', [B]);
  await send(alice.page, 'nothing for anyone in particular');
  await send(alice.page, `@${B} can you bring the tea?`);
  await alice.page.locator('#msg-list .msg', { hasText: 'bring the tea' }).waitFor();

  await bobLaptop.page.waitForFunction(() => window.__notes.length >= 1);
  const seen = await notes(bobLaptop);
  // The plain message came first: had it notified, it would be here too.
  assert.equal(seen.length, 1, JSON.stringify(seen));
  assert.match(seen[0].title, new RegExp(A));
  assert.match(seen[0].body, /bring the tea/);
  await bobLaptop.page.waitForFunction(() => document.title === '(2) Kaifang');
  const row = bobLaptop.page.locator('#conv-list .conv', { hasText: 'Plans' });
  await row.locator('.badge', { hasText: '2' }).waitFor();
  await bobPhone.page.locator('#conv-list .conv', { hasText: 'Plans' }).locator('.badge', { hasText: '2' }).waitFor();
  assert.deepEqual(bobLaptop.errors, []);
});

test('read on one device, read on the other', async () => {
  await bobLaptop.page.bringToFront();
  await openConv(bobLaptop.page, 'Plans');
  await bobLaptop.page.locator('#msg-list .msg', { hasText: 'bring the tea' }).waitFor();
  // The phone, never touched, loses its badge and its title count.
  const phoneRow = bobPhone.page.locator('#conv-list .conv', { hasText: 'Plans' });
  await phoneRow.locator('.badge').waitFor({ state: 'detached' });
  await bobPhone.page.waitForFunction(() => document.title === 'Kaifang');
  // And a fresh load of the phone agrees: the state is the server's.
  await bobPhone.page.reload();
  await bobPhone.page.locator('#conv-list .conv', { hasText: 'Plans' }).waitFor();
  assert.equal(await phoneRow.locator('.badge').count(), 0);
  assert.equal(await bobPhone.page.title(), 'Kaifang');
  assert.deepEqual(bobPhone.errors, []);
});

test('a muted conversation neither notifies nor counts in the title', async () => {
  // Plans is open on the laptop; muting it there reaches the phone.
  await bobLaptop.page.click('#mute-toggle');
  await bobLaptop.page.locator('#mute-toggle[aria-pressed="true"]').waitFor();
  await bobPhone.page.bringToFront();
  await openConv(bobPhone.page, 'Plans');
  await bobPhone.page.locator('#mute-toggle[aria-pressed="true"]').waitFor();
  const laptopBefore = (await notes(bobLaptop)).length;
  const phoneBefore = (await notes(bobPhone)).length;

  await send(alice.page, `@${B} a mention in a muted group`);
  // A direct message afterwards: when its notification is there, the
  // mention before it has been handled too.
  const aliceToken = await alice.page.evaluate(() => JSON.parse(localStorage.getItem('kaifang:session')).token);
  const direct = await server.api('POST', '/conversations', { kind: 'direct', with: B }, aliceToken);
  assert.ok([200, 201].includes(direct.status), JSON.stringify(direct));
  const sent = await server.api('POST', `/conversations/${direct.json.id}/messages`, { body: 'a direct message' }, aliceToken);
  assert.equal(sent.status, 201);
  for (const [device, before] of [[bobLaptop, laptopBefore], [bobPhone, phoneBefore]]) {
    await device.page.waitForFunction((n) => window.__notes.length > n, before);
    const fresh = (await notes(device)).slice(before);
    assert.deepEqual(fresh.map((n) => n.body), ['a direct message']);
  }
  // The direct message counts in the title; the muted group does not.
  await bobLaptop.page.waitForFunction(() => document.title === '(1) Kaifang');
  assert.deepEqual(bobLaptop.errors, []);
  assert.deepEqual(bobPhone.errors, []);
});

test('the other member of a direct chat sees "is typing"', async () => {
  await bobLaptop.page.bringToFront();
  await openConv(bobLaptop.page, A);
  await openConv(alice.page, B);
  await alice.page.fill('#composer-input', 'I am wri');
  await bobLaptop.page.locator('#chat-status', { hasText: `${A} is typing` }).waitFor();
  assert.deepEqual(bobLaptop.errors, []);
});

test('notification permission is asked once, on a gesture after sign-in, and remembered', async () => {
  const context = await browser.newContext({ baseURL: server.url, locale: 'en-US' });
  // The browser's prompt cannot be driven headless: count the requests instead.
  await context.addInitScript(() => {
    class Counted {
      static get permission() {
        return 'default';
      }
      static requestPermission() {
        sessionStorage.setItem('asks', String(Number(sessionStorage.getItem('asks') || 0) + 1));
        return Promise.resolve('default');
      }
    }
    window.Notification = Counted;
  });
  context.setDefaultTimeout(10000);
  const page = await context.newPage();
  const asks = () => page.evaluate(() => Number(sessionStorage.getItem('asks') || 0));
  await page.goto('/');
  const name = handle('carol');
  await server.api('POST', '/accounts', { handle: name, password: PASSWORD });
  await signIn(page, name);
  // The clicks and keys of signing in are before sign-in: nothing asked yet.
  assert.equal(await asks(), 0);
  await page.click('#conv-list');
  await page.waitForFunction(() => sessionStorage.getItem('asks') === '1');
  await page.click('#conv-list');
  await page.keyboard.press('Tab');
  await page.reload();
  await page.locator('#main').waitFor();
  await page.click('#conv-list');
  // A gesture after the reload went through the same handler: still one.
  await page.click('#new-chat');
  assert.equal(await asks(), 1);
  await context.close();
});
