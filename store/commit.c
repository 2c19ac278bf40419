/*
 * commit.c - group commit: the writers of one process share a
 * transaction and its synced commit, whatever backend runs it; see
 * store_int.h.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/store.h"
#include "store/store_int.h"

void
commit_unit_reset(struct commit_unit *u)
{
	size_t	 i;

	for (i = 0; i < u->n; i++)
		op_reset(&u->ops[i]);
	u->ok = 0;
	u->wrote = 0;
	u->failed = 0;
}

void
commit_unit_fail(struct commit_unit *u, enum store_err err)
{
	size_t	 i;

	u->ok = 0;
	u->wrote = 0;
	u->failed = 0;
	for (i = 0; i < u->n; i++)
		if (u->ops[i].err == STORE_OK || u->ops[i].err == STORE_INVALID)
			u->ops[i].err = err;
}

struct commit_unit *
commit_units(struct store_op *ops, size_t n, struct commit_unit *one)
{
	struct commit_unit	*units = one;
	size_t			 i;

	if (n > 1 && (units = calloc(n, sizeof(*units))) == NULL) {
		for (i = 0; i < n; i++)
			ops[i].err = STORE_NOMEM;
		return NULL;
	}
	for (i = 0; i < n; i++) {
		ops[i].cur_value = NULL;
		units[i] = (struct commit_unit){ &ops[i], 1, 0, 0, 0, 0 };
		commit_unit_reset(&units[i]);
	}
	return units;
}

void
commit_units_free(struct commit_unit *units, struct commit_unit *one)
{
	if (units != one)
		free(units);
}

void
commit_init(struct commit_queue *q, const struct store_opts *o,
    const struct commit_backend *be)
{
	memset(q, 0, sizeof(*q));
	pthread_mutex_init(&q->lock, NULL);
	q->be = *be;
	q->batch_max = o->batch_max == 0 ? STORE_BATCH_MAX :
	    o->batch_max > STORE_BATCH_MAX ? STORE_BATCH_MAX : o->batch_max;
	q->on_batch = o->on_batch;
	q->batch_arg = o->batch_arg;
}

void
commit_fini(struct commit_queue *q)
{
	pthread_mutex_destroy(&q->lock);
}

static uint64_t
mono_us(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/*
 * Writers queue up; the one at the head leads: it begins a write
 * transaction (waiting, if need be, for another process to finish its
 * own), then takes queued units up to batch_max ops (itself first, and
 * all who arrived while it waited), applies them and commits once, then
 * wakes each with its own outcome and hands the lead to the next in line.
 * A lone writer leads at once: nobody waits for company. Each waiter
 * lives on its writer's stack until marked done.
 */
struct commit_waiter {
	struct commit_unit	*u;
	int			 done;
	pthread_cond_t		 cv;
	struct commit_waiter	*next;
};

static void
group_commit(struct commit_queue *q, struct commit_unit *u)
{
	struct commit_waiter	 w, *x, *batch[STORE_BATCH_MAX];
	struct commit_unit	 units[STORE_BATCH_MAX];
	void			*txn = NULL;
	size_t			 n = 0, nops = 0, i;
	uint64_t		 t0, held;
	enum store_err		 err;

	memset(&w, 0, sizeof(w));
	w.u = u;
	pthread_cond_init(&w.cv, NULL);
	pthread_mutex_lock(&q->lock);
	if (q->tail != NULL)
		q->tail->next = &w;
	else
		q->head = &w;
	q->tail = &w;
	while (!w.done && q->head != &w)
		pthread_cond_wait(&w.cv, &q->lock);
	if (w.done)
		goto out;
	pthread_mutex_unlock(&q->lock);
	err = q->be.begin(q->be.arg, &txn);
	t0 = mono_us();		/* the write lock is ours from here */
	pthread_mutex_lock(&q->lock);
	for (x = q->head; x != NULL && n < STORE_BATCH_MAX; x = x->next) {
		if (n > 0 && nops + x->u->n > q->batch_max)
			break;
		batch[n] = x;
		units[n] = *x->u;
		commit_unit_reset(&units[n]);
		nops += units[n++].n;
	}
	pthread_mutex_unlock(&q->lock);

	if (err != STORE_OK) {
		for (i = 0; i < n; i++)
			commit_unit_fail(&units[i], err);
	} else
		q->be.apply(q->be.arg, txn, units, n);

	held = mono_us() - t0;
	if (q->on_batch != NULL && err == STORE_OK)
		q->on_batch(q->batch_arg, nops);
	pthread_mutex_lock(&q->lock);
	q->stats.batches++;
	q->stats.batched_ops += nops;
	q->stats.held_us += held;
	if (held > q->stats.held_max_us)
		q->stats.held_max_us = held;
	for (i = 0; i < n; i++) {
		*batch[i]->u = units[i];
		q->head = batch[i]->next;
		batch[i]->done = 1;
		if (batch[i] != &w)
			pthread_cond_signal(&batch[i]->cv);
	}
	if (q->head == NULL)
		q->tail = NULL;
	else
		pthread_cond_signal(&q->head->cv);
out:
	pthread_mutex_unlock(&q->lock);
	pthread_cond_destroy(&w.cv);
}

enum store_err
commit_write(struct commit_queue *q, struct store_op *op)
{
	struct commit_unit	 u = { op, 1, 0, 0, 0, 0 };

	op->cur_value = NULL;
	group_commit(q, &u);
	return op->err;
}

enum store_err
commit_write_all(struct commit_queue *q, struct store_op *ops, size_t n,
    size_t *failed)
{
	struct commit_unit	 u = { ops, n, 1, 0, 0, 0 };
	size_t			 i;

	*failed = 0;
	if (n == 0 || n > STORE_BATCH_MAX)
		return STORE_INVALID;
	for (i = 0; i < n; i++)
		ops[i].cur_value = NULL;
	group_commit(q, &u);
	if (u.ok)
		return STORE_OK;
	*failed = u.failed;
	return ops[u.failed].err;
}

void
commit_stats(struct commit_queue *q, struct store_stats *out)
{
	pthread_mutex_lock(&q->lock);
	*out = q->stats;
	pthread_mutex_unlock(&q->lock);
}
