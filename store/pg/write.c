/*
 * write.c - writes to PostgreSQL: an op applied in a transaction, a batch
 * of them with one commit (store_apply), the group commit queue's calls
 * (store/commit.c drives them: store_write, store_write_all), and the
 * records of idempotent requests; see pg_int.h.
 *
 * A batch runs in one transaction that first locks the meta row "seq";
 * seqs are counted here and the row written once, just before COMMIT. It
 * then reads and locks the rows its plain ops name in one statement and
 * keeps them (pg_int.h, struct pgcache): each op reads its key's state
 * from there, and a plain op's write changes the kept row and is queued;
 * the queue goes out with COMMIT in one pipeline, or before a statement
 * that must see it (a savepoint, a callback's transaction). A write that
 * fails there fails the transaction as a statement failing at once does,
 * its op taking the error. A transaction's ops go into a savepoint, so
 * that its failure undoes only itself (and the rows kept are read anew). When the database refuses the transaction for a concurrent one
 * (40001, 40P01) the whole batch runs again, a bounded number of times;
 * when a statement fails otherwise, the batch runs again with every unit
 * in a savepoint, so that the failure stays with its own unit.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "store/store.h"
#include "store/store_int.h"
#include "pg_int.h"

static enum store_err	apply_one(store *, struct pgtx *, struct store_op *);
static void		undo_to(store *, struct pgtx *, const char *sp,
			    uint64_t seq);

/* Runs s in tx: a failure makes tx unusable. */
static PGresult *
tx_run(store *st, struct pgtx *tx, enum pg_stmt s, const struct pgq *q,
    enum store_err *err)
{
	PGresult	*res;

	if (tx->failed) {
		*err = STORE_IO;
		return NULL;
	}
	if ((res = pg_run(st, tx->pc, s, q, err)) == NULL)
		tx->failed = 1;
	return res;
}

static enum store_err
tx_sql(store *st, struct pgtx *tx, const char *sql)
{
	enum store_err	 err;

	if (tx->failed)
		return STORE_IO;
	if ((err = pg_sql(st, tx->pc, sql)) != STORE_OK)
		tx->failed = 1;
	return err;
}

/* Whether tx failed for good: the connection is gone. */
static int
tx_lost(const struct pgtx *tx)
{
	return PQstatus(tx->pc->c) != CONNECTION_OK;
}

/* ---- the rows a transaction locked, and its queue of writes -------------- */

static struct pgval *
val_new(const char *p, size_t n)
{
	struct pgval	*v;

	if ((v = malloc(sizeof(*v) + n + 1)) == NULL)
		return NULL;
	v->refs = 1;
	v->len = n;
	memcpy(v->data, p, n);
	v->data[n] = '\0';
	return v;
}

static struct pgval *
val_ref(struct pgval *v)
{
	if (v != NULL)
		v->refs++;
	return v;
}

static void
val_drop(struct pgval *v)
{
	if (v != NULL && --v->refs == 0)
		free(v);
}

static size_t
key_hash(const char *key, size_t klen)
{
	uint32_t	 h = 2166136261u;
	size_t		 i;

	for (i = 0; i < klen; i++)
		h = (h ^ (unsigned char)key[i]) * 16777619u;
	return h;
}

/* The slot of key's row in c, or the free one where it would go. */
static size_t
row_slot(const struct pgcache *c, const char *key, size_t klen)
{
	const struct pgrow *r;
	size_t		 i, tries;

	i = key_hash(key, klen) & (PG_ROWS_SLOTS - 1);
	/* at most half the slots hold rows: a free one comes */
	for (tries = 0; tries < PG_ROWS_SLOTS; tries++) {
		if (c->slot[i] == 0)
			break;
		r = c->rows[c->slot[i] - 1];
		if (r->klen == klen && memcmp(r->key, key, klen) == 0)
			break;
		i = (i + 1) & (PG_ROWS_SLOTS - 1);
	}
	return i;
}

static struct pgrow *
row_find(const struct pgcache *c, const char *key, size_t klen)
{
	size_t	 i = row_slot(c, key, klen);

	return c->slot[i] != 0 ? c->rows[c->slot[i] - 1] : NULL;
}

/*
 * A new row of c for key (not there, c not full): found when v (taken)
 * is not NULL or m is given; NULL when out of memory (v dropped).
 */
static struct pgrow *
row_add(struct pgcache *c, const char *key, size_t klen,
    const struct store_meta *m, struct pgval *v)
{
	struct pgrow	*r;

	if ((r = calloc(1, sizeof(*r))) == NULL) {
		val_drop(v);
		return NULL;
	}
	memcpy(r->key, key, klen);
	r->klen = klen;
	if (m != NULL) {
		r->found = 1;
		r->meta = *m;
	}
	r->value = v;
	c->slot[row_slot(c, key, klen)] = (uint16_t)(c->nrows + 1);
	c->rows[c->nrows++] = r;
	return r;
}

/*
 * Row i of res (value in column col, its state after it) as a row of c;
 * NULL when out of memory.
 */
static struct pgrow *
row_add_res(struct pgcache *c, const char *key, size_t klen,
    const PGresult *res, int i, int col)
{
	struct store_meta m;
	struct pgval	*v = NULL;

	pg_meta(res, i, col + 1, &m);
	if (!PQgetisnull(res, i, col) && (v = val_new(PQgetvalue(res, i, col),
	    (size_t)PQgetlength(res, i, col))) == NULL)
		return NULL;
	return row_add(c, key, klen, &m, v);
}

