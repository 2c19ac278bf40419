/*
 * store.h - verstore's storage layer: versioned JSON records, for any
 * backend: store/lmdb/ (one host, the default) or store/pg/ (PostgreSQL,
 * built when libpq is there), chosen by store_opts' backend.
 *
 * This header is the store's whole interface; a backend's own words stay
 * behind it. A process opens one store (after fork, never before) and
 * shares it between its threads; every call below is thread-safe.
 *
 * Ownership: pointers passed in are borrowed for the duration of the call.
 * Pointers handed out are stated per function; none points into the
 * backend's memory past what the function says, so nothing outlives the
 * transaction that produced it.
 *
 * Every function returns an enum store_err, STORE_OK (0) on success.
 */
#ifndef STORE_H
#define STORE_H

#include <stddef.h>
#include <stdint.h>

typedef struct store store;
struct store_presence;		/* presence, below */

enum store_err {
	STORE_OK = 0,
	STORE_NOTFOUND,		/* the key never existed */
	STORE_DELETED,		/* the key's latest version is a tombstone */
	STORE_PRECOND,		/* If-Match / If-Unmodified-Since failed */
	STORE_NOT_MODIFIED,	/* If-None-Match / If-Modified-Since matched */
	STORE_CONFLICT,		/* the body token differs from the current one */
	STORE_REQUIRED,		/* a precondition is required and none given */
	STORE_FULL,		/* the store is at its size limit; nothing
				   was written (LMDB: a write but a delete
				   once map_size is reached; a delete only
				   when the reserve past it is gone too) */
	STORE_KEY_CLASH,	/* a backend cannot hold this key beside
				   another it holds (see the backend) */
	STORE_UPDATE_FAILED,	/* an update's callback refused; see update_err */
	STORE_INVALID,		/* bad argument (empty or oversized key, ...) */
	STORE_NOMEM,
	STORE_IO,		/* the backend or the OS failed; logged */
	STORE_UNAVAILABLE,	/* the database cannot be reached now, or
				   kept refusing for concurrent writers;
				   nothing was written, or (a connection lost
				   in COMMIT) it is not known; retry later */
	STORE_CORRUPT,		/* a stored record does not decode; logged */
	STORE_GONE,		/* a version no longer kept (history) */
	STORE_QUOTA,		/* the write would take a prefix past its
				   quota (op->quota says which); nothing
				   was written */
	STORE_LOCKED,		/* another session (presence) or another
				   principal (a write) holds a lock */
	STORE_LIMIT_KEY,	/* a key has its most sessions present */
	STORE_LIMIT_PRINCIPAL,	/* a principal has its most sessions */
	STORE_NOT_OWNER,	/* the session is another principal's */
};

#define STORE_KEY_MAX		512	/* bytes */
#define STORE_PRINCIPAL_MAX	255	/* bytes */
#define STORE_TAGS_MAX		32	/* entity tags in one If-(None-)Match */
#define STORE_BATCH_MAX		256	/* ops in one group commit, at most */

/* The state of one key. */
struct store_meta {
	uint64_t	version;	/* 0: the key never existed */
	int64_t		created_us;	/* µs since the epoch, UTC */
	int64_t		updated_us;	/* strictly increasing per key */
	int64_t		lastmod_s;	/* Last-Modified; strictly increasing */
	int		deleted;	/* the version is a tombstone */
	char		principal[STORE_PRINCIPAL_MAX + 1]; /* "" = none */
};

/* One entity tag of an If-Match / If-None-Match list. */
enum store_tag_kind {
	STORE_TAG_VERSION,	/* "7", or a bare 7 */
	STORE_TAG_UPDATED,	/* a bare updated_at timestamp */
	STORE_TAG_OTHER,	/* well-formed but never ours: never matches */
};
struct store_tag {
	enum store_tag_kind	kind;
	int			weak;
	uint64_t		version;
	int64_t			updated_us;
};

/*
 * Preconditions of one request, evaluated by the store against the
 * current state inside the transaction (API.md section 4).
 */
