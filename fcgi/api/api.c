/*
 * api.c - routing and handlers for API.md sections 1-4 and 11.
 * All error text of the HTTP contract is made here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/act.h"
#include "api/api.h"
#include "api/api_int.h"
#include "api/idem.h"
#include "api/sets.h"
#include "api/txn.h"
#include "http/hdr.h"
#include "json/json.h"
#include "model/key.h"
#include "lib/log.h"
#include "json/patch.h"
#include "model/slug.h"

#define STORAGE		"/api/storage/"
#define ALLOW_KEY	"GET, HEAD, PUT, PATCH, POST, DELETE, OPTIONS"
#define ALLOW_HEALTH	"GET, HEAD"
#define ALLOW_PREFIX	"GET, HEAD, POST"

/* A problem+json answer left open for extension members. */
void
api_problem_open(struct http_resp *r, int status, const char *code,
    const char *message)
{
	buf_reset(&r->body);
	r->status = status;
	r->content_type = "application/problem+json";
	buf_puts(&r->body, "{\"status\":");
	buf_u64(&r->body, (uint64_t)status);
	buf_puts(&r->body, ",\"code\":");
	buf_json_str(&r->body, code, strlen(code));
	buf_puts(&r->body, ",\"error\":");
	buf_json_str(&r->body, http_reason(status), strlen(http_reason(status)));
	buf_puts(&r->body, ",\"message\":");
	buf_json_str(&r->body, message, strlen(message));
}

void
api_problem_close(struct http_resp *r)
{
	buf_puts(&r->body, "}\n");
}

void
api_problem(struct http_resp *r, int status, const char *code,
    const char *message)
{
	api_problem_open(r, status, code, message);
	api_problem_close(r);
}

static void
head_etag(struct http_resp *r, const struct store_meta *m)
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
api_json_ts(struct buf *b, int64_t us)
{
	char	 ts[HDR_TS_LEN];

	hdr_ts_fmt(us, ts);
	buf_add(b, "\"", 1);
	buf_puts(b, ts);
	buf_add(b, "\"", 1);
}

/* ,"key":..,"value":..,"version":..,"updated_at":..,"exists":.. */
static void
state_members(struct buf *b, const struct key *k, const struct store_meta *m,
    const char *value, size_t vlen)
{
	int	 exists = m->version > 0 && !m->deleted;

	buf_puts(b, ",\"key\":");
	buf_json_str(b, k->s, k->n);
	buf_puts(b, ",\"value\":");
	if (exists && value != NULL)
		buf_add(b, value, vlen);
	else
		buf_puts(b, "null");
	buf_puts(b, ",\"version\":");
	buf_u64(b, m->version);
	buf_puts(b, ",\"updated_at\":");
	if (m->version > 0)
		api_json_ts(b, m->updated_us);
	else
		buf_puts(b, "null");
	buf_puts(b, exists ? ",\"exists\":true" : ",\"exists\":false");
}

static void
not_found(struct http_resp *r, const struct key *k,
    const struct store_meta *m, enum store_err err)
{
	if (err == STORE_DELETED) {
		api_problem_open(r, 404, "DELETED", "The key was deleted.");
		buf_puts(&r->body, ",\"key\":");
		buf_json_str(&r->body, k->s, k->n);
		buf_puts(&r->body, ",\"version\":");
		buf_u64(&r->body, m->version);
		buf_puts(&r->body, ",\"updated_at\":");
		api_json_ts(&r->body, m->updated_us);
		api_problem_close(r);
		return;
	}
	api_problem_open(r, 404, "NOT_FOUND", "No such key.");
	buf_puts(&r->body, ",\"key\":");
	buf_json_str(&r->body, k->s, k->n);
	api_problem_close(r);
}

void
api_internal(struct http_resp *r, enum store_err err)
{
	log_error("store error %d", (int)err);
	api_problem(r, 500, "INTERNAL",
	    "The store failed; nothing of the request was written.");
}

/* 413 for a change that would grow a value past max_value. */
static void
too_large_value(const struct api_ctx *ctx, struct http_resp *r)
{
	char	 msg[160];

	snprintf(msg, sizeof(msg), "The change would make the value larger "
	    "than max_value (%zu bytes); nothing was written.",
	    ctx->conf->max_value);
	api_problem(r, 413, "TOO_LARGE", msg);
}

