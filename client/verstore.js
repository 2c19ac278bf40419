// verstore.js - the browser and Node client of verstore (doc/API.md).
//
// One ES module, no dependencies: import {Verstore} from '/verstore.js'.
// It keeps the version of every key it read and sends it back with the
// next write, so a write never silently replaces one it did not see;
// update() re-applies a change to the fresh value on a conflict, with
// bounded exponential back-off and full jitter, or lets the server merge.

/**
 * A key's state as the server answers it.
 * @typedef {{key: string, value: *, version: number, updated_at: string,
 *   created_at?: string, updated_by?: string | null,
 *   merged?: {base: number, current: number}}} Envelope
 */
/**
 * A write's answer (doc/API.md 3.2): the version it made; index: where an
 * append put its item; merged: the versions a stale write was merged
 * with (4.1).
 * @typedef {{key: string, version: number, updated_at: string,
 *   index?: number, merged?: {base: number, current: number}}} Written
 */
/**
 * One change of the feed (doc/API.md 7); a presence event (13.4, watch
 * with presence) has presence in place of version, deleted, updated_at.
 * @typedef {{seq: number, key: string, version?: number,
 *   deleted?: boolean, updated_at?: string,
 *   presence?: Presence & {left: string | null}}} Change
 */
/**
 * A session on a key (doc/API.md 13.2).
 * @typedef {{session: string, by: string | null, state: *, since: string,
 *   expires_at: string, lock: boolean}} Presence
 */
/**
 * What presence() returns: this session on a key, renewing itself.
 * @typedef {{session: string, key: string, state: *, lock: boolean,
 *   others: Presence[], all: Presence[], joined: Promise<*> | undefined,
 *   set(next?: {state?: *, lock?: boolean}): Promise<*>,
 *   leave(): Promise<void>}} PresenceHandle
 */

/**
 * What an offline store asks when a write that waited meets a change
 * that it cannot merge: the value to write over theirs, or undefined to
 * leave the write waiting (asked again at the next sync); discard()
 * drops it.
 * @typedef {(ctx: {key: string, base: *, yours: *, theirs: *,
 *   conflicts: string[], pending: true, discard: () => void}) =>
 *   * | Promise<*>} OfflineConflict
 */

/** An answer that is not a success: status, code and the server's body. */
export class VerstoreError extends Error {
  /**
   * @param {number} status
   * @param {Object<string, *> | null} body the problem+json body ({code,
   *   message, ...})
   * @param {Headers} [headers] the answer's headers
   */
  constructor(status, body, headers) {
    super(body?.message ?? `HTTP ${status}`);
    this.name = 'VerstoreError';
    /** @type {number} */ this.status = status;
    /** @type {string} */ this.code = body?.code ?? 'HTTP_' + status;
    /**
     * The server's whole problem body.
     * @type {Object<string, *>}
     */
    this.body = body ?? {};
    /**
     * The key's current state on a 409/412: updated_by is who wrote it
     * (null without a principal), updated_at when.
     * @type {{value: *, version: number, exists: boolean,
     *   updated_at: string | null, updated_by: string | null} | null}
     */
    this.current = body && 'version' in body ?
      { value: body.value, version: body.version, exists: body.exists,
        updated_at: body.updated_at ?? null,
        updated_by: body.updated_by ?? null } :
      null;
    /**
     * JSON pointers changed on both sides (MERGE_CONFLICT).
     * @type {string[]}
     */
    this.conflicts = body?.conflicts ?? [];
    /**
     * True when the request was sent again after a network error or a
     * 5xx: what refused it may be its own first attempt.
     * @type {boolean}
     */
    this.retried = false;
    /**
     * The answer's headers: on a 412, the ETag and Last-Modified of the
     * current state.
     * @type {Headers}
     */
    this.headers = headers ?? new Headers();
  }
  /** True for a write refused because the key moved on. */
  get isConflict() {
    return this.status === 409 || this.status === 412;
  }
}

// A key as a path, every segment percent-encoded. A "." or ".." segment
// is refused here as the server would (400 INVALID_KEY): a URL cannot
// carry one, even encoded, without it being resolved into another key.
const enc = (key) => key.split('/').map((seg) => {
  if (seg === '.' || seg === '..')
    throw new VerstoreError(400, { code: 'INVALID_KEY',
      message: 'The key has an empty, "." or ".." segment.' });
  return encodeURIComponent(seg);
}).join('/');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Whether two JSON values are equal (objects member by member, in any
 * order).
 * @param {*} a
 * @param {*} b
 * @returns {boolean}
 */
export function sameJSON(a, b) {
  if (a === b) return true;
  if (Array.isArray(a))
    return Array.isArray(b) && a.length === b.length &&
      a.every((x, i) => sameJSON(x, b[i]));
  if (!isObj(a) || !isObj(b)) return false;
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length &&
    ka.every((k) => Object.hasOwn(b, k) && sameJSON(a[k], b[k]));
}