/* Drops c's rows and its queued writes. */
static void
cache_clear(struct pgcache *c)
{
	size_t	 i;

	if (c == NULL)
		return;
	for (i = 0; i < c->nw; i++)
		val_drop(c->w[i].value);
	for (i = 0; i < c->nrows; i++) {
		val_drop(c->rows[i]->value);
		free(c->rows[i]);
	}
	c->nw = c->nrows = 0;
	memset(c->slot, 0, sizeof(c->slot));
}

static void
cache_free(struct pgtx *tx)
{
	if (tx->cache == NULL)
		return;
	cache_clear(tx->cache);
	free(tx->cache->w);
	free(tx->cache);
	tx->cache = NULL;
}

/* tx's cache, made when it has none; NULL: no memory. */
static struct pgcache *
tx_cache(struct pgtx *tx)
{
	if (tx->cache == NULL)
		tx->cache = calloc(1, sizeof(*tx->cache));
	return tx->cache;
}

/* Q_WRITE's parameters for w. */
static void
write_params(struct pgq *q, const struct pgwrite *w)
{
	pgq_init(q);
	pgq_bytes(q, w->row->key, w->row->klen);
	if (w->value != NULL)
		pgq_bytes(q, w->value->data, w->value->len);
	else
		pgq_null(q);
	pgq_int(q, (int64_t)w->meta.version);
	pgq_int(q, w->meta.created_us);
	pgq_int(q, w->meta.updated_us);
	pgq_int(q, w->meta.lastmod_s);
	pgq_bool(q, w->meta.deleted);
	pgq_bytes(q, w->meta.principal, strlen(w->meta.principal));
	pgq_int(q, (int64_t)w->seq);
	pgq_int(q, (int64_t)w->prune);
}

/* What the pipeline of tx_pipe sends, in order. */
enum pipe_step { STEP_WRITE, STEP_SEQ, STEP_NOTIFY, STEP_COMMIT };

/* Sends one statement of tx_pipe's pipeline; 1, or 0 when it could not. */
static int
pipe_send(struct pgtx *tx, enum pipe_step step, size_t i)
{
	struct pgq	 q;

	switch (step) {
	case STEP_WRITE:
		write_params(&q, &tx->cache->w[i]);
		return pg_send(tx->pc, Q_WRITE, &q);
	case STEP_SEQ:
		pgq_init(&q);
		pgq_int(&q, (int64_t)tx->seq);
		return pg_send(tx->pc, Q_SEQ_SET, &q);
	case STEP_NOTIFY:
		return PQsendQueryParams(tx->pc->c, "NOTIFY verstore", 0, NULL,
		    NULL, NULL, NULL, 1);
	default:
		return PQsendQueryParams(tx->pc->c, "COMMIT", 0, NULL, NULL,
		    NULL, NULL, 1);
	}
}

/*
 * Reads the results of n statements and the sync that closes the
 * pipeline: STORE_OK, or the first failure's error with *at its index.
 */
static enum store_err
pipe_results(store *st, struct pgconn *pc, size_t n, size_t *at)
{
	PGresult	*res;
	ExecStatusType	 rs;
	enum store_err	 err = STORE_OK;
	size_t		 i;

	*at = n;
	for (i = 0; i <= n; i++) {
		if ((res = PQgetResult(pc->c)) == NULL)
			break;		/* the connection is gone */
		rs = PQresultStatus(res);
		if (err == STORE_OK && rs != PGRES_TUPLES_OK &&
		    rs != PGRES_COMMAND_OK && rs != PGRES_PIPELINE_SYNC) {
			err = rs == PGRES_PIPELINE_ABORTED ? STORE_IO :
			    pg_fail(st, pc, res, "pipeline");
			*at = i;
		}
		PQclear(res);
		if (rs == PGRES_PIPELINE_SYNC)
			return i == n ? err : STORE_IO;
		/* each statement's results end with a NULL */
		if ((res = PQgetResult(pc->c)) != NULL) {
			PQclear(res);
			break;
		}
	}
	if (err == STORE_OK) {
		err = pg_fail(st, pc, NULL, "pipeline");
		*at = i;
	}
	return err;
}

/*
 * Sends the queued writes of tx from w[i], as many as go in one statement
 * (wmany.c); 1 with *k how many, or 0 when it could not.
 */
static int
pipe_send_writes(struct pgtx *tx, size_t i, size_t *k)
{
	struct pgwrite	*w = &tx->cache->w[i];

	*k = pgwm_span(w, tx->cache->nw - i);
	return *k > 1 ? pgwm_send(tx->pc, w, *k) : pipe_send(tx, STEP_WRITE, i);
}

/*
 * Sends tx's queued writes (those of different keys in one statement),
 * and with commit the seq, NOTIFY and COMMIT (as tx_commit), in one round
 * trip. STORE_OK; else tx failed, the error is the first statement's that
 * failed, and *in_writes says whether it was one of the queued writes
 * (whose first op then gets the error and its state before).
 */
