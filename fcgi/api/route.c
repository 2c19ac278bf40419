/* route.c - which resource a request names; see route.h. */
#include <string.h>

#include "api/api.h"
#include "api/route.h"
#include "api/sets.h"
#include "api/storage.h"
#include "api/txn.h"

#define ALLOW_HEALTH	"GET, HEAD"

static void
h_health(const struct http_req *q, struct http_resp *r)
{
	if (strcmp(q->method, "GET") != 0 && strcmp(q->method, "HEAD") != 0) {
		api_problem(r, 405, "METHOD_NOT_ALLOWED",
		    "Use GET or HEAD here.");
		buf_puts(&r->head, "Allow: " ALLOW_HEALTH "\r\n");
		return;
	}
	r->status = 200;
	r->content_type = "application/json";
	r->head_only = q->method[0] == 'H';
	buf_puts(&r->head, "Cache-Control: no-store\r\n");
	buf_puts(&r->body, "{\"status\":\"ok\"}\n");
}

void
route_handle(const struct api_ctx *ctx, const struct http_req *q,
    struct http_resp *r)
{
	const char	*uri = q->uri, *query;
	size_t		 plen;

	query = strchr(uri, '?');
	plen = query != NULL ? (size_t)(query - uri) : strlen(uri);
	if (query != NULL)
		query++;
	if (plen == 11 && strncmp(uri, "/api/health", 11) == 0)
		h_health(q, r);
	else if (plen == 8 && strncmp(uri, "/api/txn", 8) == 0)
		txn_handle(ctx, q, r);
	else if (plen > sizeof(SETS_PREFIX) - 1 &&
	    strncmp(uri, SETS_PREFIX, sizeof(SETS_PREFIX) - 1) == 0)
		sets_handle(ctx, q, r, uri + sizeof(SETS_PREFIX) - 1,
		    plen - (sizeof(SETS_PREFIX) - 1), query);
	else if (plen >= sizeof(API_STORAGE) - 1 &&
	    strncmp(uri, API_STORAGE, sizeof(API_STORAGE) - 1) == 0)
		storage_handle(ctx, q, r, uri + sizeof(API_STORAGE) - 1,
		    plen - (sizeof(API_STORAGE) - 1), query);
	else
		api_problem(r, 404, "NOT_FOUND", "No such resource.");
	if (r->body.oom || r->head.oom) {
		http_resp_reset(r);
		api_problem(r, 500, "INTERNAL", "Out of memory.");
	}
}
