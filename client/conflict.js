// conflict.js - the conflict dialog of verstore: <verstore-conflict>.
//
//   import { askConflict } from '/conflict.js';
//   await store.update(key, edit, { merge: true, onConflict: askConflict });
//
// It shows, for each field that both sides changed, theirs and yours side
// by side, as a person reads them, and who saved theirs and when (the
// server's updated_by and updated_at, which update() and save() pass on
// as ctx.by and ctx.at); the person keeps all of theirs, all of yours, or
// picks per field. Every change that does not clash is kept from both
// sides.
// merge3() is that merge without the dialog, by the server's rules
// (doc/API.md 4.1), so that the fields shown are the ones the server named.

import { sameJSON as equal } from './verstore.js';

const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const esc = (s) => String(s).replace(/~/g, '~0').replace(/\//g, '~1');

/** Arrays whose elements are all objects with distinct ids merge by id. */
function idArray(a) {
  if (!Array.isArray(a)) return false;
  const ids = new Set();
  for (const x of a) {
    if (!isObj(x) || !(typeof x.id === 'string' ||
        typeof x.id === 'number' && Number.isFinite(x.id)))
      return false;
    const k = String(x.id);	/* as the server: "7" and 7 are one id */
    if (ids.has(k)) return false;
    ids.add(k);
  }
  return true;
}
const byId = (a) => new Map((a ?? []).map((x) => [String(x.id), x]));
const own = (o, k) => Object.hasOwn(o, k) ? o[k] : undefined;
/* a member set as data, even one named __proto__ */
const put = (o, k, v) => Object.defineProperty(o, k,
  { value: v, enumerable: true, writable: true, configurable: true });

/**
 * Three-way merge of plain JSON values: what changed from base on one side
 * only is taken from that side; objects merge member by member, arrays of
 * objects with distinct ids item by item (theirs' order, your new items
 * after), where all three are objects (id-arrays); a path changed on both
 * sides to different results is a conflict,
 * settled by pick(pointer, yours, theirs), which defaults to theirs.
 * undefined stands for "absent".
 * @param {*} base the value both sides started from
 * @param {*} yours
 * @param {*} theirs
 * @param {(pointer: string, yours: *, theirs: *) => *} [pick]
 * @returns {{value: *, conflicts: Array<{pointer: string, yours: *,
 *   theirs: *, base: *}>}}
 */
export function merge3(base, yours, theirs, pick) {
  const conflicts = [];
  const walk = (b, y, t, ptr) => {
    if (equal(y, t)) return y;
    if (equal(y, b)) return t;
    if (equal(t, b)) return y;
    // as the server: objects (and id-arrays) merge inside only where the
    // base had one too; two different objects added at one path clash
    if (isObj(b) && isObj(y) && isObj(t)) {
      const out = {};
      for (const k of new Set([...Object.keys(t), ...Object.keys(y)])) {
        const v = walk(own(b, k), own(y, k), own(t, k), `${ptr}/${esc(k)}`);
        if (v !== undefined) put(out, k, v);
      }
      return out;
    }
    if (idArray(b) && idArray(y) && idArray(t)) {
      const bm = byId(b), ym = byId(y), tm = byId(t);
      const out = [];
      const one = (k, x) => {
        const v = walk(bm.get(k), ym.get(k), tm.get(k),
          `${ptr}/id=${esc(x.id)}`);
        if (v !== undefined) out.push(v);
      };
      for (const x of t) one(String(x.id), x);
      for (const x of y) {
        const k = String(x.id);
        if (!tm.has(k)) one(k, x);
      }
      return out;
    }
    conflicts.push({ pointer: ptr, yours: y, theirs: t, base: b });
    return pick ? pick(ptr, y, t) : t;
  };
  const value = walk(base, yours, theirs, '');
  return { value, conflicts };
}

/* '/stops/id=3/place' as 'stops › id=3 › place'; '' is the whole value. */
const label = (pointer) => pointer.split('/').slice(1).map((t) =>
  t.replace(/~1/g, '/').replace(/~0/g, '~')).join(' › ') || '(all of it)';

const plain = (v) => v === null || typeof v !== 'object';
/* A plain value as a person reads it: text as it is, numbers as numbers,
   true and false as yes and no. */
const word = (v) => v === null || v === '' ? '(empty)' :
  typeof v === 'boolean' ? (v ? 'yes' : 'no') : String(v);
/* A list of plain values, a line of them. */
const line = (v) => Array.isArray(v) && v.every(plain) ?
  v.map(word).join(', ') || '(none)' : null;
/**
 * A value as a person reads it, for a cell of the dialog: {text, kind}.
 * Plain values as words, a list of them as one line, an object of those as
 * "name: value" lines; only what is nested deeper as indented JSON (kind
 * 'json'); absent as "(removed)" (kind 'none').
 */
function readable(v) {
  if (v === undefined) return { text: '(removed)', kind: 'none' };
  if (plain(v)) return { text: word(v), kind: v === null || v === '' ?
    'none' : 'text' };
  const one = line(v);
  if (one !== null) return { text: one, kind: 'text' };
  const members = Object.entries(v);
  if (!Array.isArray(v) && members.every(([, x]) => plain(x) ||
      line(x) !== null))
    return { text: members.map(([k, x]) =>
      `${k}: ${plain(x) ? word(x) : line(x)}`).join('\n') || '(empty)',
    kind: 'text' };
  return { text: JSON.stringify(v, null, 2), kind: 'json' };
}

/* How long ago an RFC 3339 time was, as a person says it; null for none. */
function ago(at, now = Date.now()) {
  const t = at ? Date.parse(at) : NaN;
  if (Number.isNaN(t)) return null;
  const s = Math.round((now - t) / 1000);
  if (s < 10) return 'just now';		/* and a clock a little ahead */
  if (s < 60) return `${s} seconds ago`;
  const m = Math.round(s / 60);
  if (m < 60) return m === 1 ? 'a minute ago' : `${m} minutes ago`;
  const h = Math.round(m / 60);
  if (h < 24) return h === 1 ? 'an hour ago' : `${h} hours ago`;
  return `on ${new Date(t).toLocaleString()}`;
}

const STYLE = `
dialog{border:1px solid #888;border-radius:8px;padding:1em 1.2em;
  max-width:min(48em,92vw);font:15px/1.4 system-ui,sans-serif}
dialog::backdrop{background:#0005}
h2{margin:0 0 .3em;font-size:1.15em}
p{margin:.2em 0 .8em;color:#444}
table{border-collapse:collapse;width:100%}
th,td{border-top:1px solid #ddd;padding:.4em;vertical-align:top;text-align:left}
td.field{font-family:monospace;white-space:nowrap}
label{display:flex;gap:.4em;align-items:baseline;cursor:pointer}
th .who{display:block;font-weight:normal;color:#555;font-size:.9em}
.value{white-space:pre-wrap;word-break:break-word;max-height:10em;
  overflow:auto}
.value.json{font-family:monospace;font-size:.9em}
.value.none{color:#777;font-style:italic}
.buttons{display:flex;flex-wrap:wrap;gap:.5em;margin-top:1em}
button{font:inherit;padding:.35em .8em}`;

/* HTMLElement where there is a DOM; in Node, a stand-in, so that the
   module (merge3 and the rest) imports there too. */
/** @type {typeof HTMLElement} */
const ElementBase = globalThis.HTMLElement ?? /** @type {any} */ (class {});

/**
 * <verstore-conflict>: a modal dialog over the page. Use askConflict(), or
 * the element's ask(ctx, opts) when it is already in the page.
 */
export class VerstoreConflict extends ElementBase {
  /** As document.createElement('verstore-conflict') makes it. */
  constructor() {
    super();
    this.attachShadow({ mode: 'open' });
  }

  /**
   * Shows the clash and waits for the person's choice.
   * @param {{base: *, yours: *, theirs: *, key?: string,
   *   by?: string | null, at?: string | null}} ctx by and at: who wrote
   *   theirs and when (RFC 3339), as update() and save() pass them from
   *   the server's refusal; the dialog names them
   * @param {{title?: string, whole?: boolean}} [opts] whole: also offer
   *   "Reload theirs" and "Overwrite with mine" (whole documents).
   * @returns {Promise<{choice: 'mine'|'theirs'|'picked'|'reload'|
   *   'overwrite'|'cancel', value: *}>} value: what to write (undefined
   *   for cancel); for reload, theirs.
   */
  ask(ctx, opts = {}) {
    const { base, yours, theirs } = ctx;
    const { conflicts } = merge3(base, yours, theirs);
    const root = this.shadowRoot;
    root.replaceChildren();
    const el = (tag, props = {}, ...kids) => {
      const e = document.createElement(tag);
      Object.assign(e, props);
      e.append(...kids);
      return e;
    };
    const style = el('style', { textContent: STYLE });
    const dialog = el('dialog', { part: 'dialog' });
    const when = ago(ctx.at);
    const n = conflicts.length;
    dialog.append(el('h2', { textContent: opts.title ??
      'Someone else changed this too' }),
    el('p', { className: 'who', textContent: `${ctx.by ?? 'Someone else'} ` +
      `saved ${ctx.key ?? 'this'}${when ? ` ${when},` : ''} while you ` +
      'were changing it.' }),
    el('p', { textContent: `${n === 1 ? 'One field' : `${n} fields`} ` +
      `changed on both sides: choose which to keep. Their other changes ` +
      'and yours are both kept.' }));
    const theirsBy = ctx.by ? [`by ${ctx.by}`, when].filter(Boolean)
      .join(', ') : when && `saved ${when}`;
    const head = el('th', { className: 'theirs' }, 'Theirs');
    if (theirsBy) head.append(el('span', { className: 'who',
      textContent: theirsBy, title: ctx.at ?? '' }));
    const table = el('table', {},
      el('tr', {}, el('th', { textContent: 'Field' }), head,
        el('th', { className: 'yours', textContent: 'Yours' })));
    conflicts.forEach((c, i) => {
      const cell = (side, v, checked) => {
        const { text, kind } = readable(v);
        return el('td', { className: side },
          el('label', {}, el('input', { type: 'radio', name: `f${i}`,
            value: side, checked }),
          el('div', { className: `value ${kind}`, textContent: text })));
      };
      const row = el('tr', { className: 'conflict' },
        el('td', { className: 'field', textContent: label(c.pointer) }),
        cell('theirs', c.theirs, false), cell('yours', c.yours, true));
      row.dataset.pointer = c.pointer;
      table.append(row);
    });
    dialog.append(table);
    const buttons = el('div', { className: 'buttons' });
    dialog.append(buttons);
    root.append(style, dialog);
    return new Promise((resolve) => {
      const done = (choice, value) => {
        dialog.close();
        this.remove();
        resolve({ choice, value });
      };
      const picked = () => {
        const want = new Map(conflicts.map((c, i) => [c.pointer,
          /** @type {HTMLInputElement | null} */ (
            root.querySelector(`input[name=f${i}]:checked`))?.value]));
        return merge3(base, yours, theirs,
          (p, y, t) => want.get(p) === 'yours' ? y : t).value;
      };
      const button = (name, text, fn) => buttons.append(el('button',
        { name, textContent: text, onclick: fn }));
      button('mine', 'Keep mine', () => done('mine',
        merge3(base, yours, theirs, (p, y) => y).value));
      button('theirs', 'Take theirs', () => done('theirs',
        merge3(base, yours, theirs).value));
      if (conflicts.length > 1)
        button('picked', 'Use my picks', () => done('picked', picked()));
      if (opts.whole) {
        button('reload', 'Reload theirs', () => done('reload', theirs));
        button('overwrite', 'Overwrite with mine', () => done('overwrite', yours));
      }
      button('cancel', 'Cancel', () => done('cancel', undefined));
      dialog.addEventListener('cancel', (e) => {
        e.preventDefault();
        done('cancel', undefined);
      });
      dialog.showModal();
    });
  }
}

if (globalThis.customElements && !customElements.get('verstore-conflict'))
  customElements.define('verstore-conflict', VerstoreConflict);

/**
 * Opens a <verstore-conflict> dialog over the page and resolves to the
 * person's choice. Nothing clashes (a refusal that a merge settles): no
 * dialog, {choice: 'merged', value: the merge}.
 * @param {{base: *, yours: *, theirs: *, key?: string,
 *   by?: string | null, at?: string | null}} ctx as the element's ask()
 * @param {{title?: string, whole?: boolean}} [opts]
 * @returns {Promise<{choice: 'merged' | 'mine' | 'theirs' | 'picked' |
 *   'reload' | 'overwrite' | 'cancel', value: *}>} as the element's ask()
 */
export async function openConflict(ctx, opts) {
  const m = merge3(ctx.base, ctx.yours, ctx.theirs);
  if (!m.conflicts.length) return { choice: 'merged', value: m.value };
  const d = /** @type {VerstoreConflict} */ (
    document.createElement('verstore-conflict'));
  document.body.append(d);
  return d.ask(ctx, opts);
}

/**
 * Opens a <verstore-conflict> dialog and resolves to the value to write:
 * the shape of update()'s onConflict. Cancel rejects with an AbortError,
 * so that update() writes nothing.
 * @param {{base: *, yours: *, theirs: *, key?: string,
 *   by?: string | null, at?: string | null}} ctx as the element's ask()
 * @param {{title?: string, whole?: boolean}} [opts]
 * @returns {Promise<*>}
 */
export async function askConflict(ctx, opts) {
  const { choice, value } = await openConflict(ctx, opts);
  if (choice === 'cancel')
    throw new DOMException('The conflict dialog was cancelled.', 'AbortError');
  return value;
}
