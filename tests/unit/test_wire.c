/*
 * Unit tests of fcgi/wire.c: a request in pieces of every size, the
 * limits, every error, the answer's framing.
 */
#include <stdlib.h>
#include <string.h>

#include "http/wire.h"
#include "t.h"

#define MAX_BODY	100

enum { BEGIN = 1, ABORT = 2, END = 3, PARAMS = 4, STDIN = 5, STDOUT = 6,
    DATA = 8, GET_VALUES = 9 };

static void
rec(struct buf *b, int type, int id, const void *p, size_t n, int pad)
{
	uint8_t	 h[8] = { 1, (uint8_t)type, (uint8_t)(id >> 8), (uint8_t)id,
	    (uint8_t)(n >> 8), (uint8_t)n, (uint8_t)pad, 0 };
	char	 zeros[256] = { 0 };

	buf_add(b, h, 8);
	buf_add(b, p, n);
	buf_add(b, zeros, (size_t)pad);
}

static void
begin(struct buf *b, int id, int role, int flags)
{
	uint8_t	 body[8] = { (uint8_t)(role >> 8), (uint8_t)role,
	    (uint8_t)flags };

	rec(b, BEGIN, id, body, sizeof(body), 0);
}

static void
nv_len(struct buf *b, size_t n)
{
	uint8_t	 l[4] = { (uint8_t)(n >> 24 | 0x80), (uint8_t)(n >> 16),
	    (uint8_t)(n >> 8), (uint8_t)n };

	if (n < 128) {
		l[0] = (uint8_t)n;
		buf_add(b, l, 1);
	} else
		buf_add(b, l, 4);
}

static void
nv(struct buf *b, const char *name, const char *value, size_t vlen)
{
	nv_len(b, strlen(name));
	nv_len(b, vlen);
	buf_add(b, name, strlen(name));
	buf_add(b, value, vlen);
}

/* Params p as records of at most chunk bytes, then the empty one. */
static void
params(struct buf *b, int id, const struct buf *p, size_t chunk)
{
	size_t	 at, k;

	for (at = 0; at < p->len; at += k) {
		k = p->len - at < chunk ? p->len - at : chunk;
		rec(b, PARAMS, id, p->p + at, k, (int)(k % 8 ? 8 - k % 8 : 0));
	}
	rec(b, PARAMS, id, NULL, 0, 0);
}

/* A PUT as nginx sends it: pairs spanning records, a padded body. */
static void
sample(struct buf *b)
{
	struct buf	 p = { 0 };
	char		 big[300];

	memset(big, 'v', sizeof(big));
	nv(&p, "REQUEST_METHOD", "PUT", 3);
	nv(&p, "REQUEST_URI", "/api/storage/a", 14);
	nv(&p, "CONTENT_LENGTH", "12", 2);
	nv(&p, "HTTP_X_BIG", big, sizeof(big));
	nv(&p, "EMPTY", "", 0);
	nv(&p, "HTTP_NUL", "a\0b", 3);
	begin(b, 1, 1, 0);
	params(b, 1, &p, 37);
	rec(b, STDIN, 1, "{\"valu", 6, 2);
	rec(b, STDIN, 1, "e\": 1}", 6, 0);
	rec(b, STDIN, 1, NULL, 0, 0);
	buf_free(&p);
}

/* Feeds p in pieces of at most step bytes; returns the first error. */
static enum wire_err
feed(struct wire *w, const char *p, size_t n, size_t step, size_t *left)
{
	enum wire_err	 err = WIRE_OK;
	size_t		 at = 0, k, used;

	while (at < n && !wire_done(w)) {
		k = n - at < step ? n - at : step;
		if ((err = wire_feed(w, p + at, k, &used)) != WIRE_OK)
			break;
		at += used;
	}
	if (left != NULL)
		*left = n - at;
	return err;
}

static int
sample_ok(const struct wire *w)
{
	const struct wire_param	*pr;
	const char		*body;
	size_t			 n, len;

	pr = wire_params(w, &n);
	body = wire_body(w, &len);
	return wire_done(w) && n == 6 &&
	    strcmp(wire_param(w, "REQUEST_METHOD"), "PUT") == 0 &&
	    strcmp(wire_param(w, "REQUEST_URI"), "/api/storage/a") == 0 &&
	    strlen(wire_param(w, "HTTP_X_BIG")) == 300 &&
	    strcmp(wire_param(w, "EMPTY"), "") == 0 &&
	    pr[5].value_len == 3 && memcmp(pr[5].value, "a\0b", 4) == 0 &&
	    wire_param(w, "CONTENT") == NULL &&
	    wire_body_state(w) == WIRE_BODY_OK && len == 12 &&
	    strcmp(body, "{\"value\": 1}") == 0 && w->id == 1 &&
	    !w->keep_conn;
}

