// An offline store (new Verstore(url, {offline: true}), offline.js) in
// Debian's chromium against the real nginx + verstored: writes made
// offline survive a reload and land merged with another user's, a clash
// opens the dialog; the tabs of a browser share one feed connection and
// lose no change when the tab holding it closes; a write whose answer is
// lost after the server applied it is applied once.
import test from 'node:test';
import assert from 'node:assert/strict';
import { URL_, skip, browser, shot, run, notApi, fromCopy } from
  './lib/browser.js';

const k = (name) => `offline/${run}/${name}`;
const path = (key) => `${URL_}/api/storage/${key}`;
const stored = async (key) => (await (await fetch(path(key))).json());
const put = (key, value) => fetch(path(key), { method: 'PUT',
  headers: { 'Content-Type': 'application/json' },
  body: JSON.stringify({ value }) });
const patch = (key, value) => fetch(path(key), { method: 'PATCH',
  headers: { 'Content-Type': 'application/merge-patch+json' },
  body: JSON.stringify(value) });
const history = async (key) =>
  (await (await fetch(`${path(key)}?history=1`)).json()).versions;
const watchers = async () => Number((await (await fetch(
  `${URL_}/api/metrics`)).text()).match(/^verstore_watchers (\d+)$/m)[1]);
/* The server's feed connections, once at most n (a closed tab's stream
   may take a moment to end); what it has after 5 s otherwise. */
async function atMost(n) {
  for (let t = Date.now(); Date.now() - t < 5000;) {
    if (await watchers() <= n) break;
    await new Promise((ok) => setTimeout(ok, 50));
  }
  return watchers();
}

/* A page of the origin with an offline store as window.store; the
   dialog of conflict.js answers its conflicts. */
async function open(ctx, errors, name) {
  const page = await ctx.newPage();
  page.on('pageerror', (e) => errors.push(`${name}: ${e}`));
  await page.goto(URL_ + '/');
  await start(page);
  return page;
}
const start = (page) => page.evaluate(async () => {
  const { Verstore } = await import('/verstore.js');
  const { openConflict } = await import('/conflict.js');
  window.store = new Verstore(location.origin, { offline: true,
    onConflict: async (ctx) => (await openConflict(ctx)).value });
  await window.store.offline;
});
const status = (page) => page.evaluate(() => window.store.status);
const until = (page, fn, arg, timeout = 10000) =>
  page.waitForFunction(fn, arg, { timeout, polling: 50 });

