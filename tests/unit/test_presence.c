/*
 * Unit tests of presence through store.h alone (API.md 13), on a clock
 * the test moves: join and renew, the events they take, lock exclusivity,
 * the bounds, expiry by the sweep, leaves dropped from the feed after
 * STORE_PRESENCE_KEEP_US, and a write refused for another's lock.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "t.h"
#include "tstore.h"

static int64_t	 now_us = (int64_t)1800000000 * 1000000;

static int64_t
test_clock(void *arg)
{
	(void)arg;
	return now_us;
}

static store *
open_presence(void)
{
	return tstore_open((size_t)64 << 20, test_clock);
}

static enum store_err
join(store *st, const char *key, const char *session, const char *by,
    const char *state, int ttl_s, int lock, struct store_presence *out)
{
	struct store_join	 j;

	memset(&j, 0, sizeof(j));
	j.key = key;
	j.klen = strlen(key);
	j.session = session;
	j.slen = strlen(session);
	j.principal = by;
	j.state = state;
	j.statelen = state != NULL ? strlen(state) : 0;
	j.ttl_us = (int64_t)ttl_s * 1000000;
	j.lock = lock;
	j.per_key = 3;
	j.per_principal = 4;
	return store_presence_join(st, &j, out);
}

static enum store_err
leave(store *st, const char *key, const char *session, const char *by,
    enum store_left why)
{
	struct store_presence	 p;

	return store_presence_leave(st, key, strlen(key), session,
	    strlen(session), by, why, &p);
}

/* The presence events after since under prefix "" (all), in *ch. */
static void
events(store *st, uint64_t since, struct store_changes *ch)
{
	CHECK(store_changes_ex(st, since, NULL, 0, 100, 0, 1, ch) ==
	    STORE_OK);
}

static void
test_join_renew_events(void)
{
	store			*st = open_presence();
	struct store_presence	 p, q, *ps;
	struct store_changes	 ch;
	size_t			 n;
	int			 more;

	CHECK(join(st, "j/a", "s1", "alice", "{\"f\":1}", 10, 0, &p) ==
	    STORE_OK);
	CHECK(p.joined && p.seq == 1 && p.since_us == now_us &&
	    p.expires_us == now_us + 10000000);
	now_us += 1000000;
	/* a renewal that changes nothing takes no seq */
	CHECK(join(st, "j/a", "s1", "alice", "{\"f\":1}", 10, 0, &q) ==
	    STORE_OK);
	CHECK(!q.joined && q.seq == 1 && q.since_us == p.since_us &&
	    q.expires_us == now_us + 10000000);
	CHECK(store_seq(st) == 1);
	CHECK(join(st, "j/a", "s1", "alice", "{\"f\":2}", 10, 0, &q) ==
	    STORE_OK && q.seq == 2);
	/* without presence the feed has nothing; with, the latest event */
	CHECK(store_changes(st, 0, NULL, 0, 100, 0, &ch) == STORE_OK &&
	    ch.n == 0 && ch.last_seq == 2);
	store_changes_free(&ch);
	events(st, 0, &ch);
	CHECK(ch.n == 1 && ch.items[0].seq == 2 && ch.items[0].presence &&
	    ch.items[0].presence->statelen == 7 &&
	    memcmp(ch.items[0].presence->state, "{\"f\":2}", 7) == 0 &&
	    strcmp(ch.items[0].key, "j/a") == 0);
	store_changes_free(&ch);
	/* another principal may not take the session over */
	CHECK(join(st, "j/a", "s1", "bob", NULL, 10, 0, &q) ==
	    STORE_NOT_OWNER && strcmp(q.principal, "alice") == 0);
	CHECK(leave(st, "j/a", "s1", "bob", STORE_LEFT_LEAVE) ==
	    STORE_NOT_OWNER);
	CHECK(join(st, "j/ab", "s1", "bob", NULL, 10, 0, &q) == STORE_OK);
	CHECK(store_presence_list(st, "j/a", 3, 1, 10, &ps, &n, &more) ==
	    STORE_OK && n == 1 && strcmp(ps[0].session, "s1") == 0 &&
	    strcmp(ps[0].principal, "alice") == 0);
	free(ps);
	CHECK(store_presence_list(st, "j/", 2, 0, 1, &ps, &n, &more) ==
	    STORE_OK && n == 1 && more);
	free(ps);
	CHECK(leave(st, "j/a", "s1", "alice", STORE_LEFT_LEAVE) == STORE_OK);
	CHECK(leave(st, "j/a", "s1", "alice", STORE_LEFT_LEAVE) ==
	    STORE_NOTFOUND);
	events(st, 2, &ch);
	CHECK(ch.n == 2 && ch.items[1].presence->left == STORE_LEFT_LEAVE);
	store_changes_free(&ch);
	tstore_close(st);
}

