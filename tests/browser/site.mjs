// A local stand-in for a shop page ("item.taobao.com" pointed at 127.0.0.1
// through the server's preview.resolve setting), and the server settings
// that go with it: the preview fetcher may reach it, and a blocklist.
import http from 'node:http';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

// An 8×8 PNG.
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAgAAAAICAIAAABLbSncAAAAEUlEQVR4nGPgzvPHihiGlgQAeOUyARGyp+UAAAAASUVORK5CYII=',
  'base64',
);
export const SHOP_HOST = 'item.taobao.com';
export const BLOCKED_HOST = 'malware.kaifang-test.com';

function html(port) {
  const img = `http://${SHOP_HOST}:${port}/tea.png`;
  return `<!doctype html><html><head><meta charset="utf-8">
<title>Tea set — Taobao</title>
<meta property="og:title" content="Celadon tea set">
<meta property="og:description" content="Six cups and a pot, hand-glazed.">
<meta property="og:site_name" content="淘宝网">
<meta property="og:type" content="product">
<meta property="og:image" content="${img}">
<meta property="product:price:amount" content="128.00">
<meta property="product:price:currency" content="CNY">
</head><body>tea</body></html>`;
}

export async function startShop() {
  let port = 0;
  const server = http.createServer((req, res) => {
    if (req.url.startsWith('/tea.png')) {
      res.writeHead(200, { 'Content-Type': 'image/png', 'Content-Length': PNG.length });
      res.end(PNG);
    } else {
      const body = html(port);
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = server.address().port;
  return {
    port,
    url: (id = 42) => `http://${SHOP_HOST}:${port}/item.htm?id=${id}&spm=a1z10`,
    close: () => server.close(),
    /** kaifang.toml text for a server that previews this page; writes the blocklist into `dir`. */
    config(dir) {
      const blocklist = path.join(dir, 'threats.txt');
      writeFileSync(blocklist, `${BLOCKED_HOST}\n`);
      return `[preview]
allow_addresses = ["127.0.0.1:${port}"]

[preview.resolve]
"${SHOP_HOST}" = "127.0.0.1"

[links.blocklists]
test = ${JSON.stringify(blocklist)}
`;
    },
  };
}

/**
 * Starts kaifang with the shop's settings (and `extra` settings before
 * them). A server that refuses them fails the test: starting it without
 * them would test something else and pass.
 */
export async function startServerFor(shop, Server, dir, extra = '') {
  return Server.start({ dataDir: dir, config: `${extra}${shop.config(dir)}` });
}
