/*
 * presence.c - presence and soft locks (API.md 13) on LMDB.
 *
 * "presence" maps a session's name (its key, NUL, its session id) to its
 * entry; "presence_exp" holds its expiry (be64), then the name, so that
 * the sweep finds the sessions due in order; "presence_count" the number
 * of sessions of each principal (a NUL byte for none). Every event of a
 * session is an entry of "changes" (feed.c) under its seq, whose value is
 * PRESENCE_MARK then the whole entry, which no key starts with (a control
 * character): a session's latest event replaces its previous one there.
 * A leave's event is dropped from "changes" STORE_PRESENCE_KEEP_US later,
 * by the sweep, through "presence_gone": the time (be64), then the seq.
 *
 * An entry: mark, lock, left, session length (1 byte each), the lengths
 * of principal, state and key (2 bytes each), 6 zero, seq, since and
 * expiry (8 each, host order), then principal, state, key and session.
 */
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "store/store.h"
#include "store/store_int.h"
#include "lmdb_int.h"

#define PHEAD		40
#define PNAME_MAX	(STORE_PRESENCE_KEY_MAX + 1 + STORE_SESSION_MAX)
#define PENC_MAX	(PHEAD + STORE_PRINCIPAL_MAX + STORE_STATE_MAX + \
			    PNAME_MAX)
/* entries one look at a key's sessions reads, at most */
#define KEY_SCAN_MAX	(STORE_PRESENCE_PER_KEY_MAX + 64)
/* entries one list reads, at most, past those it returns */
#define LIST_SCAN_MAX	(4 * STORE_PRESENCE_LIST_MAX)

static size_t
penc(const struct store_presence *p, unsigned char *o)
{
	size_t		 plen = strlen(p->principal), off = PHEAD;
	uint16_t	 u;

	memset(o, 0, PHEAD);
	o[0] = PRESENCE_MARK;
	o[1] = (unsigned char)(p->lock != 0);
	o[2] = (unsigned char)p->left;
	o[3] = (unsigned char)p->slen;
	u = (uint16_t)plen;
	memcpy(o + 4, &u, 2);
	u = (uint16_t)p->statelen;
	memcpy(o + 6, &u, 2);
	u = (uint16_t)p->klen;
	memcpy(o + 8, &u, 2);
	memcpy(o + 16, &p->seq, 8);
	memcpy(o + 24, &p->since_us, 8);
	memcpy(o + 32, &p->expires_us, 8);
	memcpy(o + off, p->principal, plen);
	off += plen;
	memcpy(o + off, p->state, p->statelen);
	off += p->statelen;
	memcpy(o + off, p->key, p->klen);
	off += p->klen;
	memcpy(o + off, p->session, p->slen);
	return off + p->slen;
}

int
presence_decode(const void *data, size_t n, struct store_presence *p)
{
	const unsigned char	*b = data;
	uint16_t		 plen, statelen, klen;
	size_t			 off = PHEAD;

	memset(p, 0, sizeof(*p));
	if (n < PHEAD || b[0] != PRESENCE_MARK)
		return -1;
	memcpy(&plen, b + 4, 2);
	memcpy(&statelen, b + 6, 2);
	memcpy(&klen, b + 8, 2);
	if (plen > STORE_PRINCIPAL_MAX || statelen > STORE_STATE_MAX ||
	    klen == 0 || klen > STORE_PRESENCE_KEY_MAX || b[3] == 0 ||
	    b[3] > STORE_SESSION_MAX || b[2] > STORE_LEFT_FORCED ||
	    n != PHEAD + (size_t)plen + statelen + klen + b[3])
		return -1;
	p->lock = b[1];
	p->left = (enum store_left)b[2];
	p->slen = b[3];
	memcpy(&p->seq, b + 16, 8);
	memcpy(&p->since_us, b + 24, 8);
	memcpy(&p->expires_us, b + 32, 8);
	memcpy(p->principal, b + off, plen);
	off += plen;
	memcpy(p->state, b + off, statelen);
	p->statelen = statelen;
	off += statelen;
	memcpy(p->key, b + off, klen);
	p->klen = klen;
	off += klen;
	memcpy(p->session, b + off, p->slen);
	return 0;
}

