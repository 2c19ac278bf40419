/*
 * feed.c - the change feed and the history (API.md 7) on LMDB.
 *
 * Every write takes the next seq from meta "seq" and records it in its
 * record; "changes" maps seq (big-endian, so in order) to the key, one
 * entry per key: its latest change, the previous one removed. "history"
 * maps a key's history key and a version (big-endian) to the record that
 * version wrote, the current one included; a write past history_versions
 * drops the oldest. A history key is the key itself up to HIST_PREFIX
 * bytes, else its first HIST_PREFIX bytes, 0xfe (never in UTF-8) and the
 * FNV-1a 64 of the whole key, whose record then carries the full key. Keys
 * hold no NUL, and a version's first byte is NUL below 2^56: one key's
 * versions never mix with a longer key's.
 */
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "lib/hash.h"
#include "rec.h"
#include "store/store.h"
#include "store/store_int.h"
#include "lmdb_int.h"

#define SCAN_DEFAULT	10000	/* index entries one store_changes reads */
#define PRUNE_MAX	8	/* history entries one write drops at most */

void
db_be64(unsigned char *out, uint64_t v)
{
	int	 i;

	for (i = 7; i >= 0; i--, v >>= 8)
		out[i] = (unsigned char)(v & 0xff);
}

static uint64_t
get_be64(const unsigned char *p)
{
	uint64_t	 v = 0;
	int		 i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* key's history key, then version: the LMDB key in out; its length. */
static size_t
hist_key(const char *key, size_t klen, uint64_t version, unsigned char *out)
{
	uint64_t	 h;
	size_t		 n;

	if (klen <= HIST_PREFIX) {
		memcpy(out, key, klen);
		n = klen;
	} else {
		h = hash_fnv1a64(key, klen);
		memcpy(out, key, HIST_PREFIX);
		out[HIST_PREFIX] = 0xfe;
		memcpy(out + HIST_PREFIX + 1, &h, 8);
		n = HIST_PREFIX + 9;
	}
	db_be64(out + n, version);
	return n + 8;
}

int
feed_needs_fullkey(size_t klen)
{
	return klen > HIST_PREFIX;
}

enum store_err
feed_next_seq(store *st, MDB_txn *txn, uint64_t *seq)
{
	MDB_val		 k, v;
	uint64_t	 last = 0;
	int		 rc;

	k.mv_data = "seq";
	k.mv_size = 3;
	rc = mdb_get(txn, st->meta, &k, &v);
	if (rc == 0 && v.mv_size == sizeof(last))
		memcpy(&last, v.mv_data, sizeof(last));
	else if (rc == 0) {
		db_log(st, 0, __func__, "meta seq of %zu bytes", v.mv_size);
		return STORE_CORRUPT;
	} else if (rc != MDB_NOTFOUND)
		return db_err(st, __func__, "mdb_get", rc);
	*seq = last + 1;
	v.mv_data = seq;
	v.mv_size = sizeof(*seq);
	if ((rc = mdb_put(txn, st->meta, &k, &v, 0)) != 0)
		return db_err(st, __func__, "mdb_put", rc);
	return STORE_OK;
}

uint64_t
feed_last_seq(store *st, MDB_txn *txn)
{
	MDB_val		 k, v;
	uint64_t	 last = 0;

	k.mv_data = "seq";
	k.mv_size = 3;
	if (mdb_get(txn, st->meta, &k, &v) == 0 && v.mv_size == sizeof(last))
		memcpy(&last, v.mv_data, sizeof(last));
	return last;
}

enum store_err
feed_record(store *st, MDB_txn *txn, const char *key, size_t klen,
    uint64_t old_seq, const struct rec *nr, const void *enc, size_t enclen)
{
	unsigned char	 b[8], hk[HIST_PREFIX + 9 + 8];
	MDB_val		 k, v;
	uint64_t	 old;
	int		 rc, n;

	k.mv_size = 8;
	k.mv_data = b;
	if (old_seq > 0) {
		db_be64(b, old_seq);
		if ((rc = mdb_del(txn, st->changes, &k, NULL)) != 0 &&
		    rc != MDB_NOTFOUND)
			return db_err(st, __func__, "mdb_del", rc);
	}
	db_be64(b, nr->seq);
	v.mv_data = (void *)key;
	v.mv_size = klen;
	if ((rc = mdb_put(txn, st->changes, &k, &v, 0)) != 0)
		return db_err(st, __func__, "mdb_put", rc);
	k.mv_data = hk;
	k.mv_size = hist_key(key, klen, nr->version, hk);
	v.mv_data = (void *)enc;
	v.mv_size = enclen;
	if ((rc = mdb_put(txn, st->history, &k, &v, 0)) != 0)
		return db_err(st, __func__, "mdb_put", rc);
	/*
	 * Versions count up by one: the one that falls out is exactly
	 * version - N. Those below it are there only when N was lowered
	 * since: a few more of them go with each write (they read as gone).
	 */
	for (old = nr->version > st->history_versions ?
	    nr->version - st->history_versions : 0, n = 0;
	    old > 0 && n < PRUNE_MAX; old--, n++) {
		k.mv_size = hist_key(key, klen, old, hk);
		if ((rc = mdb_del(txn, st->history, &k, NULL)) == MDB_NOTFOUND &&
		    n > 0)
			break;
		if (rc != 0 && rc != MDB_NOTFOUND)
			return db_err(st, __func__, "mdb_del", rc);
	}
	return STORE_OK;
}

/* ---- the feed ------------------------------------------------------------ */

enum store_err
lmdb_changes(store *st, uint64_t since, const struct store_prefix *pfx,
    size_t npfx, size_t limit, size_t scan_max, struct store_changes *out)
{
	return lmdb_changes_ex(st, since, pfx, npfx, limit, scan_max, 0, out);
}

/* A presence event as the feed's item c; -1 when it is none. */
static int
presence_item(const MDB_val *v, uint64_t seq, struct store_change *c)
{
	struct store_presence	*p;

	if ((p = malloc(sizeof(*p))) == NULL)
		return -1;
	if (presence_decode(v->mv_data, v->mv_size, p) == -1 ||
	    (c->key = malloc(p->klen + 1)) == NULL) {
		free(p);
		return -1;
	}
	memcpy((char *)c->key, p->key, p->klen + 1);
	c->klen = p->klen;
	c->seq = seq;
	c->presence = p;
	return 0;
}

enum store_err
lmdb_changes_ex(store *st, uint64_t since, const struct store_prefix *pfx,
    size_t npfx, size_t limit, size_t scan_max, int with_presence,
    struct store_changes *out)
{
	MDB_txn		*txn = NULL;
	MDB_cursor	*cur = NULL;
	MDB_val		 k, v;
	struct slot	 sl;
	struct rec	 r;
	struct store_change *c;
	unsigned char	 b[8];
	uint64_t	 seq = since;
	size_t		 scanned = 0;
	enum store_err	 err;
	int		 rc, op = MDB_SET_RANGE;

	if (scan_max == 0)
		scan_max = SCAN_DEFAULT;
	if ((out->items = calloc(limit, sizeof(*out->items))) == NULL)
		return STORE_NOMEM;
	if ((rc = db_read_begin(st, &txn)) != 0) {
		txn = NULL;
		err = db_err(st, __func__, "mdb_txn_begin", rc);
		goto out;
	}
	if ((rc = mdb_cursor_open(txn, st->changes, &cur)) != 0) {
		err = db_err(st, __func__, "mdb_cursor_open", rc);
		goto out;
	}
	db_be64(b, since + 1);
	k.mv_data = b;
	k.mv_size = 8;
	for (;;) {
		if (out->n == limit || scanned == scan_max)
			break;		/* seq: the last looked at */
		rc = mdb_cursor_get(cur, &k, &v, op);
		op = MDB_NEXT;
		if (rc == MDB_NOTFOUND) {
			/* the end: nothing after since up to the store's seq */
			seq = feed_last_seq(st, txn);
			break;
		}
		if (rc != 0) {
			err = db_err(st, __func__, "mdb_cursor_get", rc);
			goto out;
		}
		if (k.mv_size != 8) {
			err = STORE_CORRUPT;
			goto out;
		}
		seq = get_be64(k.mv_data);
		scanned++;
		if (v.mv_size > 0 &&
		    *(const unsigned char *)v.mv_data == PRESENCE_MARK) {
			c = &out->items[out->n];
			if (!with_presence)
				continue;
			if (presence_item(&v, seq, c) == -1) {
				err = STORE_NOMEM;
				goto out;
			}
			if (store_prefix_match(pfx, npfx, c->key, c->klen))
				out->n++;
			else {
				free((char *)c->key);
				free((void *)c->presence);
				memset(c, 0, sizeof(*c));
			}
			continue;
		}
		if (!store_prefix_match(pfx, npfx, v.mv_data, v.mv_size))
			continue;
		err = db_lookup(st, txn, v.mv_data, v.mv_size, &sl, &r);
		if (err != STORE_OK)
			goto out;
		c = &out->items[out->n];
		if ((c->key = malloc(v.mv_size + 1)) == NULL) {
			err = STORE_NOMEM;
			goto out;
		}
		memcpy((char *)c->key, v.mv_data, v.mv_size);
		((char *)c->key)[v.mv_size] = '\0';
		c->klen = v.mv_size;
		c->seq = seq;
		c->version = r.version;
		c->deleted = (r.flags & REC_TOMBSTONE) != 0;
		c->updated_us = r.updated_us;
		out->n++;
	}
	/* at the end, seq is the store's: below since when since was bogus */
	out->last_seq = out->n > 0 ? out->items[out->n - 1].seq : seq;
	err = STORE_OK;
out:
	if (cur != NULL)
		mdb_cursor_close(cur);
	if (txn != NULL)
		db_read_end(txn);
	if (err != STORE_OK)
		store_changes_free(out);
	return err;
}

uint64_t
lmdb_seq(store *st)
{
	MDB_txn		*txn;
	uint64_t	 seq;

	if (db_read_begin(st, &txn) != 0)
		return 0;
	seq = feed_last_seq(st, txn);
	db_read_end(txn);
	return seq;
}

/* ---- history ------------------------------------------------------------- */

/*
 * Version `version` of key in txn: the record (in LMDB's memory), or
 * STORE_NOTFOUND (never was), STORE_GONE (pruned), an error.
 */
static enum store_err
version_rec(store *st, MDB_txn *txn, const char *key, size_t klen,
    uint64_t version, struct rec *r)
{
	unsigned char	 hk[HIST_PREFIX + 9 + 8];
	struct slot	 sl;
	struct rec	 cur;
	MDB_val		 k, v;
	enum store_err	 err;
	int		 rc;

	if (klen == 0 || klen > STORE_KEY_MAX)
		return STORE_INVALID;
	err = db_lookup(st, txn, key, klen, &sl, &cur);
	if (err == STORE_KEY_CLASH)
		err = STORE_NOTFOUND;
	if (err != STORE_OK)
		return err;
	if (version == 0 || version > cur.version)
		return STORE_NOTFOUND;
	if (version == cur.version) {
		*r = cur;
		return STORE_OK;
	}
	/* older than the versions kept: gone, even while not yet pruned */
	if (cur.version - version >= st->history_versions)
		return STORE_GONE;
	k.mv_data = hk;
	k.mv_size = hist_key(key, klen, version, hk);
	if ((rc = mdb_get(txn, st->history, &k, &v)) == MDB_NOTFOUND)
		return STORE_GONE;
	if (rc != 0)
		return db_err(st, __func__, "mdb_get", rc);
	if (rec_decode(v.mv_data, v.mv_size, r) == -1)
		return STORE_CORRUPT;
	if (klen > HIST_PREFIX && (r->fklen != klen ||
	    memcmp(r->fullkey, key, klen) != 0))
		return STORE_GONE;	/* another key's, by a hash's chance */
	return STORE_OK;
}

enum store_err
lmdb_io_get_version(store_io *io, const char *key, size_t klen,
    uint64_t version, struct store_meta *meta, const char **value,
    size_t *vlen)
{
	struct rec	 r;
	enum store_err	 err;

	memset(meta, 0, sizeof(*meta));
	*value = NULL;
	*vlen = 0;
	if ((err = version_rec(io->st, io->txn, key, klen, version, &r)) !=
	    STORE_OK)
		return err;
	rec_meta(&r, meta);
	if (meta->deleted)
		return STORE_DELETED;
	*value = r.value;
	*vlen = r.vlen;
	return STORE_OK;
}

/* store_get_version's read, a lmdb_read() callback. */
struct get_version {
	const char		*key;
	size_t			 klen;
	uint64_t		 version;
	struct store_meta	*meta;
	char			*value;
	size_t			 vlen;
	enum store_err		 err;
};

static int
get_version_cb(void *arg, store_io *io)
{
	struct get_version	*g = arg;
	const char		*v;

	g->err = lmdb_io_get_version(io, g->key, g->klen, g->version,
	    g->meta, &v, &g->vlen);
	if (g->err == STORE_OK) {
		if ((g->value = malloc(g->vlen + 1)) == NULL) {
			g->err = STORE_NOMEM;
			return 1;
		}
		memcpy(g->value, v, g->vlen);
		g->value[g->vlen] = '\0';
	}
	return 0;
}

enum store_err
lmdb_get_version(store *st, const char *key, size_t klen, uint64_t version,
    struct store_meta *meta, char **value, size_t *vlen)
{
	struct get_version	 g = { key, klen, version, meta, NULL, 0,
				    STORE_OK };
	enum store_err		 err;

	*value = NULL;
	*vlen = 0;
	if ((err = lmdb_read(st, get_version_cb, &g)) != STORE_OK &&
	    g.err == STORE_OK)
		return err;
	*value = g.value;
	*vlen = g.vlen;
	return g.err;
}

/* The current version of key in txn (tombstones count). */
static enum store_err
last_version(store *st, MDB_txn *txn, const char *key, size_t klen,
    uint64_t *ver)
{
	struct slot	 sl;
	struct rec	 cur;
	enum store_err	 err;

	err = db_lookup(st, txn, key, klen, &sl, &cur);
	if (err == STORE_KEY_CLASH)
		err = STORE_NOTFOUND;
	if (err == STORE_OK)
		*ver = cur.version;
	return err;
}

/* One entry of a history from record r. */
static void
version_of(const struct rec *r, struct store_version *x)
{
	memset(x, 0, sizeof(*x));
	x->version = r->version;
	x->updated_us = r->updated_us;
	x->deleted = (r->flags & REC_TOMBSTONE) != 0;
	x->size = x->deleted ? 0 : r->vlen;
	memcpy(x->principal, r->principal, r->plen > STORE_PRINCIPAL_MAX ?
	    STORE_PRINCIPAL_MAX : r->plen);
}

enum store_err
lmdb_history(store *st, const char *key, size_t klen,
    struct store_version **out, size_t *n)
{
	MDB_txn		*txn = NULL;
	struct store_version *vs = NULL;
	struct rec	 r;
	uint64_t	 ver, low;
	enum store_err	 err;
	int		 rc;

	*out = NULL;
	*n = 0;
	if (klen == 0 || klen > STORE_KEY_MAX)
		return STORE_INVALID;
	if ((rc = db_read_begin(st, &txn)) != 0)
		return db_err(st, __func__, "mdb_txn_begin", rc);
	/* the current one, then back through the versions kept */
	if ((err = last_version(st, txn, key, klen, &ver)) != STORE_OK)
		goto out;
	if ((vs = calloc(st->history_versions, sizeof(*vs))) == NULL) {
		err = STORE_NOMEM;
		goto out;
	}
	low = ver > st->history_versions ? ver - st->history_versions + 1 : 1;
	for (; ver >= low && *n < st->history_versions; ver--) {
		err = version_rec(st, txn, key, klen, ver, &r);
		if (err == STORE_GONE)
			continue;
		if (err != STORE_OK)
			goto out;
		version_of(&r, &vs[(*n)++]);
	}
	*out = vs;
	vs = NULL;
	err = STORE_OK;
out:
	db_read_end(txn);
	free(vs);
	if (err != STORE_OK)
		*n = 0;
	return err;
}
