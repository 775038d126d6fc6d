// Shared test harness: starts the real `kaifang serve` binary, launches
// Debian's Chromium through playwright-core, and signs users up through
// the page. Every wait here is bounded.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');

export const BIN =
  process.env.KAIFANG_BIN || path.join(process.env.CARGO_TARGET_DIR || path.join(repo, 'target'), 'debug', 'kaifang');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const PASSWORD = 'correct horse battery';

const START_TIMEOUT_MS = 20000;
const STOP_TIMEOUT_MS = 5000;

/** One `kaifang serve` process; restartable on the same port and data dir. */
export class Server {
  /** `config`: kaifang.toml text passed with `serve --config`. */
  constructor({ dataDir, env = {}, config } = {}) {
    this.dataDir = dataDir || mkdtempSync(path.join(tmpdir(), 'kaifang-browser-'));
    this.ownsDir = !dataDir;
    this.env = env;
    this.configPath = null;
    if (config) {
      this.configPath = path.join(this.dataDir, 'test-kaifang.toml');
      writeFileSync(this.configPath, config);
    }
    this.port = 0;
    this.proc = null;
    this.url = null;
  }

  static async start(options) {
    const server = new Server(options);
    await server.startProcess();
    return server;
  }

  async startProcess() {
    // Binding the same port right after a stop can race the old socket: retry briefly.
    let lastError;
    for (let attempt = 0; attempt < 10; attempt++) {
      try {
        await this.spawnOnce();
        return;
      } catch (e) {
        lastError = e;
        await sleep(300);
      }
    }
    throw lastError;
  }

  spawnOnce() {
    return new Promise((resolve, reject) => {
      const args = this.configPath ? ['serve', '--config', this.configPath] : ['serve'];
      const proc = spawn(BIN, args, {
        cwd: this.dataDir,
        env: {
          ...serverEnv(),
          KAIFANG_LISTEN: `127.0.0.1:${this.port}`,
          KAIFANG_DATA_DIR: this.dataDir,
          KAIFANG_AUTH__ARGON2_MEMORY_KIB: '1024',
          // The tests act as the operator through the first account.
          KAIFANG_AUTH__FIRST_SIGNUP_BECOMES_ADMIN: 'true',
          // Previews reach only names mapped in preview.resolve: no DNS query leaves the machine.
          KAIFANG_PREVIEW__SYSTEM_DNS: 'false',
          NO_COLOR: '1',
          RUST_LOG: process.env.RUST_LOG || 'warn',
          // The server's own filter (it reads KAIFANG_LOG, not RUST_LOG). A failed preview
          // fetch is logged at debug: kept, so that a card that never comes can be
          // explained from `stderrTail`.
          KAIFANG_LOG: 'info,kaifang_server::service::previews=debug',
          ...this.env,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      const timer = setTimeout(() => {
        proc.kill('SIGKILL');
        reject(new Error(`kaifang did not start within ${START_TIMEOUT_MS} ms:\n${out}\n${err}`));
      }, START_TIMEOUT_MS);
      proc.stdout.on('data', (chunk) => {
        out += chunk;
        const m = out.match(/listening on (http:\/\/[0-9.]+:(\d+))/);
        if (m && !this.proc) {
          clearTimeout(timer);
          this.proc = proc;
          this.url = m[1];
          this.port = Number(m[2]);
          resolve();
        }
      });
      proc.stderr.on('data', (chunk) => {
        err += chunk;
        if (err.length > 100000) err = err.slice(-50000);
        // Kept for a failing test to quote (`stderrTail`).
        this.stderr = err;
      });
      proc.on('exit', (code) => {
        if (this.proc === proc) this.proc = null;
        clearTimeout(timer);
        reject(new Error(`kaifang exited with ${code} before listening:\n${out}\n${err}`));
      });
    });
  }

  /** Stops the process (SIGTERM, then SIGKILL after a bound). */
  async stop(signal = 'SIGTERM') {
    const proc = this.proc;
    if (!proc) return;
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill(signal);
    const timer = setTimeout(() => proc.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
    this.proc = null;
  }

  async restart() {
    await this.stop();
    await this.startProcess();
  }

  async close() {
    await this.stop();
    if (this.ownsDir) rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** The end of what the server wrote to stderr, for a failing test's message. */
  stderrTail(chars = 3000) {
    return (this.stderr || '').slice(-chars);
  }

  /** Calls the API from the test itself (as a given token). */
  async api(method, pathname, body, token) {
    const r = await fetch(`${this.url}/api/v1${pathname}`, {
      method,
      headers: {
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
        ...(token ? { Authorization: `Bearer ${token}` } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10000),
    });
    const text = await r.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = text;
    }
    return { status: r.status, json };
  }
}

/** The environment less KAIFANG_* (the server refuses settings it does not know, such as KAIFANG_BIN). */
function serverEnv() {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('KAIFANG_')));
}

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

/** Headless Debian Chromium; playwright's launch uses a fresh temporary profile. */
export function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 30000,
    args: [
      '--no-sandbox',
      '--headless=new',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

/** A fresh browser context for one person, with page errors collected. */
export async function person(browser, server, { locale = 'en-US', viewport = { width: 1100, height: 760 } } = {}) {
  const context = await browser.newContext({ baseURL: server.url, locale, viewport });
  context.setDefaultTimeout(10000);
  const page = await context.newPage();
  const errors = [];
  const dialogs = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource|WebSocket connection/.test(m.text())) errors.push(m.text());
  });
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    d.dismiss().catch(() => {});
  });
  await page.goto('/');
  return { context, page, errors, dialogs };
}

