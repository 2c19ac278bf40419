/*
 * idem.h - idempotent retries of POST and PATCH (API.md 8). A handler
 * renders its answer through a struct idem_finish, so that the same code
 * renders it inside the store's transaction (to keep it for a retry) and
 * afterwards (to send it).
 */
#ifndef IDEM_H
#define IDEM_H

#include "store/store.h"
#include "api/api.h"
#include "http/http.h"

/* An answer rendered from a store outcome: now, or inside the store's
 * transaction to be kept for a retry. */
struct idem_finish {
	void	(*fn)(struct idem_finish *, struct http_resp *);
};

struct idem_req {
	struct store_idem	 id;
	char			 key[256];
	int			 used;
};

/*
 * Reads Idempotency-Key for POST and PATCH: 0 when there is none, 1 when
 * ir is set up to render with f (pass &ir->id as the op's idem), -1 with
 * resp set when it is malformed.
 */
int	idem_begin(const struct api_ctx *, const struct http_req *,
	    struct idem_req *ir, struct idem_finish *f, struct http_resp *);
/* 1 when the store call ran the request now: not a replay nor refused. */
int	idem_fresh(const struct idem_req *ir);
/* Answers after the store call: a replay, a reused key, or f afresh. */
void	idem_end(struct idem_req *ir, struct idem_finish *f,
	    struct http_resp *);

#endif
