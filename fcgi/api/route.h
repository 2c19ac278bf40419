/*
 * route.h - the API's entry: a table from paths to the resources'
 * handlers (storage, txn, activities, health), and 404 for the rest.
 */
#ifndef ROUTE_H
#define ROUTE_H

#include <stddef.h>

#include "api/api.h"

/* Answers req into resp (which the caller has reset). */
void	route_handle(const struct api_ctx *, const struct http_req *,
	    struct http_resp *);
/* GET /api/health: {"status": "ok"}. */
void	route_health(const struct api_ctx *, const struct http_req *,
	    struct http_resp *, const struct api_call *);

#endif
