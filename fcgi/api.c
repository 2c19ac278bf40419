/*
 * api.c - routing and handlers for API.md sections 1-4 and 11.
 * All error text of the HTTP contract is made here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "act.h"
#include "api.h"
#include "hdr.h"
#include "json.h"
#include "key.h"
#include "log.h"
#include "patch.h"
#include "slug.h"

#define STORAGE		"/api/storage/"
#define ALLOW_KEY	"GET, HEAD, PUT, PATCH, POST, DELETE, OPTIONS"
#define ALLOW_HEALTH	"GET, HEAD"
#define ALLOW_PREFIX	"GET, HEAD, POST"

/* A problem+json answer left open for extension members. */
static void
problem_open(struct http_resp *r, int status, const char *code,
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

static void
problem_close(struct http_resp *r)
{
	buf_puts(&r->body, "}\n");
}

void
api_problem(struct http_resp *r, int status, const char *code,
    const char *message)
{
	problem_open(r, status, code, message);
	problem_close(r);
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

static void
json_ts(struct buf *b, int64_t us)
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
		json_ts(b, m->updated_us);
	else
		buf_puts(b, "null");
	buf_puts(b, exists ? ",\"exists\":true" : ",\"exists\":false");
}

static void
not_found(struct http_resp *r, const struct key *k,
    const struct store_meta *m, enum store_err err)
{
	if (err == STORE_DELETED) {
		problem_open(r, 404, "DELETED", "The key was deleted.");
		buf_puts(&r->body, ",\"key\":");
		buf_json_str(&r->body, k->s, k->n);
		buf_puts(&r->body, ",\"version\":");
		buf_u64(&r->body, m->version);
		buf_puts(&r->body, ",\"updated_at\":");
		json_ts(&r->body, m->updated_us);
		problem_close(r);
		return;
	}
	problem_open(r, 404, "NOT_FOUND", "No such key.");
	buf_puts(&r->body, ",\"key\":");
	buf_json_str(&r->body, k->s, k->n);
	problem_close(r);
}

static void
internal(struct http_resp *r, enum store_err err)
{
	log_error("store error %d", (int)err);
	api_problem(r, 500, "INTERNAL",
	    "The store failed; nothing of the request was written.");
}

/* Answers a write whose op failed. */
static void
write_failed(const struct api_ctx *ctx, struct http_resp *r,
    const struct key *k, const struct store_op *op)
{
	int	 status;

	switch (op->err) {
	case STORE_PRECOND:
		status = ctx->conf->precondition_failed_status;
		problem_open(r, status, status == 409 ? "VERSION_CONFLICT" :
		    "PRECONDITION_FAILED", "A precondition failed: the key "
		    "is not in the state the request expected.");
		break;
	case STORE_CONFLICT:
		problem_open(r, 409, "VERSION_CONFLICT", "The version in the "
		    "request is not the key's current version.");
		break;
	case STORE_UPDATE_FAILED:
		if (op->update_err == PATCH_NOMEM) {
			internal(r, STORE_NOMEM);
			return;
		}
		problem_open(r, 409, "PATCH_CONFLICT",
		    op->update_err == PATCH_TOO_DEEP ? "The result would nest "
		    "deeper than 64 levels." : "The change does not apply to "
		    "the current value (a failed test, a missing path, or no "
		    "array there).");
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
		internal(r, op->err);
		return;
	}
	state_members(&r->body, k, &op->meta, op->cur_value, op->cur_vlen);
	problem_close(r);
	if (op->meta.version > 0 && !op->meta.deleted)
		head_etag(r, &op->meta);
}

static int
bad_request(struct http_resp *r, const char *code, const char *msg)
{
	api_problem(r, 400, code, msg);
	return -1;
}

/* Reads the header preconditions into c; -1 with resp set when malformed. */
static int
parse_conds(const struct http_req *q, struct store_cond *c, int forread,
    struct http_resp *r)
{
	enum hdr_err	 e;

	memset(c, 0, sizeof(*c));
	if (q->if_match != NULL) {
		e = hdr_etags(q->if_match, c->match, STORE_TAGS_MAX,
		    &c->nmatch, &c->match_any);
		if (e != HDR_OK)
			return bad_request(r, "INVALID_REQUEST", e == HDR_TOO_MANY ?
			    "If-Match lists too many entity tags." :
			    "If-Match is malformed.");
		c->flags |= STORE_IF_MATCH;
	}
	if (q->if_unmodified_since != NULL) {
		if (hdr_http_date(q->if_unmodified_since,
		    &c->unmodified_since) != HDR_OK)
			return bad_request(r, "INVALID_REQUEST",
			    "If-Unmodified-Since is not an HTTP-date.");
		c->flags |= STORE_IF_UNMODIFIED;
	}
	if (q->if_none_match != NULL) {
		e = hdr_etags(q->if_none_match, c->none, STORE_TAGS_MAX,
		    &c->nnone, &c->none_any);
		if (e != HDR_OK)
			return bad_request(r, "INVALID_REQUEST", e == HDR_TOO_MANY ?
			    "If-None-Match lists too many entity tags." :
			    "If-None-Match is malformed.");
		c->flags |= STORE_IF_NONE_MATCH;
	}
	if (forread && q->if_modified_since != NULL) {
		if (hdr_http_date(q->if_modified_since,
		    &c->modified_since) != HDR_OK)
			return bad_request(r, "INVALID_REQUEST",
			    "If-Modified-Since is not an HTTP-date.");
		c->flags |= STORE_IF_MODIFIED;
	}
	return 0;
}

/* Finds name=value in the query string q; 1 when found. */
static int
query_param(const char *q, const char *name, const char **v, size_t *vn)
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

	if (!query_param(query, "version", &v, &vn))
		return 0;
	if (vn == 0 || vn > 16)
		return bad_request(r, "INVALID_REQUEST",
		    "version must be a non-negative integer.");
	for (i = 0; i < vn; i++) {
		if (v[i] < '0' || v[i] > '9')
			return bad_request(r, "INVALID_REQUEST",
			    "version must be a non-negative integer.");
		x = x * 10 + (uint64_t)(v[i] - '0');
	}
	c->flags |= STORE_TOKEN_VERSION;
	c->token_version = x;
	return 0;
}

