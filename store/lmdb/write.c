/*
 * write.c - writes to LMDB: an op applied in a transaction, a batch of
 * them with one commit (store_apply), and the group commit queue's
 * calls (store/commit.c drives them: store_write, store_write_all).
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "rec.h"
#include "store/store.h"
#include "store/store_int.h"
#include "lmdb_int.h"

static enum store_err	apply_one(store *, MDB_txn *, struct store_op *);

/*
 * The errors that LMDB (or memory) gives a write rather than the op
 * itself: the transaction it was in is unusable.
 */
static int
is_lmdb_failure(enum store_err e)
{
	return e == STORE_FULL || e == STORE_IO || e == STORE_NOMEM ||
	    e == STORE_CORRUPT;
}

/* The next time-ordered id: above both the clock and the last one. */
static enum store_err
next_id(store *st, MDB_txn *txn, uint64_t *id)
{
	MDB_val		 k, v;
	uint64_t	 last = 0;
	int		 rc;

	k.mv_data = "last_id";
	k.mv_size = 7;
	rc = mdb_get(txn, st->meta, &k, &v);
	if (rc == 0 && v.mv_size == sizeof(last))
		memcpy(&last, v.mv_data, sizeof(last));
	else if (rc == 0) {
		db_log(st, 0, __func__, "meta last_id of %zu bytes", v.mv_size);
		return STORE_CORRUPT;
	} else if (rc != MDB_NOTFOUND)
		return db_err(st, __func__, "mdb_get", rc);
	*id = name_id(st->clock(st->clock_arg), last);
	v.mv_data = id;
	v.mv_size = sizeof(*id);
	if ((rc = mdb_put(txn, st->meta, &k, &v, 0)) != 0)
		return db_err(st, __func__, "mdb_put", rc);
	return STORE_OK;
}

/* What naming asks of LMDB (see name_backend); arg is a struct pick. */
struct pick {
	store		*st;
	MDB_txn		*txn;
	struct slot	*sl;
	struct rec	*r;		/* the key chosen's tombstone */
};

static enum store_err
pick_id(void *arg, uint64_t *id)
{
	struct pick	*p = arg;

	return next_id(p->st, p->txn, id);
}

static enum store_err
pick_look(void *arg, const char *key, size_t klen)
{
	struct pick	*p = arg;
	enum store_err	 err;

	err = db_lookup(p->st, p->txn, key, klen, p->sl, p->r);
	if (err == STORE_OK && (p->r->flags & REC_TOMBSTONE))
		err = STORE_DELETED;
	return err;
}

enum store_err
lmdb_io_put(store_io *io, const char *key, size_t klen, const char *value,
    size_t vlen, struct store_meta *meta)
{
	struct store_op	 op;
	enum store_err	 err;

	if (!io->writable)
		return STORE_INVALID;
	memset(&op, 0, sizeof(op));
	op.kind = STORE_OP_PUT;
	op.key = key;
	op.klen = klen;
	op.value = value;
	op.vlen = vlen;
	op.principal = io->principal;
	err = apply_one(io->st, io->txn, &op);
	if (is_lmdb_failure(err) || err == STORE_QUOTA) {
		io->lmdb_err = err;
		io->quota = op.quota;
		io->quota_used = op.quota_used;
	}
	if (meta != NULL)
		*meta = op.meta;
	return err;
}

/* Copies r's value (in LMDB's memory) into op->cur_value. */
static enum store_err
copy_value(struct store_op *op, const struct rec *r)
{
	if ((op->cur_value = malloc(r->vlen + 1)) == NULL)
		return STORE_NOMEM;
	memcpy(op->cur_value, r->value, r->vlen);
	op->cur_value[r->vlen] = '\0';
	op->cur_vlen = r->vlen;
	return STORE_OK;
}

