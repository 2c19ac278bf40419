/* changes.h - GET /api/changes, the change feed (API.md 7). */
#ifndef CHANGES_H
#define CHANGES_H

#include "api/api.h"

void	changes_handle(const struct api_ctx *, const struct http_req *,
	    struct http_resp *, const struct api_call *);

#endif