/* The sentence for a patch that does not apply to the current value. */
static void
patch_conflict_msg(const struct store_op *op, char *msg, size_t sz)
{
	const struct api_patch_job	*j = op->update == api_patch_cb ?
					    op->update_arg : NULL;
	char				 what[96];

	if (op->update_err == PATCH_TOO_DEEP) {
		snprintf(msg, sz, "The result would nest deeper than 64 "
		    "levels; nothing was written.");
		return;
	}
	if (j != NULL && j->res.op >= 0) {
		patch_op_describe(j->p, (size_t)j->res.op, what, sizeof(what));
		snprintf(msg, sz, "JSON patch operation %ld (%s) does not "
		    "apply to the current value: its test failed or its path "
		    "is missing; nothing was written.", j->res.op, what);
		return;
	}
	snprintf(msg, sz, "The change does not apply to the current value (a "
	    "missing path, or no array there); nothing was written.");
}

/* Answers a write whose op failed. */
void
api_write_failed(const struct api_ctx *ctx, struct http_resp *r,
    const struct key *k, const struct store_op *op)
{
	char	 msg[256];
	int	 status;

	switch (op->err) {
	case STORE_PRECOND:
		status = ctx->conf->precondition_failed_status;
		api_problem_open(r, status, status == 409 ? "VERSION_CONFLICT" :
		    "PRECONDITION_FAILED", "A precondition failed: the key "
		    "is not in the state the request expected.");
		break;
	case STORE_CONFLICT:
		api_problem_open(r, 409, "VERSION_CONFLICT", "The version in the "
		    "request is not the key's current version.");
		break;
	case STORE_UPDATE_FAILED:
		if (op->update_err == PATCH_NOMEM) {
			api_internal(r, STORE_NOMEM);
			return;
		}
		if (op->update_err == PATCH_TOO_LARGE) {
			too_large_value(ctx, r);
			return;
		}
		patch_conflict_msg(op, msg, sizeof(msg));
		api_problem_open(r, 409, "PATCH_CONFLICT", msg);
		break;
	case STORE_NOTFOUND:
	case STORE_DELETED:
		not_found(r, k, &op->meta, op->err);
		return;
	case STORE_REQUIRED:
		api_problem(r, 428, "PRECONDITION_REQUIRED", "Writes to this "
		    "key need If-Match, If-Unmodified-Since or a version.");
		return;
	case STORE_FULL:
		api_problem(r, 507, "STORAGE_FULL", "The store is full "
		    "(map_size); nothing was written.");
		return;
	case STORE_KEY_CLASH:
		api_problem(r, 400, "INVALID_KEY", "A different 512-byte key "
		    "with the same first 502 bytes is already stored.");
		return;
	default:
		api_internal(r, op->err);
		return;
	}
	state_members(&r->body, k, &op->meta, op->cur_value, op->cur_vlen);
	api_problem_close(r);
	if (op->meta.version > 0 && !op->meta.deleted)
		head_etag(r, &op->meta);
}

int
api_bad_request(struct http_resp *r, const char *code, const char *msg)
{
	api_problem(r, 400, code, msg);
	return -1;
}

/* Reads the header preconditions into c; -1 with resp set when malformed. */
int
api_parse_conds(const struct http_req *q, struct store_cond *c, int forread,
    struct http_resp *r)
{
	enum hdr_err	 e;

