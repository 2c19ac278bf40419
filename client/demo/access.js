// access.js - the store for a demo page, and what the page says when the
// server refuses it.
//
// Under `auth token` (doc/API.md 9) every request needs a token. The page
// asks for one, visibly, before the demo starts when the server answers
// 401, and again whenever a later request does (a revoked token, say); a
// 403 says which key the token may not touch. ?token=T in the address does
// the same as typing it. The token is kept in sessionStorage: a credential
// should last no longer than the tab that uses it (closing the tab forgets
// it, nothing stays behind on a shared computer), and each tab may be
// another person, as ?user= makes it. An error that the page did not
// handle is shown on the page too, not in the console alone.
import { Verstore } from '/verstore.js';

const SAVED = 'verstore-token';

/* ?token= is taken from the address and removed from it: an address is
   shown, copied and kept in the history. */
const params = new URLSearchParams(location.search);
if (params.has('token')) {
  sessionStorage.setItem(SAVED, params.get('token') ?? '');
  params.delete('token');
  history.replaceState(null, '', `${location.pathname}${params.size ?
    '?' + params : ''}${location.hash}`);
}

const el = (tag, props = {}, ...kids) => {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...kids);
  return e;
};
const code = (text) => el('code', { textContent: text });

/* The box at the top of the page that all of this is shown in. */
let box = null;
function area() {
  if (!box) {
    box = el('section', { id: 'access' });
    const header = document.querySelector('body > header');
    if (header) header.after(box);
    else document.body.prepend(box);
  }
  return box;
}
function part(id, className) {
  let p = document.getElementById(id);
  if (!p) {
    p = el('div', { id, className: `notice ${className}` });
    p.setAttribute('role', 'alert');
    area().append(p);
  }
  return p;
}

/** What the demo asks of the server, from a request's address. */
function what(url) {
  const u = new URL(url, location.href);
  const path = u.pathname.replace(/^\/api\//, '');
  const tail = (p) => p.split('/').map(decodeURIComponent).join('/');
  if (path.startsWith('storage/')) return tail(path.slice(8));
  if (path.startsWith('activities/'))
    return `the activity set ${tail(path.slice(11))}`;
  if (path === 'changes')
    return u.searchParams.get('prefix') ?
      `the changes under ${u.searchParams.get('prefix')}` : 'the changes';
  return '/api/' + path;
}

/** Asks the server whether store's token lets it in: an answer that
    costs nothing (the feed's position), waited for at most ms. */
const knock = (store, ms = 5000) => store.request('GET',
  '/api/changes?since=9999999999&limit=1',
  { retries: 0, signal: AbortSignal.timeout(ms) });

let waiting = null;	/* the prompt on the page: resolves with a token */
let running = false;	/* the demo has started: a new token reloads it */

/**
 * Shows the token prompt (once, however many requests were refused) and
 * resolves when a token that the server knows has been entered.
 * @param {boolean} [other] the person asked to use another token (a 403)
 */
function askToken(other = false) {
  if (waiting) return waiting.promise;
  let resolve;
  const promise = new Promise((r) => { resolve = r; });
  waiting = { promise };
  const had = sessionStorage.getItem(SAVED);
  const [title, why] = other ? ['Use another token', 'The page starts ' +
    'again with the token you give here. '] : had ? ['This token is not ' +
    'accepted', 'The server does not know the token this tab had: it was ' +
    'mistyped or revoked. '] : ['This server asks for a token', 'Every ' +
    'request to this server needs a token (auth token). '];
  const input = el('input', { type: 'password', name: 'token',
    autocomplete: 'off', placeholder: 'Paste your token', required: true });
  const error = el('p', { className: 'error' });
  const form = el('form', { className: 'token' }, input,
    el('button', { textContent: 'Use this token' }));
  const prompt = part('token-prompt', 'ask');
  prompt.replaceChildren(
    el('h2', { textContent: title }),
    el('p', {}, why, 'Paste the one you were given. Whoever runs the ' +
      'server makes one with ',
    code('verstored token add NAME --prefix crm/'), '.'),
    form, error,
    el('p', { className: 'muted' }, 'Or open the page with ',
      code(`${location.pathname}${location.search ?
        location.search + '&' : '?'}token=YOUR_TOKEN`),
      ': the page takes the token from the address, removes it from the ' +
      'address bar, and keeps it, as a typed one, for this tab only ' +
      '(sessionStorage): closing the tab forgets it.'));
  document.body.classList.toggle('locked', !running);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const token = input.value.trim();
    error.textContent = 'Checking…';
    /* the raw fetch: this answer is the prompt's own */
    try {
      await knock(new Verstore(location.origin, { token }), 15000);
    } catch (err) {
      if (err.status === 401) {
        error.textContent = 'The server does not know this token: check ' +
          'that it was copied whole.';
        return;
      }
      if (err.status !== 403) {
        error.textContent = `Could not check the token: ${err.message}`;
        return;
      }
    }
    sessionStorage.setItem(SAVED, token);
    if (running) return location.reload();
    prompt.remove();
    document.body.classList.remove('locked');
    waiting = null;
    resolve(token);
  });
  setTimeout(() => input.focus());
  return promise;
}

const refusals = new Set();	/* what 403s named, each shown once */
function forbidden(url, body) {
  const thing = what(url);
  if (refusals.has(thing)) return;
  refusals.add(thing);
  const p = part('forbidden', 'refused');
  if (!p.firstChild) {
    const other = el('button', { type: 'button',
      textContent: 'Use another token' });
    other.onclick = () => askToken(true);
    p.append(el('h2', { textContent:
      'This token may not use what this page needs' }), el('ul'),
    el('p', { textContent: 'Ask whoever runs the server for a token ' +
      'whose prefixes cover it, or open the page on keys that this token ' +
      'covers.' }), other);
  }
  p.querySelector('ul').append(el('li', {}, code(thing),
    `: ${body?.message ?? 'the server refused it (403).'}`));
}

/* Every answer passes here: a 401 asks for a token, a 403 says what. */
async function watched(url, init) {
  const res = await fetch(url, init);
  if (res.status === 401 && running) askToken();
  else if (res.status === 403)
    forbidden(String(url), await res.clone().json().catch(() => null));
  return res;
}

/** Shows an error that the page did not handle, at the top of the page. */
function pageError(err) {
  if (err?.name === 'VerstoreError' && (err.status === 401 ||
      err.status === 403))
    return;		/* the prompt or the refusal says it */
  const p = part('page-error', 'failed');
  const msg = err?.message ?? String(err);
  if (!p.firstChild) p.append(el('h2', { textContent: 'Something went wrong' }),
    el('ul'), el('p', { className: 'muted',
      textContent: 'Reload the page to start again.' }));
  const list = p.querySelector('ul');
  if ([...list.children].some((li) => li.textContent === msg)) return;
  list.append(el('li', { textContent: msg }));
}
addEventListener('error', (e) => pageError(e.error ?? e.message));
addEventListener('unhandledrejection', (e) => pageError(e.reason));

/**
 * The store as this tab's token, once the server lets it in: under auth
 * token without a token it knows, after the person has entered one. A
 * server that cannot be reached, or does not answer within 5 s, does not
 * hold the page up (notes work offline): a 401 later asks then.
 * @param {object} [options] more of the store's options (offline)
 * @returns {Promise<Verstore>}
 */
export async function connect(options = {}) {
  const store = new Verstore(location.origin, { ...options,
    token: sessionStorage.getItem(SAVED) || undefined, fetch: watched });
  try {
    await knock(store);
  } catch (e) {
    if (e.status === 401) store.token = await askToken();
  }
  running = true;
  return store;
}