/* Who wrote the state a refusal carries, and when: onConflict's by, at. */
const whoWrote = (e) => ({ by: e.current?.updated_by ?? null,
  at: e.current?.updated_at ?? null });

/* URL query text; a space as %20, which the server decodes (not '+'). */
const query = (params) =>
  new URLSearchParams(params).toString().replace(/\+/g, '%20');
const newKey = () => (globalThis.crypto?.randomUUID?.() ??
  Math.random().toString(36).slice(2) + Date.now().toString(36));

/**
 * The store at one base URL, as one principal. It remembers the version of
 * every key whose whole value it had (read with get(), or written by put()
 * or create()) in `versions`, and sends it with the next put() or delete()
 * of that key. A refused write, a patch, an append or a put that the
 * server merged leaves it as it was: the value is not one this client
 * saw, so a put() after it is refused (412) until a get().
 *
 * With offline: true, writes are kept in IndexedDB until they are sent,
 * and the tabs of an origin share one feed (offline.js; README, "Offline
 * and across tabs"); `status` tells how that goes, with an event
 * 'status' when it changes.
 */
export class Verstore extends EventTarget {
  /**
   * @param {string} baseUrl where the API is: 'https://app.example.org',
   *   or location.origin in a page served with it
   * @param {{token?: string, fetch?: typeof fetch, retries?: number,
   *          conflictRetries?: number, backoffMs?: number,
   *          offline?: boolean | {name?: string, cacheKeys?: number,
   *            maxPending?: number, feed?: string},
   *          onConflict?: OfflineConflict, session?: string}} [opts]
   *   token: a Bearer token (doc/API.md 9); fetch: another fetch (tests);
   *   retries: of a request after a network error or a 5xx, when it is
   *   safe to repeat (default 8); conflictRetries: of update() and save()
   *   (default 30); backoffMs: the first back-off's cap (default 20);
   *   offline: keep writes until they are sent, in a browser (name: a
   *   store of its own; cacheKeys: values kept for reads, default 500;
   *   maxPending: writes that may wait, default 1000; feed: the prefix of
   *   the feed the tabs share, default every key); onConflict: what to
   *   write when a write that waited meets a conflict
   *   session: the presence session id (default: a random one)
   */
  constructor(baseUrl = '', opts = {}) {
    super();
    this.base = baseUrl.replace(/\/+$/, '');
    /** @type {string | undefined} */
    this.token = opts.token;
    /** @type {typeof fetch} */
    this.fetch = opts.fetch ?? globalThis.fetch.bind(globalThis);
    this.retries = opts.retries ?? 8;	/* a network error, a 5xx */
    this.conflictRetries = opts.conflictRetries ?? 30;	/* update() */
    this.backoffMs = opts.backoffMs ?? 20;
    /** @type {Map<string, number>} key -> the version last had whole */
    this.versions = new Map();
    /** @private saveLater: key -> its timer */
    this.timers = new Map();
    /** @private saveLater: key -> the write under way */
    this.saving = new Map();
    /** This client's presence session (doc/API.md 13): one per tab. */
    this.session = opts.session ?? sessionId();
    /** @type {OfflineConflict | undefined} */
    this.onConflict = opts.onConflict;
    /**
     * The offline side (offline.js), when asked for.
     * @type {Promise<import('./offline.js').Offline> | null}
     */
    this.offline = opts.offline ? import('./offline.js').then((m) =>
      m.start(this, opts.offline === true ? {} : opts.offline || {})) : null;
    this.offline?.catch((e) => console.error('verstore offline:', e));
    /**
     * The offline side as soon as it is made (null before).
     * @type {import('./offline.js').Offline | null}
     */
    this.local = null;
  }

  /**
   * online, offline or syncing, the writes waiting to be sent (pending)
   * and those of them that wait for a person (conflicts); leader: this
   * tab holds the feed for the others. Without offline, always online.
   * @type {import('./offline.js').Status}
   */
  get status() {
    return this.local?.status ?? { state: 'online', pending: 0,
      conflicts: 0, leader: false };
  }

  /**
   * Deletes what offline keeps on this device: the writes not sent yet
   * and the values kept for reads (a logout).
   * @returns {Promise<void>}
   */
  async clearOffline() {
    await (await this.offline)?.clear();
  }

