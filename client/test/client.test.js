// The client against a real nginx + verstored: VERSTORE_URL names it
// (tests/integ/test_client.py starts one and runs this file).
import test from 'node:test';
import assert from 'node:assert/strict';
import { Verstore, VerstoreError } from '../verstore.js';

const URL = process.env.VERSTORE_URL;
const run = `r${Date.now().toString(36)}`;
const k = (name) => `client/${run}/${name}`;

test('get, put with the version it read, and a stale put refused', async () => {
  const a = new Verstore(URL), b = new Verstore(URL);
  const created = await a.put(k('doc'), { n: 1 });
  assert.equal(created.version, 1);
  assert.equal((await b.get(k('doc'))).value.n, 1);
  await a.put(k('doc'), { n: 2 });
  await assert.rejects(b.put(k('doc'), { n: 3 }), (e) => {
    assert.ok(e instanceof VerstoreError);
    assert.equal(e.status, 412);
    assert.equal(e.code, 'PRECONDITION_FAILED');
    assert.deepEqual(e.current.value, { n: 2 });
    assert.equal(e.headers.get('ETag'), '"2"');	// of the current state
    return true;
  });
  // a put of a key never read must not replace one that exists
  await assert.rejects(new Verstore(URL).put(k('doc'), { n: 9 }),
    (e) => e.status === 412);
  // a refusal teaches b nothing: the same put again (a double click, a
  // retrying wrapper) is refused again, until b reads
  await assert.rejects(b.put(k('doc'), { n: 3 }), (e) => e.status === 412);
  assert.deepEqual((await b.get(k('doc'))).value, { n: 2 });
  assert.equal((await b.put(k('doc'), { n: 3 })).version, 3);
});

test('a version is kept only with its whole value: a put after a patch, ' +
  'an append or a merged put of its own is refused, not a lost update',
async () => {
  const a = new Verstore(URL), b = new Verstore(URL);
  const key = k('whole');
  const mine = { x: 1, y: 1 };
  await a.put(key, mine);
  await b.get(key);
  await b.put(key, { x: 1, y: 2 });			// b's y
  for (const write of [
    () => a.patch(key, { z: 1 }),
    () => a.jsonPatch(key, [{ op: 'add', path: '/w', value: 1 }]),
    () => a.append(key, '/log', 'seen'),
    () => a.put(key, { ...mine, x: 5 }, { merge: true }),
  ]) {
    await write();
    // a's copy is still {x: 1, y: 1}: putting it would undo b's y
    await assert.rejects(a.put(key, { ...mine, x: 6 }),
      (e) => e.status === 412 && e.current.value.y === 2);
  }
  assert.deepEqual((await b.get(key)).value,
    { x: 5, y: 2, z: 1, w: 1, log: ['seen'] });
  const fresh = await a.get(key);
  assert.equal((await a.put(key, { ...fresh.value, x: 6 })).version,
    fresh.version + 1);
  // deleted by b: a's put is refused until a sees it gone, then makes it
  await b.delete(key, { force: true });
  await assert.rejects(a.put(key, { x: 7 }), (e) => e.status >= 400);
  await assert.rejects(a.get(key), (e) => e.code === 'DELETED');
  assert.equal((await a.put(key, { x: 7 })).version, fresh.version + 3);
});

test('update re-applies its change after conflicts: 20 increments land', async () => {
  await new Verstore(URL).put(k('counter'), { n: 0 });
  await Promise.all(Array.from({ length: 20 }, () =>
    new Verstore(URL).update(k('counter'), (v) => ({ n: v.n + 1 }))));
  assert.equal((await new Verstore(URL).get(k('counter'))).value.n, 20);
});

