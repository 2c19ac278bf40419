// Business cards (demo/cards.html) in two browser windows, as two users:
// the same name created at once gets two addresses, an edit shows before
// it is saved and survives a network error, edits of different fields
// merge, the same field asks, and each window sees the other's.
import test from 'node:test';
import assert from 'node:assert/strict';
import { URL_, skip, browser, shot, asUsers, run } from './lib/browser.js';

const prefix = `${run}-cards`;
async function stored() {
  const res = await fetch(`${URL_}/api/storage/${prefix}/?values=1`);
  return new Map((await res.json()).items.map((i) => [i.key, i.value]));
}

/** Runs act on the page and waits until #status starts with text. */
async function expectStatus(page, text, act) {
  await page.$eval('#status', (el) => { el.textContent = ''; });
  await act();
  await page.waitForFunction((t) =>
    document.querySelector('#status').textContent.startsWith(t), text);
}
const cardCount = (page, n) => page.waitForFunction((k) =>
  document.querySelectorAll('#cards li').length === k, n);
async function select(page, key) {
  await page.click(`#cards li[data-key="${key}"]`);
  await page.waitForFunction((k) => document.querySelector('#key')
    .textContent === k, key.slice(prefix.length + 1));
}
const cardText = (page, key) => page.$eval(`#cards li[data-key="${key}"]`,
  (li) => li.textContent);

