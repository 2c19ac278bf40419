/*
 * http.c - the FastCGI side of a request: the params and body that wire.c
 * parsed in, the answer out as wire.c frames it.
 */
#include <string.h>

#include "http/http.h"
#include "http/wire.h"

const char *
http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 412: return "Precondition Failed";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Content";
	case 423: return "Locked";
	case 428: return "Precondition Required";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	case 507: return "Insufficient Storage";
	default:  return "Unknown";
	}
}

void
http_resp_reset(struct http_resp *r)
{
	r->status = 500;
	r->content_type = NULL;
	r->head_only = 0;
	r->park = 0;
	r->farewell = 0;
	r->stream = 0;
	r->park_until_ms = 0;
	r->cursor = 0;
	r->owner = NULL;
	buf_reset(&r->watch);
	buf_reset(&r->head);
	buf_reset(&r->body);
}

void
http_watch_add(struct buf *w, const char *p, size_t n)
{
	unsigned char	 len[2];

	len[0] = (unsigned char)(n >> 8);
	len[1] = (unsigned char)n;
	buf_add(w, len, 2);
	buf_add(w, p, n);
}

void
http_resp_free(struct http_resp *r)
{
	buf_free(&r->head);
	buf_free(&r->body);
	buf_free(&r->watch);
}

void
http_scratch_free(struct http_scratch *s)
{
	if (s == NULL)
		return;
	buf_free(&s->head);
	buf_free(&s->uri);
	http_resp_free(&s->resp);
}

static enum http_body_err
body_err(enum wire_body b)
{
	switch (b) {
	case WIRE_BODY_OK:		return HTTP_BODY_OK;
	case WIRE_BODY_TOO_LARGE:	return HTTP_BODY_TOO_LARGE;
	case WIRE_BODY_BAD_LENGTH:	return HTTP_BODY_BAD_LENGTH;
	case WIRE_BODY_SHORT:		return HTTP_BODY_SHORT;
	}
	return HTTP_BODY_BAD_LENGTH;
}

/* A byte RFC 3986 allows raw in a path: unreserved, sub-delims, ':', '@', '/'. */
static int
path_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c != '\0' &&
	    strchr("-._~!$&'()*+,;=:@/", c) != NULL);
}

/* s percent-encoded for a path onto out. */
static void
add_path(struct buf *out, const char *s)
{
	static const char	 hex[] = "0123456789ABCDEF";
	const unsigned char	*p = (const unsigned char *)s;
	char			 e[3] = { '%' };

	for (; *p != '\0'; p++) {
		if (path_char(*p)) {
			buf_add(out, p, 1);
			continue;
		}
		e[1] = hex[*p >> 4];
		e[2] = hex[*p & 15];
		buf_add(out, e, 3);
	}
}

/*
 * The request target: REQUEST_URI, else rebuilt (http.h); "" when out of
 * memory or nothing names it.
 */
static const char *
target(const struct wire *w, struct buf *uri)
{
	const char	*v;

	if ((v = wire_param(w, "REQUEST_URI")) != NULL)
		return v;
	buf_reset(uri);
	if ((v = wire_param(w, "SCRIPT_NAME")) != NULL)
		add_path(uri, v);
	if ((v = wire_param(w, "PATH_INFO")) != NULL)
		add_path(uri, v);
	if ((v = wire_param(w, "QUERY_STRING")) != NULL && *v != '\0') {
		buf_puts(uri, "?");
		buf_puts(uri, v);
	}
	buf_add(uri, "", 1);
	return uri->oom ? "" : uri->p;
}

/*
 * The CGI header lines, then the body, as STDOUT records; a stream's
 * first part without Content-Length and end, its later parts body only.
 */
static void
write_resp(const struct wire *w, struct http_scratch *s, int streaming,
    struct buf *out)
{
	struct http_resp	*r = &s->resp;
	struct buf		*o = &s->head;