test('update with merge: the server merges disjoint edits', async () => {
  const a = new Verstore(URL), b = new Verstore(URL);
  await a.put(k('card'), { title: 'x', body: 'y' });
  await b.get(k('card'));
  await a.update(k('card'), (v) => ({ ...v, title: 'X' }));
  const r = await b.put(k('card'), { title: 'x', body: 'Y' }, { merge: true });
  assert.deepEqual(r.merged, { base: 1, current: 2 });
  assert.deepEqual((await a.get(k('card'))).value, { title: 'X', body: 'Y' });
  // a clash names the pointers; onConflict may decide. a writes the
  // same field between b's read and b's write.
  let racing = true;
  const seen = [];
  const out = await b.update(k('card'), async (v) => {
    if (racing) {
      racing = false;
      await a.patch(k('card'), { title: 'A' });
    }
    return { ...v, title: 'B' };
  }, {
    merge: true,
    onConflict: (c) => { seen.push(c); return { ...c.theirs, title: 'AB' }; },
  });
  assert.equal(out.version, 5);
  assert.deepEqual(seen.map((c) => [c.base.title, c.yours.title,
    c.theirs.title]), [['X', 'B', 'A']]);
  assert.deepEqual((await a.get(k('card'))).value, { title: 'AB', body: 'Y' });
  assert.deepEqual(seen.map((c) => c.conflicts), [['/title']]);
  // who wrote theirs, and when: version 4, by nobody under auth none
  const four = (await a.history(k('card'))).find((h) => h.version === 4);
  assert.deepEqual(seen.map((c) => [c.by, c.at]), [[null, four.updated_at]]);
});

test('create, patch, jsonPatch, append with a stamp, txn, list', async () => {
  const s = new Verstore(URL);
  const c = await s.create(k('cards'), { done: false }, { slug: 'My Card' });
  assert.equal(c.key, `${k('cards')}/my-card`);
  await s.patch(c.key, { done: true, tags: ['a'] });
  await s.jsonPatch(c.key, [{ op: 'add', path: '/tags/-', value: 'b' }]);
  await s.append(c.key, '/comments', { text: 'hi' }, { stamp: true });
  const got = (await s.get(c.key)).value;
  assert.deepEqual(got.tags, ['a', 'b']);
  assert.equal(got.comments[0].text, 'hi');
  assert.ok(got.comments[0].at);
  const res = await s.txn([{ op: 'get', key: c.key },
    { op: 'put', key: k('cards/other'), value: 1 }]);
  assert.equal(res[0].value.done, true);
  const keys = [];
  for await (const it of s.list(k('cards'), { limit: 1 })) keys.push(it.key);
  assert.deepEqual(keys, [`${k('cards')}/my-card`, `${k('cards')}/other`]);
  const h = await s.history(c.key);
  assert.equal(h[0].version, 4);
  assert.equal((await s.version(c.key, 1)).value.done, false);
});

test('activities: upsert, get, delete by id', async () => {
  const set = new Verstore(URL).activities(`${run}-acts`);
  await set.upsert([{ id: 1, t: 'a' }, { id: 'x', t: 'b' }]);
  await set.delete([1]);
  const got = await set.get();
  assert.deepEqual(got.items, [{ id: 'x', t: 'b' }]);
});

/*
 * A TCP proxy in front of nginx that, while `cut` is above 0, lets a
 * request through and closes the client's connection when the answer
 * starts: the write is applied, and the client sees only a dropped
 * connection.
 */
async function cutter() {
  const { createServer, connect } = await import('node:net');
  const up = new globalThis.URL(URL);
  const state = { cut: 0, cuts: 0 };
  const srv = createServer((client) => {
    const server = connect(Number(up.port), up.hostname);
    client.pipe(server);
    server.on('data', (chunk) => {
      if (state.cut > 0) {
        state.cut--;
        state.cuts++;
        client.destroy();
        server.destroy();
        return;
      }
      client.write(chunk);
    });
    server.on('end', () => client.end());
    for (const s of [client, server])
      s.on('error', () => { client.destroy(); server.destroy(); });
  });
  await new Promise((ok) => srv.listen(0, '127.0.0.1', ok));
  state.url = `http://127.0.0.1:${srv.address().port}`;
  state.close = () => srv.close();
  return state;
}

