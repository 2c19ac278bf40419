/*
 * db.c - what every part of the LMDB store uses: its log, LMDB's errors
 * in the store's words, a key's record, and the thread's read
 * transaction; see lmdb_int.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <lmdb.h>

#include "lib/hash.h"
#include "rec.h"
#include "store/store.h"
#include "lmdb_int.h"

void
db_log(const store *st, int level, const char *func, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	store_vlog(st->log, level, func, fmt, ap);
	va_end(ap);
}

enum store_err
db_err(const store *st, const char *func, const char *what, int rc)
{
	switch (rc) {
	case 0:
		return STORE_OK;
	case MDB_MAP_FULL:
		return STORE_FULL;
	case ENOMEM:
		db_log(st, 0, func, "%s: out of memory", what);
		return STORE_NOMEM;
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
	case MDB_INVALID:
	case MDB_VERSION_MISMATCH:
		db_log(st, 0, func, "%s: %s", what, mdb_strerror(rc));
		return STORE_CORRUPT;
	default:
		db_log(st, 0, func, "%s: %s", what, mdb_strerror(rc));
		return STORE_IO;
	}
}

/* The LMDB key of key[0..klen) (see lmdb_int.h). */
static void
make_slot(const store *st, const char *key, size_t klen, struct slot *sl)
{
	uint64_t	 h;

	if (klen <= st->maxkey) {
		sl->v.mv_data = (void *)key;
		sl->v.mv_size = klen;
		sl->hashed = 0;
		return;
	}
	h = hash_fnv1a64(key, klen);
	memcpy(sl->b, key, SLOT_PREFIX);
	sl->b[SLOT_PREFIX] = 0xff;
	memcpy(sl->b + SLOT_PREFIX + 1, &h, 8);
	sl->v.mv_data = sl->b;
	sl->v.mv_size = SLOT_PREFIX + 9;
	sl->hashed = 1;
}

enum store_err
db_lookup(const store *st, MDB_txn *txn, const char *key, size_t klen,
    struct slot *sl, struct rec *r)
{
	MDB_val		 v;
	int		 rc;

	make_slot(st, key, klen, sl);
	rc = mdb_get(txn, st->recs, &sl->v, &v);
	if (rc == MDB_NOTFOUND)
		return STORE_NOTFOUND;
	if (rc != 0)
		return db_err(st, __func__, "mdb_get", rc);
	if (rec_decode(v.mv_data, v.mv_size, r) == -1) {
		db_log(st, 0, __func__, "undecodable record (%zu bytes)",
		    v.mv_size);
		return STORE_CORRUPT;
	}
	if (sl->hashed && (r->fklen != klen ||
	    memcmp(r->fullkey, key, klen) != 0))
		return STORE_KEY_CLASH;
	return STORE_OK;
}

/*
 * Each thread keeps one read transaction between reads: reset, it holds a
 * reader slot but no snapshot, and renewing it skips the reader table's
 * lock that mdb_txn_begin takes.
 */
static _Thread_local struct {
	store	*st;
	MDB_txn	*txn;
} rtls;

int
db_read_begin(store *st, MDB_txn **txn)
{
	int	 rc;

	if (rtls.st == st && rtls.txn != NULL) {
		if ((rc = mdb_txn_renew(rtls.txn)) == 0) {
			*txn = rtls.txn;
			return 0;
		}
		mdb_txn_abort(rtls.txn);
		rtls.txn = NULL;
	}
	if ((rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, txn)) != 0)
		return rc;
	if (rtls.txn == NULL) {
		rtls.st = st;
		rtls.txn = *txn;
	}
	return 0;
}

void
db_read_end(MDB_txn *txn)
{
	if (txn == rtls.txn)
		mdb_txn_reset(txn);
	else
		mdb_txn_abort(txn);
}

void
lmdb_thread_end(store *st)
{
	if (rtls.st == st && rtls.txn != NULL) {
		mdb_txn_abort(rtls.txn);
		rtls.txn = NULL;
		rtls.st = NULL;
	}
}

enum store_err
db_used_bytes(const store *st, MDB_txn *txn, uint64_t *used)
{
	/* 0 and 1 are LMDB's own: the free list and the main database */
	MDB_dbi		 dbi[] = { 0, 1, st->recs, st->meta, st->idem,
			    st->idem_exp, st->changes, st->history };
	MDB_stat	 s;
	uint64_t	 pages = 2;	/* the meta pages */
	size_t		 i;
	int		 rc;

	for (i = 0; i < sizeof(dbi) / sizeof(dbi[0]); i++) {
		if ((rc = mdb_stat(txn, dbi[i], &s)) != 0)
			return db_err(st, __func__, "mdb_stat", rc);
		pages += s.ms_branch_pages + s.ms_leaf_pages +
		    s.ms_overflow_pages;
	}
	*used = pages * s.ms_psize;
	return STORE_OK;
}