/* A session's name in "presence": key NUL session; its length. */
static size_t
pname(const char *key, size_t klen, const char *s, size_t slen,
    unsigned char *out)
{
	memcpy(out, key, klen);
	out[klen] = '\0';
	memcpy(out + klen + 1, s, slen);
	return klen + 1 + slen;
}

static enum store_err
put(store *st, MDB_txn *txn, MDB_dbi dbi, const void *k, size_t kn,
    const void *v, size_t vn)
{
	MDB_val	 kv = { kn, (void *)k }, vv = { vn, (void *)v };
	int	 rc;

	if ((rc = mdb_put(txn, dbi, &kv, &vv, 0)) != 0)
		return db_err(st, __func__, "mdb_put", rc);
	return STORE_OK;
}

static enum store_err
del(store *st, MDB_txn *txn, MDB_dbi dbi, const void *k, size_t kn)
{
	MDB_val	 kv = { kn, (void *)k };
	int	 rc;

	if ((rc = mdb_del(txn, dbi, &kv, NULL)) != 0 && rc != MDB_NOTFOUND)
		return db_err(st, __func__, "mdb_del", rc);
	return STORE_OK;
}

/* The expiry index's entry of p: its length. */
static size_t
exp_name(const struct store_presence *p, unsigned char *out)
{
	db_be64(out, (uint64_t)p->expires_us);
	return 8 + pname(p->key, p->klen, p->session, p->slen, out + 8);
}

/* Adds delta to the count of principal's sessions; *n the count before. */
static enum store_err
count_add(store *st, MDB_txn *txn, const char *principal, int delta,
    uint32_t *n)
{
	MDB_val		 k, v;
	uint32_t	 c = 0;
	int		 rc;

	k.mv_data = principal[0] != '\0' ? (void *)principal : "";
	k.mv_size = principal[0] != '\0' ? strlen(principal) : 1;
	if ((rc = mdb_get(txn, st->pcount, &k, &v)) == 0 &&
	    v.mv_size == sizeof(c))
		memcpy(&c, v.mv_data, sizeof(c));
	else if (rc != 0 && rc != MDB_NOTFOUND)
		return db_err(st, __func__, "mdb_get", rc);
	if (n != NULL)
		*n = c;
	if (delta == 0)
		return STORE_OK;
	if (delta < 0 && c == 0)
		return STORE_OK;
	c = delta < 0 ? c - 1 : c + 1;
	if (c == 0) {
		if ((rc = mdb_del(txn, st->pcount, &k, NULL)) != 0 &&
		    rc != MDB_NOTFOUND)
			return db_err(st, __func__, "mdb_del", rc);
		return STORE_OK;
	}
	v.mv_data = &c;
	v.mv_size = sizeof(c);
	if ((rc = mdb_put(txn, st->pcount, &k, &v, 0)) != 0)
		return db_err(st, __func__, "mdb_put", rc);
	return STORE_OK;
}

/*
 * Looks at key's sessions at now, but session[0..slen): *live counts the
 * live ones (KEY_SCAN_MAX or more: as many as that), and *holder gets the
 * first live lock of one whose principal is not `not_by` (NULL: of any
 * other session); *locked tells.
 */
