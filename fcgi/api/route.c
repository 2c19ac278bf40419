/* route.c - which resource a request names; see route.h. */
#include <string.h>
#include <time.h>

#include "api/api_int.h"
#include "api/auth.h"
#include "api/changes.h"
#include "api/metrics.h"
#include "api/presence.h"
#include "api/route.h"
#include "api/sets.h"
#include "api/storage.h"
#include "api/txn.h"
#include "lib/metrics.h"

/*
 * The API's resources, each a handler of one file of api/. A path equal
 * to `path` names the resource; with `under`, so does any longer path that
 * starts with it, and the handler gets the rest. Every route asks for
 * credentials (API.md 9) unless it is `open`: always, or with conf
 * metrics_public. The metrics route takes a metrics token, which no other
 * route does (auth_route).
 */
enum route_open { OPEN_NEVER, OPEN_ALWAYS, OPEN_METRICS };

static const struct route {
	const char	*path;
	int		 under;
	enum route_open	 open;
	api_handler	 fn;
} routes[] = {
	{ "/api/health",	0, OPEN_ALWAYS,	route_health },
	{ "/api/metrics",	0, OPEN_METRICS, metrics_handle },
	{ "/api/txn",		0, OPEN_NEVER,	txn_handle },
	{ "/api/changes",	0, OPEN_NEVER,	changes_handle },
	{ "/api/activities/",	1, OPEN_NEVER,	sets_handle },
	{ "/api/storage/",	1, OPEN_NEVER,	storage_handle },
	{ "/api/presence/",	1, OPEN_NEVER,	presence_handle },
};

void
route_health(const struct api_ctx *ctx, const struct http_req *q,
    struct http_resp *r, const struct api_call *c)
{
	struct jw	 w;

	(void)ctx;
	(void)c;
	if (strcmp(q->method, "GET") != 0 && strcmp(q->method, "HEAD") != 0) {
		api_problem(r, P_METHOD_HEALTH);
		buf_puts(&r->head, "Allow: GET, HEAD\r\n");
		return;
	}
	r->status = 200;
	r->content_type = "application/json";
	r->head_only = q->method[0] == 'H';
	buf_puts(&r->head, "Cache-Control: no-store\r\n");
	jw_init(&w, &r->body);
	jw_obj(&w, NULL);
	jw_strz(&w, "status", "ok");
	jw_close(&w);
	api_end(&w, r);
}

/* The route for path[0..plen), or NULL; c gets the rest of the path. */
static const struct route *
route_find(const char *path, size_t plen, struct api_call *c)
{
	const struct route	*rt;
	size_t			 i, n;

	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		rt = &routes[i];
		n = strlen(rt->path);
		if (plen < n || memcmp(path, rt->path, n) != 0 ||
		    (plen > n && !rt->under))
			continue;
		c->rest = path + n;
		c->rlen = plen - n;
		return rt;
	}
	return NULL;
}

static int
hex_digit(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	    (c >= 'A' && c <= 'F');
}

/*
 * Whether uri is an origin-form request target (RFC 9112 3.2.1): "/",
 * then only the characters RFC 3986 allows in a path and, after '?', in
 * a query ('?' among them), each '%' followed by two hex digits. Front-ends differ in
 * what they refuse themselves (lighttpd passes a raw space on).
 */
static int
target_ok(const char *uri)
{
	const char	*p;

	if (uri[0] != '/')
		return 0;
	for (p = uri; *p != '\0'; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') ||
		    strchr("-._~!$&'()*+,;=:@/?", *p) != NULL)
			continue;
		if (*p != '%' || !hex_digit(p[1]) || !hex_digit(p[2]))
			return 0;
		p += 2;
	}
	return 1;
}

static uint64_t
now_us(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

void
route_handle(const struct api_ctx *ctx, const struct http_req *q,
    struct http_resp *r)
{
	const struct route	*rt;
	struct api_ctx		 rc = *ctx;
	struct api_call		 c;
	struct api_who		 who;
	const char		*query;
	size_t			 plen;
	uint64_t		 start = now_us();
	int			 open;

	query = strchr(q->uri, '?');
	plen = query != NULL ? (size_t)(query - q->uri) : strlen(q->uri);
	memset(&c, 0, sizeof(c));
	c.query = query != NULL ? query + 1 : NULL;
	memset(&who, 0, sizeof(who));
	rc.who = &who;
	rt = route_find(q->uri, plen, &c);
	open = rt != NULL && (rt->open == OPEN_ALWAYS ||
	    (rt->open == OPEN_METRICS && ctx->conf->metrics_public));
	if (auth_preflight(ctx, q, r))
		;	/* answered; a preflight carries no credentials */
	else if (!open && auth_check(ctx, q, r, &who) == -1)
		;	/* 401 */
	else if (!target_ok(q->uri) && rt != NULL && rt->under)
		api_problem(r, P_TARGET_KEY);	/* a key's or a set's */
	else if (!target_ok(q->uri))
		api_problem(r, P_TARGET);
	else if (rt == NULL)
		api_problem(r, P_NO_RESOURCE);
	else if (!open && auth_route(&who, rt->open == OPEN_METRICS, r) == -1)
		;	/* 403 */
	else
		rt->fn(&rc, q, r, &c);
	if (r->body.oom || r->head.oom) {
		http_resp_reset(r);
		api_problem(r, P_OOM);
	}
	auth_cors(ctx, q, r);
	/* counted once, as it ends: not each time a watcher waits again
	   (one whose peer leaves first is the loop's 499, its farewell
	   run too) */
	if (ctx->metrics != NULL && !(r->park && q->can_wait) && !q->closed)
		(void)metrics_request(ctx->metrics, q->method, r->status,
		    now_us() - start);
}