  /**
   * One request to the API, for what the methods below do not cover. A
   * network error or a 5xx is retried with back-off when the request is
   * safe to repeat: GET, PUT, DELETE, or one with an Idempotency-Key.
   * @param {string} method
   * @param {string} path from the base URL: '/api/storage/a%2Fb'
   * @param {{body?: *, headers?: Object<string, string>,
   *   idempotent?: boolean, retries?: number, signal?: AbortSignal}} [opts]
   *   body: sent as JSON; signal: aborts the request
   * @returns {Promise<{status: number, headers: Headers, json: *}>} json
   *   is null for an answer without a body (204, 304)
   * @throws {VerstoreError} for a 4xx or a 5xx answer
   */
  async request(method, path, { body, headers = {}, idempotent,
    retries = this.retries, signal } = {}) {
    const h = { ...headers };
    if (this.token) h.Authorization = `Bearer ${this.token}`;
    if (body !== undefined && !h['Content-Type'])
      h['Content-Type'] = 'application/json';
    const safe = idempotent ?? (method === 'GET' || method === 'PUT' ||
      method === 'DELETE' || 'Idempotency-Key' in h);
    for (let attempt = 0; ; attempt++) {
      let res;
      try {
        res = await this.fetch(this.base + path, {
          method, headers: h, signal,
          body: body === undefined ? undefined : JSON.stringify(body),
        });
      } catch (e) {
        if (!safe || attempt >= retries || signal?.aborted) throw e;
        await this.backoff(attempt);
        continue;
      }
      const text = await res.text();
      let json = null;
      try {
        json = text ? JSON.parse(text) : null;
      } catch {		/* not JSON: a proxy's page, say */
        json = res.status >= 400 ? { message: text.slice(0, 200) } : null;
      }
      if (res.status >= 500 && res.status !== 507 && safe &&
          attempt < retries) {
        await this.backoff(attempt);
        continue;
      }
      if (res.status >= 400) {
        const e = new VerstoreError(res.status, json, res.headers);
        /* a repeat: the first attempt may have been applied */
        e.retried = attempt > 0;
        throw e;
      }
      return { status: res.status, headers: res.headers, json };
    }
  }

  /**
   * Full jitter: a random wait up to backoffMs * 2^attempt (at most 1 s).
   * @param {number} attempt 0 for the first retry
   * @returns {Promise<void>}
   */
  backoff(attempt) {
    const cap = Math.min(1000, this.backoffMs * 2 ** Math.min(attempt, 16));
    return sleep(Math.random() * cap);
  }

  /**
   * Keeps version as the one of key last had whole.
   * @param {string} key
   * @param {number | undefined} version
   */
  remember(key, version) {
    if (version === undefined) return;
    this.versions.set(key, version);
  }

  /**
   * Reads key, and remembers its version for the next write. offline:
   * 'cache' (an offline store): when the server cannot be reached, the
   * last value seen here, with cached: true (the value of a put still
   * pending, if any; pending: how many writes of it wait).
   * @param {string} key
   * @param {{offline?: 'cache'}} [opts]
   * @returns {Promise<Envelope & {cached?: boolean, pending?: number}>}
   * @throws {VerstoreError} 404 NOT_FOUND or DELETED
   */
  async get(key, { offline } = {}) {
    const local = await this.offline;
    try {
      const { json } = await this.request('GET', `/api/storage/${enc(key)}`,
        local && offline ? { retries: 0 } : {});
      this.remember(key, json.version);
      await local?.keep(json);
      return json;
    } catch (e) {
      /* seen gone: the next put makes it anew (If-None-Match: *) */
      if (e instanceof VerstoreError && e.status === 404) {
        this.versions.delete(key);
        await local?.forget(key);
      }
      const hit = local && offline === 'cache' &&
        (!(e instanceof VerstoreError) || e.status >= 500) &&
        await local.cached(key);
      if (!hit) throw e;
      return hit;
    }
  }

  /**
   * Replaces key's value, on the condition that it is still the version
   * this client read (none read: it must not exist yet). force: no
   * condition. merge: a stale write is merged by the server (API.md 4.1).
   * @param {string} key
   * @param {*} value any JSON value
   * @param {{force?: boolean, merge?: boolean, version?: number}} [opts]
   *   version: the version to replace instead of the one remembered (0:
   *   the key must not exist)
   * @returns {Promise<Written>}
   * @throws {VerstoreError} 412 (current state in .current), 409
   *   MERGE_CONFLICT (.conflicts), 404 when the key went away
   */
  async put(key, value, { force = false, merge = false, version } = {}) {
    /** @type {Record<string, string>} */
    const headers = {};
    const v = version ?? this.versions.get(key);
    if (this.offline)	/* kept, then sent; {key, pending: true} if it waits */
      return (await this.offline).record({ method: 'PUT', key, keys: [key],
        path: `/api/storage/${enc(key)}`, body: { value }, value,
        base: force ? undefined : v, force, merge, at: Date.now() });
    if (!force) {
      if (v) headers['If-Match'] = `"${v}"`;
      else headers['If-None-Match'] = '*';
    }
    if (merge) headers.Prefer = 'merge';
    try {
      const { json } = await this.request('PUT', `/api/storage/${enc(key)}`,
        { body: { value }, headers });
      if (!json.merged)	/* merged: the value is not the one sent */
        this.remember(key, json.version);
      return json;
    } catch (e) {
      if (!(e instanceof VerstoreError && e.retried && e.isConflict &&
            e.current?.exists))
        throw e;
      /* the first attempt landed and its answer was lost (a dropped
         connection, a 502 or 504): the refusal of the repeat shows our
         own value, which is success */
      if (sameJSON(e.current.value, value)) {
        this.remember(key, e.current.version);
        return { key, version: e.current.version,
          updated_at: e.body.updated_at };
      }
      /* or another client wrote after it: the version it made holds our
         value. Else it never landed, and the refusal stands. */
      const mine = e.status === 412 && !force &&
        await this.landed(key, value, v, e.current.version);
      if (!mine) throw e;
      this.remember(key, mine.version);
      return mine;
    }
  }

