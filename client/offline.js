// offline.js - what new Verstore(url, {offline: true}) adds (README,
// "Offline and across tabs"): writes recorded in IndexedDB before they
// are sent and sent when the network is back, in order per key and once
// each; reads from the last value seen; one change feed for all the tabs
// of an origin. verstore.js imports it only when offline is asked for.
import { VerstoreError, sameJSON } from './verstore.js';

/** @typedef {import('./verstore.js').Verstore} Verstore */
/** @typedef {import('./verstore.js').Change} Change */
/**
 * A write waiting to be sent, as IndexedDB keeps it: its order (id), the
 * request, the version it was based on and its Idempotency-Key.
 * @typedef {{id?: number, method: string, key: string, keys: string[],
 *   path: string, type?: string, body?: *, value?: *, base?: number,
 *   force?: boolean, merge?: boolean, idem?: string, tried?: boolean,
 *   reported?: boolean, conflict?: {version: number, exists: boolean,
 *   value: *, conflicts: string[], code: string} | null,
 *   failed?: {status: number, code: string, message: string} | null,
 *   at: number}} Pending
 */
/**
 * What the store shows a page: online, offline or syncing, and the writes
 * waiting (conflicts: those that wait for a person).
 * @typedef {{state: 'online' | 'offline' | 'syncing', pending: number,
 *   conflicts: number, leader: boolean}} Status
 */

const DB_VERSION = 1;
const MAX_BACKOFF = 30000;	/* ms: the longest wait between tries */
const OUTCOME_TTL = 60000;	/* ms an outcome waits for its caller */

/* A promise of one IndexedDB request. */
const req = (r) => new Promise((ok, no) => {
  r.onsuccess = () => ok(r.result);
  r.onerror = () => no(r.error);
});
/* A promise of a transaction's end. */
const done = (tx) => new Promise((ok, no) => {
  tx.oncomplete = () => ok(undefined);
  tx.onerror = tx.onabort = () => no(tx.error);
});

/* A short name for a token (never the token itself): one store per
   principal, so that a write is sent with the credential that made it. */
async function tag(token) {
  if (!token) return 'anon';
  const data = new TextEncoder().encode(token);
  if (globalThis.crypto?.subtle) {
    const h = new Uint8Array(await crypto.subtle.digest('SHA-256', data));
    return Array.from(h.slice(0, 8), (b) => b.toString(16).padStart(2, '0'))
      .join('');
  }
  let h = 0x811c9dc5;		/* FNV-1a where subtle is missing (http) */
  for (const b of data) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h.toString(16);
}

/* A network error, a timeout or a 5xx: the write may be sent again. */
const transient = (e) => !(e instanceof VerstoreError) ||
  e.status >= 500 && e.status !== 507 || e.status === 408 ||
  e.status === 429;

/**
 * Leadership of one name among the tabs of an origin: lead() runs in one
 * tab at a time, and in another when that tab closes; it returns what
 * ends it. The Web Locks API where there is one; else claims and
 * heartbeats over BroadcastChannel: a leader silent for 3 s has gone,
 * and of two leaders the one with the higher claim steps down.
 * @param {string} name
 * @param {() => () => void} lead
 */
function leadership(name, lead) {
  if (globalThis.navigator?.locks) {
    navigator.locks.request(name, () => {
      lead();
      return new Promise(() => {});	/* held until the tab closes */
    });
    return;
  }
  const ch = new BroadcastChannel(name);
  const me = Math.random();
  let heard = 0, stop = null;
  ch.onmessage = ({ data }) => {
    if (typeof data?.beat !== 'number') return;
    if (stop && data.beat < me) {	/* the lower claim stays */
      stop();
      stop = null;
    }
    if (!stop) heard = Date.now();
  };
  const tick = () => {
    if (!stop && Date.now() - heard > 3000) stop = lead();
    if (stop) ch.postMessage({ beat: me });
  };
  heard = Date.now();		/* hear a leader first */
  setInterval(tick, 1000);
}

