/*
 * read.c - reads from PostgreSQL: one key, a listing, a callback's read
 * snapshot, the change feed and the history; see pg_int.h.
 */
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "store/store.h"
#include "store/store_int.h"
#include "pg_int.h"

#define SCAN_DEFAULT	10000	/* feed entries one store_changes reads */
#define ROWS_MAX	((size_t)1 << 40)	/* a LIMIT that means none */

/* A malloc'ed, NUL-terminated copy of a field; NULL: no memory. */
static char *
field_dup(const PGresult *res, int row, int col, size_t *len)
{
	size_t	 n = (size_t)PQgetlength(res, row, col);
	char	*p;

	if ((p = malloc(n + 1)) == NULL)
		return NULL;
	memcpy(p, PQgetvalue(res, row, col), n);
	p[n] = '\0';
	if (len != NULL)
		*len = n;
	return p;
}

enum store_err
pgr_get(store *st, const char *key, size_t klen, struct store_meta *meta,
    char **value, size_t *vlen)
{
	struct pgconn	*pc = NULL;
	PGresult	*res = NULL;
	struct pgq	 q;
	enum store_err	 err = STORE_INVALID;

	memset(meta, 0, sizeof(*meta));
	*value = NULL;
	*vlen = 0;
	if (klen == 0 || klen > STORE_KEY_MAX)
		goto out;
	err = STORE_UNAVAILABLE;
	if ((pc = pg_take(st)) == NULL)
		goto out;
	pgq_init(&q);
	pgq_bytes(&q, key, klen);
	if ((res = pg_run(st, pc, Q_GET, &q, &err)) == NULL)
		goto out;
	if (PQntuples(res) == 0) {
		err = STORE_NOTFOUND;
		goto out;
	}
	pg_meta(res, 0, 1, meta);
	if (meta->deleted) {
		err = STORE_DELETED;
		goto out;
	}
	err = (*value = field_dup(res, 0, 0, vlen)) == NULL ? STORE_NOMEM :
	    STORE_OK;
out:
	PQclear(res);
	pg_give(st, pc);
	return err;
}

size_t
pg_prefix_end(const char *p, size_t n, unsigned char *out)
{
	memcpy(out, p, n);
	while (n > 0 && out[n - 1] == 0xff)
		n--;
	if (n > 0)
		out[n - 1]++;
	return n;
}

enum store_err
pgr_list(store *st, const char *prefix, size_t plen, const char *after,
    size_t alen, size_t limit, int with_values, struct store_list *out)
{
	unsigned char	 to[STORE_KEY_MAX];
	struct pgconn	*pc = NULL;
	PGresult	*res = NULL;
	struct store_item *it;
	struct pgq	 q;
	size_t		 tlen, rows, i;
	enum store_err	 err;

	memset(out, 0, sizeof(*out));
	if (limit == 0 || plen > STORE_KEY_MAX || alen > STORE_KEY_MAX)
		return STORE_INVALID;
	if (limit > ROWS_MAX)
		limit = ROWS_MAX;
	tlen = pg_prefix_end(prefix, plen, to);
	pgq_init(&q);
	pgq_bytes(&q, prefix, plen);
	pgq_bytes(&q, after, alen);
	pgq_int(&q, (int64_t)limit + 1);	/* one more: is there more? */
	pgq_bool(&q, with_values);
	pgq_int(&q, (int64_t)STORE_LIST_VALUES_MAX);
	if (tlen > 0)
		pgq_bytes(&q, to, tlen);
	if ((pc = pg_take(st)) == NULL)
		return STORE_UNAVAILABLE;
	if ((res = pg_run(st, pc, tlen > 0 ? Q_LIST_TO : Q_LIST, &q, &err)) ==
	    NULL)
		goto out;
	rows = (size_t)PQntuples(res);
	err = STORE_NOMEM;
	if (rows > 0 && (out->items = calloc(rows < limit ? rows : limit,
	    sizeof(*out->items))) == NULL)
		goto out;
	for (i = 0; i < rows; i++) {
		if (i == limit || (with_values && !pg_bool(res, (int)i, 8))) {
			out->more = 1;
			break;
		}
		it = &out->items[out->n];
		if ((it->key = field_dup(res, (int)i, 0, &it->klen)) == NULL)
			goto out;
		pg_meta(res, (int)i, 1, &it->meta);
		out->n++;
		if (with_values && (it->value = field_dup(res, (int)i, 7,
		    &it->vlen)) == NULL)
			goto out;
	}
	err = STORE_OK;
out:
	PQclear(res);
	pg_give(st, pc);
	if (err != STORE_OK)
		store_list_free(out);
	return err;
}

