/*
 * changes.c - GET /api/changes: the latest change of each key after a
 * seq, at once, as a long poll (wait=W), or as a Server-Sent Events
 * stream (Accept: text/event-stream) (API.md 7).
 *
 * A request that has to wait parks (http_park): it holds no thread and no
 * reader while it waits, and runs here again when a change under its
 * prefix is committed (conn_notify) or its time comes, with the cursor it
 * left: the seq up to which it has seen everything.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "api/auth.h"
#include "api/changes.h"
#include "api/presence.h"
#include "http/conn.h"
#include "http/hdr.h"
#include "lib/metrics.h"
#include "model/key.h"

#define LIMIT_DEFAULT	100
#define LIMIT_MAX	1000
#define WAIT_MAX	60		/* seconds */
#define STREAM_BATCH	1000		/* events sent in one run */
#define KEEPALIVE_MS	25000		/* a comment that often */
#define RETRY_AFTER	"2"		/* seconds, when watchers are full */

struct feed {
	uint64_t	 since;
	uint64_t	 limit;
	uint64_t	 wait;
	uint64_t	 presence;	/* 1: with presence events */
	char		 prefix[STORE_KEY_MAX + 1];
	size_t		 plen;
	/* what the caller may see of prefix: it, or its token's under it */
	struct store_prefix pfx[STORE_FEED_PREFIXES_MAX];
	size_t		 npfx;
	int		 stream;
	/* the session that leaves presence_key when it closes (13.3) */
	char		 session[STORE_SESSION_MAX + 1];
	size_t		 slen;
	struct key	 pkey;
};

/*
 * ?session=S&presence_key=K: both, a session id and a key the caller may
 * read, or neither; -1 with r set.
 */
static int
parse_farewell(const struct api_ctx *ctx, const struct api_call *call,
    struct feed *f, struct http_resp *r)
{
	const char	*v, *kv;
	size_t		 vn, kn;
	long		 n;
	int		 has_s, has_k;

	has_s = api_query_param(call->query, "session", &v, &vn);
	has_k = api_query_param(call->query, "presence_key", &kv, &kn);
	if (!has_s && !has_k)
		return 0;
	if (!has_s || !has_k)
		return api_problem(r, P_FEED_FAREWELL);
	if ((n = key_decode(v, vn, f->session, sizeof(f->session))) < 0 ||
	    !store_session_ok(f->session, (size_t)n))
		return api_problem(r, P_PRESENCE_SESSION, STORE_SESSION_MAX);
	f->slen = (size_t)n;
	if (key_parse(kv, kn, &f->pkey) != KEY_OK || f->pkey.prefix ||
	    f->pkey.n > STORE_PRESENCE_KEY_MAX)
		return api_problem(r, P_FEED_FAREWELL);
	return auth_need(ctx->who, r, f->pkey.s, f->pkey.n, 0, -1);
}

/*
 * The prefixes the feed scans and its watchers wait on: nothing in an
 * answer, nor when it comes, may depend on a key the caller cannot read.
 */
static int
feed_prefixes(const struct api_ctx *ctx, struct feed *f, struct http_resp *r)
{
	char	 what[128];
	int	 n;

	n = auth_feed_prefixes(ctx->who, f->prefix, f->plen, f->pfx,
	    STORE_FEED_PREFIXES_MAX);
	if (n > 0) {
		f->npfx = (size_t)n;
		return 0;
	}
	api_name_text(f->prefix, f->plen, f->plen + 1, what, sizeof(what));
	if (n == 0)
		return api_problem(r, P_FEED_FORBIDDEN, ctx->who->name, what);
	return api_problem(r, P_FEED_PREFIXES, ctx->who->name,
	    STORE_FEED_PREFIXES_MAX, what);
}

