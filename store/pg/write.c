/*
 * write.c - writes to PostgreSQL: an op applied in a transaction, a batch
 * of them with one commit (store_apply), the group commit queue's calls
 * (store/commit.c drives them: store_write, store_write_all), and the
 * records of idempotent requests; see pg_int.h.
 *
 * A batch runs in one transaction that first locks the meta row "seq";
 * seqs are counted here and the row written once, just before COMMIT. A
 * transaction's ops go into a savepoint, so that its failure undoes only
 * itself. When the database refuses the transaction for a concurrent one
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

/*
 * key's row in tx, locked: STORE_OK with *res holding it (value in column
 * 0, its state from column 1), STORE_NOTFOUND (*res NULL), an error.
 */
static enum store_err
lookup(store *st, struct pgtx *tx, const char *key, size_t klen,
    PGresult **res)
{
	struct pgq	 q;
	enum store_err	 err;

	pgq_init(&q);
	pgq_bytes(&q, key, klen);
	if ((*res = tx_run(st, tx, Q_GET_LOCK, &q, &err)) == NULL)
		return err;
	if (PQntuples(*res) == 1)
		return STORE_OK;
	PQclear(*res);
	*res = NULL;
	return STORE_NOTFOUND;
}

/* What naming asks of the database (see name_backend). */
struct pick {
	store		*st;
	struct pgtx	*tx;
	PGresult	*cur;		/* the name chosen's tombstone */
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

	PQclear(p->cur);
	err = lookup(p->st, p->tx, key, klen, &p->cur);
	if (err == STORE_OK && pg_bool(p->cur, 0, 5))
		err = STORE_DELETED;
	return err;
}

/* Copies the value of row res (column 0) into op->cur_value. */
static enum store_err
copy_value(struct store_op *op, const PGresult *res)
{
	size_t	 n = (size_t)PQgetlength(res, 0, 0);

	if ((op->cur_value = malloc(n + 1)) == NULL)
		return STORE_NOMEM;
	memcpy(op->cur_value, PQgetvalue(res, 0, 0), n);
	op->cur_value[n] = '\0';
	op->cur_vlen = n;
	return STORE_OK;
}

/* Writes next, the new state of key (value NULL: a tombstone), in tx. */
static enum store_err
write_version(store *st, struct pgtx *tx, const char *key, size_t klen,
    const char *value, size_t vlen, const struct store_meta *next)
{
	PGresult	*res;
	struct pgq	 q;
	enum store_err	 err;

	pgq_init(&q);
	pgq_bytes(&q, key, klen);
	if (value != NULL)
		pgq_bytes(&q, value, vlen);
	else
		pgq_null(&q);
	pgq_int(&q, (int64_t)next->version);
	pgq_int(&q, next->created_us);
	pgq_int(&q, next->updated_us);
	pgq_int(&q, next->lastmod_s);
	pgq_bool(&q, next->deleted);
	pgq_bytes(&q, next->principal, strlen(next->principal));
	pgq_int(&q, (int64_t)(tx->seq + 1));
	pgq_int(&q, next->version > st->history_versions ?
	    (int64_t)(next->version - st->history_versions) : 0);
	if ((res = tx_run(st, tx, Q_WRITE, &q, &err)) == NULL)
		return err;
	PQclear(res);
	tx->seq++;
	return STORE_OK;
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
	if (meta != NULL)
		*meta = op.meta;
	free(op.cur_value);
	return err;
}

/* Runs op's callback with the transaction tx; as LMDB's apply_one. */
static enum store_err
apply_multi(store *st, struct pgtx *tx, struct store_op *op,
    PGresult **cur, const char *key, size_t klen)
{
	struct store_io	 io;
	enum store_err	 err = STORE_OK;

	memset(&io, 0, sizeof(io));
	io.head.be = &store_backend_pg;
	io.st = st;
	io.tx = tx;
	io.writable = 1;
	io.principal = op->principal;
	op->update_err = op->multi(op->multi_arg, &io);
	pgio_clear(&io);
	free(io.res);
	if (io.pg_err != STORE_OK || tx->failed)
		return io.pg_err != STORE_OK ? io.pg_err : STORE_IO;
	if (op->update_err != 0) {
		/* its state may have moved on: answer with the latest */
		PQclear(*cur);
		if ((err = lookup(st, tx, key, klen, cur)) == STORE_OK)
			pg_meta(*cur, 0, 1, &op->meta);
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
	PGresult	*cur = NULL;
	const char	*key = op->key, *value;
	size_t		 klen = op->klen, vlen;
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
		pg_meta(cur, 0, 1, m);
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
	if (op->kind == STORE_OP_MULTI) {
		if ((err = store_cond_check(op->cond, m, 0)) != STORE_OK)
			goto fail;
		err = apply_multi(st, tx, op, &cur, key, klen);
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
		    PQgetvalue(cur, 0, 0), (size_t)PQgetlength(cur, 0, 0),
		    next.updated_us, &upd, &vlen)) != 0) {
			err = STORE_UPDATE_FAILED;
			goto fail;
		}
		value = upd;
	} else if (value == NULL)
		value = "";
	if ((err = write_version(st, tx, key, klen, value, vlen, &next)) !=
	    STORE_OK)
		goto out;
	*m = next;
	goto out;
