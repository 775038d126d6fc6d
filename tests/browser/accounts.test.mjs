// The operator's account pages in the real page (issue 15, item 6): the
// administrator removes a message (the other person's chat shows the
// placeholder at once), suspends an account (that person is signed out at
// once) and restores it, makes a password-reset code, and makes and revokes
// an invite code; each answer is shown in the page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, launchBrowser, person, handle, signUp, startDirect, send, token } from './lib.mjs';

let server;
let browser;
let admin;
let member;
const A = handle('ops');
const B = handle('bea');

before(async () => {
  server = await Server.start();
  browser = await launchBrowser();
  admin = await person(browser, server);
  member = await person(browser, server);
  await signUp(admin.page, A); // the first account: the administrator in the tests
  await signUp(member.page, B);
});

after(async () => {
  await browser?.close();
  await server?.close();
});

const row = (h) => admin.page.locator(`#accounts-table tr[data-handle="${h}"]`);

test('a removed message becomes a placeholder in the other chat at once', async () => {
  await startDirect(member.page, A);
  await send(member.page, 'words to take down');
  const delivered = member.page.locator('#msg-list .msg .msg-text', { hasText: 'words to take down' });
  await delivered.waitFor();
  const t = await token(admin.page);
  const convs = await server.api('GET', '/conversations', undefined, t);
  const conversation = convs.json.conversations[0].id;
  const history = await server.api('GET', `/conversations/${conversation}/messages`, undefined, t);
  const id = history.json.messages[0].id;

  await admin.page.click('#admin-open');
  await admin.page.locator('#remove-form').waitFor();
  await admin.page.fill('#remove-id', String(id));
  await admin.page.click('#remove-form button[type="submit"]');
  await admin.page.locator('#accounts-status', { hasText: `Message ${id} removed.` }).waitFor();
  await member.page.locator('#msg-list .msg .msg-text.removed', { hasText: 'Message removed by an administrator' }).waitFor();
  assert.equal(await delivered.count(), 0, 'the text is gone');
});

test('suspending signs the person out at once; restoring lets them in again', async () => {
  await row(B).getByRole('button', { name: 'Suspend' }).click();
  await admin.page.locator('#accounts-status', { hasText: `${B} is suspended` }).waitFor();
  await row(B).locator('.account-state', { hasText: 'suspended' }).waitFor();
  await member.page.locator('#auth-form').waitFor();
  await row(B).getByRole('button', { name: 'Restore' }).click();
  await row(B).locator('.account-state', { hasText: 'active' }).waitFor();
  assert.equal(await row(A).getByRole('button', { name: 'Suspend' }).count(), 0, 'administrators cannot be suspended');
});

test('a password-reset code and an invite code are shown once; the invite is revoked', async () => {
  await row(B).getByRole('button', { name: 'Password reset code' }).click();
  const reset = admin.page.locator('#reset-code');
  await reset.waitFor();
  assert.match(await reset.textContent(), /^kfr_/);

  await admin.page.fill('#invite-uses', '2');
  await admin.page.fill('#invite-days', '3');
  await admin.page.click('#invite-form button[type="submit"]');
  const code = admin.page.locator('#invite-code');
  await code.waitFor();
  assert.match(await code.textContent(), /^kfi_/);
  const item = admin.page.locator('#invite-list li', { hasText: '0 of 2 used' });
  await item.waitFor();
  assert.ok(!(await admin.page.locator('#invite-list').textContent()).includes(await code.textContent()), 'the list holds no code');
  await item.getByRole('button', { name: 'Revoke' }).click();
  await admin.page.locator('#invite-list li', { hasText: 'revoked' }).waitFor();
  assert.deepEqual(admin.errors, []);
});
