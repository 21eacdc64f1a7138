// The browser suite's harness: the real `errand serve` on a free port with a fresh
// data directory serving the built UI, and Debian's Chromium through playwright-core.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const here = new URL('.', import.meta.url).pathname;
export const FRONTEND = resolve(here, '..');
// Every screenshot goes to e2e/.out/screenshots (ignored by git); the few kept in
// git under screenshots/ are refreshed with ERRAND_SCREENSHOTS=$PWD/screenshots.
export const SHOTS = process.env.ERRAND_SCREENSHOTS ?? resolve(FRONTEND, 'e2e', '.out', 'screenshots');

/** `opts.dir` and `opts.port` restart a server on the same data and address. */
export async function startServer(opts = {}) {
  const bin = process.env.ERRAND_BIN ?? join(process.env.CARGO_TARGET_DIR ?? resolve(FRONTEND, '../target'), 'debug', 'errand');
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'errand-e2e-'));
  const child = spawn(bin, ['serve', '--listen', `127.0.0.1:${opts.port ?? 0}`, '--data-dir', dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      ERRAND_UI_DIR: resolve(FRONTEND, 'dist'),
      ERRAND_AUTH_ATTEMPTS_PER_MINUTE: '100000',
      ERRAND_ACCOUNT_ATTEMPTS_PER_MINUTE: '100000',
      ERRAND_LOG_FORMAT: 'json',
      RUST_LOG: process.env.RUST_LOG ?? 'warn',
    },
  });
  const logs = [];
  createInterface({ input: child.stderr }).on('line', (l) => logs.push(l));
  const url = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error('errand did not start in 60 s')), 60_000);
    child.on('error', fail);
    child.on('exit', (c) => fail(new Error(`errand exited with ${c}: ${logs.slice(-5).join('\n')}`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      const m = /listening on (http:\/\/\S+)/.exec(line);
      if (m) {
        clearTimeout(timer);
        ok(m[1]);
      }
    });
  });
  return {
    url,
    dir,
    port: Number(new URL(url).port),
    logs,
    /** Stops the server; with `keep`, its data directory stays for a restart. */
    async stop(keep = false) {
      child.kill('SIGTERM');
      await new Promise((r) => {
        const t = setTimeout(() => {
          child.kill('SIGKILL');
          r();
        }, 5000);
        child.on('exit', () => {
          clearTimeout(t);
          r();
        });
      });
      if (!keep) rmSync(dir, { recursive: true, force: true });
    },
  };
}

// playwright-core gives each launch a fresh, throwaway user-data dir.
export async function launch() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      '--disable-sync',
    ],
  });
  return {
    browser,
    async close() {
      await browser.close();
    },
  };
}

/** Records console errors and page errors (the suite requires none). */
export function watchConsole(page, sink) {
  page.on('console', (m) => {
    if (m.type() === 'error') sink.push(`console: ${m.text()} @ ${page.url()}`);
  });
  page.on('pageerror', (e) => sink.push(`pageerror: ${e.message} @ ${page.url()}`));
}

export function shotsDir() {
  mkdirSync(SHOTS, { recursive: true });
  return SHOTS;
}

/** API calls from Node for seeding, as a user with a bearer token. */
export async function apiAs(base, token, method, path, body) {
  const res = await fetch(`${base}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

export async function signupApi(base, email, password = 'correct horse battery', timezone = 'Europe/Berlin') {
  const res = await fetch(`${base}/api/v1/auth/signup`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password, timezone }),
  });
  if (!res.ok) throw new Error(`signup: ${res.status} ${await res.text()}`);
  return (await res.json()).token;
}