static const char	*key_message(enum key_err);

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
	json_ts(&r->body, m->updated_us);
	buf_puts(&r->body, ",\"created_at\":");
	json_ts(&r->body, m->created_us);
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

	if (query_param(query, "version", &v, &n) ||
	    query_param(query, "history", &v, &n)) {
		api_problem(r, 400, "INVALID_REQUEST",
		    "version and history reads are not available.");
		goto out;
	}
	if (parse_conds(q, &c, 1, r) == -1)
		goto out;
	err = store_get(ctx->st, k->s, k->n, &m, &value, &vlen);
	if (err == STORE_NOTFOUND || err == STORE_DELETED) {
		not_found(r, k, &m, err);
		goto out;
	}
	if (err != STORE_OK) {
		internal(r, err);
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
		write_failed(ctx, r, k, &op);
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
		return bad_request(r, "INVALID_REQUEST",
		    "Content-Length does not match the body.");
	}
	e = json_check(q->body, q->body_len, JSON_MAX_DEPTH, &pos);
	if (e == JSON_EMPTY)
		return bad_request(r, "INVALID_JSON", "The body is empty.");
	if (e == JSON_DEPTH)
		return bad_request(r, "INVALID_JSON",
		    "The body is nested deeper than 64 levels.");
	if (e != JSON_OK)
		return bad_request(r, "INVALID_JSON", "The body is not JSON.");
	return 0;
}

/* Checks Content-Type: application/json and the body; -1 with resp set. */
static int
check_json_body(const struct http_req *q, struct http_resp *r)
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
	char			 name[32], ts[40];
	size_t			 it = 0, nlen;
	int			 rc, seen_version = 0, seen_updated = 0;
	long			 tn;

	memset(pb, 0, sizeof(*pb));
	while ((rc = json_member(q->body, q->body_len, &it, name,
	    sizeof(name), &nlen, &v)) == 1) {
		if (nlen == 5 && strcmp(name, "value") == 0) {
			if (pb->has_value++)
				return bad_request(r, "INVALID_REQUEST",
				    "The body names value twice.");
			pb->value = v;
		} else if (nlen == 7 && strcmp(name, "version") == 0) {
			if (seen_version++)
				return bad_request(r, "INVALID_REQUEST",
				    "The body names version twice.");
			if (json_uint(v, &c->token_version) == -1)
				return bad_request(r, "INVALID_REQUEST",
				    "version must be a non-negative integer.");
			c->flags |= STORE_TOKEN_VERSION;
		} else if (nlen == 10 && strcmp(name, "updated_at") == 0) {
			if (seen_updated++)
				return bad_request(r, "INVALID_REQUEST",
				    "The body names updated_at twice.");
			tn = json_string(v, ts, sizeof(ts));
			if (tn < 0 || hdr_ts(ts, (size_t)tn,
			    &c->token_updated_us) != HDR_OK)
				return bad_request(r, "INVALID_REQUEST",
				    "updated_at must be an RFC 3339 UTC time.");
			c->flags |= STORE_TOKEN_UPDATED;
		} else
			return bad_request(r, "INVALID_REQUEST", "The body may "
			    "hold only value, version and updated_at.");
	}
	if (rc == -1)
		return bad_request(r, "INVALID_REQUEST",
		    "The body must be an object {\"value\": ...}.");
	if (!pb->has_value)
		return bad_request(r, "INVALID_REQUEST",
		    "The body has no value member.");
	return 0;
}

static void
write_ok(struct http_resp *r, const struct http_req *q, const struct key *k,
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
	json_ts(&r->body, op->meta.updated_us);
	if (index >= 0) {
		buf_puts(&r->body, ",\"index\":");
		buf_u64(&r->body, (uint64_t)index);
	}
	buf_puts(&r->body, "}\n");
}

static void
h_put(const struct api_ctx *ctx, const struct http_req *q,
    struct http_resp *r, const struct key *k)
{
	struct store_cond	 c;
	struct store_op		 op;
	struct put_body		 pb;
	struct buf		 val = { 0 };

