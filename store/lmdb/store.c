/*
 * store.c - versioned records on LMDB; see store.h.
 *
 * One environment, two named databases: "records" maps a key to its
 * current record (rec.h), "meta" holds the format number. LMDB keys are
 * limited to 511 bytes (mdb_env_get_maxkeysize) while API keys may have
 * 512: a key longer than the limit is stored under a slot made of its
 * first SLOT_PREFIX bytes, 0xff (never in UTF-8) and a 64-bit hash of the
 * whole key, and its record carries the full key. Two such keys sharing a
 * slot is STORE_KEY_CLASH; they list after the shorter keys they share
 * the prefix with.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lmdb.h>

#include "lib/hash.h"
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

static int	is_lmdb_failure(enum store_err);
static enum store_err queue_begin(void *, void **);
static void	queue_apply(void *, void *, struct commit_unit *, size_t);

/* The LMDB key of an API key. */
struct slot {
	unsigned char	 b[511];
	MDB_val		 v;
	int		 hashed;
};

static void
slog(const store *st, int level, const char *func, const char *fmt, ...)
{
	char	 msg[256];
	va_list	 ap;

	if (st->log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	st->log(level, func, msg);
}

static enum store_err
map_rc(const store *st, const char *func, const char *what, int rc)
{
	switch (rc) {
	case 0:
		return STORE_OK;
	case MDB_MAP_FULL:
		return STORE_FULL;
	case ENOMEM:
		slog(st, 0, func, "%s: out of memory", what);
		return STORE_NOMEM;
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
	case MDB_INVALID:
	case MDB_VERSION_MISMATCH:
		slog(st, 0, func, "%s: %s", what, mdb_strerror(rc));
		return STORE_CORRUPT;
	default:
		slog(st, 0, func, "%s: %s", what, mdb_strerror(rc));
		return STORE_IO;
	}
}

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
store_open(const struct store_opts *o, store **out)
{
	store		*st = NULL;
	struct commit_backend be = { queue_begin, queue_apply, NULL };
	MDB_txn		*txn = NULL;
	MDB_val		 k, v;
	uint32_t	 fmt = REC_FORMAT;
	int		 rc, dead = 0;
	enum store_err	 err = STORE_INVALID;

	*out = NULL;
	if (o->dir == NULL || o->map_size == 0)
		goto out;
	err = STORE_NOMEM;
	if ((st = calloc(1, sizeof(*st))) == NULL)
		goto out;
	be.arg = st;
	commit_init(&st->q, o->batch_max, &be);
	st->clock = o->clock ? o->clock : op_real_clock;
	st->clock_arg = o->clock_arg;
	st->log = o->log;
	err = STORE_IO;
	if (mkdir(o->dir, 0700) == -1 && errno != EEXIST) {
		slog(st, 0, __func__, "mkdir %s: %s", o->dir, strerror(errno));
		goto out;
	}
	if ((rc = mdb_env_create(&st->env)) != 0 ||
	    (rc = mdb_env_set_maxdbs(st->env, 4)) != 0 ||
	    (rc = mdb_env_set_mapsize(st->env, o->map_size)) != 0 ||
	    (rc = mdb_env_set_maxreaders(st->env,
	    o->max_readers ? o->max_readers : 126)) != 0) {
		err = map_rc(st, __func__, "mdb_env_create", rc);
		goto out;
	}
	/*
	 * MDB_NOTLS: a reader slot belongs to its transaction, not thread.
	 * MDB_NOSYNC: a commit is written to the file (the page cache) but
	 * not synced; the kernel writes it back later.
	 */
	if ((rc = mdb_env_open(st->env, o->dir, MDB_NOTLS |
	    (o->relaxed ? MDB_NOSYNC : 0), 0600)) != 0) {
		err = map_rc(st, __func__, o->dir, rc);
		goto out;
	}
	st->maxkey = (size_t)mdb_env_get_maxkeysize(st->env);
	if ((rc = mdb_reader_check(st->env, &dead)) != 0) {
		err = map_rc(st, __func__, "mdb_reader_check", rc);
		goto out;
	}
	if (dead > 0)
		slog(st, 1, __func__, "cleared %d stale reader slots", dead);
	if ((rc = mdb_txn_begin(st->env, NULL, 0, &txn)) != 0 ||
	    (rc = mdb_dbi_open(txn, "records", MDB_CREATE, &st->recs)) != 0 ||
	    (rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &st->meta)) != 0 ||
	    (rc = mdb_dbi_open(txn, "idem", MDB_CREATE, &st->idem)) != 0 ||
	    (rc = mdb_dbi_open(txn, "idem_exp", MDB_CREATE,
	    &st->idem_exp)) != 0) {
		err = map_rc(st, __func__, "open databases", rc);
		goto out;
	}
	k.mv_data = "format";
	k.mv_size = 6;
	rc = mdb_get(txn, st->meta, &k, &v);
	if (rc == MDB_NOTFOUND) {
		v.mv_data = &fmt;
		v.mv_size = sizeof(fmt);
		rc = mdb_put(txn, st->meta, &k, &v, 0);
	} else if (rc == 0 && (v.mv_size != sizeof(fmt) ||
	    memcmp(v.mv_data, &fmt, sizeof(fmt)) != 0)) {
		slog(st, 0, __func__, "%s: unknown store format", o->dir);
		err = STORE_CORRUPT;
		goto out;
	}
	if (rc != 0 || (rc = mdb_txn_commit(txn)) != 0) {
		txn = NULL;
		err = map_rc(st, __func__, "format", rc);
		goto out;
	}
	txn = NULL;
	*out = st;
	st = NULL;
	err = STORE_OK;
out:
	if (txn != NULL)
		mdb_txn_abort(txn);
	store_close(st);
	return err;
}

