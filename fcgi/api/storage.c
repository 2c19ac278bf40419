/*
 * storage.c - /api/storage/: read, replace, delete, patch, append, create
 * with a unique name, and list (API.md 3). Each handler parses the
 * request, makes one store call and renders the answer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/api_int.h"
#include "api/auth.h"
#include "api/idem.h"
#include "api/merge.h"
#include "api/sets.h"
#include "api/storage.h"
#include "http/hdr.h"
#include "json/json.h"
#include "json/patch.h"
#include "lib/log.h"
#include "model/act.h"
#include "model/key.h"
#include "model/slug.h"

#define ALLOW_KEY	"GET, HEAD, PUT, PATCH, POST, DELETE, OPTIONS"
#define ALLOW_PREFIX	"GET, HEAD, POST"

/* Reads ?version=N into c as a body token; -1 with resp set when bad. */
static int
query_version(const char *query, struct store_cond *c, struct http_resp *r)
{
	const char	*v;
	size_t		 vn;

	if (!api_query_param(query, "version", &v, &vn))
		return 0;
	if (api_query_uint(query, "version", 0, DEC_MAX, &c->token_version,
	    r) == -1)
		return -1;
	c->flags |= STORE_TOKEN_VERSION;
	return 0;
}

/* The body of a read (API.md 3.1), as the whole answer. */
static void
envelope(struct http_resp *r, const char *key, size_t klen,
    const struct store_meta *m, const char *value, size_t vlen)
{
	struct jw	 w;

	r->content_type = "application/json";
	jw_init(&w, &r->body);
	api_envelope(&w, NULL, key, klen, m, value, vlen);
	api_end(&w, r);
}

/* 200 with the read envelope of k in state m. */
static void
read_ok(struct http_resp *r, const struct http_req *q, const struct key *k,
    const struct store_meta *m, const char *value, size_t vlen)
{
	r->status = 200;
	r->head_only = q->method[0] == 'H';
	api_head_etag(r, m);
	buf_puts(&r->head, "Cache-Control: no-cache\r\n");
	envelope(r, k->s, k->n, m, value, vlen);
}

/* GET ?version=N: one version of the key's history (API.md 3.1, 7). */
static void
h_get_version(const struct api_ctx *ctx, const struct http_req *q,
    struct http_resp *r, const struct key *k, uint64_t version)
{
	struct store_meta	 m;
	char			*value = NULL;
	size_t			 vlen;
	enum store_err		 err;
	struct jw		 w;

	err = store_get_version(ctx->st, k->s, k->n, version, &m, &value,
	    &vlen);
	switch (err) {
	case STORE_OK:
		break;
	case STORE_NOTFOUND:
	case STORE_DELETED:
		api_not_found(r, k, &m, err);
		goto out;
	case STORE_GONE:
		api_problem_open(&w, r, P_VERSION_GONE,
		    (unsigned long long)version);
		jw_str(&w, "key", k->s, k->n);
		jw_u64(&w, "version", version);
		api_problem_close(&w);
		goto out;
	default:
		api_internal(r, err);
		goto out;
	}
	read_ok(r, q, k, &m, value, vlen);
out:
	free(value);
}

/* GET ?history=1: the versions kept, newest first. */
static void
h_history(const struct api_ctx *ctx, const struct http_req *q,
    struct http_resp *r, const struct key *k)
{
	struct store_version	*v = NULL;
	struct store_meta	 m;
	size_t			 n = 0, i;
	enum store_err		 err;
	struct jw		 w;