static enum store_err
scan_key(store *st, MDB_txn *txn, const char *key, size_t klen,
    const char *session, size_t slen, const char *not_by, int64_t now,
    size_t *live, struct store_presence *holder, int *locked)
{
	unsigned char	 nm[STORE_PRESENCE_KEY_MAX + 1];
	MDB_cursor	*cur = NULL;
	MDB_val		 k, v;
	struct store_presence p;
	size_t		 scanned = 0;
	enum store_err	 err = STORE_OK;
	int		 rc, op = MDB_SET_RANGE;

	*live = 0;
	*locked = 0;
	memcpy(nm, key, klen);
	nm[klen] = '\0';
	if ((rc = mdb_cursor_open(txn, st->presence, &cur)) != 0)
		return db_err(st, __func__, "mdb_cursor_open", rc);
	k.mv_data = nm;
	k.mv_size = klen + 1;
	for (; scanned < KEY_SCAN_MAX; scanned++, op = MDB_NEXT) {
		if ((rc = mdb_cursor_get(cur, &k, &v, op)) == MDB_NOTFOUND)
			break;
		if (rc != 0) {
			err = db_err(st, __func__, "mdb_cursor_get", rc);
			goto out;
		}
		if (k.mv_size <= klen + 1 || memcmp(k.mv_data, nm,
		    klen + 1) != 0)
			break;
		if (presence_decode(v.mv_data, v.mv_size, &p) == -1) {
			err = STORE_CORRUPT;
			goto out;
		}
		if (p.expires_us <= now || (p.slen == slen &&
		    memcmp(p.session, session, slen) == 0))
			continue;
		(*live)++;
		if (p.lock && !*locked && (not_by == NULL ||
		    strcmp(p.principal, not_by) != 0)) {
			*holder = p;
			*locked = 1;
		}
	}
	if (scanned == KEY_SCAN_MAX)
		*live = KEY_SCAN_MAX;
out:
	mdb_cursor_close(cur);
	return err;
}

/* Tells on_commit of seq once it is committed. */
static enum store_err
commit(store *st, MDB_txn *txn, uint64_t seq)
{
	int	 rc;

	if ((rc = mdb_txn_commit(txn)) != 0)
		return db_err(st, __func__, "mdb_txn_commit", rc);
	if (seq > 0)
		write_posted(st, seq);
	return STORE_OK;
}

/*
 * Records old's leave for why at now: its event in the feed (its
 * previous one dropped), dropped itself later, and its entry gone.
 * *seq: the event's.
 */
static enum store_err
leave(store *st, MDB_txn *txn, struct store_presence *old,
    enum store_left why, int64_t now, uint64_t *seq)
{
	unsigned char	 b[8], g[16], e[8 + PNAME_MAX], enc[PENC_MAX];
	unsigned char	 nm[PNAME_MAX];
	enum store_err	 err;
	size_t		 n;

	if ((err = feed_next_seq(st, txn, seq)) != STORE_OK)
		return err;
	db_be64(b, old->seq);
	if ((err = del(st, txn, st->changes, b, 8)) != STORE_OK)
		return err;
	old->left = why;
	old->seq = *seq;
	n = penc(old, enc);
	db_be64(b, *seq);
	if ((err = put(st, txn, st->changes, b, 8, enc, n)) != STORE_OK)
		return err;
	db_be64(g, (uint64_t)(now + STORE_PRESENCE_KEEP_US));
	db_be64(g + 8, *seq);
	if ((err = put(st, txn, st->pgone, g, 16, "", 0)) != STORE_OK)
		return err;
	n = exp_name(old, e);
	if ((err = del(st, txn, st->pexp, e, n)) != STORE_OK)
		return err;
	n = pname(old->key, old->klen, old->session, old->slen, nm);
	if ((err = del(st, txn, st->presence, nm, n)) != STORE_OK)
		return err;
	return count_add(st, txn, old->principal, -1, NULL);
}

/* Reads the entry named nm[0..n): STORE_OK, STORE_NOTFOUND or an error. */
static enum store_err
get(store *st, MDB_txn *txn, const unsigned char *nm, size_t n,
    struct store_presence *p)
{
	MDB_val	 k = { n, (void *)nm }, v;
	int	 rc;

