/*
 * store_int.h - what store/ gives the backend that implements store.h
 * (store/lmdb/ today): the parts of the store that are the same whatever
 * keeps the data. The preconditions (cond.c) are in store.h itself.
 * Private to store/ and its backends. Nothing here names a backend: where
 * a part needs the backend's data it calls back through a struct of the
 * backend's own functions (name_backend, commit_backend).
 */
#ifndef STORE_INT_H
#define STORE_INT_H

#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* store.c: the backends behind store.h. */

/*
 * A backend's functions, each doing what store.h says of its namesake;
 * store.c calls them through the table in the store's (and a store_io's)
 * head. Opening is not here: store_open() picks the backend's open.
 */
struct store_backend {
	const char	*name;
	void		(*close)(store *);
	void		(*thread_end)(store *);
	enum store_err	(*get)(store *, const char *key, size_t klen,
			    struct store_meta *meta, char **value,
			    size_t *vlen);
	enum store_err	(*list)(store *, const char *prefix, size_t plen,
			    const char *after, size_t alen, size_t limit,
			    int with_values, struct store_list *out);
	enum store_err	(*io_get)(store_io *, const char *key, size_t klen,
			    struct store_meta *meta, const char **value,
			    size_t *vlen);
	enum store_err	(*io_put)(store_io *, const char *key, size_t klen,
			    const char *value, size_t vlen,
			    struct store_meta *meta);
	enum store_err	(*read)(store *, store_multi_fn fn, void *arg);
	enum store_err	(*apply)(store *, struct store_op *ops, size_t n);
	enum store_err	(*write)(store *, struct store_op *op);
	enum store_err	(*write_all)(store *, struct store_op *ops, size_t n,
			    size_t *failed);
	enum store_err	(*backup)(store *, const char *dir);
	void		(*stats)(store *, struct store_stats *);
	enum store_err	(*changes)(store *, uint64_t since,
			    const struct store_prefix *pfx, size_t npfx,
			    size_t limit, size_t scan_max,
			    struct store_changes *out);
	uint64_t	(*seq)(store *);
	enum store_err	(*history)(store *, const char *key, size_t klen,
			    struct store_version **out, size_t *n);
	enum store_err	(*get_version)(store *, const char *key, size_t klen,
			    uint64_t version, struct store_meta *meta,
			    char **value, size_t *vlen);
	enum store_err	(*io_get_version)(store_io *, const char *key,
			    size_t klen, uint64_t version,
			    struct store_meta *meta, const char **value,
			    size_t *vlen);
	enum store_err	(*usage)(store *, struct store_usage *);
	enum store_err	(*quota_usage)(store *, uint64_t *used, size_t n);
	/* presence; NULL where the backend has none (STORE_INVALID) */
	enum store_err	(*changes_ex)(store *, uint64_t since,
			    const struct store_prefix *pfx, size_t npfx,
			    size_t limit, size_t scan_max, int with_presence,
			    struct store_changes *out);
	enum store_err	(*presence_join)(store *, const struct store_join *,
			    struct store_presence *out);
	enum store_err	(*presence_leave)(store *, const char *key,
			    size_t klen, const char *session, size_t slen,
			    const char *principal, enum store_left why,
			    struct store_presence *out);
	enum store_err	(*presence_list)(store *, const char *key,
			    size_t klen, int exact, size_t max,
			    struct store_presence **out, size_t *n, int *more);
	enum store_err	(*presence_sweep)(store *, size_t max, size_t *expired);
};

/*
 * The first member of every backend's struct store and struct store_io:
 * all that store.c knows of them.
 */
struct store_head {
	const struct store_backend *be;
};

/* store/lmdb/env.c */
extern const struct store_backend store_backend_lmdb;
enum store_err	store_open_lmdb(const struct store_opts *, store **);
/* store/pg/conn.c, built only when libpq is there (STORE_HAVE_PG) */
extern const struct store_backend store_backend_pg;
enum store_err	store_open_pg(const struct store_opts *, store **);
enum store_err	store_check_pg(const struct store_opts *);

/* presence.c: what presence is the same on every backend. */

/* j is well formed (lengths, ttl, bounds). */
int	presence_join_ok(const struct store_join *);
/*
 * Fills p from j as a session that joins at now (since and expiry), the
 * key, session, principal and state copied.
 */
void	presence_from_join(struct store_presence *p,
	    const struct store_join *j, int64_t now);
/* 1 when a renewal by j of p changes what others see (state, lock). */
int	presence_changes(const struct store_presence *p,
	    const struct store_join *j);

/* op.c: an op's rules. */

/* Whether op is well formed for its kind (key length, callbacks). */
int	op_valid(const struct store_op *);
/* Clears op's outcome, freeing cur_value, before it is applied (again). */
void	op_reset(struct store_op *);
/*
 * The state a write of op leaves its key in, given its current state cur
 * (version 0: it never existed) and now, the clock's µs: the next
 * version, the times (see op.c), created_us kept while the key lives,
 * op's principal, and a tombstone for a delete. Sets op->created. cur and
 * next must differ.
 */
void	op_stamp(struct store_op *, const struct store_meta *cur,
	    int64_t now, struct store_meta *next);
/*
 * Whether a write refused with err answers with the key's current value
 * in op->cur_value (see store_apply() in store.h).
 */
int	op_shows_current(enum store_err err, const struct store_meta *cur);
/* The system's real-time clock: the store_clock_fn when none is given. */
int64_t	op_real_clock(void *);

/* store.c: small parts that every backend needs alike. */

/* Formats one message for log (NULL: none) as vsnprintf does. */
void		store_vlog(store_log_fn log, int level, const char *func,
		    const char *fmt, va_list ap);