#define STORE_IF_MATCH		0x001	/* tags[0..nmatch) or any */
#define STORE_IF_UNMODIFIED	0x002	/* unmodified_since */
#define STORE_IF_NONE_MATCH	0x004	/* ntags[0..nnone) or any */
#define STORE_IF_MODIFIED	0x008	/* modified_since; reads only */
#define STORE_TOKEN_VERSION	0x010	/* token_version (0: must not exist) */
#define STORE_TOKEN_UPDATED	0x020	/* token_updated_us */
#define STORE_REQUIRE		0x100	/* 428 when the key exists, none given */
struct store_cond {
	unsigned		flags;
	int			match_any;	/* If-Match: * */
	size_t			nmatch;
	struct store_tag	match[STORE_TAGS_MAX];
	int			none_any;	/* If-None-Match: * */
	size_t			nnone;
	struct store_tag	none[STORE_TAGS_MAX];
	int64_t			unmodified_since;	/* seconds */
	int64_t			modified_since;		/* seconds */
	uint64_t		token_version;
	int64_t			token_updated_us;
};

/*
 * Evaluates cond for a read (forread = 1: If-Modified-Since counts, a
 * failed If-None-Match is STORE_NOT_MODIFIED) or a write (forread = 0: a
 * failed If-None-Match is STORE_PRECOND). cur is the key's state
 * (version 0 when it never existed). Pure; no transaction.
 */
enum store_err	store_cond_check(const struct store_cond *cond,
		    const struct store_meta *cur, int forread);

/* Reads the clock: µs since the epoch. Injectable for tests. */
typedef int64_t	(*store_clock_fn)(void *arg);
/* Receives the store's log lines (level: 0 error, 1 warn, 2 info). */
typedef void	(*store_log_fn)(int level, const char *func, const char *msg);

/*
 * Told of each write transaction that group commit made, with the number
 * of ops it carried, by the thread that made it, once it committed; it
 * must be quick and must not call the store.
 */
typedef void	(*store_batch_fn)(void *arg, size_t nops);
/*
 * Told, once each, of the highest seq (see store_changes) that a write
 * transaction committed, by the thread that committed it, outside any
 * lock; it must be quick and must not call the store (it wakes the
 * watchers of the change feed, in every process).
 */
typedef void	(*store_commit_fn)(void *arg, uint64_t seq);

/* The versions a key keeps when store_opts names none (API.md 7). */
#define STORE_HISTORY_DEFAULT	10

/*
 * A quota: the keys under prefix[0..plen) may hold at most bytes, counted
 * as the bytes of each live key's name and current value (tombstones and
 * the versions history keeps not counted). Every quota whose prefix a key
 * has applies to it. A write that would grow a prefix past its quota is
 * STORE_QUOTA; one that does not grow it (a delete, a smaller value) never
 * is. The store keeps each quota's usage in its write transactions, and
 * counts it anew (one scan of the prefix's keys, writes waiting) when it
 * opens with a quota it kept no usage for; it forgets the usage of
 * prefixes it is opened without.
 */
struct store_quota {
	const char	*prefix;
	size_t		 plen;		/* 1 to STORE_KEY_MAX */
	uint64_t	 bytes;
};
#define STORE_QUOTAS_MAX	64

/* Where the data is kept. */
enum store_backend_kind {
	STORE_BACKEND_LMDB = 0,		/* dir, map_size, max_readers */
	STORE_BACKEND_POSTGRES,		/* conninfo */
};

struct store_opts {
	enum store_backend_kind backend;	/* 0: LMDB */
	const char	*dir;		/* LMDB: created (one level) when
					   missing */
	size_t		 map_size;	/* LMDB: bytes; writes but deletes
					   stop once the pages in use reach
					   it (STORE_FULL), deletes may go on
					   past it (store/lmdb/env.c) */
	unsigned	 max_readers;	/* LMDB: concurrent read transactions */
	const char	*conninfo;	/* POSTGRES: a libpq connection string */
	store_clock_fn	 clock;		/* NULL: the system's real-time clock */
	void		*clock_arg;
	store_log_fn	 log;		/* NULL: silent */
	size_t		 batch_max;	/* group commit bound; 0: STORE_BATCH_MAX */
	int		 relaxed;	/* commits not synced to disk: a crash
					   of the machine may lose the last
					   writes, a crash of the process not
					   (POSTGRES: synchronous_commit off,
					   the database's machine) */
	store_batch_fn	 on_batch;	/* NULL: nobody is told */
	void		*batch_arg;
	store_commit_fn	 on_commit;	/* NULL: nobody is told */
	void		*commit_arg;
	unsigned	 history_versions; /* per key, the current one and
					   tombstones counted; 0: default */
	const struct store_quota *quotas; /* at most STORE_QUOTAS_MAX; copied
					   by store_open() */
	size_t		 nquotas;
};