test('offline: three edits survive a reload offline and land merged; a clash asks',
  { skip }, async () => {
    const keys = ['a', 'b', 'c'].map(k);
    for (const key of keys)
      await put(key, { title: `${key} title`, note: `${key} note` });
    const b = await browser();
    const errors = [];
    try {
      const alice = await b.newContext();
      const bob = await b.newContext();
      const page = await open(alice, errors, 'alice');
      await page.evaluate(async (ks) => {
        for (const key of ks) await window.store.get(key);
      }, keys);
      // Alice goes offline and edits the three
      await alice.setOffline(true);
      const answers = await page.evaluate(async ([a, b, c]) => {
        const s = window.store;
        const edit = async (key, f, v) => {
          const env = await s.get(key, { offline: 'cache' });
          return s.put(key, { ...env.value, [f]: v });
        };
        return [await edit(a, 'title', 'A by Alice'),
          await edit(b, 'note', 'B by Alice'),
          await edit(c, 'title', 'C by Alice')];
      }, keys);
      assert.deepEqual(answers.map((x) => x.pending), [true, true, true]);
      assert.deepEqual(await status(page), { state: 'offline', pending: 3,
        conflicts: 0, leader: false });
      // meanwhile Bob edits other fields of a and b, and the same of c
      const bp = await bob.newPage();
      await bp.goto(URL_ + '/');
      assert.equal((await patch(keys[0], { note: 'a by Bob' })).status, 200);
      assert.equal((await patch(keys[1], { title: 'b by Bob' })).status, 200);
      assert.equal((await patch(keys[2], { title: 'C by Bob' })).status, 200);

      // Alice's tab is reloaded while offline: the page and the modules
      // come from a copy (as from a service worker), the writes from
      // IndexedDB
      await alice.route(notApi, fromCopy);
      await page.reload();
      await start(page);
      assert.deepEqual(await status(page), { state: 'offline', pending: 3,
        conflicts: 0, leader: false });
      const cached = await page.evaluate((key) =>
        window.store.get(key, { offline: 'cache' }), keys[0]);
      assert.equal(cached.cached, true);
      assert.equal(cached.version, 1);
      assert.equal(cached.value.title, 'A by Alice');
      for (const key of keys)	/* nothing sent yet */
        assert.equal((await history(key)).length, 2);

      // online again: a and b land merged; c asks in Alice's tab
      await alice.unroute(notApi, fromCopy);
      await alice.setOffline(false);
      const row = page.locator('verstore-conflict tr.conflict');
      await row.waitFor({ timeout: 10000 });
      assert.match(await row.innerText(), /title[\s\S]*C by Bob[\s\S]*C by Alice/);
      assert.equal((await status(page)).pending, 1);
      await shot(page, 'offline-conflict', { fullPage: false });
      await page.click('verstore-conflict button[name=mine]');
      await until(page, () => window.store.status.pending === 0);
      assert.deepEqual((await stored(keys[0])).value,
        { title: 'A by Alice', note: 'a by Bob' });
      assert.deepEqual((await stored(keys[1])).value,
        { title: 'b by Bob', note: 'B by Alice' });
      assert.deepEqual((await stored(keys[2])).value,
        { title: 'C by Alice', note: `${keys[2]} note` });
      // each applied once: Bob's version, then Alice's
      for (const key of keys)
        assert.equal((await history(key)).length, 3, key);
      assert.equal((await status(page)).state, 'online');
      assert.deepEqual(errors, []);
    } finally {
      await b.close();
    }
  });

/* Four tabs of one browser watch; the one holding the feed closes while
   changes are written. noLocks: a browser without the Web Locks API. */
async function tabs4({ noLocks }) {
  const b = await browser();
  const errors = [];
  const pre = k(noLocks ? 'feed-bc/' : 'feed/');
  try {
    const before = await watchers();
    const ctx = await b.newContext();
    if (noLocks)
      await ctx.addInitScript(() => { delete Navigator.prototype.locks; });
    const feeds = [];	/* the feed requests the tabs made */
    ctx.on('request', (r) => {
      if (r.url().includes('/api/changes?') &&
          !r.url().includes('since=9999999999'))
        feeds.push(r.url());
    });
    const tabs = [];
    for (let i = 0; i < 4; i++) {
      const page = await open(ctx, errors, `tab ${i}`);
      await page.evaluate((prefix) => {
        window.got = [];
        return window.store.watch(prefix, (c) => { window.got.push(c); })
          .ready;
      }, pre);
      tabs.push(page);
    }
    const leader = async (among) => {	/* the one tab leading */
      for (let t = Date.now(); Date.now() - t < 15000;) {
        const l = [];
        for (const p of among) l.push((await status(p)).leader);
        if (l.filter(Boolean).length === 1 && (!noLocks ||
            Date.now() - t > 4000))	/* two that claimed at once */
          return among[l.indexOf(true)];
        await new Promise((ok) => setTimeout(ok, 100));
      }
      assert.fail('no one tab leads');
    };
    assert.equal(await tabs[0].evaluate(() => 'locks' in navigator),
      !noLocks);
    const first = await leader(tabs);
    if (!noLocks) assert.equal(first, tabs[0]);
    const seen = async (page, n) => until(page, (m) =>
      window.got.length >= m, n);
    assert.equal((await put(`${pre}0`, 0)).status, 201);
    for (const t of tabs) await seen(t, 1);
    assert.ok(await atMost(before + 1) <= before + 1);
    if (!noLocks) assert.equal(feeds.length, 1, feeds.join('\n'));

    // a tab's save reaches the others through the one feed
    await tabs[2].evaluate((key) => window.store.put(key, 'from tab 2'),
      `${pre}1`);
    for (const t of tabs) await seen(t, 2);

    // writes go on while the tab that holds the feed closes
    const writes = (async () => {
      for (let i = 2; i < 30; i++)
        assert.equal((await put(`${pre}${i}`, i)).status, 201);
    })();
    await first.close();
    await writes;
    const rest = tabs.filter((t) => t !== first);
    for (const t of rest) await seen(t, 30);
    await leader(rest);
    for (const t of rest) {
      const keys = await t.evaluate(() => window.got.map((c) => c.key));
      assert.deepEqual(keys, Array.from({ length: 30 },
        (_, i) => `${pre}${i}`));
    }
    assert.ok(await atMost(before + 1) <= before + 1);
    if (!noLocks) assert.equal(feeds.length, 2, feeds.join('\n'));
    assert.deepEqual(errors, []);
  } finally {
    await b.close();
  }
}

