/*
 * Group commit (store_write): many threads of one process racing mixed
 * conditional writes over a few keys, checked against a serial model;
 * batches really form; a write that cannot be stored leaves its batch-mates'
 * results intact.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"
#include "t.h"
#include "tstore.h"

static atomic_llong	 clock_us = 1700000000000000LL;
static atomic_int	 hold_first;	/* the first clock read sleeps */

static int64_t
test_clock(void *arg)
{
	(void)arg;
	if (atomic_exchange(&hold_first, 0))
		usleep(300 * 1000);	/* the leader holds its txn open */
	return atomic_fetch_add(&clock_us, 7);
}

static store *
open_store(size_t map_size)
{
	return tstore_open(map_size, test_clock);
}

#define close_store tstore_close

/* ---- the serial model -------------------------------------------------- */

#define NTHREADS	12
#define NOPS		250
#define NKEYS		4

enum kind { K_PUT, K_IFMATCH, K_TOKEN, K_CREATE, K_DELETE };

struct rec {
	int		 key;
	enum kind	 kind;
	uint64_t	 base;		/* version the condition names */
	enum store_err	 err;
	uint64_t	 version;	/* new version, or current on failure */
	int		 deleted;
	char		 value[32];
};

static store		*gst;
static struct rec	 recs[NTHREADS][NOPS];
static const char *const keys[NKEYS] = { "k0", "k1", "k2", "k3" };

static void *
racer(void *arg)
{
	int		 t = (int)(intptr_t)arg, i;
	unsigned	 seed = (unsigned)t * 7919u + 1;
	uint64_t	 seen[NKEYS] = { 0 };
	struct store_cond c;
	struct store_op	 op;

	for (i = 0; i < NOPS; i++) {
		struct rec *r = &recs[t][i];

		r->key = rand_r(&seed) % NKEYS;
		r->kind = (enum kind)(rand_r(&seed) % 5);
		r->base = seen[r->key];
		if (r->kind == K_TOKEN && r->base == 0)
			r->kind = K_CREATE;	/* version 0: must not exist */
		snprintf(r->value, sizeof(r->value), "\"t%d-%d\"", t, i);
		memset(&c, 0, sizeof(c));
		memset(&op, 0, sizeof(op));
		op.kind = r->kind == K_DELETE ? STORE_OP_DELETE : STORE_OP_PUT;
		op.key = keys[r->key];
		op.klen = 2;
		op.value = r->value;
		op.vlen = strlen(r->value);
		switch (r->kind) {
		case K_IFMATCH:
			c.flags = STORE_IF_MATCH;
			c.nmatch = 1;
			c.match[0].kind = STORE_TAG_VERSION;
			c.match[0].version = r->base;
			op.cond = &c;
			break;
		case K_TOKEN:
		case K_DELETE:
			c.flags = STORE_TOKEN_VERSION;
			c.token_version = r->base;
			op.cond = &c;
			break;
		case K_CREATE:
			c.flags = STORE_TOKEN_VERSION;
			c.token_version = 0;
			op.cond = &c;
			r->base = 0;
			break;
		default:
			break;
		}
		r->err = store_write(gst, &op);
		r->version = op.meta.version;
		r->deleted = op.meta.deleted;
		free(op.cur_value);
		if (op.meta.version > seen[r->key])
			seen[r->key] = op.meta.version;
	}
	return NULL;
}

