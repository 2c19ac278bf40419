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

/**
 * Opens askConflict(ctx) in page: resolves to {value} it resolved to, or
 * {error} with the name of its rejection.
 */
function ask(page, ctx) {
  const answer = page.evaluate(async (c) => {
    const { askConflict } = await import('/conflict.js');
    return askConflict(c).then((value) => ({ value }),
      (e) => ({ error: e.name }));
  }, ctx);
  answer.catch(() => {});	/* a test that fails first leaves it */
  return answer;
}

test('the conflict dialog: theirs and yours per field, picks applied',
  { skip }, async () => {
    const b = await browser();
    try {
      const page = await b.newPage();
      await page.goto(URL_ + '/');
      // the person keeps their title and takes the other's status; the
      // fields that only one side changed are kept from both
      const answer = ask(page, { key: 'crm/acme',
        base: { title: 'Acme', status: 'lead', phone: '1', city: 'Oslo' },
        yours: { title: 'Acme AS', status: 'won', phone: '2', city: 'Oslo' },
        theirs: { title: 'ACME', status: 'lost', phone: '1', city: 'Bergen' },
      });
      const d = page.locator('verstore-conflict dialog');
      await d.waitFor();
      const rows = page.locator('verstore-conflict tr.conflict');
      assert.equal(await rows.count(), 2);
      assert.match(await rows.nth(0).innerText(), /^title\s+ACME\s+Acme AS$/);
      assert.match(await rows.nth(1).innerText(), /^status\s+lost\s+won$/);
      await rows.nth(1).locator('td.theirs input').check();
      await shot(page, 'conflict-dialog');
      await page.locator('verstore-conflict button[name=picked]').click();
      assert.deepEqual(await answer, { value:
        { title: 'Acme AS', status: 'lost', phone: '2', city: 'Bergen' } });
      assert.equal(await page.locator('verstore-conflict').count(), 0);
      // cancel rejects, so that update() writes nothing
      const cancelled = ask(page,
        { base: { a: 1 }, yours: { a: 2 }, theirs: { a: 3 } });
      await page.locator('verstore-conflict button[name=cancel]').click();
      assert.deepEqual(await cancelled, { error: 'AbortError' });
    } finally {
      await b.close();
    }
  });

test('the conflict dialog: values as a person reads them, and who saved ' +
  'theirs, when', { skip }, async () => {
  const b = await browser();
  try {
    const page = await b.newPage();
    await page.goto(URL_ + '/');
    const answer = ask(page, { key: 'examples/kari',
      base: { name: 'Kari', done: null, n: 1, tags: ['a'] },
      yours: { name: 'Kari N', done: true, n: 2, tags: ['a', 'b'],
        address: { street: 'Kirkegata 2', city: 'Oslo' },
        deep: { a: { b: 1 } } },
      theirs: { name: 'Kari Nordmann', done: false, n: 1.5, tags: [],
        address: { street: 'Storgata 1', city: 'Oslo' },
        deep: { a: { b: 2 } } },
      by: 'bob', at: new Date(Date.now() - 125e3).toISOString() });
    await page.locator('verstore-conflict dialog').waitFor();
    const cells = (f) => page.locator(`verstore-conflict ` +
      `tr[data-pointer="/${f}"] td:not(.field)`).allInnerTexts();
    assert.deepEqual(await cells('name'), ['Kari Nordmann', 'Kari N']);
    assert.deepEqual(await cells('done'), ['no', 'yes']);
    assert.deepEqual(await cells('n'), ['1.5', '2']);
    assert.deepEqual(await cells('tags'), ['(none)', 'a, b']);
    assert.deepEqual(await cells('address'), ['street: Storgata 1\ncity: Oslo',
      'street: Kirkegata 2\ncity: Oslo']);
    assert.deepEqual(await cells('deep'), [JSON.stringify({ a: { b: 2 } },
      null, 2), JSON.stringify({ a: { b: 1 } }, null, 2)]);
    assert.equal(await page.locator('verstore-conflict th.theirs')
      .innerText(), 'Theirs\nby bob, 2 minutes ago');
    assert.match(await page.locator('verstore-conflict dialog').innerText(),
      /bob saved examples\/kari 2 minutes ago, while you were changing it\./);
    await shot(page, 'conflict-dialog-values', { fullPage: false });
    await page.locator('verstore-conflict button[name=cancel]').click();
    assert.deepEqual(await answer, { error: 'AbortError' });
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