	err = store_history(ctx->st, k->s, k->n, &v, &n);
	if (err == STORE_NOTFOUND) {
		memset(&m, 0, sizeof(m));
		api_not_found(r, k, &m, err);
		goto out;
	}
	if (err != STORE_OK) {
		api_internal(r, err);
		goto out;
	}
	r->status = 200;
	r->content_type = "application/json";
	r->head_only = q->method[0] == 'H';
	buf_puts(&r->head, "Cache-Control: no-cache\r\n");
	jw_init(&w, &r->body);
	jw_obj(&w, NULL);
	jw_str(&w, "key", k->s, k->n);
	jw_arr(&w, "versions");
	for (i = 0; i < n; i++) {
		jw_obj(&w, NULL);
		jw_u64(&w, "version", v[i].version);
		api_json_ts(&w, "updated_at", v[i].updated_us);
		if (v[i].principal[0] != '\0')
			jw_strz(&w, "updated_by", v[i].principal);
		else
			jw_null(&w, "updated_by");
		jw_bool(&w, "deleted", v[i].deleted);
		jw_u64(&w, "size", v[i].size);
		jw_close(&w);
	}
	jw_close(&w);
	jw_close(&w);
	api_end(&w, r);
out:
	free(v);
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
	uint64_t		 version = 0;
	enum store_err		 err;

	if (api_query_param(query, "history", &v, &n)) {
		if (n == 1 && v[0] == '1')
			h_history(ctx, q, r, k);
		else
			api_problem(r, P_QUERY_HISTORY);
		goto out;
	}
	if (api_query_param(query, "version", &v, &n)) {
		if (api_query_uint(query, "version", 1, DEC_MAX,
		    &version, r) == 0)
			h_get_version(ctx, q, r, k, version);
		goto out;
	}
	if (api_parse_conds(q, &c, 1, r) == -1)
		goto out;
	err = store_get(ctx->st, k->s, k->n, &m, &value, &vlen);
	if (err == STORE_NOTFOUND || err == STORE_DELETED) {
		api_not_found(r, k, &m, err);
		goto out;
	}
	if (err != STORE_OK) {
		api_internal(r, err);
		goto out;
	}
	err = store_cond_check(&c, &m, 1);
	if (err == STORE_NOT_MODIFIED) {
		r->status = 304;
		api_head_etag(r, &m);
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
		api_count_failed(ctx, k->s, k->n, &op);
		api_write_failed(ctx, r, k, &op, -1);
		goto out;
	}
	read_ok(r, q, k, &m, value, vlen);
out:
	free(value);
}

static void
h_put(const struct api_ctx *ctx, const struct http_req *q,
    struct http_resp *r, const struct key *k)
{
	struct store_cond	 c;
	struct store_op		 op;
	struct store_presence	 holder;
	struct buf		 val = { 0 };

	memset(&op, 0, sizeof(op));
	if (api_read_put(ctx, q, r, k, &c, &val) == -1)
		goto out;
	/* a stale write may be merged: one call does it all */
	if ((hdr_list_has(q->prefer, "merge") ||
	    conf_auto_merge(ctx->conf, k->s, k->n)) && merge_has_base(&c)) {
		(void)merge_put(ctx, q, r, k, &c, merge_base(&c), val.p,
		    val.len, NULL);
		goto out;
	}
	op.kind = STORE_OP_PUT;
	op.principal = api_principal(ctx);
	op.key = k->s;
	op.klen = k->n;
	op.value = val.p;
	op.vlen = val.len;
	op.cond = &c;
	api_lock_guard(ctx, &op, &holder);
	(void)store_write(ctx->st, &op);
	api_count_failed(ctx, k->s, k->n, &op);
	if (op.err != STORE_OK)
		api_write_failed(ctx, r, k, &op, -1);
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
	struct store_presence	 holder;
	struct jw		 w;

