// common.js - what every demo page shares: the store and who is using it.
//
// The person's name comes from ?user=NAME (kept for the tab in
// sessionStorage), else a guest name made once per tab. The store comes
// from access.js, which asks for a token when the server needs one. Only
// the library (/verstore.js) and the dialog (/conflict.js) are used:
// nothing else.
import { connect } from '/demo/access.js';

const params = new URLSearchParams(location.search);
function setting(name, make) {
  const v = params.get(name) ?? sessionStorage.getItem(`verstore-${name}`) ??
    make?.();
  if (v != null) sessionStorage.setItem(`verstore-${name}`, v);
  return v ?? undefined;
}

/** The person using this tab. */
export const user = setting('user', () =>
  'guest-' + Math.random().toString(36).slice(2, 6));
/** The store, as this tab's token: the page waits here for one it needs;
    offline (its writes kept on this device until sent) where the page says
    <meta name="verstore-offline">. */
export const store = await connect({ offline:
  !!document.querySelector('meta[name=verstore-offline]') && { name: user } });

/** A short "12:03:04" of an RFC 3339 time, for lists of changes. */
export const clock = (t) => t ? new Date(t).toLocaleTimeString() : '';

/** Shows text in the page's status line (#status) for a few seconds. */
export function status(text, ms = 4000) {
  const el = document.getElementById('status');
  if (!el) return;
  el.textContent = text;
  clearTimeout(el.t);
  if (ms) el.t = setTimeout(() => { el.textContent = ''; }, ms);
}

/**
 * A new id for an item, unique across tabs. crypto.randomUUID exists only
 * in secure contexts (https, localhost): a page on plain http elsewhere
 * gets 128 random bits from getRandomValues, which exists everywhere.
 */
export function newId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

/**
 * Shows the offline store's state in #pending: "3 changes waiting to be
 * saved", offline or not; calls landed() when the last one was sent.
 * @param {() => void} [landed]
 */
export function showPending(landed) {
  const el = document.getElementById('pending');
  let before = 0;
  const show = () => {
    const { state, pending, conflicts } = store.status;
    const n = pending === 1 ? '1 change' : `${pending} changes`;
    el.textContent = (pending ? `${n} waiting to be saved` : '') +
      (conflicts ? ` (${conflicts} to settle)` : '') +
      (state === 'offline' ? (pending ? ', offline' : 'Offline') : '');
    el.dataset.state = state;
    if (before && !pending) landed?.();
    before = pending;
  };
  store.addEventListener('status', show);
  show();
}

/**
 * The value when it is an object, else {}: a key may hold what another client
 * wrote (a string, null, a list), which a page shows as an empty item
 * rather than failing on.
 */
export const asObject = (v) =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? v : {};
