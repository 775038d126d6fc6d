// Two people in two browser contexts: sign-up, direct and group chats in
// real time, members and roles, hostile message bodies, drafts, retries,
// an expired token, history paging and the language switch.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startTwo, closeAll, handle, signUp, signIn, startDirect, startGroup, openConv, send, token, messageTexts, PASSWORD,
} from './lib.mjs';

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

test('two people sign up in two browser contexts', async () => {
  await signUp(alice.page, A);
  await signUp(bob.page, B);
  assert.match(await alice.page.locator('#me').textContent(), new RegExp(A));
  assert.match(await bob.page.locator('#me').textContent(), new RegExp(B));
  const created = await server.api('POST', '/accounts', { handle: C, password: PASSWORD });
  assert.equal(created.status, 201);
});

test('a direct message appears in the other context in real time, with an unread count', async () => {
  await startDirect(alice.page, B);
  await send(alice.page, 'hello bob');
  await alice.page.locator('#msg-list .msg', { hasText: 'hello bob' }).waitFor();
  // Bob has not opened anything: the conversation arrives with one unread.
  const row = bob.page.locator('#conv-list .conv', { hasText: A });
  await row.locator('.badge', { hasText: '1' }).waitFor();
  assert.match(await row.locator('.conv-last').textContent(), /hello bob/);
  await row.click();
  await bob.page.locator('#msg-list .msg', { hasText: 'hello bob' }).waitFor();
  assert.equal(await row.locator('.badge').count(), 0);
  await send(bob.page, 'hi alice');
  await alice.page.locator('#msg-list .msg', { hasText: 'hi alice' }).waitFor();
  assert.deepEqual(await messageTexts(alice.page), ['hello bob', 'hi alice']);
  assert.deepEqual(alice.errors, []);
  assert.deepEqual(bob.errors, []);
});

test('a group: create, members and roles shown, add, remove, change role, leave', async () => {
  const title = 'Team 开放';
  await startGroup(alice.page, title, [B]);
  await alice.page.click('#members-toggle');
  const list = alice.page.locator('#member-list');
  await list.locator(`li[data-handle="${A}"][data-role="owner"]`).waitFor();
  await list.locator(`li[data-handle="${B}"][data-role="member"]`).waitFor();
  // Bob sees the new group without reloading.
  await openConv(bob.page, title);
  await bob.page.click('#members-toggle');
  await bob.page.locator(`#member-list li[data-handle="${A}"][data-role="owner"]`).waitFor();
  assert.ok(await bob.page.locator('#add-member-form').isHidden(), 'a plain member is not offered "add member"');
  // Add carol: both panels show her.
  await alice.page.fill('#add-member-handle', C);
  await alice.page.click('#add-member-form button[type="submit"]');
  await list.locator(`li[data-handle="${C}"]`).waitFor();
  await bob.page.locator(`#member-list li[data-handle="${C}"]`).waitFor();
  // Remove carol.
  await alice.page.click(`#member-list li[data-handle="${C}"] button.remove`);
  await list.locator(`li[data-handle="${C}"]`).waitFor({ state: 'detached' });
  await bob.page.locator(`#member-list li[data-handle="${C}"]`).waitFor({ state: 'detached' });
  // Make bob an admin: his panel says so.
  await alice.page.selectOption(`#member-list li[data-handle="${B}"] select`, 'admin');
  await bob.page.locator(`#member-list li[data-handle="${B}"][data-role="admin"]`).waitFor();
  // Bob leaves (confirming the dialog): the group leaves his list and alice's members.
  bob.page.removeAllListeners('dialog');
  bob.page.on('dialog', (d) => d.accept().catch(() => {}));
  await bob.page.click('#leave');
  await bob.page.locator('#conv-list .conv', { hasText: title }).waitFor({ state: 'detached' });
  await list.locator(`li[data-handle="${B}"]`).waitFor({ state: 'detached' });
  await alice.page.click('#members-close');
  assert.deepEqual(alice.errors, []);
  assert.deepEqual(bob.errors, []);
});