static enum store_err
tx_pipe(store *st, struct pgtx *tx, int commit, int *in_writes)
{
	enum pipe_step	 steps[4];
	size_t		 first[PG_WRITES_MAX];	/* a statement's first write */
	size_t		 nw = tx->cache != NULL ? tx->cache->nw : 0;
	size_t		 ns = 0, n = 0, nws = 0, i, k, at;
	struct pgwrite	*w;
	enum store_err	 err;
	int		 all = 0;

	*in_writes = 0;
	if (tx->failed)
		return STORE_IO;
	if (commit && tx->seq != tx->seq0) {
		steps[ns++] = STEP_SEQ;
		if (st->notify)
			steps[ns++] = STEP_NOTIFY;
	}
	if (commit)
		steps[ns++] = STEP_COMMIT;
	if (nw + ns == 0)
		return STORE_OK;
	tx->pc->retry = 0;
	if (PQenterPipelineMode(tx->pc->c) != 1) {
		err = pg_fail(st, tx->pc, NULL, "pipeline");
		at = 0;		/* nothing sent: as if the first failed */
		goto fail;
	}
	for (i = 0; i < nw && pipe_send_writes(tx, i, &k); i += k)
		first[nws++] = i;
	n = nws;
	if (i == nw) {
		while (n - nws < ns && pipe_send(tx, steps[n - nws], 0))
			n++;
		all = n - nws == ns;
	}
	if (PQpipelineSync(tx->pc->c) != 1)
		n = 0;		/* the connection is gone: nothing comes */
	err = pipe_results(st, tx->pc, n, &at);
	if (PQexitPipelineMode(tx->pc->c) != 1 && err == STORE_OK)
		err = pg_fail(st, tx->pc, NULL, "pipeline");
	if (err == STORE_OK && !all)
		err = pg_fail(st, tx->pc, NULL, "pipeline");
	if (err == STORE_OK) {
		for (i = 0; i < nw; i++)
			val_drop(tx->cache->w[i].value);
		if (nw > 0)
			tx->cache->nw = 0;
		return STORE_OK;
	}
fail:
	tx->failed = 1;
	if (at < nws || (nws == 0 && at == 0 && nw > 0)) {
		*in_writes = 1;
		w = &tx->cache->w[at < nws ? first[at] : 0];
		if (w->op != NULL && !tx_lost(tx)) {
			w->op->err = err;
			w->op->meta = w->before;
		}
	}
	return err;
}

/* Sends tx's queued writes: what comes next must see them. */
static enum store_err
tx_flush(store *st, struct pgtx *tx)
{
	int	 in_writes;

	return tx_pipe(st, tx, 0, &in_writes);
}

/* Sends w (not queued) in tx. */
static enum store_err
write_now(store *st, struct pgtx *tx, const struct pgwrite *w)
{
	PGresult	*res;
	struct pgq	 q;
	enum store_err	 err;

	write_params(&q, w);
	if ((res = tx_run(st, tx, Q_WRITE, &q, &err)) != NULL)
		PQclear(res);
	return err;
}

/* Queues w in tx, the queue sent first when full; w->value is taken. */
static enum store_err
write_queue(store *st, struct pgtx *tx, struct pgwrite *w)
{
	struct pgcache	*c = tx->cache;
	struct pgwrite	*nw;
	size_t		 cap;
	enum store_err	 err;

	if (c->nw == PG_WRITES_MAX && (err = tx_flush(st, tx)) != STORE_OK)
		return err;
	if (c->nw == c->wcap) {
		cap = c->wcap ? c->wcap * 2 : 16;
		if ((nw = realloc(c->w, cap * sizeof(*nw))) == NULL)
			return STORE_NOMEM;
		c->w = nw;
		c->wcap = cap;
	}
	c->w[c->nw++] = *w;
	return STORE_OK;
}

/*
 * key's row in tx, locked: STORE_OK with *row its state, STORE_NOTFOUND,
 * an error. The row comes from tx's cache, else from the database (and
 * is kept); a full cache is sent (its writes) and emptied first, so a
 * row given before may be gone.
 */
static enum store_err
lookup(store *st, struct pgtx *tx, const char *key, size_t klen,
    struct pgrow **row)
{
	struct pgcache	*c;
	PGresult	*res;
	struct pgq	 q;
	enum store_err	 err;

	*row = NULL;
	if (tx->failed)
		return STORE_IO;
	if ((c = tx_cache(tx)) == NULL)
		return STORE_NOMEM;
	if ((*row = row_find(c, key, klen)) != NULL)
		return (*row)->found ? STORE_OK : STORE_NOTFOUND;
	if (c->nrows == PG_ROWS_MAX) {
		if ((err = tx_flush(st, tx)) != STORE_OK)
			return err;
		cache_clear(c);
	}
	pgq_init(&q);
	pgq_bytes(&q, key, klen);
	if ((res = tx_run(st, tx, Q_GET_LOCK, &q, &err)) == NULL)
		return err;
	if (PQntuples(res) == 1)
		*row = row_add_res(c, key, klen, res, 0, 0);
	else
		*row = row_add(c, key, klen, NULL, NULL);
	PQclear(res);
	if (*row == NULL)
		return STORE_NOMEM;
	return (*row)->found ? STORE_OK : STORE_NOTFOUND;
}

/* Whether op's key is read and locked ahead (see prefetch). */
static int
op_prefetched(const struct store_op *op)
{
	switch (op->kind) {
	case STORE_OP_PUT:
	case STORE_OP_DELETE:
	case STORE_OP_UPDATE:
	case STORE_OP_CHECK:
	case STORE_OP_GET:
		return op_valid(op);
	default:
		return 0;
	}
}

/*
 * Appends key to the binary bytea[] at *p (its header made by the
 * caller) when tx's cache does not hold it yet, as an absent row.
 */
static enum store_err
prefetch_key(struct pgcache *c, unsigned char **p, const char *key,
    size_t klen, uint32_t *nkeys)
{
	if (row_find(c, key, klen) != NULL)
		return STORE_OK;
	if (row_add(c, key, klen, NULL, NULL) == NULL)
		return STORE_NOMEM;
	pg_put_u32(*p, (uint32_t)klen);
	memcpy(*p + 4, key, klen);
	*p += 4 + klen;
	(*nkeys)++;
	return STORE_OK;
}

