// Everyday chat in two browser contexts: a reply with its quote, an edit
// (Up in an empty composer, Esc to cancel), reactions with counts and who
// reacted, and a recall, each seen live by the other person.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, launchBrowser, person, handle, signUp, startDirect, openConv, send } from './lib.mjs';

let server;
let browser;
let alice;
let bob;
const A = handle('alice');
const B = handle('bob');

const msg = (page, seq) => page.locator(`#msg-list .msg[data-seq="${seq}"]`);

before(async () => {
  server = await Server.start();
  browser = await launchBrowser();
  alice = await person(browser, server);
  bob = await person(browser, server);
  await signUp(alice.page, A);
  await signUp(bob.page, B);
  await startDirect(alice.page, B);
  await send(alice.page, 'first line\nsecond line');
  await msg(alice.page, 1).waitFor();
  await bob.page.locator('#conv-list .conv', { hasText: A }).first().waitFor();
  await openConv(bob.page, A);
  await msg(bob.page, 1).waitFor();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

test('a reply quotes the sender and first line of the original', async () => {
  await msg(bob.page, 1).hover();
  await msg(bob.page, 1).locator('.act-reply').click();
  await bob.page.locator('#composer-mode', { hasText: A }).waitFor();
  await send(bob.page, 'a reply');
  const quote = msg(alice.page, 2).locator('.reply-quote');
  await quote.waitFor();
  assert.equal(await quote.locator('.quote-sender').textContent(), A);
  assert.equal(await quote.locator('.quote-text').textContent(), 'first line');
  assert.equal(await msg(alice.page, 2).locator('.msg-text').textContent(), 'a reply');
  assert.equal(await bob.page.locator('#composer-mode').isHidden(), true);
});

test('Up in an empty composer edits the last own message; Esc cancels', async () => {
  await alice.page.click('#composer-input');
  await alice.page.press('#composer-input', 'ArrowUp');
  assert.equal(await alice.page.inputValue('#composer-input'), 'first line\nsecond line');
  await alice.page.locator('#composer-mode:not([hidden])').waitFor();
  await alice.page.press('#composer-input', 'Escape');
  assert.equal(await alice.page.inputValue('#composer-input'), '');
  assert.equal(await alice.page.locator('#composer-mode').isHidden(), true);

  await alice.page.press('#composer-input', 'ArrowUp');
  await alice.page.fill('#composer-input', 'edited line\nsecond line');
  await alice.page.press('#composer-input', 'Enter');
  // Bob sees the new text, the "edited" mark, and the quote follows.
  await msg(bob.page, 1).locator('.msg-text', { hasText: 'edited line' }).waitFor();
  await msg(bob.page, 1).locator('.edited').waitFor();
  await msg(bob.page, 2).locator('.quote-text', { hasText: 'edited line' }).waitFor();
  await msg(alice.page, 1).locator('.edited').waitFor();
  assert.equal(await alice.page.inputValue('#composer-input'), '');
});

test('reactions show counts, and who reacted on hover, on both sides', async () => {
  await msg(bob.page, 1).hover();
  await msg(bob.page, 1).locator('.act-react').click();
  await msg(bob.page, 1).locator('.pick[data-emoji="👍"]').click();
  const chip = msg(alice.page, 1).locator('.reaction[data-emoji="👍"]');
  await chip.waitFor();
  assert.equal(await chip.textContent(), '👍 1');
  assert.equal(await chip.getAttribute('title'), B);
  await chip.click();
  const bobChip = msg(bob.page, 1).locator('.reaction[data-emoji="👍"]', { hasText: '👍 2' });
  await bobChip.waitFor();
  assert.equal(await bobChip.getAttribute('title'), `${B}, ${A}`);
  // Clicking one's own chip takes the reaction back.
  await msg(bob.page, 1).locator('.reaction[data-emoji="👍"]').click();
  await msg(alice.page, 1).locator('.reaction[data-emoji="👍"]', { hasText: '👍 1' }).waitFor();
  assert.equal(await msg(alice.page, 1).locator('.reaction[data-emoji="👍"]').getAttribute('title'), A);
});

test('a recall leaves a placeholder for both, and the quote says recalled', async () => {
  await msg(alice.page, 1).hover();
  await msg(alice.page, 1).locator('.act-recall').click();
  await msg(bob.page, 1).locator('.msg-recalled', { hasText: `${A} recalled a message` }).waitFor();
  await msg(alice.page, 1).locator('.msg-recalled', { hasText: 'You recalled a message' }).waitFor();
  assert.equal(await msg(bob.page, 1).locator('.msg-text').count(), 0);
  assert.equal(await msg(bob.page, 1).locator('.reaction').count(), 0);
  await msg(bob.page, 2).locator('.quote-text', { hasText: 'Recalled message' }).waitFor();
  // Only a message's sender gets Edit and Recall in a direct chat.
  assert.equal(await msg(bob.page, 2).locator('.act-edit').count(), 1);
  assert.equal(await msg(alice.page, 2).locator('.act-edit').count(), 0);
  assert.equal(await msg(alice.page, 2).locator('.act-recall').count(), 0);
  // After a reload, history shows the same.
  await bob.page.reload();
  await openConv(bob.page, A);
  await msg(bob.page, 1).locator('.msg-recalled').waitFor();
  await msg(bob.page, 2).locator('.quote-text', { hasText: 'Recalled message' }).waitFor();
  // A recalled newest message reads as recalled in the conversation list.
  await send(alice.page, 'oops, wrong chat');
  await msg(alice.page, 3).waitFor();
  await msg(alice.page, 3).hover();
  await msg(alice.page, 3).locator('.act-recall').click();
  await bob.page.locator('#conv-list .conv .conv-last', { hasText: `${A} recalled a message` }).waitFor();
  assert.deepEqual(alice.errors, []);
  assert.deepEqual(bob.errors, []);
});