static int
parse_feed(const struct api_ctx *ctx, const struct http_req *q,
    const struct api_call *call, struct feed *f, struct http_resp *r)
{
	const char	*v;
	size_t		 vn;
	long		 n;

	memset(f, 0, sizeof(*f));
	f->limit = LIMIT_DEFAULT;
	if (api_query_uint(call->query, "since", 0, DEC_MAX, &f->since,
	    r) == -1 ||
	    api_query_uint(call->query, "limit", 1, LIMIT_MAX, &f->limit,
	    r) == -1 ||
	    api_query_uint(call->query, "wait", 0, WAIT_MAX, &f->wait, r) == -1 ||
	    api_query_uint(call->query, "presence", 0, 1, &f->presence,
	    r) == -1)
		return -1;
	if (api_query_param(call->query, "prefix", &v, &vn)) {
		if ((n = key_decode(v, vn, f->prefix, sizeof(f->prefix))) < 0)
			return api_problem(r, P_FEED_PREFIX);
		f->plen = (size_t)n;
	}
	if (feed_prefixes(ctx, f, r) == -1 ||
	    parse_farewell(ctx, call, f, r) == -1)
		return -1;
	f->stream = q->accept != NULL &&
	    strstr(q->accept, "text/event-stream") != NULL;
	/* a browser's EventSource reconnects with its first URL and the
	   last id it saw, which wins */
	if (f->stream && q->last_event_id != NULL &&
	    hdr_uint(q->last_event_id, &f->since) != HDR_OK)
		return api_problem(r, P_FEED_LAST_ID,
		    (unsigned long long)DEC_MAX);
	return 0;
}

static const char *const left_names[] = { NULL, "leave", "expired", "closed",
	"forced" };

/* One result object (API.md 7), or a presence event (13.4). */
static void
change_obj(struct jw *w, const char *name, const struct store_change *c)
{
	jw_obj(w, name);
	jw_u64(w, "seq", c->seq);
	jw_str(w, "key", c->key, c->klen);
	if (c->presence != NULL) {
		jw_obj(w, "presence");
		presence_members(w, c->presence, 0);
		if (c->presence->left == STORE_PRESENT ||
		    (unsigned)c->presence->left > STORE_LEFT_FORCED)
			jw_null(w, "left");
		else
			jw_strz(w, "left", left_names[c->presence->left]);
		jw_close(w);
		jw_close(w);
		return;
	}
	jw_u64(w, "version", c->version);
	jw_bool(w, "deleted", c->deleted);
	api_json_ts(w, "updated_at", c->updated_us);
	jw_close(w);
}

/* Reads the changes after since that the request may see; -1 with r set. */
static int
read_changes(const struct api_ctx *ctx, const struct feed *f, uint64_t since,
    size_t limit, struct store_changes *ch, struct http_resp *r)
{
	enum store_err	 err;

	err = store_changes_ex(ctx->st, since, f->pfx, f->npfx, limit, 0,
	    f->presence != 0, ch);
	if (err != STORE_OK)
		return api_internal(r, err);
	return 0;
}

static void
full(const struct api_ctx *ctx, const struct http_req *q,
    struct http_resp *r)
{
	if (q->owner_full)
		api_problem(r, P_FEED_FULL_PRINCIPAL, ctx->who->name);
	else
		api_problem(r, P_FEED_FULL);
	buf_puts(&r->head, "Retry-After: " RETRY_AFTER "\r\n");
}

static void
park(const struct api_ctx *ctx, struct http_resp *r, const struct feed *f,
    uint64_t cursor, int64_t until)
{
	size_t	 i;

	r->park = 1;
	r->owner = ctx->who != NULL ? ctx->who->name : NULL;
	r->cursor = cursor;
	r->park_until_ms = until;
	for (i = 0; i < f->npfx; i++)
		http_watch_add(&r->watch, f->pfx[i].p, f->pfx[i].len);
	r->farewell = f->slen > 0;
}

/* The watcher's connection closed: its session leaves (API.md 13.3). */
static void
farewell(const struct api_ctx *ctx, const struct feed *f)
{
	struct store_presence	 p;
	const char		*by = api_principal(ctx);

	if (store_presence_leave(ctx->st, f->pkey.s, f->pkey.n, f->session,
	    f->slen, by != NULL ? by : "", STORE_LEFT_CLOSED, &p) ==
	    STORE_OK && ctx->metrics != NULL)
		metrics_presence_leave(ctx->metrics, METRICS_LEAVE_CLOSED, 1);
}

