/*
 * auth.c - credentials and what they allow (API.md 9); see auth.h.
 *
 * Under auth token the principal is the token's name in the tokens file,
 * under remote_user the user nginx authenticated; under auth none there
 * is none, and every request may do anything. A token's mode and
 * prefixes bound every key a request names: a list's prefix and a
 * created key's prefix count as keys, an activity set as its _act/S/
 * keys. The metrics name every prefix, so they are for a token for every
 * key or a metrics token, which reads nothing else.
 */
#include <string.h>
#include <strings.h>

#include "api/api_int.h"
#include "api/auth.h"
#include "proc/tokens.h"

#define WWW_TOKEN	"WWW-Authenticate: Bearer realm=\"verstore\""
#define WWW_USER	"WWW-Authenticate: Basic realm=\"verstore\""

/* The challenge of a 401 answer; invalid: the token itself is unknown. */
static int
challenge(const struct api_ctx *ctx, struct http_resp *r, int invalid)
{
	if (ctx->conf->auth == CONF_AUTH_REMOTE_USER)
		buf_puts(&r->head, WWW_USER "\r\n");
	else if (invalid)
		buf_puts(&r->head, WWW_TOKEN ", error=\"invalid_token\"\r\n");
	else
		buf_puts(&r->head, WWW_TOKEN "\r\n");
	return -1;
}

/* The token68 of "Bearer <token>" (RFC 6750 2.1), or NULL; *n its length. */
static const char *
bearer(const char *h, size_t *n)
{
	size_t	 i;

	if (h == NULL || strlen(h) > AUTH_HEADER_MAX ||
	    strncasecmp(h, "Bearer", 6) != 0 || (h[6] != ' ' && h[6] != '\t'))
		return NULL;
	h += 6;
	while (*h == ' ' || *h == '\t')
		h++;
	for (i = 0; h[i] != '\0' && h[i] != ' ' && h[i] != '\t'; i++)
		if (!((h[i] >= 'A' && h[i] <= 'Z') ||
		    (h[i] >= 'a' && h[i] <= 'z') ||
		    (h[i] >= '0' && h[i] <= '9') || strchr("-._~+/=", h[i])))
			return NULL;
	*n = i;
	while (h[i] == ' ' || h[i] == '\t')
		i++;
	return *n > 0 && h[i] == '\0' ? h : NULL;
}

int
auth_check(const struct api_ctx *ctx, const struct http_req *q,
    struct http_resp *r, struct api_who *who)
{
	const struct tokens_entry	*t = NULL;
	const char			*tok;
	size_t				 n;

	memset(who, 0, sizeof(*who));
	switch (ctx->conf->auth) {
	case CONF_AUTH_REMOTE_USER:
		if (q->remote_user == NULL) {
			api_problem(r, P_AUTH_NO_USER);
			return challenge(ctx, r, 0);
		}
		if (strlen(q->remote_user) > STORE_PRINCIPAL_MAX) {
			api_problem(r, P_AUTH_USER_LONG);
			return challenge(ctx, r, 0);
		}
		who->name = q->remote_user;
		return 0;
	case CONF_AUTH_TOKEN:
		if (q->authorization == NULL) {
			api_problem(r, P_AUTH_NONE);
			return challenge(ctx, r, 0);
		}
		if ((tok = bearer(q->authorization, &n)) == NULL) {
			api_problem(r, P_AUTH_MALFORMED);
			return challenge(ctx, r, 0);
		}
		if (ctx->tokens != NULL)
			t = tokens_find(ctx->tokens, tok, n);
		if (t == NULL) {
			api_problem(r, P_AUTH_UNKNOWN);
			return challenge(ctx, r, 1);
		}
		who->name = t->name;
		who->token = t;
		return 0;
	default:
		return 0;
	}
}

