/*
 * usage.c - the usage of each quota (store_int.h, quota.c) on LMDB: meta
 * "quota" NUL prefix -> the bytes counted (8, host order), kept by the
 * write transactions that change a covered key, counted anew when the
 * store opens with a quota that has none, and dropped when it opens
 * without one that has.
 */
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "rec.h"
#include "store/store.h"
#include "store/store_int.h"
#include "lmdb_int.h"

#define USAGE_HEAD	6	/* "quota" and a NUL */

/* Quota q's name in meta, into b; its length. */
static size_t
usage_name(const struct store_quota *q, unsigned char *b)
{
	memcpy(b, "quota", USAGE_HEAD);
	memcpy(b + USAGE_HEAD, q->prefix, q->plen);
	return USAGE_HEAD + q->plen;
}

static enum store_err
usage_read(store *st, MDB_txn *txn, size_t i, uint64_t *used, int *found)
{
	unsigned char	 b[USAGE_HEAD + STORE_QUOTA_PREFIX_MAX];
	MDB_val		 k, v;
	int		 rc;

	*used = 0;
	*found = 0;
	k.mv_data = b;
	k.mv_size = usage_name(&st->quotas.q[i], b);
	if ((rc = mdb_get(txn, st->meta, &k, &v)) == MDB_NOTFOUND)
		return STORE_OK;
	if (rc != 0)
		return db_err(st, __func__, "mdb_get", rc);
	if (v.mv_size != sizeof(*used))
		return STORE_CORRUPT;
	memcpy(used, v.mv_data, sizeof(*used));
	*found = 1;
	return STORE_OK;
}

static enum store_err
usage_write(store *st, MDB_txn *txn, size_t i, uint64_t used)
{
	unsigned char	 b[USAGE_HEAD + STORE_QUOTA_PREFIX_MAX];
	MDB_val		 k, v;
	int		 rc;

	k.mv_data = b;
	k.mv_size = usage_name(&st->quotas.q[i], b);
	v.mv_data = &used;
	v.mv_size = sizeof(used);
	if ((rc = mdb_put(txn, st->meta, &k, &v, 0)) != 0)
		return db_err(st, __func__, "mdb_put", rc);
	return STORE_OK;
}

static enum store_err
usage_get(void *arg, size_t i, uint64_t *used, int *found)
{
	struct usage_txn	*u = arg;

	return usage_read(u->st, u->txn, i, used, found);
}

static enum store_err
usage_add(void *arg, size_t i, int64_t delta)
{
	struct usage_txn	*u = arg;
	uint64_t		 used;
	enum store_err		 err;
	int			 found;

	if ((err = usage_read(u->st, u->txn, i, &used, &found)) != STORE_OK ||
	    !found)
		return err;
	/* a count that went wrong (an older build wrote) stops at 0 */
	used = delta < 0 && (uint64_t)-delta > used ? 0 : used + delta;
	return usage_write(u->st, u->txn, i, used);
}

enum store_err
usage_charge(store *st, MDB_txn *txn, const char *key, size_t klen,
    int64_t delta, struct store_op *op)
{
	struct usage_txn	 u = { st, txn };
	struct quota_backend	 be = { usage_get, usage_add, &u };

	return quota_charge(&st->quotas, &be, key, klen, delta, op);
}

/* Counts the live keys under quota i's prefix: one scan of them. */
static enum store_err
usage_count(store *st, MDB_txn *txn, size_t i)
{
	const struct store_quota *q = &st->quotas.q[i];
	MDB_cursor	*c;
	MDB_val		 k, v;
	struct rec	 r;
	uint64_t	 used = 0, n = 0;
	enum store_err	 err = STORE_OK;
	int		 rc, op = MDB_SET_RANGE;

	if ((rc = mdb_cursor_open(txn, st->recs, &c)) != 0)
		return db_err(st, __func__, "mdb_cursor_open", rc);
	k.mv_data = (void *)q->prefix;
	k.mv_size = q->plen;
	/* a slot starts with its key's first bytes, more than a prefix's */
	while ((rc = mdb_cursor_get(c, &k, &v, op)) == 0) {
		op = MDB_NEXT;
		if (k.mv_size < q->plen || memcmp(k.mv_data, q->prefix,
		    q->plen) != 0)
			break;
		if (rec_decode(v.mv_data, v.mv_size, &r) == -1) {
			err = STORE_CORRUPT;
			goto out;
		}
		if (r.flags & REC_TOMBSTONE)
			continue;
		used += (uint64_t)quota_bytes((r.flags & REC_FULLKEY) ?
		    r.fklen : k.mv_size, 1, r.vlen);
		n++;
	}
	if (rc != 0 && rc != MDB_NOTFOUND) {
		err = db_err(st, __func__, "mdb_cursor_get", rc);
		goto out;
	}
	db_log(st, 2, __func__, "quota %.*s: %llu bytes in %llu keys, counted",
	    (int)q->plen, q->prefix, (unsigned long long)used,
	    (unsigned long long)n);
	err = usage_write(st, txn, i, used);
out:
	mdb_cursor_close(c);
	return err;
}

/* 1 when meta's name k is the usage of one of st's quotas. */
static int
usage_known(const store *st, const MDB_val *k)
{
	size_t	 i;

	for (i = 0; i < st->quotas.n; i++)
		if (k->mv_size == USAGE_HEAD + st->quotas.q[i].plen &&
		    memcmp((char *)k->mv_data + USAGE_HEAD,
		    st->quotas.q[i].prefix, st->quotas.q[i].plen) == 0)
			return 1;
	return 0;
}

enum store_err
usage_open(store *st, MDB_txn *txn)
{
	MDB_cursor	*c;
	MDB_val		 k, v;
	uint64_t	 used;
	enum store_err	 err = STORE_OK;
	size_t		 i;
	int		 rc, found;

	/* a usage not kept while its quota was away would be wrong */
	if ((rc = mdb_cursor_open(txn, st->meta, &c)) != 0)
		return db_err(st, __func__, "mdb_cursor_open", rc);
	k.mv_data = "quota";
	k.mv_size = USAGE_HEAD;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (k.mv_size < USAGE_HEAD ||
		    memcmp(k.mv_data, "quota", USAGE_HEAD) != 0)
			break;
		if (!usage_known(st, &k) && (rc = mdb_cursor_del(c, 0)) != 0)
			break;
	}
	mdb_cursor_close(c);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return db_err(st, __func__, "quota usage", rc);
	for (i = 0; i < st->quotas.n && err == STORE_OK; i++)
		if ((err = usage_read(st, txn, i, &used, &found)) ==
		    STORE_OK && !found)
			err = usage_count(st, txn, i);
	return err;
}

enum store_err
lmdb_quota_usage(store *st, uint64_t *used, size_t n)
{
	MDB_txn		*txn;
	enum store_err	 err = STORE_OK;
	size_t		 i;
	int		 rc, found;

	if (n > st->quotas.n)
		n = st->quotas.n;
	if ((rc = db_read_begin(st, &txn)) != 0)
		return db_err(st, __func__, "mdb_txn_begin", rc);
	for (i = 0; i < n && err == STORE_OK; i++)
		err = usage_read(st, txn, i, &used[i], &found);
	db_read_end(txn);
	return err;
}