/* ---- a callback's transaction ------------------------------------------- */

/* Keeps res until the callback's next write or its end. */
static enum store_err
io_keep(store_io *io, PGresult *res)
{
	PGresult	**r;
	size_t		 cap;

	if (io->nres == io->cap) {
		cap = io->cap ? io->cap * 2 : 8;
		if ((r = realloc(io->res, cap * sizeof(*r))) == NULL) {
			PQclear(res);
			return STORE_NOMEM;
		}
		io->res = r;
		io->cap = cap;
	}
	io->res[io->nres++] = res;
	return STORE_OK;
}

void
pgio_clear(store_io *io)
{
	size_t	 i;

	for (i = 0; i < io->nres; i++)
		PQclear(io->res[i]);
	io->nres = 0;
}

/*
 * A statement of io's transaction failed: the transaction is unusable
 * now, and that error is what the call it serves answers.
 */
static enum store_err
io_failed(store_io *io, enum store_err err)
{
	io->tx->failed = 1;
	io->pg_err = err;
	return err;
}

enum store_err
pgr_io_get(store_io *io, const char *key, size_t klen,
    struct store_meta *meta, const char **value, size_t *vlen)
{
	PGresult	*res;
	struct pgq	 q;
	enum store_err	 err;

	memset(meta, 0, sizeof(*meta));
	*value = NULL;
	*vlen = 0;
	if (klen == 0 || klen > STORE_KEY_MAX)
		return STORE_INVALID;
	if (io->tx->failed)
		return io->pg_err != STORE_OK ? io->pg_err : STORE_IO;
	pgq_init(&q);
	pgq_bytes(&q, key, klen);
	if ((res = pg_run(io->st, io->tx->pc, io->writable ? Q_GET_LOCK :
	    Q_GET, &q, &err)) == NULL)
		return io_failed(io, err);
	if (PQntuples(res) == 0) {
		PQclear(res);
		return STORE_NOTFOUND;
	}
	pg_meta(res, 0, 1, meta);
	if (meta->deleted) {
		PQclear(res);
		return STORE_DELETED;
	}
	*value = PQgetvalue(res, 0, 0);
	*vlen = (size_t)PQgetlength(res, 0, 0);
	return io_keep(io, res);
}

enum store_err
pgr_read(store *st, store_multi_fn fn, void *arg)
{
	struct store_io	 io;
	struct pgtx	 tx;
	enum store_err	 err;
	int		 rc;

	memset(&io, 0, sizeof(io));
	memset(&tx, 0, sizeof(tx));
	if ((tx.pc = pg_take(st)) == NULL)
		return STORE_UNAVAILABLE;
	if ((err = pg_sql(st, tx.pc, "BEGIN ISOLATION LEVEL REPEATABLE READ "
	    "READ ONLY")) != STORE_OK)
		goto out;
	io.head.be = &store_backend_pg;
	io.st = st;
	io.tx = &tx;
	rc = fn(arg, &io);
	pgio_clear(&io);
	free(io.res);
	if (tx.failed)
		err = io.pg_err;	/* pg_give rolls it back */
	else if ((err = pg_sql(st, tx.pc, "COMMIT")) == STORE_OK && rc != 0)
		err = STORE_UPDATE_FAILED;
out:
	pg_give(st, tx.pc);
	return err;
}

/* ---- the feed ------------------------------------------------------------ */

/*
 * The binary bytea[] of pfx[0..npfx) (npfx 0: one empty prefix, which
 * every key is under), in malloc'd memory; *len its bytes. NULL: no memory.
 */
static unsigned char *
prefix_array(const struct store_prefix *pfx, size_t npfx, size_t *len)
{
	static const struct store_prefix all = { "", 0 };
	unsigned char	*buf, *p;
	size_t		 i, size = PG_ARRAY_HEAD;

	if (npfx == 0) {
		pfx = &all;
		npfx = 1;
	}
	for (i = 0; i < npfx; i++)
		size += 4 + pfx[i].len;
	if ((buf = malloc(size)) == NULL)
		return NULL;
	pg_array_head(buf, (uint32_t)npfx);
	for (i = 0, p = buf + PG_ARRAY_HEAD; i < npfx; i++) {
		pg_put_u32(p, (uint32_t)pfx[i].len);
		memcpy(p + 4, pfx[i].p, pfx[i].len);
		p += 4 + pfx[i].len;
	}
	*len = size;
	return buf;
}