	memset(&op, 0, sizeof(op));
	if (api_parse_conds(q, &c, 0, r) == -1 || query_version(query, &c, r) == -1)
		goto out;
	if (conf_requires(ctx->conf, k->s, k->n))
		c.flags |= STORE_REQUIRE;
	op.kind = STORE_OP_DELETE;
	op.principal = api_principal(ctx);
	op.key = k->s;
	op.klen = k->n;
	op.cond = &c;
	api_lock_guard(ctx, &op, &holder);
	(void)store_write(ctx->st, &op);
	api_count_failed(ctx, k->s, k->n, &op);
	if (op.err != STORE_OK) {
		api_write_failed(ctx, r, k, &op, -1);
		goto out;
	}
	r->status = 200;
	r->content_type = "application/json";
	api_head_etag(r, &op.meta);
	jw_init(&w, &r->body);
	jw_obj(&w, NULL);
	jw_str(&w, "key", k->s, k->n);
	jw_u64(&w, "version", op.meta.version);
	jw_bool(&w, "deleted", 1);
	jw_close(&w);
	api_end(&w, r);
out:
	free(op.cur_value);
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
		api_write_failed(pf->ctx, r, pf->k, pf->op, -1);
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
	struct api_patch_job	 job = { p, api_principal(ctx),
				    ctx->conf->max_value, { -1, -1 } };
	struct patch_finish	 pf = { { patch_finish }, ctx, q, k, &op, &job,
				    with_index };
	struct idem_req		 ir;
	struct store_presence	 holder;

	memset(&op, 0, sizeof(op));
	if (idem_begin(ctx, q, &ir, &pf.f, r) == -1)
		return;
	if (conf_requires(ctx->conf, k->s, k->n))
		c->flags |= STORE_REQUIRE;
	op.kind = STORE_OP_UPDATE;
	op.principal = api_principal(ctx);
	op.key = k->s;
	op.klen = k->n;
	op.cond = c;
	op.update = api_patch_cb;
	op.update_arg = &job;
	op.idem = ir.used ? &ir.id : NULL;
	api_lock_guard(ctx, &op, &holder);
	(void)store_write(ctx->st, &op);
	if (idem_fresh(&ir))
		api_count_failed(ctx, k->s, k->n, &op);
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
		api_problem(r, P_MEDIA_PATCH);
		goto out;
	}
	if (api_check_body(ctx, q, r) == -1 || api_parse_conds(q, &c, 0, r) == -1 ||
	    query_version(query, &c, r) == -1)
		goto out;
	pe = merge ? patch_merge(q->body, q->body_len, &p) :
	    patch_json(q->body, q->body_len, &p);
	if (pe == PATCH_NOMEM) {
		api_internal(r, STORE_NOMEM);
		goto out;
	}
	if (pe != PATCH_OK) {
		api_problem(r, P_PATCH_INVALID);
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
		api_problem(r, P_APPEND_WHERE);
		goto out;
	}
	if ((plen = key_decode(v, vn, ptr, sizeof(ptr))) < 0 ||
	    !patch_pointer_valid(ptr, (size_t)plen)) {
		api_problem(r, P_APPEND_POINTER);
		goto out;
	}
	if (api_query_param(query, "stamp", &v, &vn))
		stamp = vn == 1 && v[0] == '1';
	if (api_check_json_body(ctx, q, r) == -1 ||
	    api_parse_conds(q, &c, 0, r) == -1 ||
	    query_version(query, &c, r) == -1)
		goto out;
	pe = patch_append(ptr, (size_t)plen, q->body, q->body_len, stamp, &p);
	if (pe == PATCH_NOMEM) {
		api_internal(r, STORE_NOMEM);
		goto out;
	}
	if (pe != PATCH_OK) {
		api_problem(r, P_APPEND_STAMP);
		goto out;
	}
	write_patch(ctx, q, r, k, p, &c, 1);
