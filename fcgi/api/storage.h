/* storage.h - the /api/storage/ resource (API.md 3); see storage.c. */
#ifndef STORAGE_H
#define STORAGE_H

#include <stddef.h>

#include "api/api.h"

/* Answers a request for path[0..plen) under /api/storage/. */
void	storage_handle(const struct api_ctx *, const struct http_req *,
	    struct http_resp *, const struct api_call *);

#endif
