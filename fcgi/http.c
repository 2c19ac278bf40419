/*
 * http.c - the FastCGI side of a request: params and body in, the answer
 * out. The only file besides pool.c that touches libfcgi.
 */
#include <string.h>

#include <fcgiapp.h>

#include "api.h"
#include "hdr.h"
#include "http.h"
#include "log.h"

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
	case 428: return "Precondition Required";
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
	buf_reset(&r->head);
	buf_reset(&r->body);
}

void
http_resp_free(struct http_resp *r)
{
	buf_free(&r->head);
	buf_free(&r->body);
}

void
http_scratch_free(struct http_scratch *s)
{
	if (s == NULL)
		return;
	buf_free(&s->in);
	buf_free(&s->out);
	http_resp_free(&s->resp);
}

static const char *
param(FCGX_Request *fr, const char *name)
{
	return FCGX_GetParam(name, fr->envp);
}

/*
 * Reads the body into s->in: exactly CONTENT_LENGTH bytes, never more than
 * max_body. Without CONTENT_LENGTH there is no body (RFC 3875 4.1.2);
 * nginx sets it for chunked requests once it has buffered the body.
 */
static enum http_body_err
read_body(FCGX_Request *fr, struct http_scratch *s, size_t max_body)
{
	const char	*cl = param(fr, "CONTENT_LENGTH");
	uint64_t	 want = 0;
	size_t		 chunk;
	int		 n;

	buf_reset(&s->in);
	if (cl == NULL || cl[0] == '\0')
		return HTTP_BODY_OK;
	if (hdr_uint(cl, &want) != HDR_OK)
		return HTTP_BODY_BAD_LENGTH;
	if (want > max_body)
		return HTTP_BODY_TOO_LARGE;
	while (s->in.len < want) {
		chunk = want - s->in.len;
		if (chunk > 65536)
			chunk = 65536;
		if (buf_reserve(&s->in, chunk) == -1)
			return HTTP_BODY_TOO_LARGE;
		n = FCGX_GetStr(s->in.p + s->in.len, (int)chunk, fr->in);
		if (n <= 0)
			break;
		s->in.len += (size_t)n;
	}
	if (s->in.cap > 0)
		s->in.p[s->in.len] = '\0';
	return s->in.len == want ? HTTP_BODY_OK : HTTP_BODY_SHORT;
}

/* Reads and drops what is left of the body, within a bound. */
static void
drain(FCGX_Request *fr, struct http_scratch *s)
{
	size_t	 total = 0;
	int	 n;

	while (total < ((size_t)64 << 20) &&
	    (n = FCGX_GetStr(s->tmp, sizeof(s->tmp), fr->in)) > 0)
		total += (size_t)n;
}

static void
write_resp(FCGX_Request *fr, struct http_scratch *s)
{
	struct http_resp	*r = &s->resp;
	struct buf		*o = &s->out;

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
	if (o->oom) {
		log_error("out of memory writing a response");
		return;
	}
	/* the body goes out from where it was built, not copied again */
	if (FCGX_PutStr(o->p, (int)o->len, fr->out) != (int)o->len ||
	    (r->content_type != NULL && !r->head_only && r->body.len > 0 &&
	    FCGX_PutStr(r->body.p, (int)r->body.len, fr->out) !=
	    (int)r->body.len))
		log_debug("client went away");
}

void
http_serve(FCGX_Request *fr, const struct api_ctx *ctx,
    struct http_scratch *s)
{
	struct http_req	 q;
	const char	*m;

	memset(&q, 0, sizeof(q));
	http_resp_reset(&s->resp);
	q.method = (m = param(fr, "REQUEST_METHOD")) != NULL ? m : "";
	q.uri = (m = param(fr, "REQUEST_URI")) != NULL ? m : "";
	q.content_type = param(fr, "CONTENT_TYPE");
	q.if_match = param(fr, "HTTP_IF_MATCH");
	q.if_none_match = param(fr, "HTTP_IF_NONE_MATCH");
	q.if_modified_since = param(fr, "HTTP_IF_MODIFIED_SINCE");
	q.if_unmodified_since = param(fr, "HTTP_IF_UNMODIFIED_SINCE");
	q.prefer = param(fr, "HTTP_PREFER");
	q.idempotency_key = param(fr, "HTTP_IDEMPOTENCY_KEY");
	q.body_err = read_body(fr, s, ctx->conf->max_body);
	q.body = s->in.len > 0 ? s->in.p : "";
	q.body_len = s->in.len;
	api_handle(ctx, &q, &s->resp);
	drain(fr, s);
	write_resp(fr, s);
}
