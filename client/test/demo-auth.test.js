// The demos under auth token, in a real browser against a server of their
// own (VERSTORE_AUTH_URL, tokens in VERSTORE_AUTH_TOKENS: alice and bob
// for every key, carol for crm/ only; tests/integ/test_client.py starts
// it): each page asks for a token visibly, says how ?token= works, and
// works once given one; a 403 says what the token may not touch; the
// conflict dialog names the other writer, from the server's updated_by.
import test from 'node:test';
import assert from 'node:assert/strict';
import { skip as noBrowser, browser, shot, asUsers, run }
  from './lib/browser.js';

const AUTH = process.env.VERSTORE_AUTH_URL;
const TOKENS = JSON.parse(process.env.VERSTORE_AUTH_TOKENS ?? '{}');
const skip = noBrowser || (!AUTH &&
  'needs VERSTORE_AUTH_URL, a server under auth token (test_client.py)');

/** The key as the server has it, read with bob's token. */
const stored = async (key) => (await fetch(`${AUTH}/api/storage/${key}`,
  { headers: { Authorization: `Bearer ${TOKENS.bob}` } })).json();

const prompt = (page) => page.locator('#token-prompt');
/** Waits until the CRM card page has read its card. */
const cardRead = (page) => page.waitForFunction(() => /^version \d+$/.test(
  document.getElementById('version').textContent));

/** Runs fn(browser) in a headless chromium, closed after it. */
async function inBrowser(fn) {
  const b = await browser();
  try {
    await fn(b);
  } finally {
    await b.close();
  }
}

/** Types token into the page's prompt and sends it. */
async function enter(page, token) {
  await page.fill('#token-prompt input[name=token]', token);
  await page.click('#token-prompt button');
}

/* Each page, and what shows that it works once it has a token. */
const PAGES = [
  ['/', '#demos', async (page) => {
    assert.equal(await page.locator('#demos a').count(), 5);
  }],
  [`/demo/crm.html?card=crm/${run}-auth`, '#card', async (page) => {
    await cardRead(page);
    assert.equal((await stored(`crm/${run}-auth`)).updated_by, 'alice');
  }],
  [`/demo/cards.html?prefix=${run}-auth-cards`, '#new', async (page) => {
    await page.locator('#empty').waitFor();
    await page.fill('#new input[name=name]', 'Ann Lee');
    await page.click('#new button');
    await page.locator('#cards li').waitFor();
    assert.match(await page.textContent('#cards li'), /ann-lee · by alice/);
  }],
  [`/demo/notes.html?notes=notes/${run}-auth`, '#sync', async (page) => {
    await page.waitForFunction(() => document.getElementById('sync')
      .textContent.startsWith('Nothing saved yet'));
  }],
  [`/demo/journey.html?doc=journeys/${run}-auth`, '#journey', async (page) => {
    await page.waitForFunction(() => document.getElementById('status')
      .textContent.startsWith('A new journey'));
  }],
  [`/demo/activities.html?set=${run}-auth`, '#add', async (page) => {
    await page.locator('#empty').waitFor();
  }],
];

test('under auth token each page asks for a token, says how ?token= ' +
  'works, and works once given one', { skip }, () => inBrowser(async (b) => {
  for (const [path, main, works] of PAGES) {
    const { pages: [page], errors } = await asUsers(b, path, ['alice'],
      { base: AUTH });
    await prompt(page).waitFor();
    const text = await prompt(page).innerText();
    assert.match(text, /This server asks for a token/, path);
    assert.match(text, new RegExp(`${path.replace(/[?.]/g, '\\$&')}` +
      '[?&](.+&)?token=YOUR_TOKEN'), path);
    assert.match(text, /this tab only/, path);
    assert.equal(await page.locator(main).isVisible(), false, path);
    if (path.includes('crm')) await shot(page, 'auth-token-prompt');
    await enter(page, 'not-a-token');
    await page.waitForFunction(() => /does not know this token/.test(
      document.querySelector('#token-prompt .error').textContent));
    assert.equal(await page.locator(main).isVisible(), false, path);
    await enter(page, TOKENS.alice);
    await prompt(page).waitFor({ state: 'detached' });
    assert.equal(await page.locator(main).isVisible(), true, path);
    await works(page);
    assert.deepEqual(errors, [], path);
    await page.context().close();
  }
}));

