/*
 * metrics.h - the counters behind GET /api/metrics (API.md 11), summed
 * over all worker processes and kept across a worker's replacement.
 *
 * The master makes one region with metrics_create() before it forks; the
 * workers inherit it and record into it with atomic adds, so what a
 * worker recorded stays when the worker dies, however it dies. The
 * region has a fixed layout and no pointers, and every record function
 * is lock-free: a process killed in the middle of one blocks nobody.
 *
 * metrics_render() writes the Prometheus text exposition format 0.0.4,
 * to be served as "text/plain; version=0.0.4". Samples are read one at a
 * time while others may be adding: each counter is exact, a scrape is
 * not one instant across counters (a histogram's buckets and _count are).
 */
#ifndef METRICS_H
#define METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

enum metrics_err {
	METRICS_OK = 0,
	METRICS_NOMEM,		/* no region, or no memory to render */
	METRICS_INVALID,	/* an argument out of range: nothing counted */
};

/* The conflict problem codes (API.md 3, 4.1), the label values of code. */
enum metrics_conflict {
	METRICS_VERSION_CONFLICT = 0,
	METRICS_PRECONDITION_FAILED,
	METRICS_PATCH_CONFLICT,
	METRICS_MERGE_CONFLICT,
	METRICS_CONFLICT_CODES
};

/* How many key prefixes get a series of their own; the rest are "~other". */
#define METRICS_PREFIXES	100
/* The longest prefix, in bytes, that gets a series of its own. */
#define METRICS_PREFIX_MAX	64

struct metrics;

/* One quota line and its usage: verstore_quota_*{prefix}. */
struct metrics_quota {
	const char	*prefix;	/* NUL-terminated; borrowed */
	uint64_t	 bytes;		/* verstore_quota_bytes */
	uint64_t	 used;		/* verstore_quota_used_bytes */
};

/* What the store says of itself, which the caller asks it at render time. */
struct metrics_gauges {
	uint64_t	size_bytes;	/* verstore_store_size_bytes */
	uint64_t	used_bytes;	/* verstore_store_used_bytes */
	uint64_t	readers;	/* verstore_store_readers */
	const struct metrics_quota *quotas;	/* borrowed; nquotas */
	size_t		nquotas;
};

/*
 * Maps a zeroed region shared with every process forked after this call.
 * *out is the caller's, released by metrics_destroy().
 */
enum metrics_err metrics_create(struct metrics **out);
/* Unmaps it (NULL-safe); for the master, after its workers are gone. */
void	metrics_destroy(struct metrics *);

/*
 * One answered request: method as received (GET HEAD PUT PATCH POST
 * DELETE OPTIONS; any other, or NULL, counts as "other"), status 100 to
 * 599 (else METRICS_INVALID), and how long it took.
 */
enum metrics_err metrics_request(struct metrics *, const char *method,
	    int status, uint64_t duration_us);
/*
 * One request whose client left before its answer ended (a long poll
 * still waiting, a stream): code 499, as nginx logs it, not a 5xx; not
 * in the durations, as it was never answered.
 */
#define METRICS_ABANDONED	499
void	metrics_abandoned(struct metrics *, const char *method);
/*
 * One conflict answer, by its code and the first segment of key[0..klen)
 * (the bytes before the first '/', or all of it). A segment that is
 * empty, longer than METRICS_PREFIX_MAX, not UTF-8, "~other" itself, or
 * that finds no room in the table counts under prefix="~other".
 */
enum metrics_err metrics_conflict(struct metrics *, enum metrics_conflict,
	    const char *key, size_t klen);
/* One server-side merge (API.md 4.1): merged, or refused as a conflict. */
void	metrics_merge(struct metrics *, int merged);
/* One write transaction (group commit) that carried nops writes. */
void	metrics_batch(struct metrics *, unsigned nops);
/*
 * Waiting feed requests and open streams: +1 when one starts, -1 ends.
 * Counted per process (at most 256 of them): the gauge leaves out those
 * of a process that died.
 */
void	metrics_watchers_add(struct metrics *, int64_t delta);
/* A waiting watcher run again before its time: a change concerned it. */
void	metrics_watcher_woken(struct metrics *);
/* Presence (API.md 13.6): why a session left, the label of reason. */
enum metrics_leave {
	METRICS_LEAVE = 0,
	METRICS_LEAVE_EXPIRED,
	METRICS_LEAVE_CLOSED,
	METRICS_LEAVE_FORCED,
	METRICS_LEAVE_REASONS
};
/* ... and why a join was refused, the label of code. */
enum metrics_refusal {
	METRICS_REFUSED_LOCKED = 0,
	METRICS_REFUSED_TOO_MANY,
	METRICS_REFUSALS
};
/* A session joined a key. */
void	metrics_presence_join(struct metrics *);
/* n sessions left for reason (out of range: nothing counted). */
void	metrics_presence_leave(struct metrics *, enum metrics_leave,
	    uint64_t n);
void	metrics_presence_refused(struct metrics *, enum metrics_refusal);
/* A write refused for another's lock (enforce_locks). */
void	metrics_locked_write(struct metrics *);

/* The store's change sequence; the gauge keeps the highest reported. */
void	metrics_seq_set(struct metrics *, uint64_t seq);

/*
 * Appends the whole exposition to out: every family with its # HELP and
 * # TYPE lines. Requests, conflicts and durations have series only where
 * something was counted; the other families always have theirs. store
 * may be NULL: the store's three gauges are then left out.
 * METRICS_NOMEM when out ran out of memory.
 */
enum metrics_err metrics_render(struct metrics *,
	    const struct metrics_gauges *store, struct buf *out);

#endif
