// A gateway between the client and a real nginx + verstored (VERSTORE_URL)
// that answers 502 or 504, with nginx's own problem body, after it has
// passed the write on and the server has applied it: verstored committed,
// then died or stalled before answering (doc/API.md 10). The client's
// retry must settle it: each write applied once, and none lost.
import test from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { Verstore, VerstoreError } from '../verstore.js';

const URL = process.env.VERSTORE_URL;
const run = `g${Date.now().toString(36)}`;
const k = (name) => `gateway/${run}/${name}`;

/* nginx's answer, as nginx.conf.example gives it */
const SITE = readFileSync(new globalThis.URL('../../nginx.conf.example',
  import.meta.url), 'utf8');
const PAGES = Object.fromEntries([502, 504].map((status) => [status,
  JSON.parse(SITE.match(new RegExp(`return ${status} '(.*)\\\\n';`))[1])]));

/*
 * The gateway. fail(method, {status, when, between}) makes the next
 * request of that method answer status: when 'after' (the default), once
 * the server has answered it; 'before': without passing it on. between()
 * runs before the gateway answers: another client's write, say.
 */
async function gateway() {
  const faults = [];
  const state = { failed: 0 };
  const srv = createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = chunks.length ? Buffer.concat(chunks) : undefined;
    const i = faults.findIndex((f) => f.method === req.method);
    const fault = i < 0 ? null : faults.splice(i, 1)[0];
    let answer = null;
    if (fault?.when !== 'before') {
      const headers = { ...req.headers };
      for (const h of ['host', 'connection', 'content-length'])
        delete headers[h];
      const up = await fetch(URL + req.url, { method: req.method, headers,
        body });
      answer = { status: up.status, headers: up.headers,
        text: await up.text() };
    }
    if (fault) {
      await fault.between?.();
      state.failed++;
      res.writeHead(fault.status,
        { 'Content-Type': 'application/problem+json' });
      res.end(JSON.stringify(PAGES[fault.status]) + '\n');
      return;
    }
    const out = {};
    answer.headers.forEach((v, name) => {
      if (!['connection', 'content-length', 'transfer-encoding',
        'keep-alive'].includes(name))
        out[name] = v;
    });
    res.writeHead(answer.status, out);
    res.end(answer.text);
  });
  await new Promise((ok) => srv.listen(0, '127.0.0.1', ok));
  state.url = `http://127.0.0.1:${srv.address().port}`;
  state.fail = (method, { status = 502, when = 'after', between } = {}) =>
    faults.push({ method, status, when, between });
  state.close = () => new Promise((ok) => srv.close(ok));
  return state;
}

/* A test run through a gateway of its own, closed after it. */
const through = (fn) => async () => {
  const g = await gateway();
  try {
    await fn(g);
  } finally {
    await g.close();
  }
};

test('nginx\'s 502 and 504 say the outcome is unknown', () => {
  for (const status of [502, 504]) {
    assert.equal(PAGES[status].status, status);
    assert.match(PAGES[status].message, /may or may not have been applied/);
  }
});

for (const status of [502, 504]) {
  test(`writes answered ${status} after the server applied them: retried, ` +
    'each applied once', through(async (g) => {
    const s = new Verstore(g.url, { backoffMs: 1 });
    const key = k(`once-${status}`);
    const fail = (method) => g.fail(method, { status });
    fail('PUT');				// If-None-Match: *
    assert.equal((await s.put(key, { n: 0, l: [] })).version, 1);
    fail('PUT');				// If-Match: "1"
    assert.equal((await s.put(key, { n: 1, l: [] })).version, 2);
    fail('PATCH');
    assert.equal((await s.patch(key, { m: 1 })).version, 3);
    fail('POST');
    assert.equal((await s.append(key, '/l', 'once')).index, 0);
    fail('POST');
    const [r] = await s.txn([{ op: 'patch', key, merge: { t: 1 } }]);
    assert.equal(r.version, 5);
    fail('POST');
    const made = await s.create(k(`made-${status}`), 1, { slug: 'one' });
    fail('POST');
    await s.activities(`${run}-acts-${status}`).upsert([{ id: 1 }]);
    const got = await new Verstore(URL).get(key);
    assert.deepEqual(got.value, { n: 1, l: ['once'], m: 1, t: 1 });
    assert.equal(got.version, 5);	// each write once
    const keys = [];
    for await (const it of s.list(k(`made-${status}`))) keys.push(it.key);
    assert.deepEqual(keys, [made.key]);
    const acts = await new Verstore(URL)
      .activities(`${run}-acts-${status}`).get();
    assert.equal(acts.buckets.reduce((n, b) => n + b.version, 0), 1);
    await s.get(key);
    fail('DELETE');				// If-Match: "5"
    assert.deepEqual(await s.delete(key),
      { key, version: 6, deleted: true });
    assert.equal(g.failed, 8);
  }));
}