static void
test_serial_model(void)
{
	pthread_t		 th[NTHREADS];
	struct rec		*byver[NKEYS][NTHREADS * NOPS + 2];
	struct store_meta	 m;
	struct store_stats	 ss;
	char			*v;
	size_t			 n;
	int			 t, i, k, bad = 0;
	uint64_t		 maxv[NKEYS] = { 0 }, ver;

	gst = open_store(64 << 20);
	memset(byver, 0, sizeof(byver));
	for (t = 0; t < NTHREADS; t++)
		pthread_create(&th[t], NULL, racer, (void *)(intptr_t)t);
	for (t = 0; t < NTHREADS; t++)
		pthread_join(th[t], NULL);

	for (t = 0; t < NTHREADS; t++)
		for (i = 0; i < NOPS; i++) {
			struct rec *r = &recs[t][i];

			if (r->err != STORE_OK) {
				/* a refused condition named a stale state */
				if (r->err == STORE_PRECOND ||
				    r->err == STORE_CONFLICT) {
					if (r->kind == K_CREATE ?
					    r->version == 0 || r->deleted :
					    r->version == r->base) {
						fprintf(stderr, "  refused but "
						    "current: t%d op%d kind %d "
						    "base %llu got %llu del %d\n",
						    t, i, r->kind,
						    (unsigned long long)r->base,
						    (unsigned long long)r->version,
						    r->deleted);
						bad++;
					}
				} else if (r->err != STORE_NOTFOUND &&
				    r->err != STORE_DELETED) {
					fprintf(stderr, "  err %d\n", r->err);
					bad++;
				}
				continue;
			}
			/* each version of a key is made exactly once */
			if (r->version > NTHREADS * NOPS ||
			    byver[r->key][r->version] != NULL) {
				fprintf(stderr, "  version %llu twice\n",
				    (unsigned long long)r->version);
				bad++;
				continue;
			}
			byver[r->key][r->version] = r;
			if (r->version > maxv[r->key])
				maxv[r->key] = r->version;
			/* a successful CAS saw the version it claimed */
			if (r->kind == K_IFMATCH || r->kind == K_TOKEN ||
			    r->kind == K_DELETE)
				if (r->version != r->base + 1) {
					fprintf(stderr, "  CAS kind %d base %llu "
					    "made %llu\n", r->kind,
					    (unsigned long long)r->base,
					    (unsigned long long)r->version);
					bad++;
				}
		}
	CHECK(bad == 0);
	for (k = 0; k < NKEYS; k++) {
		/* versions 1..max with no gap: a serial history */
		for (ver = 1; ver <= maxv[k]; ver++)
			CHECK(byver[k][ver] != NULL);
		/* creates only on an absent key, replayed in version order */
		for (ver = 1; ver <= maxv[k]; ver++) {
			struct rec *r = byver[k][ver];

			if (r != NULL && r->kind == K_CREATE && ver > 1)
				CHECK(byver[k][ver - 1] != NULL &&
				    byver[k][ver - 1]->kind == K_DELETE);
		}
		/* the final state is the last write's */
		if (maxv[k] == 0)
			continue;
		if (byver[k][maxv[k]]->kind == K_DELETE) {
			CHECK(store_get(gst, keys[k], 2, &m, &v, &n) ==
			    STORE_DELETED);
			CHECK(m.version == maxv[k]);
		} else {
			CHECK(store_get(gst, keys[k], 2, &m, &v, &n) == STORE_OK);
			CHECK(m.version == maxv[k]);
			CHECK(v && strcmp(v, byver[k][maxv[k]]->value) == 0);
			free(v);
		}
	}
	store_stats(gst, &ss);
	printf("# %llu write transactions for %llu writes\n",
	    (unsigned long long)ss.batches, (unsigned long long)ss.batched_ops);
	CHECK(ss.batched_ops == NTHREADS * NOPS);
	close_store(gst);
}

/* ---- batches form, and a failing op spares its batch-mates --------------- */

struct job {
	const char	*key;
	const char	*value;
	size_t		 vlen;
	struct store_op	 op;
};

static void *
writer(void *arg)
{
	struct job	*j = arg;

	memset(&j->op, 0, sizeof(j->op));
	j->op.kind = STORE_OP_PUT;
	j->op.key = j->key;
	j->op.klen = strlen(j->key);
	j->op.value = j->value;
	j->op.vlen = j->vlen;
	(void)store_write(gst, &j->op);
	return NULL;
}

static void
test_batch_forms_and_isolates(void)
{
	struct job		 lead = { "lead", "1", 1, { 0 } }, jobs[9];
	pthread_t		 lt, th[9];
	struct store_stats	 ss;
	struct store_meta	 m;
	char			*big, *v, names[9][16];
	size_t			 n;
	int			 i;

	gst = open_store(1 << 20);		/* 1 MiB: "huge" cannot fit */
	big = malloc(2 << 20);
	memset(big, '7', 2 << 20);
	atomic_store(&hold_first, 1);
	pthread_create(&lt, NULL, writer, &lead);
	usleep(50 * 1000);		/* the leader is inside its txn now */
	for (i = 0; i < 9; i++) {
		snprintf(names[i], sizeof(names[i]), "m%d", i);
		jobs[i].key = names[i];
		jobs[i].value = i == 4 ? big : "2";
		jobs[i].vlen = i == 4 ? (size_t)2 << 20 : 1;
		pthread_create(&th[i], NULL, writer, &jobs[i]);
	}
	pthread_join(lt, NULL);
	for (i = 0; i < 9; i++)
		pthread_join(th[i], NULL);
	store_stats(gst, &ss);
	/* one txn for the leader, one for the nine that queued behind it */
	CHECK(ss.batches == 2 && ss.batched_ops == 10);
	CHECK(lead.op.err == STORE_OK);
	for (i = 0; i < 9; i++) {
		if (i == 4 && tstore_pg) {
			/* no map_size: it fits, in the same batch */
			CHECK(jobs[i].op.err == STORE_OK);
			continue;
		}
		if (i == 4) {
			CHECK(jobs[i].op.err == STORE_FULL);
			CHECK(store_get(gst, "m4", 2, &m, &v, &n) == STORE_NOTFOUND);
			continue;
		}
		CHECK(jobs[i].op.err == STORE_OK && jobs[i].op.meta.version == 1);
		CHECK(store_get(gst, names[i], 2, &m, &v, &n) == STORE_OK);
		free(v);
	}
	free(big);
	close_store(gst);
}

