// People in the web client: a display name is shown for a message's sender,
// the direct chat's title and the members panel, with the handle on hover;
// typing part of a handle in the new-chat box suggests the person, and
// picking the suggestion opens the chat.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, launchBrowser, person, handle, signUp, signIn, send, PASSWORD } from './lib.mjs';

const NAME = 'Alice Wonder 爱丽丝';

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
});

after(async () => {
  await browser?.close();
  await server?.close();
});

test('a prefix suggests the person, and names show with the handle on hover', async () => {
  const made = await server.api('POST', '/accounts', { handle: A, password: PASSWORD, display_name: NAME });
  assert.equal(made.status, 201);
  await signIn(alice.page, A);
  await signUp(bob.page, B);

  // Bob types only the start of alice's handle.
  await bob.page.click('#new-chat');
  await bob.page.fill('#new-chat-handle', A.slice(0, 6));
  const suggestion = bob.page.locator(`#new-chat-suggestions .suggestion[data-handle="${A}"]`);
  await suggestion.waitFor();
  assert.match(await suggestion.textContent(), new RegExp(NAME));
  await suggestion.click();
  await bob.page.locator('#chat-view').waitFor();
  await bob.page.locator('#chat-title', { hasText: NAME }).waitFor();

  // The list shows the name, the handle on hover.
  const item = bob.page.locator('#conv-list button.conv', { hasText: NAME });
  assert.equal(await item.getAttribute('title'), `@${A}`);

  // Alice answers; bob sees her name on the message, her handle on hover.
  await alice.page.locator('#conv-list button.conv').first().click();
  await send(alice.page, 'hello bob');
  const msg = bob.page.locator('#msg-list .msg', { hasText: 'hello bob' });
  await msg.waitFor();
  const sender = msg.locator('.sender');
  assert.equal(await sender.textContent(), NAME);
  assert.equal(await sender.getAttribute('title'), `@${A}`);

  // The members panel too.
  await bob.page.click('#members-toggle');
  const member = bob.page.locator('#member-list .member-handle', { hasText: NAME });
  await member.waitFor();
  assert.equal(await member.getAttribute('title'), `@${A}`);

  assert.deepEqual(alice.errors, []);
  assert.deepEqual(bob.errors, []);
});