/** The offline side of one Verstore. */
export class Offline {
  /**
   * @param {Verstore} client
   * @param {{name?: string, cacheKeys?: number, maxPending?: number,
   *   feed?: string}} opts
   *   name: another store beside the default one (one per base URL and
   *   token); cacheKeys: keys whose last value is kept (default 500);
   *   maxPending: writes that may wait (default 1000); feed: the prefix
   *   of the feed the tabs share (default '': every key)
   */
  constructor(client, opts) {
    this.client = client;
    client.local = this;
    this.cacheKeys = opts.cacheKeys ?? 500;
    this.maxPending = opts.maxPending ?? 1000;
    this.name = opts.name ?? '';
    this.feed = opts.feed ?? '';
    /** @type {Status} */
    this.status = { state: this.onLine() ? 'online' : 'offline', pending: 0,
      conflicts: 0, leader: false };
    /** @type {IDBDatabase | null} */
    this.db = null;
    this.id = '';
    this.attempt = 0;		/* the tries since the last that worked */
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.timer = undefined;
    /** @type {Set<{prefix: string, cb: (c: Change) => *, since: number,
        onError: (e: *, c: Change) => void, chain: Promise<*>}>} */
    this.subs = new Set();
    this.seq = -1;		/* the last change of the feed seen here */
    this.feedJoined = false;
    /** @type {Set<number>} pending entries being asked about now */
    this.asking = new Set();
  }

  /** Opens the database and starts sending what is pending. */
  async start() {
    const c = this.client;
    this.id = `verstore:${c.base || location.origin}:` +
      `${await tag(c.token)}${this.name ? ':' + this.name : ''}`;
    const open = indexedDB.open(this.id, DB_VERSION);
    open.onupgradeneeded = () => {
      const db = open.result;
      db.createObjectStore('pending', { keyPath: 'id', autoIncrement: true });
      db.createObjectStore('cache', { keyPath: 'key' })
        .createIndex('at', 'at');
      db.createObjectStore('outcome', { keyPath: 'id' });
    };
    this.db = await req(open);
    /* another tab clears the store (a logout): this one lets it go */
    this.db.onversionchange = () => {
      this.db?.close();
      this.db = null;
    };
    this.channel = new BroadcastChannel(this.id);
    this.channel.onmessage = ({ data }) => this.heard(data);
    addEventListener('online', () => this.kick());
    addEventListener('offline', () => this.setStatus({ state: 'offline' }));
    await this.count();
    this.kick();
    return this;
  }

  /** False when the browser knows it has no network. */
  onLine() {
    return globalThis.navigator?.onLine !== false;
  }

  /** @param {Partial<Status>} s */
  setStatus(s) {
    const next = { ...this.status, ...s };
    if (Object.keys(next).every((k) => next[k] === this.status[k])) return;
    this.status = next;
    this.client.dispatchEvent(new Event('status'));
  }

  /* A message of another tab of this store. */
  heard(data) {
    if (data.type === 'change') this.got(data.change);
    else if (data.type === 'queue') this.count();
  }

  /** @param {string} mode @param {string[]} names */
  tx(mode, ...names) {
    if (!this.db) throw new Error('verstore: offline store not open');
    return this.db.transaction(names, /** @type {IDBTransactionMode} */
      (mode));
  }

  /** Counts the pending writes and the conflicts among them. */
  async count() {
    const all = await this.all();
    this.setStatus({ pending: all.length,
      conflicts: all.filter((p) => p.conflict || p.failed).length });
  }

  /** @returns {Promise<Pending[]>} every pending write, oldest first */
  async all() {
    return req(this.tx('readonly', 'pending').objectStore('pending').getAll());
  }

  // -- the cache of values seen -------------------------------------------

  /** Keeps env as the last value seen of its key. */
  async keep(env) {
    if (!env || env.version === undefined) return;
    const tx = this.tx('readwrite', 'cache');
    const store = tx.objectStore('cache');
    store.put({ key: env.key, env, at: Date.now() });
    const n = await req(store.count());
    if (n > this.cacheKeys) {	/* the oldest go */
      const cur = store.index('at').openKeyCursor();
      let left = n - this.cacheKeys;
      cur.onsuccess = () => {
        const c = cur.result;
        if (!c || left-- <= 0) return;
        store.delete(c.primaryKey);
        c.continue();
      };
    }
    await done(tx);
  }

  /** Forgets key in the cache (read as gone). */
  async forget(key) {
    const tx = this.tx('readwrite', 'cache');
    tx.objectStore('cache').delete(key);
    await done(tx);
  }

  /**
   * The last value seen of key, with cached: true, its version, and the
   * value of the last pending put of it when there is one (pending: the
   * count of writes of it that wait).
   */
  async cached(key) {
    const hit = await req(this.tx('readonly', 'cache').objectStore('cache')
      .get(key));
    const mine = (await this.all()).filter((p) => p.keys.includes(key));
    const put = mine.filter((p) => p.method === 'PUT').pop();
    if (!hit && !put) return null;
    const env = hit?.env ?? { key, value: undefined, version: 0,
      updated_at: '' };
    return { ...env, ...(put ? { value: put.value } : {}), cached: true,
      pending: mine.length };
  }

