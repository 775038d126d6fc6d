// Regenerates docs/screenshots/*.png from a scripted session against a
// fresh server (run through scripts/screenshots.sh). Not a test: it stops
// at the first failure with a non-zero exit.
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Server, launchBrowser, person, signUp, startDirect, startGroup, openConv, send, token, PASSWORD } from './lib.mjs';
import { startShop, startServerFor, BLOCKED_HOST } from './site.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const out = path.join(repo, 'docs/screenshots');
mkdirSync(out, { recursive: true });
const shot = (page, name) => page.screenshot({ path: path.join(out, `${name}.png`) });

/** One operator card, whole (or its first `maxHeight` pixels), below the sticky jump bar. */
async function shotCard(page, selector, name, maxHeight = 2400) {
  const card = page.locator(selector);
  const { height } = await card.boundingBox();
  await page.setViewportSize({ width: 1100, height: Math.ceil(Math.min(height, maxHeight)) + 120 });
  await card.evaluate((el) => el.scrollIntoView({ block: 'start' }));
  const box = await card.boundingBox();
  await page.screenshot({ path: path.join(out, `${name}.png`), clip: { x: box.x, y: box.y, width: box.width, height: Math.min(box.height, maxHeight) } });
}

const shop = await startShop();
// The operator is JD (it owns a commerce platform), so that the fairness
// screen has a planted rule favouring the house's own shop to catch.
const dir = mkdtempSync(path.join(tmpdir(), 'kaifang-shots-'));
const server = await startServerFor(shop, Server, dir, '[links]\noperator_owner = "jd"\n\n');
const browser = await launchBrowser();
try {
  const wide = { width: 1100, height: 700 };
  // The /go warning page: a link that may be opened (English), and the same link inert in a
  // group (Chinese, from the browser's language), under the default policy (taken before the
  // operator screens below schedule another).
  const taobao = encodeURIComponent('https://item.taobao.com/item.htm?id=678');
  const goEn = await person(browser, server, { viewport: { width: 900, height: 620 }, locale: 'en-GB' });
  await goEn.page.goto(`/go?url=${taobao}`);
  await shot(goEn.page, 'go-en');
  const goZh = await person(browser, server, { viewport: { width: 900, height: 620 }, locale: 'zh-CN' });
  await goZh.page.goto(`/go?url=${taobao}&kind=group`);
  await shot(goZh.page, 'go-zh-inert');

  const lihua = await person(browser, server, { viewport: wide });
  const wang = await person(browser, server, { viewport: wide });

  await lihua.page.locator('#auth-form').waitFor();
  await shot(lihua.page, 'sign-in');

  await signUp(lihua.page, 'lihua');
  await signUp(wang.page, 'wang_fang');
  for (const h of ['chen_jing', 'zhao_lei']) await server.api('POST', '/accounts', { handle: h, password: PASSWORD });
  const t = await token(lihua.page);
  const engine = (await server.api('POST', '/links/evaluate', { text: 'x', conversation_kind: 'direct' }, t)).status === 200;

  // A group first, so that the direct chat is on top of the list.
  await startGroup(lihua.page, '周末爬山 Hiking', ['wang_fang', 'chen_jing', 'zhao_lei']);
  await send(lihua.page, 'Saturday 8:00 at the north gate?');
  await openConv(wang.page, '周末爬山');
  await send(wang.page, '好的，我带水和地图。');
  if (engine) await send(lihua.page, `团购茶具 ${shop.url(7)}`);
  await lihua.page.locator('#msg-list .msg', { hasText: '地图' }).waitFor();

  await startDirect(lihua.page, 'wang_fang');
  await send(lihua.page, '你好！Did you get the photos?');
  await openConv(wang.page, 'lihua');
  await send(wang.page, 'Yes, thanks — they are lovely.\nThe second one is my favourite.');
  await send(wang.page, 'Careful with this one: <script>alert(1)</script> \u202Egnp.exe stays plain text.');
  if (engine) {
    await send(wang.page, `看看这个茶具 ${shop.url(42)}`);
    await wang.page.locator('#msg-list .card').first().waitFor({ timeout: 15000 }).catch(() => {});
  }
  await lihua.page.locator('#msg-list .msg', { hasText: 'plain text' }).waitFor();
  await lihua.page.fill('#composer-input', 'Draft: see you on Saturday');
  await wang.page.waitForTimeout(500);
  await shot(wang.page, 'chat-direct');

  await openConv(lihua.page, '周末爬山');
  // Someone new writes: an unread count in the list.
  const chen = await server.api('POST', '/sessions', { handle: 'chen_jing', password: PASSWORD });
  const direct = await server.api('POST', '/conversations', { kind: 'direct', with: 'lihua' }, chen.json.token);
  for (const body of ['Hi! Are you coming on Saturday?', 'I can bring snacks.']) {
    await server.api('POST', `/conversations/${direct.json.id}/messages`, { body }, chen.json.token);
  }
  await lihua.page.locator('#conv-list .badge', { hasText: '2' }).waitFor();
  await lihua.page.click('#members-toggle');
  await lihua.page.locator('#member-list li[data-role="owner"]').waitFor();
  await shot(lihua.page, 'group-members');

  if (engine) {
    await lihua.page.click('#members-close');
    await openConv(lihua.page, 'wang_fang');
    await lihua.page.fill('#composer-input', `free prize http://${BLOCKED_HOST}/win`);
    await lihua.page.press('#composer-input', 'Enter');
    await lihua.page.locator('#refusal-area .refusal').waitFor({ timeout: 5000 }).catch(() => {});
    await shot(lihua.page, 'blocked-refusal');
    await lihua.page.fill('#composer-input', '');
  }

  // Operator pages: lihua signed up first, so she is the administrator.
  // She schedules the group opening two seconds ahead, compares it with the
  // start-up policy, checks a planted self-preferencing rule, and reads the
  // report once the same shop link has gone out live in the group.
  const ops = lihua.page;
  await ops.click('#admin-open');
  await ops.waitForFunction(() => document.querySelector('#policy-text')?.value.includes('forbid'));
  await ops.fill('#policy-text', readFileSync(path.join(repo, 'policies/examples/groups-open.cedar'), 'utf8'));
  await ops.fill('#policy-comment', 'Open group chats (regulator’s deadline)');
  await ops.fill('#policy-at', await ops.evaluate(() => {
    const d = new Date(Date.now() + 2000);
    const p = (n) => String(n).padStart(2, '0');
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
  }));
  await ops.click('#policy-schedule');
  await ops.locator('#policy-history .activation[data-state="inforce"]').waitFor({ timeout: 15000 });
  await ops.click('#admin-open');
  if (engine) {
    await openConv(ops, '周末爬山');
    await send(ops, `现在群里也能打开了 ${shop.url(7)}`);
    await ops.locator('#msg-list a.link.live').first().waitFor({ timeout: 5000 }).catch(() => {});
  }
  await ops.click('#admin-open');
  await ops.locator('#policy-history li[data-version="1"]').waitFor();
  await ops.selectOption('#diff-from', '0');
  await ops.selectOption('#diff-to', '1');
  await ops.click('#diff-run');
  await ops.locator('#diff-out li').first().waitFor();
  await shotCard(ops, '#admin-policy', 'operator-policy', 1500);
  await ops.fill('#policy-text', readFileSync(path.join(repo, 'policies/examples/planted-self-preferencing.cedar'), 'utf8'));
  await ops.click('#fairness-candidate');
  await ops.locator('#fairness-verdict', { hasText: 'Text in the editor' }).waitFor();
  await shotCard(ops, '#admin-fairness', 'operator-fairness', 1200);
  await ops.click('#report-run');
  await ops.locator('#report-total').waitFor();
  await shotCard(ops, '#admin-report', 'operator-report');
  await ops.setViewportSize({ width: 1100, height: 760 });
  await ops.click('#admin-open');

  // A phone: list, then a chat, in Chinese.
  const phone = await person(browser, server, { viewport: { width: 375, height: 740 }, locale: 'zh-CN' });
  await phone.page.locator('#auth-form').waitFor();
  await shot(phone.page, 'phone-sign-in');
  await phone.page.fill('#auth-handle', 'wang_fang');
  await phone.page.fill('#auth-password', PASSWORD);
  await phone.page.click('#auth-submit');
  await phone.page.locator('#conn[data-state="online"]').waitFor({ state: 'attached' });
  await shot(phone.page, 'phone-list');
  await openConv(phone.page, 'lihua');
  await phone.page.waitForTimeout(300);
  await shot(phone.page, 'phone-chat');

  // The reconnecting state: the server goes away.
  await server.stop();
  await phone.page.locator('#banner').waitFor();
  await shot(phone.page, 'phone-reconnecting');
  console.log(`screenshots written to ${out}${engine ? '' : ' (no link engine on this server: link screens left out)'}`);
} finally {
  await browser.close();
  await server.close();
  shop.close();
}