	if ((rc = mdb_get(txn, st->presence, &k, &v)) == MDB_NOTFOUND)
		return STORE_NOTFOUND;
	if (rc != 0)
		return db_err(st, __func__, "mdb_get", rc);
	if (presence_decode(v.mv_data, v.mv_size, p) == -1)
		return STORE_CORRUPT;
	return STORE_OK;
}

enum store_err
lmdb_presence_join(store *st, const struct store_join *j,
    struct store_presence *out)
{
	unsigned char	 nm[PNAME_MAX], e[8 + PNAME_MAX], enc[PENC_MAX], b[8];
	struct store_presence old, next, holder;
	MDB_txn		*txn = NULL;
	const char	*by = j->principal != NULL ? j->principal : "";
	int64_t		 now = st->clock(st->clock_arg);
	uint64_t	 seq = 0;
	uint32_t	 mine;
	size_t		 n, live;
	enum store_err	 err;
	int		 rc, had, locked, changed;

	if ((rc = mdb_txn_begin(st->env, NULL, 0, &txn)) != 0)
		return db_err(st, __func__, "mdb_txn_begin", rc);
	n = pname(j->key, j->klen, j->session, j->slen, nm);
	if ((err = get(st, txn, nm, n, &old)) != STORE_OK &&
	    err != STORE_NOTFOUND)
		goto out;
	had = err == STORE_OK;
	if (had && strcmp(old.principal, by) != 0) {
		*out = old;
		err = STORE_NOT_OWNER;
		goto out;
	}
	if ((err = scan_key(st, txn, j->key, j->klen, j->session, j->slen,
	    NULL, now, &live, &holder, &locked)) != STORE_OK)
		goto out;
	if (j->lock && locked) {
		*out = holder;
		err = STORE_LOCKED;
		goto out;
	}
	if (!had) {
		if ((err = count_add(st, txn, by, 0, &mine)) != STORE_OK)
			goto out;
		if (live >= j->per_key) {
			err = STORE_LIMIT_KEY;
			goto out;
		}
		if (mine >= j->per_principal) {
			err = STORE_LIMIT_PRINCIPAL;
			goto out;
		}
	}
	presence_from_join(&next, j, now);
	changed = !had || old.expires_us <= now || presence_changes(&old, j);
	if (had && old.expires_us > now)
		next.since_us = old.since_us;
	next.seq = had ? old.seq : 0;
	if (changed) {
		if ((err = feed_next_seq(st, txn, &seq)) != STORE_OK)
			goto out;
		if (had) {
			db_be64(b, old.seq);
			if ((err = del(st, txn, st->changes, b, 8)) != STORE_OK)
				goto out;
		}
		next.seq = seq;
		db_be64(b, seq);
		if ((err = put(st, txn, st->changes, b, 8, enc,
		    penc(&next, enc))) != STORE_OK)
			goto out;
	}
	if (had && (err = del(st, txn, st->pexp, e, exp_name(&old, e))) !=
	    STORE_OK)
		goto out;
	if ((err = put(st, txn, st->pexp, e, exp_name(&next, e), "", 0)) !=
	    STORE_OK ||
	    (err = put(st, txn, st->presence, nm, n, enc,
	    penc(&next, enc))) != STORE_OK)
		goto out;
	if (!had && (err = count_add(st, txn, by, 1, NULL)) != STORE_OK)
		goto out;
	err = commit(st, txn, seq);
	txn = NULL;
	if (err == STORE_OK) {
		*out = next;
		out->joined = !had || old.expires_us <= now;
	}
out:
	if (txn != NULL)
		mdb_txn_abort(txn);
	return err;
}

enum store_err
lmdb_presence_leave(store *st, const char *key, size_t klen,
    const char *session, size_t slen, const char *principal,
    enum store_left why, struct store_presence *out)
{
	unsigned char	 nm[PNAME_MAX];
	MDB_txn		*txn = NULL;
	uint64_t	 seq = 0;
	enum store_err	 err;
	int		 rc;