static void
test_whole(void)
{
	struct buf	 b = { 0 };
	struct wire	 w;
	size_t		 used;

	sample(&b);
	buf_add(&b, "trailing", 8);
	wire_init(&w, MAX_BODY);
	CHECK(wire_feed(&w, b.p, b.len, &used) == WIRE_OK);
	CHECK(used == b.len - 8);	/* stops at the end of the request */
	CHECK(sample_ok(&w));
	wire_reset(&w);			/* and again, in the same memory */
	CHECK(!wire_done(&w));
	CHECK(feed(&w, b.p, b.len - 8, 1, NULL) == WIRE_OK && sample_ok(&w));
	wire_free(&w);
	buf_free(&b);
}

static void
test_every_split(void)
{
	struct buf	 b = { 0 };
	struct wire	 w;
	size_t		 i, used, used2;
	int		 bad = 0;

	sample(&b);
	for (i = 0; i <= b.len; i++) {
		wire_init(&w, MAX_BODY);
		if (wire_feed(&w, b.p, i, &used) != WIRE_OK || used != i ||
		    (i < b.len && wire_done(&w)) ||
		    wire_feed(&w, b.p + i, b.len - i, &used2) != WIRE_OK ||
		    used2 != b.len - i || !sample_ok(&w))
			bad++;
		wire_free(&w);
	}
	CHECK(bad == 0);
	for (i = 1; i < 40; i++) {	/* pieces of every small size */
		wire_init(&w, MAX_BODY);
		if (feed(&w, b.p, b.len, i, NULL) != WIRE_OK || !sample_ok(&w))
			bad++;
		wire_free(&w);
	}
	CHECK(bad == 0);
	buf_free(&b);
}

/* Feeds a request whose params are p and STDIN is body; returns err. */
static enum wire_err
request(struct wire *w, const struct buf *p, const char *body, size_t n)
{
	struct buf	 b = { 0 };
	enum wire_err	 err;

	begin(&b, 7, 1, 0);
	params(&b, 7, p, 65535);
	if (n > 0)
		rec(&b, STDIN, 7, body, n, 0);
	rec(&b, STDIN, 7, NULL, 0, 0);
	wire_init(w, MAX_BODY);
	err = feed(w, b.p, b.len, 65536, NULL);
	buf_free(&b);
	return err;
}

static enum wire_body
body_case(const char *cl, const char *body, size_t *kept)
{
	struct buf	 p = { 0 };
	struct wire	 w;
	enum wire_body	 r = (enum wire_body)-1;

	if (cl != NULL)
		nv(&p, "CONTENT_LENGTH", cl, strlen(cl));
	if (request(&w, &p, body, strlen(body)) == WIRE_OK && wire_done(&w)) {
		r = wire_body_state(&w);
		wire_body(&w, kept);
	}
	wire_free(&w);
	buf_free(&p);
	return r;
}