/*
 * Opens (creating when needed) the store in opts->dir and clears what
 * processes that died while reading left behind; with the postgres
 * backend, connects to opts->conninfo and creates or migrates the schema
 * (STORE_INVALID, logged, when this binary was built without libpq;
 * STORE_UNAVAILABLE when it cannot connect). *out is owned by the caller
 * and released with store_close(). Call once per process, after fork().
 */
enum store_err	store_open(const struct store_opts *opts, store **out);
/*
 * Checks, writing nothing, that store_open() could open the store opts
 * names. postgres: connects to opts->conninfo and reads the schema's
 * version: STORE_OK (this binary's), STORE_NOTFOUND (no tables yet:
 * store_open creates them), STORE_CORRUPT (newer than this binary
 * knows), STORE_UNAVAILABLE (cannot connect; logged), STORE_INVALID
 * (built without libpq). LMDB: STORE_OK (the directory is checked by
 * whoever names it).
 */
enum store_err	store_check(const struct store_opts *opts);
/*
 * Closes the store; NULL-safe. No other call may be running, and every
 * other thread that read from it must have called store_thread_end().
 */
void		store_close(store *);
/* Releases what the calling thread keeps for reading. */
void		store_thread_end(store *);

/*
 * Reads key[0..klen). On STORE_OK *meta is filled and *value points to a
 * malloc'ed copy of the JSON text (length *vlen, NUL-terminated) that the
 * caller frees with free(). On STORE_DELETED *meta describes the
 * tombstone and *value is NULL. On STORE_NOTFOUND *meta is zeroed.
 */
enum store_err	store_get(store *, const char *key, size_t klen,
		    struct store_meta *meta, char **value, size_t *vlen);

/*
 * An idempotent request (API.md 8): its answer is stored under principal
 * and key, in the same transaction as its change, and a repeat with the
 * same fingerprint gets that answer again with nothing applied.
 */
enum store_idem_outcome {
	STORE_IDEM_NEW = 0,	/* applied now; render the answer as usual */
	STORE_IDEM_REPLAYED,	/* response holds the first answer */
	STORE_IDEM_MISMATCH,	/* the key was used for another request */
};
struct store_idem {
	/* in */
	const char	*principal;	/* NULL: none */
	const char	*key;		/* 1 to 255 bytes */
	size_t		 klen;
	uint64_t	 fp[2];		/* the request's fingerprint */
	int64_t		 ttl_us;
	/*
	 * Renders the answer to the ops' outcomes, inside the transaction:
	 * 0 with *out (malloc'ed, the store frees it) and its HTTP status.
	 * Answers with status 500 and above are not stored.
	 */
	int		(*render)(void *arg, char **out, size_t *outlen,
			    int *status);
	void		*render_arg;
	/* out */
	enum store_idem_outcome outcome;
	char		*response;	/* REPLAYED: malloc'ed, caller frees */
	size_t		 resplen;
};

/*
 * An update computes a key's new value from its current one, inside the
 * write transaction. cur[0..curlen) is the current value, valid only
 * during the call; now_us is the time the new version will carry. It
 * returns 0 with *out a malloc'ed new value of *outlen bytes, which the
 * store frees, or its own nonzero error code, which the store reports as
 * STORE_UPDATE_FAILED with op->update_err set to it. It may be called
 * more than once for one op (a batch re-run after a backend failure).
 */