	if ((rc = mdb_txn_begin(st->env, NULL, 0, &txn)) != 0)
		return db_err(st, __func__, "mdb_txn_begin", rc);
	if ((err = get(st, txn, nm, pname(key, klen, session, slen, nm),
	    out)) != STORE_OK)
		goto out;
	if (principal != NULL && strcmp(out->principal, principal) != 0) {
		err = STORE_NOT_OWNER;
		goto out;
	}
	if ((err = leave(st, txn, out, why, st->clock(st->clock_arg),
	    &seq)) != STORE_OK)
		goto out;
	err = commit(st, txn, seq);
	txn = NULL;
out:
	if (txn != NULL)
		mdb_txn_abort(txn);
	return err;
}

enum store_err
lmdb_presence_list(store *st, const char *key, size_t klen, int exact,
    size_t max, struct store_presence **out, size_t *n, int *more)
{
	unsigned char	 nm[STORE_PRESENCE_KEY_MAX + 1];
	MDB_txn		*txn = NULL;
	MDB_cursor	*cur = NULL;
	MDB_val		 k, v;
	struct store_presence *ps = NULL;
	int64_t		 now = st->clock(st->clock_arg);
	size_t		 plen = klen + (exact ? 1 : 0), scanned = 0;
	enum store_err	 err = STORE_OK;
	int		 rc, op = MDB_SET_RANGE;

	memcpy(nm, key, klen);
	nm[klen] = '\0';
	if ((ps = calloc(max, sizeof(*ps))) == NULL)
		return STORE_NOMEM;
	if ((rc = db_read_begin(st, &txn)) != 0) {
		txn = NULL;
		err = db_err(st, __func__, "mdb_txn_begin", rc);
		goto out;
	}
	if ((rc = mdb_cursor_open(txn, st->presence, &cur)) != 0) {
		err = db_err(st, __func__, "mdb_cursor_open", rc);
		goto out;
	}
	k.mv_data = nm;
	k.mv_size = plen;
	if (plen == 0)
		op = MDB_FIRST;
	for (;; op = MDB_NEXT) {
		if ((rc = mdb_cursor_get(cur, &k, &v, op)) == MDB_NOTFOUND)
			break;
		if (rc != 0) {
			err = db_err(st, __func__, "mdb_cursor_get", rc);
			goto out;
		}
		if (k.mv_size < plen || memcmp(k.mv_data, nm, plen) != 0)
			break;
		if (*n == max || ++scanned > max + LIST_SCAN_MAX) {
			*more = 1;
			break;
		}
		if (presence_decode(v.mv_data, v.mv_size, &ps[*n]) == -1) {
			err = STORE_CORRUPT;
			goto out;
		}
		if (ps[*n].expires_us > now)
			(*n)++;
	}
	*out = ps;
	ps = NULL;
out:
	if (cur != NULL)
		mdb_cursor_close(cur);
	if (txn != NULL)
		db_read_end(txn);
	free(ps);
	if (err != STORE_OK)
		*n = 0;
	return err;
}

/* 1 when dbi's first entry is due at now (its key starts with be64). */
static int
due(MDB_txn *txn, MDB_dbi dbi, int64_t now, int *rcp)
{
	MDB_cursor	*cur;
	MDB_val		 k, v;
	unsigned char	 b[8];
	int		 rc, d = 0;

	*rcp = 0;
	if ((rc = mdb_cursor_open(txn, dbi, &cur)) != 0) {
		*rcp = rc;
		return 0;
	}
	db_be64(b, (uint64_t)now);
	rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	if (rc == 0)
		d = k.mv_size >= 8 && memcmp(k.mv_data, b, 8) <= 0;
	else if (rc != MDB_NOTFOUND)
		*rcp = rc;
	mdb_cursor_close(cur);
	return d;
}