static void
test_body(void)
{
	size_t	 kept;
	char	 big[MAX_BODY + 2];

	CHECK(body_case("5", "hello", &kept) == WIRE_BODY_OK && kept == 5);
	CHECK(body_case("3", "hello", &kept) == WIRE_BODY_OK && kept == 3);
	CHECK(body_case("9", "hello", &kept) == WIRE_BODY_SHORT && kept == 5);
	/* no length: STDIN to its end (Apache's chunked bodies) */
	CHECK(body_case(NULL, "hello", &kept) == WIRE_BODY_OK && kept == 5);
	CHECK(body_case("", "hello", &kept) == WIRE_BODY_OK && kept == 5);
	CHECK(body_case(NULL, "", &kept) == WIRE_BODY_OK && kept == 0);
	CHECK(body_case("0", "", &kept) == WIRE_BODY_OK && kept == 0);
	CHECK(body_case("100", "x", &kept) == WIRE_BODY_SHORT && kept == 1);
	CHECK(body_case("101", "x", &kept) == WIRE_BODY_TOO_LARGE && kept == 0);
	CHECK(body_case("99999999999999999999", "x", &kept) ==
	    WIRE_BODY_BAD_LENGTH && kept == 0);
	CHECK(body_case("-1", "x", &kept) == WIRE_BODY_BAD_LENGTH);
	CHECK(body_case(" 5", "hello", &kept) == WIRE_BODY_BAD_LENGTH);
	CHECK(body_case("5 ", "hello", &kept) == WIRE_BODY_BAD_LENGTH);
	CHECK(body_case("0x5", "hello", &kept) == WIRE_BODY_BAD_LENGTH);
	memset(big, 'b', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CHECK(body_case("100", big, &kept) == WIRE_BODY_OK && kept == 100);
	CHECK(body_case(NULL, big, &kept) == WIRE_BODY_TOO_LARGE && kept == 0);
	big[MAX_BODY] = '\0';
	CHECK(body_case(NULL, big, &kept) == WIRE_BODY_OK && kept == MAX_BODY);
}

/*
 * A body without CONTENT_LENGTH in many STDIN records, fed in pieces of
 * every size: kept whole up to max_body; one byte more, in a record of
 * its own, and none of it is kept.
 */
static void
test_body_without_length(void)
{
	struct buf	 b = { 0 }, p = { 0 }, body = { 0 };
	struct wire	 w;
	const char	*got;
	size_t		 i, step, len, at, k;
	int		 bad = 0;

	for (i = 0; i < MAX_BODY; i++)
		buf_add(&body, &"0123456789"[i % 10], 1);
	nv(&p, "REQUEST_METHOD", "PUT", 3);
	for (i = 0; i < 2; i++) {
		buf_reset(&b);
		begin(&b, 1, 1, 0);
		params(&b, 1, &p, 65535);
		for (at = 0; at < body.len; at += k) {
			k = body.len - at < 7 ? body.len - at : 7;
			rec(&b, STDIN, 1, body.p + at, k, (int)(8 - k % 8) % 8);
		}
		if (i == 1)
			rec(&b, STDIN, 1, "x", 1, 7);
		rec(&b, STDIN, 1, NULL, 0, 0);
		for (step = 1; step < 40; step++) {
			wire_init(&w, MAX_BODY);
			if (feed(&w, b.p, b.len, step, NULL) != WIRE_OK ||
			    !wire_done(&w))
				bad++;
			got = wire_body(&w, &len);
			if (i == 0 && (wire_body_state(&w) != WIRE_BODY_OK ||
			    len != MAX_BODY || memcmp(got, body.p, len) != 0))
				bad++;
			if (i == 1 && (wire_body_state(&w) !=
			    WIRE_BODY_TOO_LARGE || len != 0 || *got != '\0' ||
			    w.discarded != MAX_BODY + 1))
				bad++;
			wire_free(&w);
		}
	}
	CHECK(bad == 0);
	buf_free(&b);
	buf_free(&p);
	buf_free(&body);
}

/*
 * A body over max_body is dropped, up to WIRE_DISCARD_MAX bytes: with a
 * CONTENT_LENGTH that says so at once, and without one (cl NULL) once
 * STDIN passes max_body.
 */
static void
discard_bound(const char *cl)
{
	struct buf	 b = { 0 }, p = { 0 }, r = { 0 };
	struct wire	 w;
	char		*chunk = calloc(1, WIRE_RECORD_MAX);
	enum wire_err	 err = WIRE_OK;
	uint64_t	 sent = 0;
	size_t		 used;

	CHECK(chunk != NULL);
	if (chunk == NULL)
		return;
	if (cl != NULL)
		nv(&p, "CONTENT_LENGTH", cl, strlen(cl));
	begin(&b, 1, 1, 0);
	params(&b, 1, &p, 65535);
	rec(&r, STDIN, 1, chunk, WIRE_RECORD_MAX, 0);
	wire_init(&w, MAX_BODY);
	CHECK(wire_feed(&w, b.p, b.len, &used) == WIRE_OK);
	CHECK(wire_body_state(&w) == (cl != NULL ? WIRE_BODY_TOO_LARGE :
	    WIRE_BODY_OK));
	while (err == WIRE_OK && sent <= WIRE_DISCARD_MAX) {
		err = wire_feed(&w, r.p, r.len, &used);
		sent += WIRE_RECORD_MAX;
	}
	CHECK(err == WIRE_DISCARD && w.body.len == 0);
	CHECK(wire_body_state(&w) == WIRE_BODY_TOO_LARGE);
	CHECK(sent > WIRE_DISCARD_MAX && sent - WIRE_RECORD_MAX <=
	    WIRE_DISCARD_MAX);
	wire_free(&w);
	buf_free(&b);
	buf_free(&p);
	buf_free(&r);
	free(chunk);
}

static void
test_discard_bound(void)
{
	discard_bound("1000000");
	discard_bound(NULL);
}

static void
test_params_limit(void)
{
	struct buf	 p = { 0 };
	struct wire	 w;
	char		*v = malloc(WIRE_PARAMS_MAX);

	CHECK(v != NULL);
	if (v == NULL)
		return;
	memset(v, 'x', WIRE_PARAMS_MAX);
	/* 1 + 4 + 1 bytes of lengths and name: exactly the bound */
	nv(&p, "N", v, WIRE_PARAMS_MAX - 6);
	CHECK(p.len == WIRE_PARAMS_MAX);
	CHECK(request(&w, &p, "", 0) == WIRE_OK && wire_done(&w));
	CHECK(strlen(wire_param(&w, "N")) == WIRE_PARAMS_MAX - 6);
	wire_free(&w);
	buf_reset(&p);
	nv(&p, "N", v, WIRE_PARAMS_MAX - 5);
	CHECK(request(&w, &p, "", 0) == WIRE_PARAMS_TOO_LARGE);
	wire_free(&w);
	buf_free(&p);
	free(v);
}

/* Feeds bytes after a good BEGIN (or alone); returns the error. */
static enum wire_err
after_begin(int with_begin, const struct buf *more)
{
	struct buf	 b = { 0 };
	struct wire	 w;
	enum wire_err	 err, again;
	size_t		 used;

	if (with_begin)
		begin(&b, 1, 1, 0);
	buf_add(&b, more->p, more->len);
	wire_init(&w, MAX_BODY);
	err = feed(&w, b.p, b.len, 3, NULL);
	again = wire_feed(&w, b.p, b.len, &used);	/* errors stay */
	if (err != WIRE_OK && (again != err || used != 0))
		err = WIRE_OK;
	wire_free(&w);
	buf_free(&b);
	return err;
}

static void
test_errors(void)
{
	struct buf	 m = { 0 };
	uint8_t		 hdr[8] = { 2, BEGIN, 0, 1, 0, 8, 0, 0 };

	buf_add(&m, hdr, 8);
	CHECK(after_begin(0, &m) == WIRE_VERSION);
#define CASE(with, want, stmts) do {					\
	buf_reset(&m);							\
	stmts;								\
	CHECK(after_begin(with, &m) == want);				\
} while (0)
	CASE(0, WIRE_TYPE, rec(&m, 20, 0, "12345678", 8, 0));
	CASE(0, WIRE_TYPE, rec(&m, GET_VALUES, 0, "\x0e\0FCGI_MAX_CONNS", 16,
	    0));
	CASE(0, WIRE_ORDER, rec(&m, PARAMS, 1, NULL, 0, 0));
	CASE(0, WIRE_ORDER, rec(&m, STDIN, 1, NULL, 0, 0));
	CASE(0, WIRE_REQUEST_ID, begin(&m, 0, 1, 0));
	CASE(0, WIRE_ROLE, begin(&m, 1, 2, 0));		/* AUTHORIZER */
	CASE(0, WIRE_BEGIN_LEN, rec(&m, BEGIN, 1, "\0\1\0\0\0\0\0\0\0", 9,
	    0));
	CASE(1, WIRE_TYPE, rec(&m, ABORT, 1, NULL, 0, 0));
	CASE(1, WIRE_TYPE, rec(&m, DATA, 1, "x", 1, 0));
	CASE(1, WIRE_TYPE, rec(&m, STDOUT, 1, "x", 1, 0));
	CASE(1, WIRE_TYPE, rec(&m, 200, 1, "x", 1, 0));
	CASE(1, WIRE_ORDER, begin(&m, 1, 1, 0));
	CASE(1, WIRE_REQUEST_ID, rec(&m, PARAMS, 2, "\1\1ab", 4, 0));
	CASE(1, WIRE_REQUEST_ID, rec(&m, PARAMS, 0, "\1\1ab", 4, 0));
	CASE(1, WIRE_ORDER, rec(&m, STDIN, 1, "x", 1, 0));
	/* after the params: a second BEGIN, more PARAMS, another id */
	CASE(1, WIRE_ORDER, (rec(&m, PARAMS, 1, NULL, 0, 0),
	    begin(&m, 1, 1, 0)));
	CASE(1, WIRE_ORDER, (rec(&m, PARAMS, 1, NULL, 0, 0),
	    rec(&m, PARAMS, 1, "\1\1ab", 4, 0)));
	CASE(1, WIRE_REQUEST_ID, (rec(&m, PARAMS, 1, NULL, 0, 0),
	    rec(&m, STDIN, 3, "x", 1, 0)));
	CASE(1, WIRE_TYPE, (rec(&m, PARAMS, 1, NULL, 0, 0),
	    rec(&m, ABORT, 1, NULL, 0, 0)));
	/* name-value lengths past the stream (libfcgi's overflow) */
	CASE(1, WIRE_PARAMS_BAD, (rec(&m, PARAMS, 1,
	    "\xbf\xff\xff\xff\xbf\xff\xff\xff" "AAAAAAAA", 16, 0),
	    rec(&m, PARAMS, 1, NULL, 0, 0)));
	CASE(1, WIRE_PARAMS_BAD, (rec(&m, PARAMS, 1, "\1\5ab", 4, 0),
	    rec(&m, PARAMS, 1, NULL, 0, 0)));
	CASE(1, WIRE_PARAMS_BAD, (rec(&m, PARAMS, 1, "\x80\0\0", 3, 0),
	    rec(&m, PARAMS, 1, NULL, 0, 0)));
	CASE(1, WIRE_PARAMS_BAD, (rec(&m, PARAMS, 1, "\1", 1, 0),
	    rec(&m, PARAMS, 1, NULL, 0, 0)));
#undef CASE
	buf_free(&m);
}

