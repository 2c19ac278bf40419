/* txn.c - POST /api/txn: several keys, all or nothing (API.md 5). */
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "api/auth.h"
#include "api/idem.h"
#include "api/txn.h"

#define TXN_OPS_MAX	128

enum txn_kind { T_CHECK, T_PUT, T_PATCH, T_DELETE, T_GET };

struct txn_op {
	enum txn_kind		 kind;
	struct key		 k;
	struct store_cond	 c;
	struct json_span	 value;
	struct buf		 val;
	struct patch		*p;
	struct api_patch_job	 job;
};

static const char *const txn_kinds[] = { "check", "put", "patch", "delete",
    "get" };

/* Reads one op of the list into t; -1 with e set. */
static int
parse_txn_op(const struct api_ctx *ctx, struct json_span sp, struct txn_op *t,
    struct api_err *e)
{
	struct json_span	 v, merge = { NULL, 0 }, jp = { NULL, 0 };
	char			 name[16], word[8], key[STORE_KEY_MAX + 1];
	size_t			 it = 0, nlen, i;
	long			 kn = -1, wn;
	int			 rc, has_op = 0, has_version = 0;
	enum key_err		 ke;
	enum patch_err		 pe;

	if (sp.p[0] != '{')
		return api_err(e, P_TXN_OP_OBJECT);
	while ((rc = json_member(sp.p, sp.n, &it, name, sizeof(name), &nlen,
	    &v)) == 1) {
		if (json_name_is(name, nlen, "op") && !has_op++) {
			if ((wn = json_string(v, word, sizeof(word))) < 0)
				goto unknown;
			for (i = 0; i < 5; i++)
				if (json_name_is(word, (size_t)wn, txn_kinds[i]))
					break;
			if (i == 5)
				goto unknown;
			t->kind = (enum txn_kind)i;
		} else if (json_name_is(name, nlen, "key") && kn < 0) {
			if ((kn = json_string(v, key, sizeof(key))) < 0)
				return api_err(e, P_TXN_OP_KEY);
		} else if (json_name_is(name, nlen, "value") &&
		    t->value.p == NULL)
			t->value = v;
		else if (json_name_is(name, nlen, "version") && !has_version++) {
			if (json_uint(v, &t->c.token_version) == -1)
				return api_err(e, P_TXN_OP_VERSION,
				    (unsigned long long)DEC_MAX);
			t->c.flags |= STORE_TOKEN_VERSION;
		} else if (json_name_is(name, nlen, "merge") && merge.p == NULL)
			merge = v;
		else if (json_name_is(name, nlen, "json_patch") && jp.p == NULL)
			jp = v;
		else
			return api_err(e, P_TXN_OP_MEMBER);
	}
	if (!has_op)
		goto unknown;
	if (kn < 0)
		return api_err(e, P_TXN_OP_NO_KEY);
	if ((ke = key_check(key, (size_t)kn, &t->k)) != KEY_OK)
		return api_err_key(e, ke);
	if (t->k.prefix)
		return api_err(e, P_TXN_OP_PREFIX);
	if (t->k.reserved && t->kind != T_GET && t->kind != T_CHECK)
		return api_err(e, P_KEY_RESERVED);
	if ((t->kind == T_CHECK && !has_version) ||
	    (t->kind == T_PUT && t->value.p == NULL) ||
	    (t->kind == T_PATCH && (merge.p == NULL) == (jp.p == NULL)) ||
	    (t->kind != T_PUT && t->value.p != NULL) ||
	    (t->kind != T_PATCH && (merge.p != NULL || jp.p != NULL)) ||
	    (t->kind == T_GET && has_version))
		return api_err(e, P_TXN_OP_NEEDS);
	if (t->kind == T_PATCH) {
		pe = merge.p != NULL ? patch_merge(merge.p, merge.n, &t->p) :
		    patch_json(jp.p, jp.n, &t->p);
		if (pe == PATCH_NOMEM)
			return api_err(e, P_OOM);
		if (pe != PATCH_OK)
			return api_err(e, P_TXN_OP_PATCH);
	}
	if (t->kind == T_PUT) {
		json_compact(&t->val, t->value.p, t->value.n);
		if (t->val.oom)
			return api_err(e, P_OOM);
	}
	if ((t->kind == T_PUT || t->kind == T_PATCH || t->kind == T_DELETE) &&
	    conf_requires(ctx->conf, t->k.s, t->k.n))
		t->c.flags |= STORE_REQUIRE;
	return 0;
unknown:
	return api_err(e, P_TXN_OP_KIND);
}

