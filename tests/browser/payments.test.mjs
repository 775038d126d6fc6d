// Buying from a product card (issue 10, item 7), the whole path in Chromium:
// a Taobao-style page on loopback priced 199.00 CNY by its JSON-LD, both
// wallet simulators run by the `kaifang-paysim` binary, and a server whose
// groups-open policy shows the card in a group. Bob buys two with Alipay on
// the simulator's page and comes back to see it paid in the chat; then one
// with WeChat Pay from a second tab, while the first tab hears of it live.
// Everything listens on 127.0.0.1; every wait is bounded.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import http from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Server, launchBrowser, person, handle, signUp, signIn, startGroup, openConv, send, token } from './lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');
const PAYSIM =
  process.env.KAIFANG_PAYSIM_BIN || path.join(process.env.CARGO_TARGET_DIR || path.join(repo, 'target'), 'debug', 'kaifang-paysim');
const FIXTURES = path.join(repo, 'crates/pay/tests/fixtures');
// The same test identities as crates/kaifang/tests/e2e/payments.rs.
const MCHID = '1900000109';
const APPID = 'wxd678efh567hg6787';
const ALIPAY_APP = '2021000000000001';
const MERCHANT_SERIAL = '5157F09EFDC096DE15EBE81A47057A7232F1B8E1';
const PLATFORM_SERIAL = 'PUB_KEY_ID_0119000001092025';
const API_V3_KEY = 'kaifang-test-apiv3-key-32-bytes!';
/** How long the simulator binary may take to say it listens (a loaded machine). */
const SIM_START_MS = 30000;
/** `payments.provider_timeout_ms` for the server. */
const PROVIDER_TIMEOUT_MS = 3000;
/** How long a page may take to reach the provider's page and back. */
const TRIP_MS = 20000;

const SHOP_HOST = 'item.taobao.com';
const PAGE = `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<title>不锈钢保温杯-淘宝网</title>
<meta property="og:title" content="不锈钢保温杯 500ml">
<meta property="og:site_name" content="淘宝网">
<script type="application/ld+json">{"@type":"Product","name":"不锈钢保温杯 500ml","offers":{"price":"199.00","priceCurrency":"CNY"}}</script>
</head><body>杯子</body></html>`;

async function startShop() {
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': Buffer.byteLength(PAGE) });
    res.end(PAGE);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: server.address().port, close: () => server.close() };
}

/** One simulator process; resolves once it printed `listening on 127.0.0.1:PORT`. */
function startSim(provider, flags) {
  return new Promise((resolve, reject) => {
    const proc = spawn(PAYSIM, [provider, '--listen', '127.0.0.1:0', ...flags], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`kaifang-paysim ${provider} did not listen within ${SIM_START_MS} ms:\n${out}\n${err}`));
    }, SIM_START_MS);
    proc.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${PAYSIM} (set KAIFANG_PAYSIM_BIN, or build it: cargo build -p kaifang-paysim): ${e.message}`));
    });
    proc.stdout.on('data', (chunk) => {
      out += chunk;
      const m = out.match(/listening on (127\.0\.0\.1:\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve({
          addr: m[1],
          stop: () =>
            new Promise((done) => {
              if (proc.exitCode !== null) return done();
              proc.once('exit', done);
              proc.kill('SIGTERM');
              setTimeout(() => proc.kill('SIGKILL'), 5000).unref();
            }),
        });
      }
    });
    proc.stderr.on('data', (chunk) => {
      err += chunk;
    });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`kaifang-paysim ${provider} exited with ${code}:\n${out}\n${err}`));
    });
  });
}

let dir;
let shop;
let wechat;
let alipay;
let server;
let browser;
let alice;
let bob;
const A = handle('alice');
const B = handle('bob');

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'kaifang-payments-'));
  // Our merchant key is wechatpay-go's test key, the providers' key the other test key (as in the
  // e2e test); the simulators need the merchant's public half, written here from the private one.
  const merchantKey = path.join(FIXTURES, 'TEST_ONLY_wechatpay_go_signer_key.pem');
  const merchantPub = path.join(dir, 'merchant_pub.pem');
  writeFileSync(merchantPub, createPublicKey(createPrivateKey(readFileSync(merchantKey))).export({ type: 'spki', format: 'pem' }));
  const providerKey = path.join(FIXTURES, 'TEST_ONLY_rsa2048_key.pem');
  const providerPub = path.join(FIXTURES, 'TEST_ONLY_rsa2048_pub.pem');
  const apiV3 = path.join(dir, 'apiv3');
  writeFileSync(apiV3, API_V3_KEY);
  shop = await startShop();
  wechat = await startSim('wechat', [
    '--mchid', MCHID, '--appid', APPID,
    '--merchant-serial', MERCHANT_SERIAL, '--merchant-public-key', merchantPub,
    '--platform-serial', PLATFORM_SERIAL, '--platform-private-key', providerKey,
    '--api-v3-key-file', apiV3,
    // Under the timeout fault, longer than the server waits.
    '--timeout-hold-ms', String(PROVIDER_TIMEOUT_MS * 2),
  ]);
  alipay = await startSim('alipay', ['--app-id', ALIPAY_APP, '--merchant-public-key', merchantPub, '--alipay-private-key', providerKey]);
  const config = `[links]
