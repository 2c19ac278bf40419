/*
 * http.h - one request and its response, as the handlers see them. The
 * FastCGI side (the request from the parsed records, the answer framed
 * into records) is http.c; the handler it is handed never sees FastCGI.
 */
#ifndef HTTP_H
#define HTTP_H

#include <stddef.h>

#include "lib/buf.h"

enum http_body_err {
	HTTP_BODY_OK = 0,
	HTTP_BODY_TOO_LARGE,	/* over max_body */
	HTTP_BODY_BAD_LENGTH,	/* CONTENT_LENGTH is not a decimal */
	HTTP_BODY_SHORT,	/* fewer bytes than CONTENT_LENGTH said */
};

struct http_req {
	const char		*method;	/* never NULL */
	const char		*uri;		/* REQUEST_URI, never NULL
						   (without it, rebuilt:
						   http_serve) */
	const char		*content_type;	/* NULL when absent */
	const char		*if_match;
	const char		*if_none_match;
	const char		*if_modified_since;
	const char		*if_unmodified_since;
	const char		*prefer;
	const char		*idempotency_key;
	const char		*authorization;
	const char		*remote_user;	/* NULL when absent or empty */
	const char		*origin;
	const char		*ac_request_method;	/* preflight */
	const char		*ac_request_headers;
	const char		*accept;
	const char		*last_event_id;
	const char		*body;		/* body_len bytes + NUL */
	size_t			 body_len;
	enum http_body_err	 body_err;
	/* a watcher's request run again (struct http_park) */
	int			 resumed;	/* it waited, and runs again */
	int			 timed_out;	/* ... because its time came */
	int			 can_park;	/* there is room for it to wait */
	int			 owner_full;	/* ... not: its owner has its share */
	int			 streaming;	/* its head went out already */
	int			 can_wait;	/* a park it asks for is kept:
						   can_park or streaming, and
						   the worker goes on */
	uint64_t		 cursor;	/* what it had seen, as resp set */
	int64_t			 park_until_ms;	/* ... and when it was to wake */
	int			 closed;	/* its peer closed while it waited
						   (it asked: farewell): nothing
						   is sent */
};

struct http_resp {
	int		 status;
	const char	*content_type;	/* NULL: no body */
	struct buf	 head;		/* extra header lines, each CRLF-ended */
	struct buf	 body;
	int		 head_only;	/* HEAD: headers as for GET, no body */
	/*
	 * A watcher: instead of ending, the request waits, to run again
	 * when http_wake() says something happened or at park_until_ms.
	 * park 1 answers nothing yet (a long poll); stream 1 sends the
	 * head and body now and keeps the answer open (each later run
	 * sends body only). cursor is kept for the next run.
	 */
	int		 park;
	int		 stream;
	int64_t		 park_until_ms;	/* CLOCK_MONOTONIC */
	uint64_t	 cursor;
	struct buf	 watch;		/* the key prefixes it waits on:
					   http_watch_add(); none: all */
	const char	*owner;		/* whose it is (NULL: nobody's); at
					   most HTTP_OWNER_MAX bytes */
	int		 farewell;	/* park: when its peer closes first,
					   run it once more, closed 1 */
};

/* Per-thread memory reused from request to request. */
struct http_scratch {
	struct buf	 head;		/* the response's CGI headers */
	struct buf	 uri;		/* a target rebuilt without REQUEST_URI */
	struct http_resp resp;
};

struct wire;

/* A handler: answers req into resp, which the caller has reset. */
typedef void	(*http_handler)(void *arg, const struct http_req *req,
		    struct http_resp *resp);

/*
 * What the connection keeps of a request that waits (a watcher) between
 * its runs; opaque to http but for these fields.
 */
#define HTTP_OWNER_MAX	255

struct http_park {
	/* in */
	int		 resumed;
	int		 timed_out;
	int		 can_park;
	int		 owner_full;
	int		 streaming;
	int		 ending;	/* the worker stops: end, do not wait */
	int		 closed;	/* its peer closed (it asked farewell) */
	uint64_t	 cursor;
	/* out */
	int		 park;		/* wait: keep the connection */
	int		 stream;	/* what went out leaves it open */
	int		 farewell;	/* resp's: run it when its peer closes */
	int64_t		 until_ms;
	struct buf	 watch;		/* resp's, kept (the caller frees) */
	char		 owner[HTTP_OWNER_MAX + 1];	/* resp's; "": none */
};

/*
 * Answers one complete request (wire_done) through handler: appends the
 * answer, framed in FastCGI records, to out. The request's uri is
 * REQUEST_URI; where a front-end sends none (cgi-fcgi, ...), it is
 * SCRIPT_NAME and PATH_INFO, which the front-end has percent-decoded,
 * encoded again (every byte but those RFC 3986 allows raw in a path, '%'
 * included, as %XX), and '?' QUERY_STRING when that is not empty. Its
 * bytes are bounded by the params' (WIRE_PARAMS_MAX), three times over.
 *
 * With pk (NULL: the request
 * cannot wait), a handler may make it wait: pk says so, and what out
 * holds then is a stream's part (no end record), or nothing.
 */
void		 http_serve(const struct wire *, http_handler handler,
		    void *arg, struct http_scratch *, struct http_park *pk,
		    struct buf *out);
/* Frees a scratch's memory; NULL-safe. */
void		 http_scratch_free(struct http_scratch *);
const char	*http_reason(int status);
void		 http_resp_reset(struct http_resp *);
/*
 * Adds a key prefix, p[0..n) (n < 65536), to a watch list (http_resp's
 * watch): each as two bytes of length, big-endian, then its bytes.
 */
void		 http_watch_add(struct buf *, const char *p, size_t n);
void		 http_resp_free(struct http_resp *);

#endif
