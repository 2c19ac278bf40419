/*
 * merge.c - a stale PUT merged three-way (API.md 4.1); see merge.h.
 *
 * The whole decision is one store call, inside the write transaction:
 * the preconditions are checked against the current value; when they
 * hold, the value is written as by any PUT; when they fail only because
 * the key moved on from the base, the base is read from the history and
 * json/merge3 merges base -> yours into the current value. What cannot
 * be merged (no base kept, the key deleted, the whole value changed on
 * both sides) is the ordinary 412/409.
 */
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "api/merge.h"
#include "http/hdr.h"
#include "json/merge3.h"
#include "lib/metrics.h"

enum outcome { PUT_PLAIN, PUT_MERGED, PUT_CONFLICT, PUT_FAILED,
	PUT_REFUSED };

struct merge_job {
	/* in */
	const struct key	*k;
	const struct store_cond	*c;
	uint64_t		 base;
	const char		*value;
	size_t			 vlen;
	size_t			 max_value;
	const struct merge_writer *w;		/* NULL: store_io_put */
	/* out */
	enum outcome		 outcome;
	enum store_err		 err;		/* PUT_FAILED */
	int			 werr;		/* PUT_REFUSED */
	enum merge3_err		 merr;
	struct store_meta	 cur;		/* the state it found */
	char			*cur_value;	/* malloc'ed copy */
	size_t			 cur_vlen;
	struct store_meta	 meta;		/* what it wrote */
	struct merge3_conflicts	 conflicts;
};

uint64_t
merge_base(const struct store_cond *c)
{
	if ((c->flags & STORE_IF_MATCH) && !c->match_any && c->nmatch == 1 &&
	    c->match[0].kind == STORE_TAG_VERSION && !c->match[0].weak)
		return c->match[0].version;
	if (c->flags & STORE_TOKEN_VERSION)
		return c->token_version;
	return 0;
}

int
merge_has_base(const struct store_cond *c)
{
	return merge_base(c) > 0 || (c->flags & STORE_TOKEN_UPDATED);
}

/* Keeps a copy of the current value for the answer. */
static int
keep_current(struct merge_job *j, const char *v, size_t n)
{
	if ((j->cur_value = malloc(n + 1)) == NULL) {
		j->err = STORE_NOMEM;
		return -1;
	}
	memcpy(j->cur_value, v, n);
	j->cur_value[n] = '\0';
	j->cur_vlen = n;
	return 0;
}

/*
 * The version kept whose updated_at is us (a body token names the base by
 * its time), newest first; 0 when none is.
 */
static uint64_t
base_by_time(store_io *io, const struct merge_job *j, int64_t us)
{
	struct store_meta	 m;
	const char		*v;
	size_t			 n;
	uint64_t		 ver;
	enum store_err		 e;

	for (ver = j->cur.version; ver > 0; ver--) {
		e = store_io_get_version(io, j->k->s, j->k->n, ver, &m, &v, &n);
		if (e == STORE_GONE || e == STORE_NOTFOUND)
			break;
		if (m.updated_us == us)
			return e == STORE_OK ? ver : 0;
		if (m.updated_us < us)
			break;
	}
	return 0;
}

/* Writes v as the key's value, by the writer's rules if there is one. */
static int
put_value(struct merge_job *j, store_io *io, const char *v, size_t n)
{
	enum store_err	 e;

	if (j->w != NULL) {
		if ((j->werr = j->w->put(j->w->arg, io, j->k, v, n,
		    &j->meta)) != 0) {
			j->outcome = PUT_REFUSED;
			return 1;
		}
		return 0;
	}
	if ((e = store_io_put(io, j->k->s, j->k->n, v, n, &j->meta)) !=
	    STORE_OK) {
		j->err = e;
		return 1;
	}
	return 0;
}

/* Inside the write transaction; nonzero: nothing was written. */
static int
merge_cb(void *arg, store_io *io)
{
	struct merge_job	*j = arg;
	struct store_meta	 bm;
	const char		*cv = NULL, *bv;
	char			*out = NULL;
	size_t			 cn = 0, bn, outlen;
	enum store_err		 e;
	int			 k;

	/* a batch re-run calls it again: what a run before kept goes */
	free(j->cur_value);
	j->cur_value = NULL;
	j->cur_vlen = 0;
	merge3_conflicts_free(&j->conflicts);
	j->merr = MERGE3_OK;
	j->werr = 0;
	j->outcome = PUT_FAILED;
	e = store_io_get(io, j->k->s, j->k->n, &j->cur, &cv, &cn);
	if (e != STORE_OK && e != STORE_NOTFOUND && e != STORE_DELETED) {
		j->err = e;
		return 1;
	}
	if ((e = store_cond_check(j->c, &j->cur, 0)) == STORE_OK) {
		if (put_value(j, io, j->value, j->vlen) != 0)
			return 1;
		j->outcome = PUT_PLAIN;
		return 0;
	}
	j->err = e;
	if (cv != NULL && keep_current(j, cv, cn) == -1)
		return 1;
	/* only a key that moved on from a base still kept merges */
	if ((e != STORE_PRECOND && e != STORE_CONFLICT) ||
	    j->cur.version == 0 || j->cur.deleted)
		return 1;
	if (j->base == 0 && (j->c->flags & STORE_TOKEN_UPDATED))
		j->base = base_by_time(io, j, j->c->token_updated_us);
	if (j->base == 0 || store_io_get_version(io, j->k->s, j->k->n,
	    j->base, &bm, &bv, &bn) != STORE_OK)
		return 1;
	j->merr = merge3(bv, bn, j->value, j->vlen, cv, cn, j->max_value,
	    &out, &outlen, &j->conflicts);
	switch (j->merr) {
	case MERGE3_OK:
		k = put_value(j, io, out, outlen);
		free(out);
		if (k != 0)
			return 1;
		j->outcome = PUT_MERGED;
		return 0;
	case MERGE3_CONFLICT:
		j->outcome = PUT_CONFLICT;
		return 1;
	case MERGE3_NOMEM:
		j->err = STORE_NOMEM;
		return 1;
	default:		/* the ordinary answer, or 413 */
		return 1;
	}
}