test('a connection dropped after the write reached the server: retried, applied once', async () => {
  const proxy = await cutter();
  try {
    const s = new Verstore(proxy.url, { backoffMs: 1 });
    await s.put(k('dropped'), { l: [], n: 0 });
    proxy.cut = 1;
    await s.append(k('dropped'), '/l', 'once');
    proxy.cut = 1;
    await s.patch(k('dropped'), { n: 1 });
    proxy.cut = 1;
    const made = await s.create(k('made'), { x: 1 }, { slug: 'only one' });
    assert.equal(proxy.cuts, 3);
    const r = await new Verstore(URL).get(k('dropped'));
    assert.deepEqual(r.value, { l: ['once'], n: 1 });
    assert.equal(r.version, 3);	// put, append, patch: each once
    const made2 = [];
    for await (const it of s.list(k('made'))) made2.push(it.key);
    assert.deepEqual(made2, [made.key]);
  } finally {
    proxy.close();
  }
});

test('a write whose answer was lost is retried and applied once', async () => {
  let drop = 1;
  const flaky = async (url, init) => {
    const res = await fetch(url, init);
    if (init.method === 'POST' && drop-- > 0)
      throw new TypeError('connection reset after the request went out');
    return res;
  };
  const s = new Verstore(URL, { fetch: flaky, backoffMs: 1 });
  await s.put(k('log'), { l: [] });
  await s.append(k('log'), '/l', 'once');
  assert.deepEqual((await s.get(k('log'))).value.l, ['once']);
});