/* One element of "results". */
static void
txn_result(struct jw *w, const struct txn_op *t, const struct store_op *op)
{
	if (t->kind == T_GET) {
		if (op->meta.version == 0 || op->meta.deleted)
			jw_null(w, NULL);
		else
			api_envelope(w, NULL, t->k.s, t->k.n, &op->meta,
			    op->cur_value, op->cur_vlen);
		return;
	}
	jw_obj(w, NULL);
	jw_str(w, "key", t->k.s, t->k.n);
	jw_u64(w, "version", t->kind == T_CHECK && op->meta.deleted ? 0 :
	    op->meta.version);
	if (t->kind != T_CHECK)
		api_json_ts(w, "updated_at", op->meta.updated_us);
	jw_close(w);
}

struct txn_finish {
	struct idem_finish		 f;
	const struct api_ctx	*ctx;
	struct txn_op		*t;
	struct store_op		*ops;
	size_t			 n;
};

static void
txn_finish(struct idem_finish *f, struct http_resp *r)
{
	struct txn_finish	*tf = (struct txn_finish *)f;
	struct jw		 w;
	size_t			 i;

	/* the first op that did not succeed failed the transaction */
	for (i = 0; i < tf->n; i++) {
		if (tf->ops[i].err == STORE_OK)
			continue;
		api_write_failed(tf->ctx, r, &tf->t[i].k, &tf->ops[i], (long)i);
		return;
	}
	r->status = 200;
	r->content_type = "application/json";
	jw_init(&w, &r->body);
	jw_obj(&w, NULL);
	jw_arr(&w, "results");
	for (i = 0; i < tf->n; i++)
		txn_result(&w, &tf->t[i], &tf->ops[i]);
	jw_close(&w);
	jw_close(&w);
	api_end(&w, r);
}

void
txn_handle(const struct api_ctx *ctx, const struct http_req *q,
    struct http_resp *r, const struct api_call *call)
{
	struct txn_finish	 tf = { { txn_finish }, NULL, NULL, NULL, 0 };
	struct idem_req		 ir;
	struct store_presence	 holder;

	struct txn_op		*t = NULL;
	struct store_op		*ops = NULL;
	struct json_span	 v, list = { NULL, 0 };
	struct api_err		 e;
	struct jw		 w;
	char			 name[8];
	size_t			 it = 0, nlen, n = 0, i, failed;
	int			 rc;

	(void)call;
	if (strcmp(q->method, "POST") != 0) {
		api_problem(r, P_METHOD_TXN);
		buf_puts(&r->head, "Allow: POST\r\n");
		return;
	}
	if (api_check_json_body(ctx, q, r) == -1)
		return;
	while ((rc = json_member(q->body, q->body_len, &it, name, sizeof(name),
	    &nlen, &v)) == 1) {
		if (!json_name_is(name, nlen, "ops") || list.p != NULL ||
		    v.p[0] != '[')
			break;
		list = v;
	}
	if (rc != 0 || list.p == NULL) {
		api_problem(r, P_TXN_SHAPE);
		return;
	}
	for (it = 0; json_element(list.p, list.n, &it, &v) == 1; )
		n++;
	if (n == 0 || n > TXN_OPS_MAX) {
		api_problem(r, P_TXN_COUNT, TXN_OPS_MAX);
		return;
	}
	if ((t = calloc(n, sizeof(*t))) == NULL ||
	    (ops = calloc(n, sizeof(*ops))) == NULL) {
		api_internal(r, STORE_NOMEM);
		goto out;
	}
	for (it = 0, i = 0; json_element(list.p, list.n, &it, &v) == 1; i++) {
		if (parse_txn_op(ctx, v, &t[i], &e) == -1) {
			api_problem_err(&w, r, &e);
			jw_u64(&w, "op_index", i);
			api_problem_close(&w);
			goto out;
		}
	}
	for (i = 0; i < n; i++)
		if (auth_need(ctx->who, r, t[i].k.s, t[i].k.n,
		    t[i].kind != T_GET && t[i].kind != T_CHECK, (long)i) == -1)
			goto out;
	for (i = 0; i < n; i++) {
		struct store_op *op = &ops[i];

		op->key = t[i].k.s;
		op->klen = t[i].k.n;
		op->principal = api_principal(ctx);
		op->cond = &t[i].c;
		/* the first op refused ends the transaction: one holder */
		if (t[i].kind != T_GET && t[i].kind != T_CHECK)
			api_lock_guard(ctx, op, &holder);
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
			t[i].job.principal = api_principal(ctx);
			t[i].job.max_value = ctx->conf->max_value;
			op->update = api_patch_cb;
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
	for (i = 0; idem_fresh(&ir) && i < n; i++)
		if (ops[i].err != STORE_OK) {
			api_count_failed(ctx, t[i].k.s, t[i].k.n, &ops[i]);
			break;
		}
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

