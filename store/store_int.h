/*
 * store_int.h - what store/ gives the backend that implements store.h
 * (store/lmdb/ today): the parts of the store that hold whatever keeps
 * the data. Private to store/ and its backends; nothing here names a
 * backend, and nothing of a backend's comes back through it.
 */
#ifndef STORE_INT_H
#define STORE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* op.c: an op's rules. */

/* Whether op is well formed for its kind (key length, callbacks). */
int	op_valid(const struct store_op *);
/* Clears op's outcome, freeing cur_value, before it is applied (again). */
void	op_reset(struct store_op *);
/*
 * The state a write of op leaves its key in, given its current state cur
 * (version 0: it never existed) and now, the clock's µs: the next
 * version, the times (see op.c), created_us kept while the key lives,
 * op's principal, and a tombstone for a delete. Sets op->created. cur and
 * next must differ.
 */
void	op_stamp(struct store_op *, const struct store_meta *cur,
	    int64_t now, struct store_meta *next);
/*
 * Whether a write refused with err answers with the key's current value
 * in op->cur_value (see store_apply() in store.h).
 */
int	op_shows_current(enum store_err err, const struct store_meta *cur);
/* The system's real-time clock: the store_clock_fn when none is given. */
int64_t	op_real_clock(void *);

#endif
