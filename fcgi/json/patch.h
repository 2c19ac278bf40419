/*
 * patch.h - changes computed on the server from the current value: RFC
 * 7396 merge patch, RFC 6902 JSON patch, and append to an array (API.md
 * 3.4, 3.5), on jtree.h's documents.
 *
 * A patch is parsed and checked before any transaction (a malformed one
 * is PATCH_INVALID) and applied to the current value inside the store's
 * write transaction (a failed test, a missing path or a non-array to
 * append to is PATCH_CONFLICT). Strings and numbers keep the exact text
 * they were sent with, so patching one member never rewrites another, and
 * names compare by their decoded bytes ("\u0000" included). A value that
 * would grow past max_value stops growing there: PATCH_TOO_LARGE.
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
	PATCH_TOO_LARGE,	/* the result would pass max_value */
};

#define PATCH_OPS_MAX	128	/* operations in one JSON patch */

struct patch;

/*
 * Parsing takes JSON text that json_check() passed and copies what it
 * keeps: the text need not outlive the patch.
 */
/* Parses a merge patch: any JSON text. */
enum patch_err	patch_merge(const char *text, size_t n, struct patch **out);
/* Parses a JSON patch: an array of 0 to PATCH_OPS_MAX operations. */
enum patch_err	patch_json(const char *text, size_t n, struct patch **out);
/*
 * An append of the JSON value text[0..n) to the array at the JSON pointer
 * pointer[0..plen) ("" for the value itself). With stamp, value must be
 * an object; its "at" and "by" are set when applied.
 */
enum patch_err	patch_append(const char *pointer, size_t plen,
		    const char *text, size_t n, int stamp, struct patch **out);
void		patch_free(struct patch *);	/* NULL-safe */

/* What the server adds when it applies a patch. */
struct patch_ctx {
	const char	*at;		/* the write's time, RFC 3339: "at" */
	const char	*principal;	/* its "by"; NULL: null */
	size_t		 max_value;	/* the longest result, in bytes */
};

/* What an apply tells besides the value. */
struct patch_res {
	long	 index;		/* an append's new element */
	long	 op;		/* a JSON patch's operation that failed, or -1 */
};

/*
 * Applies p to the JSON value cur[0..n) (compact text). On PATCH_OK *out
 * is the new value (compact JSON, malloc'ed, NUL-terminated, the caller
 * frees it) of length *outlen.
 */
enum patch_err	patch_apply(const struct patch *p, const char *cur, size_t n,
		    const struct patch_ctx *ctx, char **out, size_t *outlen,
		    struct patch_res *res);

/*
 * Describes operation i of a JSON patch for a person ("test /a/b"), in
 * printable ASCII, cut to fit out[0..outsz).
 */
void		patch_op_describe(const struct patch *, size_t i, char *out,
		    size_t outsz);

/*
 * Checks an RFC 6901 JSON pointer's syntax ("" or "/..." with ~0 ~1), of
 * at most JSON_MAX_DEPTH tokens.
 */
int		patch_pointer_valid(const char *s, size_t n);

#endif
