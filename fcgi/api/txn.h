/* txn.h - POST /api/txn (API.md 5). */
#ifndef TXN_H
#define TXN_H

#include "api/api.h"

void	txn_handle(const struct api_ctx *, const struct http_req *,
	    struct http_resp *, const struct api_call *);

#endif
