// The link rendering rules, checked in the real page against decisions
// shaped as the server sends them (so they hold whatever policy is loaded):
// spans in UTF-16, one drawing per treatment, only http(s) hrefs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, launchBrowser, person } from './lib.mjs';

let server;
let browser;
let page;

before(async () => {
  server = await Server.start();
  browser = await launchBrowser();
  ({ page } = await person(browser, server));
  await page.locator('#auth-form').waitFor();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

/** Renders a message with renderBody in the page; returns what was drawn. */
function draw(message, kind) {
  return page.evaluate(
    async ({ message, kind }) => {
      const { renderBody } = await import('/app/render.js');
      const box = document.createElement('div');
      box.id = 'render-test';
      box.append(...renderBody(message, kind));
      document.body.append(box);
      const out = {
        text: box.querySelector('.msg-text').textContent,
        anchors: [...box.querySelectorAll('a')].map((a) => ({
          text: a.textContent,
          href: a.getAttribute('href'),
          rel: a.getAttribute('rel'),
          target: a.getAttribute('target'),
          treatment: a.dataset.treatment || null,
          cls: a.className,
        })),
        inert: [...box.querySelectorAll('.inert')].map((s) => s.textContent),
        flagNotes: [...box.querySelectorAll('.flag-note')].map((n) => n.textContent),
        notes: [...box.querySelectorAll('.link-note')].map((n) => n.textContent),
        cards: [...box.querySelectorAll('.card')].map((c) => ({
          title: c.querySelector('.card-title')?.textContent ?? null,
          desc: c.querySelector('.card-desc')?.textContent ?? null,
          site: c.querySelector('.card-site')?.textContent ?? null,
          price: c.querySelector('.card-price')?.textContent ?? null,
          play: Boolean(c.querySelector('.play-badge')),
          img: Boolean(c.querySelector('img')),
        })),
      };
      box.remove();
      return out;
    },
    { message, kind },
  );
}

function link(body, url, fields) {
  const start = body.indexOf(url);
  return {
    url,
    canonical: url,
    start,
    end: start + url.length,
    start_utf16: start,
    end_utf16: start + url.length,
    platform: 'taobao',
    owner: 'alibaba',
    category: 'commerce',
    preview: true,
    policies: [],
    ...fields,
  };
}

test('live: a real anchor with rel and target, slicing by UTF-16 offsets', async () => {
  const body = '😀😀 看 https://item.taobao.com/item.htm?id=1 好';
  const url = 'https://item.taobao.com/item.htm?id=1';
  // JS indexOf is already UTF-16: two emoji are four code units.
  const out = await draw({ body, links: [link(body, url, { treatment: 'live' })], previews: {} }, 'direct');
  assert.equal(out.text, body);
  assert.deepEqual(out.anchors, [{ text: url, href: url, rel: 'noopener noreferrer nofollow', target: '_blank', treatment: 'live', cls: 'link live' }]);
  assert.deepEqual(out.cards, []);
});

test('live with a preview: a card with title, description, site, price; video gets a play badge', async () => {
  const body = 'a https://item.taobao.com/i?id=2 and https://v.youku.com/v_show/id_x.html';
  const shop = 'https://item.taobao.com/i?id=2';
  const video = 'https://v.youku.com/v_show/id_x.html';
  const previews = {
    [shop]: { url: shop, title: '<b>Tea</b> set', description: 'Fine tea', publisher: '淘宝网', price: '128.00', currency: 'CNY', kind: 'product', image: 'https://img.example/x.jpg' },
    [video]: { url: video, title: 'A video', kind: 'video', video: 'https://v.youku.com/embed/x' },
  };
  const out = await draw({ body, links: [link(body, shop, { treatment: 'live' }), link(body, video, { treatment: 'live', platform: 'youku' })], previews }, 'direct');
  assert.equal(out.cards.length, 2);
  assert.deepEqual(out.cards[0], { title: '<b>Tea</b> set', desc: 'Fine tea', site: '淘宝网', price: 'CNY 128.00', play: false, img: true });
  assert.equal(out.cards[1].play, true);
  assert.equal(out.cards[1].site, 'v.youku.com');
});

test('warn: an anchor to the interstitial, marked as leaving for the platform', async () => {
  const body = 'see https://www.douyin.com/video/1';
  const url = 'https://www.douyin.com/video/1';
  const out = await draw({ body, links: [link(body, url, { treatment: 'warn', platform: 'douyin', platform_name: 'Douyin' })] }, 'direct');
  assert.equal(out.anchors.length, 1);
  assert.equal(out.anchors[0].href, `/go?url=${encodeURIComponent(url)}`);
  assert.equal(out.anchors[0].rel, 'noopener noreferrer nofollow');
  assert.match(out.anchors[0].text, /leaving for Douyin/);
  const given = await draw({ body, links: [link(body, url, { treatment: 'warn', go: '/go?id=abc' })] }, 'direct');
  assert.equal(given.anchors[0].href, '/go?id=abc');
  const hostile = await draw({ body, links: [link(body, url, { treatment: 'warn', go: '//evil.example/x' })] }, 'direct');
  assert.equal(hostile.anchors[0].href, `/go?url=${encodeURIComponent(url)}`, 'protocol-relative go ignored');
});

test('inert: plain text and a note naming the platform, the conversation kind and the policy', async () => {
  const body = '团购 https://item.taobao.com/i?id=3';
  const url = 'https://item.taobao.com/i?id=3';
  const out = await draw(
    { body, links: [link(body, url, { treatment: 'inert', platform_name: 'Taobao', policies: ['group-rivals-inert'] })], previews: { [url]: { title: 'x' } } },
    'group',
  );
  assert.deepEqual(out.anchors, []);
  assert.deepEqual(out.inert, [url]);
  assert.deepEqual(out.cards, [], 'no card for an inert link');
  assert.equal(out.notes.length, 1);
  assert.match(out.notes[0], /Links to Taobao are not opened in group chats/);
  assert.match(out.notes[0], /group-rivals-inert/);
});

test('flagged links say what is wrong: a bidi control (inert), a mixed-script host (live)', async () => {
  const body = 'a https://evil.example/x b https://xn--80ak6aa92e.com/';
  const bidi = link(body, 'https://evil.example/x', { treatment: 'inert', platform: 'unknown', platform_name: 'Unknown', flags: ['bidi'], policies: ['bidi-inert'] });
  const homograph = link(body, 'https://xn--80ak6aa92e.com/', { treatment: 'live', platform: 'unknown', flags: ['homograph'], display_host: 'xn--80ak6aa92e.com' });
  const out = await draw({ body, links: [bidi, homograph] }, 'direct');
  assert.match(out.notes[0], /Not opened as a link: it contains a hidden text-direction control \(policy: bidi-inert\)/);
  assert.deepEqual(out.flagNotes, ['⚠ Check the address xn--80ak6aa92e.com: it mixes scripts (shown in punycode)']);
  assert.equal(out.anchors.length, 1);
});

test('only http(s) hrefs: javascript: and data: canonicals become text', async () => {
  const body = 'javascript:alert(1) data:text/html,x';
  const links = [
    link(body, 'javascript:alert(1)', { treatment: 'live' }),
    link(body, 'data:text/html,x', { treatment: 'warn' }),
  ];
  const out = await draw({ body, links }, 'direct');
  assert.deepEqual(out.anchors, []);
  assert.equal(out.text, body);
});

test('spans out of range, overlapping or malformed are ignored, never thrown', async () => {
  const body = 'short https://a.example/';
  const good = link(body, 'https://a.example/', { treatment: 'live' });
  const links = [good, { ...good, start_utf16: 3, end_utf16: 10 }, { ...good, start_utf16: 5, end_utf16: 999 }, { treatment: 'live' }, null];
  const out = await draw({ body, links }, 'direct');
  assert.equal(out.text, body);
  assert.equal(out.anchors.length, 1);
});

test('a live share code is a chip naming its platform, never a hyperlink; an inert one is text', async () => {
  const code = '￥Ab3dE5fG7hK￥';
  const body = `复制这段描述${code}后到👉淘宝👈`;
  const shared = { kind: 'share_code', platform_name: 'Taobao' };
  const drawn = (treatment) =>
    page.evaluate(
      async ({ message }) => {
        const { renderBody } = await import('/app/render.js');
        const box = document.createElement('div');
        box.append(...renderBody(message, 'direct'));
        document.body.append(box);
        const out = {
          chips: [...box.querySelectorAll('button.code-chip')].map((c) => ({
            code: c.querySelector('.code-text').textContent,
            platform: c.querySelector('.code-platform').textContent,
            title: c.title,
          })),
          anchors: box.querySelectorAll('a').length,
          text: box.textContent,
        };
        box.remove();
        return out;
      },
      { message: { body, links: [link(body, code, { ...shared, treatment })] } },
    );
  const live = await drawn('live');
  assert.equal(live.anchors, 0);
  assert.equal(live.chips.length, 1);
  assert.equal(live.chips[0].code, code);
  assert.match(live.chips[0].platform, /Taobao/);
  assert.match(live.chips[0].title, /Taobao/);
  const inert = await drawn('inert');
  assert.deepEqual(inert.chips, []);
  assert.equal(inert.anchors, 0);
  assert.ok(inert.text.includes(code), inert.text);
});

test('a live wallet deep link is a payment chip; a live payment URL is an ordinary link', async () => {
  const deep = 'wxp://f2f0qzJL49oCBGKRbD4ugro9eeYs3PSZNop';
  const qr = 'https://qr.alipay.com/tsxwounogmbivowr90';
  const body = `付款 ${deep} 或 ${qr}`;
  const out = await page.evaluate(
    async ({ message }) => {
      const { renderBody } = await import('/app/render.js');
      const box = document.createElement('div');
      box.append(...renderBody(message, 'direct'));
      document.body.append(box);
      const res = {
        chips: [...box.querySelectorAll('button.code-chip')].map((c) => ({
          code: c.querySelector('.code-text').textContent,
          kind: c.dataset.kind,
          title: c.title,
        })),
        hrefs: [...box.querySelectorAll('a')].map((a) => a.getAttribute('href')),
      };
      box.remove();
      return res;
    },
    {
      message: {
        body,
        links: [
          link(body, deep, { kind: 'payment', platform: 'wechat-pay', platform_name: 'WeChat Pay', treatment: 'live', preview: false }),
          link(body, qr, { kind: 'payment', platform: 'alipay', platform_name: 'Alipay', treatment: 'live', preview: false }),
        ],
      },
    },
  );
  assert.equal(out.chips.length, 1);
  assert.equal(out.chips[0].code, deep);
  assert.equal(out.chips[0].kind, 'payment');
  assert.match(out.chips[0].title, /WeChat Pay/);
  assert.deepEqual(out.hrefs, [qr]);
});
