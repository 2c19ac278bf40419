/*
 * merge.h - a stale PUT merged three-way against the version the client
 * read (API.md 4.1), with Prefer: merge or under conf auto_merge.
 */
#ifndef MERGE_H
#define MERGE_H

#include <stdint.h>

#include "api/api.h"
#include "model/key.h"

/*
 * The base a PUT names: the version of its only If-Match tag, or its
 * body's version; 0 when it names none that way (a body's updated_at
 * names it by its time, looked up in the history when merging).
 */
uint64_t	merge_base(const struct store_cond *);
/* 1 when the PUT names a base to merge against at all. */
int		merge_has_base(const struct store_cond *);
/*
 * How a value is written inside the transaction, for keys with rules of
 * their own (an activity set's): 0 and *meta set, or the writer's own
 * nonzero error, with nothing written.
 */
struct merge_writer {
	int	(*put)(void *arg, store_io *, const struct key *,
		    const char *v, size_t n, struct store_meta *meta);
	void	*arg;
};

/*
 * Writes value[0..vlen) to k as a PUT with preconditions c would, in one
 * store call; a stale one is merged against version base when it can be,
 * and answered as API.md 4.1 says. w: NULL for a plain store_io_put. 0:
 * answered; else the writer's error, left for the caller to answer.
 */
int		merge_put(const struct api_ctx *, const struct http_req *,
		    struct http_resp *, const struct key *k,
		    const struct store_cond *c, uint64_t base, const char *value,
		    size_t vlen, const struct merge_writer *w);

#endif
