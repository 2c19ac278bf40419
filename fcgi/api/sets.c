/* sets.c - the HTTP side of activity sets (API.md 6); see act.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/act.h"
#include "api/api_int.h"
#include "api/auth.h"
#include "api/idem.h"
#include "api/merge.h"
#include "http/hdr.h"
#include "lib/log.h"
#include "api/sets.h"

#define ALLOW_SET	"GET, HEAD, POST"
#define ACT_LIMITS(c)	{ (c)->bucket_max_items, (c)->bucket_count_max, \
			    (c)->max_value }

void
sets_failed(struct http_resp *r, enum act_err e)
{
	switch (e) {
	case ACT_INVALID:
		api_problem(r, P_SET_ITEMS);
		break;
	case ACT_PRECOND:
		api_problem(r, P_SET_PRECOND);
		break;
	case ACT_NOT_FOUND:
		api_problem(r, P_SET_NOT_FOUND);
		break;
	case ACT_BAD_SET:
		api_problem(r, P_SET_BROKEN);
		break;
	case ACT_TOO_LARGE:
		api_problem(r, P_SET_TOO_LARGE);
		break;
	default:
		log_error("activity set error %d", (int)e);
		api_problem(r, P_SET_FAILED);
		break;
	}
}

struct act_read {
	const char	*name;
	size_t		 n;
	long		 bucket;
	struct jw	*out;
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
	struct jw		 w;
	struct act_read		 a = { name, n, -1, &w, 0, ACT_OK };
	char			 key[STORE_KEY_MAX + 1];
	struct store_cond	 c;
	struct store_meta	 m;
	uint64_t		 bucket = (uint64_t)-1;
	enum store_err		 e;

	if (api_query_uint(query, "bucket", 0, 1 << 20, &bucket, r) == -1)
		return;
	if (bucket != (uint64_t)-1)
		a.bucket = (long)bucket;
	if (api_parse_conds(q, &c, 1, r) == -1)
		return;
	jw_init(&w, &r->body);
	/* the store's own failure, not the set's: 503 for a database away */
	e = store_read(ctx->st, act_read_cb, &a);
	if (e != STORE_OK && e != STORE_UPDATE_FAILED) {
		buf_reset(&r->body);
		api_internal(r, e);
		return;
	}
	if (a.err != ACT_OK) {
		buf_reset(&r->body);
		sets_failed(r, a.err);
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
		sets_failed(r, ACT_PRECOND);
		api_count_conflict(ctx, METRICS_PRECONDITION_FAILED, key,
		    act_manifest_key(key, sizeof(key), name, n));
		return;
	default:
		break;
	}
	r->status = 200;
	r->content_type = "application/json";
	r->head_only = q->method[0] == 'H';
	api_end(&w, r);
}

struct act_write {
	struct idem_finish		 f;
	const char		*name;
	size_t			 n;
	const struct act_post	*p;
	struct act_limits	 lim;
	const uint64_t		*if_match;
	struct act_result	 res;
	struct store_op		*op;
	const struct api_ctx	*ctx;
};

static int
act_post_cb(void *arg, store_io *io)
{
	struct act_write	*a = arg;

	return (int)act_post_apply(io, a->name, a->n, a->p, &a->lim,
	    a->if_match, &a->res);
}

static void
set_post_finish(struct idem_finish *f, struct http_resp *r)
{
	struct act_write	*a = (struct act_write *)f;
	char			 etag[24];
	struct jw		 w;

	if (a->op->err == STORE_UPDATE_FAILED) {
		sets_failed(r, (enum act_err)a->op->update_err);
		return;
	}
	if (a->op->err == STORE_FULL) {
		api_problem(r, P_FULL);
		return;
	}
	if (a->op->err == STORE_QUOTA) {
		api_quota_open(a->ctx, &w, r, a->op);
		api_problem_close(&w);
		return;
	}
	if (a->op->err != STORE_OK) {
		api_internal(r, a->op->err);
		return;
	}
	r->status = 200;
	r->content_type = "application/json";
	snprintf(etag, sizeof(etag), "\"%llu\"",
	    (unsigned long long)a->res.etag);
	buf_printf(&r->head, "ETag: %s\r\n", etag);
	jw_init(&w, &r->body);
	jw_obj(&w, NULL);
	jw_str(&w, "set", a->name, a->n);
	jw_strz(&w, "etag", etag);
	jw_u64(&w, "upserted", a->res.upserted);
	jw_u64(&w, "deleted", a->res.deleted);
	jw_u64(&w, "bucket_count", a->res.bucket_count);
	jw_close(&w);
	api_end(&w, r);
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
				    ACT_LIMITS(ctx->conf), NULL,
				    { 0, 0, 0, 0 }, &op, ctx };
	enum act_err		 e;
	size_t			 i;

	memset(&op, 0, sizeof(op));
	if (api_check_json_body(ctx, q, r) == -1 ||
	    api_parse_conds(q, &c, 0, r) == -1)
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
		sets_failed(r, e);
		goto out;
	}
	a.p = p;
	if (idem_begin(ctx, q, &ir, &a.f, r) == -1)
		goto out;
	op.kind = STORE_OP_MULTI;
	op.principal = api_principal(ctx);
	op.key = key;
	op.klen = act_manifest_key(key, sizeof(key), name, n);
	op.multi = act_post_cb;
	op.multi_arg = &a;
	op.idem = ir.used ? &ir.id : NULL;
	(void)store_write(ctx->st, &op);
	if (idem_fresh(&ir) && op.err == STORE_UPDATE_FAILED &&
	    op.update_err == ACT_PRECOND)
		api_count_conflict(ctx, METRICS_PRECONDITION_FAILED, key,
		    op.klen);
	idem_end(&ir, &a.f, r);