/**
 * The start most files share: a server (`Server` options), a browser, and
 * alice and bob, each in a browser context of their own, not signed up.
 * If a step fails, what was already started is closed before the error goes on.
 */
export async function startTwo(options) {
  const server = await Server.start(options);
  let browser;
  try {
    browser = await launchBrowser();
    const alice = await person(browser, server);
    const bob = await person(browser, server);
    return { server, browser, alice, bob };
  } catch (e) {
    await closeAll({ server, browser });
    throw e;
  }
}

/** Closes the browser, then the server (either may be missing). */
export async function closeAll({ server, browser }) {
  await browser?.close();
  await server?.close();
}

let counter = 0;
/** A handle unique within this run. */
export function handle(prefix) {
  counter += 1;
  return `${prefix}${counter}_${process.pid % 10000}`.slice(0, 32);
}

export async function signUp(page, name, password = PASSWORD) {
  await page.locator('#auth-form').waitFor();
  if (!(await page.locator('#display-row').isVisible())) await page.click('#auth-toggle');
  await page.fill('#auth-handle', name);
  await page.fill('#auth-password', password);
  await page.click('#auth-submit');
  await page.locator('#main').waitFor();
  await page.locator('#conn[data-state="online"]').waitFor({ state: 'attached' });
}

export async function signIn(page, name, password = PASSWORD) {
  await page.locator('#auth-form').waitFor();
  if (await page.locator('#display-row').isVisible()) await page.click('#auth-toggle');
  await page.fill('#auth-handle', name);
  await page.fill('#auth-password', password);
  await page.click('#auth-submit');
  await page.locator('#main').waitFor();
}

export async function startDirect(page, other) {
  await page.click('#new-chat');
  await page.fill('#new-chat-handle', other);
  await page.click('#new-chat-form button[type="submit"]');
  // The form hides when the server has answered and the new chat is open.
  // Not `#chat-view` alone: it may still show the chat open before, and a
  // message typed now would go there (seen as a flaky test under load).
  await page.locator('#new-chat-form').waitFor({ state: 'hidden' });
  await page.locator('#chat-view').waitFor();
}

/** Signs alice and bob up as `a` and `b`; alice opens their direct conversation. */
export async function signUpAndTalk(alice, bob, a, b) {
  await signUp(alice.page, a);
  await signUp(bob.page, b);
  await startDirect(alice.page, b);
}

export async function startGroup(page, title, members) {
  await page.click('#new-group');
  await page.fill('#new-group-title', title);
  await page.fill('#new-group-members', members.join(', '));
  await page.click('#new-group-form button[type="submit"]');
  // As in startDirect: wait for the new group itself, not any open chat.
  await page.locator('#new-group-form').waitFor({ state: 'hidden' });
  await page.locator('#chat-title', { hasText: title }).waitFor();
}

export async function openConv(page, title) {
  await page.locator('#conv-list .conv', { has: page.locator('.conv-title', { hasText: title }) }).first().click();
  await page.locator('#chat-title', { hasText: title }).waitFor();
}

export async function send(page, text) {
  await page.fill('#composer-input', text);
  await page.press('#composer-input', 'Enter');
}

export async function token(page) {
  return page.evaluate(() => JSON.parse(localStorage.getItem('kaifang:session'))?.token);
}

/** Texts of the delivered messages in the open conversation. */
export function messageTexts(page) {
  return page.locator('#msg-list .msg .msg-text').allTextContents();
}
