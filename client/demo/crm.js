// crm.js - one customer card that many people edit at once.
//
// Field edits: store.save(key, from, yours) sends the person's edit of the
// card as it was when they began (`from`); the server merges it with what
// others saved since, and only a field that both changed opens the
// conflict dialog. Comments: store.append() with stamp, which never
// conflicts. Live: store.watch() re-reads the card on every change, and
// store.presence() says who else has the card open.
import { store, user, status, clock, newId, asObject }
  from '/demo/common.js';
import { askConflict } from '/conflict.js';

const key = new URLSearchParams(location.search).get('card') ?? 'crm/acme';
const FIELDS = ['status', 'company', 'contact', 'email', 'phone', 'value'];
const BLANK = { status: 'lead', company: '', contact: '', email: '',
  phone: '', value: 0, comments: [] };

const form = document.getElementById('card');
const commentForm = document.getElementById('new-comment');
document.querySelector('.who').textContent = user;
document.title = `${key} - Customer card`;

const TTL = Number(new URLSearchParams(location.search).get('ttl') ?? 30);
store.presence(key, { state: { user }, ttl: TTL, onChange: (others) => {
  const names = [...new Set(others.map((p) =>
    p.state?.user ?? p.by ?? 'someone'))];
  document.getElementById('open-by').textContent = names.length ?
    `Also open by ${names.join(', ')}` : '';
} });

let shown = null;		// the card as last read: {value, version, ...}
let from = null;		// the card as it was when the person began editing
const edited = new Set();	// the fields they changed since then

const field = (name) => form.elements[name];
const read = (name) => name === 'value' ?
  Number(field(name).value) : field(name).value;

/** Shows env, but not over a field the person has changed or is in. */
function render(env) {
  if (shown && env.version < shown.version) return;	/* a late answer */
  shown = env;
  const card = asObject(env.value);
  for (const name of FIELDS) {
    const el = field(name);
    if (edited.has(name) || el === document.activeElement) continue;
    el.value = card[name] ?? '';
  }
  showComments(Array.isArray(card.comments) ? card.comments : []);
  document.getElementById('version').textContent = `version ${env.version}`;
}

function showComments(comments) {
  const items = comments.map(asObject).map((c) => {
    const li = document.createElement('li');
    const author = document.createElement('span');
    author.className = 'author';
    author.textContent = c.author ?? c.by ?? 'someone';
    const at = document.createElement('span');
    at.className = 'muted';
    at.textContent = ` ${clock(c.at)}: `;
    li.append(author, at, c.text);
    return li;
  });
  document.getElementById('comments').replaceChildren(...items);
}

/* Editing begins from what the page shows; a field left unchanged shows
   the latest again. */
form.addEventListener('focusin', () => {
  if (!edited.size) from = shown;
});
form.addEventListener('input', (e) => {
  from ??= shown;
  edited.add(e.target.name);
});
form.addEventListener('focusout', (e) => {
  const name = e.target.name;
  if (FIELDS.includes(name) && !edited.has(name))
    e.target.value = asObject(shown.value)[name] ?? '';
});

form.addEventListener('submit', async (e) => {
  e.preventDefault();
  if (!edited.size) return status('Nothing to save');
  const yours = structuredClone(asObject(from.value));
  for (const name of edited) yours[name] = read(name);
  status('Saving...', 0);
  form.inert = true;
  try {
    const saved = await store.save(key, from, yours, {
      onConflict: (ctx) => askConflict(ctx,
        { title: 'Someone changed the same field' }),
    });
    edited.clear();
    from = null;
    render(await store.get(key));
    status(saved.merged ? `Saved with the others' changes (version ${saved.version})`
      : `Saved (version ${saved.version})`);
  } catch (err) {
    status(err.name === 'AbortError' ? 'Not saved' : `Not saved: ${err.message}`);
  } finally {
    form.inert = false;
  }
});

commentForm.addEventListener('submit', async (e) => {
  e.preventDefault();
  const box = commentForm.elements.text;
  const text = box.value.trim();
  if (!text) return;
  box.value = '';
  try {
    /* the server adds "at" and "by"; the name is kept for display */
    await store.append(key, '/comments',
      { id: newId(), text, author: user }, { stamp: true });
    render(await store.get(key));
    status('Comment added');
  } catch (err) {
    box.value = text;
    status(`Comment not sent: ${err.message}`);
  }
});

/** The card; a new blank one when nobody has made it yet. */
async function load() {
  try {
    return await store.get(key);
  } catch (e) {
    if (e.status !== 404) throw e;
    await store.put(key, BLANK).catch((e) => {
      if (e.status !== 412) throw e;	/* someone else made it first */
    });
    return store.get(key);
  }
}

/* The feed's position before the first read, so that no change after
   that read is missed. */
const since = await store.seq();
render(await load());
store.watch(key, async (change) => {
  if (change.key !== key) return;	/* the prefix matches longer keys too */
  try {
    render(await store.get(key));
  } catch (err) {
    status(`Could not read the card: ${err.message}`);
  }
}, { since });
