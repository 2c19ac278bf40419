// activities.js - the activities board: one list, many tabs.
//
// The list is an activity set (doc/API.md 6), ?set=NAME (default "board").
// Adding is an upsert of an item whose id is made here, so tabs that add at
// once never collide. Editing goes through the bucket that holds the item
// (_act/SET/i): store.save() writes the bucket as it was when the form
// opened with that one item changed, so that what other tabs wrote since is
// merged in, item by item and field by field, and a field that both
// changed is shown in the conflict dialog.
import { store, user, status, newId } from '/demo/common.js';
import { askConflict, merge3 } from '/conflict.js';

const set = new URLSearchParams(location.search).get('set') || 'board';
const acts = store.activities(set);
const FIELDS = ['title', 'owner', 'done'];
const $ = (sel) => document.querySelector(sel);
const addForm = $('#add'), editForm = $('#edit');
$('.who').textContent = user;

/** The last read of the set: {items, buckets: [{key, version, count}]}. */
let snapshot = { items: [], buckets: [] };
/** The open edit: {id, key, from: the bucket when it opened, dirty}. */
let editing = null;


let reads = 0;
async function reload() {
  const n = ++reads;
  let snap;
  try {
    snap = await acts.get();
  } catch (e) {
    if (e.status !== 404) throw e;
    snap = { items: [], buckets: [] };	/* nobody has added one yet */
  }
  if (n !== reads) return;		/* a newer read is under way */
  snapshot = snap;
  render();
  if (editing) {
    const item = snapshot.items.find((a) => a.id === editing.id);
    if (item) fill(item);
    else status('Someone deleted the activity you are editing.');
  }
}
const refresh = () => reload().catch((e) => status(e.message));

const cell = (content, className = '') => {
  const td = document.createElement('td');
  td.className = className;
  td.append(content ?? '');		/* text, never HTML */
  return td;
};

function render() {
  const rows = snapshot.items.map((a) => {
    const tr = document.createElement('tr');
    tr.dataset.id = a.id;
    tr.classList.toggle('done', !!a.done);
    tr.classList.toggle('open', a.id === editing?.id);
    const done = Object.assign(document.createElement('input'),
      { type: 'checkbox', name: 'done', checked: !!a.done });
    done.onchange = () => quickEdit(a.id, { done: done.checked });
    const edit = Object.assign(document.createElement('button'),
      { name: 'edit', textContent: 'Edit', onclick: () => open(a.id) });
    tr.append(cell(done), cell(a.title, 'title'), cell(a.owner, 'owner'),
      cell(a.by, 'by muted'), cell(edit));
    return tr;
  });
  $('#list').replaceChildren(...rows);
  $('#empty').hidden = rows.length > 0;
}

/** The key of the bucket that holds id: the snapshot lists them in order. */
function bucketOf(id) {
  let i = snapshot.items.findIndex((a) => a.id === id);
  if (i < 0) return null;
  for (const b of snapshot.buckets) {
    if (i < b.count) return b.key;
    i -= b.count;
  }
  return null;
}

/** The item and the bucket it is in, read now: {key, from, item}. */
async function readItem(id) {
  const key = bucketOf(id);
  try {
    const from = key && await store.get(key);
    const item = from?.value.find((a) => a.id === id);
    if (item) return { key, from, item };
  } catch (e) {
    status(e.message);
  }
  await refresh();		/* moved or deleted: show the list as it is */
  return null;
}

/** Shows item in the edit form, but not over what the person changed. */
function fill(item) {
  for (const f of FIELDS) {
    const input = editForm.elements[f];
    if (editing.dirty.has(f) || input === document.activeElement) continue;
    if (f === 'done') input.checked = !!item.done;
    else input.value = item[f] ?? '';
  }
}

async function open(id) {
  const found = await readItem(id);
  if (!found) return;
  editing = { id, key: found.key, from: found.from, dirty: new Set() };
  fill(found.item);
  editForm.hidden = false;
  render();
  editForm.elements.title.focus();
}

function close() {
  editing = null;
  editForm.hidden = true;
  render();
}

/**
 * Writes fields into activity id: the bucket as read (from) with that one
 * item changed, merged with what others wrote to the bucket since.
 */
async function write(id, key, from, fields) {
  const yours = from.value.map((a) => a.id === id ? { ...a, ...fields } : a);
  const how = { merged: false };
  try {
    const env = await store.save(key, from, yours,
      { onConflict: (ctx) => settle(ctx, id, how) });
    status(env.merged || how.merged ? 'Saved, merged with another edit' :
      'Saved');
  } catch (e) {
    status(e.name === 'AbortError' ? 'Not saved' : `Not saved: ${e.message}`);
  }
  await refresh();
}

/**
 * A bucket write that the server could not merge alone: a field both
 * changed (409 MERGE_CONFLICT), or a base it no longer keeps (412). Merge
 * the buckets here by the same rules (merge3), item by item and field by
 * field, and ask the person only about this activity's fields; a cancel
 * rejects, and nothing is written.
 */
async function settle({ base, yours, theirs, by, at }, id, how) {
  const { value, conflicts } = merge3(base, yours, theirs);
  if (!conflicts.length) {
    how.merged = true;
    return value;
  }
  const one = (list) => list?.find((a) => a.id === id);
  const pick = await askConflict(
    { base: one(base), yours: one(yours), theirs: one(theirs), by, at },
    { title: 'Someone else edited this activity' });
  const i = value.findIndex((a) => a.id === id);
  if (pick === undefined)		/* theirs: deleted; so be it */
    return i < 0 ? value : value.filter((a) => a.id !== id);
  if (i < 0) return [...value, pick];
  value[i] = pick;
  return value;
}

/** A change from the list itself (the done box): read, change, write. */
async function quickEdit(id, fields) {
  const found = await readItem(id);
  if (found) await write(id, found.key, found.from, fields);
}

addForm.onsubmit = async (e) => {
  e.preventDefault();
  const form = addForm.elements;
  const title = form.title.value.trim();
  if (!title) return;
  const item = { id: newId(), title, owner: form.owner.value.trim(),
    done: false, by: user };
  addForm.reset();
  form.title.focus();
  try {
    await acts.upsert([item]);
    status(`Added "${title}"`);
  } catch (err) {
    status(`Not added: ${err.message}`);
  }
  await refresh();
};

editForm.oninput = editForm.onchange = (e) => editing?.dirty.add(e.target.name);
editForm.onsubmit = (e) => {
  e.preventDefault();
  const { id, key, from, dirty } = editing;
  const fields = {};
  for (const f of dirty) {
    const input = editForm.elements[f];
    fields[f] = f === 'done' ? input.checked : input.value.trim();
  }
  close();
  if (dirty.size) write(id, key, from, fields);
};
editForm.elements.close.onclick = close;
editForm.elements.delete.onclick = async () => {
  const { id } = editing;
  close();
  try {
    await acts.delete([id]);
    status('Deleted');
  } catch (e) {
    status(`Not deleted: ${e.message}`);
  }
  await refresh();
};

let timer;
store.watch(`_act/${set}/`, () => {
  clearTimeout(timer);
  timer = setTimeout(refresh, 100);
});
refresh();
