// notes.js - notes that keep their own copy and sync with plain HTTP.
//
// The page keeps the notes and their Last-Modified on this device, so it
// opens without the network. Every few seconds, on focus and when the
// change feed says so, it asks with If-Modified-Since: 304 is "nothing
// new", 200 brings a newer copy to merge with the unsaved edits. A save
// sends If-Unmodified-Since: 412 means someone saved first; their notes
// and yours merge note by note (by id), and a note that both changed
// opens the conflict dialog. Offline, a save waits on this device (the
// count shows) and is merged by the server, note by note, when the
// network is back.
import { store, user, status, clock, newId, showPending, asObject } from
  '/demo/common.js';
import { openConflict, merge3 } from '/conflict.js';

const name = new URLSearchParams(location.search).get('notes') ?? 'notes/mine';
const path = '/api/storage/' + name.split('/').map(encodeURIComponent).join('/');
const here = `verstore-notes:${user}:${name}`;	/* this device's copy */
const EMPTY = { notes: [] };
/* The notes of a value, whatever another client wrote there: its other
   members are kept, and a note is an object with text. */
const asNotes = (v) => {
  const o = asObject(v);
  return { ...o, notes: (Array.isArray(o.notes) ? o.notes : [])
    .map(asObject).map((n) => ({ ...n, text: String(n.text ?? '') })) };
};

/* copy: the version last synced, {value, lastModified, version}; mine:
   what the page shows, unsaved edits included. */
let { copy, mine } = JSON.parse(localStorage.getItem(here)) ??
  { copy: { value: EMPTY, lastModified: null }, mine: EMPTY };
let seen = copy.lastModified;	/* the newest Last-Modified received */
/** How syncing went: the sync line's title says it. */
window.syncStats = { checks: 0, notModified: 0, changed: 0, saves: 0,
  refused: 0 };

document.querySelector('.who').textContent = user;
document.title = `${name} - Notes`;
const list = document.getElementById('notes');
const saveButton = document.getElementById('save');
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

/** Keeps the copy and the edits on this device, and shows them. */
function keep() {
  localStorage.setItem(here, JSON.stringify({ copy, mine }));
  saveButton.disabled = same(mine, copy.value);
  render();
}

function render() {
  const old = new Map([...list.children].map((li) => [li.dataset.id, li]));
  mine.notes.forEach((note, i) => {
    const li = old.get(note.id) ?? noteElement(note.id);
    old.delete(note.id);
    const text = li.querySelector('textarea');
    /* What the person types is in `mine` at once, so a difference here is
       someone else's change to a note they have not changed: show it,
       keeping the cursor where it was if they are in that note. */
    if (text.value !== note.text) {
      const inIt = text === document.activeElement;
      const { selectionStart, selectionEnd } = text;
      text.value = note.text;
      if (inIt) text.setSelectionRange(selectionStart, selectionEnd);
    }
    if (list.children[i] !== li) list.insertBefore(li, list.children[i] ?? null);
  });
  for (const li of old.values()) li.remove();
}

/* Edits make a new `mine`, never change it in place: parts of it may be
   shared with the copy. */
function noteElement(id) {
  const li = document.createElement('li');
  li.dataset.id = id;
  const text = document.createElement('textarea');
  text.placeholder = 'Write a note';
  text.addEventListener('input', () => {
    mine = { ...mine, notes: mine.notes.map((n) =>
      n.id === id ? { ...n, text: text.value } : n) };
    keep();
  });
  const remove = document.createElement('button');
  remove.textContent = 'Delete';
  remove.addEventListener('click', () => {
    mine = { ...mine, notes: mine.notes.filter((n) => n.id !== id) };
    keep();
  });
  li.append(text, remove);
  return li;
}

/* What the last check found, said for the person; what it was in HTTP
   terms for whoever hovers. */
function showSync(text) {
  const s = window.syncStats;
  const line = document.getElementById('sync');
  line.textContent = `${text} (checked at ${clock(new Date())})`;
  line.title = `${s.checks} checks, ${s.notModified} answered 304 Not ` +
    'Modified';
}