int
auth_route(const struct api_who *who, int metrics, struct http_resp *r)
{
	const struct tokens_entry	*t = who->token;

	if (t == NULL)
		return 0;	/* auth none, remote_user: everyone may */
	if (metrics && !tokens_reads_metrics(t))
		return api_problem(r, P_FORBIDDEN_METRICS, who->name);
	if (!metrics && t->metrics)
		return api_problem(r, P_FORBIDDEN_METRICS_ONLY, who->name);
	return 0;
}

int
auth_allows(const struct api_who *who, const char *key, size_t klen,
    int write)
{
	return who == NULL || who->token == NULL ||
	    tokens_allows(who->token, key, klen, write);
}

int
auth_is_admin(const struct api_who *who)
{
	return who == NULL || who->token == NULL ||
	    (who->token->all && who->token->rw);
}

int
auth_feed_prefixes(const struct api_who *who, const char *want,
    size_t wlen, struct store_prefix *out, size_t max)
{
	const struct tokens_entry	*t;
	size_t				 i, n = 0, tl;

	if (max == 0)
		return -1;
	out[0].p = want;
	out[0].len = wlen;
	if (who == NULL || who->token == NULL || who->token->all ||
	    tokens_allows(who->token, want, wlen, 0))
		return 1;		/* want lies within what it reads */
	t = who->token;
	for (i = 0; i < t->nprefixes; i++) {
		tl = strlen(t->prefixes[i]);
		if (tl <= wlen || memcmp(t->prefixes[i], want, wlen) != 0)
			continue;
		if (n == max)
			return -1;
		out[n].p = t->prefixes[i];
		out[n++].len = tl;
	}
	return (int)n;
}

int
auth_need(const struct api_who *who, struct http_resp *r, const char *key,
    size_t klen, int write, long op_index)
{
	char		 what[128];
	struct jw	 w;

	if (auth_allows(who, key, klen, write))
		return 0;
	api_name_text(key, klen, klen + 1, what, sizeof(what));
	if (write && !who->token->rw)
		api_problem_open(&w, r, P_FORBIDDEN_RO, who->name, what);
	else
		api_problem_open(&w, r, P_FORBIDDEN_KEY, who->name,
		    write ? "write" : "read", what);
	if (op_index >= 0)
		jw_u64(&w, "op_index", (uint64_t)op_index);
	api_problem_close(&w);
	return -1;
}

/* ---- CORS ---------------------------------------------------------------- */

#define CORS_EXPOSE	"ETag, Last-Modified, Location, Idempotent-Replayed, " \
			"Preference-Applied"
#define CORS_METHODS	"GET, HEAD, PUT, PATCH, POST, DELETE"
#define CORS_HEADERS	"Authorization, Content-Type, If-Match, " \
			"If-None-Match, If-Unmodified-Since, " \
			"If-Modified-Since, Idempotency-Key, Prefer, " \
			"Last-Event-ID"

static int
origin_listed(const struct api_ctx *ctx, const struct http_req *q)
{
	return q->origin != NULL &&
	    conf_origin_allowed(ctx->conf, q->origin, strlen(q->origin));
}

void
auth_cors(const struct api_ctx *ctx, const struct http_req *q,
    struct http_resp *r)
{
	if (ctx->conf->norigins == 0)
		return;
	buf_puts(&r->head, "Vary: Origin\r\n");
	if (!origin_listed(ctx, q))
		return;
	buf_printf(&r->head, "Access-Control-Allow-Origin: %s\r\n"
	    "Access-Control-Expose-Headers: " CORS_EXPOSE "\r\n", q->origin);
}

int
auth_preflight(const struct api_ctx *ctx, const struct http_req *q,
    struct http_resp *r)
{
	if (strcmp(q->method, "OPTIONS") != 0 || q->origin == NULL ||
	    q->ac_request_method == NULL)
		return 0;
	r->status = 204;
	/* auth_cors() adds the origin, as to every answer */
	if (origin_listed(ctx, q))
		buf_puts(&r->head,
		    "Access-Control-Allow-Methods: " CORS_METHODS "\r\n"
		    "Access-Control-Allow-Headers: " CORS_HEADERS "\r\n"
		    "Access-Control-Max-Age: 600\r\n");
	return 1;
}
