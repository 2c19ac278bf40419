/*
 * auth.h - who is asking and what they may touch (API.md 9): the bearer
 * token or nginx's REMOTE_USER, checked before anything but the public
 * routes, and the prefixes a token may read or write.
 */
#ifndef AUTH_H
#define AUTH_H

#include <stddef.h>

#include "api/api.h"

/* The longest Authorization header value looked at (a token is 43). */
#define AUTH_HEADER_MAX	512

/*
 * Fills who from the request's credentials under conf auth: 0, or -1 with
 * resp set to 401 UNAUTHORIZED and its WWW-Authenticate.
 */
int	auth_check(const struct api_ctx *, const struct http_req *,
	    struct http_resp *, struct api_who *who);
/*
 * 0 when who may use a route at all: the metrics route (metrics 1) needs
 * no token, a token for every key or a metrics token; any other route a
 * token that is not for metrics. Else -1 with resp set to 403 FORBIDDEN.
 */
int	auth_route(const struct api_who *, int metrics, struct http_resp *);
/* 1 when who may read (write 0) or write key[0..klen). */
int	auth_allows(const struct api_who *, const char *key, size_t klen,
	    int write);
/* 1 when who may read and write every key (a token rw *, or no token). */
int	auth_is_admin(const struct api_who *);
/*
 * The prefixes that a feed of the keys under want[0..wlen) may show who
 * (API.md 7, 9), in out[0..max): want itself when who may read every key
 * or one of who's prefixes covers want, else each of who's prefixes that
 * lies under want (pointers into who's token, or want). Returns their
 * number; 0 when want and who's prefixes are apart; -1 when there are
 * more than max.
 */
int	auth_feed_prefixes(const struct api_who *, const char *want,
	    size_t wlen, struct store_prefix *out, size_t max);
/*
 * 0 when who may read or write key[0..klen); else -1 with resp set to 403
 * FORBIDDEN, which names the principal and the key (and op_index >= 0,
 * the transaction op at fault).
 */
int	auth_need(const struct api_who *, struct http_resp *, const char *key,
	    size_t klen, int write, long op_index);
/*
 * The CORS headers of an answer (API.md 9): for a listed Origin, who may
 * read it and which headers; Vary: Origin whenever origins are listed.
 */
void	auth_cors(const struct api_ctx *, const struct http_req *,
	    struct http_resp *);
/*
 * 1 when req is a CORS preflight, which it then answers (204; the origin
 * is auth_cors()'s to add).
 */
int	auth_preflight(const struct api_ctx *, const struct http_req *,
	    struct http_resp *);

#endif