out:
	act_post_free(p);
	free(op.cur_value);
}

void
sets_handle(const struct api_ctx *ctx, const struct http_req *q,
    struct http_resp *r, const struct api_call *call)
{
	char	 name[ACT_NAME_MAX + 1], pfx[STORE_KEY_MAX + 1];
	long	 n;
	int	 is_read, is_write;

	if ((n = key_decode(call->rest, call->rlen, name, sizeof(name))) < 0 ||
	    !act_name_valid(name, (size_t)n)) {
		api_problem(r, P_SET_NAME);
		return;
	}
	is_read = strcmp(q->method, "GET") == 0 ||
	    strcmp(q->method, "HEAD") == 0;
	is_write = strcmp(q->method, "POST") == 0;
	/* a token reaches a set through its keys, _act/S/ */
	if ((is_read || is_write) && auth_need(ctx->who, r, pfx,
	    act_set_prefix(pfx, sizeof(pfx), name, (size_t)n), is_write,
	    -1) == -1)
		return;
	if (is_read)
		h_set_get(ctx, q, r, name, (size_t)n, call->query);
	else if (is_write)
		h_set_post(ctx, q, r, name, (size_t)n);
	else {
		api_problem(r, P_METHOD_SET);
		buf_puts(&r->head, "Allow: " ALLOW_SET "\r\n");
	}
}

/* A PUT of one of a set's keys, checked inside the write (API.md 6.4). */
struct act_put {
	const struct key	*k;
	const char		*value;
	size_t			 vlen;
	struct act_limits	 lim;
	struct store_meta	 meta;
};

static int
act_put_cb(void *arg, store_io *io)
{
	struct act_put	*a = arg;

	return (int)act_put_key(io, a->k->s, a->k->n, a->value, a->vlen,
	    &a->lim, &a->meta);
}

/* The same checks, as the writer of a merged PUT. */
static int
act_merge_put(void *arg, store_io *io, const struct key *k, const char *v,
    size_t n, struct store_meta *meta)
{
	return (int)act_put_key(io, k->s, k->n, v, n, arg, meta);
}

void
sets_put_key(const struct api_ctx *ctx, const struct http_req *q,
    struct http_resp *r, const struct key *k)
{
	struct store_cond	 c;
	struct store_op		 op;
	struct buf		 val = { 0 };
	struct act_put		 a = { k, NULL, 0, ACT_LIMITS(ctx->conf),
				    { 0 } };
	struct merge_writer	 w = { act_merge_put, &a.lim };
	int			 e;

	memset(&op, 0, sizeof(op));
	if (api_read_put(ctx, q, r, k, &c, &val) == -1)
		goto out;
	/* a stale bucket merges item by item by id, then is checked */
	if ((hdr_list_has(q->prefer, "merge") ||
	    conf_auto_merge(ctx->conf, k->s, k->n)) && merge_has_base(&c)) {
		if ((e = merge_put(ctx, q, r, k, &c, merge_base(&c), val.p,
		    val.len, &w)) != 0)
			sets_failed(r, (enum act_err)e);
		goto out;
	}
	a.value = val.p;
	a.vlen = val.len;
	op.kind = STORE_OP_MULTI;
	op.principal = api_principal(ctx);
	op.key = k->s;
	op.klen = k->n;
	op.cond = &c;
	op.multi = act_put_cb;
	op.multi_arg = &a;
	(void)store_write(ctx->st, &op);
	api_count_failed(ctx, k->s, k->n, &op);
	if (op.err == STORE_UPDATE_FAILED) {
		sets_failed(r, (enum act_err)op.update_err);
		goto out;
	}
	if (op.err != STORE_OK) {
		api_write_failed(ctx, r, k, &op, -1);
		goto out;
	}
	op.meta = a.meta;
	op.created = a.meta.version == 1;
	api_write_ok(r, q, k, &op, -1);
out:
	free(op.cur_value);
	buf_free(&val);
}