test('cards: same name at once, optimistic edits, merges, the dialog, live',
  { skip }, async () => {
    const b = await browser();
    try {
      const { pages: [ann, bob], errors } = await asUsers(b,
        `/demo/cards.html?prefix=${prefix}`, ['ann', 'bob']);
      for (const p of [ann, bob]) await p.locator('#empty').waitFor();

      // both create "Ann Lee" at the same moment: two addresses
      await Promise.all([ann, bob].map((p) =>
        p.fill('#new input[name=name]', 'Ann Lee')));
      await Promise.all([ann, bob].map((p) =>
        expectStatus(p, 'Created', () => p.click('#new button'))));
      const made = await Promise.all([ann, bob].map((p) =>
        p.$eval('#status', (el) => el.textContent.replace('Created ', ''))));
      assert.deepEqual([...made].sort(), ['ann-lee', 'ann-lee-2']);
      const [k1, k2] = ['ann-lee', 'ann-lee-2'].map((s) => `${prefix}/${s}`);
      for (const p of [ann, bob]) await cardCount(p, 2);
      let cards = await stored();
      assert.deepEqual([...cards.keys()], [k1, k2]);
      assert.deepEqual([...cards.values()].map((c) => c.name),
        ['Ann Lee', 'Ann Lee']);
      assert.deepEqual([...cards.values()].map((c) => c.by).sort(),
        ['ann', 'bob']);

      // a new card shows in the other window within a second
      await expectStatus(bob, 'Created', async () => {
        await bob.fill('#new input[name=name]', 'Bo Berg');
        await bob.click('#new button');
      });
      await ann.waitForFunction((k) =>
        document.querySelector(`#cards li[data-key="${k}"]`),
      `${prefix}/bo-berg`, { timeout: 1000 });

      // different fields of one card: both land, no dialog. ann's save is
      // held on the wire, so the list shows it before the server has it,
      // then fails with a network error, which the library retries
      await select(ann, k1);
      await select(bob, k1);
      let hold;
      const holding = new Promise((ok) => { hold = ok; });
      await ann.route('**/api/storage/**', (route) => {
        if (route.request().method() !== 'PUT' || !hold)
          return route.continue();
        hold(route);
        hold = null;
      });
      await ann.fill('#p-email', 'ann.lee@example.org');
      await ann.click('#profile button[name=save]');
      await ann.waitForFunction(() =>
        document.querySelector('#status').textContent === 'Saving…');
      const held = await holding;
      assert.match(await cardText(ann, k1), /ann\.lee@example\.org/);
      assert.equal((await stored()).get(k1).email, '');
      await expectStatus(ann, 'Saved', () => held.abort('failed'));
      await ann.unroute('**/api/storage/**');
      // bob's open form shows ann's email within a second of its ack
      await bob.waitForFunction(() => document.querySelector('#p-email')
        .value === 'ann.lee@example.org', null, { timeout: 1000 });
      await expectStatus(bob, "Merged with ann's change", async () => {
        await bob.fill('#p-phone', '+47 555 0101');
        await bob.click('#profile button[name=save]');
      });
      assert.equal(await bob.locator('verstore-conflict').count(), 0);
      cards = await stored();
      assert.equal(cards.get(k1).email, 'ann.lee@example.org');
      assert.equal(cards.get(k1).phone, '+47 555 0101');
      await shot(bob, 'cards');

      // the same field from both: bob is asked, keeps his title, and ann's
      // window shows it
      await select(ann, k2);
      await select(bob, k2);
      await expectStatus(ann, 'Saved', async () => {
        await ann.fill('#p-title', 'Designer');
        await ann.click('#profile button[name=save]');
      });
      await bob.fill('#p-title', 'Engineer');
      await bob.fill('#p-bio', 'Builds bridges.');
      await bob.click('#profile button[name=save]');
      const rows = bob.locator('verstore-conflict tr.conflict');
      await rows.first().waitFor();
      assert.equal(await rows.count(), 1);
      assert.match(await rows.first().innerText(),
        /^title\s+Designer\s+Engineer$/);
      // without a principal (auth none) the card's stamps name ann
      assert.match(await bob.locator('verstore-conflict dialog').innerText(),
        /ann saved \S+\/ann-lee-2 (just now|\d+ seconds ago)/);
      await shot(bob, 'cards-conflict');
      await expectStatus(bob, 'Saved', () =>
        bob.click('verstore-conflict button[name=mine]'));
      await ann.waitForFunction(() => document.querySelector('#p-title')
        .value === 'Engineer', null, { timeout: 1000 });

      // nothing lost: every card and every field as the two left them
      cards = await stored();
      const stamps = (c) => Object.keys(c.edited ?? {}).sort();
      assert.deepEqual([...cards.keys()],
        [k1, k2, `${prefix}/bo-berg`]);
      const want = {
        [k1]: { name: 'Ann Lee', title: '', email: 'ann.lee@example.org',
          phone: '+47 555 0101', bio: '' },
        [k2]: { name: 'Ann Lee', title: 'Engineer', email: '', phone: '',
          bio: 'Builds bridges.' },
        [`${prefix}/bo-berg`]: { name: 'Bo Berg', title: '', email: '',
          phone: '', bio: '' },
      };
      for (const [key, c] of cards) {
        const { by, edited, ...fields } = c;
        assert.deepEqual(fields, want[key], key);
      }
      assert.deepEqual(stamps(cards.get(k1)), ['ann', 'bob']);
      assert.deepEqual(stamps(cards.get(k2)), ['ann', 'bob']);
      assert.equal(cards.get(`${prefix}/bo-berg`).by, 'bob');
      assert.deepEqual(errors, []);
    } finally {
      await b.close();
    }
  });

test('cards: values the page did not write show as cards, by someone',
  { skip }, async () => {
    const foreign = `${run}-foreign`;
    for (const [slug, value] of [['plain', { done: false }],
      ['text', 'just a string'], ['empty', null], ['named', { name: 'Kim' }]])
      await fetch(`${URL_}/api/storage/${foreign}/${slug}`, { method: 'PUT',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ value }) });
    const b = await browser();
    try {
      const { pages: [page], errors } = await asUsers(b,
        `/demo/cards.html?prefix=${foreign}`, ['ann']);
      await cardCount(page, 4);
      const texts = await page.$$eval('#cards li', (lis) =>
        lis.map((li) => li.innerText.replace(/\n/g, ' | ')));
      assert.deepEqual(texts, ['empty | empty · by someone',
        'Kim | named · by someone', 'plain | plain · by someone',
        'text | text · by someone']);
      await page.click(`#cards li[data-key="${foreign}/empty"]`);
      await page.waitForFunction(() =>
        document.querySelector('#key').textContent === 'empty');
      assert.equal(await page.inputValue('#p-name'), '');
      assert.deepEqual(errors, []);
    } finally {
      await b.close();
    }
  });
