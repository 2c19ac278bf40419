/*
 * api.c - what every handler of the HTTP contract shares: the problem+json
 * catalogue (all error text of API.md is made in api/), preconditions and
 * query parameters, bodies, and the answers to writes.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/api_int.h"
#include "http/hdr.h"
#include "json/json.h"
#include "json/patch.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "model/key.h"

static void	err_v(struct api_err *, int, const char *, const char *,
		    va_list) __attribute__((format(printf, 4, 0)));

static void
err_v(struct api_err *e, int status, const char *code, const char *fmt,
    va_list ap)
{
	e->status = status;
	e->code = code;
	(void)vsnprintf(e->message, sizeof(e->message), fmt, ap);
}

int
api_err(struct api_err *e, int status, const char *code, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	err_v(e, status, code, fmt, ap);
	va_end(ap);
	return -1;
}

void
api_problem_err(struct jw *w, struct http_resp *r, const struct api_err *e)
{
	const char	*reason = http_reason(e->status);

	buf_reset(&r->body);
	r->status = e->status;
	r->content_type = "application/problem+json";
	jw_init(w, &r->body);
	jw_obj(w, NULL);
	jw_u64(w, "status", (uint64_t)e->status);
	jw_strz(w, "code", e->code);
	jw_strz(w, "error", reason);
	jw_strz(w, "message", e->message);
}

void
api_problem_open(struct jw *w, struct http_resp *r, int status,
    const char *code, const char *fmt, ...)
{
	struct api_err	 e;
	va_list		 ap;

	va_start(ap, fmt);
	err_v(&e, status, code, fmt, ap);
	va_end(ap);
	api_problem_err(w, r, &e);
}

void
api_problem_close(struct jw *w)
{
	jw_close(w);
	(void)jw_end(w);
}

int
api_problem(struct http_resp *r, int status, const char *code,
    const char *fmt, ...)
{
	struct api_err	 e;
	struct jw	 w;
	va_list		 ap;

	va_start(ap, fmt);
	err_v(&e, status, code, fmt, ap);
	va_end(ap);
	api_problem_err(&w, r, &e);
	api_problem_close(&w);
	return -1;
}

const char *
api_principal(const struct api_ctx *ctx)
{
	return ctx->who != NULL ? ctx->who->name : NULL;
}

void
api_head_etag(struct http_resp *r, const struct store_meta *m)
{
	char	 date[HDR_DATE_LEN];

	buf_puts(&r->head, "ETag: \"");
	buf_u64(&r->head, m->version);
	buf_puts(&r->head, "\"\r\nLast-Modified: ");
	hdr_http_date_fmt(m->lastmod_s, date);
	buf_puts(&r->head, date);
	buf_puts(&r->head, "\r\n");
}

void
api_json_ts(struct jw *w, const char *name, int64_t us)
{
	char	 ts[HDR_TS_LEN];

	hdr_ts_fmt(us, ts);
	jw_strz(w, name, ts);
}

void
api_state_members(struct jw *w, const struct key *k, const struct store_meta *m,
    const char *value, size_t vlen)
{
	int	 exists = m->version > 0 && !m->deleted;

	jw_str(w, "key", k->s, k->n);
	if (exists && value != NULL)
		jw_raw(w, "value", value, vlen);
	else
		jw_null(w, "value");
	jw_u64(w, "version", m->version);
	if (m->version > 0)
		api_json_ts(w, "updated_at", m->updated_us);
	else
		jw_null(w, "updated_at");
	if (m->version > 0 && m->principal[0] != '\0')
		jw_strz(w, "updated_by", m->principal);
	else
		jw_null(w, "updated_by");
	jw_bool(w, "exists", exists);
}

void
api_envelope(struct jw *w, const char *name, const char *key, size_t klen,
    const struct store_meta *m, const char *value, size_t vlen)
{
	jw_obj(w, name);
	jw_str(w, "key", key, klen);
	jw_raw(w, "value", value, vlen);
	jw_u64(w, "version", m->version);
	api_json_ts(w, "updated_at", m->updated_us);
	api_json_ts(w, "created_at", m->created_us);
	if (m->principal[0] != '\0')
		jw_strz(w, "updated_by", m->principal);
	else
		jw_null(w, "updated_by");
	jw_close(w);
}

/* Opens 404 NOT_FOUND or DELETED for k, with the tombstone's state. */
static void
not_found_open(struct jw *w, struct http_resp *r, const struct key *k,
    const struct store_meta *m, enum store_err err)
{
	if (err == STORE_DELETED) {
		api_problem_open(w, r, P_DELETED);
		jw_str(w, "key", k->s, k->n);
		jw_u64(w, "version", m->version);
		api_json_ts(w, "updated_at", m->updated_us);
	} else {
		api_problem_open(w, r, P_NOT_FOUND);
		jw_str(w, "key", k->s, k->n);
	}
}