/* Fills c's absent rows from res (key, value, state), a statement's. */
static enum store_err
prefetch_fill(struct pgcache *c, const PGresult *res)
{
	struct pgrow	*r;
	struct pgval	*v;
	int		 i;

	for (i = 0; i < PQntuples(res); i++) {
		if ((r = row_find(c, PQgetvalue(res, i, 0),
		    (size_t)PQgetlength(res, i, 0))) == NULL || r->found)
			continue;
		v = NULL;
		if (!PQgetisnull(res, i, 1) && (v = val_new(PQgetvalue(res,
		    i, 1), (size_t)PQgetlength(res, i, 1))) == NULL)
			return STORE_NOMEM;
		pg_meta(res, i, 2, &r->meta);
		r->value = v;
		r->found = 1;
	}
	return STORE_OK;
}

/*
 * Reads and locks, in one statement, the rows of the keys that the plain
 * ops of units name (a missing one is kept as absent), into tx's empty
 * cache, in key order. Out of memory, the cache stays empty: lookups ask
 * the database. A failed statement fails tx (and every op with it).
 */
static enum store_err
prefetch(store *st, struct pgtx *tx, struct commit_unit *units, size_t nu)
{
	struct pgcache	*c;
	unsigned char	*buf = NULL, *p;
	PGresult	*res = NULL;
	struct store_op	*op;
	struct pgq	 q;
	size_t		 i, j, size = PG_ARRAY_HEAD;
	uint32_t	 nkeys = 0;
	enum store_err	 err = STORE_OK;

	if ((c = tx_cache(tx)) == NULL || c->nrows > 0)
		return STORE_OK;
	for (i = 0; i < nu; i++)
		for (j = 0; units[i].ops[0].idem == NULL && j < units[i].n; j++)
			if (op_prefetched(&units[i].ops[j]))
				size += 4 + units[i].ops[j].klen;
	if (size == PG_ARRAY_HEAD || (buf = malloc(size)) == NULL)
		goto out;
	p = buf + PG_ARRAY_HEAD;
	for (i = 0; i < nu && nkeys < STORE_BATCH_MAX; i++)
		for (j = 0; units[i].ops[0].idem == NULL && j < units[i].n &&
		    nkeys < STORE_BATCH_MAX; j++) {
			op = &units[i].ops[j];
			if (op_prefetched(op) && (err = prefetch_key(c, &p,
			    op->key, op->klen, &nkeys)) != STORE_OK)
				goto out;
		}
	pg_array_head(buf, nkeys);
	pgq_init(&q);
	pgq_bytes(&q, buf, (size_t)(p - buf));
	if ((res = tx_run(st, tx, Q_PREFETCH, &q, &err)) == NULL)
		goto out;
	err = prefetch_fill(c, res);
out:
	if (err != STORE_OK)
		cache_clear(c);
	if (err == STORE_NOMEM)
		err = STORE_OK;
	PQclear(res);
	free(buf);
	return err;
}

/* What naming asks of the database (see name_backend). */
struct pick {
	store		*st;
	struct pgtx	*tx;
	struct pgrow	*cur;		/* the name chosen's tombstone */
};

static enum store_err
pick_id(void *arg, uint64_t *id)
{
	struct pick	*p = arg;
	PGresult	*res;
	struct pgq	 q;
	enum store_err	 err;

	pgq_init(&q);
	pgq_int(&q, (int64_t)name_id(p->st->clock(p->st->clock_arg), 0));
	if ((res = tx_run(p->st, p->tx, Q_NEXT_ID, &q, &err)) == NULL)
		return err;
	err = PQntuples(res) == 1 ? STORE_OK : STORE_CORRUPT;
	if (err == STORE_OK)
		*id = (uint64_t)pg_int(res, 0, 0);
	PQclear(res);
	return err;
}

static enum store_err
pick_look(void *arg, const char *key, size_t klen)
{
	struct pick	*p = arg;
	enum store_err	 err;

	err = lookup(p->st, p->tx, key, klen, &p->cur);
	if (err == STORE_OK && p->cur->meta.deleted)
		err = STORE_DELETED;
	return err;
}

/* Copies row's value into op->cur_value. */
static enum store_err
copy_value(struct store_op *op, const struct pgrow *row)
{
	size_t	 n = row->value != NULL ? row->value->len : 0;

	if ((op->cur_value = malloc(n + 1)) == NULL)
		return STORE_NOMEM;
	if (n > 0)
		memcpy(op->cur_value, row->value->data, n);
	op->cur_value[n] = '\0';
	op->cur_vlen = n;
	return STORE_OK;
}

/*
 * Writes next, the new state of row's key (value NULL: a tombstone), in
 * tx: queued when tx defers its writes (op, whose write it is, then gets
 * the error should it fail when sent), else sent now. The row takes the
 * new state either way.
 */
static enum store_err
write_version(store *st, struct pgtx *tx, struct pgrow *row,
    const char *value, size_t vlen, const struct store_meta *next,
    struct store_op *op)
{
	struct pgwrite	 w;
	enum store_err	 err;

	if (tx->failed)
		return STORE_IO;
	memset(&w, 0, sizeof(w));
	if (value != NULL && (w.value = val_new(value, vlen)) == NULL)
		return STORE_NOMEM;
	w.row = row;
	w.meta = *next;
	w.seq = tx->seq + 1;
	w.prune = next->version > st->history_versions ?
	    next->version - st->history_versions : 0;
	if (tx->defer) {
		w.op = op;
		w.before = op->meta;
		(void)val_ref(w.value);		/* the queue's and the row's */
		if ((err = write_queue(st, tx, &w)) != STORE_OK) {
			val_drop(w.value);
			goto out;
		}
	} else if ((err = write_now(st, tx, &w)) != STORE_OK)
		goto out;
	val_drop(row->value);
	row->value = w.value;
	w.value = NULL;
	row->meta = *next;
	row->found = 1;
	tx->seq++;
out:
	val_drop(w.value);
	return err;
}

/* ---- quotas: their usage rows, in the write transaction ---------------- */