  /**
   * After a put repeated on a lost answer was refused by a later state:
   * the version that its first attempt made, when one kept in history
   * holds its value: If-Match v made v + 1; If-None-Match a version that
   * came after none or a deletion.
   * @private
   * @param {string} key
   * @param {*} value the value put
   * @param {number | undefined} v the version it was to replace
   * @param {number} current the version the refusal named
   * @returns {Promise<Written | null>}
   */
  async landed(key, value, v, current) {
    let made = [];
    if (v) {
      made = [v + 1];
    } else {
      const h = await this.history(key);
      const gone = new Set(h.filter((x) => x.deleted).map((x) => x.version));
      made = h.filter((x) => !x.deleted &&
        (x.version === 1 || gone.has(x.version - 1))).map((x) => x.version);
    }
    for (const n of made.filter((n) => n < current)) {
      let env;
      try {
        env = await this.version(key, n);
      } catch (e) {
        if (e instanceof VerstoreError && e.status === 404) continue;
        throw e;
      }
      if (sameJSON(env.value, value))
        return { key, version: n, updated_at: env.updated_at };
    }
    return null;
  }

  /**
   * Deletes key, on the condition that it is still the version read
   * (force: none). The key's version goes on from there if it comes back.
   * @param {string} key
   * @param {{force?: boolean}} [opts]
   * @returns {Promise<{key: string, version: number, deleted: true}>}
   */
  async delete(key, { force = false } = {}) {
    const v = this.versions.get(key);
    if (this.offline)
      return (await this.offline).record({ method: 'DELETE', key,
        keys: [key], path: `/api/storage/${enc(key)}`,
        base: force ? undefined : v, force, at: Date.now() });
    const headers = !force && v ? { 'If-Match': `"${v}"` } : {};
    let json;
    try {
      ({ json } = await this.request('DELETE', `/api/storage/${enc(key)}`,
        { headers }));
    } catch (e) {
      /* a repeat that finds the tombstone its first attempt left */
      if (!(e instanceof VerstoreError && e.retried &&
            e.code === 'DELETED' && (!v || e.body.version === v + 1)))
        throw e;
      json = { key, version: e.body.version, deleted: true };
    }
    this.versions.delete(key);
    return json;
  }

  /**
   * Creates a key under prefix with a unique name: from slug ('Ann Lee'
   * gives ann-lee, then ann-lee-2, ...), or a time-ordered id without one.
   * Retried safely: one key even if an answer is lost.
   * @param {string} prefix 'cards' or 'cards/'
   * @param {*} value
   * @param {{slug?: string}} [opts]
   * @returns {Promise<Envelope>} with the key made
   */
  async create(prefix, value, { slug } = {}) {
    const body = slug === undefined ? { value } : { value, slug };
    const { json } = await this.request('POST',
      `/api/storage/${enc(prefix.replace(/\/?$/, '/'))}`,
      { body, headers: { 'Idempotency-Key': newKey() } });
    this.remember(json.key, json.version);
    return json;
  }

  /** @private */
  async write(method, key, body, type, query = '') {
    if (this.offline)
      return (await this.offline).record({ method, key, keys: [key],
        path: `/api/storage/${enc(key)}${query}`, type, body,
        idem: newKey(), at: Date.now() });
    const { json } = await this.request(method,
      `/api/storage/${enc(key)}${query}`,
      { body, headers: { 'Content-Type': type, 'Idempotency-Key': newKey() } });
    return json;	/* a value not seen whole: its version is not kept */
  }

  /**
   * An RFC 7396 merge patch, applied on the server: patches of different
   * fields by several clients all land, with no condition and no retry.
   * @param {string} key
   * @param {object} mergePatch
   * @returns {Promise<Written>}
   */
  patch(key, mergePatch) {
    return this.write('PATCH', key, mergePatch, 'application/merge-patch+json');
  }

  /**
   * An RFC 6902 JSON patch: all operations or none.
   * @param {string} key
   * @param {Array<{op: string, path: string, value?: *, from?: string}>} ops
   * @returns {Promise<Written>}
   * @throws {VerstoreError} 409 PATCH_CONFLICT when a test fails
   */
  jsonPatch(key, ops) {
    return this.write('PATCH', key, ops, 'application/json-patch+json');
  }

