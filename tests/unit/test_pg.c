/*
 * The postgres backend under concurrency, through store.h alone: threads
 * of two stores on one database (two hosts) race a compare-and-swap on
 * one key, and exactly one wins each round; seq stays strictly increasing
 * across them; a commit through one host reaches the other's on_commit,
 * by NOTIFY at once and, without it, by the seq read every second; the
 * idle connections that the server closed are replaced, with no error; a
 * write the database refuses fails its op alone. Runs when VERSTORE_PG names a database
 * (tests/pg.sh), and says it skipped otherwise.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"
#include "t.h"
#include "tstore.h"

#define HOSTS		2
#define RACERS		8	/* threads per round, over both hosts */
#define ROUNDS		20

static store		*hosts[HOSTS];
static pthread_barrier_t bar;
static uint64_t		 base;		/* the version every racer names */
static enum store_err	 got[RACERS];

/* Opens two stores on the database, as two hosts would. */
static void
open_hosts(void)
{
	struct store_opts	 o;

	memset(&o, 0, sizeof(o));
	hosts[0] = tstore_open_opts(&o);
	memset(&o, 0, sizeof(o));
	tstore_reopen_opts(&o);
	if (store_open(&o, &hosts[1]) != STORE_OK)
		abort();
}

static void
close_hosts(void)
{
	store_close(hosts[1]);
	tstore_close(hosts[0]);
}

static void *
racer(void *arg)
{
	int			 i = (int)(intptr_t)arg;
	struct store_cond	 c;
	struct store_op		 op;
	char			 v[16];

	memset(&c, 0, sizeof(c));
	c.flags = STORE_IF_MATCH;
	c.nmatch = 1;
	c.match[0].kind = STORE_TAG_VERSION;
	c.match[0].version = base;
	snprintf(v, sizeof(v), "%d", i);
	memset(&op, 0, sizeof(op));
	op.kind = STORE_OP_PUT;
	op.key = "race";
	op.klen = 4;
	op.value = v;
	op.vlen = strlen(v);
	op.cond = &c;
	pthread_barrier_wait(&bar);
	/* half through group commit, half straight into a transaction */
	if (i % 4 < 2)
		(void)store_write(hosts[i % HOSTS], &op);
	else
		(void)store_apply(hosts[i % HOSTS], &op, 1);
	got[i] = op.err;
	free(op.cur_value);
	return NULL;
}

static void
test_cas_one_winner(void)
{
	pthread_t		 th[RACERS];
	struct store_op		 op;
	struct store_meta	 m;
	char			*v;
	size_t			 n;
	int			 r, i, wins, lost, other = 0;

	open_hosts();
	memset(&op, 0, sizeof(op));
	op.kind = STORE_OP_PUT;
	op.key = "race";
	op.klen = 4;
	op.value = "0";
	op.vlen = 1;
	CHECK(store_write(hosts[0], &op) == STORE_OK);
	pthread_barrier_init(&bar, NULL, RACERS);
	for (r = 0; r < ROUNDS; r++) {
		base = (uint64_t)r + 1;
		for (i = 0; i < RACERS; i++)
			pthread_create(&th[i], NULL, racer, (void *)(intptr_t)i);
		for (i = 0; i < RACERS; i++)
			pthread_join(th[i], NULL);
		for (i = wins = lost = 0; i < RACERS; i++) {
			wins += got[i] == STORE_OK;
			lost += got[i] == STORE_PRECOND;
			if (got[i] != STORE_OK && got[i] != STORE_PRECOND) {
				fprintf(stderr, "  round %d: err %d\n", r,
				    got[i]);
				other++;
			}
		}
		CHECK(wins == 1 && lost == RACERS - 1);
	}
	CHECK(other == 0);
	pthread_barrier_destroy(&bar);
	CHECK(store_get(hosts[1], "race", 4, &m, &v, &n) == STORE_OK);
	CHECK(m.version == ROUNDS + 1);
	free(v);
	close_hosts();
}

#define WRITERS		6
#define WRITES		40

static void *
writer(void *arg)
{
	int		 t = (int)(intptr_t)arg, i;
	struct store_op	 op;
	char		 k[32];

	for (i = 0; i < WRITES; i++) {
		snprintf(k, sizeof(k), "w/%d/%d", t, i % 7);
		memset(&op, 0, sizeof(op));
		op.kind = STORE_OP_PUT;
		op.key = k;
		op.klen = strlen(k);
		op.value = "1";
		op.vlen = 1;
		if (store_write(hosts[t % HOSTS], &op) != STORE_OK)
			fprintf(stderr, "  write %s: %d\n", k, op.err);
		free(op.cur_value);
	}
	return NULL;
}

