/*
 * lmdb_int.h - what the files of store/lmdb/ share; private to it.
 *
 * One environment (env.c), ten named databases: "records" maps a key to
 * its current record (rec.h), "meta" holds the format number, the last
 * id given to a created key (write.c) and the last seq (feed.c), "idem"
 * and "idem_exp" the idempotency records (idem.c), "changes" and
 * "history" the change feed and the versions kept (feed.c), four of
 * presence (presence.c). LMDB keys are limited to 511 bytes
 * (mdb_env_get_maxkeysize) while API keys may have 512: a key longer than
 * the limit is stored under a slot made of its first SLOT_PREFIX bytes,
 * 0xff (never in UTF-8) and the FNV-1a 64 of the whole key (lib/hash.h),
 * and its record carries the full key. Two such keys sharing a slot is
 * STORE_KEY_CLASH; they list after the shorter keys they share the prefix
 * with.
 *
 * The arrows point down: env.c opens the store with what write.c gives
 * the group commit queue; write.c uses idem.c, feed.c and usage.c;
 * read.c, feed.c, write.c, usage.c and idem.c use db.c; db.c uses rec.c.
 */
#ifndef LMDB_INT_H
#define LMDB_INT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

#include "rec.h"
#include "store/store.h"
#include "store/store_int.h"

#define SLOT_PREFIX	502	/* + 0xff + 8 hash bytes = 511 */
#define HIST_PREFIX	494	/* + 0xfe + 8 hash bytes + 8 version = 511 */
#define STORE_FORMAT	1	/* meta "format": the databases' layout */

struct store {
	struct store_head head;	/* first: store.c reads it */
	MDB_env		*env;
	MDB_dbi		 recs;
	MDB_dbi		 meta;
	MDB_dbi		 idem;		/* principal NUL key -> record */
	MDB_dbi		 idem_exp;	/* expiry (be64) principal NUL key */
	MDB_dbi		 changes;	/* seq (be64) -> slot of its key */
	MDB_dbi		 history;	/* hist key, version (be64) -> rec */
	MDB_dbi		 presence;	/* key NUL session -> entry */
	MDB_dbi		 pexp;		/* expiry (be64) key NUL session */
	MDB_dbi		 pgone;		/* drop (be64) seq (be64): leaves */
	MDB_dbi		 pcount;	/* principal -> its sessions */
	unsigned	 history_versions;
	uint64_t	 limit;		/* map_size: where writes but deletes
					   stop (the map is larger: the
					   reserve, see env.c) */
	store_commit_fn	 on_commit;
	void		*commit_arg;
	_Atomic uint64_t posted;	/* the last seq told on_commit */
	size_t		 maxkey;
	store_clock_fn	 clock;
	void		*clock_arg;
	store_log_fn	 log;
	struct quota_set quotas;	/* usage.c */
	struct commit_queue q;		/* store_write() */
};

/* The LMDB key of an API key. */
struct slot {
	unsigned char	 b[511];
	MDB_val		 v;
	int		 hashed;
};

/* A transaction as store_read() and STORE_OP_MULTI hand it out. */
struct store_io {
	struct store_head head;	/* first: store.c reads it */
	store		*st;
	MDB_txn		*txn;
	int		 writable;
	const char	*principal;
	enum store_err	 lmdb_err;	/* a write that LMDB refused, or a
					   quota (then quota, quota_used) */
	size_t		 quota;
	uint64_t	 quota_used;
};

/* db.c */

/* Logs through the store's log (level as in store_log_fn). */
void		db_log(const store *, int level, const char *func,
		    const char *fmt, ...)
		    __attribute__((format(printf, 4, 5)));
/* LMDB's rc in the store's words, logged (what says what failed). */
enum store_err	db_err(const store *, const char *func, const char *what,
		    int rc);
/*
 * Looks key up in txn. Returns STORE_OK with *r pointing into LMDB's
 * memory (valid until the transaction ends), STORE_NOTFOUND,
 * STORE_KEY_CLASH (a long key's slot holds another), or an error; *sl is
 * key's slot in any case.
 */
enum store_err	db_lookup(const store *, MDB_txn *txn, const char *key,
		    size_t klen, struct slot *sl, struct rec *r);
/*
 * Begins a read transaction, the calling thread's kept one when it has
 * one; returns LMDB's rc. db_read_end() ends it.
 */
int		db_read_begin(store *, MDB_txn **txn);
void		db_read_end(MDB_txn *txn);
/*
 * The bytes that the pages in use take as txn sees them, its own writes
 * counted: every database's pages (the free list's own among them) and
 * the two meta pages, not the free pages (a store emptied and filled
 * again reuses them). A few calls that read the databases' heads.
 */
enum store_err	db_used_bytes(const store *, MDB_txn *txn, uint64_t *used);

/* idem.c: the records of idempotent requests, in a write transaction. */

/* Looks the request up: STORE_OK with id's outcome set, or an error. */
enum store_err	idem_lookup(store *, MDB_txn *, struct store_idem *id,
		    int64_t now);
/* Stores the answer rendered for the request, replacing an expired one. */
enum store_err	idem_store(store *, MDB_txn *, struct store_idem *id,
		    int64_t now);