void
api_not_found(struct http_resp *r, const struct key *k,
    const struct store_meta *m, enum store_err err)
{
	struct jw	 w;

	not_found_open(&w, r, k, m, err);
	api_problem_close(&w);
}

int
api_internal(struct http_resp *r, enum store_err err)
{
	int	 rc;

	if (err == STORE_UNAVAILABLE) {
		rc = api_problem(r, P_UNAVAILABLE);
		buf_puts(&r->head, "Retry-After: " API_RETRY_AFTER "\r\n");
		return rc;
	}
	log_error("store error %d", (int)err);
	return api_problem(r, P_INTERNAL);
}

/* Opens the problem for a change that does not apply to the value. */
static void
patch_conflict(struct jw *w, struct http_resp *r, const struct store_op *op)
{
	const struct api_patch_job	*j = op->update == api_patch_cb ?
					    op->update_arg : NULL;
	char				 what[96];

	if (op->update_err == PATCH_TOO_DEEP) {
		api_problem_open(w, r, P_PATCH_DEEP);
	} else if (j != NULL && j->res.op >= 0) {
		patch_op_describe(j->p, (size_t)j->res.op, what, sizeof(what));
		api_problem_open(w, r, P_PATCH_OP, j->res.op, what);
	} else
		api_problem_open(w, r, P_PATCH_APPLY);
}

void
api_count_conflict(const struct api_ctx *ctx, enum metrics_conflict code,
    const char *key, size_t klen)
{
	if (ctx->metrics != NULL)
		(void)metrics_conflict(ctx->metrics, code, key, klen);
}

void
api_count_failed(const struct api_ctx *ctx, const char *key, size_t klen,
    const struct store_op *op)
{
	switch (op->err) {
	case STORE_PRECOND:
		api_count_conflict(ctx, ctx->conf->precondition_failed_status ==
		    409 ? METRICS_VERSION_CONFLICT :
		    METRICS_PRECONDITION_FAILED, key, klen);
		break;
	case STORE_CONFLICT:
		api_count_conflict(ctx, METRICS_VERSION_CONFLICT, key, klen);
		break;
	case STORE_UPDATE_FAILED:
		if (op->update == api_patch_cb &&
		    op->update_err != PATCH_NOMEM &&
		    op->update_err != PATCH_TOO_LARGE)
			api_count_conflict(ctx, METRICS_PATCH_CONFLICT, key,
			    klen);
		break;
	case STORE_LOCKED:
		if (ctx->metrics != NULL)
			metrics_locked_write(ctx->metrics);
		break;
	default:
		break;
	}
}

void
api_quota_open(const struct api_ctx *ctx, struct jw *w, struct http_resp *r,
    const struct store_op *op)
{
	const struct conf_quota	*q;

	/* quota lines are restart-only: the store's indexes are conf's */
	if (op->quota >= ctx->conf->nquotas) {
		log_error("store quota %zu not in conf", op->quota);
		api_problem_open(w, r, P_INTERNAL);
		return;
	}
	q = &ctx->conf->quotas[op->quota];
	api_problem_open(w, r, P_QUOTA, q->prefix,
	    (unsigned long long)q->bytes, (unsigned long long)op->quota_used);
	jw_strz(w, "prefix", q->prefix);
	jw_u64(w, "quota", q->bytes);
	jw_u64(w, "used", op->quota_used);
}

void
api_lock_guard(const struct api_ctx *ctx, struct store_op *op,
    struct store_presence *holder)
{
	if (conf_enforces_locks(ctx->conf, op->key, op->klen))
		op->holder = holder;
}

void
api_holder(struct jw *w, const struct store_presence *h)
{
	jw_obj(w, "holder");
	jw_str(w, "session", h->session, h->slen);
	if (h->principal[0] != '\0')
		jw_strz(w, "by", h->principal);
	else
		jw_null(w, "by");
	api_json_ts(w, "since", h->since_us);
	api_json_ts(w, "expires_at", h->expires_us);
	jw_close(w);
}