/* Applies one op in txn. LMDB errors leave txn unusable. */
static enum store_err
apply_one(store *st, MDB_txn *txn, struct store_op *op)
{
	struct slot	 sl;
	struct rec	 cur, nr;
	struct store_meta *m = &op->meta, next;
	const char	*key = op->key;
	size_t		 klen = op->klen;
	char		*upd = NULL;
	MDB_val		 v;
	enum store_err	 err;
	int		 rc;

	if (op->kind == STORE_OP_CREATE) {
		struct pick		 p = { st, txn, &sl, &cur };
		struct name_backend	 be = { pick_id, pick_look, &p };

		err = name_pick(op, &be);
		if (err == STORE_DELETED)
			err = STORE_OK;		/* cur is the tombstone */
		else if (err != STORE_NOTFOUND)
			goto out;
		key = op->new_key;
		klen = op->new_klen;
	} else
		err = db_lookup(st, txn, key, klen, &sl, &cur);
	if (err != STORE_OK && err != STORE_NOTFOUND)
		goto out;
	if (err == STORE_OK)
		rec_meta(&cur, m);
	if (op->kind == STORE_OP_GET) {
		/* a missing key reads as version 0, no value */
		err = err == STORE_OK && !m->deleted ? copy_value(op, &cur) :
		    STORE_OK;
		goto out;
	}
	if (op->kind == STORE_OP_CHECK) {
		if ((err = store_cond_check(op->cond, m, 0)) != STORE_OK)
			goto fail;
		goto out;
	}
	if (op->holder != NULL && (err = presence_lock_check(st, txn, key,
	    klen, op->principal, op->holder)) != STORE_OK)
		goto out;
	if (op->kind == STORE_OP_MULTI) {
		struct store_io	 io = { { &store_backend_lmdb }, st, txn, 1,
		    op->principal, STORE_OK, 0, 0 };

		if ((err = store_cond_check(op->cond, m, 0)) != STORE_OK)
			goto fail;
		op->update_err = op->multi(op->multi_arg, &io);
		if (io.lmdb_err != STORE_OK) {
			err = io.lmdb_err;
			op->quota = io.quota;
			op->quota_used = io.quota_used;
		} else if (op->update_err != 0) {
			/* its state may have moved on: answer with the latest */
			if (db_lookup(st, txn, key, klen, &sl, &cur) ==
			    STORE_OK)
				rec_meta(&cur, m);
			err = STORE_UPDATE_FAILED;
		}
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
	memset(&nr, 0, sizeof(nr));
	nr.version = next.version;
	nr.created_us = next.created_us;
	nr.updated_us = next.updated_us;
	nr.lastmod_s = next.lastmod_s;
	nr.principal = next.principal;
	nr.plen = strlen(next.principal);
	if (sl.hashed || feed_needs_fullkey(klen)) {
		nr.flags |= REC_FULLKEY;
		nr.fullkey = key;
		nr.fklen = klen;
	}
	if (next.deleted)
		nr.flags |= REC_TOMBSTONE;
	else if (op->kind == STORE_OP_UPDATE) {
		if ((op->update_err = op->update(op->update_arg, cur.value,
		    cur.vlen, nr.updated_us, &upd, &nr.vlen)) != 0) {
			err = STORE_UPDATE_FAILED;
			goto fail;
		}
		nr.value = upd;
	} else {
		nr.value = op->value;
		nr.vlen = op->vlen;
	}
	if (st->quotas.n > 0 && (err = usage_charge(st, txn, key, klen,
	    quota_bytes(klen, !next.deleted, nr.vlen) -
	    quota_bytes(klen, m->version > 0 && !m->deleted, cur.vlen),
	    op)) != STORE_OK)
		goto out;	/* nothing written of op */
	if ((err = feed_next_seq(st, txn, &nr.seq)) != STORE_OK)
		goto out;
	v.mv_size = rec_size(&nr);
	v.mv_data = NULL;
	if ((rc = mdb_put(txn, st->recs, &sl.v, &v, MDB_RESERVE)) != 0) {
		err = db_err(st, __func__, "mdb_put", rc);
		goto out;
	}
	rec_encode(&nr, v.mv_data);
	if ((err = feed_record(st, txn, key, klen, m->version > 0 ? cur.seq : 0,
	    &nr, v.mv_data, v.mv_size)) != STORE_OK)
		goto out;
	*m = next;
	goto out;
fail:
	if (op_shows_current(err, m) && copy_value(op, &cur) != STORE_OK)
		err = STORE_NOMEM;
out:
	free(upd);
	return err;
}

/*
 * Applies op in txn, as apply_one, after making sure that a write that
 * grows the store has room: a put, an update, a create or a multi is
 * refused with STORE_FULL (*refused set; nothing written, txn still good)
 * once the pages in use reach map_size. A delete may go on into the
 * reserve (env.c), and so may a multi's puts once it began. Under
 * quotas a multi runs in a child of txn: a put that its quota refuses
 * undoes those it made before.
 */
static enum store_err
apply_op(store *st, MDB_txn *txn, struct store_op *op, int *refused)
{
	MDB_txn		*child;
	uint64_t	 used;
	enum store_err	 err;
	int		 rc;

	*refused = 0;
	if (!op_valid(op))
		return STORE_INVALID;
	if (op->kind == STORE_OP_PUT || op->kind == STORE_OP_UPDATE ||
	    op->kind == STORE_OP_CREATE || op->kind == STORE_OP_MULTI) {
		if ((err = db_used_bytes(st, txn, &used)) != STORE_OK)
			return err;
		if (used >= st->limit) {
			*refused = 1;
			return STORE_FULL;
		}
	}
	if (op->kind != STORE_OP_MULTI || st->quotas.n == 0)
		return apply_one(st, txn, op);
	if ((rc = mdb_txn_begin(st->env, txn, 0, &child)) != 0)
		return db_err(st, __func__, "child txn", rc);
	if ((err = apply_one(st, child, op)) != STORE_OK) {
		mdb_txn_abort(child);
		*refused = err == STORE_QUOTA;
		return err;
	}
	if ((rc = mdb_txn_commit(child)) != 0)
		return db_err(st, __func__, "child commit", rc);
	return STORE_OK;
}

/* Applies a unit's ops in a child of txn: all of them, or none. */
static void
apply_child(store *st, MDB_txn *txn, struct commit_unit *u)
{
	MDB_txn		*child;
	size_t		 i;
	int		 rc, refused;

	if ((rc = mdb_txn_begin(st->env, txn, 0, &child)) != 0) {
		commit_unit_fail(u, db_err(st, __func__, "child txn", rc));
		return;
	}
	for (i = 0; i < u->n; i++)
		if ((u->ops[i].err = apply_op(st, child, &u->ops[i],
		    &refused)) != STORE_OK)
			break;
	if (i < u->n) {
		mdb_txn_abort(child);
		u->failed = i;
		return;
	}
	if ((rc = mdb_txn_commit(child)) != 0) {
		commit_unit_fail(u, db_err(st, __func__, "child commit", rc));
		return;
	}
	u->ok = u->wrote = 1;
}

/*
 * Begins a write transaction, which waits for LMDB's write lock; on
 * failure each of units[0..nu) carries the error.
 */
static enum store_err
begin_write(store *st, MDB_txn **txn, struct commit_unit *units, size_t nu)
{
	enum store_err	 err;
	size_t		 i;
	int		 rc;

	if ((rc = mdb_txn_begin(st->env, NULL, 0, txn)) == 0)
		return STORE_OK;
	err = db_err(st, __func__, "mdb_txn_begin", rc);
	for (i = 0; i < nu; i++)
		commit_unit_fail(&units[i], err);
	return err;
}

void
write_posted(store *st, uint64_t seq)
{
	uint64_t prev = atomic_load(&st->posted);

	/* told once per seq, outside the write lock */
	while (prev < seq &&
	    !atomic_compare_exchange_weak(&st->posted, &prev, seq))
		;
	if (prev < seq && st->on_commit != NULL)
		st->on_commit(st->commit_arg, seq);
}

/* Commits txn; on failure the units that had succeeded carry the error. */
static enum store_err
end_write(store *st, MDB_txn *txn, struct commit_unit *units, size_t nu)
{
	enum store_err	 err;
	uint64_t	 seq = feed_last_seq(st, txn);
	size_t		 i;
	int		 rc;

	if ((rc = mdb_txn_commit(txn)) == 0) {
		write_posted(st, seq);
		return STORE_OK;
	}
	err = db_err(st, __func__, "mdb_txn_commit", rc);
	for (i = 0; i < nu; i++)
		if (units[i].wrote)
			commit_unit_fail(&units[i], err);
	return err;
}

/*
 * An idempotent unit, in a child of txn: a known request is answered from
 * its record and nothing is applied; a new one is applied (its own ops
 * undone on failure, as always) and its answer stored beside it.
 */
static void
apply_idem(store *st, MDB_txn *txn, struct commit_unit *u)
{
	struct store_idem	*id = u->ops[0].idem;
	struct store_op		*op = &u->ops[0];
	MDB_txn			*child;
	enum store_err		 err;
	int64_t			 now = st->clock(st->clock_arg);
	size_t			 i;
	int			 rc, refused;

	free(id->response);
	id->response = NULL;
	id->resplen = 0;
	if ((rc = mdb_txn_begin(st->env, txn, 0, &child)) != 0) {
		commit_unit_fail(u, db_err(st, __func__, "child txn", rc));
		return;
	}
	if ((err = idem_lookup(st, child, id, now)) != STORE_OK)
		goto fail;
	if (id->outcome != STORE_IDEM_NEW) {
		mdb_txn_abort(child);
		for (i = 0; i < u->n; i++)
			u->ops[i].err = STORE_OK;
		return;
	}
	if (u->atomic)
		apply_child(st, child, u);
	else {
		op->err = apply_op(st, child, op, &refused);
		if (is_lmdb_failure(op->err) && !refused) {
			err = op->err;
			goto fail;
		}
		u->ok = op->err == STORE_OK;
	}
	if ((err = idem_store(st, child, id, now)) != STORE_OK)
		goto fail;
	if ((rc = mdb_txn_commit(child)) != 0) {
		commit_unit_fail(u, db_err(st, __func__, "child commit", rc));
		return;
	}
	u->wrote = 1;
	return;
fail:
	mdb_txn_abort(child);
	commit_unit_fail(u, err);
}

/*
 * The slow path: every unit in a child transaction, so that one that LMDB
 * refuses (a full map) leaves its neighbours alone.
 */
static enum store_err
apply_isolated(store *st, struct commit_unit *units, size_t nu)
{
	MDB_txn		*txn;
	enum store_err	 err;
	size_t		 i, nok = 0;

	if ((err = begin_write(st, &txn, units, nu)) != STORE_OK)
		return err;
	for (i = 0; i < nu; i++) {
		if (units[i].ops[0].idem != NULL)
			apply_idem(st, txn, &units[i]);
		else
			apply_child(st, txn, &units[i]);
		nok += units[i].wrote;
	}
	if (nok == 0) {
		mdb_txn_abort(txn);
		return STORE_OK;
	}
	return end_write(st, txn, units, nu);
}

/*
 * Applies units in txn, a write transaction just begun, and commits it. A
 * single op goes straight into txn; a transaction's ops into a child, so
 * that its failure undoes only itself. When LMDB fails a single op, txn
 * is unusable: abort and start over on the slow path.
 */
static enum store_err
apply_units(store *st, MDB_txn *txn, struct commit_unit *units, size_t nu)
{
	struct store_op	*op;
	size_t		 i, nok = 0;
	int		 refused;

	for (i = 0; i < nu; i++) {
		if (units[i].ops[0].idem != NULL)
			apply_idem(st, txn, &units[i]);
		else if (units[i].atomic)
			apply_child(st, txn, &units[i]);
		else {
			op = &units[i].ops[0];
			op->err = apply_op(st, txn, op, &refused);
			units[i].ok = units[i].wrote = op->err == STORE_OK;
			if (is_lmdb_failure(op->err) && !refused)
				break;
		}
		nok += units[i].wrote;
	}
	if (i < nu && nu > 1) {
		mdb_txn_abort(txn);
		for (i = 0; i < nu; i++)
			commit_unit_reset(&units[i]);
		return apply_isolated(st, units, nu);
	}
	if (i < nu || nok == 0) {
		/* A lone op failed, or nothing to write: spare the sync. */
		mdb_txn_abort(txn);
		return STORE_OK;
	}
	return end_write(st, txn, units, nu);
}

enum store_err
lmdb_apply(store *st, struct store_op *ops, size_t n)
{
	struct commit_unit	 one[1], *units;
	MDB_txn			*txn;
	enum store_err		 err;

	if ((units = commit_units(ops, n, one)) == NULL)
		return STORE_NOMEM;
	if ((err = begin_write(st, &txn, units, n)) == STORE_OK)
		err = apply_units(st, txn, units, n);
	commit_units_free(units, one);
	return err;
}

/*
 * Group commit: the queue (store/commit.c) begins a write transaction
 * here, takes its batch, and applies it here.
 */
static enum store_err
queue_begin(void *arg, void **txn)
{
	MDB_txn		*t = NULL;
	enum store_err	 err;

	err = begin_write(arg, &t, NULL, 0);
	*txn = t;
	return err;
}

static void
queue_apply(void *arg, void *txn, struct commit_unit *units, size_t n)
{
	(void)apply_units(arg, txn, units, n);
}

void
write_init(store *st, const struct store_opts *o)
{
	struct commit_backend	 be = { queue_begin, queue_apply, st };

	commit_init(&st->q, o, &be);
}

enum store_err
lmdb_write(store *st, struct store_op *op)
{
	return commit_write(&st->q, op);
}

enum store_err
lmdb_write_all(store *st, struct store_op *ops, size_t n, size_t *failed)
{
	return commit_write_all(&st->q, ops, n, failed);
}