test('HTML, script and javascript: URLs render as text and no script runs', async () => {
  const payload = '<img src=x onerror=alert(1)><script>window.__pwned=1</script> javascript:alert(1)';
  await openConv(alice.page, B);
  await openConv(bob.page, A);
  const dialogsBefore = bob.dialogs.length + alice.dialogs.length;
  await send(alice.page, payload);
  const mine = alice.page.locator('#msg-list .msg .msg-text', { hasText: 'javascript:alert(1)' });
  const theirs = bob.page.locator('#msg-list .msg .msg-text', { hasText: 'javascript:alert(1)' });
  await mine.waitFor();
  await theirs.waitFor();
  assert.equal(await theirs.textContent(), payload);
  assert.equal(await mine.textContent(), payload);
  for (const { page } of [alice, bob]) {
    assert.equal(await page.locator('#msg-list img, #msg-list script').count(), 0);
    assert.equal(await page.locator('a[href^="javascript:" i]').count(), 0);
    assert.equal(await page.evaluate(() => window.__pwned), undefined);
  }
  // The conversation list preview is text too.
  assert.match(await bob.page.locator('#conv-list .conv', { hasText: A }).textContent(), /<img src=x/);
  // A later message rendered on both sides shows that both pages got past
  // the payload; only then does "no alert() ran" mean something.
  await send(alice.page, 'after the payload');
  for (const { page } of [alice, bob]) {
    await page.locator('#msg-list .msg .msg-text', { hasText: 'after the payload' }).waitFor();
  }
  assert.equal(bob.dialogs.length + alice.dialogs.length, dialogsBefore, 'no alert() ran');
});

test('bidi controls are shown as visible marks, not applied', async () => {
  await send(alice.page, 'price \u202E5$\u202C and \u2067x\u2069');
  const msg = bob.page.locator('#msg-list .msg .msg-text', { hasText: 'price' });
  await msg.waitFor();
  const text = await msg.textContent();
  assert.equal(text, 'price ⟨U+202E⟩5$⟨U+202C⟩ and ⟨U+2067⟩x⟨U+2069⟩');
  assert.ok(!/[\u202A-\u202E\u2066-\u2069]/.test(text));
  assert.equal(await msg.locator('.bidi').count(), 4);
});

test('a very long word wraps inside the message area', async () => {
  await send(alice.page, `start ${'W'.repeat(4000)} end`);
  const msg = bob.page.locator('#msg-list .msg', { hasText: 'start WWW' });
  await msg.waitFor();
  const fits = await bob.page.evaluate(() => {
    const area = document.querySelector('#messages');
    const box = [...document.querySelectorAll('#msg-list .msg')].at(-1).getBoundingClientRect();
    const a = area.getBoundingClientRect();
    return { right: box.right <= a.right + 1, scroll: area.scrollWidth <= area.clientWidth + 1 };
  });
  assert.deepEqual(fits, { right: true, scroll: true });
});

test('drafts are kept per conversation, across switching and reloading', async () => {
  const groupTitle = 'Drafts group';
  await startGroup(alice.page, groupTitle, [C]);
  await openConv(alice.page, B);
  await alice.page.fill('#composer-input', 'draft for bob');
  await openConv(alice.page, groupTitle);
  assert.equal(await alice.page.inputValue('#composer-input'), '');
  await alice.page.fill('#composer-input', 'draft for the group');
  await openConv(alice.page, B);
  assert.equal(await alice.page.inputValue('#composer-input'), 'draft for bob');
  await alice.page.reload();
  await alice.page.locator('#conn[data-state="online"]').waitFor({ state: 'attached' });
  await openConv(alice.page, groupTitle);
  assert.equal(await alice.page.inputValue('#composer-input'), 'draft for the group');
  await openConv(alice.page, B);
  assert.equal(await alice.page.inputValue('#composer-input'), 'draft for bob');
  // Shift+Enter adds a line instead of sending.
  await alice.page.press('#composer-input', 'Shift+Enter');
  await alice.page.type('#composer-input', 'second line');
  assert.equal(await alice.page.inputValue('#composer-input'), 'draft for bob\nsecond line');
  await alice.page.fill('#composer-input', '');
});

