/*
 * presence.c - /api/presence/{key}: join or renew (PUT), who is there
 * (GET, on a key or under a prefix), leave (DELETE) (API.md 13). Each
 * handler parses the request, makes one store call and renders the
 * answer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "api/auth.h"
#include "api/presence.h"
#include "json/json.h"
#include "model/key.h"

#define TTL_MAX		300	/* seconds */

/* What a PUT asks. */
struct join_body {
	char		 session[STORE_SESSION_MAX + 1];
	size_t		 slen;
	uint64_t	 ttl;
	int		 lock;
	struct buf	 state;		/* compact JSON; empty: null */
};

/* Reads a PUT's body into b; -1 with r set. */
static int
parse_join(const struct http_req *q, struct join_body *b,
    struct http_resp *r)
{
	struct json_span v;
	char		 name[16];
	size_t		 it = 0, nlen;
	long		 n;
	int		 rc, has_ttl = 0;

	while ((rc = json_member(q->body, q->body_len, &it, name,
	    sizeof(name), &nlen, &v)) == 1) {
		if (json_name_is(name, nlen, "session")) {
			if ((n = json_string(v, b->session,
			    sizeof(b->session))) < 0 ||
			    !store_session_ok(b->session, (size_t)n))
				return api_problem(r, P_PRESENCE_BODY,
				    "session is 1 to 64 of A-Z a-z 0-9 . _ ~ -");
			b->slen = (size_t)n;
		} else if (json_name_is(name, nlen, "ttl")) {
			if (json_uint(v, &b->ttl) == -1 || b->ttl < 1 ||
			    b->ttl > TTL_MAX)
				return api_problem(r, P_PRESENCE_BODY,
				    "ttl is a whole number of seconds, 1 to 300");
			has_ttl = 1;
		} else if (json_name_is(name, nlen, "lock")) {
			if (v.n == 4 && memcmp(v.p, "true", 4) == 0)
				b->lock = 1;
			else if (!(v.n == 5 && memcmp(v.p, "false", 5) == 0))
				return api_problem(r, P_PRESENCE_BODY,
				    "lock is true or false");
		} else if (json_name_is(name, nlen, "state")) {
			buf_reset(&b->state);
			if (!(v.n == 4 && memcmp(v.p, "null", 4) == 0))
				json_compact(&b->state, v.p, v.n);
			if (b->state.oom)
				return api_internal(r, STORE_NOMEM);
			if (b->state.len > STORE_STATE_MAX)
				return api_problem(r, P_PRESENCE_STATE_LARGE,
				    b->state.len, STORE_STATE_MAX);
		} else
			return api_problem(r, P_PRESENCE_BODY,
			    "it has no other member");
	}
	if (rc != 0)
		return api_problem(r, P_PRESENCE_BODY, "the body is an object");
	if (b->slen == 0)
		return api_problem(r, P_PRESENCE_BODY, "session is missing");
	if (!has_ttl)
		return api_problem(r, P_PRESENCE_BODY, "ttl is missing");
	return 0;
}

void
presence_members(struct jw *w, const struct store_presence *p, int with_key)
{
	if (with_key)
		jw_str(w, "key", p->key, p->klen);
	jw_str(w, "session", p->session, p->slen);
	if (p->principal[0] != '\0')
		jw_strz(w, "by", p->principal);
	else
		jw_null(w, "by");
	if (p->statelen > 0)
		jw_raw(w, "state", p->state, p->statelen);
	else
		jw_null(w, "state");
	api_json_ts(w, "since", p->since_us);
	api_json_ts(w, "expires_at", p->expires_us);
	jw_bool(w, "lock", p->lock);
}

/* Opens the object of a 200 answer in w. */
static void
answer(struct http_resp *r, struct jw *w, const struct key *k)
{
	r->status = 200;
	r->content_type = "application/json";
	buf_puts(&r->head, "Cache-Control: no-store\r\n");
	jw_init(w, &r->body);
	jw_obj(w, NULL);
	jw_str(w, k->prefix ? "prefix" : "key", k->s, k->n);
}

