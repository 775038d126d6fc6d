// Issue 14 item 8, the web client as people use it: server error titles in
// Chinese in the zh interface, platform names in Chinese, the keyboard
// (composer focus, Ctrl-K switcher, Esc), drafts and cursors gone from
// storage at sign-out, landmarks and the skip link, and the Copy button of
// an inert link. Only inert links are sent, so no preview is ever fetched.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, launchBrowser, person, handle, signUp, signIn, startDirect, startGroup, openConv, send } from './lib.mjs';

let server;
let browser;
let alice; // English
let bob; // Chinese (from the browser's language)
const A = handle('alice');
const B = handle('bob');
const GROUP = `tea ${handle('g')}`;
const TAOBAO = 'https://item.taobao.com/item.htm?id=678';

before(async () => {
  server = await Server.start();
  browser = await launchBrowser();
  alice = await person(browser, server);
  bob = await person(browser, server, { locale: 'zh-CN' });
  await bob.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
  await signUp(alice.page, A);
});

after(async () => {
  await browser?.close();
  await server?.close();
});

const focused = (page) => page.evaluate(() => document.activeElement?.id || document.activeElement?.tagName);

test('zh interface: a refused sign-in and a missing person show the server’s Chinese titles', async () => {
  const page = bob.page;
  await page.locator('#auth-form').waitFor();
  assert.equal(await page.getAttribute('html', 'lang'), 'zh-CN');
  if (await page.locator('#display-row').isVisible()) await page.click('#auth-toggle');
  await page.fill('#auth-handle', A);
  await page.fill('#auth-password', 'not the password');
  await page.click('#auth-submit');
  // 401: title and the fixed detail, both from the server, in Chinese.
  await page.locator('#auth-error', { hasText: '需要登录' }).waitFor();
  assert.match(await page.locator('#auth-error').textContent(), /用户名或密码错误/);
  await signUp(page, B);
  // 404 from the main screen: a chat with nobody.
  await page.click('#new-chat');
  await page.fill('#new-chat-handle', 'nobody_here_at_all');
  await page.click('#new-chat-form button[type="submit"]');
  const toast = page.locator('#toasts .toast', { hasText: '未找到' });
  await toast.waitFor();
  assert.doesNotMatch(await toast.textContent(), /Not found/);
  await page.keyboard.press('Escape');
  await page.locator('#new-chat-form').waitFor({ state: 'hidden' });
});

test('one <main> landmark, a banner and navigation; the skip link goes to the composer', async () => {
  const page = alice.page;
  await startDirect(page, B);
  assert.equal(await page.getByRole('main').count(), 1);
  assert.equal(await page.getByRole('banner').count(), 1);
  assert.equal(await page.getByRole('navigation').count(), 1);
  // The messages and the composer live inside <main>.
  assert.equal(await page.locator('main #messages').count(), 1);
  assert.equal(await page.locator('main #composer-input').count(), 1);
  // The skip link is the first thing Tab reaches, and Enter on it lands in the composer.
  const firstTabbable = await page.evaluate(() => {
    const all = document.querySelectorAll('a[href], button, input, select, textarea, [tabindex]');
    const visible = [...all].filter((el) => el.tabIndex >= 0 && !el.disabled && el.getClientRects().length > 0);
    return visible[0]?.id;
  });
  assert.equal(firstTabbable, 'skip-link');
  await page.focus('#skip-link');
  // Shown when focused (it sits off-screen otherwise).
  assert.ok((await page.locator('#skip-link').boundingBox()).y >= 0);
  assert.equal(await page.locator('#skip-link').textContent(), 'Skip to messages');
  await page.keyboard.press('Enter');
  assert.equal(await focused(page), 'composer-input');
});

test('opening a conversation puts the focus in the composer', async () => {
  await startGroup(alice.page, GROUP, [B]);
  await openConv(alice.page, B);
  assert.equal(await focused(alice.page), 'composer-input');
  await openConv(alice.page, GROUP);
  assert.equal(await focused(alice.page), 'composer-input');
});