enum store_err
lmdb_presence_sweep(store *st, size_t max, size_t *expired)
{
	size_t		 done = 0;
	MDB_txn		*txn = NULL;
	MDB_cursor	*cur = NULL;
	MDB_val		 k, v;
	struct store_presence p;
	int64_t		 now = st->clock(st->clock_arg);
	uint64_t	 seq = 0, s;
	enum store_err	 err = STORE_OK;
	int		 rc, rc2, any;

	if ((rc = db_read_begin(st, &txn)) != 0)
		return db_err(st, __func__, "mdb_txn_begin", rc);
	any = due(txn, st->pexp, now, &rc) || due(txn, st->pgone, now, &rc2);
	db_read_end(txn);
	txn = NULL;
	if (!any)
		return STORE_OK;
	if ((rc = mdb_txn_begin(st->env, NULL, 0, &txn)) != 0)
		return db_err(st, __func__, "mdb_txn_begin", rc);
	while (done < max && due(txn, st->pexp, now, &rc)) {
		if ((rc = mdb_cursor_open(txn, st->pexp, &cur)) != 0 ||
		    (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST)) != 0) {
			err = db_err(st, __func__, "expiry", rc);
			goto out;
		}
		err = get(st, txn, (unsigned char *)k.mv_data + 8,
		    k.mv_size - 8, &p);
		if (err == STORE_OK && p.expires_us <= now) {
			mdb_cursor_close(cur);
			cur = NULL;
			if ((err = leave(st, txn, &p, STORE_LEFT_EXPIRED, now,
			    &seq)) != STORE_OK)
				goto out;
			(*expired)++;
		} else if (err == STORE_OK || err == STORE_NOTFOUND) {
			/* an index entry its session left behind */
			if ((rc = mdb_cursor_del(cur, 0)) != 0) {
				err = db_err(st, __func__, "mdb_cursor_del", rc);
				goto out;
			}
		} else
			goto out;
		if (cur != NULL)
			mdb_cursor_close(cur);
		cur = NULL;
		done++;
	}
	while (done < max && due(txn, st->pgone, now, &rc)) {
		if ((rc = mdb_cursor_open(txn, st->pgone, &cur)) != 0 ||
		    (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST)) != 0) {
			err = db_err(st, __func__, "gone", rc);
			goto out;
		}
		s = 0;
		if (k.mv_size == 16) {
			unsigned char	*q = (unsigned char *)k.mv_data + 8;
			int		 i;

			for (i = 0; i < 8; i++)
				s = s << 8 | q[i];
		}
		if ((rc = mdb_cursor_del(cur, 0)) != 0) {
			err = db_err(st, __func__, "mdb_cursor_del", rc);
			goto out;
		}
		mdb_cursor_close(cur);
		cur = NULL;
		if (s > 0) {
			unsigned char	 b[8];

			db_be64(b, s);
			if ((err = del(st, txn, st->changes, b, 8)) != STORE_OK)
				goto out;
		}
		done++;
	}
	if (rc != 0) {
		err = db_err(st, __func__, "due", rc);
		goto out;
	}
	err = commit(st, txn, seq);
	txn = NULL;
out:
	if (cur != NULL)
		mdb_cursor_close(cur);
	if (txn != NULL)
		mdb_txn_abort(txn);
	if (err != STORE_OK)
		*expired = 0;
	return err;
}

enum store_err
presence_lock_check(store *st, MDB_txn *txn, const char *key, size_t klen,
    const char *principal, struct store_presence *holder)
{
	size_t		 live;
	enum store_err	 err;
	int		 locked;

	if (klen > STORE_PRESENCE_KEY_MAX)
		return STORE_OK;	/* no session can be on it */
	if ((err = scan_key(st, txn, key, klen, "", 0, principal != NULL ?
	    principal : "", st->clock(st->clock_arg), &live, holder,
	    &locked)) != STORE_OK)
		return err;
	return locked ? STORE_LOCKED : STORE_OK;
}
