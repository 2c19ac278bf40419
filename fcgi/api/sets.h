/* sets.h - the HTTP side of activity sets (API.md 6). */
#ifndef SETS_H
#define SETS_H

#include <stddef.h>

#include "model/act.h"
#include "api/api.h"
#include "model/key.h"

/* GET, HEAD or POST /api/activities/{S}: S is the call's rest. */
void	sets_handle(const struct api_ctx *, const struct http_req *,
	    struct http_resp *, const struct api_call *);
/* A PUT of one of a set's keys through the storage API, checked. */
void	sets_put_key(const struct api_ctx *, const struct http_req *,
	    struct http_resp *, const struct key *);
/* The problem+json answer to an activity error. */
void	sets_failed(struct http_resp *, enum act_err);

#endif
