/**
 * The offline side of client, opened.
 * @param {Verstore} client
 * @param {{name?: string, cacheKeys?: number, maxPending?: number,
 *   feed?: string}} opts
 * @returns {Promise<Offline>}
 */
export function start(client: Verstore, opts: {
    name?: string;
    cacheKeys?: number;
    maxPending?: number;
    feed?: string;
}): Promise<Offline>;
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
    constructor(client: Verstore, opts: {
        name?: string;
        cacheKeys?: number;
        maxPending?: number;
        feed?: string;
    });
    client: import("./verstore.js").Verstore;
    cacheKeys: number;
    maxPending: number;
    name: string;
    feed: string;
    /** @type {Status} */
    status: Status;
    /** @type {IDBDatabase | null} */
    db: IDBDatabase | null;
    id: string;
    attempt: number;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    timer: ReturnType<typeof setTimeout> | undefined;
    /** @type {Set<{prefix: string, cb: (c: Change) => *, since: number,
        onError: (e: *, c: Change) => void, chain: Promise<*>}>} */
    subs: Set<{
        prefix: string;
        cb: (c: Change) => any;
        since: number;
        onError: (e: any, c: Change) => void;
        chain: Promise<any>;
    }>;
    seq: number;
    feedJoined: boolean;
    /** @type {Set<number>} pending entries being asked about now */
    asking: Set<number>;
    /** Opens the database and starts sending what is pending. */
    start(): Promise<this>;
    channel: BroadcastChannel;
    /** False when the browser knows it has no network. */
    onLine(): boolean;
    /** @param {Partial<Status>} s */
    setStatus(s: Partial<Status>): void;
    heard(data: any): void;
    /** @param {string} mode @param {string[]} names */
    tx(mode: string, ...names: string[]): IDBTransaction;
    /** Counts the pending writes and the conflicts among them. */
    count(): Promise<void>;
    /** @returns {Promise<Pending[]>} every pending write, oldest first */
    all(): Promise<Pending[]>;
    /** Keeps env as the last value seen of its key. */
    keep(env: any): Promise<void>;
    /** Forgets key in the cache (read as gone). */
    forget(key: any): Promise<void>;
    /**
     * The last value seen of key, with cached: true, its version, and the
     * value of the last pending put of it when there is one (pending: the
     * count of writes of it that wait).
     */
    cached(key: any): Promise<any>;
    /**
     * Records a write, then sends what is pending. Resolves with the
     * server's answer when it is sent now, or {key, pending: true} when it
     * waits (offline, a 5xx); rejects as the request would when the server
     * refuses it at once.
     * @param {Pending} p
     * @returns {Promise<*>}
     */
    record(p: Pending): Promise<any>;
    /** Sends now, or after the next back-off. */
    kick(): void;
    later(): void;
    /** Sends the pending writes, one tab at a time. */
    sendAll(): Promise<void>;
    send(): Promise<void>;
    /**
     * The answer of p: an outcome for its caller, or a conflict kept.
     * @param {Pending} p
     * @param {{json?: *, error?: *}} answer
     */
    settled(p: Pending, { json, error }: {
        json?: any;
        error?: any;
    }): Promise<void>;
    purge(): Promise<void>;
    /**
     * Sends one pending write. A put goes on the condition of its base and,
     * once it has waited, with Prefer: merge; one that may have been
     * applied already (sent, and no answer) is looked for first.
     * @param {Pending} p
     * @returns {Promise<*>} the answer's JSON
     */
    sendOne(p: Pending): Promise<any>;
    applied(p: any): Promise<{
        key: any;
        version: any;
        updated_at: any;
    }>;
    ask(): Promise<void>;
    /**
     * Settles a pending write that was refused: value is written over the
     * key's current state (merged again if someone wrote since); undefined
     * drops the write.
     * @param {number} id
     * @param {*} value
     */
    settle(id: number, value: any): Promise<void>;
    got(change: any): void;
    joinFeed(): void;
    /**
     * watch() of an offline store: the changes under prefix from the feed
     * that one tab holds for all.
     * @param {string} prefix
     * @param {(c: Change) => *} cb
     * @param {{since?: number, onError?: (e: *, c: Change) => void}} opts
     */
    watch(prefix: string, cb: (c: Change) => any, { since, onError }: {
        since?: number;
        onError?: (e: any, c: Change) => void;
    }): {
        close: () => void;
        done: Promise<any>;
        ready: Promise<number>;
    };
    catchUp(s: any, upto: any): Promise<void>;
    /** Deletes this store's database: pending writes and cached values. */
    clear(): Promise<void>;
}
export type Verstore = import("./verstore.js").Verstore;
export type Change = import("./verstore.js").Change;
/**
 * A write waiting to be sent, as IndexedDB keeps it: its order (id), the
 * request, the version it was based on and its Idempotency-Key.
 */
export type Pending = {
    id?: number;
    method: string;
    key: string;
    keys: string[];
    path: string;
    type?: string;
    body?: any;
    value?: any;
    base?: number;
    force?: boolean;
    merge?: boolean;
    idem?: string;
    tried?: boolean;
    reported?: boolean;
    conflict?: {
        version: number;
        exists: boolean;
        value: any;
        conflicts: string[];
        code: string;
    } | null;
    failed?: {
        status: number;
        code: string;
        message: string;
    } | null;
    at: number;
};
/**
 * What the store shows a page: online, offline or syncing, and the writes
 * waiting (conflicts: those that wait for a person).
 */
export type Status = {
    state: "online" | "offline" | "syncing";
    pending: number;
    conflicts: number;
    leader: boolean;
};