static void
test_incomplete_is_not_done(void)
{
	struct buf	 b = { 0 };
	struct wire	 w;
	size_t		 used;

	/* a header announcing 1000 bytes of params, and 10 of them */
	begin(&b, 1, 1, 0);
	rec(&b, PARAMS, 1, "\x0e\x03xxxxxxxx", 10, 0);
	b.p[8 + 8 + 4] = 0x03;
	b.p[8 + 8 + 5] = (char)0xe8;
	wire_init(&w, MAX_BODY);
	CHECK(wire_feed(&w, b.p, b.len, &used) == WIRE_OK && !wire_done(&w));
	wire_free(&w);
	buf_free(&b);
}

static void
test_keep_conn(void)
{
	struct buf	 b = { 0 }, p = { 0 };
	struct wire	 w;

	begin(&b, 300, 1, 1);
	params(&b, 300, &p, 100);
	rec(&b, STDIN, 300, NULL, 0, 0);
	wire_init(&w, MAX_BODY);
	CHECK(feed(&w, b.p, b.len, 5, NULL) == WIRE_OK && wire_done(&w));
	CHECK(w.keep_conn && w.id == 300);
	wire_free(&w);
	buf_free(&b);
	buf_free(&p);
}

static void
test_framing(void)
{
	struct buf	 out = { 0 };
	char		*big = malloc(70000);
	const uint8_t	*u;
	size_t		 at = 0, n = 0, got = 0, clen;
	int		 types[8], i;

	CHECK(big != NULL);
	if (big == NULL)
		return;
	memset(big, 'z', 70000);
	wire_stdout(&out, 513, "Status: 200 OK\r\n\r\n", 18);
	wire_stdout(&out, 513, big, 70000);
	wire_stdout(&out, 513, big, 0);		/* nothing */
	wire_end(&out, 513);
	CHECK(!out.oom);
	u = (const uint8_t *)out.p;
	while (at + 8 <= out.len && n < 8) {
		clen = (size_t)u[at + 4] << 8 | u[at + 5];
		CHECK(u[at] == 1 && u[at + 2] == 2 && u[at + 3] == 1);
		types[n++] = u[at + 1];
		if (u[at + 1] == STDOUT)
			got += clen;
		at += 8 + clen + u[at + 6];
	}
	CHECK(at == out.len && n == 5 && got == 18 + 70000);
	for (i = 0; i < 4; i++)
		CHECK(types[i] == STDOUT);
	CHECK(types[4] == END);
	CHECK(out.len >= 8 && u[out.len - 8 + 4] == 0);	/* REQUEST_COMPLETE */
	CHECK(u[8 + 18 + 4] == 0xff && u[8 + 18 + 5] == 0xff);
	buf_free(&out);
	free(big);
}

int
main(void)
{
	RUN(test_whole);
	RUN(test_every_split);
	RUN(test_body);
	RUN(test_body_without_length);
	RUN(test_discard_bound);
	RUN(test_params_limit);
	RUN(test_errors);
	RUN(test_incomplete_is_not_done);
	RUN(test_keep_conn);
	RUN(test_framing);
	return T_EXIT();
}
