/**
 * Whether two JSON values are equal (objects member by member, in any
 * order).
 * @param {*} a
 * @param {*} b
 * @returns {boolean}
 */
export function sameJSON(a: any, b: any): boolean;
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
    constructor(status: number, body: {
        [x: string]: any;
    } | null, headers?: Headers);
    /** @type {number} */ status: number;
    /** @type {string} */ code: string;
    /**
     * The server's whole problem body.
     * @type {Object<string, *>}
     */
    body: {
        [x: string]: any;
    };
    /**
     * The key's current state on a 409/412: updated_by is who wrote it
     * (null without a principal), updated_at when.
     * @type {{value: *, version: number, exists: boolean,
     *   updated_at: string | null, updated_by: string | null} | null}
     */
    current: {
        value: any;
        version: number;
        exists: boolean;
        updated_at: string | null;
        updated_by: string | null;
    } | null;
    /**
     * JSON pointers changed on both sides (MERGE_CONFLICT).
     * @type {string[]}
     */
    conflicts: string[];
    /**
     * True when the request was sent again after a network error or a
     * 5xx: what refused it may be its own first attempt.
     * @type {boolean}
     */
    retried: boolean;
    /**
     * The answer's headers: on a 412, the ETag and Last-Modified of the
     * current state.
     * @type {Headers}
     */
    headers: Headers;
    /** True for a write refused because the key moved on. */
    get isConflict(): boolean;
}
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
    constructor(baseUrl?: string, opts?: {
        token?: string;
        fetch?: typeof fetch;
        retries?: number;
        conflictRetries?: number;
        backoffMs?: number;
        offline?: boolean | {
            name?: string;
            cacheKeys?: number;
            maxPending?: number;
            feed?: string;
        };
        onConflict?: OfflineConflict;
        session?: string;
    });
    base: string;
    /** @type {string | undefined} */
    token: string | undefined;
    /** @type {typeof fetch} */
    fetch: typeof fetch;
    retries: number;
    conflictRetries: number;
    backoffMs: number;
    /** @type {Map<string, number>} key -> the version last had whole */
    versions: Map<string, number>;
    /** @private saveLater: key -> its timer */
    private timers;
    /** @private saveLater: key -> the write under way */
    private saving;
    /** This client's presence session (doc/API.md 13): one per tab. */
    session: string;
    /** @type {OfflineConflict | undefined} */
    onConflict: OfflineConflict | undefined;
    /**
     * The offline side (offline.js), when asked for.
     * @type {Promise<import('./offline.js').Offline> | null}
     */
    offline: Promise<import("./offline.js").Offline> | null;
    /**
     * The offline side as soon as it is made (null before).
     * @type {import('./offline.js').Offline | null}
     */
    local: import("./offline.js").Offline | null;
    /**
     * online, offline or syncing, the writes waiting to be sent (pending)
     * and those of them that wait for a person (conflicts); leader: this
     * tab holds the feed for the others. Without offline, always online.
     * @type {import('./offline.js').Status}
     */
    get status(): import("./offline.js").Status;
    /**
     * Deletes what offline keeps on this device: the writes not sent yet
     * and the values kept for reads (a logout).
     * @returns {Promise<void>}
     */
    clearOffline(): Promise<void>;
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
    request(method: string, path: string, { body, headers, idempotent, retries, signal }?: {
        body?: any;
        headers?: {
            [x: string]: string;
        };
        idempotent?: boolean;
        retries?: number;
        signal?: AbortSignal;
    }): Promise<{
        status: number;
        headers: Headers;
        json: any;
    }>;
    /**
     * Full jitter: a random wait up to backoffMs * 2^attempt (at most 1 s).
     * @param {number} attempt 0 for the first retry
     * @returns {Promise<void>}
     */
    backoff(attempt: number): Promise<void>;
    /**
     * Keeps version as the one of key last had whole.
     * @param {string} key
     * @param {number | undefined} version
     */
    remember(key: string, version: number | undefined): void;
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
    get(key: string, { offline }?: {
        offline?: "cache";
    }): Promise<Envelope & {
        cached?: boolean;
        pending?: number;
    }>;
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
    put(key: string, value: any, { force, merge, version }?: {
        force?: boolean;
        merge?: boolean;
        version?: number;
    }): Promise<Written>;
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
    private landed;
    /**
     * Deletes key, on the condition that it is still the version read
     * (force: none). The key's version goes on from there if it comes back.
     * @param {string} key
     * @param {{force?: boolean}} [opts]
     * @returns {Promise<{key: string, version: number, deleted: true}>}
     */
    delete(key: string, { force }?: {
        force?: boolean;
    }): Promise<{
        key: string;
        version: number;
        deleted: true;
    }>;
    /**
     * Creates a key under prefix with a unique name: from slug ('Ann Lee'
     * gives ann-lee, then ann-lee-2, ...), or a time-ordered id without one.
     * Retried safely: one key even if an answer is lost.
     * @param {string} prefix 'cards' or 'cards/'
     * @param {*} value
     * @param {{slug?: string}} [opts]
     * @returns {Promise<Envelope>} with the key made
     */
    create(prefix: string, value: any, { slug }?: {
        slug?: string;
    }): Promise<Envelope>;
    /** @private */
    private write;
    /**
     * An RFC 7396 merge patch, applied on the server: patches of different
     * fields by several clients all land, with no condition and no retry.
     * @param {string} key
     * @param {object} mergePatch
     * @returns {Promise<Written>}
     */
    patch(key: string, mergePatch: object): Promise<Written>;
    /**
     * An RFC 6902 JSON patch: all operations or none.
     * @param {string} key
     * @param {Array<{op: string, path: string, value?: *, from?: string}>} ops
     * @returns {Promise<Written>}
     * @throws {VerstoreError} 409 PATCH_CONFLICT when a test fails
     */
    jsonPatch(key: string, ops: Array<{
        op: string;
        path: string;
        value?: any;
        from?: string;
    }>): Promise<Written>;
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
    append(key: string, pointer: string, item: any, { stamp }?: {
        stamp?: boolean;
    }): Promise<{
        key: string;
        version: number;
        updated_at: string;
        index: number;
    }>;
    /**
     * Several operations in one write, all or none (doc/API.md 5).
     * @param {Array<object>} ops {op: 'check'|'put'|'delete'|'get'|...}
     * @returns {Promise<Array<object>>} one result per op
     * @throws {VerstoreError} with body.op_index naming the op that failed
     */
    txn(ops: Array<object>): Promise<Array<object>>;
    /**
     * The live keys under prefix in byte order, fetched page by page:
     * for await (const item of store.list('cards/')) ...
     * @param {string} prefix
     * @param {{after?: string, limit?: number, values?: boolean}} [opts]
     *   after: start after this key; limit: per page; values: with values
     * @returns {AsyncGenerator<{key: string, version: number,
     *   updated_at: string, value?: *}>}
     */
    list(prefix: string, { after, limit, values }?: {
        after?: string;
        limit?: number;
        values?: boolean;
    }): AsyncGenerator<{
        key: string;
        version: number;
        updated_at: string;
        value?: any;
    }>;
    /**
     * The versions kept of key, newest first (doc/API.md 7).
     * @param {string} key
     * @returns {Promise<Array<{version: number, updated_at: string,
     *   updated_by: string | null, deleted: boolean, size: number}>>}
     */
    history(key: string): Promise<Array<{
        version: number;
        updated_at: string;
        updated_by: string | null;
        deleted: boolean;
        size: number;
    }>>;
    /**
     * Version n of key, while it is kept.
     * @param {string} key
     * @param {number} n
     * @returns {Promise<Envelope>}
     * @throws {VerstoreError} 404 VERSION_GONE, DELETED or NOT_FOUND
     */
    version(key: string, n: number): Promise<Envelope>;
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
    activities(set: string): {
        get(): Promise<{
            set: string;
            etag: string;
            items: object[];
            buckets: Array<{
                key: string;
                version: number;
                count: number;
            }>;
        }>;
        upsert(items: object[]): Promise<object>;
        delete(ids: Array<string | number>): Promise<object>;
    };
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
    update<T>(key: string, fn: (value: T | undefined) => T | Promise<T>, { merge, retries, onConflict }?: {
        merge?: boolean;
        retries?: number;
        onConflict?: (ctx: {
            key: string;
            base: any;
            yours: T;
            theirs: any;
            conflicts: string[];
            by: string | null;
            at: string | null;
        }) => any | Promise<any>;
    }): Promise<Written>;
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
    save(key: string, from: Envelope | null, yours: any, { onConflict, retries }?: {
        onConflict?: (ctx: {
            key: string;
            base: any;
            yours: any;
            theirs: any;
            conflicts: string[];
            by: string | null;
            at: string | null;
        }) => any | Promise<any>;
        retries?: number;
    }): Promise<Written>;
    /**
     * Writes value to key (as update() does) once ms have passed without
     * another saveLater of the same key: rapid edits become one write. Every
     * call's promise settles with that write.
     * @param {string} key
     * @param {*} value
     * @param {number} [ms]
     * @returns {Promise<Written>}
     */
    saveLater(key: string, value: any, ms?: number): Promise<Written>;
    /**
     * The seq of the store's last change: watch({since}) from it misses
     * nothing written after this call.
     * @param {{signal?: AbortSignal}} [opts]
     * @returns {Promise<number>}
     */
    seq({ signal }?: {
        signal?: AbortSignal;
    }): Promise<number>;
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
    watch(prefix: string, cb: (change: Change) => void | Promise<void>, { since, wait, mode, onError, own, presence, farewell }?: {
        since?: number;
        wait?: number;
        mode?: "sse" | "poll";
        onError?: (e: any, change: Change) => void;
        own?: boolean;
        presence?: boolean;
        farewell?: {
            session: string;
            key: string;
        };
    }): {
        close(): void;
        done: Promise<void>;
        ready: Promise<number>;
    };
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
    onPresence(key: string, cb: (present: Presence[]) => void, { farewell }?: {
        farewell?: {
            session: string;
            key: string;
        };
    }): {
        close(): void;
        ready: Promise<void>;
        list(): Presence[];
    };
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
    presence(key: string, { state, lock, ttl, onChange }?: {
        state?: any;
        lock?: boolean;
        ttl?: number;
        onChange?: (others: Presence[], all: Presence[]) => void;
    }): PresenceHandle;
}
/**
 * A key's state as the server answers it.
 */