  // -- pending writes -----------------------------------------------------

  /**
   * Records a write, then sends what is pending. Resolves with the
   * server's answer when it is sent now, or {key, pending: true} when it
   * waits (offline, a 5xx); rejects as the request would when the server
   * refuses it at once.
   * @param {Pending} p
   * @returns {Promise<*>}
   */
  async record(p) {
    if ((await this.all()).length >= this.maxPending)
      throw new VerstoreError(507, { code: 'OFFLINE_FULL', message:
        `${this.maxPending} writes are waiting to be sent already.` });
    const tx = this.tx('readwrite', 'pending');
    const id = /** @type {number} */ (await req(tx.objectStore('pending')
      .add(p)));
    await done(tx);
    this.channel?.postMessage({ type: 'queue' });
    await this.count();
    await this.sendAll();
    /* sent by this tab or another: its outcome is kept for us */
    const tx2 = this.tx('readwrite', 'pending', 'outcome');
    const out = await req(tx2.objectStore('outcome').get(id));
    const left = await req(tx2.objectStore('pending').get(id));
    if (out) tx2.objectStore('outcome').delete(id);
    else if (left) tx2.objectStore('pending').put({ ...left, reported: true });
    await done(tx2);
    if (out?.error) throw new VerstoreError(out.error.status,
      out.error.body);
    if (out) return out.json;
    return { key: p.key, pending: true };
  }

  /** Sends now, or after the next back-off. */
  kick() {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.sendAll().catch((e) => console.error('verstore offline:', e));
  }

  /* The next try: a wait that doubles from 0.5 s to at most 30 s, each
     between half of it and all of it, at random. */
  later() {
    clearTimeout(this.timer);
    const cap = Math.min(MAX_BACKOFF, 500 * 2 ** Math.min(this.attempt++, 8));
    this.timer = setTimeout(() => this.kick(), cap / 2 + Math.random() * cap / 2);
  }

  /** Sends the pending writes, one tab at a time. */
  async sendAll() {
    if (globalThis.navigator?.locks)
      return navigator.locks.request(`${this.id}:send`, () => this.send());
    return this.send();	/* without Web Locks: each tab on its own */
  }

  /* Sends each pending write in order; a key whose write waits for a
     person (a conflict) holds the later writes of that key back. */
  async send() {
    await this.purge();
    if (!this.onLine()) {	/* the online event sends them */
      this.setStatus({ state: 'offline' });
      return this.count();
    }
    const blocked = new Set();
    let stalled = false, sent = 0;
    for (;;) {
      const all = await this.all();
      const p = all.find((x) => {
        if (x.conflict || x.failed) {
          x.keys.forEach((k) => blocked.add(k));
          return false;
        }
        if (x.keys.some((k) => blocked.has(k))) {
          x.keys.forEach((k) => blocked.add(k));
          return false;
        }
        return true;
      });
      if (!p) break;
      if (!sent++) this.setStatus({ state: 'syncing' });
      let answer;
      try {
        answer = { json: await this.sendOne(p) };
      } catch (e) {
        if (transient(e)) {
          stalled = true;
          break;
        }
        answer = { error: e };
      }
      await this.settled(p, answer);
    }
    if (stalled) {
      this.setStatus({ state: 'offline' });
      this.later();
    } else {
      this.attempt = 0;
      this.setStatus({ state: this.onLine() ? 'online' : 'offline' });
    }
    await this.count();
    this.ask();
  }

  /**
   * The answer of p: an outcome for its caller, or a conflict kept.
   * @param {Pending} p
   * @param {{json?: *, error?: *}} answer
   */
  async settled(p, { json, error }) {
    const tx = this.tx('readwrite', 'pending', 'outcome');
    const pending = tx.objectStore('pending');
    if (error && p.reported) {	/* nobody awaits it now: kept */
      const conflict = error.isConflict || error.status === 404;
      pending.put({ ...p,
        conflict: conflict ? { version: error.current?.version ?? 0,
          exists: !!error.current?.exists, value: error.current?.value,
          conflicts: error.code === 'MERGE_CONFLICT' ? error.conflicts : [''],
          code: error.code } : null,
        failed: conflict ? null : { status: error.status, code: error.code,
          message: error.message } });
    } else {
      pending.delete(/** @type {number} */ (p.id));
      tx.objectStore('outcome').put({ id: p.id, at: Date.now(), json,
        error: error && { status: error.status, body: error.body } });
      if (!error) {	/* a later put of a key made here goes on from it */
        const made = p.method === 'PUT' && !json?.merged ? json?.version :
          undefined;
        const cur = pending.openCursor();
        cur.onsuccess = () => {
          const c = cur.result;
          if (!c) return;
          const q = c.value;
          if (made && q.method === 'PUT' && q.key === p.key && !q.base)
            c.update({ ...q, base: made });
          c.continue();
        };
      }
    }
    await done(tx);
    this.channel?.postMessage({ type: 'queue' });
    if (!error && p.method === 'PUT' && !json?.merged)
      await this.keep({ key: p.key, value: p.value, version: json.version,
        updated_at: json.updated_at });
  }

