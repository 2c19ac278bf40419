/*
 * patch.h - changes computed on the server from the current value: RFC
 * 7396 merge patch, RFC 6902 JSON patch, and append to an array (API.md
 * 3.4, 3.5). The only module that uses cJSON.
 *
 * A patch is parsed and checked before any transaction (a malformed one
 * is PATCH_INVALID) and applied to the current value inside the store's
 * write transaction (a failed test, a missing path or a non-array to
 * append to is PATCH_CONFLICT). Numbers keep the exact text they were
 * sent with: values pass through cJSON with every number held as raw
 * text, so patching one member never rewrites the digits of another.
 */
#ifndef PATCH_H
#define PATCH_H

#include <stddef.h>
#include <stdint.h>

enum patch_err {
	PATCH_OK = 0,
	PATCH_INVALID,		/* the patch document is malformed */
	PATCH_CONFLICT,		/* it cannot apply to the current value */
	PATCH_TOO_DEEP,		/* the result would nest deeper than allowed */
	PATCH_NOMEM,
};

#define PATCH_OPS_MAX	128	/* operations in one JSON patch */

struct patch;

/* Parses a merge patch: any JSON text (already checked by json_check). */
enum patch_err	patch_merge(const char *text, size_t n, struct patch **out);
/* Parses a JSON patch: an array of 0 to PATCH_OPS_MAX operations. */
enum patch_err	patch_json(const char *text, size_t n, struct patch **out);
/*
 * An append of the JSON value text[0..n) to the array at pointer ("" for
 * the value itself). With stamp, value must be an object; its "at" and
 * "by" are set when applied.
 */
enum patch_err	patch_append(const char *pointer, const char *text, size_t n,
		    int stamp, struct patch **out);
void		patch_free(struct patch *);	/* NULL-safe */

/* What the server adds when it applies a patch. */
struct patch_ctx {
	int64_t		 now_us;	/* the write's time: an append's "at" */
	const char	*principal;	/* its "by"; NULL: null */
};

/*
 * Applies p to the JSON value cur[0..n). On PATCH_OK *out is the new value
 * (compact JSON, malloc'ed, NUL-terminated, the caller frees it) of
 * length *outlen, and for an append *index is the new element's index.
 */
enum patch_err	patch_apply(const struct patch *p, const char *cur, size_t n,
		    const struct patch_ctx *ctx, char **out, size_t *outlen,
		    long *index);

/*
 * Parses valid JSON text into a cJSON tree whose numbers are raw nodes
 * holding their exact text (for act.c); NULL when out of memory.
 */
struct cJSON;
struct cJSON	*patch_parse_exact(const char *text, size_t n);

/* Checks an RFC 6901 JSON pointer's syntax ("" or "/..." with ~0 ~1). */
int		patch_pointer_valid(const char *s, size_t n);

#endif