	memset(&op, 0, sizeof(op));
	if (check_json_body(q, r) == -1 || parse_conds(q, &c, 0, r) == -1 ||
	    parse_put_body(q, &pb, &c, r) == -1)
		goto out;
	if (conf_requires(ctx->conf, k->s, k->n))
		c.flags |= STORE_REQUIRE;
	json_compact(&val, pb.value.p, pb.value.n);
	if (val.oom) {
		internal(r, STORE_NOMEM);
		goto out;
	}
	op.kind = STORE_OP_PUT;
	op.key = k->s;
	op.klen = k->n;
	op.value = val.p;
	op.vlen = val.len;
	op.cond = &c;
	(void)store_write(ctx->st, &op);
	if (op.err != STORE_OK)
		write_failed(ctx, r, k, &op);
	else
		write_ok(r, q, k, &op, -1);
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
	if (parse_conds(q, &c, 0, r) == -1 || query_version(query, &c, r) == -1)
		goto out;
	if (conf_requires(ctx->conf, k->s, k->n))
		c.flags |= STORE_REQUIRE;
	op.kind = STORE_OP_DELETE;
	op.key = k->s;
	op.klen = k->n;
	op.cond = &c;
	(void)store_write(ctx->st, &op);
	if (op.err != STORE_OK) {
		write_failed(ctx, r, k, &op);
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

/* ---- idempotent retries (API.md 8) -------------------------------------- */

/* An answer rendered from a store outcome: now, or inside the store's
 * transaction to be kept for a retry. */
struct finish {
	void	(*fn)(struct finish *, struct http_resp *);
};

struct idem_req {
	struct store_idem	 id;
	char			 key[256];
	int			 used;
};

static uint64_t
mix64(uint64_t h, const void *p, size_t n, uint64_t prime)
{
	const unsigned char	*b = p;
	size_t			 i;

	for (i = 0; i < n; i++) {
		h ^= b[i];
		h *= prime;
	}
	return h;
}

/* Two 64-bit FNV-1a-style hashes of method, path and body. */
static void
fingerprint(const struct http_req *q, uint64_t fp[2])
{
	const char	*parts[3] = { q->method, q->uri, q->body };
	size_t		 lens[3] = { strlen(q->method) + 1, strlen(q->uri) + 1,
			    q->body_len };
	int		 i;

	fp[0] = 0xcbf29ce484222325ULL;
	fp[1] = 0x84222325cbf29ce4ULL;
	for (i = 0; i < 3; i++) {
		fp[0] = mix64(fp[0], parts[i], lens[i], 0x100000001b3ULL);
		fp[1] = mix64(fp[1], parts[i], lens[i], 0x9e3779b97f4a7c15ULL);
	}
}

/* Serialises an answer: status, content type, header lines, body. */
static int
render_cb(void *arg, char **out, size_t *outlen, int *status)
{
	struct finish	*f = arg;
	struct http_resp tmp;
	struct buf	 b = { 0 };
	const char	*ct;
	uint32_t	 u;
	int		 oom;

	memset(&tmp, 0, sizeof(tmp));
	http_resp_reset(&tmp);
	f->fn(f, &tmp);
	ct = tmp.content_type ? tmp.content_type : "";
	u = (uint32_t)tmp.status;
	buf_add(&b, &u, 4);
	u = (uint32_t)strlen(ct);
	buf_add(&b, &u, 4);
	buf_add(&b, ct, strlen(ct));
	u = (uint32_t)tmp.head.len;
	buf_add(&b, &u, 4);
	buf_add(&b, tmp.head.p, tmp.head.len);
	buf_add(&b, tmp.body.p, tmp.body.len);
	*status = tmp.status;
	oom = b.oom || tmp.head.oom || tmp.body.oom;
	http_resp_free(&tmp);
	if (oom) {
		buf_free(&b);
		return -1;
	}
	*out = b.p;
	*outlen = b.len;
	return 0;
}

/* Answers from a serialised answer; -1 when it does not parse. */
static int
replay(struct http_resp *r, const char *p, size_t n)
{
	uint32_t	 status, ctlen, hlen;

	if (n < 12)
		return -1;
	memcpy(&status, p, 4);
	memcpy(&ctlen, p + 4, 4);
	if (ctlen > n - 12)
		return -1;
	memcpy(&hlen, p + 8 + ctlen, 4);
	if (hlen > n - 12 - ctlen)
		return -1;
	r->status = (int)status;
	r->content_type = NULL;
	if (ctlen == 16 && memcmp(p + 8, "application/json", 16) == 0)
		r->content_type = "application/json";
	else if (ctlen == 24 && memcmp(p + 8, "application/problem+json", 24) == 0)
		r->content_type = "application/problem+json";
	buf_add(&r->head, p + 12 + ctlen, hlen);
	buf_puts(&r->head, "Idempotent-Replayed: true\r\n");
	buf_add(&r->body, p + 12 + ctlen + hlen, n - 12 - ctlen - hlen);
	return 0;
}

/*
 * Reads Idempotency-Key (a bare key, or the same as a quoted string) for
 * POST and PATCH: 0 when there is none, 1 when ir is set up to render
 * with f, -1 with resp set when it is malformed.
 */
static int
idem_begin(const struct api_ctx *ctx, const struct http_req *q,
    struct idem_req *ir, struct finish *f, struct http_resp *r)
{
	const char	*h = q->idempotency_key;
	size_t		 n, i, o = 0;
	int		 quoted;
	unsigned char	 c;

	memset(ir, 0, sizeof(*ir));
	if (h == NULL || (strcmp(q->method, "POST") != 0 &&
	    strcmp(q->method, "PATCH") != 0))
		return 0;
	n = strlen(h);
	quoted = n >= 2 && h[0] == '"' && h[n - 1] == '"';
	for (i = (size_t)quoted; i < n - (size_t)quoted; i++) {
		c = (unsigned char)h[i];
		if (quoted && c == '\\' && i + 1 < n - 1 &&
		    (h[i + 1] == '"' || h[i + 1] == '\\'))
			c = (unsigned char)h[++i];
		else if (quoted ? (c < 0x20 || c > 0x7e || c == '"' ||
		    c == '\\') : (c < 0x21 || c > 0x7e))
			goto bad;
		if (o == sizeof(ir->key) - 1)
			goto bad;
		ir->key[o++] = (char)c;
	}
	if (o == 0)
		goto bad;
	ir->key[o] = '\0';
	ir->id.key = ir->key;
	ir->id.klen = o;
	fingerprint(q, ir->id.fp);
	ir->id.ttl_us = (int64_t)ctx->conf->idempotency_ttl * 1000000;
	ir->id.render = render_cb;
	ir->id.render_arg = f;
	ir->used = 1;
	return 1;
bad:
	return bad_request(r, "INVALID_REQUEST", "Idempotency-Key is 1 to 255 "
	    "visible ASCII characters, bare or as a quoted string.");
}

/* Answers after the store call: a replay, a reused key, or f afresh. */
static void
idem_end(struct idem_req *ir, struct finish *f, struct http_resp *r)
{
	if (!ir->used || ir->id.outcome == STORE_IDEM_NEW)
		f->fn(f, r);
	else if (ir->id.outcome == STORE_IDEM_MISMATCH)
		api_problem(r, 422, "IDEMPOTENCY_KEY_REUSED", "This "
		    "Idempotency-Key was used for another request (method, path "
		    "or body).");
	else if (replay(r, ir->id.response, ir->id.resplen) == -1)
		internal(r, STORE_CORRUPT);
	free(ir->id.response);
	ir->id.response = NULL;
}

/* A patch applied by the store inside its write transaction. */
struct patch_job {
	const struct patch	*p;
	const char		*principal;
	long			 index;
};

static int
patch_cb(void *arg, const char *cur, size_t curlen, int64_t now_us,
    char **out, size_t *outlen)
{
	struct patch_job	*j = arg;
	struct patch_ctx	 ctx = { now_us, j->principal };

	return (int)patch_apply(j->p, cur, curlen, &ctx, out, outlen,
	    &j->index);
}

struct patch_finish {
	struct finish		 f;
	const struct api_ctx	*ctx;
	const struct http_req	*q;
	const struct key	*k;
	struct store_op		*op;
	struct patch_job	*job;
	int			 with_index;
};

static void
patch_finish(struct finish *f, struct http_resp *r)
{
	struct patch_finish	*pf = (struct patch_finish *)f;

	if (pf->op->err != STORE_OK)
		write_failed(pf->ctx, r, pf->k, pf->op);
	else
		write_ok(r, pf->q, pf->k, pf->op, pf->with_index ?
		    pf->job->index : -1);
}

/* Applies p to key k (after the preconditions) and answers. */
static void
write_patch(const struct api_ctx *ctx, const struct http_req *q,
    struct http_resp *r, const struct key *k, const struct patch *p,
    struct store_cond *c, int with_index)
{
	struct store_op		 op;
	struct patch_job	 job = { p, NULL, -1 };
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
	op.update = patch_cb;
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
	if (check_body(q, r) == -1 || parse_conds(q, &c, 0, r) == -1 ||
	    query_version(query, &c, r) == -1)
		goto out;
	pe = merge ? patch_merge(q->body, q->body_len, &p) :
	    patch_json(q->body, q->body_len, &p);
	if (pe == PATCH_NOMEM) {
		internal(r, STORE_NOMEM);
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
	int			 stamp = 0;
	enum patch_err		 pe;

	if (!query_param(query, "append", &v, &vn)) {
		api_problem(r, 400, "INVALID_REQUEST", "POST to a key appends "
		    "to an array: name it with ?append=<JSON pointer>.");
		goto out;
	}
	if (key_decode(v, vn, ptr, sizeof(ptr)) < 0 ||
	    !patch_pointer_valid(ptr, strlen(ptr))) {
		api_problem(r, 400, "INVALID_PATCH",
		    "append must be a JSON pointer (\"\" or /a/b, ~0 ~1 escapes).");
		goto out;
	}
	if (query_param(query, "stamp", &v, &vn))
		stamp = vn == 1 && v[0] == '1';
	if (check_json_body(q, r) == -1 || parse_conds(q, &c, 0, r) == -1 ||
	    query_version(query, &c, r) == -1)
		goto out;
	pe = patch_append(ptr, q->body, q->body_len, stamp, &p);
	if (pe == PATCH_NOMEM) {
		internal(r, STORE_NOMEM);
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
static int
query_uint(const char *query, const char *name, uint64_t min, uint64_t max,
    uint64_t *out, struct http_resp *r)
{
	const char	*v;
	size_t		 vn, i;
	uint64_t	 x = 0;

	if (!query_param(query, name, &v, &vn))
		return 0;
	for (i = 0; i < vn && i < 10; i++) {
		if (v[i] < '0' || v[i] > '9')
			break;
		x = x * 10 + (uint64_t)(v[i] - '0');
	}
	if (vn == 0 || i != vn || x < min || x > max) {
		buf_reset(&r->body);
		problem_open(r, 400, "INVALID_REQUEST", "A query parameter is "
		    "out of range.");
		buf_puts(&r->body, ",\"parameter\":");
		buf_json_str(&r->body, name, strlen(name));
		problem_close(r);
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
	if (query_uint(query, "limit", 1, 1000, &limit, r) == -1)
		goto out;
	if (query_param(query, "after", &v, &vn) &&
	    (alen = key_decode(v, vn, after, sizeof(after))) < 0) {
		api_problem(r, 400, "INVALID_REQUEST",
		    "after must be a percent-encoded key.");
		goto out;
	}
	if (query_param(query, "values", &v, &vn))
		values = vn == 1 && v[0] == '1';
	err = store_list(ctx->st, k->s, k->n, after, (size_t)alen,
	    (size_t)limit, values, &l);
	if (err != STORE_OK) {
		internal(r, err);
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
		json_ts(&r->body, l.items[i].meta.updated_us);
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
	struct finish		 f;
	const struct api_ctx	*ctx;
	struct store_op		*op;
	const struct buf	*val;
};

static void
create_finish(struct finish *f, struct http_resp *r)
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
		write_failed(cf->ctx, r, &nk, op);
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
	if (check_json_body(q, r) == -1)
		goto out;
	while ((rc = json_member(q->body, q->body_len, &it, name, sizeof(name),
	    &nlen, &v)) == 1) {
		if (nlen == 5 && strcmp(name, "value") == 0 && value.p == NULL)
			value = v;
		else if (nlen == 4 && strcmp(name, "slug") == 0 && !has_slug) {
			if (v.p[0] != '"') {
				bad_request(r, "INVALID_REQUEST",
				    "slug must be a string.");
				goto out;
			}
			/* unescaped text is never longer than its JSON */
			if ((text = malloc(v.n)) == NULL ||
			    (tn = json_string(v, text, v.n)) < 0) {
				internal(r, STORE_NOMEM);
				goto out;
			}
			slen = slug_fold(text, (size_t)tn, slug);
			has_slug = 1;
		} else {
			bad_request(r, "INVALID_REQUEST", "The body may hold only "
			    "value and slug, once each.");
			goto out;
		}
	}
	if (rc == -1 || value.p == NULL) {
		bad_request(r, "INVALID_REQUEST",
		    "The body must be an object {\"value\": ...}.");
		goto out;
	}
	json_compact(&val, value.p, value.n);
	if (val.oom) {
		internal(r, STORE_NOMEM);
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

/* Reopens a closed problem body to add "name": v. */
static void
problem_add_u64(struct http_resp *r, const char *name, uint64_t v)
{
	if (r->body.len >= 2 && r->body.p[r->body.len - 2] == '}')
		r->body.len -= 2;
	buf_puts(&r->body, ",\"");
	buf_puts(&r->body, name);
	buf_puts(&r->body, "\":");
	buf_u64(&r->body, v);
	problem_close(r);
}

#define TXN_OPS_MAX	128

enum txn_kind { T_CHECK, T_PUT, T_PATCH, T_DELETE, T_GET };

struct txn_op {
	enum txn_kind		 kind;
	struct key		 k;
	struct store_cond	 c;
	struct json_span	 value;
	struct buf		 val;
	struct patch		*p;
	struct patch_job	 job;
};

static const char *const txn_kinds[] = { "check", "put", "patch", "delete",
    "get" };

static int
parse_txn_op(const struct api_ctx *ctx, struct json_span sp, struct txn_op *t,
    struct http_resp *r)
{
	struct json_span	 v, merge = { NULL, 0 }, jp = { NULL, 0 };
	char			 name[16], word[8], key[STORE_KEY_MAX + 1];
	size_t			 it = 0, nlen, i;
	long			 kn = -1;
	int			 rc, has_op = 0, has_version = 0;
	enum key_err		 ke;
	enum patch_err		 pe;

	if (sp.p[0] != '{')
		return bad_request(r, "INVALID_REQUEST", "An op is an object.");
	while ((rc = json_member(sp.p, sp.n, &it, name, sizeof(name), &nlen,
	    &v)) == 1) {
		if (strcmp(name, "op") == 0 && !has_op++) {
			if (json_string(v, word, sizeof(word)) < 0)
				goto unknown;
			for (i = 0; i < 5; i++)
				if (strcmp(word, txn_kinds[i]) == 0)
					break;
			if (i == 5)
				goto unknown;
			t->kind = (enum txn_kind)i;
		} else if (strcmp(name, "key") == 0 && kn < 0) {
			if ((kn = json_string(v, key, sizeof(key))) < 0) {
				api_problem(r, 400, "INVALID_KEY",
				    "key must be a string of 1 to 512 bytes.");
				return -1;
			}
		} else if (strcmp(name, "value") == 0 && t->value.p == NULL)
			t->value = v;
		else if (strcmp(name, "version") == 0 && !has_version++) {
			if (json_uint(v, &t->c.token_version) == -1)
				return bad_request(r, "INVALID_REQUEST",
				    "version must be a non-negative integer.");
			t->c.flags |= STORE_TOKEN_VERSION;
		} else if (strcmp(name, "merge") == 0 && merge.p == NULL)
			merge = v;
		else if (strcmp(name, "json_patch") == 0 && jp.p == NULL)
			jp = v;
		else
			return bad_request(r, "INVALID_REQUEST", "An op holds op, "
			    "key and what its op needs (value, version, merge or "
			    "json_patch), once each.");
	}
	if (!has_op)
		goto unknown;
	if (kn < 0)
		return bad_request(r, "INVALID_REQUEST", "Every op names a key.");
	if ((ke = key_check(key, (size_t)kn, &t->k)) != KEY_OK || t->k.prefix ||
	    (t->k.reserved && t->kind != T_GET && t->kind != T_CHECK)) {
		api_problem(r, 400, "INVALID_KEY", ke != KEY_OK ? key_message(ke) :
		    t->k.prefix ? "An op names a key, not a prefix." :
		    "Keys whose first segment starts with _ are reserved.");
		return -1;
	}
	if ((t->kind == T_CHECK && !has_version) ||
	    (t->kind == T_PUT && t->value.p == NULL) ||
	    (t->kind == T_PATCH && (merge.p == NULL) == (jp.p == NULL)) ||
	    (t->kind != T_PUT && t->value.p != NULL) ||
	    (t->kind != T_PATCH && (merge.p != NULL || jp.p != NULL)) ||
	    (t->kind == T_GET && has_version))
		return bad_request(r, "INVALID_REQUEST", "check needs a version, "
		    "put a value, patch one of merge and json_patch; get takes "
		    "only a key.");
	if (t->kind == T_PATCH) {
		pe = merge.p != NULL ? patch_merge(merge.p, merge.n, &t->p) :
		    patch_json(jp.p, jp.n, &t->p);
		if (pe != PATCH_OK) {
			api_problem(r, 400, "INVALID_PATCH",
			    "The op's patch is malformed.");
			return -1;
		}
	}
	if (t->kind == T_PUT) {
		json_compact(&t->val, t->value.p, t->value.n);
		if (t->val.oom) {
			internal(r, STORE_NOMEM);
			return -1;
		}
	}
	if ((t->kind == T_PUT || t->kind == T_PATCH || t->kind == T_DELETE) &&
	    conf_requires(ctx->conf, t->k.s, t->k.n))
		t->c.flags |= STORE_REQUIRE;
	return 0;
unknown:
	return bad_request(r, "INVALID_REQUEST",
	    "op is one of check, put, patch, delete and get.");
}

static void
txn_result(struct buf *b, const struct txn_op *t, const struct store_op *op)
{
	if (t->kind == T_GET) {
		if (op->meta.version == 0 || op->meta.deleted) {
			buf_puts(b, "null");
			return;
		}
		buf_puts(b, "{\"key\":");
		buf_json_str(b, t->k.s, t->k.n);
		buf_puts(b, ",\"value\":");
		buf_add(b, op->cur_value, op->cur_vlen);
		buf_puts(b, ",\"version\":");
		buf_u64(b, op->meta.version);
		buf_puts(b, ",\"updated_at\":");
		json_ts(b, op->meta.updated_us);
		buf_puts(b, ",\"created_at\":");
		json_ts(b, op->meta.created_us);
		buf_puts(b, ",\"updated_by\":");
		if (op->meta.principal[0] != '\0')
			buf_json_str(b, op->meta.principal,
			    strlen(op->meta.principal));
		else
			buf_puts(b, "null");
		buf_puts(b, "}");
		return;
	}
	buf_puts(b, "{\"key\":");
	buf_json_str(b, t->k.s, t->k.n);
	buf_puts(b, ",\"version\":");
	buf_u64(b, t->kind == T_CHECK && op->meta.deleted ? 0 :
	    op->meta.version);
	if (t->kind != T_CHECK) {
		buf_puts(b, ",\"updated_at\":");
		json_ts(b, op->meta.updated_us);
	}
	buf_puts(b, "}");
}

struct txn_finish {
	struct finish		 f;
	const struct api_ctx	*ctx;
	struct txn_op		*t;
	struct store_op		*ops;
	size_t			 n;
};

static void
txn_finish(struct finish *f, struct http_resp *r)
{
	struct txn_finish	*tf = (struct txn_finish *)f;
	size_t			 i;

	/* the first op that did not succeed failed the transaction */
	for (i = 0; i < tf->n; i++) {
		if (tf->ops[i].err == STORE_OK)
			continue;
		write_failed(tf->ctx, r, &tf->t[i].k, &tf->ops[i]);
		problem_add_u64(r, "op_index", i);
		return;
	}
	r->status = 200;
	r->content_type = "application/json";
	buf_puts(&r->body, "{\"results\":[");
	for (i = 0; i < tf->n; i++) {
		if (i > 0)
			buf_puts(&r->body, ",");
		txn_result(&r->body, &tf->t[i], &tf->ops[i]);
	}
	buf_puts(&r->body, "]}\n");
}

static void
h_txn(const struct api_ctx *ctx, const struct http_req *q,
    struct http_resp *r)
{
	struct txn_finish	 tf = { { txn_finish }, NULL, NULL, NULL, 0 };
	struct idem_req		 ir;

	struct txn_op		*t = NULL;
	struct store_op		*ops = NULL;
	struct json_span	 v, list = { NULL, 0 };
	char			 name[8];
	size_t			 it = 0, nlen, n = 0, i, failed;
	int			 rc;

	if (strcmp(q->method, "POST") != 0) {
		api_problem(r, 405, "METHOD_NOT_ALLOWED", "Use POST here.");
		buf_puts(&r->head, "Allow: POST\r\n");
		return;
	}
	if (check_json_body(q, r) == -1)
		return;
	while ((rc = json_member(q->body, q->body_len, &it, name, sizeof(name),
	    &nlen, &v)) == 1) {
		if (strcmp(name, "ops") != 0 || list.p != NULL || v.p[0] != '[')
			break;
		list = v;
	}
	if (rc != 0 || list.p == NULL) {
		bad_request(r, "INVALID_REQUEST",
		    "The body is {\"ops\": [...]} and nothing else.");
		return;
	}
	for (it = 0; json_element(list.p, list.n, &it, &v) == 1; )
		n++;
	if (n == 0 || n > TXN_OPS_MAX) {
		bad_request(r, "INVALID_REQUEST",
		    "A transaction has 1 to 128 ops.");
		return;
	}
	if ((t = calloc(n, sizeof(*t))) == NULL ||
	    (ops = calloc(n, sizeof(*ops))) == NULL) {
		internal(r, STORE_NOMEM);
		goto out;
	}
	for (it = 0, i = 0; json_element(list.p, list.n, &it, &v) == 1; i++) {
		if (parse_txn_op(ctx, v, &t[i], r) == -1) {
			problem_add_u64(r, "op_index", i);
			goto out;
		}
	}
	for (i = 0; i < n; i++) {
		struct store_op *op = &ops[i];

		op->key = t[i].k.s;
		op->klen = t[i].k.n;
		op->cond = &t[i].c;
		switch (t[i].kind) {
		case T_CHECK:	op->kind = STORE_OP_CHECK; break;
		case T_GET:	op->kind = STORE_OP_GET; break;
		case T_DELETE:	op->kind = STORE_OP_DELETE; break;
		case T_PUT:
			op->kind = STORE_OP_PUT;
			op->value = t[i].val.p;
			op->vlen = t[i].val.len;
			break;
		case T_PATCH:
			op->kind = STORE_OP_UPDATE;
			t[i].job.p = t[i].p;
			op->update = patch_cb;
			op->update_arg = &t[i].job;
			break;
		}
	}
	tf.ctx = ctx;
	tf.t = t;
	tf.ops = ops;
	tf.n = n;
	if (idem_begin(ctx, q, &ir, &tf.f, r) == -1)
		goto out;
	ops[0].idem = ir.used ? &ir.id : NULL;
	(void)store_write_all(ctx->st, ops, n, &failed);
	idem_end(&ir, &tf.f, r);
out:
	for (i = 0; t != NULL && i < n; i++) {
		buf_free(&t[i].val);
		patch_free(t[i].p);
		if (ops != NULL)
			free(ops[i].cur_value);
	}
	free(t);
	free(ops);
}

/* ---- activity sets (API.md 6) ------------------------------------------ */

#define ACTIVITIES	"/api/activities/"
#define ALLOW_SET	"GET, HEAD, POST"

static void
act_failed(struct http_resp *r, enum act_err e)
{
	switch (e) {
	case ACT_INVALID:
		api_problem(r, 400, "INVALID_REQUEST", "Items need an id (a "
		    "string or an integer), and an id may come once per request.");
		break;
	case ACT_PRECOND:
		api_problem(r, 412, "PRECONDITION_FAILED",
		    "The set changed since the ETag in If-Match.");
		break;
	case ACT_NOT_FOUND:
		api_problem(r, 404, "NOT_FOUND", "No such set (or bucket).");
		break;
	case ACT_BAD_SET:
		api_problem(r, 422, "INVALID_ACTIVITY", "The write would break "
		    "the set: a manifest must match its buckets, and a bucket "
		    "hold objects with distinct ids that hash to it.");
		break;
	default:
		log_error("activity set error %d", (int)e);
		api_problem(r, 500, "INTERNAL", "The set could not be read or "
		    "written; nothing was changed.");
		break;
	}
}

struct act_read {
	const char	*name;
	size_t		 n;
	long		 bucket;
	struct buf	*out;
	uint64_t	 etag;
	enum act_err	 err;
};

static int
act_read_cb(void *arg, store_io *io)
{
	struct act_read	*a = arg;

	a->err = act_get(io, a->name, a->n, a->bucket, a->out, &a->etag);
	return a->err != ACT_OK;
}

static void
h_set_get(const struct api_ctx *ctx, const struct http_req *q,
    struct http_resp *r, const char *name, size_t n, const char *query)
{
	struct act_read		 a = { name, n, -1, &r->body, 0, ACT_OK };
	struct store_cond	 c;
	struct store_meta	 m;
	uint64_t		 bucket = (uint64_t)-1;

	if (query_uint(query, "bucket", 0, 1 << 20, &bucket, r) == -1)
		return;
	if (bucket != (uint64_t)-1)
		a.bucket = (long)bucket;
	if (parse_conds(q, &c, 1, r) == -1)
		return;
	(void)store_read(ctx->st, act_read_cb, &a);
	if (a.err != ACT_OK) {
		buf_reset(&r->body);
		act_failed(r, a.err);
		return;
	}
	memset(&m, 0, sizeof(m));
	m.version = a.etag;
	buf_puts(&r->head, "ETag: \"");
	buf_u64(&r->head, a.etag);
	buf_puts(&r->head, "\"\r\nCache-Control: no-cache\r\n");
	/* a set has an ETag and no Last-Modified: dates do not apply */
	c.flags &= ~(unsigned)(STORE_IF_MODIFIED | STORE_IF_UNMODIFIED);
	switch (store_cond_check(&c, &m, 1)) {
	case STORE_NOT_MODIFIED:
		buf_reset(&r->body);
		r->status = 304;
		return;
	case STORE_PRECOND:
		buf_reset(&r->body);
		act_failed(r, ACT_PRECOND);
		return;
	default:
		break;
	}
	r->status = 200;
	r->content_type = "application/json";
	r->head_only = q->method[0] == 'H';
}

struct act_write {
	struct finish		 f;
	const char		*name;
	size_t			 n;
	const struct act_post	*p;
	size_t			 max;
	const uint64_t		*if_match;
	struct act_result	 res;
	struct store_op		*op;
};

static int
act_post_cb(void *arg, store_io *io)
{
	struct act_write	*a = arg;

	return (int)act_post_apply(io, a->name, a->n, a->p, a->max,
	    a->if_match, &a->res);
}

static void
set_post_finish(struct finish *f, struct http_resp *r)
{
	struct act_write	*a = (struct act_write *)f;

	if (a->op->err == STORE_UPDATE_FAILED) {
		act_failed(r, (enum act_err)a->op->update_err);
		return;
	}
	if (a->op->err != STORE_OK) {
		internal(r, a->op->err);
		return;
	}
	r->status = 200;
	r->content_type = "application/json";
	buf_puts(&r->head, "ETag: \"");
	buf_u64(&r->head, a->res.etag);
	buf_puts(&r->head, "\"\r\n");
	buf_puts(&r->body, "{\"set\":");
	buf_json_str(&r->body, a->name, a->n);
	buf_puts(&r->body, ",\"etag\":\"\\\"");
	buf_u64(&r->body, a->res.etag);
	buf_puts(&r->body, "\\\"\",\"upserted\":");
	buf_u64(&r->body, a->res.upserted);
	buf_puts(&r->body, ",\"deleted\":");
	buf_u64(&r->body, a->res.deleted);
	buf_puts(&r->body, ",\"bucket_count\":");
	buf_u64(&r->body, a->res.bucket_count);
	buf_puts(&r->body, "}\n");
}

static void
h_set_post(const struct api_ctx *ctx, const struct http_req *q,
    struct http_resp *r, const char *name, size_t n)
{
	struct act_post		*p = NULL;
	struct store_op		 op;
	struct store_cond	 c;
	struct idem_req		 ir;
	char			 key[STORE_KEY_MAX + 1];
	uint64_t		 etag = 0;
	struct act_write	 a = { { set_post_finish }, name, n, NULL,
				    ctx->conf->bucket_max_items, NULL,
				    { 0, 0, 0, 0 }, &op };
	enum act_err		 e;
	size_t			 i;

	memset(&op, 0, sizeof(op));
	if (check_json_body(q, r) == -1 || parse_conds(q, &c, 0, r) == -1)
		goto out;
	if (c.flags & STORE_IF_MATCH) {
		/* the set ETag is a version-like number: "<n>" */
		for (i = 0; i < c.nmatch; i++)
			if (c.match[i].kind == STORE_TAG_VERSION &&
			    !c.match[i].weak)
				break;
		etag = i < c.nmatch ? c.match[i].version : (uint64_t)-1;
		if (!c.match_any)
			a.if_match = &etag;
	}
	if ((e = act_post_parse(q->body, q->body_len, &p)) != ACT_OK) {
		act_failed(r, e);
		goto out;
	}
	a.p = p;
	if (idem_begin(ctx, q, &ir, &a.f, r) == -1)
		goto out;
	op.kind = STORE_OP_MULTI;
	op.key = key;
	op.klen = (size_t)snprintf(key, sizeof(key), "_act/%.*s/manifest",
	    (int)n, name);
	op.multi = act_post_cb;
	op.multi_arg = &a;
	op.idem = ir.used ? &ir.id : NULL;
	(void)store_write(ctx->st, &op);
	idem_end(&ir, &a.f, r);
out:
	act_post_free(p);
	free(op.cur_value);
}

static void
activities(const struct api_ctx *ctx, const struct http_req *q,
    struct http_resp *r, const char *path, size_t plen, const char *query)
{
	char	 name[ACT_NAME_MAX + 1];
	long	 n;

	if ((n = key_decode(path, plen, name, sizeof(name))) < 0 ||
	    !act_name_valid(name, (size_t)n)) {
		api_problem(r, 400, "INVALID_KEY", "A set's name is one key "
		    "segment of 1 to 200 bytes (no '/').");
		return;
	}
	if (strcmp(q->method, "GET") == 0 || strcmp(q->method, "HEAD") == 0)
		h_set_get(ctx, q, r, name, (size_t)n, query);
	else if (strcmp(q->method, "POST") == 0)
		h_set_post(ctx, q, r, name, (size_t)n);
	else {
		api_problem(r, 405, "METHOD_NOT_ALLOWED",
		    "A set is read with GET and changed with POST.");
		buf_puts(&r->head, "Allow: " ALLOW_SET "\r\n");
	}
}

/* A PUT of one of a set's keys, checked inside the write (API.md 6.4). */
struct act_put {
	const struct key	*k;
	const char		*value;
	size_t			 vlen;
	size_t			 max;
	struct store_meta	 meta;
};

static int
act_put_cb(void *arg, store_io *io)
{
	struct act_put	*a = arg;

	return (int)act_put_key(io, a->k->s, a->k->n, a->value, a->vlen,
	    a->max, &a->meta);
}

static void
h_put_act(const struct api_ctx *ctx, const struct http_req *q,
    struct http_resp *r, const struct key *k)
{
	struct store_cond	 c;
	struct store_op		 op;
	struct put_body		 pb;
	struct buf		 val = { 0 };
	struct act_put		 a = { k, NULL, 0, ctx->conf->bucket_max_items,
				    { 0 } };

	memset(&op, 0, sizeof(op));
	if (check_json_body(q, r) == -1 || parse_conds(q, &c, 0, r) == -1 ||
	    parse_put_body(q, &pb, &c, r) == -1)
		goto out;
	json_compact(&val, pb.value.p, pb.value.n);
	if (val.oom) {
		internal(r, STORE_NOMEM);
		goto out;
	}
	a.value = val.p;
	a.vlen = val.len;
	op.kind = STORE_OP_MULTI;
	op.key = k->s;
	op.klen = k->n;
	op.cond = &c;
	op.multi = act_put_cb;
	op.multi_arg = &a;
	(void)store_write(ctx->st, &op);
	if (op.err == STORE_UPDATE_FAILED) {
		act_failed(r, (enum act_err)op.update_err);
		goto out;
	}
	if (op.err != STORE_OK) {
		write_failed(ctx, r, k, &op);
		goto out;
	}
	op.meta = a.meta;
	op.created = a.meta.version == 1;
	write_ok(r, q, k, &op, -1);
out:
	free(op.cur_value);
	buf_free(&val);
}

static const char *
key_message(enum key_err e)
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
		api_problem(r, 400, "INVALID_KEY", key_message(ke));
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
			h_put_act(ctx, q, r, &k);
		else
			act_failed(r, ACT_BAD_SET);
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
		h_txn(ctx, q, r);
	else if (plen > sizeof(ACTIVITIES) - 1 &&
	    strncmp(uri, ACTIVITIES, sizeof(ACTIVITIES) - 1) == 0)
		activities(ctx, q, r, uri + sizeof(ACTIVITIES) - 1,
		    plen - (sizeof(ACTIVITIES) - 1), query);
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