typedef int	(*store_update_fn)(void *arg, const char *cur, size_t curlen,
		    int64_t now_us, char **out, size_t *outlen);

/* One live key of a listing. */
struct store_item {
	char			*key;		/* NUL-terminated */
	size_t			 klen;
	struct store_meta	 meta;
	char			*value;		/* with values, else NULL */
	size_t			 vlen;
};

struct store_list {
	struct store_item	*items;
	size_t			 n;
	int			 more;		/* live keys remain after these */
};

#define STORE_LIST_VALUES_MAX	((size_t)16 << 20)	/* bytes of values */

/*
 * Lists the live keys that start with prefix[0..plen) and sort after
 * after[0..alen) (alen 0: from the start), in byte order, at most limit
 * of them, with their values when with_values (stopping early, with
 * more set, past STORE_LIST_VALUES_MAX bytes of values). All of it is read
 * in one snapshot. *out's memory is the caller's: store_list_free().
 */
enum store_err	store_list(store *, const char *prefix, size_t plen,
		    const char *after, size_t alen, size_t limit,
		    int with_values, struct store_list *out);
void		store_list_free(struct store_list *);	/* NULL-safe */

/*
 * A view of one transaction, handed to a callback (store_read(), or a
 * STORE_OP_MULTI write) and valid only during that call.
 */
typedef struct store_io store_io;

/*
 * Reads key in the callback's transaction, which sees the callback's own
 * writes. *value points into the store's memory: valid until the next
 * store_io_put() or the callback's return; never free it. Returns
 * STORE_OK, STORE_NOTFOUND, STORE_DELETED (meta set, no value) or an error.
 */
enum store_err	store_io_get(store_io *, const char *key, size_t klen,
		    struct store_meta *meta, const char **value, size_t *vlen);
/* Writes a new version of key (a write callback only); *meta its state. */
enum store_err	store_io_put(store_io *, const char *key, size_t klen,
		    const char *value, size_t vlen, struct store_meta *meta);

/*
 * 0, or the callback's own nonzero error (STORE_UPDATE_FAILED). A write
 * callback decides before it writes: one that fails must not have written
 * anything. Like an update, it may be called more than once for one op.
 */
typedef int	(*store_multi_fn)(void *arg, store_io *io);

/*
 * Runs fn in one read snapshot (store_io_put is refused there): STORE_OK,
 * STORE_UPDATE_FAILED when fn returned nonzero, or the store's own error
 * when there was no snapshot to run fn in, or when a read in it failed so
 * that the snapshot cannot go on (postgres: a database out of reach, or a
 * lock waited for too long, is STORE_UNAVAILABLE).
 */
enum store_err	store_read(store *, store_multi_fn fn, void *arg);

/* A write: one key, its preconditions, and (after apply) its outcome. */
enum store_op_kind {
	STORE_OP_PUT = 1,
	STORE_OP_DELETE,
	STORE_OP_UPDATE,	/* the key must exist; update computes the value */
	STORE_OP_CREATE,	/* a new key under the prefix key (see below) */
	STORE_OP_CHECK,		/* cond only: nothing is written */
	STORE_OP_GET,		/* reads into meta and cur_value; missing: OK,
				   version 0 (store_write_all only) */
	STORE_OP_MULTI,		/* multi reads and writes keys; cond is checked
				   against key first (which may be missing) */
};
struct store_op {
	/* in: borrowed until store_apply() returns */
	enum store_op_kind	 kind;
	const char		*key;
	size_t			 klen;
	const char		*value;		/* PUT: the JSON text */
	size_t			 vlen;
	const char		*principal;	/* NUL-terminated, or NULL */
	const struct store_cond	*cond;		/* NULL: unconditional */
	store_update_fn		 update;	/* UPDATE */
	void			*update_arg;
	store_multi_fn		 multi;		/* MULTI */
	void			*multi_arg;
	/* idempotent (for store_write_all: on ops[0], for them all) */
	struct store_idem	*idem;
	/*
	 * CREATE: key is a prefix (ending in '/', or empty); the new key is
	 * the prefix plus the first free of slug, slug-2, slug-3, ... (a
	 * tombstone is free), or without a slug a 16-hex-digit id that grows
	 * with time. It goes to new_key.
	 */
	const char		*slug;
	size_t			 slug_len;
	/*
	 * Non-NULL: the op is refused with STORE_LOCKED, nothing written,
	 * when a session of a principal other than op's holds a live lock
	 * on its key (store_presence_join); *holder is filled with it.
	 */
	struct store_presence	*holder;
	/* out */
	char			 new_key[STORE_KEY_MAX + 1];
	size_t			 new_klen;
	enum store_err		 err;		/* this op's outcome */
	int			 created;	/* PUT made a live key anew */
	struct store_meta	 meta;		/* after the write; else current */
	char			*cur_value;	/* see store_apply() */
	size_t			 cur_vlen;
	int			 update_err;	/* STORE_UPDATE_FAILED: why */
	size_t			 quota;		/* STORE_QUOTA: the index of
						   the quota in store_opts */
	uint64_t		 quota_used;	/* ... its usage before it */
};