/* Answers a write whose op failed. */
void
api_write_failed(const struct api_ctx *ctx, struct http_resp *r,
    const struct key *k, const struct store_op *op, long op_index)
{
	struct jw	 w;
	int		 state = 1;

	switch (op->err) {
	case STORE_PRECOND:
		if (ctx->conf->precondition_failed_status == 409)
			api_problem_open(&w, r, P_PRECOND_409);
		else
			api_problem_open(&w, r, P_PRECOND);
		break;
	case STORE_CONFLICT:
		api_problem_open(&w, r, P_VERSION);
		break;
	case STORE_UPDATE_FAILED:
		if (op->update_err == PATCH_NOMEM) {
			log_error("out of memory applying a change");
			api_problem_open(&w, r, P_INTERNAL);
			state = 0;
		} else if (op->update_err == PATCH_TOO_LARGE) {
			api_problem_open(&w, r, P_VALUE_TOO_LARGE,
			    ctx->conf->max_value);
			state = 0;
		} else
			patch_conflict(&w, r, op);
		break;
	case STORE_NOTFOUND:
	case STORE_DELETED:
		not_found_open(&w, r, k, &op->meta, op->err);
		state = 0;
		break;
	case STORE_REQUIRED:
		api_problem_open(&w, r, P_REQUIRED);
		state = 0;
		break;
	case STORE_FULL:
		api_problem_open(&w, r, P_FULL);
		state = 0;
		break;
	case STORE_QUOTA:
		api_quota_open(ctx, &w, r, op);
		state = 0;
		break;
	case STORE_KEY_CLASH:
		api_problem_open(&w, r, P_KEY_CLASH);
		state = 0;
		break;
	case STORE_UNAVAILABLE:
		api_problem_open(&w, r, P_UNAVAILABLE);
		buf_puts(&r->head, "Retry-After: " API_RETRY_AFTER "\r\n");
		state = 0;
		break;
	case STORE_LOCKED: {
		char	 what[128];

		api_name_text(k->s, k->n, k->n + 1, what, sizeof(what));
		api_problem_open(&w, r, P_LOCKED_WRITE, what,
		    op->holder->principal);
		api_holder(&w, op->holder);
		state = 0;
		break;
	}
	default:
		log_error("store error %d", (int)op->err);
		api_problem_open(&w, r, P_INTERNAL);
		state = 0;
		break;
	}
	if (state)
		api_state_members(&w, k, &op->meta, op->cur_value, op->cur_vlen);
	if (op_index >= 0)
		jw_u64(&w, "op_index", (uint64_t)op_index);
	api_problem_close(&w);
	if (state && op->meta.version > 0 && !op->meta.deleted)
		api_head_etag(r, &op->meta);
}

/* Reads an entity-tag list into the store's tags. */
static enum hdr_err
etags(const char *s, struct store_tag *out, size_t *n, int *any)
{
	struct hdr_tag	 t[STORE_TAGS_MAX];
	enum hdr_err	 e;
	size_t		 i;

	if ((e = hdr_etags(s, t, STORE_TAGS_MAX, n, any)) != HDR_OK)
		return e;
	for (i = 0; i < *n; i++) {
		out[i].kind = t[i].kind == HDR_TAG_VERSION ? STORE_TAG_VERSION :
		    t[i].kind == HDR_TAG_UPDATED ? STORE_TAG_UPDATED :
		    STORE_TAG_OTHER;
		out[i].weak = t[i].weak;
		out[i].version = t[i].version;
		out[i].updated_us = t[i].updated_us;
	}
	return HDR_OK;
}

int
api_parse_conds(const struct http_req *q, struct store_cond *c, int forread,
    struct http_resp *r)
{
	enum hdr_err	 e;

	memset(c, 0, sizeof(*c));
	if (q->if_match != NULL) {
		e = etags(q->if_match, c->match, &c->nmatch, &c->match_any);
		if (e != HDR_OK)
			return e == HDR_TOO_MANY ?
			    api_problem(r, P_IF_MATCH_MANY) :
			    api_problem(r, P_IF_MATCH);
		c->flags |= STORE_IF_MATCH;
	}
	if (q->if_unmodified_since != NULL) {
		if (hdr_http_date(q->if_unmodified_since,
		    &c->unmodified_since) != HDR_OK)
			return api_problem(r, P_IF_UNMODIFIED);
		c->flags |= STORE_IF_UNMODIFIED;
	}
	if (q->if_none_match != NULL) {
		e = etags(q->if_none_match, c->none, &c->nnone, &c->none_any);
		if (e != HDR_OK)
			return e == HDR_TOO_MANY ?
			    api_problem(r, P_IF_NONE_MATCH_MANY) :
			    api_problem(r, P_IF_NONE_MATCH);
		c->flags |= STORE_IF_NONE_MATCH;
	}
	if (forread && q->if_modified_since != NULL) {
		if (hdr_http_date(q->if_modified_since,
		    &c->modified_since) != HDR_OK)
			return api_problem(r, P_IF_MODIFIED);
		c->flags |= STORE_IF_MODIFIED;
	}
	return 0;
}