test('Ctrl-K: type to filter, Enter opens; Esc closes the switcher and the members panel', async () => {
  const page = alice.page;
  await openConv(page, GROUP);
  await page.keyboard.press('Control+k');
  await page.locator('#switcher').waitFor();
  assert.equal(await focused(page), 'switcher-input');
  assert.equal(await page.locator('#switcher-list [role="option"]').count(), 2);
  await page.keyboard.type(B.slice(0, 5));
  assert.deepEqual(await page.locator('#switcher-list [role="option"]').allTextContents(), [B]);
  await page.keyboard.press('Enter');
  await page.locator('#chat-title', { hasText: B }).waitFor();
  assert.equal(await page.locator('#switcher').isHidden(), true);
  assert.equal(await focused(page), 'composer-input');

  await page.keyboard.press('Control+k');
  await page.locator('#switcher').waitFor();
  await page.keyboard.press('Escape');
  await page.locator('#switcher').waitFor({ state: 'hidden' });
  await page.locator('#chat-title', { hasText: B }).waitFor();

  await page.click('#members-toggle');
  await page.locator('#members-panel').waitFor();
  await page.keyboard.press('Escape');
  await page.locator('#members-panel').waitFor({ state: 'hidden' });
});

test('an inert link says why it is text, offers Copy, and names the platform in Chinese for zh', async () => {
  await openConv(alice.page, GROUP);
  await send(alice.page, `看看 ${TAOBAO} 好吗`);
  const enNote = alice.page.locator('#msg-list .inert-note').first();
  await enNote.waitFor();
  assert.match(await enNote.textContent(), /Links to Taobao are not opened in group chats/);
  assert.match(await enNote.textContent(), /plain text/);
  assert.match(await enNote.locator('small.policy-id').textContent(), /policy: \S+/);
  assert.equal(await enNote.locator('button.copy-link').textContent(), 'Copy link');

  await openConv(bob.page, GROUP);
  const zhNote = bob.page.locator('#msg-list .inert-note').first();
  await zhNote.waitFor();
  const text = await zhNote.textContent();
  assert.match(text, /淘宝/);
  assert.doesNotMatch(text, /Taobao/);
  assert.match(text, /纯文本/);
  assert.equal(await bob.page.locator('#msg-list .link-text.inert').first().textContent(), TAOBAO);
  assert.equal(await bob.page.locator('#msg-list a').count(), 0);
  const copy = zhNote.locator('button.copy-link');
  assert.equal(await copy.textContent(), '复制链接');
  await copy.click();
  await bob.page.locator('#msg-list .inert-note button.copy-link', { hasText: '已复制' }).waitFor();
  assert.equal(await bob.page.evaluate(() => navigator.clipboard.readText()), TAOBAO);
});

test('sign-out clears that account’s drafts and cursor; the next account on the browser reads none', async () => {
  const page = alice.page;
  const own = () => page.evaluate((h) => Object.keys(localStorage).filter((k) => k.includes(`u:${h}:`)), A);
  await openConv(page, B);
  await page.fill('#composer-input', 'a private draft');
  await openConv(page, GROUP);
  assert.ok((await own()).some((k) => k.includes('draft:')), 'the draft was saved while signed in');
  assert.ok((await own()).some((k) => k.endsWith(':cursor')), 'the cursor was saved while signed in');
  await page.click('#sign-out');
  await page.locator('#auth-form').waitFor();
  assert.deepEqual(await own(), []);
  const everything = await page.evaluate(() => Object.values(localStorage).join('\n'));
  assert.doesNotMatch(everything, /a private draft/);
  // The next person on this browser, then alice again: no draft comes back.
  await signUp(page, handle('carol'));
  assert.doesNotMatch(await page.evaluate(() => Object.values(localStorage).join('\n')), /a private draft/);
  await page.click('#sign-out');
  await signIn(page, A);
  await openConv(page, B);
  assert.equal(await page.inputValue('#composer-input'), '');
  assert.deepEqual(alice.errors, []);
  assert.deepEqual(bob.errors, []);
});