  /* Outcomes nobody came for. */
  async purge() {
    const tx = this.tx('readwrite', 'outcome');
    const store = tx.objectStore('outcome');
    for (const o of await req(store.getAll()))
      if (Date.now() - o.at > OUTCOME_TTL) store.delete(o.id);
    await done(tx);
  }

  /**
   * Sends one pending write. A put goes on the condition of its base and,
   * once it has waited, with Prefer: merge; one that may have been
   * applied already (sent, and no answer) is looked for first.
   * @param {Pending} p
   * @returns {Promise<*>} the answer's JSON
   */
  async sendOne(p) {
    const c = this.client;
    if (p.tried && p.method === 'PUT' && !p.force) {
      const mine = await this.applied(p);
      if (mine) {
        c.remember(p.key, mine.version);
        return mine;
      }
    }
    if (!p.tried) {
      const tx = this.tx('readwrite', 'pending');
      tx.objectStore('pending').put({ ...p, tried: true });
      await done(tx);
    }
    /** @type {Record<string, string>} */
    const headers = {};
    if (p.type) headers['Content-Type'] = p.type;
    if (p.idem) headers['Idempotency-Key'] = p.idem;
    if (p.method === 'PUT' && !p.force) {
      if (p.base) headers['If-Match'] = `"${p.base}"`;
      else headers['If-None-Match'] = '*';
      if (p.merge || p.reported) headers.Prefer = 'merge';
    }
    if (p.method === 'DELETE' && !p.force && p.base)
      headers['If-Match'] = `"${p.base}"`;
    try {
      const { json } = await c.request(p.method, p.path, { headers,
        body: p.body, retries: 0, signal: AbortSignal.timeout(30000) });
      if (p.method === 'PUT' && !json.merged) c.remember(p.key, json.version);
      if (p.method === 'DELETE') c.versions.delete(p.key);
      return json;
    } catch (e) {
      /* a delete repeated: the tombstone its first attempt left */
      if (p.method === 'DELETE' && p.tried && e instanceof VerstoreError &&
          e.code === 'DELETED' && (!p.base || e.body.version === p.base + 1))
        return { key: p.key, version: e.body.version, deleted: true };
      throw e;
    }
  }

  /* A put sent before whose answer never came: the version it made, when
     the key, or the version after its base in history, holds its value. */
  async applied(p) {
    const c = this.client;
    let cur;
    try {
      cur = (await c.request('GET', p.path, { retries: 0,
        signal: AbortSignal.timeout(30000) })).json;
    } catch (e) {
      if (e instanceof VerstoreError && e.status === 404) return null;
      throw e;
    }
    if (cur.version > (p.base ?? 0) && sameJSON(cur.value, p.value))
      return { key: p.key, version: cur.version, updated_at: cur.updated_at };
    if (!p.base || cur.version <= p.base + 1) return null;
    try {
      const env = await c.version(p.key, p.base + 1);
      if (sameJSON(env.value, p.value))
        return { key: p.key, version: env.version,
          updated_at: env.updated_at };
    } catch (e) {
      if (!(e instanceof VerstoreError && e.status === 404)) throw e;
    }
    return null;
  }

  /* Hands the conflicts to onConflict, one at a time. */
  async ask() {
    const onConflict = this.client.onConflict;
    if (!onConflict) return;
    for (const p of await this.all()) {
      if (!p.conflict || this.asking.has(/** @type {number} */ (p.id)))
        continue;
      const id = /** @type {number} */ (p.id);
      this.asking.add(id);
      let drop = false;
      try {
        let base;
        if (p.base) {
          try {
            base = (await this.client.version(p.key, p.base)).value;
          } catch { /* gone from history */ }
        }
        const pick = await onConflict({ key: p.key, base, yours: p.value,
          theirs: p.conflict.exists ? p.conflict.value : undefined,
          conflicts: p.conflict.conflicts, pending: true,
          discard: () => { drop = true; } });
        if (drop) await this.settle(id, undefined);
        else if (pick !== undefined) await this.settle(id, pick);
      } catch (e) {
        console.error('verstore offline: onConflict', e);
      } finally {
        this.asking.delete(id);
      }
    }
  }

