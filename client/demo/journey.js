// journey.js - a journey that several people edit, with its versions.
//
// Save sends the person's edit with the envelope the form was loaded from
// (store.save): the server merges it with whatever was saved since, field
// by field and stop by stop (stops have ids). A field that both changed
// opens the conflict dialog: reload theirs, overwrite with mine, or merge.
// Offline, a save waits on this device (the count shows) and is merged
// when the network is back; a clash then opens the same dialog.
// Presence (store.presence): who else has the journey open and which field
// each is in (greyed here), and a lock an editor may take for a long edit.
import { store, user, status, clock, newId, showPending, asObject } from
  '/demo/common.js';
import { openConflict } from '/conflict.js';

const KEY = new URLSearchParams(location.search).get('doc') ??
  'journeys/lofoten';
const $ = (sel) => document.querySelector(sel);
const form = $('#journey');
const stopsEl = $('#stops');
const banner = $('#banner');
const old = $('#old');

let loaded = null;	/* the envelope the form shows: what Save starts from */
let dirty = false;	/* the person changed the form since it was loaded */
let saving = false;
let pending;		/* a newer envelope that came while they were editing */

$('.who').textContent = user;
$('#key').textContent = KEY;

// Without authentication the server's updated_by is null, so each version
// also names its author in the value.
const who = (env) => env.updated_by ?? asObject(env.value).edited_by ??
  'someone';
const stopsOf = (j) => (Array.isArray(j.stops) ? j.stops : []).map(asObject);

async function current() {	/* the latest envelope, null when absent;
				   offline, the last one seen here */
  try {
    return await store.get(KEY, { offline: 'cache' });
  } catch (e) {
    if (e.status === 404) return null;
    throw e;
  }
}

function stopRow(stop) {
  const li = $('#stop-row').content.firstElementChild.cloneNode(true);
  li.dataset.id = stop.id;
  for (const f of ['place', 'date', 'note'])
    li.querySelector(`[name=${f}]`).value = stop[f] ?? '';
  return li;
}

/** Fills the form with env (null: a journey not saved yet). */
function show(env) {
  loaded = env;
  dirty = false;
  banner.hidden = true;
  const j = asObject(env?.value);
  form.elements.title.value = j.title ?? '';
  form.elements.notes.value = j.notes ?? '';
  stopsEl.replaceChildren(...stopsOf(j).map(stopRow));
  $('#version').textContent = env ? env.version : 'none yet';
  $('#saved-by').textContent = env?.pending ?
    'with your edit, waiting on this device' : env ?
      `saved by ${who(env)} at ${clock(env.updated_at)}` : '';
}

/** The journey as the person edited it. */
function edited() {
  const was = asObject(loaded?.value);
  const before = new Map(stopsOf(was).map((s) => [s.id, s]));
  const stops = [...stopsEl.children].map((li) => {
    const field = (f) => li.querySelector(`[name=${f}]`).value;
    return { ...before.get(li.dataset.id), id: li.dataset.id,
      place: field('place'), date: field('date'), note: field('note') };
  });
  return { ...was, title: form.elements.title.value,
    notes: form.elements.notes.value, stops, edited_by: user };
}

/** Typing, or about to: a live update must not replace the form now. */
const editing = () => dirty ||
  form.contains(document.activeElement) &&
  document.activeElement.matches('input, textarea');

/** Someone else saved: show it, or tell the person who is editing. */
async function refresh() {
  const env = await current();
  if (env?.version === loaded?.version) return;
  if (editing()) {
    pending = env;
    banner.firstElementChild.textContent = env ?
      `${who(env)} saved version ${env.version} while you were editing. ` +
      'Saving merges your changes with theirs.' :
      'Someone deleted this journey while you were editing.';
    banner.hidden = false;
  } else {
    show(env);
    if (env) status(`${who(env)} saved version ${env.version}.`);
  }
}

/**
 * What to write when the server could not merge. Who saved last is no
 * clash (whoever saves now made the new version); any other field that
 * both changed is the person's call, in the conflict dialog.
 */
async function settle(ctx) {
  const yours = { ...ctx.yours, edited_by: ctx.theirs?.edited_by };
  /* the server names no one under auth none: the value does */
  const by = ctx.by ?? asObject(ctx.theirs).edited_by ?? null;
  return openConflict({ ...ctx, yours, by },
    { whole: true, title: 'Someone else changed this journey too' });
}

