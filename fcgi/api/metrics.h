/* metrics.h - GET /api/metrics (API.md 11); the counters are lib/metrics. */
#ifndef API_METRICS_H
#define API_METRICS_H

#include "api/api.h"

void	metrics_handle(const struct api_ctx *, const struct http_req *,
	    struct http_resp *, const struct api_call *);

#endif
