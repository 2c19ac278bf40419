/*
 * read.c - reads from LMDB: one key, a listing, and a callback's read
 * snapshot (store_get, store_list, store_read, store_io_get).
 */
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "rec.h"
#include "store/store.h"
#include "lmdb_int.h"

enum store_err
lmdb_get(store *st, const char *key, size_t klen, struct store_meta *meta,
    char **value, size_t *vlen)
{
	MDB_txn		*txn = NULL;
	struct slot	 sl;
	struct rec	 r;
	enum store_err	 err = STORE_INVALID;
	int		 rc;

	memset(meta, 0, sizeof(*meta));
	*value = NULL;
	*vlen = 0;
	if (klen == 0 || klen > STORE_KEY_MAX)
		goto out;
	if ((rc = db_read_begin(st, &txn)) != 0) {
		txn = NULL;
		err = db_err(st, __func__, "mdb_txn_begin", rc);
		goto out;
	}
	err = db_lookup(st, txn, key, klen, &sl, &r);
	if (err == STORE_KEY_CLASH)
		err = STORE_NOTFOUND;
	if (err != STORE_OK)
		goto out;
	rec_meta(&r, meta);
	if (meta->deleted) {
		err = STORE_DELETED;
		goto out;
	}
	if ((*value = malloc(r.vlen + 1)) == NULL) {
		err = STORE_NOMEM;
		goto out;
	}
	memcpy(*value, r.value, r.vlen);
	(*value)[r.vlen] = '\0';
	*vlen = r.vlen;
out:
	if (txn != NULL)
		db_read_end(txn);
	return err;
}

/* The API key of a record: its full key, or the LMDB key itself. */
static void
full_key(const MDB_val *k, const struct rec *r, const char **key,
    size_t *klen)
{
	if (r->flags & REC_FULLKEY) {
		*key = r->fullkey;
		*klen = r->fklen;
	} else {
		*key = k->mv_data;
		*klen = k->mv_size;
	}
}

static int
bytes_cmp(const char *a, size_t an, const char *b, size_t bn)
{
	int	 c = memcmp(a, b, an < bn ? an : bn);

	return c != 0 ? c : (an > bn) - (an < bn);
}

static enum store_err
list_add(struct store_list *l, size_t limit, const char *key, size_t klen,
    const struct rec *r, int with_values)
{
	struct store_item	*it;

	if (l->items == NULL &&
	    (l->items = calloc(limit, sizeof(*l->items))) == NULL)
		return STORE_NOMEM;
	it = &l->items[l->n];
	if ((it->key = malloc(klen + 1)) == NULL)
		return STORE_NOMEM;
	memcpy(it->key, key, klen);
	it->key[klen] = '\0';
	it->klen = klen;
	rec_meta(r, &it->meta);
	l->n++;
	if (with_values) {
		if ((it->value = malloc(r->vlen + 1)) == NULL)
			return STORE_NOMEM;
		memcpy(it->value, r->value, r->vlen);
		it->value[r->vlen] = '\0';
		it->vlen = r->vlen;
	}
	return STORE_OK;
}

enum store_err
lmdb_list(store *st, const char *prefix, size_t plen, const char *after,
    size_t alen, size_t limit, int with_values, struct store_list *out)
{
	MDB_txn		*txn = NULL;
	MDB_cursor	*cur = NULL;
	MDB_val		 k, v;
	struct rec	 r;
	const char	*key;
	size_t		 klen, cmp, vbytes = 0;
	enum store_err	 err;
	int		 rc, op = MDB_SET_RANGE;

	memset(out, 0, sizeof(*out));
	if (limit == 0 || plen > STORE_KEY_MAX || alen > STORE_KEY_MAX)
		return STORE_INVALID;
	if ((rc = db_read_begin(st, &txn)) != 0) {
		txn = NULL;
		err = db_err(st, __func__, "mdb_txn_begin", rc);
		goto out;
	}
	if ((rc = mdb_cursor_open(txn, st->recs, &cur)) != 0) {
		err = db_err(st, __func__, "mdb_cursor_open", rc);
		goto out;
	}
	/* LMDB keys share at most SLOT_PREFIX bytes with a long API key */
	cmp = plen < SLOT_PREFIX ? plen : SLOT_PREFIX;
	if (alen > 0 && bytes_cmp(after, alen, prefix, plen) > 0) {
		k.mv_data = (void *)after;
		k.mv_size = alen < SLOT_PREFIX ? alen : SLOT_PREFIX;
	} else {
		k.mv_data = (void *)prefix;
		k.mv_size = cmp;
	}
	if (k.mv_size == 0)
		op = MDB_FIRST;
	for (;; op = MDB_NEXT) {
		rc = mdb_cursor_get(cur, &k, &v, (MDB_cursor_op)op);
		if (rc == MDB_NOTFOUND)
			break;
		if (rc != 0) {
			err = db_err(st, __func__, "mdb_cursor_get", rc);
			goto out;
		}
		if (k.mv_size < cmp || memcmp(k.mv_data, prefix, cmp) != 0)
			break;		/* past the prefix */
		if (rec_decode(v.mv_data, v.mv_size, &r) == -1) {
			err = STORE_CORRUPT;
			goto out;
		}
		if (r.flags & REC_TOMBSTONE)
			continue;
		full_key(&k, &r, &key, &klen);
		if (klen < plen || memcmp(key, prefix, plen) != 0 ||
		    (alen > 0 && bytes_cmp(key, klen, after, alen) <= 0))
			continue;
		if (out->n == limit || (with_values && out->n > 0 &&
		    vbytes + r.vlen > STORE_LIST_VALUES_MAX)) {
			out->more = 1;
			break;
		}
		if ((err = list_add(out, limit, key, klen, &r, with_values)) !=
		    STORE_OK)
			goto out;
		vbytes += r.vlen;
	}
	err = STORE_OK;
out:
	if (cur != NULL)
		mdb_cursor_close(cur);
	if (txn != NULL)
		db_read_end(txn);
	if (err != STORE_OK)
		store_list_free(out);
	return err;
}

enum store_err
lmdb_io_get(store_io *io, const char *key, size_t klen,
    struct store_meta *meta, const char **value, size_t *vlen)
{
	struct slot	 sl;
	struct rec	 r;
	enum store_err	 err;

	memset(meta, 0, sizeof(*meta));
	*value = NULL;
	*vlen = 0;
	if (klen == 0 || klen > STORE_KEY_MAX)
		return STORE_INVALID;
	err = db_lookup(io->st, io->txn, key, klen, &sl, &r);
	if (err == STORE_KEY_CLASH)
		err = STORE_NOTFOUND;
	if (err != STORE_OK)
		return err;
	rec_meta(&r, meta);
	if (meta->deleted)
		return STORE_DELETED;
	*value = r.value;
	*vlen = r.vlen;
	return STORE_OK;
}

enum store_err
lmdb_read(store *st, store_multi_fn fn, void *arg)
{
	struct store_io	 io;
	MDB_txn		*txn;
	enum store_err	 err;
	int		 rc;

	if ((rc = db_read_begin(st, &txn)) != 0)
		return db_err(st, __func__, "mdb_txn_begin", rc);
	memset(&io, 0, sizeof(io));
	io.head.be = &store_backend_lmdb;
	io.st = st;
	io.txn = txn;
	err = fn(arg, &io) == 0 ? STORE_OK : STORE_UPDATE_FAILED;
	db_read_end(txn);
	return err;
}
