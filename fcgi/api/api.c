/*
 * api.c - what every handler of the HTTP contract shares: the problem+json
 * catalogue (all error text of API.md is made in api/), preconditions and
 * query parameters, bodies, and the answers to writes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/api_int.h"
#include "http/hdr.h"
#include "json/json.h"
#include "json/patch.h"
#include "lib/log.h"
#include "model/key.h"

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

void
api_envelope(struct buf *b, const char *key, size_t klen,
    const struct store_meta *m, const char *value, size_t vlen)
{
	buf_puts(b, "{\"key\":");
	buf_json_str(b, key, klen);
	buf_puts(b, ",\"value\":");
	buf_add(b, value, vlen);
	buf_puts(b, ",\"version\":");
	buf_u64(b, m->version);
	buf_puts(b, ",\"updated_at\":");
	api_json_ts(b, m->updated_us);
	buf_puts(b, ",\"created_at\":");
	api_json_ts(b, m->created_us);
	buf_puts(b, ",\"updated_by\":");
	if (m->principal[0] != '\0')
		buf_json_str(b, m->principal, strlen(m->principal));
	else
		buf_puts(b, "null");
	buf_puts(b, "}");
}

void
api_not_found(struct http_resp *r, const struct key *k,
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
		api_not_found(r, k, &op->meta, op->err);
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
		api_head_etag(r, &op->meta);
}

int
api_bad_request(struct http_resp *r, const char *code, const char *msg)
{
	api_problem(r, 400, code, msg);
	return -1;
}

/* Reads the header preconditions into c; -1 with resp set when malformed. */
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
		e = etags(q->if_none_match, c->none, &c->nnone, &c->none_any);
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

/* Checks the body's size and JSON; -1 with resp set. */
int
api_check_body(const struct http_req *q, struct http_resp *r)
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
	return api_check_body(q, r);
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