  /**
   * Settles a pending write that was refused: value is written over the
   * key's current state (merged again if someone wrote since); undefined
   * drops the write.
   * @param {number} id
   * @param {*} value
   */
  async settle(id, value) {
    const tx = this.tx('readwrite', 'pending');
    const store = tx.objectStore('pending');
    const p = /** @type {Pending | undefined} */ (await req(store.get(id)));
    if (p && value === undefined) {
      store.delete(id);
    } else if (p) {
      const v = p.conflict?.exists ? p.conflict.version : 0;
      store.put({ ...p, value, body: p.method === 'PUT' ? { value } : p.body,
        base: v, conflict: null, failed: null, tried: false });
    }
    await done(tx);
    this.channel?.postMessage({ type: 'queue' });
    await this.count();
    this.kick();
  }

  // -- one feed for every tab ---------------------------------------------

  /* A change, from this tab's feed or another's. */
  got(change) {
    if (change.seq <= this.seq) return;
    this.seq = change.seq;
    for (const s of this.subs) {
      if (change.seq <= s.since || !change.key.startsWith(s.prefix)) continue;
      s.since = change.seq;
      /* one change at a time for each watch, in seq order */
      s.chain = s.chain.then(() => s.cb(change)).catch((e) =>
        s.onError(e, change));
    }
  }

  /* Joins the tabs that may hold the feed; when this one is chosen, it
     reads the whole feed of the principal from the last seq it saw and
     hands each change to every tab. */
  joinFeed() {
    if (this.feedJoined) return;
    this.feedJoined = true;
    leadership(`${this.id}:feed`, () => {
      this.setStatus({ leader: true });
      const w = this.client.watch(this.feed, (change) => {
        this.channel?.postMessage({ type: 'change', change });
        this.got(change);
      }, { own: true, since: this.seq >= 0 ? this.seq : undefined });
      w.ready.then((seq) => { if (this.seq < 0) this.seq = seq; });
      w.done.catch((e) => console.error('verstore feed:', e));
      return () => {
        w.close();
        this.setStatus({ leader: false });
      };
    });
  }

  /**
   * watch() of an offline store: the changes under prefix from the feed
   * that one tab holds for all.
   * @param {string} prefix
   * @param {(c: Change) => *} cb
   * @param {{since?: number, onError?: (e: *, c: Change) => void}} opts
   */
  watch(prefix, cb, { since, onError = (e) =>
    console.error('verstore watch:', e) }) {
    if (!prefix.startsWith(this.feed))	/* outside the shared feed */
      return this.client.watch(prefix, cb, { since, onError, own: true });
    const s = { prefix, cb, since: since ?? -1, onError,
      chain: Promise.resolve() };
    let closed = false;
    /** @type {(v: void) => void} */
    let end = () => {};
    const done = new Promise((ok) => { end = ok; });
    const ready = (async () => {
      if (since === undefined)
        s.since = this.seq >= 0 ? this.seq : await this.client.seq();
      if (this.seq < 0) this.seq = s.since;
      else if (s.since < this.seq) await this.catchUp(s, this.seq);
      if (!closed) this.subs.add(s);
      this.joinFeed();
      return s.since;
    })();
    ready.catch(() => {});
    return {
      close: () => {
        closed = true;
        this.subs.delete(s);
        end();
      },
      done: ready.then(() => done),
      ready,
    };
  }

  /* Changes for s from its since up to seq, which the feed has passed. */
  async catchUp(s, upto) {
    for (;;) {
      const q = new URLSearchParams({ since: String(s.since),
        prefix: s.prefix, limit: '1000' }).toString().replace(/\+/g, '%20');
      const { json } = await this.client.request('GET', `/api/changes?${q}`);
      for (const c of json.results) {
        if (c.seq > upto) return;
        s.since = c.seq;
        try {
          await s.cb(c);
        } catch (e) {
          s.onError(e, c);
        }
      }
      if (!json.results.length || json.last_seq >= upto) return;
    }
  }

  /** Deletes this store's database: pending writes and cached values. */
  async clear() {
    this.db?.close();
    this.db = null;
    await req(indexedDB.deleteDatabase(this.id));
    this.setStatus({ pending: 0, conflicts: 0 });
  }
}

/**
 * The offline side of client, opened.
 * @param {Verstore} client
 * @param {{name?: string, cacheKeys?: number, maxPending?: number,
 *   feed?: string}} opts
 * @returns {Promise<Offline>}
 */
export function start(client, opts) {
  return new Offline(client, opts).start();
}