form.addEventListener('submit', async (e) => {
  e.preventDefault();
  saving = true;
  form.elements.save.disabled = true;
  form.inert = true;		/* what is typed now would be lost */
  let choice, written;
  try {
    written = await store.save(KEY, loaded, edited(), {
      onConflict: async (ctx) => {
        const answer = await settle(ctx);
        choice = answer.choice;
        if (choice === 'reload' || choice === 'cancel') return undefined;
        return { ...answer.value, edited_by: user };
      },
    });
    show(await current());
    status(written.pending ? 'Saved on this device: it is sent when the ' +
      'network is back.' : `Saved version ${loaded.version}.`);
  } catch (err) {
    if (choice === 'reload') {
      show(await current());
      status('Reloaded theirs: your edit was dropped.');
    } else if (choice === 'cancel') {
      status('Not saved: your edit is still here.');
    } else {
      status(`Not saved: ${err.message}`, 0);
    }
  } finally {
    saving = false;
    form.inert = false;
    form.elements.save.disabled = false;
  }
  await refresh();	/* what was saved meanwhile */
  showHistory();
});

form.addEventListener('input', () => { dirty = true; });
form.elements.add.addEventListener('click', () => {
  const id = newId();
  const li = stopRow({ id, place: '', date: '', note: '' });
  stopsEl.append(li);
  dirty = true;
  li.querySelector('[name=place]').focus();
});
stopsEl.addEventListener('click', (e) => {
  if (e.target.name !== 'remove') return;
  e.target.closest('li').remove();
  dirty = true;
});
banner.querySelector('button').addEventListener('click', () => show(pending));
// Leaving the form without having typed: show what came meanwhile.
form.addEventListener('focusout', () => setTimeout(() => {
  if (!banner.hidden && !editing()) show(pending);
}));

// History: the versions newest first, who saved each and when.
const versions = new Map();	/* version -> its envelope (never changes) */
async function version(n) {
  if (!versions.has(n)) versions.set(n, await store.version(KEY, n));
  return versions.get(n);
}

let historyRun = 0;
let latest;	/* the newest version the list shows */
async function showHistory() {
  const run = ++historyRun;
  let list = [];
  try {
    list = await store.history(KEY);
  } catch (e) {
    if (!e.status) return;	/* offline: the list stays as it was */
    if (e.status !== 404) throw e;
  }
  const envs = await Promise.all(list.map((h) => h.deleted ? null :
    version(h.version).catch(() => null)));	/* gone from history since */
  if (run !== historyRun) return;	/* a newer call is drawing it */
  latest = list[0]?.version;
  $('#versions').replaceChildren(...list.map((h, i) => {
    const li = document.createElement('li');
    li.dataset.version = h.version;
    li.className = i === 0 ? 'current' : '';
    const open = document.createElement('button');
    open.type = 'button';
    open.textContent = `Version ${h.version}`;
    open.disabled = !envs[i];
    open.addEventListener('click', () => showOld(envs[i]));
    const by = document.createElement('span');
    by.className = 'by';
    by.textContent = h.deleted ? 'deleted' :
      h.updated_by ?? asObject(envs[i]?.value).edited_by ?? 'someone';
    const at = document.createElement('span');
    at.className = 'at muted';
    at.textContent = clock(h.updated_at);
    li.append(open, ' ', by, ' ', at, i === 0 ? ' (current)' : '');
    return li;
  }));
}

let shown = null;	/* the old version on view */
function showOld(env) {
  shown = env;
  const j = asObject(env.value);
  old.querySelector('h3').textContent = `Version ${env.version}`;
  old.querySelector('p').textContent =
    `saved by ${who(env)} at ${clock(env.updated_at)}`;
  const dl = old.querySelector('dl');
  dl.replaceChildren();
  const item = (term, text) => {
    const dt = document.createElement('dt');
    const dd = document.createElement('dd');
    dt.textContent = term;
    dd.textContent = text;
    dl.append(dt, dd);
  };
  item('Title', j.title ?? '');
  item('Notes', j.notes ?? '');
  item('Stops', stopsOf(j).map((s, i) =>
    `${i + 1}. ${s.place}${s.date ? `, ${s.date}` : ''}` +
    `${s.note ? `: ${s.note}` : ''}`).join('\n'));
  old.hidden = false;
}

