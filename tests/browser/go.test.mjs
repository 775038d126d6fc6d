// The /go warning page (issue 12) in a real browser: both languages, the
// full host with its registrable domain emphasised, "Go back" and "Continue"
// for a link that may be opened, "Copy link" for an inert one, and the 400
// page for something that is not an http(s) link. Continue never leaves the
// machine: the browser answers the shop's address itself.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, launchBrowser, person } from './lib.mjs';

const URL_ = 'https://item.taobao.com/item.htm?id=678';
let server;
let browser;

before(async () => {
  server = await Server.start();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

const go = (query) => `/go?url=${encodeURIComponent(URL_)}${query}`;

test('English: host with the domain emphasised, Go back returns, Continue opens the link', async () => {
  const { page } = await person(browser, server, { locale: 'en-GB' });
  await page.route('https://item.taobao.com/**', (r) => r.fulfill({ contentType: 'text/html', body: '<title>arrived</title>' }));
  await page.goto('/');
  const res = await page.goto(go(''));
  assert.equal(res.status(), 200);
  assert.equal(await page.locator('html').getAttribute('lang'), 'en');
  assert.equal(await page.locator('#go-host').textContent(), 'item.taobao.com');
  assert.equal(await page.locator('#go-host strong.domain').textContent(), 'taobao.com');
  assert.match(await page.locator('#go-platform').textContent(), /Taobao/);
  assert.equal(await page.locator('#go-continue').textContent(), 'Continue');
  assert.equal(await page.locator('#go-continue').getAttribute('href'), URL_);
  assert.equal(await page.locator('#go-copy').count(), 0);

  await page.locator('#go-back').click();
  await page.waitForURL(`${server.url}/`);

  await page.goto(go(''));
  await page.locator('#go-continue').click();
  await page.waitForURL(URL_);
  assert.equal(await page.title(), 'arrived');
  await page.context().close();
});

test('Chinese from Accept-Language: an inert link in a group offers Copy link, not Continue', async () => {
  const { page } = await person(browser, server, { locale: 'zh-CN' });
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
  await page.goto(go('&kind=group'));
  assert.equal(await page.locator('html').getAttribute('lang'), 'zh');
  assert.equal(await page.locator('#go-host strong.domain').textContent(), 'taobao.com');
  assert.equal(await page.locator('#go-continue').count(), 0);
  assert.equal(await page.locator('#go-back').textContent(), '返回');
  const copy = page.locator('#go-copy');
  assert.equal(await copy.textContent(), '复制链接');
  await copy.click();
  await page.waitForFunction(() => document.getElementById('go-copy').textContent === '已复制');
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), URL_);
  // The switch to English keeps the link and the conversation kind.
  await page.locator('#go-lang').click();
  await page.waitForFunction(() => document.documentElement.lang === 'en');
  assert.equal(await page.locator('#go-copy').textContent(), 'Copy link');
  await page.context().close();
});

test('not an http(s) link: a 400 page with only Go back', async () => {
  const { page } = await person(browser, server, { locale: 'en-US' });
  const res = await page.goto(`/go?url=${encodeURIComponent('javascript:alert(1)')}`);
  assert.equal(res.status(), 400);
  assert.equal(await page.locator('h1').textContent(), 'Not a valid link');
  assert.equal(await page.locator('#go-back').count(), 1);
  assert.equal(await page.locator('#go-continue').count(), 0);
  assert.equal(await page.locator('#go-copy').count(), 0);
  await page.context().close();
});