test('a 502 before the server saw the write: retried, applied',
through(async (g) => {
  const s = new Verstore(g.url, { backoffMs: 1 });
  g.fail('PUT', { when: 'before' });
  assert.equal((await s.put(k('before'), 'x')).version, 1);
  g.fail('POST', { when: 'before' });
  assert.equal((await s.append(k('before'), '', 1).catch((e) => e))
    .status, 409);		// the retry's own answer: not an array
  assert.equal(g.failed, 2);
  assert.deepEqual((await s.get(k('before'))).value, 'x');
}));

test('a put applied, answered 502, then overwritten by another client ' +
  'before the retry: reported as written, the other\'s write kept',
through(async (g) => {
  const key = k('overtaken');
  const a = new Verstore(g.url, { backoffMs: 1 });
  const b = new Verstore(URL);
  await b.put(key, 10);
  // update: fn applied once, though its retry finds a later value
  await a.get(key);
  g.fail('PUT', { between: () => b.update(key, (v) => v + 100) });
  const r = await a.update(key, (v) => v + 1);
  assert.equal(r.version, 2);
  const now = await b.get(key);
  assert.deepEqual([now.value, now.version], [111, 3]);
  // a plain put, the same way; a's next put is refused, not forced
  await a.get(key);
  g.fail('PUT', { between: () => b.put(key, 'theirs', { force: true }) });
  assert.equal((await a.put(key, 'mine')).version, 4);
  assert.deepEqual((await b.get(key)).value, 'theirs');
  await assert.rejects(a.put(key, 'mine again'),
    (e) => e instanceof VerstoreError && e.status === 412 && !e.retried);
  assert.deepEqual((await b.get(key)).value, 'theirs');
}));

test('a put that never landed, answered 502, while another client wrote: ' +
  'refused (412), not forced over it', through(async (g) => {
  const key = k('refused');
  const a = new Verstore(g.url, { backoffMs: 1 });
  const b = new Verstore(URL);
  await b.put(key, { v: 'first' });
  await a.get(key);
  g.fail('PUT', { when: 'before',
    between: () => b.put(key, { v: 'theirs' }) });
  await assert.rejects(a.put(key, { v: 'mine' }), (e) =>
    e instanceof VerstoreError && e.status === 412 && e.retried &&
    e.current.value.v === 'theirs');
  assert.deepEqual((await b.get(key)).value, { v: 'theirs' });
  // update re-applies its change to theirs: once
  await a.get(key);
  g.fail('PUT', { when: 'before',
    between: () => b.update(key, (v) => ({ ...v, n: 1 })) });
  const r = await a.update(key, (v) => ({ ...v, mine: true }));
  assert.equal(r.version, 4);
  assert.deepEqual((await b.get(key)).value,
    { v: 'theirs', n: 1, mine: true });
}));

test('a create (If-None-Match) applied, answered 502, then overwritten: ' +
  'reported as written', through(async (g) => {
  const key = k('created');
  const a = new Verstore(g.url, { backoffMs: 1 });
  const b = new Verstore(URL);
  g.fail('PUT', { between: async () => {
    await b.get(key);
    await b.put(key, 'theirs');
  } });
  assert.equal((await a.put(key, 'mine')).version, 1);
  const h = await b.history(key);
  assert.deepEqual(h.map((x) => x.version), [2, 1]);
}));