policy = ${JSON.stringify(path.join(repo, 'policies/examples/groups-open.cedar'))}

[preview]
allow_addresses = ["127.0.0.1:${shop.port}"]

[preview.resolve]
"${SHOP_HOST}" = "127.0.0.1"

[payments]
# Short, so the timeout test is quick; the simulators on loopback answer in milliseconds.
provider_timeout_ms = ${PROVIDER_TIMEOUT_MS}

[payments.wechat]
base_url = "http://${wechat.addr}"
mchid = "${MCHID}"
appid = "${APPID}"
merchant_serial = "${MERCHANT_SERIAL}"
merchant_key = ${JSON.stringify(`file:${merchantKey}`)}
platform_serial = "${PLATFORM_SERIAL}"
platform_key = ${JSON.stringify(`file:${providerPub}`)}
api_v3_key = ${JSON.stringify(`file:${apiV3}`)}

[payments.alipay]
base_url = "http://${alipay.addr}"
app_id = "${ALIPAY_APP}"
app_key = ${JSON.stringify(`file:${merchantKey}`)}
alipay_key = ${JSON.stringify(`file:${providerPub}`)}
`;
  // A server that refuses these settings fails the file: without them it would test nothing.
  server = await Server.start({ config });
  browser = await launchBrowser();
  alice = await person(browser, server);
  bob = await person(browser, server);
  await signUp(alice.page, A);
  await signUp(bob.page, B);
});

after(async () => {
  await browser?.close();
  await server?.close();
  await wechat?.stop();
  await alipay?.stop();
  shop?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const link = () => `http://${SHOP_HOST}:${shop.port}/item.htm?id=678`;
let group;
let seq;
let alipayOrder;

/** The order lines the page shows in the open conversation. */
const orderLines = (page) => page.locator('#order-status .order');

/** Buy on the card in `page`: the picker, a quantity, a wallet; returns the picker's wallet ids, in order. */
async function pickWallet(page, quantity, walletId) {
  await page.locator(`#msg-list li.msg[data-seq="${seq}"] button.buy`).click();
  const picker = page.locator('dialog.picker[open]');
  await picker.waitFor();
  const ids = await picker.locator('button.wallet').evaluateAll((bs) => bs.map((b) => b.dataset.wallet));
  await picker.locator('#picker-quantity').fill(String(quantity));
  await picker.locator(`button.wallet[data-wallet="${walletId}"]`).click();
  return ids;
}