test('a failed send shows Retry, and Retry reuses the same client_txn_id', async () => {
  const ids = [];
  let first = true;
  await alice.page.route('**/api/v1/conversations/*/messages', async (route) => {
    const request = route.request();
    if (request.method() !== 'POST') return route.continue();
    ids.push(JSON.parse(request.postData()).client_txn_id);
    if (first) {
      first = false;
      return route.abort('connectionreset');
    }
    return route.continue();
  });
  await send(alice.page, 'retry me');
  const failed = alice.page.locator('#pending-list .msg.failed', { hasText: 'retry me' });
  await failed.waitFor();
  await failed.locator('button.retry').click();
  await failed.waitFor({ state: 'detached' });
  await alice.page.unroute('**/api/v1/conversations/*/messages');
  assert.equal(ids.length, 2);
  assert.equal(ids[0], ids[1]);
  assert.match(ids[0], /^[0-9a-f-]{36}$/);
  await bob.page.locator('#msg-list .msg', { hasText: 'retry me' }).waitFor();
  for (const { page } of [alice, bob]) {
    const texts = await messageTexts(page);
    assert.equal(texts.filter((t) => t === 'retry me').length, 1, 'shown once');
  }
});

test('a send whose answer is lost is confirmed by the stream and shown once', async () => {
  let first = true;
  // The request reaches the server (which stores it) but the answer is lost.
  await alice.page.route('**/api/v1/conversations/*/messages', async (route) => {
    if (route.request().method() !== 'POST' || !first) return route.continue();
    first = false;
    await route.fetch();
    return route.abort('connectionreset');
  });
  await send(alice.page, 'answer lost');
  await alice.page.locator('#msg-list .msg', { hasText: 'answer lost' }).waitFor();
  await alice.page.locator('#pending-list .msg').first().waitFor({ state: 'detached' });
  await alice.page.unroute('**/api/v1/conversations/*/messages');
  await bob.page.locator('#msg-list .msg', { hasText: 'answer lost' }).waitFor();
  for (const { page } of [alice, bob]) {
    const texts = await messageTexts(page);
    assert.equal(texts.filter((t) => t === 'answer lost').length, 1, 'shown once');
  }
});

test('messages typed in quick succession while the link check is slow are all sent, in order', async () => {
  // The pre-send check answers slowly: typing goes on meanwhile and must not be wiped.
  await alice.page.route('**/api/v1/links/evaluate', async (route) => {
    await new Promise((r) => setTimeout(r, 300));
    await route.fulfill({ status: 200, contentType: 'application/json', body: '{"links":[]}' });
  });
  try {
    const burst = ['quick 1', 'quick 2', 'quick 3'];
    for (const text of burst) await send(alice.page, text);
    assert.equal(await alice.page.locator('#pending-list .msg').count() + (await messageTexts(alice.page)).filter((t) => t.startsWith('quick')).length, 3);
    await bob.page.locator('#msg-list .msg', { hasText: 'quick 3' }).waitFor();
    for (const { page } of [alice, bob]) {
      await page.locator('#msg-list .msg', { hasText: 'quick 3' }).waitFor();
      assert.deepEqual((await messageTexts(page)).filter((t) => t.startsWith('quick')), burst);
    }
    assert.equal(await alice.page.inputValue('#composer-input'), '');
  } finally {
    await alice.page.unroute('**/api/v1/links/evaluate');
  }
});

test('a session ended elsewhere returns to sign-in at once and keeps the draft', async () => {
  await openConv(bob.page, A);
  await bob.page.fill('#composer-input', 'written while signed out');
  // Signing the token out closes its stream (close code 4001): the page
  // returns to sign-in by itself, without waiting for its next request.
  const t = await token(bob.page);
  assert.equal((await server.api('DELETE', '/sessions/current', undefined, t)).status, 204);
  await bob.page.locator('#auth-form').waitFor();
  assert.ok(await bob.page.locator('#auth-notice').isVisible());
  assert.equal(await bob.page.inputValue('#auth-handle'), B);
  await signIn(bob.page, B);
  await openConv(bob.page, A);
  assert.equal(await bob.page.inputValue('#composer-input'), 'written while signed out');
  await bob.page.fill('#composer-input', '');
});

