// roster's account pages in a real browser (Debian's Chromium, headless,
// driven by playwright-core), against the real binary on a fresh database.
// run.sh starts it once per backend; the flows run with JavaScript on and
// off, and every request the browser makes must stay on roster's origin.
//
//   ROSTER_BIN                      the binary (required)
//   ROSTER_BROWSER_DATABASE_URL     a fresh database (required)
//   ROSTER_BROWSER_SCREENSHOTS      folder for the screenshots (none: not saved)
//   CHROMIUM                        the browser (default /usr/bin/chromium)

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const BIN = required('ROSTER_BIN');
const DATABASE_URL = required('ROSTER_BROWSER_DATABASE_URL');
const SHOTS = process.env.ROSTER_BROWSER_SCREENSHOTS || '';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const GOOD = 'violet tugboat arithmetic';
const ADMIN = 'admin@localhost';

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required (see browser/run.sh)`);
  return value;
}

// --- the server ----------------------------------------------------------------

let server;
let base = '';
let firstLink = '';
const logLines = [];

function startServer() {
  return new Promise((resolve, reject) => {
    server = spawn(BIN, ['serve'], {
      env: {
        PATH: process.env.PATH,
        ROSTER_DATABASE_URL: DATABASE_URL,
        ROSTER_BIND: '127.0.0.1:0',
        ROSTER_LOG_FORMAT: 'json',
        ROSTER_MAIL_POLL_INTERVAL: '100ms',
        ROSTER_RESET_EMAIL_COOLDOWN: '0s',
        ROSTER_WORKERS: '2',
        ROSTER_SUPPORT_EMAIL: 'support@example.com',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const timer = setTimeout(() => reject(new Error('roster did not start in 60 s')), 60_000);
    let stderr = '';
    const ready = () => {
      if (base && firstLink) {
        clearTimeout(timer);
        resolve();
      }
    };
    let pending = '';
    server.stdout.on('data', (chunk) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop();
      for (const line of lines) {
        let entry;
        try {
          entry = JSON.parse(line);
        } catch {
          continue;
        }
        logLines.push(entry);
        if (entry.message === 'roster is listening') base = entry.public_url;
      }
      ready();
    });
    server.stderr.on('data', (chunk) => {
      stderr += chunk;
      const found = stderr.match(/http:\/\/\S+\/activate\?token=rat_[A-Za-z0-9_-]+/);
      if (found) firstLink = found[0];
      ready();
    });
    server.on('exit', (code) => reject(new Error(`roster exited with ${code}:\n${stderr}`)));
  });
}

/// The link in the next email of `kind` logged after `since` (a log index).
async function emailedLink(kind, since) {
  for (let waited = 0; waited < 15_000; waited += 100) {
    const entry = logLines.slice(since).find((e) => e.kind === kind && /token=/.test(e.message));
    if (entry) return entry.message.match(/http:\/\/\S+\?token=rat_[A-Za-z0-9_-]+/)[0];
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no ${kind} email within 15 s`);
}

async function api(path, { method = 'GET', token, json, form } = {}) {
  const headers = {};
  let body;
  if (token) headers.authorization = `Bearer ${token}`;
  if (json) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(json);
  }
  if (form) body = new URLSearchParams(form);
  const response = await fetch(base + path, { method, headers, body });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

async function signIn(username, password) {
  return api('/v1/auth/token', { method: 'POST', form: { grant_type: 'password', username, password } });
}

// --- the browser -----------------------------------------------------------------

let browser;
const foreign = [];

/// A fresh browser profile; every request it makes is checked for its origin.
async function profile({ javaScript = true, width = 1024, scale = 1 } = {}) {
  const context = await browser.newContext({
    javaScriptEnabled: javaScript,
    viewport: { width, height: 800 },
    deviceScaleFactor: scale,
  });
  context.on('request', (request) => {
    // data: is the cross-origin test's own attacking page.
    const url = new URL(request.url());
    if (url.protocol !== 'data:' && url.origin !== new URL(base).origin) foreign.push(request.url());
  });
  return context;
}

async function shot(page, name) {
  if (!SHOTS) return;
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

/// Submits the page's form with its button and waits for the answer page.
async function submit(page, button) {
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST'),
    page.getByRole('button', { name: button }).click(),
  ]);
  await page.waitForLoadState('load');
  return response;
}

async function setPassword(page, password, again) {
  await page.getByLabel('New password', { exact: true }).fill(password);
  await page.getByLabel('Re-enter the new password', { exact: true }).fill(again);
  return submit(page, 'Set password');
}

