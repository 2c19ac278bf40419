/*
 * api_int.h - what api.c gives the resources (storage.c, txn.c, sets.c,
 * idem.c); private to fcgi/api/. Error text is problem.h's.
 */
#ifndef API_INT_H
#define API_INT_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "api/api.h"
#include "json/json.h"
#include "json/jw.h"
#include "model/key.h"
#include "json/patch.h"
#include "lib/dec.h"
#include "lib/metrics.h"

/* A patch applied by the store inside its write transaction. */
struct api_patch_job {
	const struct patch	*p;
	const char		*principal;
	size_t			 max_value;
	struct patch_res	 res;
};

/*
 * Problems. Every use names a catalogue entry of problem.h, which expands
 * to status, code and message format, followed by the format's arguments.
 */
/* A problem chosen by a parser and rendered later. */
struct api_err {
	int		 status;
	const char	*code;		/* static */
	char		 message[400];
};
/* Fills e; returns -1 for the caller to pass on. */
int	api_err(struct api_err *e, int status, const char *code,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* The INVALID_KEY problem for a key that did not parse; returns -1. */
int	api_err_key(struct api_err *, enum key_err);
/* Answers e; returns -1. */
int	api_fail(struct http_resp *, const struct api_err *e);
/*
 * Opens the problem+json object of an answer (status, code, error and
 * message written) in w for extension members; api_problem_close() ends it.
 */
void	api_problem_err(struct jw *w, struct http_resp *,
	    const struct api_err *);
void	api_problem_open(struct jw *w, struct http_resp *, int status,
	    const char *code, const char *fmt, ...)
	    __attribute__((format(printf, 5, 6)));
void	api_problem_close(struct jw *w);
/*
 * Opens the QUOTA_EXCEEDED problem of op (STORE_QUOTA) in w, with the
 * members prefix, quota and used; 500 when the quota is not known.
 */
void	api_quota_open(const struct api_ctx *, struct jw *w,
	    struct http_resp *, const struct store_op *op);
/* Retry-After, in seconds, of a 503 for a database out of reach. */
#define API_RETRY_AFTER	"1"
/*
 * The store failed and nothing was written: 503 with Retry-After for
 * STORE_UNAVAILABLE, else 500 (logged); returns -1.
 */
int	api_internal(struct http_resp *, enum store_err);
/*
 * Ends a JSON answer that w wrote into resp's body; a body that is not
 * well formed becomes a logged 500.
 */
void	api_end(struct jw *w, struct http_resp *);
/*
 * Metrics: counts a conflict answer for key; counts op's failure when it
 * is one (409, 412). Called once a request, after its store call, never
 * from a renderer (which idempotency also runs inside the transaction).
 */
void	api_count_conflict(const struct api_ctx *, enum metrics_conflict,
	    const char *key, size_t klen);
void	api_count_failed(const struct api_ctx *, const char *key,
	    size_t klen, const struct store_op *);
/* "key", "value", "version", "updated_at", "updated_by", "exists": a key's
   state. */
void	api_state_members(struct jw *, const struct key *,
	    const struct store_meta *, const char *value, size_t vlen);
/* A timestamp member (or element, name NULL) as API.md 1 writes it. */
void	api_json_ts(struct jw *, const char *name, int64_t us);
/*
 * Answers a write whose op failed (412/409/404/428/507 ...); op_index >= 0
 * names the failing op of a transaction.
 */
void	api_write_failed(const struct api_ctx *, struct http_resp *,
	    const struct key *, const struct store_op *, long op_index);
/* Answers a write that succeeded ({"key","version","updated_at"}). */
void	api_write_ok(struct http_resp *, const struct http_req *,
	    const struct key *, const struct store_op *, long index);
/* The principal of the request (updated_by), or NULL. */
const char *api_principal(const struct api_ctx *);
/* Reads the header preconditions; -1 with resp set when malformed. */
int	api_parse_conds(const struct http_req *, struct store_cond *,
	    int forread, struct http_resp *);
/* The raw value of name in a query string; 1 when present. */
int	api_query_param(const char *q, const char *name, const char **v,
	    size_t *vn);
/*
 * ?name=N within [min, max] (max at most DEC_MAX) into *out, N as
 * dec_parse reads it; -1 with resp set to a 400 naming the range when
 * bad.
 */
int	api_query_uint(const char *query, const char *name, uint64_t min,
	    uint64_t max, uint64_t *out, struct http_resp *);
/* Content-Type application/json and a valid body; -1 with resp set. */
int	api_check_json_body(const struct api_ctx *, const struct http_req *,
	    struct http_resp *);
/*
 * Reads a PUT of key k: Content-Type, preconditions (with
 * require_preconditions) and {"value", "version"?, "updated_at"?}, the
 * value compacted into val; -1 with resp set.
 */
int	api_read_put(const struct api_ctx *, const struct http_req *,
	    struct http_resp *, const struct key *, struct store_cond *,
	    struct buf *val);
/*
 * The read envelope (API.md 3.1): {"key", "value", "version",
 * "updated_at", "created_at", "updated_by"}, for GET, create and a
 * transaction's get alike.
 */
void	api_envelope(struct jw *, const char *name, const char *key,
	    size_t klen, const struct store_meta *, const char *value,
	    size_t vlen);
/* ETag and Last-Modified of m. */
void	api_head_etag(struct http_resp *, const struct store_meta *);
/* 404 NOT_FOUND or DELETED for k, with the tombstone's state. */
void	api_not_found(struct http_resp *, const struct key *,
	    const struct store_meta *, enum store_err);
/* Checks the body's size and JSON (not its type); -1 with resp set. */
int	api_check_body(const struct api_ctx *, const struct http_req *,
	    struct http_resp *);
/* A member name made safe to quote in a message (see api.c). */
void	api_name_text(const char *name, size_t namelen, size_t namesz,
	    char *out, size_t outsz);

/*
 * Under conf enforce_locks, makes op refuse a write of a key that another
 * principal's session has locked (API.md 13.5), the holder into *holder,
 * which must last as long as op.
 */
void	api_lock_guard(const struct api_ctx *, struct store_op *,
	    struct store_presence *holder);
/* "holder": {"session", "by", "since", "expires_at"} of a lock. */
void	api_holder(struct jw *, const struct store_presence *);

/* store_update_fn applying an api_patch_job. */
int	api_patch_cb(void *arg, const char *cur, size_t curlen,
	    int64_t now_us, char **out, size_t *outlen);

#endif
