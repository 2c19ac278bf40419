// In a real browser: Debian's chromium driven by playwright-core, against
// nginx + verstored (VERSTORE_URL): the index, the conflict dialog, CORS.
// Each demo has a test file of its own (demo-*.test.js).
import test from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { URL_, skip, browser, shot } from './lib/browser.js';

test('the index links the five demos, and each page loads', { skip },
  async () => {
    const b = await browser();
    try {
      const page = await b.newPage();
      const errors = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(URL_ + '/');
      const links = await page.$$eval('#demos a', (as) =>
        as.map((a) => a.getAttribute('href')));
      assert.equal(links.length, 5);
      await shot(page, 'index');
      for (const href of links) {
        const r = await page.goto(URL_ + href);
        assert.equal(r.status(), 200, href);
      }
      assert.deepEqual(errors, []);
    } finally {
      await b.close();
    }
  });

test('the conflict dialog: theirs and yours per field, picks applied',
  { skip }, async () => {
    const b = await browser();
    try {
      const page = await b.newPage();
      await page.goto(URL_ + '/');
      // the person keeps their title and takes the other's status; the
      // fields that only one side changed are kept from both
      const answer = page.evaluate(async () => {
        const { askConflict } = await import('/conflict.js');
        return askConflict({ key: 'crm/acme',
          base: { title: 'Acme', status: 'lead', phone: '1', city: 'Oslo' },
          yours: { title: 'Acme AS', status: 'won', phone: '2', city: 'Oslo' },
          theirs: { title: 'ACME', status: 'lost', phone: '1', city: 'Bergen' },
        });
      });
      const d = page.locator('verstore-conflict dialog');
      await d.waitFor();
      const rows = page.locator('verstore-conflict tr.conflict');
      assert.equal(await rows.count(), 2);
      assert.match(await rows.nth(0).innerText(), /^title[\s\S]*"ACME"[\s\S]*"Acme AS"/);
      assert.match(await rows.nth(1).innerText(), /^status[\s\S]*"lost"[\s\S]*"won"/);
      await rows.nth(1).locator('td.theirs input').check();
      await shot(page, 'conflict-dialog');
      await page.locator('verstore-conflict button[name=picked]').click();
      assert.deepEqual(await answer,
        { title: 'Acme AS', status: 'lost', phone: '2', city: 'Bergen' });
      assert.equal(await page.locator('verstore-conflict').count(), 0);
      // cancel rejects, so that update() writes nothing
      const cancelled = page.evaluate(async () => {
        const { askConflict } = await import('/conflict.js');
        return askConflict({ base: { a: 1 }, yours: { a: 2 }, theirs: { a: 3 } })
          .then(() => 'written', (e) => e.name);
      });
      await page.locator('verstore-conflict button[name=cancel]').click();
      assert.equal(await cancelled, 'AbortError');
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
