// metascraper over the link-preview corpus: speed and agreement with the
// corpus's expected values, compared exactly as
// crates/preview/tests/support/agreement.rs compares kaifang-preview (URLs
// normalised, text whitespace-collapsed, smart quotes folded, dates exact).
// Rules: those the fixtures' tests load, in their order, without
// metascraper-logo-favicon and metascraper-manifest (they fetch over the
// network). Usage: node run.mjs <corpus/link-preview>
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import createMetascraper from 'metascraper';
import audio from 'metascraper-audio';
import author from 'metascraper-author';
import date from 'metascraper-date';
import description from 'metascraper-description';
import image from 'metascraper-image';
import lang from 'metascraper-lang';
import logo from 'metascraper-logo';
import publisher from 'metascraper-publisher';
import readability from 'metascraper-readability';
import title from 'metascraper-title';
import url from 'metascraper-url';
import video from 'metascraper-video';

const version = createRequire(import.meta.url)('metascraper/package.json').version;
const dir = process.argv[2];
const scrape = createMetascraper([
  author(), date(), description(), audio(), video(), image(), lang(), logo(),
  publisher(), title(), url(), readability(),
]);
const index = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8'));
const FIELDS = ['title', 'description', 'image', 'publisher', 'url', 'lang', 'author', 'date', 'video'];
const URLS = new Set(['image', 'url', 'video']);

const fold = (s) => s.replace(/[‘’]/g, "'").replace(/[“”]/g, '"').replace(/…/g, '...').split(/\s+/).filter(Boolean).join(' ');
const unescape = (s) => { for (let i = 0; i < 3; i++) { try { const d = decodeURIComponent(s); if (d === s) break; s = d; } catch { break; } } return s; };
const normUrl = (s) => {
  try { const u = new URL(s); u.hash = ''; let out = u.toString(); if (out.endsWith('/') && u.pathname === '/' && !u.search) out = out.slice(0, -1); return unescape(out.replace('://www.', '://')); }
  catch { return s; }
};

const pages = index.fixtures.map((f) => ({
  name: f.name,
  url: f.page_url,
  html: fs.readFileSync(path.join(dir, f.name, 'input.html'), 'utf8'),
  expected: JSON.parse(fs.readFileSync(path.join(dir, f.name, 'expected.json'), 'utf8')),
}));
const bytes = pages.reduce((n, p) => n + Buffer.byteLength(p.html), 0);
const tally = Object.fromEntries(FIELDS.map((f) => [f, [0, 0]]));
const start = process.hrtime.bigint();
for (const p of pages) {
  const got = await scrape({ html: p.html, url: p.url });
  for (const f of FIELDS) {
    if (!(f in p.expected)) continue;
    const want = p.expected[f];
    const have = got[f] ?? null;
    const same = want === null || have === null ? want === have
      : URLS.has(f) ? normUrl(want) === normUrl(have)
        : f === 'date' ? want === have : fold(want) === fold(have);
    tally[f][1] += 1;
    if (same) tally[f][0] += 1;
  }
}
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
const agreement = Object.fromEntries(Object.entries(tally).map(([f, [ok, n]]) => [f, `${ok}/${n}`]));
console.log(JSON.stringify({ tool: `metascraper ${version}`, pages: pages.length, bytes, seconds, mb_per_s: bytes / 1e6 / seconds, agreement }));
