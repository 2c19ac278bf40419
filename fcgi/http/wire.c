/*
 * wire.c - FastCGI records of one responder request, and the answer's
 * framing; see wire.h. The record layout is the FastCGI 1.0
 * specification's: an 8-byte header (version, type, request id, content
 * length, padding length, reserved), the content, the padding.
 *
 * FCGI_KEEP_CONN is remembered (keep_conn); the connection layer keeps
 * such a connection for its next request, with a fresh parser.
 */
#include <string.h>

#include "http/wire.h"

#define FCGI_VERSION_1		1
#define FCGI_BEGIN_REQUEST	1
#define FCGI_END_REQUEST	3
#define FCGI_PARAMS		4
#define FCGI_STDIN		5
#define FCGI_STDOUT		6
#define FCGI_RESPONDER		1
#define FCGI_KEEP_CONN		1
#define FCGI_REQUEST_COMPLETE	0

enum {
	ST_BEGIN = 0,		/* waiting for BEGIN_REQUEST */
	ST_PARAMS,		/* PARAMS records until the empty one */
	ST_STDIN,		/* STDIN records until the empty one */
	ST_DONE,
	ST_FAILED,
};

void
wire_init(struct wire *w, size_t max_body)
{
	memset(w, 0, sizeof(*w));
	w->max_body = max_body;
}

void
wire_reset(struct wire *w)
{
	struct buf	 params = w->params, pairs = w->pairs, body = w->body;
	size_t		 max_body = w->max_body;

	buf_reset(&params);
	buf_reset(&pairs);
	buf_reset(&body);
	memset(w, 0, sizeof(*w));
	w->max_body = max_body;
	w->params = params;
	w->pairs = pairs;
	w->body = body;
}

void
wire_free(struct wire *w)
{
	if (w == NULL)
		return;
	buf_free(&w->params);
	buf_free(&w->pairs);
	buf_free(&w->body);
}

int
wire_done(const struct wire *w)
{
	return w->state == ST_DONE;
}

const char *
wire_strerror(enum wire_err e)
{
	switch (e) {
	case WIRE_OK:			return "ok";
	case WIRE_VERSION:		return "not FastCGI version 1";
	case WIRE_TYPE:			return "a record type a responder "
					    "does not take";
	case WIRE_REQUEST_ID:		return "a record of another request";
	case WIRE_ROLE:			return "a role other than responder";
	case WIRE_ORDER:		return "a record out of sequence";
	case WIRE_BEGIN_LEN:		return "a malformed BEGIN_REQUEST";
	case WIRE_PARAMS_TOO_LARGE:	return "params too large";
	case WIRE_PARAMS_BAD:		return "a param length past the params";
	case WIRE_DISCARD:		return "too much body to drop";
	case WIRE_NOMEM:		return "out of memory";
	}
	return "error";
}

/* A record header: checks it against the state before any content. */
static enum wire_err
rec_begin(struct wire *w)
{
	const uint8_t	*h = w->hdr;
	uint16_t	 id = (uint16_t)(h[2] << 8 | h[3]);

	w->type = h[1];
	w->rec_len = (size_t)h[4] << 8 | h[5];
	w->content_left = w->rec_len;
	w->pad_left = h[6];
	if (h[0] != FCGI_VERSION_1)
		return WIRE_VERSION;
	if (w->type != FCGI_BEGIN_REQUEST && w->type != FCGI_PARAMS &&
	    w->type != FCGI_STDIN)
		return WIRE_TYPE;
	if (id == 0)
		return WIRE_REQUEST_ID;
	switch (w->state) {
	case ST_BEGIN:
		if (w->type != FCGI_BEGIN_REQUEST)
			return WIRE_ORDER;
		if (w->rec_len != sizeof(w->begin))
			return WIRE_BEGIN_LEN;
		w->id = id;
		return WIRE_OK;
	case ST_PARAMS:
		if (id != w->id)
			return WIRE_REQUEST_ID;
		if (w->type != FCGI_PARAMS)
			return WIRE_ORDER;
		if (w->rec_len > WIRE_PARAMS_MAX - w->params.len)
			return WIRE_PARAMS_TOO_LARGE;
		return WIRE_OK;
	case ST_STDIN:
		if (id != w->id)
			return WIRE_REQUEST_ID;
		if (w->type != FCGI_STDIN)
			return WIRE_ORDER;
		return WIRE_OK;
	default:
		return WIRE_ORDER;
	}
}

/*
 * STDIN content: kept up to body_want, the rest counted and dropped. A
 * body without CONTENT_LENGTH that passes max_body is refused: what was
 * kept goes, and the rest is dropped.
 */
