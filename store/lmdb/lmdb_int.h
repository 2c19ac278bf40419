/*
 * lmdb_int.h - what the files of store/lmdb/ share; private to it.
 *
 * One environment (env.c), four named databases: "records" maps a key to
 * its current record (rec.h), "meta" holds the format number and the last
 * id given to a created key (write.c), "idem" and "idem_exp" the
 * idempotency records (idem.c). LMDB keys are limited to 511 bytes
 * (mdb_env_get_maxkeysize) while API keys may have 512: a key longer than
 * the limit is stored under a slot made of its first SLOT_PREFIX bytes,
 * 0xff (never in UTF-8) and the FNV-1a 64 of the whole key (lib/hash.h),
 * and its record carries the full key. Two such keys sharing a slot is
 * STORE_KEY_CLASH; they list after the shorter keys they share the prefix
 * with.
 *
 * The arrows point down: env.c opens the store with what write.c gives
 * the group commit queue; write.c uses idem.c; read.c, write.c and
 * idem.c use db.c; db.c uses rec.c.
 */
#ifndef LMDB_INT_H
#define LMDB_INT_H

#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

#include "rec.h"
#include "store/store.h"
#include "store/store_int.h"

#define SLOT_PREFIX	502	/* + 0xff + 8 hash bytes = 511 */

struct store {
	MDB_env		*env;
	MDB_dbi		 recs;
	MDB_dbi		 meta;
	MDB_dbi		 idem;		/* principal NUL key -> record */
	MDB_dbi		 idem_exp;	/* expiry (be64) principal NUL key */
	size_t		 maxkey;
	store_clock_fn	 clock;
	void		*clock_arg;
	store_log_fn	 log;
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
	store		*st;
	MDB_txn		*txn;
	int		 writable;
	const char	*principal;
	enum store_err	 lmdb_err;	/* a write that LMDB refused */
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

/* idem.c: the records of idempotent requests, in a write transaction. */

/* Looks the request up: STORE_OK with id's outcome set, or an error. */
enum store_err	idem_lookup(store *, MDB_txn *, struct store_idem *id,
		    int64_t now);
/* Stores the answer rendered for the request, replacing an expired one. */
enum store_err	idem_store(store *, MDB_txn *, struct store_idem *id,
		    int64_t now);

/* write.c */

/* Sets up st's group commit queue to run its batches here. */
void		write_init(store *st, const struct store_opts *);

#endif