static void
test_seq_across_hosts(void)
{
	pthread_t		 th[WRITERS];
	struct store_changes	 ch;
	struct store_prefix	 w = { "w/", 2 };
	uint64_t		 last = 0;
	size_t			 i;
	int			 t, ok = 1;

	open_hosts();
	for (t = 0; t < WRITERS; t++)
		pthread_create(&th[t], NULL, writer, (void *)(intptr_t)t);
	for (t = 0; t < WRITERS; t++)
		pthread_join(th[t], NULL);
	/* every write took one seq; the feed holds each key's last one */
	CHECK(store_seq(hosts[0]) == WRITERS * WRITES);
	CHECK(store_seq(hosts[1]) == WRITERS * WRITES);
	CHECK(store_changes(hosts[1], 0, &w, 1, 1000, 0, &ch) == STORE_OK);
	CHECK(ch.n == WRITERS * 7);
	for (i = 0; i < ch.n; i++) {
		if (ch.items[i].seq <= last)
			ok = 0;
		last = ch.items[i].seq;
	}
	CHECK(ok && ch.last_seq == WRITERS * WRITES);
	store_changes_free(&ch);
	close_hosts();
}

/* The server drops every connection of the database but psql's own. */
static int
drop_connections(void)
{
	char	 cmd[1400];

	snprintf(cmd, sizeof(cmd), "psql -X -q -o /dev/null \"%s\" -c "
	    "'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
	    "datname = current_database() AND pid <> pg_backend_pid()'",
	    getenv("VERSTORE_PG"));
	if (system(cmd) != 0)
		return -1;
	usleep(300 * 1000);	/* the backends end on their signal */
	return 0;
}

static void
log_line(int level, const char *func, const char *msg)
{
	if (level < 2)
		fprintf(stderr, "  [%d] %s: %s\n", level, func, msg);
}

/* What host 0's on_commit was told, and when. */
static pthread_mutex_t	 told_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 told_cond = PTHREAD_COND_INITIALIZER;
static uint64_t		 told;

static void
on_commit(void *arg, uint64_t seq)
{
	(void)arg;
	pthread_mutex_lock(&told_lock);
	if (seq > told)
		told = seq;
	pthread_cond_broadcast(&told_cond);
	pthread_mutex_unlock(&told_lock);
}

/* Waits at most ms for on_commit to be told of seq; the ms it took, or -1. */
static long
wait_told(uint64_t seq, long ms)
{
	struct timespec	 t0, t, until;
	long		 took = -1;

	clock_gettime(CLOCK_REALTIME, &t0);
	until = t0;
	until.tv_sec += ms / 1000;
	until.tv_nsec += (ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&told_lock);
	while (told < seq && pthread_cond_timedwait(&told_cond, &told_lock,
	    &until) == 0)
		;
	if (told >= seq) {
		clock_gettime(CLOCK_REALTIME, &t);
		took = (t.tv_sec - t0.tv_sec) * 1000 +
		    (t.tv_nsec - t0.tv_nsec) / 1000000;
	}
	pthread_mutex_unlock(&told_lock);
	return took;
}

/* Runs sql on the database with psql; 0 or -1. */
static int
psql(const char *sql)
{
	char	 cmd[1400];

	snprintf(cmd, sizeof(cmd), "psql -X -q -o /dev/null \"%s\" -c \"%s\"",
	    tstore_conninfo, sql);
	return system(cmd) == 0 ? 0 : -1;
}

/*
 * Host 0 learns of host 1's commits: at once, by NOTIFY (well within the
 * second that the seq read waits); and of a seq moved with no NOTIFY at
 * all (as on an engine without it), by that read.
 */