enum store_err
pgr_changes(store *st, uint64_t since, const struct store_prefix *pfx,
    size_t npfx, size_t limit, size_t scan_max, struct store_changes *out)
{
	return pgr_changes_ex(st, since, pfx, npfx, limit, scan_max, 0, out);
}

enum store_err
pgr_changes_ex(store *st, uint64_t since, const struct store_prefix *pfx,
    size_t npfx, size_t limit, size_t scan_max, int with_presence,
    struct store_changes *out)
{
	struct pgconn	*pc = NULL;
	PGresult	*res = NULL;
	struct store_change *c;
	struct store_presence *p;
	struct pgq	 q;
	unsigned char	*arr;
	size_t		 rows, i, looked, alen;
	uint64_t	 seq;
	enum store_err	 err;

	for (i = 0; i < npfx; i++)
		if (pfx[i].len > STORE_KEY_MAX)
			return STORE_INVALID;
	if (scan_max == 0)
		scan_max = SCAN_DEFAULT;
	if (limit > ROWS_MAX)
		limit = ROWS_MAX;
	if (scan_max > ROWS_MAX)
		scan_max = ROWS_MAX;
	if ((arr = prefix_array(pfx, npfx, &alen)) == NULL)
		return STORE_NOMEM;
	pgq_init(&q);
	pgq_int(&q, (int64_t)(since > INT64_MAX ? INT64_MAX : since));
	pgq_int(&q, (int64_t)scan_max);
	pgq_bytes(&q, arr, alen);
	pgq_int(&q, (int64_t)limit);
	err = STORE_UNAVAILABLE;
	if ((pc = pg_take(st)) == NULL ||
	    (res = pg_run(st, pc, with_presence ? Q_CHANGES_P : Q_CHANGES, &q,
	    &err)) == NULL)
		goto out;
	err = STORE_CORRUPT;
	if ((rows = (size_t)PQntuples(res)) == 0 ||
	    pg_int(res, (int)rows - 1, 0) != 1)
		goto out;	/* the summary row is always last */
	err = STORE_NOMEM;
	if ((out->items = calloc(rows, sizeof(*out->items))) == NULL)
		goto out;
	for (i = 0; i + 1 < rows; i++) {
		c = &out->items[out->n];
		if ((c->key = field_dup(res, (int)i, 1, &c->klen)) == NULL)
			goto out;
		c->seq = (uint64_t)pg_int(res, (int)i, 2);
		out->n++;
		/* Q_CHANGES_P's column 13: -1 for a key's change */
		if (!with_presence || pg_int(res, (int)i, 13) < 0) {
			c->version = (uint64_t)pg_int(res, (int)i, 3);
			c->deleted = pg_bool(res, (int)i, 4);
			c->updated_us = pg_int(res, (int)i, 5);
			continue;
		}
		if ((p = malloc(sizeof(*p))) == NULL)
			goto out;
		c->presence = p;
		if (pgp_row(res, (int)i, 6, p) == -1) {
			err = STORE_CORRUPT;
			goto out;
		}
	}
	looked = (size_t)pg_int(res, (int)i, 3);
	seq = looked == scan_max ? (uint64_t)pg_int(res, (int)i, 2) :
	    (uint64_t)pg_int(res, (int)i, 5);
	out->last_seq = out->n > 0 ? out->items[out->n - 1].seq : seq;
	err = STORE_OK;
out:
	PQclear(res);
	pg_give(st, pc);
	free(arr);
	if (err != STORE_OK)
		store_changes_free(out);
	return err;
}

uint64_t
pgr_seq(store *st)
{
	struct pgconn	*pc;
	PGresult	*res;
	struct pgq	 q;
	enum store_err	 err;
	uint64_t	 seq = 0;

	if ((pc = pg_take(st)) == NULL)
		return 0;
	pgq_init(&q);
	if ((res = pg_run(st, pc, Q_SEQ, &q, &err)) != NULL &&
	    PQntuples(res) == 1)
		seq = (uint64_t)pg_int(res, 0, 0);
	PQclear(res);
	pg_give(st, pc);
	return seq;
}

/* ---- history ------------------------------------------------------------- */

enum store_err
pgr_history(store *st, const char *key, size_t klen,
    struct store_version **out, size_t *n)
{
	struct pgconn	*pc = NULL;
	PGresult	*res = NULL;
	struct store_version *vs = NULL, *x;
	struct pgq	 q;
	size_t		 rows, i, plen;
	enum store_err	 err;