/*
 * Applies ops[0..n) in order in one write transaction, each against the
 * state left by the ones before it, and commits once (synced). Each op's
 * err says its own outcome: a failed precondition or a full store on one op
 * writes nothing of that op and leaves the others alone.
 * On STORE_PRECOND, STORE_CONFLICT and STORE_UPDATE_FAILED, op->meta holds
 * the current state and op->cur_value a malloc'ed copy of the current
 * value (NULL when there is none) that the caller frees with free().
 * Returns STORE_OK when the transaction committed; otherwise nothing of
 * the batch was written and the ops that had succeeded carry the error.
 */
enum store_err	store_apply(store *, struct store_op *ops, size_t n);

/*
 * Applies op through this process's group commit: concurrent writers'
 * ops are applied in arrival order, each against the state the ones
 * before it left, in one transaction of at most batch_max ops with one
 * synced commit; a lone write is not delayed. Blocks until op's outcome
 * is known (after the commit) and returns op->err; op->meta and
 * op->cur_value are as for store_apply().
 */
enum store_err	store_write(store *, struct store_op *op);

/*
 * Applies ops[0..n) (at most STORE_BATCH_MAX) all or nothing, in order,
 * each against the state the ones before it left, through group commit.
 * Returns STORE_OK when all applied and committed; otherwise nothing was
 * written, *failed is the index of the op that failed and its err (and
 * meta, cur_value) say why. Every op's cur_value is the caller's to free.
 */
enum store_err	store_write_all(store *, struct store_op *ops, size_t n,
		    size_t *failed);

/*
 * Writes a consistent copy of the whole store into the directory dir,
 * which must exist and must not hold one already, compacted (free pages
 * left out). It reads one snapshot: writers, in this process or others,
 * go on meanwhile, and the copy holds every write committed before it
 * began. The copy is a store that store_open() opens as it is.
 */
enum store_err	store_backup(store *, const char *dir);

/* Group commit counters, since store_open(), of this process. */
struct store_stats {
	uint64_t	batches;	/* write transactions made by store_write */
	uint64_t	batched_ops;	/* ops they carried */
	uint64_t	held_us;	/* how long they held the write lock */
	uint64_t	held_max_us;	/* ... the longest one */
};
void		store_stats(store *, struct store_stats *);

/*
 * The change feed (API.md 7). Every write that changes a key takes the
 * next seq, strictly increasing over the whole store; the feed holds each
 * key's latest change only.
 */
