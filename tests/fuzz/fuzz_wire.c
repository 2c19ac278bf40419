/*
 * fuzz_wire.c - libFuzzer target for fcgi/wire.c: the input's first byte
 * picks the size of the pieces it is fed in (as reads would split it),
 * the rest is the byte stream. A complete request is then read back
 * (every param, the body) and answered, as http.c would; after one that
 * asked to keep the connection, the next is read from what follows.
 */
#include <ctype.h>
#include <stdint.h>
#include <string.h>

#include "http/http.h"
#include "http/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/*
 * Reads the request as a handler would; a target rebuilt without
 * REQUEST_URI must be a path of RFC 3986 characters and escapes up to
 * its '?'.
 */
static void
handler(void *arg, const struct http_req *q, struct http_resp *r)
{
	const struct wire	*w = arg;
	const char		*p;

	if (wire_param(w, "REQUEST_URI") == NULL)
		for (p = q->uri; *p != '\0' && *p != '?'; p++)
			if (*p == '%' ? !isxdigit((unsigned char)p[1]) ||
			    !isxdigit((unsigned char)p[2]) :
			    !isalnum((unsigned char)*p) &&
			    strchr("-._~!$&'()*+,;=:@/", *p) == NULL)
				__builtin_trap();
	if (strlen(q->method) + q->body_len == (size_t)-1)
		__builtin_trap();
	r->status = 200;
	r->content_type = "text/plain";
	buf_add(&r->body, q->uri, strlen(q->uri));
}

/* Reads back and answers a complete request, as http.c would. */
static void
serve(struct wire *w)
{
	const struct wire_param	*pr;
	struct buf		 out = { 0 };
	struct http_scratch	 scratch;
	size_t			 n, i, len;
	volatile size_t		 sum = 0;
	const char		*body;

	pr = wire_params(w, &n);
	for (i = 0; i < n; i++)
		sum += strlen(pr[i].name) + strlen(pr[i].value) +
		    pr[i].name_len + pr[i].value_len;
	body = wire_body(w, &len);
	if (len > 4096 || (len > 0 && body[len] != '\0'))
		__builtin_trap();
	if (sum == (size_t)-1)
		__builtin_trap();
	(void)wire_param(w, "CONTENT_LENGTH");
	wire_stdout(&out, w->id, body, len);
	wire_end(&out, w->id);
	memset(&scratch, 0, sizeof(scratch));
	http_serve(w, handler, w, &scratch, NULL, &out);
	http_scratch_free(&scratch);
	buf_free(&out);
}

#define KEPT_MAX	8	/* requests read from one kept connection */

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wire		 w;
	size_t			 step, at = 0, k, used;
	int			 nreq;

	if (size == 0)
		return 0;
	step = (size_t)data[0] % 64 + 1;
	data++;
	size--;
	wire_init(&w, 4096);
	/* a request with FCGI_KEEP_CONN is followed by the next, on a fresh
	   parser, as conn.c keeps the connection */
	for (nreq = 0; nreq < KEPT_MAX; nreq++) {
		while (at < size && !wire_done(&w)) {
			k = size - at < step ? size - at : step;
			if (wire_feed(&w, data + at, k, &used) != WIRE_OK)
				break;
			if (used > k)
				__builtin_trap();
			at += used;
		}
		if (!wire_done(&w))
			break;
		serve(&w);
		if (!w.keep_conn || at == size)
			break;
		wire_free(&w);
		wire_init(&w, 4096);
	}
	wire_free(&w);
	return 0;
}