struct quota_tx {
	store		*st;
	struct pgtx	*tx;
};

/* Runs s on quota i's row in u's tx, delta its $2 when not NULL. */
static PGresult *
quota_run(struct quota_tx *u, size_t i, enum pg_stmt s,
    const int64_t *delta, enum store_err *err)
{
	const struct store_quota *q = &u->st->quotas.q[i];
	struct pgq	 pq;

	pgq_init(&pq);
	pgq_bytes(&pq, q->prefix, q->plen);
	if (delta != NULL)
		pgq_int(&pq, *delta);
	return tx_run(u->st, u->tx, s, &pq, err);
}

static enum store_err
quota_get(void *arg, size_t i, uint64_t *used, int *found)
{
	PGresult	*res;
	enum store_err	 err = STORE_OK;

	if ((res = quota_run(arg, i, Q_QUOTA_GET, NULL, &err)) == NULL)
		return err;
	*found = PQntuples(res) == 1;
	*used = *found ? (uint64_t)pg_int(res, 0, 0) : 0;
	PQclear(res);
	return STORE_OK;
}

static enum store_err
quota_add(void *arg, size_t i, int64_t delta)
{
	PGresult	*res;
	enum store_err	 err = STORE_OK;

	if ((res = quota_run(arg, i, Q_QUOTA_ADD, &delta, &err)) == NULL)
		return err;
	PQclear(res);
	return STORE_OK;
}

/* Charges a write of key to its quotas (quota_charge), in tx. */
static enum store_err
quota_tx_charge(store *st, struct pgtx *tx, const char *key, size_t klen,
    int64_t delta, struct store_op *op)
{
	struct quota_tx		 u = { st, tx };
	struct quota_backend	 be = { quota_get, quota_add, &u };

	return quota_charge(&st->quotas, &be, key, klen, delta, op);
}

enum store_err
pgw_io_put(store_io *io, const char *key, size_t klen, const char *value,
    size_t vlen, struct store_meta *meta)
{
	struct store_op	 op;
	enum store_err	 err;

	if (!io->writable)
		return STORE_INVALID;
	pgio_clear(io);
	memset(&op, 0, sizeof(op));
	op.kind = STORE_OP_PUT;
	op.key = key;
	op.klen = klen;
	op.value = value;
	op.vlen = vlen;
	op.principal = io->principal;
	err = op_valid(&op) ? apply_one(io->st, io->tx, &op) : STORE_INVALID;
	if (io->tx->failed && io->pg_err == STORE_OK)
		io->pg_err = err;
	if (err == STORE_QUOTA && io->pg_err == STORE_OK) {
		io->pg_err = err;	/* the whole multi is refused */
		io->quota = op.quota;
		io->quota_used = op.quota_used;
	}
	if (meta != NULL)
		*meta = op.meta;
	free(op.cur_value);
	return err;
}

/* Runs op's callback with the transaction tx; as LMDB's apply_one. */
static enum store_err
apply_multi(store *st, struct pgtx *tx, struct store_op *op,
    struct pgrow **cur, const char *key, size_t klen)
{
	struct store_io	 io;
	enum store_err	 err = STORE_OK;
	int		 defer = tx->defer;

	/* its statements see what tx wrote; its own writes go at once */
	*cur = NULL;
	if ((err = tx_flush(st, tx)) != STORE_OK)
		return err;
	tx->defer = 0;
	memset(&io, 0, sizeof(io));
	io.head.be = &store_backend_pg;
	io.st = st;
	io.tx = tx;
	io.writable = 1;
	io.principal = op->principal;
	op->update_err = op->multi(op->multi_arg, &io);
	tx->defer = defer;
	pgio_clear(&io);
	free(io.res);
	if (io.pg_err == STORE_QUOTA) {
		op->quota = io.quota;
		op->quota_used = io.quota_used;
	}
	if (io.pg_err != STORE_OK || tx->failed)
		return io.pg_err != STORE_OK ? io.pg_err : STORE_IO;
	if (op->update_err != 0) {
		/* its state may have moved on: answer with the latest */
		if ((err = lookup(st, tx, key, klen, cur)) == STORE_OK)
			op->meta = (*cur)->meta;
		else if (err != STORE_NOTFOUND)
			return err;
		err = STORE_UPDATE_FAILED;
	}
	return err;
}