// Restore writes the old content as a new version, on the condition that
// the newest version is still the one the history shows.
old.querySelector('[name=restore]').addEventListener('click', async () => {
  try {
    await store.put(KEY, { ...asObject(shown.value), edited_by: user },
      { version: latest });
    show(await current());
    old.hidden = true;
    status(`Version ${shown.version} restored as version ${loaded.version}.`);
  } catch (e) {
    if (!e.isConflict) throw e;
    await refresh();	/* it says who saved: this says why, after it */
    status('Not restored: someone saved since. Look again.');
  }
  showHistory();
});
old.querySelector('[name=close]').addEventListener('click', () => {
  old.hidden = true;
});

// Live: every change of the key, from the change feed.
store.watch(KEY, async (c) => {
  if (c.key !== KEY || saving) return;
  try {
    await refresh();
    await showHistory();
  } catch (e) {
    status(`Could not read the journey: ${e.message}`, 0);
  }
});

// A save that waited offline and clashed when it was sent: the same dialog.
store.onConflict = async (ctx) => {
  const answer = await settle(ctx);
  if (answer.choice === 'reload') return ctx.discard();
  if (answer.choice === 'cancel') return undefined;
  return { ...answer.value, edited_by: user };
};
showPending(async () => {	/* all sent: what the server has now */
  await refresh();
  await showHistory();
});

// Presence: this tab on the journey, with the field it is in; the others'
// names, their fields greyed, and who holds the lock.
const TTL = Number(new URLSearchParams(location.search).get('ttl') ?? 30);
const lockButton = form.elements.lock;
const lockStatus = $('#lock-status');
const nameOf = (p) => p?.state?.user ?? p?.by ?? 'someone';
const LABELS = { title: 'the title', notes: 'the notes', place: 'a place',
  date: 'a date', note: 'a stop\'s note' };
/** The field an element is: "title", or "<stop id>/place". */
function fieldOf(el) {
  if (!el?.name || !el.matches('input, textarea')) return null;
  const li = el.closest('#stops li');
  return li ? `${li.dataset.id}/${el.name}` : el.name;
}
function elementOf(field) {
  const [id, name] = field.includes('/') ? field.split('/') : [null, field];
  if (!id) return form.elements[name] ?? null;
  return stopsEl.querySelector(`li[data-id="${CSS.escape(id)}"] ` +
    `[name=${name}]`);
}
function showPresence(others) {
  for (const el of form.querySelectorAll('.others-here')) {
    el.classList.remove('others-here');
    el.removeAttribute('title');
  }
  const lines = [];
  for (const p of others) {
    const field = p.state?.field;
    const el = field ? elementOf(field) : null;
    if (el) {
      el.classList.add('others-here');
      el.title = `${nameOf(p)} is here`;
    }
    lines.push(`${nameOf(p)} is ${field ? 'editing' : 'viewing'}` +
      (field ? ` ${LABELS[field.split('/').pop()] ?? field}` : '') +
      (p.lock ? ' and holds the lock' : ''));
  }
  $('#presence').textContent = lines.join(' · ');
  const holder = others.find((p) => p.lock);
  if (me.lock) lockStatus.textContent = 'You hold the lock.';
  else if (holder)
    lockStatus.textContent = `Locked by ${nameOf(holder)} until ` +
      clock(holder.expires_at);
  else lockStatus.textContent = '';
  lockButton.textContent = me.lock ? 'Unlock' : 'Lock for editing';
}
const me = store.presence(KEY, { state: { user, field: null }, ttl: TTL,
  onChange: showPresence });
me.joined.catch((e) => status(`Not present: ${e.message}`, 0));
let here = null;
function moved() {
  const field = fieldOf(document.activeElement);
  if (field === here) return;
  here = field;
  me.set({ state: { user, field } }).catch(() => {});
}
form.addEventListener('focusin', moved);
form.addEventListener('focusout', () => setTimeout(moved));
lockButton.addEventListener('click', async () => {
  try {
    await me.set({ lock: !me.lock });
    showPresence(me.others);
  } catch (e) {
    if (e.status !== 423) throw e;
    const h = e.body.holder;
    const who = me.others.find((p) => p.session === h.session);
    lockStatus.textContent = `Locked by ${nameOf(who) ?? h.by} until ` +
      clock(h.expires_at);
  }
});

show(await current());
if (!loaded) status('A new journey: Save creates it.', 0);
showHistory();