static void
merged_ok(struct http_resp *r, const struct http_req *q, const struct key *k,
    const struct merge_job *j)
{
	struct jw	 w;

	r->status = 200;
	api_head_etag(r, &j->meta);
	if (hdr_list_has(q->prefer, "merge"))
		buf_puts(&r->head, "Preference-Applied: merge\r\n");
	r->content_type = "application/json";
	jw_init(&w, &r->body);
	jw_obj(&w, NULL);
	jw_str(&w, "key", k->s, k->n);
	jw_u64(&w, "version", j->meta.version);
	api_json_ts(&w, "updated_at", j->meta.updated_us);
	jw_obj(&w, "merged");
	jw_u64(&w, "base", j->base);
	jw_u64(&w, "current", j->cur.version);
	jw_close(&w);
	jw_close(&w);
	api_end(&w, r);
}

static void
merge_conflict(struct http_resp *r, const struct key *k,
    const struct merge_job *j)
{
	struct jw	 w;
	size_t		 i;

	api_problem_open(&w, r, P_MERGE_CONFLICT, j->conflicts.total);
	api_state_members(&w, k, &j->cur, j->cur_value, j->cur_vlen);
	jw_u64(&w, "base", j->base);
	jw_arr(&w, "conflicts");
	for (i = 0; i < j->conflicts.n; i++)
		jw_str(&w, NULL, j->conflicts.ptr[i], j->conflicts.len[i]);
	jw_close(&w);
	api_problem_close(&w);
	api_head_etag(r, &j->cur);
}

int
merge_put(const struct api_ctx *ctx, const struct http_req *q,
    struct http_resp *r, const struct key *k, const struct store_cond *c,
    uint64_t base, const char *value, size_t vlen,
    const struct merge_writer *w)
{
	struct merge_job	 j;
	struct store_op		 op;
	struct store_presence	 holder;
	int			 rc = 0;

	memset(&j, 0, sizeof(j));
	j.k = k;
	j.c = c;
	j.base = base;
	j.value = value;
	j.vlen = vlen;
	j.max_value = ctx->conf->max_value;
	j.w = w;
	memset(&op, 0, sizeof(op));
	op.kind = STORE_OP_MULTI;
	op.key = k->s;
	op.klen = k->n;
	op.principal = api_principal(ctx);
	op.multi = merge_cb;
	op.multi_arg = &j;
	api_lock_guard(ctx, &op, &holder);
	(void)store_write(ctx->st, &op);
	if (op.err != STORE_OK && op.err != STORE_UPDATE_FAILED) {
		j.outcome = PUT_FAILED;
		j.err = op.err;
	}
	switch (j.outcome) {
	case PUT_PLAIN:
		op.err = STORE_OK;
		op.meta = j.meta;
		op.created = j.cur.version == 0 || j.cur.deleted;
		api_write_ok(r, q, k, &op, -1);
		break;
	case PUT_MERGED:
		if (ctx->metrics != NULL)
			metrics_merge(ctx->metrics, 1);
		merged_ok(r, q, k, &j);
		break;
	case PUT_CONFLICT:
		if (ctx->metrics != NULL)
			metrics_merge(ctx->metrics, 0);
		api_count_conflict(ctx, METRICS_MERGE_CONFLICT, k->s, k->n);
		merge_conflict(r, k, &j);
		break;
	case PUT_REFUSED:
		rc = j.werr;
		break;
	case PUT_FAILED:
		if (j.merr == MERGE3_TOO_LARGE) {
			api_problem(r, P_VALUE_TOO_LARGE, ctx->conf->max_value);
			break;
		}
		op.err = j.err;
		op.meta = j.cur;
		op.cur_value = j.cur_value;
		op.cur_vlen = j.cur_vlen;
		api_count_failed(ctx, k->s, k->n, &op);
		api_write_failed(ctx, r, k, &op, -1);
		op.cur_value = NULL;
		break;
	}
	free(op.cur_value);
	free(j.cur_value);
	merge3_conflicts_free(&j.conflicts);
	return rc;
}