  /**
   * Appends item to the array at pointer, atomically: thirty appends at
   * once leave thirty items. stamp: the server sets the item's "at" (its
   * time) and "by" (the principal).
   * @param {string} key
   * @param {string} pointer a JSON pointer: '/comments'
   * @param {*} item
   * @param {{stamp?: boolean}} [opts]
   * @returns {Promise<{key: string, version: number, updated_at: string,
   *   index: number}>}
   */
  append(key, pointer, item, { stamp = false } = {}) {
    return this.write('POST', key, item, 'application/json',
      `?append=${encodeURIComponent(pointer)}${stamp ? '&stamp=1' : ''}`);
  }

  /**
   * Several operations in one write, all or none (doc/API.md 5).
   * @param {Array<object>} ops {op: 'check'|'put'|'delete'|'get'|...}
   * @returns {Promise<Array<object>>} one result per op
   * @throws {VerstoreError} with body.op_index naming the op that failed
   */
  async txn(ops) {
    if (this.offline) {	/* [] while it waits */
      const keys = [...new Set(ops.map((o) => o.key).filter(Boolean))];
      const json = await (await this.offline).record({ method: 'POST',
        key: keys[0] ?? '', keys, path: '/api/txn', body: { ops },
        idem: newKey(), at: Date.now() });
      return json.results ?? [];
    }
    const { json } = await this.request('POST', '/api/txn',
      { body: { ops }, headers: { 'Idempotency-Key': newKey() } });
    return json.results;
  }

  /**
   * The live keys under prefix in byte order, fetched page by page:
   * for await (const item of store.list('cards/')) ...
   * @param {string} prefix
   * @param {{after?: string, limit?: number, values?: boolean}} [opts]
   *   after: start after this key; limit: per page; values: with values
   * @returns {AsyncGenerator<{key: string, version: number,
   *   updated_at: string, value?: *}>}
   */
  async *list(prefix, { after, limit = 100, values = false } = {}) {
    let next = after;
    do {
      const q = { limit: String(limit) };
      if (next) q.after = next;
      if (values) q.values = '1';
      const { json } = await this.request('GET',
        `/api/storage/${enc(prefix.replace(/\/?$/, '/'))}?${query(q)}`);
      for (const item of json.items) yield item;
      next = json.next;
    } while (next);
  }

  /**
   * The versions kept of key, newest first (doc/API.md 7).
   * @param {string} key
   * @returns {Promise<Array<{version: number, updated_at: string,
   *   updated_by: string | null, deleted: boolean, size: number}>>}
   */
  async history(key) {
    const { json } = await this.request('GET',
      `/api/storage/${enc(key)}?history=1`);
    return json.versions;
  }

  /**
   * Version n of key, while it is kept.
   * @param {string} key
   * @param {number} n
   * @returns {Promise<Envelope>}
   * @throws {VerstoreError} 404 VERSION_GONE, DELETED or NOT_FOUND
   */
  async version(key, n) {
    const { json } = await this.request('GET',
      `/api/storage/${enc(key)}?version=${n}`);
    return json;
  }

  /**
   * An activity set (doc/API.md 6): items with ids, sharded in buckets.
   * upsert and delete merge by id on the server, so that many writers
   * never overwrite each other.
   * @param {string} set one key segment
   * @returns {{get(): Promise<{set: string, etag: string, items: object[],
   *   buckets: Array<{key: string, version: number, count: number}>}>,
   *   upsert(items: object[]): Promise<object>,
   *   delete(ids: Array<string|number>): Promise<object>}}
   */
  activities(set) {
    const path = `/api/activities/${encodeURIComponent(set)}`;
    const post = async (body) => (await this.request('POST', path,
      { body, headers: { 'Idempotency-Key': newKey() } })).json;
    return {
      get: async () => (await this.request('GET', path)).json,
      upsert: (items) => post({ upsert: items }),
      delete: (ids) => post({ delete: ids }),
    };
  }