void
store_close(store *st)
{
	if (st == NULL)
		return;
	store_thread_end(st);
	if (st->env != NULL)
		mdb_env_close(st->env);
	commit_fini(&st->q);
	free(st);
}

static void
meta_from_rec(const struct rec *r, struct store_meta *m)
{
	size_t	 n = r->plen > STORE_PRINCIPAL_MAX ? STORE_PRINCIPAL_MAX : r->plen;

	m->version = r->version;
	m->created_us = r->created_us;
	m->updated_us = r->updated_us;
	m->lastmod_s = r->lastmod_s;
	m->deleted = (r->flags & REC_TOMBSTONE) != 0;
	if (n > 0)
		memcpy(m->principal, r->principal, n);
	m->principal[n] = '\0';
}

/*
 * Looks key up in txn. Returns STORE_OK with *r pointing into LMDB's
 * memory (valid until the transaction ends), STORE_NOTFOUND, or an error.
 */
static enum store_err
lookup(const store *st, MDB_txn *txn, const char *key, size_t klen,
    struct slot *sl, struct rec *r)
{
	MDB_val		 v;
	int		 rc;

	make_slot(st, key, klen, sl);
	rc = mdb_get(txn, st->recs, &sl->v, &v);
	if (rc == MDB_NOTFOUND)
		return STORE_NOTFOUND;
	if (rc != 0)
		return map_rc(st, __func__, "mdb_get", rc);
	if (rec_decode(v.mv_data, v.mv_size, r) == -1) {
		slog(st, 0, __func__, "undecodable record (%zu bytes)",
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

static int
read_begin(store *st, MDB_txn **txn)
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

static void
read_end(MDB_txn *txn)
{
	if (txn == rtls.txn)
		mdb_txn_reset(txn);
	else
		mdb_txn_abort(txn);
}

void
store_thread_end(store *st)
{
	if (rtls.st == st && rtls.txn != NULL) {
		mdb_txn_abort(rtls.txn);
		rtls.txn = NULL;
		rtls.st = NULL;
	}
}

enum store_err
store_get(store *st, const char *key, size_t klen, struct store_meta *meta,
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
	if ((rc = read_begin(st, &txn)) != 0) {
		txn = NULL;
		err = map_rc(st, __func__, "mdb_txn_begin", rc);
		goto out;
	}
	err = lookup(st, txn, key, klen, &sl, &r);
	if (err == STORE_KEY_CLASH)
		err = STORE_NOTFOUND;
	if (err != STORE_OK)
		goto out;
	meta_from_rec(&r, meta);
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
		read_end(txn);
	return err;
}

void
store_list_free(struct store_list *l)
{
	size_t	 i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++) {
		free(l->items[i].key);
		free(l->items[i].value);
	}
	free(l->items);
	memset(l, 0, sizeof(*l));
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
	meta_from_rec(r, &it->meta);
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
store_list(store *st, const char *prefix, size_t plen, const char *after,
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
	if ((rc = read_begin(st, &txn)) != 0) {
		txn = NULL;
		err = map_rc(st, __func__, "mdb_txn_begin", rc);
		goto out;
	}
	if ((rc = mdb_cursor_open(txn, st->recs, &cur)) != 0) {
		err = map_rc(st, __func__, "mdb_cursor_open", rc);
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
			err = map_rc(st, __func__, "mdb_cursor_get", rc);
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
		read_end(txn);
	if (err != STORE_OK)
		store_list_free(out);
	return err;
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
	else if (rc != 0 && rc != MDB_NOTFOUND)
		return map_rc(st, __func__, "mdb_get", rc);
	*id = name_id(st->clock(st->clock_arg), last);
	v.mv_data = id;
	v.mv_size = sizeof(*id);
	if ((rc = mdb_put(txn, st->meta, &k, &v, 0)) != 0)
		return map_rc(st, __func__, "mdb_put", rc);
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

	err = lookup(p->st, p->txn, key, klen, p->sl, p->r);
	if (err == STORE_OK && (p->r->flags & REC_TOMBSTONE))
		err = STORE_DELETED;
	return err;
}

struct store_io {
	store		*st;
	MDB_txn		*txn;
	int		 writable;
	const char	*principal;
	enum store_err	 lmdb_err;	/* a write that LMDB refused */
};

enum store_err
store_io_get(store_io *io, const char *key, size_t klen,
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
	err = lookup(io->st, io->txn, key, klen, &sl, &r);
	if (err == STORE_KEY_CLASH)
		err = STORE_NOTFOUND;
	if (err != STORE_OK)
		return err;
	meta_from_rec(&r, meta);
	if (meta->deleted)
		return STORE_DELETED;
	*value = r.value;
	*vlen = r.vlen;
	return STORE_OK;
}

static enum store_err	apply_one(store *, MDB_txn *, struct store_op *);

enum store_err
store_io_put(store_io *io, const char *key, size_t klen, const char *value,
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
	if (is_lmdb_failure(err))
		io->lmdb_err = err;
	if (meta != NULL)
		*meta = op.meta;
	return err;
}

enum store_err
store_read(store *st, store_multi_fn fn, void *arg)
{
	struct store_io	 io;
	MDB_txn		*txn;
	enum store_err	 err;
	int		 rc;

	if ((rc = read_begin(st, &txn)) != 0)
		return map_rc(st, __func__, "mdb_txn_begin", rc);
	memset(&io, 0, sizeof(io));
	io.st = st;
	io.txn = txn;
	err = fn(arg, &io) == 0 ? STORE_OK : STORE_UPDATE_FAILED;
	read_end(txn);
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
		err = lookup(st, txn, key, klen, &sl, &cur);
	if (err != STORE_OK && err != STORE_NOTFOUND)
		goto out;
	if (err == STORE_OK)
		meta_from_rec(&cur, m);
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
	if (op->kind == STORE_OP_MULTI) {
		struct store_io	 io = { st, txn, 1, op->principal, STORE_OK };

		if ((err = store_cond_check(op->cond, m, 0)) != STORE_OK)
			goto fail;
		op->update_err = op->multi(op->multi_arg, &io);
		if (io.lmdb_err != STORE_OK)
			err = io.lmdb_err;
		else if (op->update_err != 0) {
			/* its state may have moved on: answer with the latest */
			if (lookup(st, txn, key, klen, &sl, &cur) == STORE_OK)
				meta_from_rec(&cur, m);
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
	if (sl.hashed) {
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
	v.mv_size = rec_size(&nr);
	v.mv_data = NULL;
	if ((rc = mdb_put(txn, st->recs, &sl.v, &v, MDB_RESERVE)) != 0) {
		err = map_rc(st, __func__, "mdb_put", rc);
		goto out;
	}
	rec_encode(&nr, v.mv_data);
	*m = next;
	goto out;
fail:
	if (op_shows_current(err, m) && copy_value(op, &cur) != STORE_OK)
		err = STORE_NOMEM;
out:
	free(upd);
	return err;
}

static int
is_lmdb_failure(enum store_err e)
{
	return e == STORE_FULL || e == STORE_IO || e == STORE_NOMEM ||
	    e == STORE_CORRUPT;
}

/* Applies a unit's ops in a child of txn: all of them, or none. */
static void
apply_child(store *st, MDB_txn *txn, struct commit_unit *u)
{
	MDB_txn		*child;
	size_t		 i;
	int		 rc;

	if ((rc = mdb_txn_begin(st->env, txn, 0, &child)) != 0) {
		commit_unit_fail(u, map_rc(st, __func__, "child txn", rc));
		return;
	}
	for (i = 0; i < u->n; i++) {
		if (!op_valid(&u->ops[i])) {
			u->ops[i].err = STORE_INVALID;
			break;
		}
		if ((u->ops[i].err = apply_one(st, child, &u->ops[i])) !=
		    STORE_OK)
			break;
	}
	if (i < u->n) {
		mdb_txn_abort(child);
		u->failed = i;
		return;
	}
	if ((rc = mdb_txn_commit(child)) != 0) {
		commit_unit_fail(u, map_rc(st, __func__, "child commit", rc));
		return;
	}
	u->ok = u->wrote = 1;
}

/* Commits txn; on failure the units that had succeeded carry the error. */
static enum store_err
commit(store *st, MDB_txn *txn, struct commit_unit *units, size_t nu)
{
	enum store_err	 err;
	size_t		 i;
	int		 rc;

	if ((rc = mdb_txn_commit(txn)) == 0)
		return STORE_OK;
	err = map_rc(st, __func__, "mdb_txn_commit", rc);
	for (i = 0; i < nu; i++)
		if (units[i].wrote)
			commit_unit_fail(&units[i], err);
	return err;
}

static enum store_err
begin_write(store *st, MDB_txn **txn, struct commit_unit *units, size_t nu)
{
	enum store_err	 err;
	size_t		 i;
	int		 rc;

	if ((rc = mdb_txn_begin(st->env, NULL, 0, txn)) == 0)
		return STORE_OK;
	err = map_rc(st, __func__, "mdb_txn_begin", rc);
	for (i = 0; i < nu; i++)
		commit_unit_fail(&units[i], err);
	return err;
}

/*
 * Idempotency records. idem: principal NUL key -> expires_us (8), fp
 * (16), the answer as rendered. idem_exp: expires_us (big-endian) then
 * the same name -> nothing, so expired records are found oldest first.
 */
#define IDEM_HEAD	24
#define IDEM_PURGE	8	/* expired records dropped per new one */

static size_t
idem_name(const struct store_idem *id, char *buf, size_t bufsz)
{
	size_t	 plen = id->principal ? strnlen(id->principal,
		    STORE_PRINCIPAL_MAX) : 0;

	if (plen + 1 + id->klen > bufsz)
		return 0;
	memcpy(buf, id->principal ? id->principal : "", plen);
	buf[plen] = '\0';
	memcpy(buf + plen + 1, id->key, id->klen);
	return plen + 1 + id->klen;
}

static void
be64(unsigned char *out, uint64_t v)
{
	int	 i;

	for (i = 7; i >= 0; i--, v >>= 8)
		out[i] = (unsigned char)(v & 0xff);
}

/* Drops up to IDEM_PURGE records that expired before now. */
static enum store_err
idem_purge(store *st, MDB_txn *txn, int64_t now)
{
	MDB_cursor	*c;
	MDB_val		 k, v, name;
	unsigned char	 t[8];
	int		 rc, i;

	be64(t, (uint64_t)now);
	if ((rc = mdb_cursor_open(txn, st->idem_exp, &c)) != 0)
		return map_rc(st, __func__, "mdb_cursor_open", rc);
	for (i = 0; i < IDEM_PURGE; i++) {
		if ((rc = mdb_cursor_get(c, &k, &v, MDB_FIRST)) != 0 ||
		    k.mv_size < 8 || memcmp(k.mv_data, t, 8) >= 0)
			break;
		name.mv_data = (char *)k.mv_data + 8;
		name.mv_size = k.mv_size - 8;
		if ((rc = mdb_del(txn, st->idem, &name, NULL)) != 0 &&
		    rc != MDB_NOTFOUND)
			break;
		if ((rc = mdb_cursor_del(c, 0)) != 0)
			break;
	}
	mdb_cursor_close(c);
	return rc == 0 || rc == MDB_NOTFOUND ? STORE_OK :
	    map_rc(st, __func__, "purge", rc);
}

/* Looks the request up: STORE_OK with the outcome set, or an error. */
static enum store_err
idem_lookup(store *st, MDB_txn *txn, struct store_idem *id, int64_t now)
{
	char		 buf[STORE_PRINCIPAL_MAX + 1 + 256];
	MDB_val		 k, v;
	int64_t		 exp;
	int		 rc;

	id->outcome = STORE_IDEM_NEW;
	if ((k.mv_size = idem_name(id, buf, sizeof(buf))) == 0)
		return STORE_INVALID;
	k.mv_data = buf;
	if ((rc = mdb_get(txn, st->idem, &k, &v)) == MDB_NOTFOUND)
		return STORE_OK;
	if (rc != 0)
		return map_rc(st, __func__, "mdb_get", rc);
	if (v.mv_size < IDEM_HEAD)
		return STORE_CORRUPT;
	memcpy(&exp, v.mv_data, 8);
	if (exp <= now)
		return STORE_OK;	/* expired: as if never seen */
	if (memcmp((char *)v.mv_data + 8, id->fp, 16) != 0) {
		id->outcome = STORE_IDEM_MISMATCH;
		return STORE_OK;
	}
	id->resplen = v.mv_size - IDEM_HEAD;
	if ((id->response = malloc(id->resplen + 1)) == NULL)
		return STORE_NOMEM;
	memcpy(id->response, (char *)v.mv_data + IDEM_HEAD, id->resplen);
	id->response[id->resplen] = '\0';
	id->outcome = STORE_IDEM_REPLAYED;
	return STORE_OK;
}

/* Stores the answer rendered for the request, replacing an expired one. */
static enum store_err
idem_store(store *st, MDB_txn *txn, struct store_idem *id, int64_t now)
{
	char		 buf[STORE_PRINCIPAL_MAX + 1 + 256];
	unsigned char	 ebuf[8 + sizeof(buf)];
	char		*out = NULL;
	size_t		 outlen = 0, nlen;
	int64_t		 exp = now + id->ttl_us;
	int		 status = 500, rc;
	MDB_val		 k, v;
	enum store_err	 err = STORE_OK;

	if (id->render(id->render_arg, &out, &outlen, &status) != 0) {
		err = STORE_NOMEM;
		goto out;
	}
	if (status >= 500)
		goto out;
	if ((err = idem_purge(st, txn, now)) != STORE_OK)
		goto out;
	nlen = idem_name(id, buf, sizeof(buf));
	k.mv_data = buf;
	k.mv_size = nlen;
	v.mv_size = IDEM_HEAD + outlen;
	if ((rc = mdb_put(txn, st->idem, &k, &v, MDB_RESERVE)) != 0) {
		err = map_rc(st, __func__, "mdb_put", rc);
		goto out;
	}
	memcpy(v.mv_data, &exp, 8);
	memcpy((char *)v.mv_data + 8, id->fp, 16);
	memcpy((char *)v.mv_data + IDEM_HEAD, out, outlen);
	be64(ebuf, (uint64_t)exp);
	memcpy(ebuf + 8, buf, nlen);
	k.mv_data = ebuf;
	k.mv_size = 8 + nlen;
	v.mv_data = "";
	v.mv_size = 0;
	if ((rc = mdb_put(txn, st->idem_exp, &k, &v, 0)) != 0)
		err = map_rc(st, __func__, "mdb_put", rc);
out:
	free(out);
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
	int			 rc;

	free(id->response);
	id->response = NULL;
	id->resplen = 0;
	if ((rc = mdb_txn_begin(st->env, txn, 0, &child)) != 0) {
		commit_unit_fail(u, map_rc(st, __func__, "child txn", rc));
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
		op->err = op_valid(op) ? apply_one(st, child, op) :
		    STORE_INVALID;
		if (is_lmdb_failure(op->err)) {
			err = op->err;
			goto fail;
		}
		u->ok = op->err == STORE_OK;
	}
	if ((err = idem_store(st, child, id, now)) != STORE_OK)
		goto fail;
	if ((rc = mdb_txn_commit(child)) != 0) {
		commit_unit_fail(u, map_rc(st, __func__, "child commit", rc));
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
	return commit(st, txn, units, nu);
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

	for (i = 0; i < nu; i++) {
		if (units[i].ops[0].idem != NULL)
			apply_idem(st, txn, &units[i]);
		else if (units[i].atomic)
			apply_child(st, txn, &units[i]);
		else {
			op = &units[i].ops[0];
			op->err = op_valid(op) ? apply_one(st, txn, op) :
			    STORE_INVALID;
			units[i].ok = units[i].wrote = op->err == STORE_OK;
			if (is_lmdb_failure(op->err))
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
	return commit(st, txn, units, nu);
}

enum store_err
store_apply(store *st, struct store_op *ops, size_t n)
{
	struct commit_unit	 one[1], *units = one;
	MDB_txn			*txn;
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
	if ((err = begin_write(st, &txn, units, n)) == STORE_OK)
		err = apply_units(st, txn, units, n);
	if (units != one)
		free(units);
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

enum store_err
store_write(store *st, struct store_op *op)
{
	return commit_write(&st->q, op);
}

enum store_err
store_write_all(store *st, struct store_op *ops, size_t n, size_t *failed)
{
	return commit_write_all(&st->q, ops, n, failed);
}

enum store_err
store_backup(store *st, const char *dir)
{
	return map_rc(st, __func__, dir, mdb_env_copy2(st->env, dir,
	    MDB_CP_COMPACT));
}

void
store_stats(store *st, struct store_stats *out)
{
	commit_stats(&st->q, out);
}
