/*
 * presence.c - presence and soft locks (API.md 13) on PostgreSQL.
 *
 * verstore_presence holds a row per key and session (pg_int.h). A join,
 * a renewal and a leave are write transactions that lock the seq row, as
 * every write does: so two sessions never both take a key's lock, on any
 * host, and each event takes the next seq in commit order. A leave, an
 * expiry and a forced leave keep the row, marked, until drop_us, so that
 * its seq stays in the feed (Q_CHANGES_P) for STORE_PRESENCE_KEEP_US;
 * the sweep marks the sessions past their expiry and drops those rows.
 */
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "store/store.h"
#include "store/store_int.h"
#include "pg_int.h"

/* rows one look at a key's sessions reads, at most */
#define KEY_ROWS	(STORE_PRESENCE_PER_KEY_MAX + 1)

int
pgp_row(const PGresult *res, int row, int col, struct store_presence *p)
{
	size_t	 kl = (size_t)PQgetlength(res, row, col);
	size_t	 sl = (size_t)PQgetlength(res, row, col + 1);
	size_t	 pl = (size_t)PQgetlength(res, row, col + 2);
	size_t	 stl = (size_t)PQgetlength(res, row, col + 3);
	int64_t	 why = pg_int(res, row, col + 7);

	memset(p, 0, sizeof(*p));
	if (kl == 0 || kl > STORE_PRESENCE_KEY_MAX || sl == 0 ||
	    sl > STORE_SESSION_MAX || pl > STORE_PRINCIPAL_MAX ||
	    stl > STORE_STATE_MAX || why < 0 || why > STORE_LEFT_FORCED)
		return -1;
	memcpy(p->key, PQgetvalue(res, row, col), kl);
	p->klen = kl;
	memcpy(p->session, PQgetvalue(res, row, col + 1), sl);
	p->slen = sl;
	memcpy(p->principal, PQgetvalue(res, row, col + 2), pl);
	if (!PQgetisnull(res, row, col + 3))
		memcpy(p->state, PQgetvalue(res, row, col + 3), stl);
	p->statelen = PQgetisnull(res, row, col + 3) ? 0 : stl;
	p->since_us = pg_int(res, row, col + 4);
	p->expires_us = pg_int(res, row, col + 5);
	p->lock = pg_bool(res, row, col + 6);
	p->left = (enum store_left)why;
	p->seq = (uint64_t)pg_int(res, row, col + 8);
	return 0;
}

/* Runs s in tx; NULL with *err set, tx failed. */
static PGresult *
run(store *st, struct pgtx *tx, enum pg_stmt s, const struct pgq *q,
    enum store_err *err)
{
	PGresult	*res;

	if ((res = pg_run(st, tx->pc, s, q, err)) == NULL)
		tx->failed = 1;
	return res;
}

/*
 * Ends tx: commits it, with its seq written and NOTIFY sent when it took
 * one, or (failed) rolls it back; gives its connection back.
 */
static enum store_err
finish(store *st, struct pgtx *tx, enum store_err err)
{
	struct pgq	 q;
	PGresult	*res;

	if (err == STORE_OK && tx->seq != tx->seq0) {
		pgq_init(&q);
		pgq_int(&q, (int64_t)tx->seq);
		if ((res = run(st, tx, Q_SEQ_SET, &q, &err)) != NULL)
			PQclear(res);
		if (err == STORE_OK && st->notify)
			err = pg_sql(st, tx->pc, "NOTIFY verstore");
	}
	if (err == STORE_OK)
		err = pg_sql(st, tx->pc, "COMMIT");
	else if (PQstatus(tx->pc->c) == CONNECTION_OK)
		(void)pg_sql(st, tx->pc, "ROLLBACK");
	if (err == STORE_OK && tx->seq != tx->seq0)
		pg_post(st, tx->seq);
	pg_give(st, tx->pc);
	tx->pc = NULL;
	return err;
}

/* A transaction's body, run again (bounded) when refused for another. */
typedef enum store_err (*body_fn)(store *, struct pgtx *, void *arg);

static enum store_err
in_tx(store *st, body_fn fn, void *arg)
{
	struct pgtx	 tx;
	enum store_err	 err;
	int		 runs, retry;

	for (runs = 0; runs < PG_RETRIES; runs++) {
		memset(&tx, 0, sizeof(tx));
		if ((err = pgw_begin(st, &tx)) != STORE_OK) {
			pg_give(st, tx.pc);
			return err;
		}
		tx.pc->retry = 0;
		err = fn(st, &tx, arg);
		/* a refusal (not found, locked, ...) is the caller's answer */
		retry = tx.pc->retry;
		err = finish(st, &tx, err);
		if (!retry || err == STORE_OK)
			return err;
	}
	return STORE_UNAVAILABLE;
}

struct join_job {
	const struct store_join	*j;
	struct store_presence	*out;
};