/* feed.c: the change feed and history, written with each change. */

/* Writes v big-endian into out[0..8). */
void		db_be64(unsigned char *out, uint64_t v);
/* The next seq, taken in the write transaction txn. */
enum store_err	feed_next_seq(store *, MDB_txn *txn, uint64_t *seq);
/* The last seq taken, as txn sees it. */
uint64_t	feed_last_seq(store *, MDB_txn *txn);
/* 1 when a record of key must carry the full key for its history. */
int		feed_needs_fullkey(size_t klen);
/*
 * Records the change nr (encoded as enc[0..enclen)) of key: moves the
 * key's entry in the changes index from old_seq (0: none) to nr->seq, adds
 * the version to its history and drops the one that falls out.
 */
enum store_err	feed_record(store *, MDB_txn *, const char *key, size_t klen,
		    uint64_t old_seq, const struct rec *nr, const void *enc,
		    size_t enclen);

/* usage.c: the usage of each quota, in a write transaction. */

struct usage_txn {
	store		*st;
	MDB_txn		*txn;
};
/* quota_charge() of a write of key in txn. */
enum store_err	usage_charge(store *, MDB_txn *, const char *key,
		    size_t klen, int64_t delta, struct store_op *op);
/*
 * In the transaction that opens the store: drops the usage of quotas it
 * was not opened with, and counts that of those it keeps none for.
 */
enum store_err	usage_open(store *, MDB_txn *);

/* write.c */

/* Sets up st's group commit queue to run its batches here. */
void		write_init(store *st, const struct store_opts *);
/* A commit made seq: on_commit is told, once per seq. */
void		write_posted(store *st, uint64_t seq);

/* presence.c: presence (API.md 13), see there for its databases. */

/* The first byte of a presence event in "changes": no key's. */
#define PRESENCE_MARK	0x01
/* Reads an entry of "presence" or a presence event; -1: not one. */
int		presence_decode(const void *p, size_t n,
		    struct store_presence *out);
/*
 * STORE_LOCKED (holder filled) when a session of a principal other than
 * principal (NULL: none) holds a live lock on key, in txn; else STORE_OK.
 */
enum store_err	presence_lock_check(store *, MDB_txn *txn, const char *key,
		    size_t klen, const char *principal,
		    struct store_presence *holder);
enum store_err	lmdb_presence_join(store *, const struct store_join *,
		    struct store_presence *out);
enum store_err	lmdb_presence_leave(store *, const char *key, size_t klen,
		    const char *session, size_t slen, const char *principal,
		    enum store_left why, struct store_presence *out);
enum store_err	lmdb_presence_list(store *, const char *key, size_t klen,
		    int exact, size_t max, struct store_presence **out,
		    size_t *n, int *more);
enum store_err	lmdb_presence_sweep(store *, size_t max, size_t *done);

/*
 * store.h's functions on LMDB, as store.c calls them through
 * store_backend_lmdb (env.c); each does what store.h says of its namesake.
 */
void		lmdb_close(store *);
void		lmdb_thread_end(store *);
enum store_err	lmdb_get(store *, const char *key, size_t klen,
		    struct store_meta *meta, char **value, size_t *vlen);
enum store_err	lmdb_list(store *, const char *prefix, size_t plen,
		    const char *after, size_t alen, size_t limit,
		    int with_values, struct store_list *out);
enum store_err	lmdb_io_get(store_io *, const char *key, size_t klen,
		    struct store_meta *meta, const char **value, size_t *vlen);
enum store_err	lmdb_io_put(store_io *, const char *key, size_t klen,
		    const char *value, size_t vlen, struct store_meta *meta);
enum store_err	lmdb_read(store *, store_multi_fn fn, void *arg);
enum store_err	lmdb_apply(store *, struct store_op *ops, size_t n);
enum store_err	lmdb_write(store *, struct store_op *op);
enum store_err	lmdb_write_all(store *, struct store_op *ops, size_t n,
		    size_t *failed);
enum store_err	lmdb_backup(store *, const char *dir);
void		lmdb_stats(store *, struct store_stats *);
enum store_err	lmdb_changes(store *, uint64_t since,
		    const struct store_prefix *pfx, size_t npfx,
		    size_t limit, size_t scan_max, struct store_changes *out);
enum store_err	lmdb_changes_ex(store *, uint64_t since,
		    const struct store_prefix *pfx, size_t npfx,
		    size_t limit, size_t scan_max, int with_presence,
		    struct store_changes *out);
uint64_t	lmdb_seq(store *);
enum store_err	lmdb_history(store *, const char *key, size_t klen,
		    struct store_version **out, size_t *n);
enum store_err	lmdb_get_version(store *, const char *key, size_t klen,
		    uint64_t version, struct store_meta *meta, char **value,
		    size_t *vlen);
enum store_err	lmdb_io_get_version(store_io *, const char *key,
		    size_t klen, uint64_t version, struct store_meta *meta,
		    const char **value, size_t *vlen);
enum store_err	lmdb_usage(store *, struct store_usage *);
enum store_err	lmdb_quota_usage(store *, uint64_t *used, size_t n);

#endif