/* Applies one op in tx; a failed statement leaves tx->failed set. */
static enum store_err
apply_one(store *st, struct pgtx *tx, struct store_op *op)
{
	struct store_meta *m = &op->meta, next;
	struct pick	 p = { st, tx, NULL };
	struct pgrow	*cur = NULL;
	const char	*key = op->key, *value;
	size_t		 klen = op->klen, vlen;
	uint64_t	 seq;
	char		*upd = NULL;
	enum store_err	 err;

	if (op->kind == STORE_OP_CREATE) {
		struct name_backend	 be = { pick_id, pick_look, &p };

		err = name_pick(op, &be);
		cur = p.cur;
		if (err == STORE_DELETED)
			err = STORE_OK;		/* cur is the tombstone */
		else if (err != STORE_NOTFOUND)
			goto out;
		key = op->new_key;
		klen = op->new_klen;
	} else
		err = lookup(st, tx, key, klen, &cur);
	if (err != STORE_OK && err != STORE_NOTFOUND)
		goto out;
	if (err == STORE_OK)
		*m = cur->meta;
	if (op->kind == STORE_OP_GET) {
		/* a missing key reads as version 0, no value */
		err = err == STORE_OK && !m->deleted ? copy_value(op, cur) :
		    STORE_OK;
		goto out;
	}
	if (op->kind == STORE_OP_CHECK) {
		if ((err = store_cond_check(op->cond, m, 0)) != STORE_OK)
			goto fail;
		goto out;
	}
	if (op->holder != NULL && (err = pgp_lock_check(st, tx, key, klen,
	    op->principal, st->clock(st->clock_arg), op->holder)) !=
	    STORE_OK)
		goto out;
	if (op->kind == STORE_OP_MULTI) {
		if ((err = store_cond_check(op->cond, m, 0)) != STORE_OK)
			goto fail;
		if (st->quotas.n == 0) {
			err = apply_multi(st, tx, op, &cur, key, klen);
			goto out;
		}
		/* a put its quota refuses undoes those made before it */
		seq = tx->seq;
		if ((err = tx_flush(st, tx)) != STORE_OK ||
		    (err = tx_sql(st, tx, "SAVEPOINT m")) != STORE_OK)
			goto out;
		if ((err = apply_multi(st, tx, op, &cur, key, klen)) ==
		    STORE_QUOTA)
			undo_to(st, tx, "m", seq);
		else if (!tx->failed)
			(void)tx_sql(st, tx, "RELEASE SAVEPOINT m");
		goto out;
	}
	if ((op->kind == STORE_OP_DELETE || op->kind == STORE_OP_UPDATE) &&
	    err == STORE_OK && m->deleted)
		err = STORE_DELETED;
	if (err != STORE_OK &&
	    (op->kind == STORE_OP_DELETE || op->kind == STORE_OP_UPDATE))
		goto out;	/* delete and update need a live key */
	if ((err = store_cond_check(op->cond, m, 0)) != STORE_OK)
		goto fail;

	op_stamp(op, m, st->clock(st->clock_arg), &next);
	value = op->value;
	vlen = op->vlen;
	if (next.deleted) {
		value = NULL;
		vlen = 0;
	} else if (op->kind == STORE_OP_UPDATE) {
		if ((op->update_err = op->update(op->update_arg,
		    cur->value != NULL ? cur->value->data : "",
		    cur->value != NULL ? cur->value->len : 0,
		    next.updated_us, &upd, &vlen)) != 0) {
			err = STORE_UPDATE_FAILED;
			goto fail;
		}
		value = upd;
	} else if (value == NULL)
		value = "";
	if (st->quotas.n > 0 && (err = quota_tx_charge(st, tx, key, klen,
	    quota_bytes(klen, !next.deleted, vlen) -
	    quota_bytes(klen, cur != NULL && cur->found && !cur->meta.deleted,
	    cur != NULL && cur->value != NULL ? cur->value->len : 0),
	    op)) != STORE_OK)
		goto out;	/* nothing written of op */
	if ((err = write_version(st, tx, cur, value, vlen, &next, op)) !=
	    STORE_OK)
		goto out;
	*m = next;
	goto out;
fail:
	if (op_shows_current(err, m) && copy_value(op, cur) != STORE_OK)
		err = STORE_NOMEM;
out:
	free(upd);
	return err;
}

/* ---- idempotent requests ------------------------------------------------- */

/* Looks the request up: STORE_OK with id's outcome set, or an error. */
static enum store_err
idem_lookup(store *st, struct pgtx *tx, struct store_idem *id, int64_t now)
{
	char		 name[STORE_IDEM_NAME_MAX];
	PGresult	*res;
	struct pgq	 q;
	size_t		 n;
	enum store_err	 err = STORE_OK;

	id->outcome = STORE_IDEM_NEW;
	if ((n = store_idem_name(id, name, sizeof(name))) == 0)
		return STORE_INVALID;
	pgq_init(&q);
	pgq_bytes(&q, name, n);
	if ((res = tx_run(st, tx, Q_IDEM_GET, &q, &err)) == NULL)
		return err;
	if (PQntuples(res) == 0 || pg_int(res, 0, 0) <= now)
		goto out;	/* expired: as if never seen */
	if (PQgetlength(res, 0, 1) != (int)sizeof(id->fp) ||
	    memcmp(PQgetvalue(res, 0, 1), id->fp, sizeof(id->fp)) != 0) {
		id->outcome = STORE_IDEM_MISMATCH;
		goto out;
	}
	id->resplen = (size_t)PQgetlength(res, 0, 2);
	if ((id->response = malloc(id->resplen + 1)) == NULL) {
		err = STORE_NOMEM;
		goto out;
	}
	memcpy(id->response, PQgetvalue(res, 0, 2), id->resplen);
	id->response[id->resplen] = '\0';
	id->outcome = STORE_IDEM_REPLAYED;
out:
	PQclear(res);
	return err;
}

/* Stores the answer rendered for the request, dropping a few expired. */
static enum store_err
idem_store(store *st, struct pgtx *tx, struct store_idem *id, int64_t now)
{
	char		 name[STORE_IDEM_NAME_MAX];
	char		*out = NULL;
	size_t		 outlen = 0, n;
	int		 status = 500;
	PGresult	*res;
	struct pgq	 q;
	enum store_err	 err = STORE_OK;

	if (id->render(id->render_arg, &out, &outlen, &status) != 0) {
		err = STORE_NOMEM;
		goto out;
	}
	if (status >= 500)
		goto out;
	n = store_idem_name(id, name, sizeof(name));
	pgq_init(&q);
	pgq_int(&q, now);
	if ((res = tx_run(st, tx, Q_IDEM_PURGE, &q, &err)) == NULL)
		goto out;
	PQclear(res);
	pgq_init(&q);
	pgq_bytes(&q, name, n);
	pgq_int(&q, now + id->ttl_us);
	pgq_bytes(&q, id->fp, sizeof(id->fp));
	pgq_bytes(&q, out, outlen);
	if ((res = tx_run(st, tx, Q_IDEM_PUT, &q, &err)) == NULL)
		goto out;
	PQclear(res);
out:
	free(out);
	return err;
}