/** On the simulator's page (`origin`): Pay, and wait to be back in the chat. */
async function payAt(page, origin) {
  await page.waitForURL((u) => u.origin === origin, { timeout: TRIP_MS });
  await page.locator('#sim-pay').click();
  await page.waitForURL((u) => u.origin === server.url, { timeout: TRIP_MS });
  await page.locator('#conn[data-state="online"]').waitFor({ state: 'attached' });
}

test('bob buys two from the card in a group with Alipay and sees them paid in the chat', async () => {
  await startGroup(alice.page, 'Shoppers', [B]);
  group = Number(new URL(alice.page.url()).hash.match(/^#\/c\/(\d+)$/)?.[1]);
  assert.ok(group > 0, `the group's id is in the address: ${alice.page.url()}`);
  await send(alice.page, `这个杯子不错 ${link()}`);
  await openConv(bob.page, 'Shoppers');
  const msg = bob.page.locator('#msg-list li.msg', { has: bob.page.locator('.card') });
  const card = msg.locator('.card');
  // This wait once timed out in CI and never again locally: if it does, say what the server had.
  await card.waitFor({ timeout: 20000 }).catch(async (e) => {
    const history = await server.api('GET', `/conversations/${group}/messages?limit=20`, undefined, await token(bob.page));
    throw new Error(`${e.message}\nthe group's messages: ${JSON.stringify(history.json)}\nserver stderr: ${server.stderrTail()}`);
  });
  assert.equal(await card.locator('.card-title').textContent(), '不锈钢保温杯 500ml');
  assert.equal(await card.locator('.card-price').textContent(), 'CNY 199.00');
  seq = Number(await msg.getAttribute('data-seq'));
  const buy = msg.locator('button.buy');
  assert.equal(await buy.textContent(), 'Buy');

  // What the server offers Bob, and in which order: the picker must not reorder it.
  const quote = await server.api('GET', `/orders/quote?conversation_id=${group}&seq=${seq}&link_index=0`, undefined, await token(bob.page));
  assert.equal(quote.status, 200, JSON.stringify(quote.json));
  assert.deepEqual([...quote.json.wallets.map((w) => w.id)].sort(), ['alipay', 'wechat-pay']);

  await buy.click();
  const picker = bob.page.locator('dialog.picker[open]');
  await picker.waitFor();
  assert.equal(await picker.locator('.picker-product').textContent(), '不锈钢保温杯 500ml');
  assert.equal(await picker.locator('.picker-price').textContent(), '199.00 CNY each');
  const wallets = picker.locator('button.wallet');
  assert.deepEqual(await wallets.evaluateAll((bs) => bs.map((b) => b.dataset.wallet)), quote.json.wallets.map((w) => w.id), "the server's order");
  assert.deepEqual((await wallets.allTextContents()).sort(), ['Alipay', 'WeChat Pay']);
  // A quantity out of range is refused in words, and nothing is ordered.
  await picker.locator('#picker-quantity').fill('0');
  await picker.locator('button.wallet[data-wallet="alipay"]').click();
  assert.match(await picker.locator('.picker-error').textContent(), /from 1 to 99/);
  assert.equal(new URL(bob.page.url()).origin, server.url, 'still in the chat');
  await picker.locator('#picker-quantity').fill('2');
  assert.equal(await picker.locator('.picker-total').textContent(), 'Total: 398.00 CNY');
  await picker.locator('button.wallet[data-wallet="alipay"]').click();

  await payAt(bob.page, `http://${alipay.addr}`);
  // Back in the group, with the order paid and the address clean again.
  await bob.page.locator('#chat-title', { hasText: 'Shoppers' }).waitFor();
  const line = orderLines(bob.page).filter({ hasText: 'Alipay' });
  await line.and(bob.page.locator('[data-state="paid"]')).waitFor({ timeout: TRIP_MS });
  assert.match(await line.textContent(), /^Paid 398\.00 CNY with Alipay \(order \d+\)\.$/);
  assert.equal(new URL(bob.page.url()).search, '', 'the ?order parameter is gone');
  const id = Number(await line.getAttribute('data-order'));
  alipayOrder = id;
  const order = await server.api('GET', `/orders/${id}`, undefined, await token(bob.page));
  assert.equal(order.json.state, 'paid');
  assert.deepEqual(order.json.amount, { amount_minor: 39800, currency: 'CNY', display: '398.00 CNY' });
  assert.equal(order.json.wallet, 'alipay');
  assert.equal(order.json.conversation_id, group);
  assert.deepEqual(bob.errors, []);
});

test('a second tab pays with WeChat Pay; the first hears of it live, and says it in Chinese too', async () => {
  const tab = await bob.context.newPage();
  const errors = [];
  tab.on('pageerror', (e) => errors.push(String(e)));
  try {
    await tab.goto(`/#/c/${group}`);
    await tab.locator('#chat-title', { hasText: 'Shoppers' }).waitFor();
    await tab.locator(`#msg-list li.msg[data-seq="${seq}"] .card`).waitFor();
    // Esc closes the picker and gives the focus back to Buy.
    const buy = tab.locator(`#msg-list li.msg[data-seq="${seq}"] button.buy`);
    await buy.click();
    await tab.locator('dialog.picker[open]').waitFor();
    await tab.keyboard.press('Escape');
    await tab.locator('dialog.picker').waitFor({ state: 'detached' });
    assert.ok(await buy.evaluate((b) => b === document.activeElement), 'the focus is back on Buy');
    const ids = await pickWallet(tab, 1, 'wechat-pay');
    assert.equal(ids.length, 2);
    await payAt(tab, `http://${wechat.addr}`);
    const line = orderLines(tab).filter({ hasText: 'WeChat Pay' });
    await line.and(tab.locator('[data-state="paid"]')).waitFor({ timeout: TRIP_MS });
    assert.match(await line.textContent(), /^Paid 199\.00 CNY with WeChat Pay \(order \d+\)\.$/);
    assert.deepEqual(errors, []);
  } finally {
    await tab.close();
  }
  // The first tab never left the group: the payment events brought the new order there.
  const live = orderLines(bob.page).filter({ hasText: 'WeChat Pay' });
  await live.and(bob.page.locator('[data-state="paid"]')).waitFor({ timeout: TRIP_MS });
  assert.equal(await orderLines(bob.page).count(), 2);
  await bob.page.selectOption('#lang-main', 'zh-CN');
  const zh = await orderLines(bob.page).allTextContents();
  assert.match(zh[0], /^支付成功：已使用支付宝支付 398\.00 CNY（订单 \d+）。$/);
  assert.match(zh[1], /^支付成功：已使用微信支付支付 199\.00 CNY（订单 \d+）。$/);
  assert.equal(await bob.page.locator(`#msg-list li.msg[data-seq="${seq}"] button.buy`).textContent(), '购买');
  await bob.page.selectOption('#lang-main', 'en');
  // The ledger the operator (alice, the first account) reads balances.
  const ledger = await server.api('GET', '/admin/payments/ledger', undefined, await token(alice.page));
  assert.equal(ledger.status, 200, JSON.stringify(ledger.json));
  assert.equal(ledger.json.balanced, true);
  const merchant = ledger.json.accounts.find((a) => a.account === 'merchant:taobao');
  assert.equal(merchant?.balance_minor, 59700);
  assert.deepEqual(bob.errors, []);
});

test('the wallet does not answer in time: the order waits in the chat, and Check again asks', async () => {
  const faults = (timeout) =>
    fetch(`http://${wechat.addr}/_sim/faults`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ timeout }),
      signal: AbortSignal.timeout(5000),
    }).then((r) => assert.equal(r.status, 200, 'the simulator takes the fault'));
  await faults(true);
  try {
    await pickWallet(bob.page, 1, 'wechat-pay');
    await bob.page.locator('#toasts .toast', { hasText: 'The wallet did not answer in time' }).waitFor({ timeout: PROVIDER_TIMEOUT_MS + TRIP_MS });
  } finally {
    await faults(false);
  }
  assert.equal(await bob.page.locator('dialog.picker').count(), 0, 'the picker closed');
  assert.equal(new URL(bob.page.url()).origin, server.url, 'still in the chat: there is no page to pay on');
  const waiting = orderLines(bob.page).and(bob.page.locator('[data-state="pending"]'));
  await waiting.waitFor();
  assert.match(await waiting.textContent(), /^Order \d+: waiting for payment of 199\.00 CNY with WeChat Pay\.Check again$/);
  // The provider has the trade, unpaid: the server asks it and the order stays pending.
  const asked = bob.page.waitForResponse((r) => /\/api\/v1\/orders\/\d+\/query$/.test(r.url()) && r.request().method() === 'POST');
  await waiting.locator('button.order-check').click();
  assert.equal((await asked).status(), 200);
  await waiting.locator('button.order-check:enabled').waitFor();
  assert.equal(await orderLines(bob.page).count(), 3);
  assert.deepEqual(bob.errors, []);
});