fail:
	if (op_shows_current(err, m) && copy_value(op, cur) != STORE_OK)
		err = STORE_NOMEM;
out:
	PQclear(cur);
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
		PQclear(res);
		if (!tx_lost(tx)) {
			pg_log(st, 0, __func__, "begin: %s",
			    PQerrorMessage(tx->pc->c));
			break;
		}
		/* a connection the server closed while idle: once more */
		pg_give(st, tx->pc);
		tx->pc = NULL;
		err = STORE_UNAVAILABLE;
	}
	return err;
}

/*
 * Commits tx, its seq written first and, where the database has NOTIFY,
 * sent to the listeners of every host (listen.c) as it commits.
 */
static enum store_err
tx_commit(store *st, struct pgtx *tx)
{
	char	 sql[160];

	if (tx->seq == tx->seq0)
		return tx_sql(st, tx, "COMMIT");
	if (st->notify)
		snprintf(sql, sizeof(sql), "UPDATE verstore_meta SET value = "
		    "%llu WHERE name = 'seq'; NOTIFY verstore; COMMIT",
		    (unsigned long long)tx->seq);
	else
		snprintf(sql, sizeof(sql), "UPDATE verstore_meta SET value = "
		    "%llu WHERE name = 'seq'; COMMIT",
		    (unsigned long long)tx->seq);
	return tx_sql(st, tx, sql);
}

/* Applies units in tx; tx->failed says whether it broke off. */
static void
run_units(store *st, struct pgtx *tx, struct commit_unit *units, size_t nu,
    int isolated)
{
	struct store_op	*op;
	size_t		 i;

	for (i = 0; i < nu && !tx->failed; i++) {
		if (units[i].ops[0].idem != NULL)
			apply_idem(st, tx, &units[i]);
		else if (units[i].atomic || isolated)
			apply_child(st, tx, &units[i]);
		else {
			op = &units[i].ops[0];
			op->err = op_valid(op) ? apply_one(st, tx, op) :
			    STORE_INVALID;
			units[i].ok = units[i].wrote = op->err == STORE_OK;
		}
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
	int		 isolated = 0, runs = 1;

	for (;;) {
		run_units(st, tx, units, nu, isolated);
		for (i = nok = 0; i < nu; i++)
			nok += units[i].wrote;
		if (!tx->failed && nok == 0) {
			(void)tx_sql(st, tx, "ROLLBACK");	/* nothing */
			break;
		}
		if (!tx->failed) {
			if ((err = tx_commit(st, tx)) == STORE_OK) {
				pg_post(st, tx->seq);
				break;
			}
			if (!tx->pc->retry || tx_lost(tx)) {
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
	pg_give(st, tx->pc);
	tx->pc = NULL;
	return err;
}

enum store_err
pgw_apply(store *st, struct store_op *ops, size_t n)
{
	struct commit_unit	 one[1], *units = one;
	struct pgtx		 tx;
	enum store_err		 err;
	size_t			 i;

	if (n > 1 && (units = calloc(n, sizeof(*units))) == NULL) {
		for (i = 0; i < n; i++)
			ops[i].err = STORE_NOMEM;
		return STORE_NOMEM;
	}
	for (i = 0; i < n; i++) {
		ops[i].cur_value = NULL;
		units[i] = (struct commit_unit){ &ops[i], 1, 0, 0, 0, 0 };
		commit_unit_reset(&units[i]);
	}
	memset(&tx, 0, sizeof(tx));
	if ((err = tx_begin(st, &tx)) != STORE_OK) {
		pg_give(st, tx.pc);
		fail_all(units, n, err);
	} else
		err = apply_batch(st, &tx, units, n);
	if (units != one)
		free(units);
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
