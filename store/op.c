/*
 * op.c - what a write op means whatever backend applies it: which ops
 * are well formed, the outcome cleared before each try, and the versions
 * and times a write gives its key; see store_int.h.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/store.h"
#include "store/store_int.h"

int
op_valid(const struct store_op *op)
{
	switch (op->kind) {
	case STORE_OP_CREATE:
		return op->klen <= STORE_KEY_MAX;
	case STORE_OP_UPDATE:
		if (op->update == NULL)
			return 0;
		/* FALLTHROUGH */
	case STORE_OP_PUT:
	case STORE_OP_DELETE:
	case STORE_OP_CHECK:
	case STORE_OP_GET:
		return op->klen > 0 && op->klen <= STORE_KEY_MAX;
	case STORE_OP_MULTI:
		return op->multi != NULL && op->klen > 0 &&
		    op->klen <= STORE_KEY_MAX;
	default:
		return 0;
	}
}

void
op_reset(struct store_op *op)
{
	free(op->cur_value);
	memset(&op->meta, 0, sizeof(op->meta));
	op->err = STORE_INVALID;
	op->created = 0;
	op->cur_value = NULL;
	op->cur_vlen = 0;
	op->update_err = 0;
}

/*
 * updated_us and lastmod_s strictly increase per key, through a clock
 * that steps back and through a delete and re-create: a stale
 * If-Unmodified-Since must never pass because two writes shared a second
 * (README, the deviations from RFC 9110).
 */
void
op_stamp(struct store_op *op, const struct store_meta *cur, int64_t now,
    struct store_meta *next)
{
	int64_t	 now_s = now >= 0 ? now / 1000000 : (now - 999999) / 1000000;
	size_t	 n;

	memset(next, 0, sizeof(*next));
	next->version = cur->version + 1;
	next->updated_us = cur->version > 0 && cur->updated_us >= now ?
	    cur->updated_us + 1 : now;
	next->lastmod_s = cur->version > 0 && cur->lastmod_s >= now_s ?
	    cur->lastmod_s + 1 : now_s;
	op->created = cur->version == 0 || cur->deleted;
	next->created_us = op->created ? next->updated_us : cur->created_us;
	if (op->principal != NULL) {
		n = strnlen(op->principal, STORE_PRINCIPAL_MAX);
		memcpy(next->principal, op->principal, n);
	}
	if (op->kind == STORE_OP_DELETE) {
		next->deleted = 1;
		op->created = 0;
	}
}

int
op_shows_current(enum store_err err, const struct store_meta *cur)
{
	return (err == STORE_PRECOND || err == STORE_CONFLICT ||
	    err == STORE_UPDATE_FAILED) && cur->version > 0 && !cur->deleted;
}

int64_t
op_real_clock(void *arg)
{
	struct timespec	 ts;

	(void)arg;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
