/*
 * metrics.c - GET /api/metrics: the counters every worker adds to
 * (lib/metrics.c) and the store's gauges, in Prometheus text format. The
 * counters are the processes' own, so they answer while the store cannot
 * say how full it is (a database out of reach): then without its gauges.
 */
#include <string.h>

#include "api/api_int.h"
#include "api/metrics.h"
#include "lib/metrics.h"

void
metrics_handle(const struct api_ctx *ctx, const struct http_req *q,
    struct http_resp *r, const struct api_call *call)
{
	struct store_usage	 u;
	struct metrics_gauges	 g, *gp = NULL;
	struct metrics_quota	 mq[CONF_QUOTAS_MAX];
	uint64_t		 used[CONF_QUOTAS_MAX];
	size_t			 i, nq = ctx->conf->nquotas;

	(void)call;
	if (strcmp(q->method, "GET") != 0 && strcmp(q->method, "HEAD") != 0) {
		api_problem(r, P_METHOD_METRICS);
		buf_puts(&r->head, "Allow: GET, HEAD\r\n");
		return;
	}
	if (store_usage(ctx->st, &u) == STORE_OK) {
		g.size_bytes = u.size_bytes;
		g.used_bytes = u.used_bytes;
		g.readers = u.readers;
		g.quotas = mq;
		g.nquotas = 0;
		if (nq > 0 && store_quota_usage(ctx->st, used, nq) == STORE_OK)
			for (g.nquotas = nq, i = 0; i < nq; i++)
				mq[i] = (struct metrics_quota){
				    ctx->conf->quotas[i].prefix,
				    ctx->conf->quotas[i].bytes, used[i] };
		gp = &g;
	}
	if (ctx->metrics == NULL ||
	    metrics_render(ctx->metrics, gp, &r->body) != METRICS_OK) {
		api_problem(r, P_OOM);
		return;
	}
	r->status = 200;
	r->content_type = "text/plain; version=0.0.4; charset=utf-8";
	r->head_only = q->method[0] == 'H';
	buf_puts(&r->head, "Cache-Control: no-store\r\n");
}