test('coming back signed out: the order is shown once signed in again', async () => {
  // A browser without Bob's session, as after an expired one, opens the return address.
  const again = await person(browser, server);
  try {
    await again.page.goto(`/?order=${alipayOrder}`);
    await signIn(again.page, B);
    await again.page.locator('#chat-title', { hasText: 'Shoppers' }).waitFor();
    const line = orderLines(again.page).and(again.page.locator(`[data-order="${alipayOrder}"]`));
    await line.waitFor();
    assert.match(await line.textContent(), /^Paid 398\.00 CNY with Alipay \(order \d+\)\.$/);
    assert.equal(new URL(again.page.url()).search, '', 'the ?order parameter is gone');
    assert.deepEqual(again.errors, []);
  } finally {
    await again.context.close();
  }
});

test('on a server without payments, Buy says so in words and the buttons go', async () => {
  // The same shop and policy, no [payments]: the quote answers 404 turned-off.
  const config = `[links]
policy = ${JSON.stringify(path.join(repo, 'policies/examples/groups-open.cedar'))}

[preview]
allow_addresses = ["127.0.0.1:${shop.port}"]

[preview.resolve]
"${SHOP_HOST}" = "127.0.0.1"
`;
  const plain = await Server.start({ config });
  const ctxs = [];
  try {
    const carol = await person(browser, plain);
    const dave = await person(browser, plain);
    ctxs.push(carol.context, dave.context);
    const D = handle('dave');
    await signUp(carol.page, handle('carol'));
    await signUp(dave.page, D);
    await startGroup(carol.page, 'Window shopping', [D]);
    await send(carol.page, `看看 ${link()}`);
    await openConv(dave.page, 'Window shopping');
    const buy = dave.page.locator('#msg-list button.buy');
    // This wait timed out once in CI (2026-12-05) and never locally: if it does, say what the server logged.
    await buy.waitFor({ timeout: 20000 }).catch((e) => {
      throw new Error(`${e.message}\nserver stderr: ${plain.stderrTail()}`);
    });
    await buy.click();
    await dave.page.locator('#toasts .toast', { hasText: 'Payments are off on this server' }).waitFor();
    await buy.waitFor({ state: 'detached' });
    assert.equal(await dave.page.locator('#msg-list .card .card-price').textContent(), 'CNY 199.00', 'the card stays, with its price');
    assert.equal(await dave.page.locator('dialog.picker').count(), 0, 'no picker opened');
    assert.deepEqual(dave.errors, []);
  } finally {
    for (const c of ctxs) await c.close();
    await plain.close();
  }
});
