// Attachments in two browser contexts: alice attaches an image and a file
// with the composer's button; bob sees the image's thumbnail (loaded, with
// its pixels), opens nothing he may not, and downloads the file's bytes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { startTwo, closeAll, handle, signUpAndTalk, openConv } from './lib.mjs';

let server;
let browser;
let alice;
let bob;
const A = handle('alice');
const B = handle('bob');

// A 40×30 red PNG.
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAACgAAAAeCAYAAABe3VzdAAAAPUlEQVR4nO3OIQEAIBAAMZJ8/yi0ggjIQ0zMb+2Z87NVBwQF64CgYB0QFKwDgoJ1QFCwDggK1gFBwTrwcgEPrW6YoAWtTAAAAABJRU5ErkJggg==',
  'base64',
);
const REPORT = Buffer.from('quarterly numbers, 开放\n'.repeat(40));

before(async () => {
  ({ server, browser, alice, bob } = await startTwo());
});

after(() => closeAll({ server, browser }));

test('an image shows as its thumbnail and a file downloads, in the other context', async () => {
  await signUpAndTalk(alice, bob, A, B);
  await alice.page.setInputFiles('#attach-input', [
    { name: 'red.png', mimeType: 'image/png', buffer: PNG },
    { name: 'report.txt', mimeType: 'text/plain', buffer: REPORT },
  ]);
  await alice.page.locator('#msg-list .att-file', { hasText: 'report.txt' }).waitFor();

  await openConv(bob.page, A);
  const thumb = bob.page.locator('#msg-list .att-image img');
  await thumb.waitFor();
  // Loaded from the server with bob's token, and really an image.
  await bob.page.waitForFunction(() => {
    const img = document.querySelector('#msg-list .att-image img');
    return img && img.complete && img.naturalWidth === 40 && img.naturalHeight === 30;
  });
  const file = bob.page.locator('#msg-list .att-file', { hasText: 'report.txt' });
  assert.match(await file.locator('.att-size').textContent(), /KiB|B/);
  const [download] = await Promise.all([
    bob.page.waitForEvent('download'),
    file.locator('.att-download').click(),
  ]);
  assert.equal(download.suggestedFilename(), 'report.txt');
  assert.deepEqual(await readFile(await download.path()), REPORT);

  // Clicking the thumbnail opens the full image in a new tab.
  const [popup] = await Promise.all([bob.context.waitForEvent('page'), bob.page.locator('#msg-list .att-image').click()]);
  await popup.waitForLoadState();
  assert.match(popup.url(), /^blob:/);
  await popup.close();
  assert.deepEqual(alice.errors, []);
  assert.deepEqual(bob.errors, []);
});