/* ---- units and batches ---------------------------------------------------- */

/*
 * Undoes what tx did since savepoint sp, when the database lets it (a
 * lost connection or a refused transaction does not: tx stays failed).
 */
static void
undo_to(store *st, struct pgtx *tx, const char *sp, uint64_t seq)
{
	char	 sql[64];

	if (tx->failed && (tx->pc->retry || tx_lost(tx)))
		return;
	tx->failed = 0;
	snprintf(sql, sizeof(sql), "ROLLBACK TO SAVEPOINT %s", sp);
	if (tx_sql(st, tx, sql) == STORE_OK)
		tx->seq = seq;
	/* the rows it wrote are back as they were: they are read anew */
	cache_clear(tx->cache);
}

/* Applies a unit's ops in a savepoint of tx: all of them, or none. */
static void
apply_child(store *st, struct pgtx *tx, struct commit_unit *u)
{
	uint64_t	 seq = tx->seq;
	size_t		 i;
	enum store_err	 err;

	if ((err = tx_sql(st, tx, "SAVEPOINT u")) != STORE_OK) {
		commit_unit_fail(u, err);
		return;
	}
	for (i = 0; i < u->n; i++) {
		if (!op_valid(&u->ops[i])) {
			u->ops[i].err = STORE_INVALID;
			break;
		}
		if ((u->ops[i].err = apply_one(st, tx, &u->ops[i])) !=
		    STORE_OK)
			break;
	}
	if (i < u->n) {
		undo_to(st, tx, "u", seq);
		if (tx->failed)
			commit_unit_fail(u, STORE_IO);
		else
			u->failed = i;
		return;
	}
	if ((err = tx_sql(st, tx, "RELEASE SAVEPOINT u")) != STORE_OK) {
		commit_unit_fail(u, err);
		return;
	}
	u->ok = u->wrote = 1;
}

/*
 * An idempotent unit, in a savepoint of tx: a known request is answered
 * from its record and nothing is applied; a new one is applied (its own
 * ops undone on failure, as always) and its answer stored beside it.
 */
static void
apply_idem(store *st, struct pgtx *tx, struct commit_unit *u)
{
	struct store_idem	*id = u->ops[0].idem;
	struct store_op		*op = &u->ops[0];
	int64_t			 now = st->clock(st->clock_arg);
	uint64_t		 seq = tx->seq;
	size_t			 i;
	enum store_err		 err;

	free(id->response);
	id->response = NULL;
	id->resplen = 0;
	if ((err = tx_sql(st, tx, "SAVEPOINT i")) != STORE_OK)
		goto fail;
	if ((err = idem_lookup(st, tx, id, now)) != STORE_OK)
		goto undo;
	if (id->outcome != STORE_IDEM_NEW) {
		if ((err = tx_sql(st, tx, "RELEASE SAVEPOINT i")) != STORE_OK)
			goto fail;
		for (i = 0; i < u->n; i++)
			u->ops[i].err = STORE_OK;
		return;
	}
	if (u->atomic)
		apply_child(st, tx, u);
	else {
		op->err = op_valid(op) ? apply_one(st, tx, op) :
		    STORE_INVALID;
		u->ok = op->err == STORE_OK;
	}
	if (tx->failed) {
		err = op->err != STORE_OK ? op->err : STORE_IO;
		goto undo;
	}
	if ((err = idem_store(st, tx, id, now)) != STORE_OK)
		goto undo;
	if ((err = tx_sql(st, tx, "RELEASE SAVEPOINT i")) != STORE_OK)
		goto fail;
	u->wrote = 1;
	return;
undo:
	undo_to(st, tx, "i", seq);
fail:
	commit_unit_fail(u, err);
}

/* Begins a write transaction on tx->pc (taken when NULL), seq locked. */
static enum store_err
tx_begin(store *st, struct pgtx *tx)
{
	PGresult	*res = NULL;
	enum store_err	 err = STORE_IO;
	int		 tries;

	tx->failed = 0;
	for (tries = 0; tries < 2; tries++) {
		if (tx->pc == NULL && (tx->pc = pg_take(st)) == NULL)
			return STORE_UNAVAILABLE;
		res = PQexec(tx->pc->c, st->relaxed ?
		    "BEGIN ISOLATION LEVEL READ COMMITTED; "
		    "SET LOCAL synchronous_commit = off; "
		    "SELECT value FROM verstore_meta WHERE name = 'seq' "
		    "FOR UPDATE" :
		    "BEGIN ISOLATION LEVEL READ COMMITTED; "
		    "SELECT value FROM verstore_meta WHERE name = 'seq' "
		    "FOR UPDATE");
		if (res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK &&
		    PQntuples(res) == 1) {
			tx->seq = tx->seq0 = strtoull(PQgetvalue(res, 0, 0),
			    NULL, 10);
			PQclear(res);
			return STORE_OK;
		}
		if (!tx_lost(tx)) {
			/* a standby (25006) is unavailable, as a lost one */
			err = pg_fail(st, tx->pc, res, "begin");
			PQclear(res);
			break;
		}
		PQclear(res);
		/* a connection the server closed while idle: once more */
		pg_give(st, tx->pc);
		tx->pc = NULL;
		err = STORE_UNAVAILABLE;
	}
	return err;
}

enum store_err
pgw_begin(store *st, struct pgtx *tx)
{
	return tx_begin(st, tx);
}

/*
 * Commits tx, its queued writes sent first and its seq written, where
 * the database has NOTIFY sent to the listeners of every host (listen.c)
 * as it commits: one round trip. *in_writes: a queued write failed (see
 * tx_pipe), so COMMIT did not run.
 */