test('history scrolls back page by page', async () => {
  const dave = handle('dave');
  await server.api('POST', '/accounts', { handle: dave, password: PASSWORD });
  const s = await server.api('POST', '/sessions', { handle: dave, password: PASSWORD });
  const conv = await server.api('POST', '/conversations', { kind: 'direct', with: A }, s.json.token);
  const total = 120;
  for (let i = 1; i <= total; i++) {
    const r = await server.api('POST', `/conversations/${conv.json.id}/messages`, { body: `old ${i}` }, s.json.token);
    assert.equal(r.status, 201);
  }
  // Reload so that the history comes from paging, not from the live stream.
  await alice.page.reload();
  await alice.page.locator('#conn[data-state="online"]').waitFor({ state: 'attached' });
  await openConv(alice.page, dave);
  await alice.page.locator('#msg-list .msg', { hasText: `old ${total}` }).waitFor();
  assert.equal(await alice.page.locator('#msg-list .msg').count(), 50);
  for (let page = 0; page < 5 && (await alice.page.locator('#history-start').isHidden()); page++) {
    const before = await alice.page.locator('#msg-list .msg').count();
    await alice.page.locator('#load-earlier').click();
    await alice.page.waitForFunction((n) => document.querySelectorAll('#msg-list .msg').length > n, before);
  }
  await alice.page.locator('#history-start').waitFor();
  const texts = await messageTexts(alice.page);
  assert.deepEqual(texts, Array.from({ length: total }, (_, i) => `old ${i + 1}`));
});

test('the language switches between English and Chinese', async () => {
  await alice.page.selectOption('#lang-main', 'zh-CN');
  assert.equal(await alice.page.locator('#sign-out').textContent(), '退出登录');
  assert.equal(await alice.page.getAttribute('html', 'lang'), 'zh-CN');
  assert.equal(await alice.page.getAttribute('#composer-input', 'aria-label'), '消息');
  await alice.page.selectOption('#lang-main', 'en');
  assert.equal(await alice.page.locator('#sign-out').textContent(), 'Sign out');
});

test('every control has an accessible name, and the chat is usable by keyboard', async () => {
  await openConv(alice.page, B);
  await alice.page.click('#members-toggle');
  const unnamed = await alice.page.evaluate(() => {
    const name = (el) =>
      (el.getAttribute('aria-label') || (el.labels && el.labels[0]?.textContent) || el.textContent || el.title || '').trim();
    return [...document.querySelectorAll('button, input, select, textarea, a[href]')]
      .filter((el) => el.offsetParent !== null && !name(el))
      .map((el) => el.outerHTML.slice(0, 80));
  });
  assert.deepEqual(unnamed, []);
  // Escape closes the members panel; the composer takes focus and Enter sends.
  await alice.page.keyboard.press('Escape');
  assert.ok(await alice.page.locator('#members-panel').isHidden());
  await alice.page.focus('#composer-input');
  await alice.page.keyboard.type('typed with the keyboard');
  await alice.page.keyboard.press('Enter');
  await bob.page.locator('#msg-list .msg', { hasText: 'typed with the keyboard' }).waitFor();
  // A conversation in the list opens from the keyboard.
  await alice.page.focus('#conv-list .conv >> nth=1');
  const title = await alice.page.locator('#conv-list .conv >> nth=1').locator('.conv-title').textContent();
  await alice.page.keyboard.press('Enter');
  await alice.page.locator('#chat-title', { hasText: title.split(' · ')[0] }).waitFor();
});

test('readable on a 375-px-wide phone: one pane at a time, no sideways scrolling', async () => {
  const { page } = bob;
  await page.setViewportSize({ width: 375, height: 740 });
  try {
    await page.click('#back');
    assert.ok(await page.locator('#sidebar').isVisible());
    assert.ok(await page.locator('#chat').isHidden());
    await openConv(page, A);
    assert.ok(await page.locator('#sidebar').isHidden());
    assert.ok(await page.locator('#composer-input').isVisible());
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `page scrolls sideways by ${overflow}px`);
    const msgRight = await page.evaluate(() => Math.max(...[...document.querySelectorAll('#msg-list .msg')].map((m) => m.getBoundingClientRect().right)));
    assert.ok(msgRight <= 375, `a message reaches ${msgRight}px`);
    await page.click('#back');
    assert.ok(await page.locator('#sidebar').isVisible());
  } finally {
    await page.setViewportSize({ width: 1100, height: 760 });
  }
});

test('sign out returns to the sign-in screen', async () => {
  await alice.page.click('#sign-out');
  await alice.page.locator('#auth-form').waitFor();
  assert.equal(await alice.page.evaluate(() => localStorage.getItem('kaifang:session')), null);
  assert.deepEqual(alice.errors, []);
  assert.deepEqual(bob.errors, []);
});