	if (streaming || (r->stream && r->park)) {
		if (!streaming) {
			buf_reset(o);
			buf_printf(o, "Status: %d %s\r\nContent-Type: %s\r\n",
			    r->status, http_reason(r->status),
			    r->content_type != NULL ? r->content_type :
			    "application/octet-stream");
			buf_add(o, r->head.p, r->head.len);
			buf_puts(o, "\r\n");
			if (o->oom) {
				out->oom = 1;
				return;
			}
			wire_stdout(out, w->id, o->p, o->len);
		}
		if (r->body.len > 0)
			wire_stdout(out, w->id, r->body.p, r->body.len);
		if (r->body.oom)
			out->oom = 1;
		if (!r->park)
			wire_end(out, w->id);
		return;
	}
	if (r->park)
		return;		/* a long poll: nothing yet */
	buf_reset(o);
	buf_puts(o, "Status: ");
	buf_u64(o, (uint64_t)r->status);
	buf_puts(o, " ");
	buf_puts(o, http_reason(r->status));
	buf_puts(o, "\r\n");
	if (r->content_type != NULL) {
		buf_puts(o, "Content-Type: ");
		buf_puts(o, r->content_type);
		buf_puts(o, "\r\nContent-Length: ");
		buf_u64(o, r->body.len);
		buf_puts(o, "\r\n");
	}
	buf_add(o, r->head.p, r->head.len);
	buf_puts(o, "\r\n");
	if (o->oom || r->body.oom) {
		out->oom = 1;
		return;
	}
	wire_stdout(out, w->id, o->p, o->len);
	if (r->content_type != NULL && !r->head_only)
		wire_stdout(out, w->id, r->body.p, r->body.len);
	wire_end(out, w->id);
}

void
http_serve(const struct wire *w, http_handler handler, void *arg,
    struct http_scratch *s, struct http_park *pk, struct buf *out)
{
	struct http_req	 q;
	const char	*m;

	memset(&q, 0, sizeof(q));
	http_resp_reset(&s->resp);
	q.method = (m = wire_param(w, "REQUEST_METHOD")) != NULL ? m : "";
	q.uri = target(w, &s->uri);
	q.content_type = wire_param(w, "CONTENT_TYPE");
	q.if_match = wire_param(w, "HTTP_IF_MATCH");
	q.if_none_match = wire_param(w, "HTTP_IF_NONE_MATCH");
	q.if_modified_since = wire_param(w, "HTTP_IF_MODIFIED_SINCE");
	q.if_unmodified_since = wire_param(w, "HTTP_IF_UNMODIFIED_SINCE");
	q.prefer = wire_param(w, "HTTP_PREFER");
	q.idempotency_key = wire_param(w, "HTTP_IDEMPOTENCY_KEY");
	q.authorization = wire_param(w, "HTTP_AUTHORIZATION");
	/* nginx sends REMOTE_USER empty when nobody authenticated */
	if ((m = wire_param(w, "REMOTE_USER")) != NULL && *m != '\0')
		q.remote_user = m;
	q.origin = wire_param(w, "HTTP_ORIGIN");
	q.ac_request_method = wire_param(w,
	    "HTTP_ACCESS_CONTROL_REQUEST_METHOD");
	q.ac_request_headers = wire_param(w,
	    "HTTP_ACCESS_CONTROL_REQUEST_HEADERS");
	q.accept = wire_param(w, "HTTP_ACCEPT");
	q.last_event_id = wire_param(w, "HTTP_LAST_EVENT_ID");
	if (pk != NULL) {
		q.resumed = pk->resumed;
		q.timed_out = pk->timed_out;
		q.can_park = pk->can_park && !pk->ending;
		q.owner_full = pk->owner_full;
		q.streaming = pk->streaming;
		q.cursor = pk->cursor;
		q.park_until_ms = pk->until_ms;
		q.closed = pk->closed;
	}
	q.body_err = body_err(wire_body_state(w));
	q.body = wire_body(w, &q.body_len);
	q.can_wait = pk != NULL && !pk->ending && (q.can_park || q.streaming);
	handler(arg, &q, &s->resp);
	if (!q.can_wait)
		s->resp.park = 0;	/* it may not wait: it ends now */
	if (pk != NULL) {
		pk->park = s->resp.park;
		pk->farewell = s->resp.park && s->resp.farewell;
		pk->stream = s->resp.stream || q.streaming;
		pk->until_ms = s->resp.park_until_ms;
		pk->cursor = s->resp.cursor;
		if (pk->park && !q.resumed) {
			buf_reset(&pk->watch);
			buf_add(&pk->watch, s->resp.watch.p, s->resp.watch.len);
			if (pk->watch.oom)
				pk->park = 0;
			pk->owner[0] = '\0';
			if (s->resp.owner != NULL &&
			    strlen(s->resp.owner) <= HTTP_OWNER_MAX)
				strcpy(pk->owner, s->resp.owner);
		}
	}
	write_resp(w, s, q.streaming, out);
}