/* Finds name=value in the query string q; 1 when found. */
int
api_query_param(const char *q, const char *name, const char **v, size_t *vn)
{
	size_t		 n = strlen(name);
	const char	*p = q, *e;

	if (q == NULL)
		return 0;
	while (*p != '\0') {
		e = p + strcspn(p, "&");
		if ((size_t)(e - p) >= n && strncmp(p, name, n) == 0 &&
		    (p[n] == '=' || p + n == e)) {
			*v = p[n] == '=' ? p + n + 1 : p + n;
			*vn = (size_t)(e - *v);
			return 1;
		}
		p = *e == '&' ? e + 1 : e;
	}
	return 0;
}

/* Checks the body's size and JSON; -1 with resp set. */
int
api_check_body(const struct api_ctx *ctx, const struct http_req *q,
    struct http_resp *r)
{
	size_t		 pos;

	switch (q->body_err) {
	case HTTP_BODY_OK:
		break;
	case HTTP_BODY_TOO_LARGE:
		return api_problem(r, P_BODY_TOO_LARGE, ctx->conf->max_body);
	default:
		return api_problem(r, P_BODY_LENGTH);
	}
	switch (json_check(q->body, q->body_len, JSON_MAX_DEPTH, &pos)) {
	case JSON_OK:
		return 0;
	case JSON_EMPTY:
		return api_problem(r, P_BODY_EMPTY);
	case JSON_DEPTH:
		return api_problem(r, P_BODY_DEEP);
	case JSON_NOMEM:
		return api_internal(r, STORE_NOMEM);
	case JSON_DUPLICATE:
		return api_problem(r, P_BODY_DUPLICATE, pos);
	default:
		return api_problem(r, P_BODY_SYNTAX, pos);
	}
}

/*
 * A member name (namelen bytes, cut at namesz) for a message: printable
 * ASCII, anything else as '?', cut with "..." to fit out[0..outsz).
 */