export type Envelope = {
    key: string;
    value: any;
    version: number;
    updated_at: string;
    created_at?: string;
    updated_by?: string | null;
    merged?: {
        base: number;
        current: number;
    };
};
/**
 * A write's answer (doc/API.md 3.2): the version it made; index: where an
 * append put its item; merged: the versions a stale write was merged
 * with (4.1).
 */
export type Written = {
    key: string;
    version: number;
    updated_at: string;
    index?: number;
    merged?: {
        base: number;
        current: number;
    };
};
/**
 * One change of the feed (doc/API.md 7); a presence event (13.4, watch
 * with presence) has presence in place of version, deleted, updated_at.
 */
export type Change = {
    seq: number;
    key: string;
    version?: number;
    deleted?: boolean;
    updated_at?: string;
    presence?: Presence & {
        left: string | null;
    };
};
/**
 * A session on a key (doc/API.md 13.2).
 */
export type Presence = {
    session: string;
    by: string | null;
    state: any;
    since: string;
    expires_at: string;
    lock: boolean;
};
/**
 * What presence() returns: this session on a key, renewing itself.
 */
export type PresenceHandle = {
    session: string;
    key: string;
    state: any;
    lock: boolean;
    others: Presence[];
    all: Presence[];
    joined: Promise<any> | undefined;
    set(next?: {
        state?: any;
        lock?: boolean;
    }): Promise<any>;
    leave(): Promise<void>;
};
/**
 * What an offline store asks when a write that waited meets a change
 * that it cannot merge: the value to write over theirs, or undefined to
 * leave the write waiting (asked again at the next sync); discard()
 * drops it.
 */
export type OfflineConflict = (ctx: {
    key: string;
    base: any;
    yours: any;
    theirs: any;
    conflicts: string[];
    pending: true;
    discard: () => void;
}) => any | Promise<any>;