struct store_change {
	uint64_t	 seq;
	const char	*key;		/* klen bytes + NUL; the list's */
	size_t		 klen;
	uint64_t	 version;
	int		 deleted;
	int64_t		 updated_us;
	/* a presence event (with_presence only), else NULL; the list's */
	const struct store_presence *presence;
};
struct store_changes {
	struct store_change	*items;	/* owned; store_changes_free() */
	size_t			 n;
	uint64_t		 last_seq;
};
/* The keys that start with p[0..len) (p need not be NUL-terminated). */
struct store_prefix {
	const char	*p;		/* the caller's */
	size_t		 len;
};
/* The most prefixes one store_changes call takes. */
#define STORE_FEED_PREFIXES_MAX	64
/*
 * The latest change of each key under any of pfx[0..npfx) (npfx 0: every
 * key; at most STORE_FEED_PREFIXES_MAX) whose latest change has a seq
 * above since, in seq order: at most limit (>= 1) of them, from at most
 * scan_max entries of the feed (0: a default of 10000), so that a narrow
 * prefix never makes a call unbounded. A key under none of the prefixes
 * counts only against scan_max, never against limit. last_seq is the
 * seq of the last result; with none, the last seq looked at, or, when
 * the feed's end was reached, the store's last seq: since = last_seq
 * never skips one. Which keys outside the prefixes exist never shows in
 * out (only that seqs were taken).
 */
enum store_err	store_changes(store *, uint64_t since,
		    const struct store_prefix *pfx, size_t npfx, size_t limit,
		    size_t scan_max, struct store_changes *out);
/*
 * The same with the presence events (store_presence_join) among the
 * changes when with_presence; without, they count against scan_max only.
 */
enum store_err	store_changes_ex(store *, uint64_t since,
		    const struct store_prefix *pfx, size_t npfx, size_t limit,
		    size_t scan_max, int with_presence,
		    struct store_changes *out);
/* 1 when key[0..klen) is under one of pfx[0..npfx) (npfx 0: any key). */
int		store_prefix_match(const struct store_prefix *pfx,
		    size_t npfx, const char *key, size_t klen);
void		store_changes_free(struct store_changes *);	/* NULL-safe */
/* The last seq committed (0: none yet, or the store cannot be read). */
uint64_t	store_seq(store *);

/*
 * History: a key keeps its last history_versions versions, the current
 * one and tombstones included.
 */
struct store_version {
	uint64_t	 version;
	int64_t		 updated_us;
	int		 deleted;
	size_t		 size;		/* the value's bytes; 0: tombstone */
	char		 principal[STORE_PRINCIPAL_MAX + 1];
};
/*
 * The versions key keeps, newest first: *out malloc'ed (free()), *n of
 * them. STORE_NOTFOUND when the key never was.
 */
enum store_err	store_history(store *, const char *key, size_t klen,
		    struct store_version **out, size_t *n);
/*
 * Version `version` of key, as store_get() reads the current one:
 * STORE_OK (meta, and *value malloc'ed for the caller to free()),
 * STORE_DELETED (a tombstone; meta set), STORE_NOTFOUND (no such
 * version, or no such key), STORE_GONE (it was, and is no longer kept).
 */
enum store_err	store_get_version(store *, const char *key, size_t klen,
		    uint64_t version, struct store_meta *meta, char **value,
		    size_t *vlen);
/*
 * The same in a store_read() or STORE_OP_MULTI transaction: *value points
 * into it, valid until it ends.
 */
enum store_err	store_io_get_version(store_io *, const char *key,
		    size_t klen, uint64_t version, struct store_meta *meta,
		    const char **value, size_t *vlen);

/* How full the store is, for every process alike (API.md 11). */
struct store_usage {
	uint64_t	size_bytes;	/* the most writes may fill (map_size) */
	uint64_t	used_bytes;	/* the pages its data takes now (free
					   ones not counted) */
	uint64_t	readers;	/* read transactions open in any process */
};
enum store_err	store_usage(store *, struct store_usage *);
/*
 * The usage of each quota that store_opts named, in its order, into
 * used[0..n) (n at most nquotas; a quota whose usage is not known yet
 * reads 0), from one snapshot.
 */
enum store_err	store_quota_usage(store *, uint64_t *used, size_t n);

/*
 * Presence (API.md 13): sessions that say they are on a key, each until
 * its expiry unless renewed, one of them perhaps holding the key's lock.
 * Every join, change, leave and expiry takes the next seq and is an event
 * of the feed (store_changes_ex), the latest one per session and key; a
 * leave's event stays in the feed STORE_PRESENCE_KEEP_US. Kept in the
 * store so that every process (and, on postgres, host) sees it; it need
 * not outlive the store's processes. A store where nobody is present
 * does no presence work for the other calls.
 */