void
api_name_text(const char *name, size_t namelen, size_t namesz, char *out,
    size_t outsz)
{
	size_t		 i, n = namelen < namesz ? namelen : namesz - 1, o = 0;
	unsigned char	 c;

	for (i = 0; i < n && o + 4 < outsz; i++) {
		c = (unsigned char)name[i];
		out[o++] = c >= 0x20 && c < 0x7f && c != '"' && c != '\\' ?
		    (char)c : '?';
	}
	if (i < namelen && o + 3 < outsz) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

/* Checks Content-Type: application/json and the body; -1 with resp set. */
int
api_check_json_body(const struct api_ctx *ctx, const struct http_req *q,
    struct http_resp *r)
{
	if (!hdr_media(q->content_type, "application/json"))
		return api_problem(r, P_MEDIA_JSON);
	return api_check_body(ctx, q, r);
}

/* The members of a PUT body. */
struct put_body {
	struct json_span	 value;
	int			 has_value;
};

static int
parse_put_body(const struct http_req *q, struct put_body *pb,
    struct store_cond *c, struct http_resp *r)
{
	struct json_span	 v;
	char			 name[32], ts[40], what[40];
	size_t			 it = 0, nlen;
	int			 rc, seen_version = 0, seen_updated = 0;
	long			 tn;

	memset(pb, 0, sizeof(*pb));
	while ((rc = json_member(q->body, q->body_len, &it, name,
	    sizeof(name), &nlen, &v)) == 1) {
		if (json_name_is(name, nlen, "value")) {
			if (pb->has_value++)
				return api_problem(r, P_PUT_TWICE, "value");
			pb->value = v;
		} else if (json_name_is(name, nlen, "version")) {
			if (seen_version++)
				return api_problem(r, P_PUT_TWICE, "version");
			if (json_uint(v, &c->token_version) == -1)
				return api_problem(r, P_PUT_VERSION,
				    (unsigned long long)DEC_MAX);
			c->flags |= STORE_TOKEN_VERSION;
		} else if (json_name_is(name, nlen, "updated_at")) {
			if (seen_updated++)
				return api_problem(r, P_PUT_TWICE,
				    "updated_at");
			tn = json_string(v, ts, sizeof(ts));
			if (tn < 0 || hdr_ts(ts, (size_t)tn,
			    &c->token_updated_us) != HDR_OK)
				return api_problem(r, P_PUT_UPDATED);
			c->flags |= STORE_TOKEN_UPDATED;
		} else {
			api_name_text(name, nlen, sizeof(name), what,
			    sizeof(what));
			return api_problem(r, P_PUT_MEMBER, what);
		}
	}
	if (rc == -1)
		return api_problem(r, P_PUT_SHAPE);
	if (!pb->has_value)
		return api_problem(r, P_PUT_NO_VALUE);
	return 0;
}

void
api_write_ok(struct http_resp *r, const struct http_req *q, const struct key *k,
    const struct store_op *op, long index)
{
	char		 loc[STORE_KEY_MAX * 3 + 1];
	struct jw	 w;

	r->status = op->created ? 201 : 200;
	api_head_etag(r, &op->meta);
	if (op->created) {
		key_encode(k->s, k->n, loc, sizeof(loc));
		buf_puts(&r->head, "Location: " API_STORAGE);
		buf_puts(&r->head, loc);
		buf_puts(&r->head, "\r\n");
	}
	if (hdr_list_has(q->prefer, "return=minimal")) {
		r->status = 204;
		buf_puts(&r->head, "Preference-Applied: return=minimal\r\n");
		return;
	}
	r->content_type = "application/json";
	jw_init(&w, &r->body);
	jw_obj(&w, NULL);
	jw_str(&w, "key", k->s, k->n);
	jw_u64(&w, "version", op->meta.version);
	api_json_ts(&w, "updated_at", op->meta.updated_us);
	if (index >= 0)
		jw_u64(&w, "index", (uint64_t)index);
	jw_close(&w);
	api_end(&w, r);
}

int
api_read_put(const struct api_ctx *ctx, const struct http_req *q,
    struct http_resp *r, const struct key *k, struct store_cond *c,
    struct buf *val)
{
	struct put_body	 pb;

	if (api_check_json_body(ctx, q, r) == -1 ||
	    api_parse_conds(q, c, 0, r) == -1 ||
	    parse_put_body(q, &pb, c, r) == -1)
		return -1;
	if (conf_requires(ctx->conf, k->s, k->n))
		c->flags |= STORE_REQUIRE;
	json_compact(val, pb.value.p, pb.value.n);
	if (val->oom)
		return api_internal(r, STORE_NOMEM);
	return 0;
}

int
api_patch_cb(void *arg, const char *cur, size_t curlen, int64_t now_us,
    char **out, size_t *outlen)
{
	struct api_patch_job	*j = arg;
	char			 at[HDR_TS_LEN];
	struct patch_ctx	 ctx = { at, j->principal, j->max_value };

	hdr_ts_fmt(now_us, at);

	return (int)patch_apply(j->p, cur, curlen, &ctx, out, outlen, &j->res);
}

/* Reads ?name=N into *out when present; -1 with resp set when bad. */
int
api_query_uint(const char *query, const char *name, uint64_t min, uint64_t max,
    uint64_t *out, struct http_resp *r)
{
	const char	*v;
	size_t		 vn;
	uint64_t	 x = 0;
	struct jw	 w;

	if (!api_query_param(query, name, &v, &vn))
		return 0;
	if (dec_parse(v, vn, &x) != DEC_OK || x < min || x > max) {
		api_problem_open(&w, r, P_QUERY_RANGE, name,
		    (unsigned long long)min, (unsigned long long)max);
		jw_strz(&w, "parameter", name);
		api_problem_close(&w);
		return -1;
	}
	*out = x;
	return 0;
}

int
api_err_key(struct api_err *e, enum key_err ke)
{
	switch (ke) {
	case KEY_ENCODING:
		return api_err(e, P_KEY_ENCODING);
	case KEY_LENGTH:
		return api_err(e, P_KEY_LENGTH);
	case KEY_UTF8:
		return api_err(e, P_KEY_UTF8);
	case KEY_CONTROL:
		return api_err(e, P_KEY_CONTROL);
	case KEY_SEGMENT:
		return api_err(e, P_KEY_SEGMENT);
	default:
		return api_err(e, P_KEY_INVALID);
	}
}

int
api_fail(struct http_resp *r, const struct api_err *e)
{
	struct jw	 w;

	api_problem_err(&w, r, e);
	api_problem_close(&w);
	return -1;
}

void
api_end(struct jw *w, struct http_resp *r)
{
	if (jw_end(w) == -1) {
		log_error("a response body was not well formed");
		api_problem(r, P_INTERNAL_RENDER);
	}
}