static enum store_err
join_body(store *st, struct pgtx *tx, void *arg)
{
	struct join_job		*jj = arg;
	const struct store_join	*j = jj->j;
	struct store_presence	 own, p, next;
	const char		*by = j->principal != NULL ? j->principal : "";
	int64_t			 now = st->clock(st->clock_arg);
	PGresult		*res = NULL;
	struct pgq		 q;
	enum store_err		 err;
	size_t			 rows, i, live = 0;
	int			 had = 0, live_own, changed;

	pgq_init(&q);
	pgq_bytes(&q, j->key, j->klen);
	pgq_bytes(&q, j->session, j->slen);
	pgq_int(&q, now);
	pgq_int(&q, KEY_ROWS);
	if ((res = run(st, tx, Q_P_KEY, &q, &err)) == NULL)
		return err;
	rows = (size_t)PQntuples(res);
	memset(&own, 0, sizeof(own));
	err = STORE_OK;
	for (i = 0; i < rows; i++) {
		if (pgp_row(res, (int)i, 0, &p) == -1) {
			err = STORE_CORRUPT;
			goto out;
		}
		if (p.slen == j->slen && memcmp(p.session, j->session,
		    j->slen) == 0) {
			own = p;
			had = p.left == STORE_PRESENT;
			continue;
		}
		live++;
		if (j->lock && p.lock && err == STORE_OK) {
			*jj->out = p;
			err = STORE_LOCKED;
		}
	}
	if (had && strcmp(own.principal, by) != 0) {
		*jj->out = own;
		err = STORE_NOT_OWNER;
	}
	if (err != STORE_OK)
		goto out;
	live_own = had && own.expires_us > now;
	if (!live_own) {
		PQclear(res);
		pgq_init(&q);
		pgq_bytes(&q, by, strlen(by));
		pgq_int(&q, now);
		pgq_int(&q, (int64_t)j->per_principal);
		if ((res = run(st, tx, Q_P_COUNT, &q, &err)) == NULL)
			return err;
		if (rows >= KEY_ROWS || live >= j->per_key)
			err = STORE_LIMIT_KEY;
		else if ((size_t)pg_int(res, 0, 0) >= j->per_principal)
			err = STORE_LIMIT_PRINCIPAL;
		if (err != STORE_OK)
			goto out;
	}
	presence_from_join(&next, j, now);
	changed = !live_own || presence_changes(&own, j);
	if (live_own)
		next.since_us = own.since_us;
	next.seq = changed ? ++tx->seq : own.seq;
	PQclear(res);
	pgq_init(&q);
	pgq_bytes(&q, j->key, j->klen);
	pgq_bytes(&q, j->session, j->slen);
	pgq_bytes(&q, by, strlen(by));
	if (next.statelen > 0)
		pgq_bytes(&q, next.state, next.statelen);
	else
		pgq_null(&q);
	pgq_int(&q, next.since_us);
	pgq_int(&q, next.expires_us);
	pgq_bool(&q, next.lock);
	pgq_int(&q, (int64_t)next.seq);
	if ((res = run(st, tx, Q_P_PUT, &q, &err)) == NULL)
		return err;
	*jj->out = next;
	jj->out->joined = !live_own;
out:
	PQclear(res);
	return err;
}

enum store_err
pgp_join(store *st, const struct store_join *j, struct store_presence *out)
{
	struct join_job	 jj = { j, out };

	return in_tx(st, join_body, &jj);
}

struct leave_job {
	const char		*key, *session, *principal;
	size_t			 klen, slen;
	enum store_left		 why;
	struct store_presence	*out;
};

static enum store_err
leave_body(store *st, struct pgtx *tx, void *arg)
{
	struct leave_job	*lj = arg;
	int64_t			 now = st->clock(st->clock_arg);
	PGresult		*res;
	struct pgq		 q;
	enum store_err		 err;

	pgq_init(&q);
	pgq_bytes(&q, lj->key, lj->klen);
	pgq_bytes(&q, lj->session, lj->slen);
	pgq_int(&q, now);
	pgq_int(&q, 1);
	if ((res = run(st, tx, Q_P_KEY, &q, &err)) == NULL)
		return err;
	if (PQntuples(res) == 0 || pgp_row(res, 0, 0, lj->out) == -1 ||
	    lj->out->left != STORE_PRESENT || lj->out->slen != lj->slen ||
	    memcmp(lj->out->session, lj->session, lj->slen) != 0)
		err = STORE_NOTFOUND;
	else if (lj->principal != NULL &&
	    strcmp(lj->out->principal, lj->principal) != 0)
		err = STORE_NOT_OWNER;
	PQclear(res);
	if (err != STORE_OK)
		return err;
	lj->out->left = lj->why;
	lj->out->seq = ++tx->seq;
	pgq_init(&q);
	pgq_bytes(&q, lj->key, lj->klen);
	pgq_bytes(&q, lj->session, lj->slen);
	pgq_int(&q, (int64_t)lj->why);
	pgq_int(&q, (int64_t)lj->out->seq);
	pgq_int(&q, now + STORE_PRESENCE_KEEP_US);
	if ((res = run(st, tx, Q_P_LEAVE, &q, &err)) == NULL)
		return err;
	PQclear(res);
	return STORE_OK;
}