static enum wire_err
stdin_bytes(struct wire *w, const uint8_t *p, size_t n)
{
	uint64_t	 room = w->body_want - w->body.len;
	size_t		 keep;

	if (w->body_open && n > room) {
		w->discarded += w->body.len;
		buf_reset(&w->body);
		w->body_want = 0;
		w->body_open = 0;
		w->body_state = WIRE_BODY_TOO_LARGE;
		room = 0;
	}
	keep = n < room ? n : (size_t)room;

	if (keep > 0) {
		buf_add(&w->body, p, keep);
		if (w->body.oom)
			return WIRE_NOMEM;
	}
	w->discarded += n - keep;
	return w->discarded > WIRE_DISCARD_MAX ? WIRE_DISCARD : WIRE_OK;
}

static enum wire_err
rec_content(struct wire *w, const uint8_t *p, size_t n)
{
	switch (w->state) {
	case ST_BEGIN:
		memcpy(w->begin + w->begin_have, p, n);
		w->begin_have += n;
		return WIRE_OK;
	case ST_PARAMS:
		buf_add(&w->params, p, n);
		return w->params.oom ? WIRE_NOMEM : WIRE_OK;
	default:
		return stdin_bytes(w, p, n);
	}
}

/* A name-value length: one byte below 128, else four (31 bits). */
static int
nv_len(const uint8_t *p, size_t len, size_t *at, size_t *out)
{
	if (*at >= len)
		return -1;
	if (p[*at] < 0x80) {
		*out = p[(*at)++];
		return 0;
	}
	if (len - *at < 4)
		return -1;
	*out = (size_t)(p[*at] & 0x7f) << 24 | (size_t)p[*at + 1] << 16 |
	    (size_t)p[*at + 2] << 8 | p[*at + 3];
	*at += 4;
	return 0;
}

/*
 * The whole params stream is in: rewrites it in place into
 * "name\0value\0" strings (each pair's lengths take at least the two bytes
 * the NULs need, so the output never overtakes the input) and records the
 * pairs.
 */
static enum wire_err
parse_pairs(struct wire *w)
{
	uint8_t			*p = (uint8_t *)w->params.p;
	size_t			 len = w->params.len, r = 0, o = 0, nl, vl;
	struct wire_param	 pr;

	while (r < len) {
		if (nv_len(p, len, &r, &nl) == -1 ||
		    nv_len(p, len, &r, &vl) == -1 ||
		    nl > len - r || vl > len - r - nl)
			return WIRE_PARAMS_BAD;
		memmove(p + o, p + r, nl);
		p[o + nl] = '\0';
		memmove(p + o + nl + 1, p + r + nl, vl);
		p[o + nl + 1 + vl] = '\0';
		pr.name = (char *)p + o;
		pr.name_len = nl;
		pr.value = (char *)p + o + nl + 1;
		pr.value_len = vl;
		buf_add(&w->pairs, &pr, sizeof(pr));
		if (w->pairs.oom)
			return WIRE_NOMEM;
		w->npairs++;
		r += nl + vl;
		o += nl + vl + 2;
	}
	w->params.len = o;
	return WIRE_OK;
}

/* A strict decimal (at most 18 digits), as for any HTTP length. */
static int
decimal(const char *s, uint64_t *out)
{
	uint64_t	 v = 0;
	size_t		 i;

	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9' || i >= 18)
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return i > 0 ? 0 : -1;
}

/*
 * The params ended: how much of STDIN is the body. Without CONTENT_LENGTH
 * (or with an empty one, as nginx sends for no body) the body is all of
 * STDIN up to its empty record, at most max_body bytes: Apache's
 * mod_proxy_fcgi streams a chunked body so, with no length (RFC 3875
 * 4.1.2 would say no body; a front-end that has none sends no STDIN).
 */
static enum wire_err
params_end(struct wire *w)
{
	enum wire_err	 err;
	const char	*cl;

	if ((err = parse_pairs(w)) != WIRE_OK)
		return err;
	cl = wire_param(w, "CONTENT_LENGTH");
	if (cl == NULL || cl[0] == '\0') {
		w->body_want = w->max_body;
		w->body_open = 1;
	}
	else if (decimal(cl, &w->content_length) == -1)
		w->body_state = WIRE_BODY_BAD_LENGTH;
	else if (w->content_length > w->max_body)
		w->body_state = WIRE_BODY_TOO_LARGE;
	else
		w->body_want = w->content_length;
	return WIRE_OK;
}