test('?token= in the address: no prompt, and the address loses it',
  { skip }, () => inBrowser(async (b) => {
  const key = `crm/${run}-address`;
  const { pages: [page], errors } = await asUsers(b,
    `/demo/crm.html?card=${key}&token=${TOKENS.bob}`, ['bob'],
    { base: AUTH });
  await cardRead(page);
  assert.equal(await prompt(page).count(), 0);
  assert.equal(new URL(page.url()).search, `?card=${key.replace('/', '%2F')}` +
    '&user=bob');
  assert.equal((await stored(key)).updated_by, 'bob');
  // kept for the tab: a reload needs no token
  await page.reload();
  await cardRead(page);
  assert.equal(await prompt(page).count(), 0);
  assert.deepEqual(errors, []);
}));

test('a 403 says which key the token may not touch, and another token ' +
  'can be given', { skip }, () => inBrowser(async (b) => {
  const prefix = `${run}-carol`;
  const { pages: [page], errors } = await asUsers(b,
    `/demo/cards.html?prefix=${prefix}&token=${TOKENS.carol}`, ['carol'],
    { base: AUTH });
  const refused = page.locator('#forbidden');
  await refused.waitFor();
  assert.match(await refused.locator('h2').innerText(),
    /^This token may not use what this page needs/);
  assert.match(await refused.innerText(), new RegExp(`${prefix}/: The ` +
    `token "carol" may not read "${prefix}/": none of its prefixes ` +
    'covers it\\.'));
  await page.waitForFunction(() => /carol/.test(
    document.getElementById('status').textContent));
  await shot(page, 'auth-forbidden');
  // another token, which covers it: the page starts again with it
  await page.click('#forbidden button');
  await prompt(page).waitFor();
  assert.match(await prompt(page).innerText(), /^Use another token/);
  await Promise.all([page.waitForEvent('load'),
    enter(page, TOKENS.alice)]);
  await page.fill('#new input[name=name]', 'Cy Dahl');
  await page.click('#new button');
  await page.locator('#cards li').waitFor();
  assert.match(await page.textContent('#cards li'), /cy-dahl · by carol/);
  assert.equal(await refused.count(), 0);
  assert.deepEqual(errors, []);
}));

test('the conflict dialog shows values as they read and names who saved ' +
  'theirs, and when', { skip }, () => inBrowser(async (b) => {
  const key = `crm/${run}-clash`;
  const { pages, errors } = await Promise.all(['alice', 'bob'].map((u) =>
    asUsers(b, `/demo/crm.html?card=${key}&token=${TOKENS[u]}`, [u],
      { base: AUTH }))).then((rs) => ({ pages: rs.map((r) => r.pages[0]),
    errors: rs.flatMap((r) => r.errors) }));
  const [alice, bob] = pages;
  for (const p of pages) await cardRead(p);
  await alice.selectOption('#card [name=status]', 'won');
  await alice.fill('#card [name=contact]', 'Ann (alice)');
  await bob.selectOption('#card [name=status]', 'lost');
  await bob.fill('#card [name=contact]', 'Bo (bob)');
  await bob.click('#card button');
  await bob.waitForFunction(() => document.getElementById('status')
    .textContent.startsWith('Saved'));
  await alice.click('#card button');
  const dialog = alice.locator('verstore-conflict dialog');
  await dialog.waitFor();
  const row = (f) => alice.locator(
    `verstore-conflict tr[data-pointer="/${f}"]`);
  assert.equal(await row('status').locator('td.theirs').innerText(), 'lost');
  assert.equal(await row('status').locator('td.yours').innerText(), 'won');
  assert.equal(await row('contact').locator('td.theirs').innerText(),
    'Bo (bob)');
  assert.equal(await row('contact').locator('td.yours').innerText(),
    'Ann (alice)');
  assert.match(await alice.locator('verstore-conflict th.theirs')
    .innerText(), /^Theirs\s+by bob, (just now|\d+ seconds ago)$/);
  assert.match(await dialog.innerText(),
    /bob saved crm\/\S+-clash (just now|\d+ seconds ago)/);
  await shot(alice, 'auth-conflict', { fullPage: false });
  await alice.click('verstore-conflict button[name=mine]');
  await alice.waitForFunction(() => document.getElementById('status')
    .textContent.startsWith('Saved'));
  const end = await stored(key);
  assert.equal(end.value.contact, 'Ann (alice)');
  assert.equal(end.updated_by, 'alice');
  assert.deepEqual(errors, []);
}));