/* A session that did not join or leave: 423, 429, 403, 404 or 5xx. */
static void
refused(const struct api_ctx *ctx, struct http_resp *r, const struct key *k,
    const struct store_presence *p, const char *session, enum store_err err)
{
	struct jw	 w;
	char		 what[128], sess[STORE_SESSION_MAX + 1];

	api_name_text(k->s, k->n, k->n + 1, what, sizeof(what));
	snprintf(sess, sizeof(sess), "%s", session);
	switch (err) {
	case STORE_LOCKED:
		if (ctx->metrics != NULL)
			metrics_presence_refused(ctx->metrics,
			    METRICS_REFUSED_LOCKED);
		api_problem_open(&w, r, P_PRESENCE_LOCKED, what);
		jw_str(&w, "key", k->s, k->n);
		api_holder(&w, p);
		api_problem_close(&w);
		break;
	case STORE_LIMIT_KEY:
	case STORE_LIMIT_PRINCIPAL:
		if (ctx->metrics != NULL)
			metrics_presence_refused(ctx->metrics,
			    METRICS_REFUSED_TOO_MANY);
		if (err == STORE_LIMIT_KEY)
			api_problem(r, P_PRESENCE_KEY_FULL, what,
			    ctx->conf->presence_per_key);
		else
			api_problem(r, P_PRESENCE_PRINCIPAL_FULL,
			    api_principal(ctx) != NULL ? api_principal(ctx) :
			    "(nobody)", ctx->conf->presence_per_principal);
		break;
	case STORE_NOT_OWNER:
		api_problem(r, P_PRESENCE_NOT_OWNER, sess, what);
		break;
	case STORE_NOTFOUND:
		api_problem(r, P_PRESENCE_NOT_FOUND, sess, what);
		break;
	default:
		api_internal(r, err);
		break;
	}
}

/* PUT: joins or renews (API.md 13.1). */
static void
h_join(const struct api_ctx *ctx, const struct http_req *q,
    struct http_resp *r, const struct key *k)
{
	struct join_body	 b;
	struct store_join	 j;
	struct store_presence	 p;
	enum store_err		 err;
	struct jw		 w;

	memset(&b, 0, sizeof(b));
	if (api_check_json_body(ctx, q, r) == -1 || parse_join(q, &b, r) == -1)
		goto out;
	if (b.lock && !auth_allows(ctx->who, k->s, k->n, 1)) {
		api_problem(r, P_PRESENCE_RO_LOCK, ctx->who->name, k->s);
		goto out;
	}
	memset(&j, 0, sizeof(j));
	j.key = k->s;
	j.klen = k->n;
	j.session = b.session;
	j.slen = b.slen;
	j.principal = api_principal(ctx);
	j.state = b.state.len > 0 ? b.state.p : NULL;
	j.statelen = b.state.len;
	j.ttl_us = (int64_t)b.ttl * 1000000;
	j.lock = b.lock;
	j.per_key = ctx->conf->presence_per_key;
	j.per_principal = ctx->conf->presence_per_principal;
	if ((err = store_presence_join(ctx->st, &j, &p)) != STORE_OK) {
		refused(ctx, r, k, &p, b.session, err);
		goto out;
	}
	if (p.joined && ctx->metrics != NULL)
		metrics_presence_join(ctx->metrics);
	answer(r, &w, k);
	jw_str(&w, "session", p.session, p.slen);
	if (p.principal[0] != '\0')
		jw_strz(&w, "by", p.principal);
	else
		jw_null(&w, "by");
	api_json_ts(&w, "since", p.since_us);
	api_json_ts(&w, "expires_at", p.expires_us);
	jw_bool(&w, "lock", p.lock);
	jw_close(&w);
	api_end(&w, r);
out:
	buf_free(&b.state);
}

/* GET: who is on the key, or under the prefix (API.md 13.2). */
static void
h_list(const struct api_ctx *ctx, const struct http_req *q,
    struct http_resp *r, const struct key *k)
{
	struct store_presence	*ps = NULL;
	size_t			 n = 0, i;
	enum store_err		 err;
	struct jw		 w;
	int			 more = 0;

