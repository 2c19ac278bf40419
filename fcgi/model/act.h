/*
 * act.h - activity sets (API.md 6): a set S of items, each an object with
 * an "id" (a string or an integer), kept in buckets _act/S/0 .. B-1 under
 * a manifest _act/S/manifest. An item lives in bucket fnv1a64(id) mod B,
 * where a string id hashes as its UTF-8 bytes and an integer as its
 * decimal text (ids compare by those bytes, "\u0000" included). A bucket
 * that would hold more than max_items doubles B, as often as needed and
 * up to max_buckets, in the write that filled it. Everything here runs
 * inside one store transaction (store_io), in time linear in the items
 * of the request and of the buckets it touches: items are never parsed
 * into trees, only kept as their compact text with their id.
 */
#ifndef ACT_H
#define ACT_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "lib/buf.h"
#include "json/jw.h"

enum act_err {
	ACT_OK = 0,
	ACT_INVALID,		/* a malformed request: 400 */
	ACT_PRECOND,		/* If-Match on the set ETag failed: 412 */
	ACT_NOT_FOUND,		/* no such set: 404 */
	ACT_BAD_SET,		/* a write that breaks the set: 422 */
	ACT_CORRUPT,		/* the stored set is inconsistent: 500 */
	ACT_NOMEM,
	ACT_STORE,		/* the store failed (its error says how) */
	ACT_TOO_LARGE,		/* a bucket would pass max_value: 413 */
};

#define ACT_NAME_MAX	200	/* bytes of a set's name */

/* The bounds a write keeps to (conf). */
struct act_limits {
	size_t		 max_items;	/* bucket_max_items */
	size_t		 max_buckets;	/* bucket_count_max */
	size_t		 max_value;	/* the longest bucket text */
};

/* 1 when name[0..n) can name a set: one key segment (API.md 2). */
int		act_name_valid(const char *name, size_t n);
/* 1 when key[0..n) is under _act/, where sets keep their keys. */
int		act_is_key(const char *key, size_t n);
/*
 * Writes the prefix of every key of set name[0..n), "_act/S/", into out
 * (NUL-terminated, cut to outsz); returns its length.
 */
size_t		act_set_prefix(char *out, size_t outsz, const char *name,
		    size_t n);
/*
 * Writes set name[0..n)'s manifest key, "_act/S/manifest", into out
 * (NUL-terminated, cut to outsz); returns its length.
 */
size_t		act_manifest_key(char *out, size_t outsz, const char *name,
		    size_t n);

/* POST /api/activities/{S}: {"upsert": [items], "delete": [ids]}. */
struct act_post;
enum act_err	act_post_parse(const char *body, size_t n, struct act_post **);
void		act_post_free(struct act_post *);	/* NULL-safe */

struct act_result {
	uint64_t	etag;		/* the set ETag after the write */
	size_t		upserted;
	size_t		deleted;
	size_t		bucket_count;
};

/*
 * Applies p to set name[0..n) (creating it on first use). With if_match,
 * the set's ETag must be *if_match. Writes nothing unless ACT_OK.
 */
enum act_err	act_post_apply(store_io *, const char *name, size_t n,
		    const struct act_post *p, const struct act_limits *,
		    const uint64_t *if_match, struct act_result *res);

/*
 * Checks a PUT of one of a set's keys (_act/S/manifest or _act/S/i) made
 * through the storage API, and writes it (splitting the set when a bucket
 * is over max_items). *meta is the key's state after the write.
 */
enum act_err	act_put_key(store_io *, const char *key, size_t klen,
		    const char *value, size_t vlen, const struct act_limits *,
		    struct store_meta *meta);

/*
 * Writes the body of GET /api/activities/{S} (bucket -1: all buckets) into
 * w from one snapshot, copying each bucket's items once; *etag the set's
 * ETag.
 */
enum act_err	act_get(store_io *, const char *name, size_t n, long bucket,
		    struct jw *w, uint64_t *etag);

#endif