async function heading(page) {
  const headings = page.getByRole('heading', { level: 1 });
  assert.equal(await headings.count(), 1, 'one h1');
  return (await headings.textContent()).trim();
}

async function expectPageBasics(page) {
  assert.equal(await page.locator('html').getAttribute('lang'), 'en');
  await heading(page);
}

before(async () => {
  await startServer();
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
});

after(async () => {
  await browser?.close();
  server?.kill('SIGTERM');
});

// --- the flows -------------------------------------------------------------------

/// Activation through the page: a mismatch, a common password, then a good
/// one; then a sign-in over the API. Returns the link, now used.
async function activateThroughThePage(context, link, email, shots) {
  const page = await context.newPage();
  const opened = await page.goto(link);
  assert.equal(opened.status(), 200);
  await expectPageBasics(page);
  assert.equal(await heading(page), 'Set your password');
  assert.ok((await page.textContent('main')).includes(email));
  if (shots) await shot(page, 'activate');

  let answer = await setPassword(page, GOOD, `${GOOD}!`);
  assert.equal(answer.status(), 422);
  assert.match(await page.getByRole('alert').textContent(), /The two passwords do not match/);
  assert.equal(await heading(page), 'Set your password', 'the form is kept');
  if (shots) await shot(page, 'activate-mismatch');

  answer = await setPassword(page, 'password1234', 'password1234');
  assert.equal(answer.status(), 422);
  assert.match(await page.getByRole('alert').textContent(), /too common or too easy to guess/);
  if (shots) await shot(page, 'activate-common-password');

  answer = await setPassword(page, GOOD, GOOD);
  assert.equal(answer.status(), 200);
  assert.equal(await heading(page), 'Your account is active');
  if (shots) await shot(page, 'activate-done');
  await page.close();

  const signedIn = await signIn(email, GOOD);
  assert.equal(signedIn.status, 200, JSON.stringify(signedIn.body));
  assert.ok(signedIn.body.access_token);
  return signedIn.body.access_token;
}

async function forgotThenReset(context, email, newPassword, shots) {
  const page = await context.newPage();
  const opened = await page.goto(`${base}/forgot-password`);
  assert.equal(opened.status(), 200);
  assert.equal(await heading(page), 'Forgot your password?');
  if (shots) await shot(page, 'forgot-password');
  const since = logLines.length;
  await page.getByLabel('Email address').fill(email);
  const answer = await submit(page, 'Continue');
  assert.equal(answer.status(), 200);
  assert.equal(await heading(page), 'Check your email');
  if (shots) await shot(page, 'forgot-password-sent');

  const link = await emailedLink('password_reset', since);
  assert.ok(link.startsWith(`${base}/reset-password?token=`), link);
  await page.goto(link);
  assert.equal(await heading(page), 'Reset your password');
  if (shots) await shot(page, 'reset-password');
  const done = await setPassword(page, newPassword, newPassword);
  assert.equal(done.status(), 200);
  assert.equal(await heading(page), 'Your password has been changed');
  if (shots) await shot(page, 'reset-password-done');

  assert.equal((await signIn(email, newPassword)).status, 200);
  assert.equal((await signIn(email, GOOD)).status, 400, 'the old password no longer works');
  await page.close();
  return link;
}

async function aUsedLinkSaysSo(context, link, shots) {
  const page = await context.newPage();
  const opened = await page.goto(link);
  assert.equal(opened.status(), 410);
  assert.equal(await heading(page), 'This link was already used');
  assert.equal(await page.getByLabel('Email address').count(), 1, 'it offers the forgot-password form');
  if (shots) await shot(page, 'link-used');
  await page.close();
}

const ADMIN_NEW_PASSWORD = 'new harbour lantern gravel';
const since = { js: 0 };