/* A record's content and padding are in. */
static enum wire_err
rec_end(struct wire *w)
{
	switch (w->state) {
	case ST_BEGIN:
		if ((w->begin[0] << 8 | w->begin[1]) != FCGI_RESPONDER)
			return WIRE_ROLE;
		w->keep_conn = (w->begin[2] & FCGI_KEEP_CONN) != 0;
		w->state = ST_PARAMS;
		return WIRE_OK;
	case ST_PARAMS:
		if (w->rec_len == 0) {
			w->state = ST_STDIN;
			return params_end(w);
		}
		return WIRE_OK;
	default:
		if (w->rec_len == 0) {
			if (w->body_state == WIRE_BODY_OK &&
			    w->body.len < w->content_length)
				w->body_state = WIRE_BODY_SHORT;
			w->state = ST_DONE;
		}
		return WIRE_OK;
	}
}

static size_t
min_size(size_t a, size_t b)
{
	return a < b ? a : b;
}

enum wire_err
wire_feed(struct wire *w, const void *data, size_t n, size_t *used)
{
	const uint8_t	*p = data;
	size_t		 i = 0, k;
	enum wire_err	 err = WIRE_OK;

	if (w->state == ST_FAILED) {
		*used = 0;
		return w->err;
	}
	/* each turn consumes input or ends a record (which then needs input) */
	while (w->state != ST_DONE) {
		if (w->hdr_have < WIRE_HEADER_LEN) {
			if (i == n)
				break;
			k = min_size(WIRE_HEADER_LEN - w->hdr_have, n - i);
			memcpy(w->hdr + w->hdr_have, p + i, k);
			w->hdr_have += k;
			i += k;
			if (w->hdr_have == WIRE_HEADER_LEN &&
			    (err = rec_begin(w)) != WIRE_OK)
				goto out;
		} else if (w->content_left > 0) {
			if (i == n)
				break;
			k = min_size(w->content_left, n - i);
			if ((err = rec_content(w, p + i, k)) != WIRE_OK)
				goto out;
			w->content_left -= k;
			i += k;
		} else if (w->pad_left > 0) {
			if (i == n)
				break;
			k = min_size(w->pad_left, n - i);
			w->pad_left -= k;
			i += k;
		} else {
			if ((err = rec_end(w)) != WIRE_OK)
				goto out;
			w->hdr_have = 0;
		}
	}
out:
	*used = i;
	if (err != WIRE_OK) {
		w->state = ST_FAILED;
		w->err = err;
	}
	return err;
}

const struct wire_param *
wire_params(const struct wire *w, size_t *n)
{
	*n = w->npairs;
	return (const struct wire_param *)(void *)w->pairs.p;
}

const char *
wire_param(const struct wire *w, const char *name)
{
	const struct wire_param	*pr;
	size_t			 n, i, len = strlen(name);

	pr = wire_params(w, &n);
	for (i = 0; i < n; i++)
		if (pr[i].name_len == len && memcmp(pr[i].name, name, len) == 0)
			return pr[i].value;
	return NULL;
}

const char *
wire_body(const struct wire *w, size_t *len)
{
	*len = w->body.len;
	return w->body.len > 0 ? w->body.p : "";
}

enum wire_body
wire_body_state(const struct wire *w)
{
	return w->body_state;
}

static void
put_header(struct buf *out, uint8_t type, uint16_t id, size_t len)
{
	uint8_t	 h[WIRE_HEADER_LEN] = {
		FCGI_VERSION_1, type, (uint8_t)(id >> 8), (uint8_t)id,
		(uint8_t)(len >> 8), (uint8_t)len, 0, 0
	};

	buf_add(out, h, sizeof(h));
}

void
wire_stdout(struct buf *out, uint16_t id, const void *data, size_t n)
{
	const char	*p = data;
	size_t		 k;

	if (n == 0 || buf_reserve(out, n + (n / WIRE_RECORD_MAX + 1) *
	    WIRE_HEADER_LEN) == -1)
		return;
	while (n > 0) {
		k = min_size(n, WIRE_RECORD_MAX);
		put_header(out, FCGI_STDOUT, id, k);
		buf_add(out, p, k);
		p += k;
		n -= k;
	}
}

void
wire_end(struct buf *out, uint16_t id)
{
	static const uint8_t end[8] = { 0, 0, 0, 0, FCGI_REQUEST_COMPLETE };

	put_header(out, FCGI_STDOUT, id, 0);
	put_header(out, FCGI_END_REQUEST, id, sizeof(end));
	buf_add(out, end, sizeof(end));
}