for (const mode of ['sse', 'poll']) {
  test(`watch (${mode}) tells of changes under its prefix, and saveLater debounces`, async () => {
    const s = new Verstore(URL);
    const seen = [];
    const live = k(`live-${mode}/`);
    const errors = [];
    const before = await s.seq();
    const w = s.watch(live, (c) => {
      seen.push(c.key);
      if (c.key.endsWith('/a')) throw new Error('a page bug');	// goes on
    }, { wait: 5, mode, onError: (e) => errors.push(e.message) });
    const from = await w.ready;		// other tests write meanwhile
    assert.ok(from >= before && from <= await s.seq(), from);
    await new Verstore(URL).put(live + 'a', 1);
    await new Verstore(URL).put(k(`elsewhere-${mode}`), 1);
    const saves = [1, 2, 3].map((n) => s.saveLater(live + 'b', { n }, 100));
    const written = await Promise.all(saves);	// every call settles
    assert.deepEqual(written.map((r) => r.version), [1, 1, 1]);
    const deadline = Date.now() + 5000;
    while (seen.length < 2 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    w.close();
    await w.done;
    assert.deepEqual(seen.sort(), [live + 'a', live + 'b']);
    assert.deepEqual(errors, ['a page bug']);
    const b = await s.get(live + 'b');
    assert.deepEqual([b.value, b.version], [{ n: 3 }, 1]);
  });
}

for (const mode of ['sse', 'poll']) {
  test(`watch (${mode}) delivers a key holding U+2028 or U+2029, and what ` +
    'comes after it', async () => {
    const s = new Verstore(URL);
    const live = k(`sep-${mode}/`);
    const seen = [];
    const w = s.watch(live, (c) => { seen.push(c.key); }, { wait: 5, mode });
    await w.ready;
    const keys = [live + 'a\u2028b', live + 'c\u2029d', live + 'e'];
    for (const key of keys) await new Verstore(URL).put(key, 1);
    const deadline = Date.now() + 5000;
    while (seen.length < keys.length && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    w.close();
    await w.done;
    assert.deepEqual(seen, keys);
  });
}

test('watch ends with the refusal when retrying cannot help', async () => {
  const w = new Verstore(URL).watch('x/', () => {}, { since: -1 });
  await assert.rejects(w.done, (e) => e instanceof VerstoreError &&
    e.status === 400);
  // refused before it knew where to start: ready rejects too
  const refuse = async () => new Response('{"code": "UNAUTHORIZED"}',
    { status: 401, headers: { 'Content-Type': 'application/problem+json' } });
  const r = new Verstore(URL, { fetch: refuse }).watch('x/', () => {});
  await assert.rejects(r.ready, (e) => e.status === 401);
  await assert.rejects(r.done, (e) => e.status === 401);
});

test('watch closed before it started stops at once', async () => {
  const w = new Verstore(URL).watch('x/', () => {});
  w.close();
  const t0 = Date.now();
  await w.done;
  assert.ok(Date.now() - t0 < 2000);
});

test('a prefix or key with a space is sent as %20, not +', async () => {
  const s = new Verstore(URL);
  const seen = [];
  const w = s.watch(k('my notes/'), (c) => { seen.push(c.key); });
  await w.ready;
  await s.put(k('my notes/a b'), 1);
  await s.put(k('my notes/a+b'), 1);
  await s.put(k('my notes/a c'), 1);
  const keys = [];
  for await (const it of s.list(k('my notes/'), { limit: 1 })) keys.push(it.key);
  assert.deepEqual(keys, [k('my notes/a b'), k('my notes/a c'),
    k('my notes/a+b')]);
  const deadline = Date.now() + 5000;
  while (seen.length < 3 && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 50));
  w.close();
  assert.equal(seen.length, 3);
});

/*
 * A fetch that, once, sends the request and then reports a network error:
 * the answer is lost on the way back.
 */
function losing(methods) {
  let lose = 1;
  return async (url, init) => {
    const res = await fetch(url, init);
    if (methods.includes(init.method) && lose-- > 0) {
      await res.text();
      throw new TypeError('fetch failed');
    }
    return res;
  };
}

test('a PUT or DELETE repeated after a lost answer is not undone or doubled', async () => {
  const a = new Verstore(URL, { fetch: losing(['PUT']), backoffMs: 1 });
  await new Verstore(URL).put(k('counted'), 10);
  // the first attempt lands; its repeat is refused (412) by it: success,
  // and fn is not applied a second time
  const r = await a.update(k('counted'), (v) => v + 1);
  assert.equal(r.version, 2);
  assert.equal((await a.get(k('counted'))).value, 11);
  const d = new Verstore(URL, { fetch: losing(['DELETE']), backoffMs: 1 });
  await d.get(k('counted'));
  assert.deepEqual(await d.delete(k('counted')),
    { key: k('counted'), version: 3, deleted: true });
});

test('saveLater writes one key one value at a time: the last one stays', async () => {
  const s = new Verstore(URL);
  const first = s.saveLater(k('later'), 'older', 1);
  await new Promise((r) => setTimeout(r, 5));	// its write under way
  const second = s.saveLater(k('later'), 'newer', 1);
  await Promise.all([first, second]);
  assert.equal((await s.get(k('later'))).value, 'newer');
});

test('a key with a dot segment is refused, never resolved to another', async () => {
  await assert.rejects(new Verstore(URL).put('a/../b', 1, { force: true }),
    (e) => e.status === 400 && e.code === 'INVALID_KEY');
});

test('save: an edit begun long ago merges, and a clash goes to onConflict', async () => {
  const a = new Verstore(URL), b = new Verstore(URL);
  await a.put(k('form'), { name: 'Ann', city: 'Oslo', tel: '1' });
  const opened = await b.get(k('form'));		// b opens the form
  await a.patch(k('form'), { city: 'Bergen' });	// a edits meanwhile
  const r = await b.save(k('form'), opened, { ...opened.value, tel: '2' });
  assert.deepEqual(r.merged, { base: 1, current: 2 });
  assert.deepEqual((await a.get(k('form'))).value,
    { name: 'Ann', city: 'Bergen', tel: '2' });
  // the same field: onConflict sees base, yours, theirs and the pointer
  const seen = [];
  const again = await a.get(k('form'));
  const theirs = await b.patch(k('form'), { name: 'Anna' });
  const w = await a.save(k('form'), again, { ...again.value, name: 'Anne' },
    { onConflict: (c) => { seen.push(c); return { ...c.theirs, name: 'Anne' }; } });
  assert.deepEqual(seen.map((c) => [c.base.name, c.yours.name, c.theirs.name,
    c.conflicts]), [['Ann', 'Anne', 'Anna', ['/name']]]);
  // and who wrote theirs, when: nobody is named under auth none
  assert.deepEqual(seen.map((c) => [c.by, c.at]),
    [[null, theirs.updated_at]]);
  assert.equal(w.version, 5);
  // without onConflict the refusal is thrown, and nothing is written
  await assert.rejects(b.save(k('form'), again, { ...again.value, name: 'X' }),
    (e) => e.code === 'MERGE_CONFLICT');
  assert.equal((await a.get(k('form'))).value.name, 'Anne');
});