static void
test_locks_and_bounds(void)
{
	store			*st = open_presence();
	struct store_presence	 p, h;
	struct store_op		 op;

	CHECK(join(st, "k", "s1", "alice", NULL, 10, 1, &p) == STORE_OK);
	CHECK(join(st, "k", "s2", "alice", NULL, 10, 1, &h) == STORE_LOCKED &&
	    strcmp(h.session, "s1") == 0);
	CHECK(join(st, "k", "s2", "bob", NULL, 10, 0, &p) == STORE_OK);
	CHECK(join(st, "k", "s3", "bob", NULL, 10, 0, &p) == STORE_OK);
	CHECK(join(st, "k", "s4", "carol", NULL, 10, 0, &p) ==
	    STORE_LIMIT_KEY);
	/* a renewal past the bound is fine */
	CHECK(join(st, "k", "s3", "bob", "1", 10, 0, &p) == STORE_OK);
	CHECK(join(st, "k2", "s", "bob", NULL, 10, 0, &p) == STORE_OK);
	CHECK(join(st, "k3", "s", "bob", NULL, 10, 0, &p) == STORE_OK);
	CHECK(join(st, "k4", "s", "bob", NULL, 10, 0, &p) ==
	    STORE_LIMIT_PRINCIPAL);
	CHECK(leave(st, "k3", "s", "bob", STORE_LEFT_LEAVE) == STORE_OK);
	CHECK(join(st, "k4", "s", "bob", NULL, 10, 0, &p) == STORE_OK);
	/* a write of another principal with a holder asked: refused */
	op = tstore_put_op("k", "1", NULL);
	op.principal = "bob";
	op.holder = &h;
	CHECK(store_write(st, &op) == STORE_LOCKED &&
	    strcmp(h.principal, "alice") == 0 && strcmp(h.session, "s1") == 0);
	CHECK(store_get(st, "k", 1, &op.meta, &op.cur_value, &op.cur_vlen) ==
	    STORE_NOTFOUND);
	op = tstore_put_op("k", "1", NULL);
	op.principal = "alice";
	op.holder = &h;
	CHECK(store_write(st, &op) == STORE_OK);
	op = tstore_put_op("k", "2", NULL);
	op.principal = "bob";
	CHECK(store_write(st, &op) == STORE_OK);	/* none asked */
	/* past its expiry a lock holds nothing */
	now_us += 11000000;
	op = tstore_put_op("k", "3", NULL);
	op.principal = "bob";
	op.holder = &h;
	CHECK(store_write(st, &op) == STORE_OK);
	tstore_close(st);
}

static void
test_sweep(void)
{
	store			*st = open_presence();
	struct store_presence	 p, *ps;
	struct store_changes	 ch;
	uint64_t		 s0, gone;
	size_t			 n;
	int			 more;

	CHECK(join(st, "e", "short", "alice", NULL, 1, 1, &p) == STORE_OK);
	CHECK(join(st, "e", "long", "alice", NULL, 100, 0, &p) == STORE_OK);
	CHECK(store_presence_sweep(st, 10, &n) == STORE_OK && n == 0);
	s0 = store_seq(st);
	now_us += 2000000;
	/* past expiry: not listed even before the sweep, lock free */
	CHECK(store_presence_list(st, "e", 1, 1, 10, &ps, &n, &more) ==
	    STORE_OK && n == 1 && strcmp(ps[0].session, "long") == 0);
	free(ps);
	CHECK(join(st, "e", "other", "bob", NULL, 10, 1, &p) == STORE_OK);
	CHECK(store_presence_sweep(st, 10, &n) == STORE_OK && n == 1);
	CHECK(store_presence_sweep(st, 10, &n) == STORE_OK && n == 0);
	events(st, s0, &ch);
	CHECK(ch.n == 2 && strcmp(ch.items[1].presence->session, "short") ==
	    0 && ch.items[1].presence->left == STORE_LEFT_EXPIRED);
	gone = ch.n == 2 ? ch.items[1].seq : 0;
	store_changes_free(&ch);
	/* alice's count went down with it: she may join 3 more (of 4) */
	CHECK(join(st, "f1", "s", "alice", NULL, 1000, 0, &p) == STORE_OK);
	CHECK(join(st, "f2", "s", "alice", NULL, 1000, 0, &p) == STORE_OK);
	CHECK(join(st, "f3", "s", "alice", NULL, 1000, 0, &p) == STORE_OK);
	CHECK(join(st, "f4", "s", "alice", NULL, 1000, 0, &p) ==
	    STORE_LIMIT_PRINCIPAL);
	/*
	 * The leave's event goes from the feed after the time kept; "long"
	 * and "other" expire meanwhile, events of their own.
	 */
	now_us += STORE_PRESENCE_KEEP_US + 1;
	CHECK(store_presence_sweep(st, 100, &n) == STORE_OK && n == 2);
	events(st, s0, &ch);
	CHECK(ch.n == 5);
	for (n = 0; n < ch.n; n++)
		CHECK(ch.items[n].seq != gone);
	store_changes_free(&ch);
	tstore_close(st);
}

static void
test_invalid(void)
{
	store			*st = open_presence();
	struct store_presence	 p;
	char			 big[STORE_STATE_MAX + 2];

	memset(big, '1', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CHECK(join(st, "k", "a b", NULL, NULL, 10, 0, &p) == STORE_INVALID);
	CHECK(join(st, "k", "", NULL, NULL, 10, 0, &p) == STORE_INVALID);
	CHECK(join(st, "k", "s", NULL, big, 10, 0, &p) == STORE_INVALID);
	CHECK(join(st, "k", "s", NULL, NULL, 0, 0, &p) == STORE_INVALID);
	CHECK(join(st, "", "s", NULL, NULL, 10, 0, &p) == STORE_INVALID);
	CHECK(store_seq(st) == 0);
	tstore_close(st);
}

static void
run_all(void)
{
	RUN(test_join_renew_events);
	RUN(test_locks_and_bounds);
	RUN(test_sweep);
	RUN(test_invalid);
}

int
main(void)
{
	run_all();
	if (tstore_use_pg())
		run_all();
	return T_EXIT();
}