  /**
   * Reads key, applies fn to a copy of its value (undefined when absent)
   * and writes the result on the condition that nobody wrote in between;
   * on a conflict, fn runs again on the fresh value, after a back-off,
   * at most `retries` times. merge: true lets the server merge a stale
   * write instead. When even the server cannot merge (MERGE_CONFLICT),
   * onConflict({key, base, yours, theirs, conflicts, by, at}) may return
   * the value to write over theirs (askConflict of conflict.js asks the
   * person); undefined re-applies fn to theirs, and a throw ends the
   * update. by and at: who wrote theirs and when, as the refusal says
   * (updated_by, null without a principal; updated_at).
   * @template T
   * @param {string} key
   * @param {(value: T | undefined) => T | Promise<T>} fn
   * @param {{merge?: boolean, retries?: number,
   *   onConflict?: (ctx: {key: string, base: *, yours: T, theirs: *,
   *     conflicts: string[], by: string | null, at: string | null})
   *     => * | Promise<*>}} [opts]
   * @returns {Promise<Written>} the version written
   */
  async update(key, fn, { merge = false, retries = this.conflictRetries,
    onConflict } = {}) {
    let env = null;
    try {
      env = await this.get(key);
    } catch (e) {
      if (!(e instanceof VerstoreError && e.status === 404)) throw e;
    }
    let base = env?.value, version = env?.version ?? 0;
    let yours = await fn(structuredClone(base));
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.put(key, yours, { merge, version });
      } catch (e) {
        if (!(e instanceof VerstoreError) || !e.isConflict &&
            !(e.status === 404 && e.code === 'DELETED') ||
            attempt >= retries)
          throw e;
        const theirs = e.current?.exists ? e.current.value : undefined;
        version = e.current?.exists ? e.current.version : 0;
        if (onConflict && e.code === 'MERGE_CONFLICT') {
          const pick = await onConflict({ key, base, yours, theirs,
            conflicts: e.conflicts, ...whoWrote(e) });
          if (pick !== undefined) {	/* written over theirs, merged
					   again if someone wrote since */
            base = theirs;
            yours = pick;
            continue;
          }
        }
        await this.backoff(attempt);
        base = theirs;
        yours = await fn(structuredClone(base));
      }
    }
  }

  /**
   * Writes yours, a person's edit of `from`: the envelope the page showed
   * when the editing began (a form opened, say), however long ago. The
   * server merges it with whatever was written since (doc/API.md 4.1);
   * what both changed goes to onConflict({key, base, yours, theirs,
   * conflicts, by, at}) (by and at as for update()), and its answer is
   * written over theirs (merged again if someone wrote since). Without onConflict, or when it returns
   * undefined, the VerstoreError is thrown. Conflicts the server cannot
   * merge (a base gone from history, the whole value changed on both
   * sides) come to onConflict too, with the conflict [''].
   * @param {string} key
   * @param {Envelope | null} from null: the key must not exist yet
   * @param {*} yours
   * @param {{onConflict?: (ctx: {key: string, base: *, yours: *,
   *   theirs: *, conflicts: string[], by: string | null,
   *   at: string | null}) => * | Promise<*>, retries?: number}} [opts]
   * @returns {Promise<Written>}
   */
  async save(key, from, yours, { onConflict, retries = this.conflictRetries }
    = {}) {
    let base = from?.value, version = from?.version ?? 0;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.put(key, yours, { merge: true, version });
      } catch (e) {
        if (!(e instanceof VerstoreError) || !e.isConflict || !onConflict ||
            attempt >= retries)
          throw e;
        const theirs = e.current?.exists ? e.current.value : undefined;
        const pick = await onConflict({ key, base, yours, theirs,
          conflicts: e.code === 'MERGE_CONFLICT' ? e.conflicts : [''],
          ...whoWrote(e) });
        if (pick === undefined) throw e;
        base = theirs;
        version = e.current?.exists ? e.current.version : 0;
        yours = pick;
      }
    }
  }

  /**
   * Writes value to key (as update() does) once ms have passed without
   * another saveLater of the same key: rapid edits become one write. Every
   * call's promise settles with that write.
   * @param {string} key
   * @param {*} value
   * @param {number} [ms]
   * @returns {Promise<Written>}
   */
  saveLater(key, value, ms = 500) {
    const prev = this.timers.get(key);
    clearTimeout(prev?.t);
    return new Promise((resolve, reject) => {
      const waiting = [...(prev?.waiting ?? []), { resolve, reject }];
      const t = setTimeout(() => {
        this.timers.delete(key);
        /* one write at a time per key: a later value lands later */
        const before = this.saving.get(key) ?? Promise.resolve();
        const write = before.catch(() => {})
          .then(() => this.update(key, () => value));
        this.saving.set(key, write);
        write.finally(() => {
          if (this.saving.get(key) === write) this.saving.delete(key);
        }).catch(() => {});
        write.then((r) => waiting.forEach((w) => w.resolve(r)),
          (e) => waiting.forEach((w) => w.reject(e)));
      }, ms);
      this.timers.set(key, { t, waiting });
    });
  }

  /**
   * The seq of the store's last change: watch({since}) from it misses
   * nothing written after this call.
   * @param {{signal?: AbortSignal}} [opts]
   * @returns {Promise<number>}
   */
  async seq({ signal } = {}) {
    return (await this.request('GET',
      '/api/changes?since=9999999999&limit=1', { signal })).json.last_seq;
  }

  /**
   * Calls cb(change) for every change under prefix after seq `since`
   * (default: from now), in seq order, until close(). It reads the
   * Server-Sent Events stream of /api/changes with fetch, so that a token
   * can go in a header, which EventSource cannot send; where fetch gives
   * no streaming body, or with mode 'poll', it long-polls. After any
   * network or server error it resumes from the last seq it handed to cb,
   * so no change is skipped. A refusal that retrying cannot mend (401,
   * 403, 400) ends it: `done` rejects with that VerstoreError; otherwise
   * `done` resolves after close(). `ready` resolves with the seq it starts
   * from: a page that awaits it before its first read misses nothing (it
   * rejects as done does when refused before it started). An
   * error thrown by cb goes to onError (default: console.error), and the
   * watch goes on with the next change. With presence, cb gets the
   * presence events too ({seq, key, presence}, doc/API.md 13.4); with
   * farewell {session, key}, that session leaves that key when the watch
   * ends or the page goes away (13.3).
   * In an offline store the tabs share one feed (own: this tab's own;
   * a watch with presence or farewell has its own).
   * @param {string} prefix
   * @param {(change: Change) => void | Promise<void>} cb
   * @param {{since?: number, wait?: number, mode?: 'sse' | 'poll',
   *   onError?: (e: *, change: Change) => void, own?: boolean,
   *   presence?: boolean, farewell?: {session: string, key: string}}}
   *   [opts]
   * @returns {{close(): void, done: Promise<void>, ready: Promise<number>}}
   */
  watch(prefix, cb, { since, wait = 30, mode,
    onError = (e) => console.error('verstore watch:', e), own,
    presence = false, farewell } = {}) {
    if (this.offline && !own && !presence && !farewell) {
      let w = null, closed = false;
      const ready = this.offline.then((o) => {
        w = o.watch(prefix, cb, { since, onError });
        if (closed) w.close();
        return w.ready;
      });
      ready.catch(() => {});
      return { close() { closed = true; w?.close(); }, ready,
        done: ready.then(() => w?.done) };
    }
    /** @type {Record<string, string>} */
    const extra = {};
    if (presence) extra.presence = '1';
    if (farewell) {
      extra.session = farewell.session;
      extra.presence_key = farewell.key;
    }
    let closed = false, seq = since, abort = null, started, failed;
    const ready = new Promise((ok, no) => { started = ok; failed = no; });
    ready.catch(() => {});
    const deliver = async (c) => {
      try {
        await cb(c);
      } catch (e) {
        onError(e, c);
      }
    };
    let poll = mode === 'poll' || typeof ReadableStream === 'undefined' ||
      typeof TextDecoderStream === 'undefined';
    const once = async () => {	/* true: some progress was made */
      abort = new AbortController();
      if (seq === undefined)	/* from now */
        seq = await this.seq({ signal: abort.signal });
      if (closed) return true;
      started(seq);
      if (poll) {
        const q = query({ since: String(seq), prefix, wait: String(wait),
          limit: '1000', ...extra });
        const { json } = await this.request('GET', `/api/changes?${q}`,
          { retries: 0, signal: abort.signal });
        for (const c of json.results) {
          if (closed) return true;
          await deliver(c);
        }
        seq = json.last_seq;
        return true;
      }
      const q = query({ since: String(seq), prefix, ...extra });
      const headers = { Accept: 'text/event-stream' };
      if (this.token) headers.Authorization = `Bearer ${this.token}`;
      const res = await this.fetch(`${this.base}/api/changes?${q}`,
        { headers, signal: abort.signal });
      if (!res.ok) {
        const text = await res.text();
        let body = null;
        try {
          body = JSON.parse(text);
        } catch {		/* not JSON: a proxy's page, say */
          body = { message: text.slice(0, 200) };
        }
        throw new VerstoreError(res.status, body, res.headers);
      }
      if (!res.body || !/^text\/event-stream/.test(
        res.headers.get('Content-Type') ?? '')) {
        poll = true;		/* a proxy that buffers, an old fetch */
        await res.body?.cancel();
        return false;
      }
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '', progress = false;
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done || closed) return progress;
          progress = true;
          buf += value.replace(/\r\n?/g, '\n');
          let end;
          while ((end = buf.indexOf('\n\n')) >= 0) {
            const event = buf.slice(0, end);
            buf = buf.slice(end + 2);
            let id, type = 'message', data = [];
            for (const line of event.split('\n')) {
              /* s: a key or value may hold U+2028 or U+2029, which JSON
                 leaves as they are; only \n and \r end a line here */
              const m = /^([^:]*):? ?(.*)$/s.exec(line);
              if (!m?.[1]) continue;		/* a comment: keepalive */
              if (m[1] === 'id') id = m[2];
              else if (m[1] === 'event') type = m[2];
              else if (m[1] === 'data') data.push(m[2]);
            }
            if ((type !== 'change' && type !== 'presence') || !data.length)
              continue;
            if (closed) return progress;
            await deliver(JSON.parse(data.join('\n')));
            if (id !== undefined) seq = Number(id);
          }
        }
      } finally {
        reader.cancel().catch(() => {});
      }
    };
    const loop = async () => {
      for (let attempt = 0; !closed;) {
        try {
          attempt = (await once()) ? 0 : attempt;
          if (!poll) await this.backoff(Math.min(attempt++, 6));
        } catch (e) {
          if (closed) return;
          if (e instanceof VerstoreError && e.status >= 400 &&
              e.status < 500 && e.status !== 408 && e.status !== 429) {
            failed(e);
            throw e;
          }
          await this.backoff(Math.min(attempt++, 6));
        }
      }
    };
    const done = loop();
    done.catch(() => {});	/* no unhandled rejection for a caller that ignores done */
    return { close() { closed = true; abort?.abort(); started(seq); }, done,
      ready };
  }

  /**
   * Who is on key (doc/API.md 13): cb(list) with every session present
   * ({session, by, state, since, expires_at, lock}), once read and again
   * on every join, change, leave and expiry, from the change feed. A
   * renewal that changes nothing is no event: expires_at is as of the
   * last one.
   * @param {string} key
   * @param {(present: Presence[]) => void} cb
   * @param {{farewell?: {session: string, key: string}}} [opts] as watch's
   * @returns {{close(): void, ready: Promise<void>, list(): Presence[]}}
   */
  onPresence(key, cb, { farewell } = {}) {
    /** @type {Map<string, Presence>} */
    let present = new Map();
    const emit = () => cb([...present.values()]);
    const w = this.watch(key, (c) => {
      if (c.key !== key || !c.presence) return;
      const { left, ...p } = c.presence;
      if (left) present.delete(p.session);
      else present.set(p.session, p);
      emit();
    }, { presence: true, farewell });
    const ready = w.ready.then(async () => {
      const { json } = await this.request('GET',
        `/api/presence/${enc(key)}`);
      present = new Map(json.present.map((p) => [p.session, p]));
      emit();
    });
    ready.catch(() => {});
    return { close: () => w.close(), ready, list: () => [...present.values()] };
  }

  /**
   * Joins key as this client's session, with state (any small JSON: who,
   * which field) and, with lock, the key's lock; renews itself every
   * third of ttl until leave(), and leaves by itself when the page goes
   * away (its feed closes). `joined` resolves with the server's answer or
   * rejects: a 423 LOCKED VerstoreError names the holder in .body.holder.
   * set() changes state or lock the same way (a refused lock stays off).
   * others: the other sessions present, kept up to date; onChange(others,
   * all) is called on every change of them.
   * @param {string} key
   * @param {{state?: *, lock?: boolean, ttl?: number,
   *   onChange?: (others: Presence[], all: Presence[]) => void}} [opts]
   * @returns {PresenceHandle}
   */
  presence(key, { state = null, lock = false, ttl = 30, onChange } = {}) {
    const session = this.session;
    let timer, closed = false;
    /** @type {PresenceHandle} */
    const h = {
      session, key, state, lock, others: [], all: [], joined: undefined,
      set: async (next = {}) => {
        const was = { state: h.state, lock: h.lock };
        if ('state' in next) h.state = next.state;
        if ('lock' in next) h.lock = !!next.lock;
        try {
          return await join();
        } catch (e) {
          if (e instanceof VerstoreError && e.status === 423)
            h.lock = was.lock;
          throw e;
        }
      },
      leave: async () => {
        closed = true;
        clearTimeout(timer);
        sub.close();
        try {
          await this.request('DELETE', `/api/presence/${enc(key)}?` +
            query({ session }));
        } catch (e) {
          if (!(e instanceof VerstoreError && e.status === 404)) throw e;
        }
      },
    };
    const join = async () => {
      const { json } = await this.request('PUT', `/api/presence/${enc(key)}`,
        { body: { session, ttl, state: h.state, lock: h.lock } });
      return json;
    };
    const renew = () => {
      timer = setTimeout(async () => {
        if (closed) return;
        try {
          await join();
        } catch (e) {
          /* a lock taken by another since ours lapsed: go on without */
          if (e instanceof VerstoreError && e.status === 423) {
            h.lock = false;
            await join().catch(() => {});
          }
        }
        renew();
      }, ttl * 1000 / 3);
    };
    h.joined = join();
    h.joined.catch(() => {});
    renew();
    const sub = this.onPresence(key, (all) => {
      h.all = all;
      h.others = all.filter((p) => p.session !== session);
      onChange?.(h.others, all);
    }, { farewell: { session, key } });
    return h;
  }
}

/**
 * A new session id: 32 hex digits from crypto (randomUUID exists only in
 * secure contexts; getRandomValues everywhere).
 * @returns {string}
 */
function sessionId() {
  const b = globalThis.crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}