static void
long_poll(const struct api_ctx *ctx, const struct http_req *q,
    struct http_resp *r, const struct feed *f)
{
	struct store_changes	 ch;
	struct jw		 w;
	uint64_t		 since = q->resumed ? q->cursor : f->since;
	size_t			 i;

	memset(&ch, 0, sizeof(ch));
	if (read_changes(ctx, f, since, (size_t)f->limit, &ch, r) == -1)
		goto out;
	if (ch.n == 0 && f->wait > 0 && !q->timed_out) {
		if (q->can_park) {
			park(ctx, r, f, ch.last_seq, q->resumed ?
			    q->park_until_ms :
			    conn_now_ms() + (int64_t)f->wait * 1000);
			goto out;
		}
		if (!q->resumed) {
			full(ctx, q, r);
			goto out;
		}
		/* the worker stops: answered as if its time had come */
	}
	r->status = 200;
	r->content_type = "application/json";
	buf_puts(&r->head, "Cache-Control: no-store\r\n");
	jw_init(&w, &r->body);
	jw_obj(&w, NULL);
	jw_arr(&w, "results");
	for (i = 0; i < ch.n; i++)
		change_obj(&w, NULL, &ch.items[i]);
	jw_close(&w);
	jw_u64(&w, "last_seq", ch.last_seq);
	jw_close(&w);
	api_end(&w, r);
out:
	store_changes_free(&ch);
}

static void
stream(const struct api_ctx *ctx, const struct http_req *q,
    struct http_resp *r, const struct feed *f)
{
	struct store_changes	 ch;
	struct jw		 w;
	struct buf		 data = { 0 };
	uint64_t		 since = q->streaming ? q->cursor : f->since;
	size_t			 i;

	memset(&ch, 0, sizeof(ch));
	if (!q->streaming && !q->can_park) {
		full(ctx, q, r);
		goto out;
	}
	if (read_changes(ctx, f, since, STREAM_BATCH, &ch, r) == -1) {
		if (q->streaming)
			buf_reset(&r->body);	/* the stream just ends */
		goto out;
	}
	r->status = 200;
	r->content_type = "text/event-stream";
	r->stream = 1;
	if (!q->streaming) {
		buf_puts(&r->head, "Cache-Control: no-store\r\n"
		    "X-Accel-Buffering: no\r\n");
		/*
		 * A comment at once: a front-end that holds the head until
		 * body bytes come (Apache's mod_proxy_fcgi) sends it now.
		 */
		buf_puts(&r->body, ": open\n\n");
	}
	for (i = 0; i < ch.n; i++) {
		buf_reset(&data);
		jw_init(&w, &data);
		change_obj(&w, NULL, &ch.items[i]);
		if (jw_end(&w) == -1 || data.oom)
			break;
		buf_printf(&r->body, "id: %llu\nevent: %s\ndata: ",
		    (unsigned long long)ch.items[i].seq,
		    ch.items[i].presence != NULL ? "presence" : "change");
		buf_add(&r->body, data.p, data.len);
		buf_add(&r->body, "\n", 1);
	}
	if (ch.n == 0 && q->timed_out)
		buf_puts(&r->body, ": keepalive\n\n");
	/* a full batch: more is waiting, go on at once */
	park(ctx, r, f, ch.last_seq, ch.n == STREAM_BATCH ? 0 :
	    conn_now_ms() + KEEPALIVE_MS);
out:
	buf_free(&data);
	store_changes_free(&ch);
}

void
changes_handle(const struct api_ctx *ctx, const struct http_req *q,
    struct http_resp *r, const struct api_call *call)
{
	struct feed	 f;

	if (strcmp(q->method, "GET") != 0) {
		api_problem(r, P_METHOD_CHANGES);
		buf_puts(&r->head, "Allow: GET\r\n");
		return;
	}
	if (parse_feed(ctx, q, call, &f, r) == -1)
		return;
	if (q->closed) {
		farewell(ctx, &f);
		return;
	}
	if (q->resumed && !q->timed_out && ctx->metrics != NULL)
		metrics_watcher_woken(ctx->metrics);
	if (f.stream)
		stream(ctx, q, r, &f);
	else
		long_poll(ctx, q, r, &f);
}
