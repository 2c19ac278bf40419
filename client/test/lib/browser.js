// What the browser tests share: Debian's chromium through playwright-core,
// the server under test (VERSTORE_URL), screenshots (VERSTORE_SHOTS) and
// two pages as two users. A test file skips itself with `skip` when
// playwright-core (npm ci in client/) or /usr/bin/chromium is missing.
import { existsSync, mkdirSync } from 'node:fs';

export const URL_ = process.env.VERSTORE_URL;
const CHROMIUM = '/usr/bin/chromium';
let chromium = null;
try {
  ({ chromium } = await import('playwright-core'));
} catch { /* not installed */ }

/** false, or why the browser tests cannot run here. */
export const skip = !chromium || !existsSync(CHROMIUM) ?
  'needs playwright-core (npm ci in client/) and /usr/bin/chromium' : false;

/** A headless chromium; close it in a finally. */
export function browser() {
  return chromium.launch({ executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu'] });
}

/**
 * Saves a screenshot as VERSTORE_SHOTS/name.png (when that is set): the
 * whole page, or the window only (fullPage: false; a modal dialog's
 * backdrop covers only the window).
 */
export async function shot(page, name, { fullPage = true } = {}) {
  if (!process.env.VERSTORE_SHOTS) return;
  mkdirSync(process.env.VERSTORE_SHOTS, { recursive: true });
  await page.screenshot({ path: `${process.env.VERSTORE_SHOTS}/${name}.png`,
    fullPage });
}

/**
 * Opens path (e.g. '/demo/crm.html?card=x') as each named user, each in a
 * context of its own (its own sessionStorage), and collects page errors:
 * a test should end with assert.deepEqual(errors, []). base: another
 * server than VERSTORE_URL's.
 * @returns {Promise<{pages: import('playwright-core').Page[], errors: string[]}>}
 */
export async function asUsers(b, path, users, { base = URL_ } = {}) {
  const errors = [];
  const pages = [];
  for (const u of users) {
    const ctx = await b.newContext({ viewport: { width: 1000, height: 800 } });
    const p = await ctx.newPage();
    p.on('pageerror', (e) => errors.push(`${u}: ${e}`));
    const sep = path.includes('?') ? '&' : '?';
    await p.goto(`${base}${path}${sep}user=${encodeURIComponent(u)}`);
    pages.push(p);
  }
  return { pages, errors };
}

/** A unique name for this run, so that tests never see each other's keys. */
export const run = `r${Date.now().toString(36)}`;

/**
 * With context.route(notApi, fromCopy), a page offline still loads: the
 * origin's files (not its API) come from the server to the test, as a
 * service worker would give them from its cache.
 * @param {URL} u
 */
export const notApi = (u) => u.origin === URL_ &&
  !u.pathname.startsWith('/api/');
/** @param {import('playwright-core').Route} route */
export async function fromCopy(route) {
  const res = await fetch(route.request().url());
  await route.fulfill({ status: res.status,
    contentType: res.headers.get('content-type') ?? undefined,
    body: Buffer.from(await res.arrayBuffer()) });
}