	*out = NULL;
	*n = 0;
	if (klen == 0 || klen > STORE_KEY_MAX)
		return STORE_INVALID;
	pgq_init(&q);
	pgq_bytes(&q, key, klen);
	pgq_int(&q, (int64_t)st->history_versions);
	if ((pc = pg_take(st)) == NULL)
		return STORE_UNAVAILABLE;
	if ((res = pg_run(st, pc, Q_HISTORY, &q, &err)) == NULL)
		goto out;
	/* the current version is always kept: none, the key never was */
	if ((rows = (size_t)PQntuples(res)) == 0) {
		err = STORE_NOTFOUND;
		goto out;
	}
	if ((vs = calloc(rows, sizeof(*vs))) == NULL) {
		err = STORE_NOMEM;
		goto out;
	}
	for (i = 0; i < rows; i++) {
		x = &vs[i];
		x->version = (uint64_t)pg_int(res, (int)i, 0);
		x->updated_us = pg_int(res, (int)i, 1);
		x->deleted = pg_bool(res, (int)i, 2);
		x->size = x->deleted ? 0 : (size_t)pg_int(res, (int)i, 3);
		plen = (size_t)PQgetlength(res, (int)i, 4);
		memcpy(x->principal, PQgetvalue(res, (int)i, 4),
		    plen > STORE_PRINCIPAL_MAX ? STORE_PRINCIPAL_MAX : plen);
	}
	*out = vs;
	*n = rows;
	err = STORE_OK;
out:
	PQclear(res);
	pg_give(st, pc);
	return err;
}

/*
 * Version `version` of key on pc: *res holds it (value in column 1, its
 * state from column 2), or STORE_NOTFOUND (never was), STORE_GONE (no
 * longer kept), an error.
 */
static enum store_err
version_row(store *st, struct pgconn *pc, const char *key, size_t klen,
    uint64_t version, PGresult **res)
{
	struct pgq	 q;
	uint64_t	 cur;
	enum store_err	 err;

	*res = NULL;
	if (klen == 0 || klen > STORE_KEY_MAX)
		return STORE_INVALID;
	if (version == 0 || version > INT64_MAX)
		return STORE_NOTFOUND;
	pgq_init(&q);
	pgq_bytes(&q, key, klen);
	pgq_int(&q, (int64_t)version);
	if ((*res = pg_run(st, pc, Q_VERSION, &q, &err)) == NULL)
		return err;
	if (PQntuples(*res) == 0)
		return STORE_NOTFOUND;
	cur = (uint64_t)pg_int(*res, 0, 0);
	if (version > cur)
		return STORE_NOTFOUND;
	/* older than the versions kept: gone, even while not yet pruned */
	if (cur - version >= st->history_versions || PQgetisnull(*res, 0, 2))
		return STORE_GONE;
	return STORE_OK;
}

enum store_err
pgr_io_get_version(store_io *io, const char *key, size_t klen,
    uint64_t version, struct store_meta *meta, const char **value,
    size_t *vlen)
{
	PGresult	*res;
	enum store_err	 err;

	memset(meta, 0, sizeof(*meta));
	*value = NULL;
	*vlen = 0;
	if (io->tx->failed)
		return io->pg_err != STORE_OK ? io->pg_err : STORE_IO;
	err = version_row(io->st, io->tx->pc, key, klen, version, &res);
	if (res == NULL && err != STORE_INVALID && err != STORE_NOTFOUND)
		return io_failed(io, err);
	if (err != STORE_OK) {
		PQclear(res);
		return err;
	}
	pg_meta(res, 0, 2, meta);
	if (meta->deleted) {
		PQclear(res);
		return STORE_DELETED;
	}
	*value = PQgetvalue(res, 0, 1);
	*vlen = (size_t)PQgetlength(res, 0, 1);
	return io_keep(io, res);
}

enum store_err
pgr_get_version(store *st, const char *key, size_t klen, uint64_t version,
    struct store_meta *meta, char **value, size_t *vlen)
{
	struct pgconn	*pc;
	PGresult	*res = NULL;
	enum store_err	 err;

	memset(meta, 0, sizeof(*meta));
	*value = NULL;
	*vlen = 0;
	if ((pc = pg_take(st)) == NULL)
		return STORE_UNAVAILABLE;
	if ((err = version_row(st, pc, key, klen, version, &res)) != STORE_OK)
		goto out;
	pg_meta(res, 0, 2, meta);
	if (meta->deleted)
		err = STORE_DELETED;
	else if ((*value = field_dup(res, 0, 1, vlen)) == NULL)
		err = STORE_NOMEM;
out:
	PQclear(res);
	pg_give(st, pc);
	return err;
}
