/*
 * metrics_int.h - the shared region's layout, private to metrics.c and
 * its unit test (which plays a claimer that died or stalled).
 */
#ifndef METRICS_INT_H
#define METRICS_INT_H

#include <stdatomic.h>

#include "lib/metrics.h"

#define METRICS_STATUS_MIN	100
#define METRICS_STATUS_MAX	599
#define METRICS_NSTATUS	(METRICS_STATUS_MAX - METRICS_STATUS_MIN + 1)
#define METRICS_NMETHODS	8	/* GET ... OPTIONS, other */
#define METRICS_NDUR		16	/* duration bounds, 100 µs..10 s */
#define METRICS_NOPS		9	/* batch size bounds, 1..256 */

/* A prefix slot's state: empty, ready, or (pid << 1) of its claimer. */
#define METRICS_SLOT_EMPTY	0u
#define METRICS_SLOT_READY	1u

struct metrics_slot {
	atomic_uint	 state;
	unsigned	 len;	/* written before the state is ready */
	char		 name[METRICS_PREFIX_MAX];
	atomic_ullong	 count[METRICS_CONFLICT_CODES];
};

/*
 * Watchers are counted per process: a worker that dies holding some takes
 * its count with it (its slot is skipped, then taken over).
 */
#define METRICS_PROCS	256

struct metrics_proc {
	atomic_int	 pid;		/* 0: free */
	atomic_llong	 n;
};

/* The whole region: counts only, no pointers. */
struct metrics {
	atomic_ullong	 req[METRICS_NMETHODS][METRICS_NSTATUS];
	/* per bucket, not cumulative; the last is above the last bound */
	atomic_ullong	 dur[METRICS_NMETHODS][METRICS_NDUR + 1];
	atomic_ullong	 dur_us[METRICS_NMETHODS];
	struct metrics_slot prefix[METRICS_PREFIXES];
	atomic_ullong	 other[METRICS_CONFLICT_CODES];
	atomic_ullong	 merges[2];		/* conflict, merged */
	atomic_ullong	 ops[METRICS_NOPS + 1];
	atomic_ullong	 ops_sum;
	struct metrics_proc watchers[METRICS_PROCS];
	atomic_ullong	 wakeups;
	atomic_ullong	 seq;
	atomic_ullong	 pjoins;
	atomic_ullong	 pleaves[METRICS_LEAVE_REASONS];
	atomic_ullong	 prefused[METRICS_REFUSALS];
	atomic_ullong	 locked_writes;
};

#endif
