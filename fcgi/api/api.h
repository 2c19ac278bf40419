/*
 * api.h - the HTTP contract (API.md): what a handler is given, and the
 * problem+json answer. route.h is the entry; one file a resource.
 */
#ifndef API_H
#define API_H

#include "store/store.h"
#include "proc/conf.h"
#include "http/http.h"
#include "api/problem.h"

/* Where keys live: a created key's Location is this plus the key. */
#define API_STORAGE	"/api/storage/"

struct metrics;
struct tokens;
struct tokens_entry;

/* Who is asking (auth.c). */
struct api_who {
	const char			*name;	/* the principal; NULL: none */
	const struct tokens_entry	*token;	/* NULL: any key, any way */
};

/*
 * What a request is answered with: the configuration and tokens in force
 * (one snapshot for the whole request, see main.c), the store, the
 * counters, and (set by route_handle for the handlers) who asks.
 */
struct api_ctx {
	const struct conf	*conf;
	const struct tokens	*tokens;	/* NULL unless auth token */
	store			*st;
	struct metrics		*metrics;	/* NULL: nothing counted */
	const struct api_who	*who;		/* NULL: nobody in particular */
};

/* What routing found in the request (route.c). */
struct api_call {
	const char		*rest;	/* the path after the route's own */
	size_t			 rlen;
	const char		*query;	/* after '?', or NULL */
};

/* A resource's handler: answers req into resp, which starts reset. */
typedef void	(*api_handler)(const struct api_ctx *, const struct http_req *,
		    struct http_resp *, const struct api_call *);

/*
 * Fills resp with a problem+json answer: status, code and message format
 * as an entry of problem.h gives them, then the format's arguments.
 * Returns -1, for a caller to pass on.
 */
int	api_problem(struct http_resp *, int status, const char *code,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