static void
test_other_hosts_commits_are_told(void)
{
	struct store_opts	 o;
	struct store_op		 op;
	uint64_t		 seq;
	long			 took;

	memset(&o, 0, sizeof(o));
	o.on_commit = on_commit;
	hosts[0] = tstore_open_opts(&o);
	memset(&o, 0, sizeof(o));
	tstore_reopen_opts(&o);
	CHECK(store_open(&o, &hosts[1]) == STORE_OK);
	usleep(200 * 1000);	/* host 0's listener connects */
	memset(&op, 0, sizeof(op));
	op.kind = STORE_OP_PUT;
	op.key = "told";
	op.klen = 4;
	op.value = "1";
	op.vlen = 1;
	CHECK(store_write(hosts[1], &op) == STORE_OK);
	took = wait_told(store_seq(hosts[1]), 3000);
	CHECK(took >= 0 && took < 500);
	/* a seq moved without NOTIFY: the read every second finds it */
	seq = store_seq(hosts[1]);
	CHECK(psql("UPDATE verstore_meta SET value = value + 1 "
	    "WHERE name = 'seq'") == 0);
	CHECK(store_seq(hosts[1]) == seq + 1);
	took = wait_told(seq + 1, 5000);
	CHECK(took >= 0);
	close_hosts();
}

static void
test_connection_lost(void)
{
	struct store_opts	 o;
	struct store_op		 op;
	struct store_meta	 m;
	store			*st;
	char			*v;
	size_t			 n;
	enum store_err		 e;

	memset(&o, 0, sizeof(o));
	o.log = log_line;
	st = tstore_open_opts(&o);
	memset(&op, 0, sizeof(op));
	op.kind = STORE_OP_PUT;
	op.key = "k";
	op.klen = 1;
	op.value = "1";
	op.vlen = 1;
	CHECK(store_write(st, &op) == STORE_OK);
	CHECK(drop_connections() == 0);
	/* the pool's connections that the server closed are replaced */
	e = store_get(st, "k", 1, &m, &v, &n);
	CHECK(e == STORE_OK);
	if (e == STORE_OK)
		free(v);
	/* a write begins on a fresh connection when its own was dropped */
	CHECK(drop_connections() == 0);
	CHECK(store_write(st, &op) == STORE_OK && op.meta.version == 2);
	tstore_close(st);
}

/* The database refuses a value "bad" of a key from here on. */
static int
refuse_bad(void)
{
	char	 cmd[1400];

	snprintf(cmd, sizeof(cmd), "psql -X -q -o /dev/null \"%s\" -c "
	    "\"ALTER TABLE " TSTORE_SCHEMA ".verstore_kv ADD CONSTRAINT "
	    "no_bad CHECK (value IS NULL OR value <> 'bad'::bytea)\"",
	    getenv("VERSTORE_PG"));
	return system(cmd) == 0 ? 0 : -1;
}

/*
 * A write that the database refuses (here when the batch commits) fails
 * its own op, which keeps the state it found; the other ops of its batch
 * are applied and committed without it.
 */
static void
test_refused_write(void)
{
	store		*st = tstore_open(0, NULL);
	struct store_op	 ops[3];
	struct store_meta m;
	char		*v;
	size_t		 n;

	ops[0] = tstore_put_op("k", "1", NULL);
	CHECK(store_apply(st, ops, 1) == STORE_OK && ops[0].err == STORE_OK);
	CHECK(refuse_bad() == 0);
	ops[0] = tstore_put_op("k", "bad", NULL);
	(void)store_apply(st, ops, 1);
	CHECK(ops[0].err == STORE_IO && ops[0].meta.version == 1);
	ops[0] = tstore_put_op("a", "1", NULL);
	ops[1] = tstore_put_op("b", "bad", NULL);
	ops[2] = tstore_put_op("k", "2", NULL);
	CHECK(store_apply(st, ops, 3) == STORE_OK);
	CHECK(ops[0].err == STORE_OK && ops[0].meta.version == 1);
	CHECK(ops[1].err == STORE_IO && ops[1].meta.version == 0);
	CHECK(ops[2].err == STORE_OK && ops[2].meta.version == 2);
	CHECK(store_get(st, "b", 1, &m, &v, &n) == STORE_NOTFOUND);
	CHECK(store_get(st, "k", 1, &m, &v, &n) == STORE_OK && m.version == 2);
	free(v);
	CHECK(store_seq(st) == 3);
	tstore_close(st);
}

int
main(void)
{
	if (!tstore_use_pg())
		return T_EXIT();
	RUN(test_cas_one_winner);
	RUN(test_seq_across_hosts);
	RUN(test_other_hosts_commits_are_told);
	RUN(test_connection_lost);
	RUN(test_refused_write);
	return T_EXIT();
}