static void
test_lone_write_not_delayed(void)
{
	struct job		 j = { "solo", "1", 1, { 0 } };
	struct store_stats	 ss;
	int			 i;

	gst = open_store(1 << 20);
	for (i = 0; i < 20; i++)
		writer(&j);
	store_stats(gst, &ss);
	CHECK(ss.batches == 20 && ss.batched_ops == 20);
	CHECK(j.op.err == STORE_OK && j.op.meta.version == 20);
	close_store(gst);
}

/* A unit for a thread: one op through store_write, or all of them. */
struct unit_job {
	struct store_op	 ops[2];
	size_t		 n;
	int		 all;
	size_t		 failed;
	enum store_err	 err;
};

static void *
unit_writer(void *arg)
{
	struct unit_job	*j = arg;

	j->err = j->all ? store_write_all(gst, j->ops, j->n, &j->failed) :
	    store_write(gst, &j->ops[0]);
	return NULL;
}

/*
 * One batch: a plain write, a unit of two that fails on its second op
 * (its first undone), then writes that must see the first one and not
 * the undone one.
 */
static void
test_unit_undone_in_batch(void)
{
	struct job		 lead = { "lead", "1", 1, { 0 } };
	struct unit_job		 u[4];
	struct store_cond	 v1, stale, absent;
	struct store_stats	 ss;
	struct store_meta	 m;
	pthread_t		 lt, th[4];
	char			*v;
	size_t			 n, i;

	gst = open_store(1 << 20);
	memset(&absent, 0, sizeof(absent));
	absent.flags = STORE_TOKEN_VERSION;
	v1 = stale = absent;
	v1.token_version = 1;
	stale.token_version = 7;
	memset(u, 0, sizeof(u));
	u[0].ops[0] = tstore_put_op("p", "1", NULL);
	u[0].n = 1;
	u[1].ops[0] = tstore_put_op("q", "1", NULL);
	u[1].ops[1] = tstore_put_op("p", "x", &stale);
	u[1].n = 2;
	u[1].all = 1;
	u[2].ops[0] = tstore_put_op("p", "2", &v1);
	u[2].n = 1;
	u[3].ops[0] = tstore_put_op("q", "2", &absent);
	u[3].n = 1;
	atomic_store(&hold_first, 1);
	pthread_create(&lt, NULL, writer, &lead);
	usleep(50 * 1000);		/* the leader is inside its txn now */
	for (i = 0; i < 4; i++) {
		pthread_create(&th[i], NULL, unit_writer, &u[i]);
		usleep(20 * 1000);	/* they queue in this order */
	}
	pthread_join(lt, NULL);
	for (i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	store_stats(gst, &ss);
	CHECK(ss.batches == 2 && ss.batched_ops == 6);
	CHECK(u[0].err == STORE_OK && u[0].ops[0].meta.version == 1);
	CHECK(u[1].err == STORE_CONFLICT && u[1].failed == 1);
	CHECK(u[1].ops[1].meta.version == 1);
	CHECK(u[2].err == STORE_OK && u[2].ops[0].meta.version == 2);
	CHECK(u[3].err == STORE_OK && u[3].ops[0].meta.version == 1);
	for (i = 0; i < 4; i++) {
		free(u[i].ops[0].cur_value);
		free(u[i].ops[1].cur_value);
	}
	CHECK(store_get(gst, "p", 1, &m, &v, &n) == STORE_OK);
	CHECK(v && strcmp(v, "2") == 0 && m.version == 2);
	free(v);
	CHECK(store_get(gst, "q", 1, &m, &v, &n) == STORE_OK);
	CHECK(v && strcmp(v, "2") == 0 && m.version == 1);
	free(v);
	close_store(gst);
}

static void
run_all(void)
{
	RUN(test_serial_model);
	RUN(test_batch_forms_and_isolates);
	RUN(test_lone_write_not_delayed);
	RUN(test_unit_undone_in_batch);
}

int
main(void)
{
	run_all();
	if (tstore_use_pg())
		run_all();
	return T_EXIT();
}