enum store_err
pgp_leave(store *st, const char *key, size_t klen, const char *session,
    size_t slen, const char *principal, enum store_left why,
    struct store_presence *out)
{
	struct leave_job lj = { key, session, principal, klen, slen, why,
			    out };

	return in_tx(st, leave_body, &lj);
}

enum store_err
pgp_list(store *st, const char *key, size_t klen, int exact, size_t max,
    struct store_presence **out, size_t *n, int *more)
{
	unsigned char	 to[STORE_PRESENCE_KEY_MAX];
	struct pgconn	*pc;
	PGresult	*res = NULL;
	struct store_presence *ps = NULL;
	struct pgq	 q;
	size_t		 tlen = exact ? 0 : pg_prefix_end(key, klen, to);
	size_t		 rows, i;
	enum store_err	 err;

	pgq_init(&q);
	pgq_bytes(&q, key, klen);
	pgq_bool(&q, exact);
	pgq_int(&q, st->clock(st->clock_arg));
	pgq_int(&q, (int64_t)max + 1);	/* one more: is there more? */
	if (tlen > 0)
		pgq_bytes(&q, to, tlen);
	if ((pc = pg_take(st)) == NULL)
		return STORE_UNAVAILABLE;
	if ((res = pg_run(st, pc, tlen > 0 ? Q_P_LIST_TO : Q_P_LIST, &q,
	    &err)) == NULL)
		goto out;
	rows = (size_t)PQntuples(res);
	err = STORE_NOMEM;
	if ((ps = calloc(max, sizeof(*ps))) == NULL)
		goto out;
	err = STORE_CORRUPT;
	for (i = 0; i < rows && i < max; i++)
		if (pgp_row(res, (int)i, 0, &ps[i]) == -1)
			goto out;
	*n = i;
	*more = rows > max;
	*out = ps;
	ps = NULL;
	err = STORE_OK;
out:
	PQclear(res);
	pg_give(st, pc);
	free(ps);
	return err;
}

struct sweep_job {
	int64_t		 now;
	size_t		 max;
	size_t		*expired;
};

static enum store_err
sweep_body(store *st, struct pgtx *tx, void *arg)
{
	struct sweep_job *sj = arg;
	PGresult	*res;
	struct pgq	 q;
	enum store_err	 err;
	size_t		 n;

	pgq_init(&q);
	pgq_int(&q, sj->now);
	pgq_int(&q, (int64_t)sj->max);
	pgq_int(&q, (int64_t)tx->seq);
	pgq_int(&q, sj->now + STORE_PRESENCE_KEEP_US);
	if ((res = run(st, tx, Q_P_EXPIRE, &q, &err)) == NULL)
		return err;
	n = (size_t)PQntuples(res);
	PQclear(res);
	tx->seq += n;
	*sj->expired = n;
	if (n >= sj->max)
		return STORE_OK;
	pgq_init(&q);
	pgq_int(&q, sj->now);
	pgq_int(&q, (int64_t)(sj->max - n));
	if ((res = run(st, tx, Q_P_DROP, &q, &err)) == NULL)
		return err;
	PQclear(res);
	return STORE_OK;
}

enum store_err
pgp_sweep(store *st, size_t max, size_t *expired)
{
	struct sweep_job sj = { st->clock(st->clock_arg), max, expired };
	struct pgconn	*pc;
	PGresult	*res;
	struct pgq	 q;
	enum store_err	 err;
	int		 due;

	if ((pc = pg_take(st)) == NULL)
		return STORE_UNAVAILABLE;
	pgq_init(&q);
	pgq_int(&q, sj.now);
	res = pg_run(st, pc, Q_P_DUE, &q, &err);
	due = res != NULL && PQntuples(res) == 1 && pg_bool(res, 0, 0);
	PQclear(res);
	pg_give(st, pc);
	if (res == NULL)
		return err;
	if (!due)
		return STORE_OK;
	if ((err = in_tx(st, sweep_body, &sj)) != STORE_OK)
		*expired = 0;
	return err;
}

enum store_err
pgp_lock_check(store *st, struct pgtx *tx, const char *key, size_t klen,
    const char *principal, int64_t now, struct store_presence *holder)
{
	PGresult	*res;
	struct pgq	 q;
	enum store_err	 err;

	if (tx->failed)
		return STORE_IO;
	if (klen > STORE_PRESENCE_KEY_MAX)
		return STORE_OK;	/* no session can be on it */
	if (principal == NULL)
		principal = "";
	pgq_init(&q);
	pgq_bytes(&q, key, klen);
	pgq_bytes(&q, principal, strlen(principal));
	pgq_int(&q, now);
	if ((res = run(st, tx, Q_P_HOLDER, &q, &err)) == NULL)
		return err;
	err = STORE_OK;
	if (PQntuples(res) == 1)
		err = pgp_row(res, 0, 0, holder) == -1 ? STORE_CORRUPT :
		    STORE_LOCKED;
	PQclear(res);
	return err;
}
