/*
 * api.h - the HTTP contract (API.md): routing and handlers. Each handler
 * parses the request, makes one store call and renders the answer.
 */
#ifndef API_H
#define API_H

#include "store/store.h"
#include "proc/conf.h"
#include "http/http.h"

struct api_ctx {
	const struct conf	*conf;
	store			*st;
};

/* Answers req into resp (which the caller has reset). */
void	api_handle(const struct api_ctx *, const struct http_req *,
	    struct http_resp *);
/* Fills resp with a problem+json answer. */
void	api_problem(struct http_resp *, int status, const char *code,
	    const char *message);

#endif
