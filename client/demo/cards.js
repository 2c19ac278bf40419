// cards.js - business cards: create one from a name, edit its profile.
//
// A card is the key PREFIX/slug (?prefix=NAME, default "cards"), made by
// the server from the name so that two people creating "Ann Lee" get
// ann-lee and ann-lee-2 (doc/API.md 3.6). An edit is optimistic: the list
// shows it at once while store.save() writes it in the background (a
// network error is retried with back-off by the library), merged by the
// server with what others saved since the card was opened (4.1); a field
// that both changed is shown in the conflict dialog.
import { store, user, status, asObject } from '/demo/common.js';
import { askConflict } from '/conflict.js';

const prefix = (new URLSearchParams(location.search).get('prefix') ||
  'cards') + '/';
const FIELDS = ['name', 'title', 'email', 'phone', 'bio'];
const $ = (sel) => document.querySelector(sel);
const newForm = $('#new'), form = $('#profile');
$('.who').textContent = user;

/** key -> {key, version, value} as last listed. */
let cards = new Map();
/** key -> the value being saved, shown in the list until it is. */
const pending = new Map();
/** The card in the form: {key, from: its envelope, dirty: fields changed}. */
let open = null;

let reads = 0;
async function reload() {
  const n = ++reads;
  const list = new Map();
  for await (const item of store.list(prefix, { values: true }))
    list.set(item.key, item);
  if (n !== reads) return;		/* a newer read is under way */
  cards = list;
  render();
  if (open && cards.has(open.key)) fill(cards.get(open.key).value);
}
const refresh = () => reload().catch((e) => status(e.message));

function render() {
  const items = [...cards.keys()].map((key) => {
    const card = asObject(pending.get(key) ?? cards.get(key).value);
    const slug = key.slice(prefix.length);
    const li = document.createElement('li');
    li.className = 'card';
    li.dataset.key = key;
    li.classList.toggle('open', key === open?.key);
    const line = (text, className) => Object.assign(
      document.createElement('span'), { className, textContent: text });
    const about = [card.title, card.email, card.phone].filter(Boolean);
    li.append(line(card.name || slug, 'name'));
    if (about.length) li.append(line(about.join(' · ')));
    li.append(line(`${slug} · by ${card.by || 'someone'}`, 'muted'));
    li.onclick = () => select(key);
    return li;
  });
  $('#cards').replaceChildren(...items);
  $('#empty').hidden = items.length > 0;
}

/**
 * Shows a card's value in the form, but not over a field the person has
 * changed or is typing in (live: false skips only the changed ones).
 */
function fill(value, live = true) {
  for (const f of FIELDS) {
    const input = form.elements[f];
    if (open.dirty.has(f) || live && input === document.activeElement)
      continue;
    input.value = asObject(value)[f] ?? '';
  }
}

async function select(key) {
  if (open?.dirty.size && !confirm('Drop your unsaved changes?')) return;
  let from;
  try {
    from = await store.get(key);
  } catch (e) {
    return status(e.message);
  }
  open = { key, from, dirty: new Set() };
  $('#key').textContent = key.slice(prefix.length);
  fill(open.from.value, false);
  form.hidden = false;
  render();
}

/** Who wrote the version ours was merged with: the names it stamped. */
async function whoElse(key, from, version) {
  try {
    const theirs = await store.version(key, version);
    const before = from.value.edited ?? {};
    const names = Object.entries(theirs.value.edited ?? {})
      .filter(([who, at]) => who !== user && before[who] !== at)
      .map(([who]) => who);
    return names.join(' and ') || theirs.updated_by || 'someone';
  } catch {
    return 'someone';
  }
}

/* Who stamped card last, other than this tab's user: the name the dialog
   gives theirs where the server knows none (auth none). */
function lastEditor(card) {
  const stamps = Object.entries(asObject(asObject(card).edited))
    .filter(([who]) => who !== user).sort(([, a], [, b]) => a < b ? 1 : -1);
  return stamps[0]?.[0] ?? null;
}

form.oninput = (e) => open.dirty.add(e.target.name);
form.onsubmit = async (e) => {
  e.preventDefault();
  const { key, from, dirty } = open;
  if (!dirty.size) return;
  // yours: the card as it was opened, with the fields the person changed
  // and a stamp of who edited it (a member per person: stamps never clash)
  const sent = {};
  for (const f of dirty) sent[f] = form.elements[f].value.trim();
  const was = asObject(from.value);
  const yours = { ...was, ...sent,
    edited: { ...was.edited, [user]: new Date().toISOString() } };
  pending.set(key, yours);		/* optimistic: show it now */
  render();
  status('Saving…', 0);
  try {
    const env = await store.save(key, from, yours, { onConflict: (ctx) =>
      askConflict({ ...ctx, by: ctx.by ?? lastEditor(ctx.theirs) },
        { title: 'Someone else changed this card' }) });
    const written = await store.version(key, env.version);
    if (open?.key === key) {
      open.from = written;		/* the base of the next edit */
      for (const f of Object.keys(sent))	/* unless typed in since */
        if (form.elements[f].value.trim() === sent[f]) open.dirty.delete(f);
      fill(written.value, false);
    }
    status(env.merged ?
      `Merged with ${await whoElse(key, from, env.merged.current)}'s change` :
      'Saved');
  } catch (err) {
    status(err.name === 'AbortError' ? 'Not saved' : `Not saved: ${err.message}`);
  }
  pending.delete(key);
  await refresh();
};

newForm.onsubmit = async (e) => {
  e.preventDefault();
  const name = newForm.elements.name.value.trim();
  if (!name) return;
  try {
    const env = await store.create(prefix, { name, title: '', email: '',
      phone: '', bio: '', by: user, edited: {} }, { slug: name });
    newForm.reset();
    status(`Created ${env.key.slice(prefix.length)}`);
    await refresh();
    if (!open?.dirty.size) select(env.key);
  } catch (err) {
    status(`Not created: ${err.message}`);
  }
};

let timer;
store.watch(prefix, () => {
  clearTimeout(timer);
  timer = setTimeout(refresh, 100);
});
refresh();