describe('with JavaScript', () => {
  let context;
  before(async () => {
    context = await profile();
  });
  after(() => context.close());

  test('the link printed at start opens the activation page, which activates the admin', async () => {
    assert.ok(firstLink.startsWith(`${base}/activate?token=`), `${firstLink} is under ${base}`);
    await activateThroughThePage(context, firstLink, ADMIN, true);
  });

  test('forgot then reset through the pages', async () => {
    await forgotThenReset(context, ADMIN, ADMIN_NEW_PASSWORD, true);
  });

  test('a used link says so and offers a new one', async () => {
    await aUsedLinkSaysSo(context, firstLink, true);
  });

  test('every page carries the security headers', async () => {
    const page = await context.newPage();
    for (const path of ['/forgot-password', '/activate?token=rat_unknown', '/reset-password']) {
      const response = await page.goto(base + path);
      const headers = response.headers();
      const csp = headers['content-security-policy'];
      for (const directive of ["default-src 'none'", "style-src 'self'", "form-action 'self'", "frame-ancestors 'none'"]) {
        assert.ok(csp.includes(directive), `${path}: ${csp}`);
      }
      assert.equal(headers['referrer-policy'], 'no-referrer', path);
      assert.equal(headers['cache-control'], 'no-store', path);
      await expectPageBasics(page);
    }
    await shot(page, 'link-unknown');
    await page.close();
  });

  test('a form posted from another origin changes nothing', async () => {
    const page = await context.newPage();
    await page.goto(`${base}/forgot-password`);
    const csrf = await page.locator('input[name=csrf]').getAttribute('value');
    // A page of another origin (a data: URL) that posts the same form.
    const attack = `<form method="post" action="${base}/forgot-password"><input name="csrf" value="${csrf}"><input name="email" value="${ADMIN}"><button>go</button></form>`;
    await page.goto(`data:text/html,${encodeURIComponent(attack)}`);
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST'),
      page.getByRole('button', { name: 'go' }).click(),
    ]);
    assert.equal(response.status(), 403);
    await page.close();
  });

  test('the pages reflow at 320 px and at 200 % zoom, with AA contrast', async () => {
    const link = `${base}/forgot-password`;
    for (const [width, scale] of [[320, 1], [640, 2]]) {
      const narrow = await profile({ width, scale });
      const page = await narrow.newPage();
      await page.goto(link);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.ok(overflow <= 0, `${width}px at ${scale * 100}%: ${overflow}px of horizontal scrolling`);
      if (width === 320) await shot(page, 'forgot-password-320px');
      const ratios = await page.evaluate(contrastOfEverythingReadable);
      for (const { what, ratio } of ratios) assert.ok(ratio >= 4.5, `${what}: ${ratio.toFixed(2)}:1`);
      await narrow.close();
    }
  });
});

describe('without JavaScript', () => {
  let context;
  before(async () => {
    context = await profile({ javaScript: false });
    const adminToken = (await signIn(ADMIN, ADMIN_NEW_PASSWORD)).body.access_token;
    const cid = await api('/v1/customers', { method: 'POST', token: adminToken, json: { name: 'Acme' } });
    assert.equal(cid.status, 201, JSON.stringify(cid.body));
    since.js = logLines.length;
    const added = await api(`/v1/customers/${cid.body.id}/users`, {
      method: 'POST',
      token: adminToken,
      json: { email: 'pat@acme.test', first_name: 'Pat', last_name: 'Lee', role: 'full_access' },
    });
    assert.equal(added.status, 201, JSON.stringify(added.body));
  });
  after(() => context.close());

  let link = '';
  test('an invited user activates through the page', async () => {
    link = await emailedLink('activation', since.js);
    await activateThroughThePage(context, link, 'pat@acme.test', false);
  });

  test('forgot then reset through the pages', async () => {
    await forgotThenReset(context, 'pat@acme.test', 'quiet meadow copper kettle', false);
  });

  test('a used link says so', async () => {
    await aUsedLinkSaysSo(context, link, false);
  });
});

test('no request left roster\'s origin', () => {
  assert.deepEqual(foreign, []);
});

/// In the page: the contrast of every element with text of its own, and of
/// the button, against the background it sits on (WCAG 2.2 AA asks 4.5:1).
function contrastOfEverythingReadable() {
  const parse = (color) => color.match(/[\d.]+/g).slice(0, 4).map(Number);
  const luminance = ([r, g, b]) => {
    const channel = (c) => {
      const s = c / 255;
      return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    };
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  };
  const background = (element) => {
    for (let node = element; node; node = node.parentElement) {
      const color = parse(getComputedStyle(node).backgroundColor);
      if (color.length < 4 || color[3] > 0) return color;
    }
    return [255, 255, 255];
  };
  const results = [];
  for (const element of document.body.querySelectorAll('*')) {
    const ownText = [...element.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!ownText) continue;
    const fg = luminance(parse(getComputedStyle(element).color));
    const bg = luminance(background(element));
    const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
    results.push({ what: `${element.tagName.toLowerCase()} "${element.textContent.trim().slice(0, 30)}"`, ratio });
  }
  return results;
}