	err = store_presence_list(ctx->st, k->s, k->n, !k->prefix,
	    k->prefix ? STORE_PRESENCE_LIST_MAX : STORE_PRESENCE_PER_KEY_MAX,
	    &ps, &n, &more);
	if (err != STORE_OK) {
		api_internal(r, err);
		goto out;
	}
	answer(r, &w, k);
	r->head_only = q->method[0] == 'H';
	jw_arr(&w, "present");
	for (i = 0; i < n; i++) {
		jw_obj(&w, NULL);
		presence_members(&w, &ps[i], k->prefix);
		jw_close(&w);
	}
	jw_close(&w);
	if (k->prefix)
		jw_bool(&w, "more", more);
	jw_close(&w);
	api_end(&w, r);
out:
	free(ps);
}

/* DELETE ?session=S[&force=1]: leaves (API.md 13.3). */
static void
h_leave(const struct api_ctx *ctx, struct http_resp *r, const struct key *k,
    const char *query)
{
	struct store_presence	 p;
	char			 s[STORE_SESSION_MAX + 1];
	const char		*v;
	size_t			 vn;
	enum store_err		 err;
	struct jw		 w;
	long			 n = -1;
	int			 force = 0;

	if (api_query_param(query, "session", &v, &vn))
		n = key_decode(v, vn, s, sizeof(s));
	if (n < 0 || !store_session_ok(s, (size_t)n)) {
		api_problem(r, P_PRESENCE_SESSION, STORE_SESSION_MAX);
		return;
	}
	if (api_query_param(query, "force", &v, &vn)) {
		if (vn != 1 || v[0] != '1') {
			api_problem(r, P_PRESENCE_FORCE_VALUE);
			return;
		}
		if (!auth_is_admin(ctx->who)) {
			api_problem(r, P_PRESENCE_FORCE);
			return;
		}
		force = 1;
	}
	err = store_presence_leave(ctx->st, k->s, k->n, s, (size_t)n,
	    force ? NULL : (api_principal(ctx) != NULL ? api_principal(ctx) :
	    ""), force ? STORE_LEFT_FORCED : STORE_LEFT_LEAVE, &p);
	if (err != STORE_OK) {
		refused(ctx, r, k, &p, s, err);
		return;
	}
	if (ctx->metrics != NULL)
		metrics_presence_leave(ctx->metrics, force ?
		    METRICS_LEAVE_FORCED : METRICS_LEAVE, 1);
	answer(r, &w, k);
	jw_str(&w, "session", s, (size_t)n);
	jw_bool(&w, "left", 1);
	jw_close(&w);
	api_end(&w, r);
}

void
presence_handle(const struct api_ctx *ctx, const struct http_req *q,
    struct http_resp *r, const struct api_call *call)
{
	struct key	 k;
	struct api_err	 e;
	enum key_err	 ke;
	const char	*m = q->method;
	int		 get = strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;

	if ((ke = key_parse(call->rest, call->rlen, &k)) != KEY_OK) {
		(void)api_err_key(&e, ke);
		api_fail(r, &e);
		return;
	}
	if (k.n > STORE_PRESENCE_KEY_MAX) {
		api_problem(r, P_PRESENCE_KEY_LONG, STORE_PRESENCE_KEY_MAX);
		return;
	}
	if (k.prefix && !get) {
		api_problem(r, P_METHOD_PRESENCE_PREFIX);
		buf_puts(&r->head, "Allow: GET, HEAD\r\n");
		return;
	}
	if (!get && strcmp(m, "PUT") != 0 && strcmp(m, "DELETE") != 0) {
		api_problem(r, P_METHOD_PRESENCE);
		buf_puts(&r->head, "Allow: GET, HEAD, PUT, DELETE\r\n");
		return;
	}
	/* being there is reading it; a lock needs more (h_join) */
	if (auth_need(ctx->who, r, k.s, k.n, 0, -1) == -1)
		return;
	if (get)
		h_list(ctx, q, r, &k);
	else if (m[0] == 'P')
		h_join(ctx, q, r, &k);
	else
		h_leave(ctx, r, &k, call->query);
}