#define STORE_SESSION_MAX	64	/* bytes of a session id */
#define STORE_STATE_MAX		1024	/* bytes of a session's state */
#define STORE_PRESENCE_KEY_MAX	400	/* bytes of a key with presence */
#define STORE_PRESENCE_PER_KEY_MAX 1000	/* the most per_key may be */
#define STORE_PRESENCE_KEEP_US	((int64_t)300 * 1000000)
#define STORE_PRESENCE_LIST_MAX	1000	/* entries one list returns */

enum store_left {
	STORE_PRESENT = 0,
	STORE_LEFT_LEAVE,	/* it said so */
	STORE_LEFT_EXPIRED,	/* not renewed in time */
	STORE_LEFT_CLOSED,	/* its connection closed */
	STORE_LEFT_FORCED,	/* removed by someone else */
};

/* One session on one key. */
struct store_presence {
	char		 key[STORE_KEY_MAX + 1];
	size_t		 klen;
	char		 session[STORE_SESSION_MAX + 1];
	size_t		 slen;
	char		 principal[STORE_PRINCIPAL_MAX + 1];	/* "" = none */
	char		 state[STORE_STATE_MAX + 1];	/* JSON; "" = null */
	size_t		 statelen;
	int64_t		 since_us;
	int64_t		 expires_us;
	int		 lock;
	enum store_left	 left;
	uint64_t	 seq;		/* its latest event */
	int		 joined;	/* store_presence_join: it joined now
					   (else it renewed) */
};

/* 1 when s[0..n) is a session id: 1 to 64 of A-Z a-z 0-9 . _ ~ -. */
int		store_session_ok(const char *s, size_t n);

struct store_join {
	const char	*key;		/* 1 to STORE_PRESENCE_KEY_MAX bytes */
	size_t		 klen;
	const char	*session;	/* 1 to STORE_SESSION_MAX bytes */
	size_t		 slen;
	const char	*principal;	/* NUL-terminated, or NULL */
	const char	*state;		/* JSON text, or NULL for null */
	size_t		 statelen;	/* at most STORE_STATE_MAX */
	int64_t		 ttl_us;	/* > 0 */
	int		 lock;
	size_t		 per_key;	/* the most sessions on one key, and */
	size_t		 per_principal;	/* of one principal (>= 1 each) */
};

/*
 * Joins j's session to its key, or renews it (expiry now + ttl, state
 * and lock replaced). STORE_OK with *out the session's entry;
 * STORE_NOT_OWNER (*out: the session, another principal's);
 * STORE_LOCKED (*out: the other session that holds the lock);
 * STORE_LIMIT_KEY, STORE_LIMIT_PRINCIPAL (a join past a bound; a renewal
 * is never refused for them). Nothing changes unless STORE_OK. A join, or
 * a renewal that changes state or lock, is an event.
 */
enum store_err	store_presence_join(store *, const struct store_join *,
		    struct store_presence *out);
/*
 * Removes session from key, an event saying why. principal NULL: whoever
 * it is (a forced leave); else STORE_NOT_OWNER when it is another's.
 * STORE_NOTFOUND when it is not there. *out: the session as it was.
 */
enum store_err	store_presence_leave(store *, const char *key, size_t klen,
		    const char *session, size_t slen, const char *principal,
		    enum store_left why, struct store_presence *out);
/*
 * The sessions present (not past their expiry) on key (exact 1), or on
 * the keys under prefix key (exact 0), in key then session order: at
 * most max (<= STORE_PRESENCE_LIST_MAX), *more set when others remain.
 * *out malloc'ed (free()), *n entries.
 */
enum store_err	store_presence_list(store *, const char *key, size_t klen,
		    int exact, size_t max, struct store_presence **out,
		    size_t *n, int *more);
/*
 * Records the expiry of sessions past theirs (each an event), and drops
 * leaves older than STORE_PRESENCE_KEEP_US from the feed, at most max of
 * both; *expired: the sessions that expired. When nothing is due it only
 * reads.
 */
enum store_err	store_presence_sweep(store *, size_t max, size_t *expired);

#endif