static enum store_err
tx_commit(store *st, struct pgtx *tx, int *in_writes)
{
	return tx_pipe(st, tx, 1, in_writes);
}

/* Applies units in tx; tx->failed says whether it broke off. */
static void
run_units(store *st, struct pgtx *tx, struct commit_unit *units, size_t nu,
    int isolated)
{
	struct store_op	*op;
	size_t		 i;

	for (i = 0; i < nu && !tx->failed; i++) {
		if (units[i].ops[0].idem != NULL || units[i].atomic ||
		    isolated) {
			/* a savepoint: the writes queued go before it */
			if (tx_flush(st, tx) != STORE_OK)
				break;
			if (units[i].ops[0].idem != NULL)
				apply_idem(st, tx, &units[i]);
			else
				apply_child(st, tx, &units[i]);
			continue;
		}
		op = &units[i].ops[0];
		tx->defer = 1;
		op->err = op_valid(op) ? apply_one(st, tx, op) : STORE_INVALID;
		tx->defer = 0;
		units[i].ok = units[i].wrote = op->err == STORE_OK;
	}
}

static void
fail_all(struct commit_unit *units, size_t nu, enum store_err err)
{
	size_t	 i;

	for (i = 0; i < nu; i++)
		commit_unit_fail(&units[i], err);
}

/*
 * Applies units in tx, a write transaction just begun, commits it and
 * gives its connection back: see the head of this file.
 */
static enum store_err
apply_batch(store *st, struct pgtx *tx, struct commit_unit *units,
    size_t nu)
{
	enum store_err	 err = STORE_OK;
	size_t		 i, nok;
	int		 isolated = 0, runs = 1, in_writes;

	for (;;) {
		if (!isolated && (err = prefetch(st, tx, units, nu)) !=
		    STORE_OK)
			for (i = 0; i < nu; i++)
				commit_unit_fail(&units[i], err);
		run_units(st, tx, units, nu, isolated);
		for (i = nok = 0; i < nu; i++)
			nok += units[i].wrote;
		if (!tx->failed && nok == 0) {
			(void)tx_sql(st, tx, "ROLLBACK");	/* nothing */
			break;
		}
		if (!tx->failed) {
			if ((err = tx_commit(st, tx, &in_writes)) == STORE_OK) {
				pg_post(st, tx->seq);
				break;
			}
			if (!in_writes && (!tx->pc->retry || tx_lost(tx))) {
				/* lost in COMMIT: its outcome is unknown */
				for (i = 0; i < nu; i++)
					if (units[i].wrote)
						commit_unit_fail(&units[i],
						    err);
				break;
			}
		}
		err = STORE_IO;
		if (tx_lost(tx)) {
			err = STORE_UNAVAILABLE;
			fail_all(units, nu, err);
			break;
		}
		if (!tx->pc->retry && !isolated && nu == 1) {
			/* a lone op: its own error says it */
			(void)pg_sql(st, tx->pc, "ROLLBACK");
			units[0].ok = units[0].wrote = 0;
			err = STORE_OK;
			break;
		}
		if (!tx->pc->retry && isolated) {
			fail_all(units, nu, STORE_IO);
			break;
		}
		if (tx->pc->retry && runs >= PG_RETRIES) {
			pg_log(st, 1, __func__, "gave up after %d runs refused "
			    "for concurrent transactions", runs);
			err = STORE_UNAVAILABLE;
			fail_all(units, nu, err);
			break;
		}
		isolated = !tx->pc->retry;
		(void)pg_sql(st, tx->pc, "ROLLBACK");
		cache_clear(tx->cache);
		for (i = 0; i < nu; i++)
			commit_unit_reset(&units[i]);
		if (!isolated)
			usleep((useconds_t)(1000 * runs + rand() % 1000));
		runs++;
		if ((err = tx_begin(st, tx)) != STORE_OK) {
			fail_all(units, nu, err);
			break;
		}
	}
	cache_free(tx);
	pg_give(st, tx->pc);
	tx->pc = NULL;
	return err;
}

enum store_err
pgw_apply(store *st, struct store_op *ops, size_t n)
{
	struct commit_unit	 one[1], *units;
	struct pgtx		 tx;
	enum store_err		 err;

	if ((units = commit_units(ops, n, one)) == NULL)
		return STORE_NOMEM;
	memset(&tx, 0, sizeof(tx));
	if ((err = tx_begin(st, &tx)) != STORE_OK) {
		pg_give(st, tx.pc);
		fail_all(units, n, err);
	} else
		err = apply_batch(st, &tx, units, n);
	commit_units_free(units, one);
	return err;
}

/*
 * Group commit: the queue (store/commit.c) begins a write transaction
 * here, takes its batch, and applies it here. One batch at a time runs
 * in a process, so the store keeps its transaction.
 */
static enum store_err
queue_begin(void *arg, void **txn)
{
	store		*st = arg;
	enum store_err	 err;

	memset(st->qtx, 0, sizeof(*st->qtx));
	if ((err = tx_begin(st, st->qtx)) != STORE_OK) {
		pg_give(st, st->qtx->pc);
		st->qtx->pc = NULL;
	}
	*txn = st->qtx;
	return err;
}

static void
queue_apply(void *arg, void *txn, struct commit_unit *units, size_t n)
{
	(void)apply_batch(arg, txn, units, n);
}

void
pgw_init(store *st, const struct store_opts *o)
{
	struct commit_backend	 be = { queue_begin, queue_apply, st };

	commit_init(&st->q, o, &be);
}

enum store_err
pgw_write(store *st, struct store_op *op)
{
	return commit_write(&st->q, op);
}

enum store_err
pgw_write_all(store *st, struct store_op *ops, size_t n, size_t *failed)
{
	return commit_write_all(&st->q, ops, n, failed);
}
