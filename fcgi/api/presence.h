/* presence.h - /api/presence/: presence and soft locks (API.md 13). */
#ifndef PRESENCE_H
#define PRESENCE_H

#include "api/api.h"

void	presence_handle(const struct api_ctx *, const struct http_req *,
	    struct http_resp *, const struct api_call *);
/*
 * A session's members ({"session", "by", "state", "since", "expires_at",
 * "lock"}, with "key" when with_key) into the open object of w.
 */
void	presence_members(struct jw *, const struct store_presence *,
	    int with_key);

#endif