	memset(c, 0, sizeof(*c));
	if (q->if_match != NULL) {
		e = hdr_etags(q->if_match, c->match, STORE_TAGS_MAX,
		    &c->nmatch, &c->match_any);
		if (e != HDR_OK)
			return api_bad_request(r, "INVALID_REQUEST", e == HDR_TOO_MANY ?
			    "If-Match lists too many entity tags." :
			    "If-Match is malformed: send the quoted version "
			    "from the ETag (If-Match: \"7\"), a list of them, "
			    "or *.");
		c->flags |= STORE_IF_MATCH;
	}
	if (q->if_unmodified_since != NULL) {
		if (hdr_http_date(q->if_unmodified_since,
		    &c->unmodified_since) != HDR_OK)
			return api_bad_request(r, "INVALID_REQUEST",
			    "If-Unmodified-Since is not an HTTP-date such as "
			    "the Last-Modified header's (Sun, 22 Nov 2026 "
			    "18:58:30 GMT).");
		c->flags |= STORE_IF_UNMODIFIED;
	}
	if (q->if_none_match != NULL) {
		e = hdr_etags(q->if_none_match, c->none, STORE_TAGS_MAX,
		    &c->nnone, &c->none_any);
		if (e != HDR_OK)
			return api_bad_request(r, "INVALID_REQUEST", e == HDR_TOO_MANY ?
			    "If-None-Match lists too many entity tags." :
			    "If-None-Match is malformed: send quoted versions "
			    "(If-None-Match: \"7\") or *.");
		c->flags |= STORE_IF_NONE_MATCH;
	}
	if (forread && q->if_modified_since != NULL) {
		if (hdr_http_date(q->if_modified_since,
		    &c->modified_since) != HDR_OK)
			return api_bad_request(r, "INVALID_REQUEST",
			    "If-Modified-Since is not an HTTP-date such as the "
			    "Last-Modified header's (Sun, 22 Nov 2026 18:58:30 "
			    "GMT).");
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

/* Reads ?version=N into c as a body token; -1 with resp set when bad. */
static int
query_version(const char *query, struct store_cond *c, struct http_resp *r)
{
	const char	*v;
	size_t		 vn, i;
	uint64_t	 x = 0;

	if (!api_query_param(query, "version", &v, &vn))
		return 0;
	if (vn == 0 || vn > 16)
		return api_bad_request(r, "INVALID_REQUEST",
		    "version must be a non-negative integer.");
	for (i = 0; i < vn; i++) {
		if (v[i] < '0' || v[i] > '9')
			return api_bad_request(r, "INVALID_REQUEST",
			    "version must be a non-negative integer.");
		x = x * 10 + (uint64_t)(v[i] - '0');
	}
	c->flags |= STORE_TOKEN_VERSION;
	c->token_version = x;
	return 0;
}


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

/* The body of a read (API.md 3.1): {"key", "value", "version", ...}. */
static void
envelope(struct http_resp *r, const char *key, size_t klen,
    const struct store_meta *m, const char *value, size_t vlen)
{
	r->content_type = "application/json";
	buf_puts(&r->body, "{\"key\":");
	buf_json_str(&r->body, key, klen);
	buf_puts(&r->body, ",\"value\":");
	buf_add(&r->body, value, vlen);
	buf_puts(&r->body, ",\"version\":");
	buf_u64(&r->body, m->version);
	buf_puts(&r->body, ",\"updated_at\":");
	api_json_ts(&r->body, m->updated_us);
	buf_puts(&r->body, ",\"created_at\":");
	api_json_ts(&r->body, m->created_us);
	buf_puts(&r->body, ",\"updated_by\":");
	if (m->principal[0] != '\0')
		buf_json_str(&r->body, m->principal, strlen(m->principal));
	else
		buf_puts(&r->body, "null");
	buf_puts(&r->body, "}\n");
}

static void
h_get(const struct api_ctx *ctx, const struct http_req *q,
    struct http_resp *r, const struct key *k, const char *query)
{
	struct store_cond	 c;
	struct store_meta	 m;
	char			*value = NULL;
	size_t			 vlen, n;
	const char		*v;
	enum store_err		 err;

	if (api_query_param(query, "version", &v, &n) ||
	    api_query_param(query, "history", &v, &n)) {
		api_problem(r, 400, "INVALID_REQUEST",
		    "version and history reads are not available.");
		goto out;
	}
	if (api_parse_conds(q, &c, 1, r) == -1)
		goto out;
	err = store_get(ctx->st, k->s, k->n, &m, &value, &vlen);
	if (err == STORE_NOTFOUND || err == STORE_DELETED) {
		not_found(r, k, &m, err);
		goto out;
	}
	if (err != STORE_OK) {
		api_internal(r, err);
		goto out;
	}
	err = store_cond_check(&c, &m, 1);
	if (err == STORE_NOT_MODIFIED) {
		r->status = 304;
		head_etag(r, &m);
		buf_puts(&r->head, "Cache-Control: no-cache\r\n");
		goto out;
	}
	if (err == STORE_PRECOND) {
		struct store_op	 op;

		memset(&op, 0, sizeof(op));
		op.err = err;
		op.meta = m;
		op.cur_value = value;
		op.cur_vlen = vlen;
		api_write_failed(ctx, r, k, &op);
		goto out;
	}
	r->status = 200;
	r->head_only = q->method[0] == 'H';
	head_etag(r, &m);
	buf_puts(&r->head, "Cache-Control: no-cache\r\n");
	envelope(r, k->s, k->n, &m, value, vlen);
out:
	free(value);
}

/* Checks the body's size and JSON; -1 with resp set. */
static int
check_body(const struct http_req *q, struct http_resp *r)
{
	char		 msg[128];
	size_t		 pos;
	enum json_err	 e;

	switch (q->body_err) {
	case HTTP_BODY_OK:
		break;
	case HTTP_BODY_TOO_LARGE:
		api_problem(r, 413, "TOO_LARGE",
		    "The body is larger than max_body.");
		return -1;
	default:
		return api_bad_request(r, "INVALID_REQUEST",
		    "Content-Length does not match the body.");
	}
	e = json_check(q->body, q->body_len, JSON_MAX_DEPTH, &pos);
	switch (e) {
	case JSON_OK:
		return 0;
	case JSON_EMPTY:
		return api_bad_request(r, "INVALID_JSON", "The body is empty.");
	case JSON_DEPTH:
		return api_bad_request(r, "INVALID_JSON",
		    "The body is nested deeper than 64 levels.");
	case JSON_NOMEM:
		api_internal(r, STORE_NOMEM);
		return -1;
	default:
		break;
	}
	snprintf(msg, sizeof(msg), e == JSON_DUPLICATE ? "The member name at "
	    "byte %zu appears twice in one object; send each name once "
	    "(I-JSON)." : "The body is not JSON: it breaks off at byte %zu.",
	    pos);
	return api_bad_request(r, "INVALID_JSON", msg);
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
api_check_json_body(const struct http_req *q, struct http_resp *r)
{
	if (!hdr_media(q->content_type, "application/json")) {
		api_problem(r, 415, "UNSUPPORTED_MEDIA_TYPE",
		    "Send the body as Content-Type: application/json.");
		return -1;
	}
	return check_body(q, r);
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
	char			 name[32], ts[40], what[40], msg[200];
	size_t			 it = 0, nlen;
	int			 rc, seen_version = 0, seen_updated = 0;
	long			 tn;

	memset(pb, 0, sizeof(*pb));
	while ((rc = json_member(q->body, q->body_len, &it, name,
	    sizeof(name), &nlen, &v)) == 1) {
		if (json_name_is(name, nlen, "value")) {
			if (pb->has_value++)
				return api_bad_request(r, "INVALID_REQUEST",
				    "The body names value twice.");
			pb->value = v;
		} else if (json_name_is(name, nlen, "version")) {
			if (seen_version++)
				return api_bad_request(r, "INVALID_REQUEST",
				    "The body names version twice.");
			if (json_uint(v, &c->token_version) == -1)
				return api_bad_request(r, "INVALID_REQUEST",
				    "version must be a non-negative integer.");
			c->flags |= STORE_TOKEN_VERSION;
		} else if (json_name_is(name, nlen, "updated_at")) {
			if (seen_updated++)
				return api_bad_request(r, "INVALID_REQUEST",
				    "The body names updated_at twice.");
			tn = json_string(v, ts, sizeof(ts));
			if (tn < 0 || hdr_ts(ts, (size_t)tn,
			    &c->token_updated_us) != HDR_OK)
				return api_bad_request(r, "INVALID_REQUEST",
				    "updated_at must be an RFC 3339 UTC time.");
			c->flags |= STORE_TOKEN_UPDATED;
		} else {
			api_name_text(name, nlen, sizeof(name), what,
			    sizeof(what));
			snprintf(msg, sizeof(msg), "unknown member \"%s\": the "
			    "body holds value, and may hold version or "
			    "updated_at; wrap the document as {\"value\": ...}.",
			    what);
			return api_bad_request(r, "INVALID_REQUEST", msg);
		}
	}
	if (rc == -1)
		return api_bad_request(r, "INVALID_REQUEST",
		    "The body must be an object {\"value\": ...}.");
	if (!pb->has_value)
		return api_bad_request(r, "INVALID_REQUEST",
		    "The body has no value member.");
	return 0;
}

void
api_write_ok(struct http_resp *r, const struct http_req *q, const struct key *k,
    const struct store_op *op, long index)
{
	char	 loc[STORE_KEY_MAX * 3 + 1];

	r->status = op->created ? 201 : 200;
	head_etag(r, &op->meta);
	if (op->created) {
		key_encode(k->s, k->n, loc, sizeof(loc));
		buf_puts(&r->head, "Location: " STORAGE);
		buf_puts(&r->head, loc);
		buf_puts(&r->head, "\r\n");
	}
	if (hdr_list_has(q->prefer, "return=minimal")) {
		r->status = 204;
		buf_puts(&r->head, "Preference-Applied: return=minimal\r\n");
		return;
	}
	r->content_type = "application/json";
	buf_puts(&r->body, "{\"key\":");
	buf_json_str(&r->body, k->s, k->n);
	buf_puts(&r->body, ",\"version\":");
	buf_u64(&r->body, op->meta.version);
	buf_puts(&r->body, ",\"updated_at\":");
	api_json_ts(&r->body, op->meta.updated_us);
	if (index >= 0) {
		buf_puts(&r->body, ",\"index\":");
		buf_u64(&r->body, (uint64_t)index);
	}
	buf_puts(&r->body, "}\n");
}

int
api_read_put(const struct api_ctx *ctx, const struct http_req *q,
    struct http_resp *r, const struct key *k, struct store_cond *c,
    struct buf *val)
{
	struct put_body	 pb;

	if (api_check_json_body(q, r) == -1 ||
	    api_parse_conds(q, c, 0, r) == -1 ||
	    parse_put_body(q, &pb, c, r) == -1)
		return -1;
	if (conf_requires(ctx->conf, k->s, k->n))
		c->flags |= STORE_REQUIRE;
	json_compact(val, pb.value.p, pb.value.n);
	if (val->oom) {
		api_internal(r, STORE_NOMEM);
		return -1;
	}
	return 0;
}

static void
h_put(const struct api_ctx *ctx, const struct http_req *q,
    struct http_resp *r, const struct key *k)
{
	struct store_cond	 c;
	struct store_op		 op;
	struct buf		 val = { 0 };

	memset(&op, 0, sizeof(op));
	if (api_read_put(ctx, q, r, k, &c, &val) == -1)
		goto out;
	op.kind = STORE_OP_PUT;
	op.key = k->s;
	op.klen = k->n;
	op.value = val.p;
	op.vlen = val.len;
	op.cond = &c;
	(void)store_write(ctx->st, &op);
	if (op.err != STORE_OK)
		api_write_failed(ctx, r, k, &op);
	else
		api_write_ok(r, q, k, &op, -1);
out:
	free(op.cur_value);
	buf_free(&val);
}

static void
h_delete(const struct api_ctx *ctx, const struct http_req *q,
    struct http_resp *r, const struct key *k, const char *query)
{
	struct store_cond	 c;
	struct store_op		 op;

	memset(&op, 0, sizeof(op));
	if (api_parse_conds(q, &c, 0, r) == -1 || query_version(query, &c, r) == -1)
		goto out;
	if (conf_requires(ctx->conf, k->s, k->n))
		c.flags |= STORE_REQUIRE;
	op.kind = STORE_OP_DELETE;
	op.key = k->s;
	op.klen = k->n;
	op.cond = &c;
	(void)store_write(ctx->st, &op);
	if (op.err != STORE_OK) {
		api_write_failed(ctx, r, k, &op);
		goto out;
	}
	r->status = 200;
	r->content_type = "application/json";
	head_etag(r, &op.meta);
	buf_puts(&r->body, "{\"key\":");
	buf_json_str(&r->body, k->s, k->n);
	buf_puts(&r->body, ",\"version\":");
	buf_u64(&r->body, op.meta.version);
	buf_puts(&r->body, ",\"deleted\":true}\n");
out:
	free(op.cur_value);
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

struct patch_finish {
	struct idem_finish		 f;
	const struct api_ctx	*ctx;
	const struct http_req	*q;
	const struct key	*k;
	struct store_op		*op;
	struct api_patch_job	*job;
	int			 with_index;
};

static void
patch_finish(struct idem_finish *f, struct http_resp *r)
{
	struct patch_finish	*pf = (struct patch_finish *)f;

	if (pf->op->err != STORE_OK)
		api_write_failed(pf->ctx, r, pf->k, pf->op);
	else
		api_write_ok(r, pf->q, pf->k, pf->op, pf->with_index ?
		    pf->job->res.index : -1);
}

/* Applies p to key k (after the preconditions) and answers. */
static void
write_patch(const struct api_ctx *ctx, const struct http_req *q,
    struct http_resp *r, const struct key *k, const struct patch *p,
    struct store_cond *c, int with_index)
{
	struct store_op		 op;
	struct api_patch_job	 job = { p, NULL, ctx->conf->max_value,
				    { -1, -1 } };
	struct patch_finish	 pf = { { patch_finish }, ctx, q, k, &op, &job,
				    with_index };
	struct idem_req		 ir;

	memset(&op, 0, sizeof(op));
	if (idem_begin(ctx, q, &ir, &pf.f, r) == -1)
		return;
	if (conf_requires(ctx->conf, k->s, k->n))
		c->flags |= STORE_REQUIRE;
	op.kind = STORE_OP_UPDATE;
	op.key = k->s;
	op.klen = k->n;
	op.cond = c;
	op.update = api_patch_cb;
	op.update_arg = &job;
	op.idem = ir.used ? &ir.id : NULL;
	(void)store_write(ctx->st, &op);
	idem_end(&ir, &pf.f, r);
	free(op.cur_value);
}

static void
h_patch(const struct api_ctx *ctx, const struct http_req *q,
    struct http_resp *r, const struct key *k, const char *query)
{
	struct store_cond	 c;
	struct patch		*p = NULL;
	enum patch_err		 pe;
	int			 merge;

	merge = hdr_media(q->content_type, "application/merge-patch+json");
	if (!merge && !hdr_media(q->content_type,
	    "application/json-patch+json")) {
		api_problem(r, 415, "UNSUPPORTED_MEDIA_TYPE", "PATCH takes "
		    "application/merge-patch+json or application/json-patch+json.");
		goto out;
	}
	if (check_body(q, r) == -1 || api_parse_conds(q, &c, 0, r) == -1 ||
	    query_version(query, &c, r) == -1)
		goto out;
	pe = merge ? patch_merge(q->body, q->body_len, &p) :
	    patch_json(q->body, q->body_len, &p);
	if (pe == PATCH_NOMEM) {
		api_internal(r, STORE_NOMEM);
		goto out;
	}
	if (pe != PATCH_OK) {
		api_problem(r, 400, "INVALID_PATCH", "The JSON patch is "
		    "malformed: an array of at most 128 operations, each with a "
		    "known op, valid JSON pointers and the members it needs.");
		goto out;
	}
	write_patch(ctx, q, r, k, p, &c, 0);
out:
	patch_free(p);
}

static void
h_append(const struct api_ctx *ctx, const struct http_req *q,
    struct http_resp *r, const struct key *k, const char *query)
{
	struct store_cond	 c;
	struct patch		*p = NULL;
	char			 ptr[1024];
	const char		*v;
	size_t			 vn;
	long			 plen;
	int			 stamp = 0;
	enum patch_err		 pe;

	if (!api_query_param(query, "append", &v, &vn)) {
		api_problem(r, 400, "INVALID_REQUEST", "POST to a key appends "
		    "to an array: name it with ?append=<JSON pointer>.");
		goto out;
	}
	if ((plen = key_decode(v, vn, ptr, sizeof(ptr))) < 0 ||
	    !patch_pointer_valid(ptr, (size_t)plen)) {
		api_problem(r, 400, "INVALID_PATCH",
		    "append must be a JSON pointer (\"\" or /a/b, ~0 ~1 escapes, "
		    "at most 64 tokens).");
		goto out;
	}
	if (api_query_param(query, "stamp", &v, &vn))
		stamp = vn == 1 && v[0] == '1';
	if (api_check_json_body(q, r) == -1 || api_parse_conds(q, &c, 0, r) == -1 ||
	    query_version(query, &c, r) == -1)
		goto out;
	pe = patch_append(ptr, (size_t)plen, q->body, q->body_len, stamp, &p);
	if (pe == PATCH_NOMEM) {
		api_internal(r, STORE_NOMEM);
		goto out;
	}
	if (pe != PATCH_OK) {
		api_problem(r, 400, "INVALID_REQUEST",
		    "stamp=1 needs an object to stamp.");
		goto out;
	}
	write_patch(ctx, q, r, k, p, &c, 1);
out:
	patch_free(p);
}

/* Reads ?name=N into *out when present; -1 with resp set when bad. */
int
api_query_uint(const char *query, const char *name, uint64_t min, uint64_t max,
    uint64_t *out, struct http_resp *r)
{
	const char	*v;
	size_t		 vn, i;
	uint64_t	 x = 0;

	if (!api_query_param(query, name, &v, &vn))
		return 0;
	for (i = 0; i < vn && i < 10; i++) {
		if (v[i] < '0' || v[i] > '9')
			break;
		x = x * 10 + (uint64_t)(v[i] - '0');
	}
	if (vn == 0 || i != vn || x < min || x > max) {
		buf_reset(&r->body);
		api_problem_open(r, 400, "INVALID_REQUEST", "A query parameter is "
		    "out of range.");
		buf_puts(&r->body, ",\"parameter\":");
		buf_json_str(&r->body, name, strlen(name));
		api_problem_close(r);
		return -1;
	}
	*out = x;
	return 0;
}

static void
h_list(const struct api_ctx *ctx, struct http_resp *r, const struct key *k,
    const char *query)
{
	struct store_list	 l;
	char			 after[STORE_KEY_MAX + 1];
	const char		*v;
	size_t			 vn, i;
	long			 alen = 0;
	uint64_t		 limit = 100;
	int			 values = 0;
	enum store_err		 err;

	memset(&l, 0, sizeof(l));
	if (api_query_uint(query, "limit", 1, 1000, &limit, r) == -1)
		goto out;
	if (api_query_param(query, "after", &v, &vn) &&
	    (alen = key_decode(v, vn, after, sizeof(after))) < 0) {
		api_problem(r, 400, "INVALID_REQUEST",
		    "after must be a percent-encoded key.");
		goto out;
	}
	if (api_query_param(query, "values", &v, &vn))
		values = vn == 1 && v[0] == '1';
	err = store_list(ctx->st, k->s, k->n, after, (size_t)alen,
	    (size_t)limit, values, &l);
	if (err != STORE_OK) {
		api_internal(r, err);
		goto out;
	}
	r->status = 200;
	r->content_type = "application/json";
	buf_puts(&r->head, "Cache-Control: no-cache\r\n");
	buf_puts(&r->body, "{\"items\":[");
	for (i = 0; i < l.n; i++) {
		buf_puts(&r->body, i ? ",{\"key\":" : "{\"key\":");
		buf_json_str(&r->body, l.items[i].key, l.items[i].klen);
		buf_puts(&r->body, ",\"version\":");
		buf_u64(&r->body, l.items[i].meta.version);
		buf_puts(&r->body, ",\"updated_at\":");
		api_json_ts(&r->body, l.items[i].meta.updated_us);
		if (values) {
			buf_puts(&r->body, ",\"value\":");
			buf_add(&r->body, l.items[i].value, l.items[i].vlen);
		}
		buf_puts(&r->body, "}");
	}
	buf_puts(&r->body, "],\"next\":");
	if (l.more && l.n > 0)
		buf_json_str(&r->body, l.items[l.n - 1].key, l.items[l.n - 1].klen);
	else
		buf_puts(&r->body, "null");
	buf_puts(&r->body, "}\n");
out:
	store_list_free(&l);
}

struct create_finish {
	struct idem_finish		 f;
	const struct api_ctx	*ctx;
	struct store_op		*op;
	const struct buf	*val;
};

static void
create_finish(struct idem_finish *f, struct http_resp *r)
{
	struct create_finish	*cf = (struct create_finish *)f;
	struct store_op		*op = cf->op;
	char			 loc[STORE_KEY_MAX * 3 + 1];
	struct key		 nk;

	if (op->err == STORE_INVALID) {
		api_problem(r, 400, "INVALID_KEY", "The prefix and the name "
		    "would make a key longer than 512 bytes.");
		return;
	}
	if (op->err != STORE_OK) {
		memset(&nk, 0, sizeof(nk));
		memcpy(nk.s, op->new_key, op->new_klen);
		nk.n = op->new_klen;
		api_write_failed(cf->ctx, r, &nk, op);
		return;
	}
	r->status = 201;
	head_etag(r, &op->meta);
	key_encode(op->new_key, op->new_klen, loc, sizeof(loc));
	buf_puts(&r->head, "Location: " STORAGE);
	buf_puts(&r->head, loc);
	buf_puts(&r->head, "\r\n");
	envelope(r, op->new_key, op->new_klen, &op->meta, cf->val->p,
	    cf->val->len);
}

static void
h_create(const struct api_ctx *ctx, const struct http_req *q,
    struct http_resp *r, const struct key *prefix)
{
	struct create_finish	 cf = { { create_finish }, NULL, NULL, NULL };
	struct idem_req		 ir;

	struct json_span	 v, value = { NULL, 0 };
	struct store_op		 op;
	struct buf		 val = { 0 };
	char			 name[16], *text = NULL, slug[SLUG_MAX + 1];
	size_t			 it = 0, nlen, slen = 0;
	long			 tn;
	int			 rc, has_slug = 0;

	memset(&op, 0, sizeof(op));
	if (api_check_json_body(q, r) == -1)
		goto out;
	while ((rc = json_member(q->body, q->body_len, &it, name, sizeof(name),
	    &nlen, &v)) == 1) {
		if (json_name_is(name, nlen, "value") && value.p == NULL)
			value = v;
		else if (json_name_is(name, nlen, "slug") && !has_slug) {
			if (v.p[0] != '"') {
				api_bad_request(r, "INVALID_REQUEST",
				    "slug must be a string.");
				goto out;
			}
			/* unescaped text is never longer than its JSON */
			if ((text = malloc(v.n)) == NULL ||
			    (tn = json_string(v, text, v.n)) < 0) {
				api_internal(r, STORE_NOMEM);
				goto out;
			}
			slen = slug_fold(text, (size_t)tn, slug);
			has_slug = 1;
		} else {
			api_bad_request(r, "INVALID_REQUEST", "The body may hold only "
			    "value and slug, once each.");
			goto out;
		}
	}
	if (rc == -1 || value.p == NULL) {
		api_bad_request(r, "INVALID_REQUEST",
		    "The body must be an object {\"value\": ...}.");
		goto out;
	}
	json_compact(&val, value.p, value.n);
	if (val.oom) {
		api_internal(r, STORE_NOMEM);
		goto out;
	}
	op.kind = STORE_OP_CREATE;
	op.key = prefix->s;
	op.klen = prefix->n;
	op.slug = has_slug ? slug : NULL;
	op.slug_len = slen;
	op.value = val.p;
	op.vlen = val.len;
	cf.ctx = ctx;
	cf.op = &op;
	cf.val = &val;
	if (idem_begin(ctx, q, &ir, &cf.f, r) == -1)
		goto out;
	op.idem = ir.used ? &ir.id : NULL;
	(void)store_write(ctx->st, &op);
	idem_end(&ir, &cf.f, r);
out:
	free(text);
	free(op.cur_value);
	buf_free(&val);
}

const char *
api_key_message(enum key_err e)
{
	switch (e) {
	case KEY_ENCODING:
		return "The key has malformed percent-encoding.";
	case KEY_LENGTH:
		return "A key has 1 to 512 bytes.";
	case KEY_UTF8:
		return "The key is not valid UTF-8.";
	case KEY_CONTROL:
		return "The key holds a control character.";
	case KEY_SEGMENT:
		return "The key has an empty, \".\" or \"..\" segment.";
	default:
		return "The key is invalid.";
	}
}

static void
storage(const struct api_ctx *ctx, const struct http_req *q,
    struct http_resp *r, const char *path, size_t plen, const char *query)
{
	struct key	 k;
	enum key_err	 ke;
	const char	*m = q->method;
	int		 is_write;

	if ((ke = key_parse(path, plen, &k)) != KEY_OK) {
		api_problem(r, 400, "INVALID_KEY", api_key_message(ke));
		return;
	}
	if (k.prefix) {
		if (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0) {
			h_list(ctx, r, &k, query);
			r->head_only = m[0] == 'H';
		} else if (strcmp(m, "POST") == 0 && !k.reserved)
			h_create(ctx, q, r, &k);
		else if (strcmp(m, "POST") == 0)
			api_problem(r, 400, "INVALID_KEY", "Keys whose first "
			    "segment starts with _ are reserved.");
		else {
			api_problem(r, 405, "METHOD_NOT_ALLOWED",
			    "A prefix can be listed (GET) or created under (POST).");
			buf_puts(&r->head, "Allow: " ALLOW_PREFIX "\r\n");
		}
		return;
	}
	is_write = strcmp(m, "PUT") == 0 || strcmp(m, "DELETE") == 0 ||
	    strcmp(m, "PATCH") == 0 || strcmp(m, "POST") == 0;
	if (is_write && k.reserved && strncmp(k.s, "_act/", 5) == 0) {
		if (strcmp(m, "PUT") == 0)
			sets_put_key(ctx, q, r, &k);
		else
			sets_failed(r, ACT_BAD_SET);
		return;
	}
	if (is_write && k.reserved) {
		api_problem(r, 400, "INVALID_KEY",
		    "Keys whose first segment starts with _ are reserved.");
		return;
	}
	if (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0)
		h_get(ctx, q, r, &k, query);
	else if (strcmp(m, "PUT") == 0)
		h_put(ctx, q, r, &k);
	else if (strcmp(m, "DELETE") == 0)
		h_delete(ctx, q, r, &k, query);
	else if (strcmp(m, "PATCH") == 0)
		h_patch(ctx, q, r, &k, query);
	else if (strcmp(m, "POST") == 0)
		h_append(ctx, q, r, &k, query);
	else if (strcmp(m, "OPTIONS") == 0) {
		r->status = 204;
		buf_puts(&r->head, "Allow: " ALLOW_KEY "\r\n");
	} else {
		api_problem(r, 405, "METHOD_NOT_ALLOWED",
		    "This method is not allowed on a key.");
		buf_puts(&r->head, "Allow: " ALLOW_KEY "\r\n");
	}
}

void
api_handle(const struct api_ctx *ctx, const struct http_req *q,
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
	else if (plen >= sizeof(STORAGE) - 1 &&
	    strncmp(uri, STORAGE, sizeof(STORAGE) - 1) == 0)
		storage(ctx, q, r, uri + sizeof(STORAGE) - 1,
		    plen - (sizeof(STORAGE) - 1), query);
	else
		api_problem(r, 404, "NOT_FOUND", "No such resource.");
	if (r->body.oom || r->head.oom) {
		http_resp_reset(r);
		api_problem(r, 500, "INTERNAL", "Out of memory.");
	}
}
