/*
 * wire.h - the FastCGI record layer of a responder, without I/O: an
 * incremental parser for one request as nginx sends it, and the framing
 * of the answer.
 *
 * The parser takes bytes as they arrive, in pieces of any size, and
 * accepts exactly this sequence, all with one request id:
 *
 *   BEGIN_REQUEST (role RESPONDER)
 *   PARAMS ...  the empty PARAMS record
 *   STDIN ...   the empty STDIN record        -> the request is complete
 *
 * Anything else before the request is complete (another request id, a
 * management record such as GET_VALUES, ABORT_REQUEST, DATA, an unknown
 * type, a bad version, a second BEGIN_REQUEST, ...) is an error, and the
 * caller closes the connection. Every record length is checked against
 * what the state allows before a byte of its content is kept.
 *
 * Memory is bounded by the input: the params stream may hold at most
 * WIRE_PARAMS_MAX bytes; the body keeps at most min(CONTENT_LENGTH,
 * max_body) bytes, or, without CONTENT_LENGTH, STDIN up to its end record
 * if that is at most max_body bytes (else the body is TOO_LARGE); STDIN
 * bytes not kept (past CONTENT_LENGTH, or all of them when the body is
 * refused) are counted and dropped, and past WIRE_DISCARD_MAX of them the
 * request is an error.
 */
#ifndef WIRE_H
#define WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

#define WIRE_PARAMS_MAX		(64 * 1024)	/* the whole params stream */
#define WIRE_DISCARD_MAX	((uint64_t)64 << 20)	/* STDIN bytes dropped */
#define WIRE_RECORD_MAX		65535		/* content of one record */
#define WIRE_HEADER_LEN		8

enum wire_err {
	WIRE_OK = 0,
	WIRE_VERSION,		/* a record's version is not 1 */
	WIRE_TYPE,		/* a type a responder does not take here */
	WIRE_REQUEST_ID,	/* id 0 (management) or not the request's */
	WIRE_ROLE,		/* BEGIN_REQUEST for a role but RESPONDER */
	WIRE_ORDER,		/* a record out of sequence (a second BEGIN,
				   STDIN before the params ended, ...) */
	WIRE_BEGIN_LEN,		/* BEGIN_REQUEST content is not 8 bytes */
	WIRE_PARAMS_TOO_LARGE,	/* the params stream passes WIRE_PARAMS_MAX */
	WIRE_PARAMS_BAD,	/* a name-value length runs past the stream */
	WIRE_DISCARD,		/* more than WIRE_DISCARD_MAX bytes dropped */
	WIRE_NOMEM,
};

/* The body as the handler should see it. */
enum wire_body {
	WIRE_BODY_OK = 0,
	WIRE_BODY_TOO_LARGE,	/* CONTENT_LENGTH, or STDIN without one, over
				   max_body: none kept */
	WIRE_BODY_BAD_LENGTH,	/* CONTENT_LENGTH is not a decimal: none kept */
	WIRE_BODY_SHORT,	/* STDIN ended before CONTENT_LENGTH bytes */
};

/* One param: both NUL-terminated, within the parser's memory. */
struct wire_param {
	const char	*name;
	size_t		 name_len;
	const char	*value;
	size_t		 value_len;
};

struct wire {
	/* set by wire_init */
	size_t		 max_body;
	/* record being read */
	int		 state;		/* enum in wire.c */
	enum wire_err	 err;		/* once failed, stays failed */
	uint8_t		 hdr[WIRE_HEADER_LEN];
	size_t		 hdr_have;
	uint8_t		 type;
	size_t		 rec_len;	/* content length of the record */
	size_t		 content_left;	/* of the current record */
	size_t		 pad_left;
	uint8_t		 begin[8];	/* BEGIN_REQUEST's body */
	size_t		 begin_have;
	/* the request */
	uint16_t	 id;
	int		 keep_conn;	/* FCGI_KEEP_CONN was set */
	struct buf	 params;	/* the stream, then the pairs' strings */
	struct buf	 pairs;		/* struct wire_param[npairs] */
	size_t		 npairs;
	struct buf	 body;		/* the kept STDIN bytes */
	uint64_t	 body_want;	/* bytes to keep */
	uint64_t	 content_length;
	int		 body_open;	/* no CONTENT_LENGTH: STDIN to its end */
	enum wire_body	 body_state;
	uint64_t	 discarded;
};

/* An empty parser; max_body bounds the body it keeps. */
void		 wire_init(struct wire *, size_t max_body);
/* Ready for a new request; keeps the memory. */
void		 wire_reset(struct wire *);
void		 wire_free(struct wire *);	/* NULL-safe */
/*
 * Consumes bytes of p[0..n) and sets *used to how many. Stops at the end
 * of the request (then *used may be < n: what follows is not read). An
 * error is final: the connection is to be closed.
 */
enum wire_err	 wire_feed(struct wire *, const void *p, size_t n,
		    size_t *used);
/* 1 once the empty STDIN record has been read. */
int		 wire_done(const struct wire *);
const char	*wire_strerror(enum wire_err);

/* After wire_done: the params, one by name (first wins; NULL if absent). */
const struct wire_param *wire_params(const struct wire *, size_t *n);
const char	*wire_param(const struct wire *, const char *name);
/* After wire_done: the body (NUL-terminated) and its state. */
const char	*wire_body(const struct wire *, size_t *len);
enum wire_body	 wire_body_state(const struct wire *);

/*
 * Response framing: appends to out the STDOUT records carrying p[0..n)
 * (each at most WIRE_RECORD_MAX bytes), then, with wire_end, the empty
 * STDOUT record and END_REQUEST (REQUEST_COMPLETE, status 0). Memory
 * failures set out->oom, as every buf append does.
 */
void		 wire_stdout(struct buf *out, uint16_t id, const void *p,
		    size_t n);
void		 wire_end(struct buf *out, uint16_t id);

#endif