out:
	patch_free(p);
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
	struct jw		 w;

	memset(&l, 0, sizeof(l));
	if (api_query_uint(query, "limit", 1, 1000, &limit, r) == -1)
		goto out;
	if (api_query_param(query, "after", &v, &vn) &&
	    (alen = key_decode(v, vn, after, sizeof(after))) < 0) {
		api_problem(r, P_QUERY_AFTER);
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
	jw_init(&w, &r->body);
	jw_obj(&w, NULL);
	jw_arr(&w, "items");
	for (i = 0; i < l.n; i++) {
		jw_obj(&w, NULL);
		jw_str(&w, "key", l.items[i].key, l.items[i].klen);
		jw_u64(&w, "version", l.items[i].meta.version);
		api_json_ts(&w, "updated_at", l.items[i].meta.updated_us);
		if (values)
			jw_raw(&w, "value", l.items[i].value, l.items[i].vlen);
		jw_close(&w);
	}
	jw_close(&w);
	if (l.more && l.n > 0)
		jw_str(&w, "next", l.items[l.n - 1].key, l.items[l.n - 1].klen);
	else
		jw_null(&w, "next");
	jw_close(&w);
	api_end(&w, r);
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
		api_problem(r, P_KEY_CREATED_LONG);
		return;
	}
	if (op->err != STORE_OK) {
		memset(&nk, 0, sizeof(nk));
		memcpy(nk.s, op->new_key, op->new_klen);
		nk.n = op->new_klen;
		api_write_failed(cf->ctx, r, &nk, op, -1);
		return;
	}
	r->status = 201;
	api_head_etag(r, &op->meta);
	key_encode(op->new_key, op->new_klen, loc, sizeof(loc));
	buf_puts(&r->head, "Location: " API_STORAGE);
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
	if (api_check_json_body(ctx, q, r) == -1)
		goto out;
	while ((rc = json_member(q->body, q->body_len, &it, name, sizeof(name),
	    &nlen, &v)) == 1) {
		if (json_name_is(name, nlen, "value") && value.p == NULL)
			value = v;
		else if (json_name_is(name, nlen, "slug") && !has_slug) {
			if (v.p[0] != '"') {
				api_problem(r, P_CREATE_SLUG);
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
			api_problem(r, P_CREATE_MEMBER);
			goto out;
		}
	}
	if (rc == -1 || value.p == NULL) {
		api_problem(r, P_PUT_SHAPE);
		goto out;
	}
	json_compact(&val, value.p, value.n);
	if (val.oom) {
		api_internal(r, STORE_NOMEM);
		goto out;
	}
	op.kind = STORE_OP_CREATE;
	op.principal = api_principal(ctx);
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

void
storage_handle(const struct api_ctx *ctx, const struct http_req *q,
    struct http_resp *r, const struct api_call *call)
{
	const char	*query = call->query;
	struct key	 k;
	struct api_err	 e;
	enum key_err	 ke;
	const char	*m = q->method;
	int		 is_read, is_write;

	if ((ke = key_parse(call->rest, call->rlen, &k)) != KEY_OK) {
		(void)api_err_key(&e, ke);
		api_fail(r, &e);
		return;
	}
	is_read = strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
	is_write = strcmp(m, "PUT") == 0 || strcmp(m, "DELETE") == 0 ||
	    strcmp(m, "PATCH") == 0 || strcmp(m, "POST") == 0;
	/* a list or a created key is within the token's prefixes, or not */
	if ((is_read || is_write || strcmp(m, "OPTIONS") == 0) &&
	    auth_need(ctx->who, r, k.s, k.n, is_write, -1) == -1)
		return;
	if (k.prefix) {
		if (is_read) {
			h_list(ctx, r, &k, query);
			r->head_only = m[0] == 'H';
		} else if (strcmp(m, "POST") == 0 && !k.reserved)
			h_create(ctx, q, r, &k);
		else if (strcmp(m, "POST") == 0)
			api_problem(r, P_KEY_RESERVED);
		else {
			api_problem(r, P_METHOD_PREFIX);
			buf_puts(&r->head, "Allow: " ALLOW_PREFIX "\r\n");
		}
		return;
	}
	if (is_write && k.reserved && act_is_key(k.s, k.n)) {
		if (strcmp(m, "PUT") == 0)
			sets_put_key(ctx, q, r, &k);
		else
			sets_failed(r, ACT_BAD_SET);
		return;
	}
	if (is_write && k.reserved) {
		api_problem(r, P_KEY_RESERVED);
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
		api_problem(r, P_METHOD_KEY);
		buf_puts(&r->head, "Allow: " ALLOW_KEY "\r\n");
	}
}
