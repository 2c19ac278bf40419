// In a real browser: Debian's chromium driven by playwright-core, against
// nginx + verstored (VERSTORE_URL). Skipped without either.
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import http from 'node:http';

const URL_ = process.env.VERSTORE_URL;
const CHROMIUM = '/usr/bin/chromium';
const SHOTS = process.env.VERSTORE_SHOTS;
let chromium = null;
try {
  ({ chromium } = await import('playwright-core'));
} catch { /* not installed */ }
const skip = !chromium || !existsSync(CHROMIUM) ?
  'needs playwright-core (npm ci in client/) and /usr/bin/chromium' : false;

async function browser() {
  return chromium.launch({ executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu'] });
}

async function shot(page, name) {
  if (!SHOTS) return;
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: `${SHOTS}/${name}.png` });
}

test('the shared note: two windows, each sees the other live', { skip },
  async () => {
    const b = await browser();
    try {
      const [p1, p2] = [await b.newPage(), await b.newPage()];
      const logs = [];
      for (const p of [p1, p2]) {
        p.on('pageerror', (e) => logs.push(String(e)));
        await p.goto(URL_ + '/');
      }
      await p1.fill('#note', 'hello from one');
      await p2.waitForFunction(() =>
        document.getElementById('note').value === 'hello from one',
      null, { timeout: 3000 }).catch((e) => {
        throw new Error(`${e.message}; page log: ${logs.join(' | ')}`);
      });
      // the page leaves a field alone while the user is in it
      await p1.evaluate(() => document.activeElement.blur());
      await p2.fill('#note', 'and hello from two');
      await p1.waitForFunction(() =>
        document.getElementById('note').value === 'and hello from two',
      null, { timeout: 3000 });
      await shot(p1, 'note-window-1');
      const r = await fetch(URL_ + '/api/storage/demo/note');
      assert.equal((await r.json()).value.text, 'and hello from two');
    } finally {
      await b.close();
    }
  });

/* A page from another origin, which writes to the store with fetch. */
function origin(port) {
  const page = `<!doctype html><script>
    window.tryWrite = () => fetch('${URL_}/api/storage/cors/x',
      { method: 'PUT', headers: { 'Content-Type': 'application/json',
        'If-Match': '*' }, body: JSON.stringify({ value: ${port} }) })
      .then((r) => r.status, (e) => 'refused');
  </script>`;
  const srv = http.createServer((q, r) => {
    r.setHeader('Content-Type', 'text/html');
    r.end(page);
  });
  return new Promise((ok) => srv.listen(port, '127.0.0.1', () => ok(srv)));
}

test('CORS: a listed origin may use the store, another may not', { skip },
  async () => {
    const listed = Number(process.env.VERSTORE_ORIGIN_PORT);
    const servers = [await origin(listed), await origin(0)];
    const other = servers[1].address().port;
    await fetch(URL_ + '/api/storage/cors/x', { method: 'PUT',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ value: 0 }) });
    const b = await browser();
    try {
      const page = await b.newPage();
      await page.goto(`http://127.0.0.1:${listed}/`);
      assert.equal(await page.evaluate(() => window.tryWrite()), 200);
      await page.goto(`http://127.0.0.1:${other}/`);
      assert.equal(await page.evaluate(() => window.tryWrite()), 'refused');
    } finally {
      await b.close();
      for (const s of servers) s.close();
    }
  });