/** Asks the server for a newer copy than the newest one seen. */
async function check() {
  const headers = seen ? { 'If-Modified-Since': seen } : {};
  let res;
  try {
    res = await store.request('GET', path, { headers });
  } catch (e) {
    if (e.status !== 404) throw e;
    window.syncStats.checks++;
    return showSync('Nothing saved yet: these notes are on this device ' +
      'only, until you save');
  }
  window.syncStats.checks++;
  if (res.status === 304) {
    window.syncStats.notModified++;
    return showSync('Up to date: nobody changed these notes since you ' +
      'loaded them');
  }
  window.syncStats.changed++;
  const first = !seen;
  seen = res.headers.get('Last-Modified');
  take({ value: asNotes(res.json.value), lastModified: seen,
    version: res.json.version });
  showSync(first ? 'Loaded the saved notes' : 'Someone saved changes: ' +
    'they are shown here, and your unsaved edits are kept');
}

/** Merges a newer copy into what is shown. A note changed on both sides
    keeps the person's text, and the copy stays the old one, so that the
    save is refused and asks. */
function take(theirs) {
  const { value, conflicts } = merge3(copy.value, mine, theirs.value,
    (pointer, yours) => yours);
  if (conflicts.length) status('Someone else changed a note you are editing');
  else copy = theirs;
  mine = value;
  keep();
}

/** Offline: the save waits on this device, based on the copy's version. */
async function saveHere() {
  const r = await store.put(name, mine, { version: copy.version ?? 0,
    merge: true });
  status(r.pending ? 'Saved on this device: it is sent when the network ' +
    'is back' : 'Saved');
  sync();
}

async function save() {
  if (same(mine, copy.value)) return;
  if (!navigator.onLine && copy.version !== undefined) return saveHere();
  const sent = mine;
  let base = copy, yours = mine;
  status('Saving...', 0);
  for (;;) {
    const headers = base.lastModified ?
      { 'If-Unmodified-Since': base.lastModified } : { 'If-None-Match': '*' };
    try {
      const res = await store.request('PUT', path,
        { headers, body: { value: yours } });
      window.syncStats.saves++;
      copy = { value: yours, lastModified: res.headers.get('Last-Modified'),
        version: res.json.version };
      seen = copy.lastModified;
      /* what was typed while saving stays, unsaved */
      mine = merge3(sent, mine, yours, (pointer, typed) => typed).value;
      keep();
      return status('Saved');
    } catch (e) {
      if (e instanceof TypeError && base === copy &&
          copy.version !== undefined)
        return saveHere();	/* the network went */
      if (e.status !== 412) throw e;
      window.syncStats.refused++;	/* someone saved since our copy */
      /* the refusal carries their notes and their Last-Modified */
      const theirs = { value: asNotes(e.current.value),
        lastModified: e.headers.get('Last-Modified'),
        version: e.current.version };
      /* no dialog when the notes merge by id */
      const { choice, value } = await openConflict(
        { key: name, base: base.value, yours, theirs: theirs.value,
          by: e.current.updated_by, at: e.current.updated_at },
        { whole: true, title: 'Someone saved these notes first' });
      if (choice === 'cancel')
        throw new DOMException('Not saved', 'AbortError');
      base = theirs;
      yours = value;
      if (choice === 'reload') {	/* nothing to write */
        copy = theirs;
        mine = theirs.value;
        keep();
        return status('Reloaded');
      }
    }
  }
}

/* One request at a time: a check never crosses a save. */
let queue = Promise.resolve(), checkQueued = false;
function serial(job) {
  queue = queue.then(job).catch((e) => {
    if (e.name === 'AbortError') status('Not saved');	/* the dialog */
    else if (e.status) status(e.message);
    else if (e instanceof TypeError)
      showSync('Offline: your notes stay on this device; trying again ' +
        'soon');
    else reportError(e);
  });
}
function sync() {
  if (checkQueued) return;
  checkQueued = true;
  serial(() => {
    checkQueued = false;
    return check();
  });
}

document.getElementById('add').addEventListener('click', () => {
  const id = newId();
  mine = { ...mine, notes: [...mine.notes, { id, text: '' }] };
  keep();
  list.querySelector(`[data-id="${id}"] textarea`).focus();
});
saveButton.addEventListener('click', () => serial(save));
addEventListener('focus', sync);
addEventListener('online', sync);
setInterval(sync, 3000);
store.watch(name, (change) => {
  if (change.key === name) sync();	/* the prefix matches longer keys too */
});
/* A save that waited offline and clashed when it was sent. */
store.onConflict = async (ctx) => {
  const { choice, value } = await openConflict(ctx,
    { whole: true, title: 'Someone saved these notes first' });
  if (choice === 'reload') return ctx.discard();
  return choice === 'cancel' ? undefined : value;
};
showPending(sync);	/* all sent: the merged notes */
keep();		/* this device's copy at once, then what the server has */
sync();
