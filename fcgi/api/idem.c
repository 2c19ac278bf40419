/* idem.c - idempotent retries (API.md 8); see idem.h. */
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "api/idem.h"
#include "lib/hash.h"

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
		fp[0] = hash_fnv_step(fp[0], parts[i], lens[i],
		    0x100000001b3ULL);
		fp[1] = hash_fnv_step(fp[1], parts[i], lens[i],
		    0x9e3779b97f4a7c15ULL);
	}
}

/* Serialises an answer: status, content type, header lines, body. */
static int
render_cb(void *arg, char **out, size_t *outlen, int *status)
{
	struct idem_finish	*f = arg;
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
int
idem_begin(const struct api_ctx *ctx, const struct http_req *q,
    struct idem_req *ir, struct idem_finish *f, struct http_resp *r)
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
	ir->id.principal = api_principal(ctx);
	ir->id.klen = o;
	fingerprint(q, ir->id.fp);
	ir->id.ttl_us = (int64_t)ctx->conf->idempotency_ttl * 1000000;
	ir->id.render = render_cb;
	ir->id.render_arg = f;
	ir->used = 1;
	return 1;
bad:
	return api_problem(r, P_IDEM_KEY);
}

int
idem_fresh(const struct idem_req *ir)
{
	return !ir->used || ir->id.outcome == STORE_IDEM_NEW;
}

/* Answers after the store call: a replay, a reused key, or f afresh. */
void
idem_end(struct idem_req *ir, struct idem_finish *f, struct http_resp *r)
{
	if (idem_fresh(ir))
		f->fn(f, r);
	else if (ir->id.outcome == STORE_IDEM_MISMATCH)
		api_problem(r, P_IDEM_REUSED);
	else if (replay(r, ir->id.response, ir->id.resplen) == -1)
		api_internal(r, STORE_CORRUPT);
	free(ir->id.response);
	ir->id.response = NULL;
}

