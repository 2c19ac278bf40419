// Presence in the demos (doc/API.md 13), in a real browser, as two people:
// the journey editor says "ann is editing" and greys the field she is in;
// a second editor asking for the lock sees who holds it; the customer card
// says who else has it open; a tab closed without leaving is gone for the
// other within its ttl. And the library's presence() and onPresence().
import test from 'node:test';
import assert from 'node:assert/strict';
import { URL_, skip, browser, shot, asUsers, run } from './lib/browser.js';
import { Verstore } from '../verstore.js';

const TTL = 6;		/* seconds: what the pages are told to use */
const text = (page, sel, re, timeout = 5000) => page.waitForFunction(
  ([sel, re]) => new RegExp(re).test(
    document.querySelector(sel)?.textContent ?? ''), [sel, re.source],
  { timeout });

test('journey: who is editing which field, greyed; the lock and who ' +
  'holds it; a closed tab gone within its ttl', { skip }, async () => {
  const b = await browser();
  try {
    const doc = `journeys/${run}-presence`;
    const { pages: [ann, bob], errors } = await asUsers(b,
      `/demo/journey.html?doc=${doc}&ttl=${TTL}`, ['ann', 'bob']);
    await text(bob, '#presence', /ann is viewing/);
    await text(ann, '#presence', /bob is viewing/);
    // ann goes into the title: bob sees it, the field greyed for him
    await ann.click('[name=title]');
    await text(bob, '#presence', /ann is editing the title/);
    await bob.waitForFunction(() => {
      const el = document.querySelector('[name=title]');
      return el.classList.contains('others-here') &&
        el.title === 'ann is here';
    }, null, { timeout: 5000 });
    assert.equal(await bob.locator('[name=notes].others-here').count(), 0);
    await shot(bob, 'presence-journey-ann-in-title');
    // she moves to the notes: the title is bob's again
    await ann.click('[name=notes]');
    await text(bob, '#presence', /ann is editing the notes/);
    await bob.waitForFunction(() =>
      document.querySelector('[name=notes]').classList
        .contains('others-here') &&
      !document.querySelector('[name=title]').classList
        .contains('others-here'), null, { timeout: 5000 });

    // ann locks it; bob asks for the lock and is told who holds it
    await ann.click('button[name=lock]');
    await text(ann, '#lock-status', /You hold the lock/);
    await text(bob, '#lock-status', /Locked by ann until/);
    await bob.click('button[name=lock]');
    await text(bob, '#lock-status', /Locked by ann until \d/);
    assert.equal(await bob.textContent('button[name=lock]'),
      'Lock for editing');
    const r = await (await fetch(`${URL_}/api/presence/${doc}`)).json();
    assert.deepEqual(r.present.filter((p) => p.lock).map((p) =>
      p.state.user), ['ann']);
    await shot(bob, 'presence-journey-locked-by-ann');

    // ann's tab closes without leaving: bob sees her gone, the lock free
    const closed = Date.now();
    await ann.context().close();
    await bob.waitForFunction(() =>
      !/ann/.test(document.getElementById('presence').textContent) &&
      !/ann/.test(document.getElementById('lock-status').textContent),
    null, { timeout: TTL * 1000 });
    const took = Date.now() - closed;
    assert.ok(took < TTL * 1000, `gone after ${took} ms`);
    assert.equal(await bob.locator('.others-here').count(), 0);
    await bob.click('button[name=lock]');
    await text(bob, '#lock-status', /You hold the lock/);
    assert.deepEqual(errors, []);
  } finally {
    await b.close();
  }
});

test('customer card: who else has it open', { skip }, async () => {
  const b = await browser();
  try {
    const card = `crm/${run}-presence`;
    const { pages: [ann, bob], errors } = await asUsers(b,
      `/demo/crm.html?card=${card}&ttl=${TTL}`, ['ann', 'bob']);
    await text(ann, '#open-by', /Also open by bob/);
    await text(bob, '#open-by', /Also open by ann/);
    await shot(bob, 'presence-crm-open-by-ann');
    await ann.context().close();
    await bob.waitForFunction(() =>
      document.getElementById('open-by').textContent === '', null,
    { timeout: TTL * 1000 });
    assert.deepEqual(errors, []);
  } finally {
    await b.close();
  }
});

test('presence() renews itself past its ttl; onPresence() follows joins, ' +
  'state changes and leaves', { skip: !URL_ && 'needs VERSTORE_URL' },
async () => {
  const key = `p/${run}-lib`;
  const a = new Verstore(URL_, { session: 'lib-a' });
  const b = new Verstore(URL_, { session: 'lib-b' });
  const seen = [];
  const sub = b.onPresence(key, (list) => seen.push(list.map((p) =>
    `${p.session}:${JSON.stringify(p.state)}${p.lock ? ':lock' : ''}`)));
  await sub.ready;
  const h = a.presence(key, { state: { f: 1 }, ttl: 1 });
  const joined = await h.joined;
  assert.equal(joined.session, 'lib-a');
  const until = (want) => new Promise((ok, no) => {
    const t0 = Date.now();
    const iv = setInterval(() => {
      if (want(seen.at(-1) ?? [])) {
        clearInterval(iv);
        ok();
      } else if (Date.now() - t0 > 5000) {
        clearInterval(iv);
        no(new Error(`not seen: ${JSON.stringify(seen)}`));
      }
    }, 20);
  });
  await until((l) => l.includes('lib-a:{"f":1}'));
  // past three ttls it is still there: it renewed itself
  await new Promise((ok) => setTimeout(ok, 3000));
  assert.deepEqual((await b.request('GET', `/api/presence/${key}`))
    .json.present.map((p) => p.session), ['lib-a']);
  await h.set({ state: { f: 2 }, lock: true });
  await until((l) => l.includes('lib-a:{"f":2}:lock'));
  // b's lock is refused, naming a's session
  const hb = b.presence(key, { lock: true, ttl: 5 });
  await assert.rejects(hb.joined, (e) => e.status === 423 &&
    e.body.holder.session === 'lib-a');
  await h.leave();
  await until((l) => !l.some((s) => s.startsWith('lib-a')));
  assert.deepEqual(h.others, []);
  await hb.set({ lock: true });
  assert.equal(hb.lock, true);
  await hb.leave();
  sub.close();
});