test('offline: four tabs make one feed connection; closing its tab loses no change',
  { skip }, () => tabs4({ noLocks: false }));

test('offline: without Web Locks the tabs elect one over BroadcastChannel',
  { skip }, () => tabs4({ noLocks: true }));

test('offline: a write whose answer is lost after it was applied is applied once',
  { skip }, async () => {
    const b = await browser();
    const errors = [];
    try {
      const key = k('drop'), log = k('drop-log');
      await put(key, { n: 1 });
      await put(log, { items: [] });
      const ctx = await b.newContext();
      const page = await open(ctx, errors, 'tab');
      await page.evaluate((x) => window.store.get(x), key);
      // the server answers, the connection drops before the page hears it
      let dropped = 0;
      await ctx.route(`${URL_}/api/storage/offline/**`, async (r) => {
        const m = r.request().method();
        if ((m === 'PUT' || m === 'POST') && dropped < 2) {
          dropped++;
          await r.fetch();
          return r.abort('connectionreset');
        }
        return r.continue();
      });
      const answers = await page.evaluate(async ([x, l]) => [
        await window.store.put(x, { n: 2 }),
        await window.store.append(l, '/items', 'once'),
      ], [key, log]);
      assert.deepEqual(answers.map((a) => a.pending), [true, true]);
      await until(page, () => window.store.status.pending === 0);
      assert.equal(dropped, 2);
      assert.deepEqual((await stored(key)).value, { n: 2 });
      assert.equal((await history(key)).length, 2);
      assert.deepEqual((await stored(log)).value, { items: ['once'] });
      assert.equal((await history(log)).length, 2);
      // the store goes on from the version its write made
      assert.equal((await page.evaluate((x) =>
        window.store.put(x, { n: 3 }), key)).version, 3);
      assert.deepEqual(errors, []);
    } finally {
      await b.close();
    }
  });

test('offline: clearOffline (a logout) forgets what waits and what was read',
  { skip }, async () => {
    const b = await browser();
    const errors = [];
    try {
      const key = k('logout');
      await put(key, { n: 1 });
      const ctx = await b.newContext();
      const page = await open(ctx, errors, 'tab');
      await page.evaluate((x) => window.store.get(x), key);
      await ctx.setOffline(true);
      assert.equal((await page.evaluate((x) =>
        window.store.put(x, { n: 2 }), key)).pending, true);
      const after = await page.evaluate(async (x) => {
        await window.store.clearOffline();
        const { Verstore } = await import('/verstore.js');
        const again = new Verstore(location.origin, { offline: true });
        await again.offline;
        let read;
        try {
          read = await again.get(x, { offline: 'cache' });
        } catch (e) {
          read = e.name;
        }
        return { cleared: window.store.status.pending,
          reopened: again.status.pending, read };
      }, key);
      assert.deepEqual(after, { cleared: 0, reopened: 0, read: 'TypeError' });
      await ctx.setOffline(false);
      await new Promise((ok) => setTimeout(ok, 1500));
      assert.deepEqual((await stored(key)).value, { n: 1 });	/* never sent */
      assert.deepEqual(errors, []);
    } finally {
      await b.close();
    }
  });