#define STORE_IDEM_NAME_MAX	(STORE_PRINCIPAL_MAX + 1 + 255)
/*
 * The name an idempotency record is kept under: its principal, a NUL,
 * then its key (1 to 255 bytes). Its length, or 0 when the key is empty,
 * too long, or the name would not fit in bufsz.
 */
size_t		store_idem_name(const struct store_idem *, char *buf,
		    size_t bufsz);

/* name.c: the names of created keys (STORE_OP_CREATE). */

/* The next time-ordered id at now (µs), after the last one given. */
uint64_t	name_id(int64_t now, uint64_t last);

/*
 * What naming asks of the backend, in the write transaction, arg being
 * the backend's own. id gives the next id: name_id() over the last one it
 * gave, which it keeps with the transaction. look reads key's state:
 * STORE_NOTFOUND or STORE_DELETED (free), STORE_OK (a live key) or
 * STORE_KEY_CLASH (a key the backend cannot hold beside one it holds),
 * or an error.
 */
struct name_backend {
	enum store_err	(*id)(void *arg, uint64_t *id);
	enum store_err	(*look)(void *arg, const char *key, size_t klen);
	void		*arg;
};

/*
 * Names op's new key in op->new_key: the prefix op->key plus the first
 * free name. Returns what look said of it, STORE_NOTFOUND or
 * STORE_DELETED, or an error (STORE_INVALID when no name fits the key
 * limit).
 */
enum store_err	name_pick(struct store_op *op, const struct name_backend *);

/* quota.c: per-prefix quotas (struct store_quota). */

/* The longest quota prefix: its name in LMDB's meta must fit a key. */
#define STORE_QUOTA_PREFIX_MAX	255

/* The quotas a store was opened with: its own copy. */
struct quota_set {
	size_t			 n;
	struct store_quota	 q[STORE_QUOTAS_MAX];
};

/* Copies o's quotas (STORE_INVALID: too many, or a prefix too long). */
enum store_err	quota_init(struct quota_set *, const struct store_opts *o);
void		quota_fini(struct quota_set *);
/* 1 when key[0..klen) is under q's prefix. */
int		quota_covers(const struct store_quota *q, const char *key,
		    size_t klen);
/* The bytes a version of a key counts: its name and value, if live. */
int64_t		quota_bytes(size_t klen, int live, size_t vlen);

/*
 * What charging asks of the backend, in the write transaction, arg being
 * the backend's own: get reads quota i's usage (*found 0: none kept, the
 * quota is not counted), add adds delta to it (none kept: nothing).
 */
struct quota_backend {
	enum store_err	(*get)(void *arg, size_t i, uint64_t *used,
			    int *found);
	enum store_err	(*add)(void *arg, size_t i, int64_t delta);
	void		*arg;
};

/*
 * Charges a write of key that changes its counted bytes by delta to
 * every quota covering it: STORE_QUOTA (op->quota and op->quota_used
 * set, nothing charged) when delta > 0 would take one past its bytes.
 */
enum store_err	quota_charge(const struct quota_set *,
		    const struct quota_backend *, const char *key,
		    size_t klen, int64_t delta, struct store_op *op);

/* commit.c: group commit (store_write(), store_write_all()). */

/* One writer's ops: a single op, or a transaction's, all or nothing. */
struct commit_unit {
	struct store_op	*ops;
	size_t		 n;
	int		 atomic;
	int		 ok;		/* applied (not yet committed) */
	int		 wrote;		/* something to commit */
	size_t		 failed;	/* atomic: the op that failed */
};

/* Clears a unit's outcome before it is applied (again). */
void	commit_unit_reset(struct commit_unit *);
/*
 * The whole unit failed for want of a transaction or a commit: its ops
 * that had succeeded, or not yet run, carry err.
 */
void	commit_unit_fail(struct commit_unit *, enum store_err err);
/*
 * store_apply()'s units: each of ops[0..n) a unit of its own, reset, in
 * one when n is 1, else allocated (commit_units_free() frees). NULL: out
 * of memory, and each op's err says so.
 */
struct commit_unit *commit_units(struct store_op *ops, size_t n,
		    struct commit_unit *one);
void	commit_units_free(struct commit_unit *units, struct commit_unit *one);

/*
 * What the queue asks of the backend, arg being the backend's own.
 * begin takes the write lock, waiting for the writers of other processes
 * if need be, and begins the transaction *txn; only then does the queue
 * take its batch, so that those who arrived meanwhile join it. apply
 * applies units[0..n) in order in txn, each against the state the ones
 * before it left, and commits txn or aborts it, leaving each unit's
 * outcome (ok, wrote, failed, and its ops' err) as store_apply() would.
 */
struct commit_backend {
	enum store_err	(*begin)(void *arg, void **txn);
	void		(*apply)(void *arg, void *txn,
			    struct commit_unit *units, size_t n);
	void		*arg;
};

/* A process's queue, in its store; the fields are commit.c's. */
struct commit_queue {
	struct commit_backend	 be;
	pthread_mutex_t		 lock;
	struct commit_waiter	*head;
	struct commit_waiter	*tail;
	size_t			 batch_max;	/* ops in one transaction */
	store_batch_fn		 on_batch;
	void			*batch_arg;
	struct store_stats	 stats;
};

/* batch_max, on_batch and batch_arg as o gives them. */
void		commit_init(struct commit_queue *, const struct store_opts *o,
		    const struct commit_backend *);
void		commit_fini(struct commit_queue *);
/* store_write() and store_write_all() through q. */
enum store_err	commit_write(struct commit_queue *q, struct store_op *);
enum store_err	commit_write_all(struct commit_queue *q, struct store_op *,
		    size_t n, size_t *failed);
void		commit_stats(struct commit_queue *, struct store_stats *);

#endif
