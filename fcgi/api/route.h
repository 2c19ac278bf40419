/*
 * route.h - the API's entry: routes a request to its resource's handler
 * (storage, txn, activities) or answers /api/health and 404 itself.
 */
#ifndef ROUTE_H
#define ROUTE_H

#include "api/api.h"

/* Answers req into resp (which the caller has reset). */
void	route_handle(const struct api_ctx *, const struct http_req *,
	    struct http_resp *);

#endif
