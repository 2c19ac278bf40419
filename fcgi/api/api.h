/*
 * api.h - the HTTP contract (API.md): what a handler is given, and the
 * problem+json answer. route.h is the entry; one file a resource.
 */
#ifndef API_H
#define API_H

#include "store/store.h"
#include "proc/conf.h"
#include "http/http.h"

/* Where keys live: a created key's Location is this plus the key. */
#define API_STORAGE	"/api/storage/"

struct api_ctx {
	const struct conf	*conf;
	store			*st;
};

/* Fills resp with a problem+json answer. */
void	api_problem(struct http_resp *, int status, const char *code,
	    const char *message);

#endif
