/*
 * merge3.h - the three-way merge of a stale write (API.md 4.1), on
 * jtree.h's documents: what changed from the base to yours is applied to
 * the current value, where the current value did not change it too.
 *
 * Each path takes the side that changed it (added, changed or removed).
 * A path changed on both sides to equal results is fine; changed to
 * different results, it is a conflict, unless the base and both sides
 * hold objects there (their members merge, one by one) or id-arrays
 * (their items merge by id). A path and one inside it count as the same
 * path: one side removing /a while the other changes /a/b is a conflict
 * at /a.
 *
 * Equal values have the same compact text, but for the order of the
 * members of objects (names compared by their decoded bytes): numbers and
 * strings compare by their exact text, and every one is kept as it was
 * sent ("1.50", "\u0000").
 *
 * Arrays are whole values, except id-arrays: in the base, in yours and in
 * the current value alike, every element an object whose "id" is a
 * number or a string, and no two elements of one array with the same id.
 * An id is a number's text or a string's decoded bytes, so 7 and "7" are
 * the same id, and every item has a pointer of its own: /l/id=7.
 *
 * The result's order: the current members in the current order, then the
 * members only yours added, in your order; in an id-array, the current
 * items that stay, in the current order, then the items only yours added,
 * in your order. An item removed on one side and unchanged on the other is
 * removed; removed on one side and changed on the other, it conflicts.
 */
#ifndef MERGE3_H
#define MERGE3_H

#include <stddef.h>

enum merge3_err {
	MERGE3_OK = 0,
	MERGE3_CONFLICT,	/* paths changed on both sides: see the list */
	MERGE3_WHOLE,		/* the whole value changed on both sides */
	MERGE3_TOO_LARGE,	/* the result would pass max_value */
	MERGE3_TOO_DEEP,	/* it would nest deeper than a stored value */
	MERGE3_NOMEM,
};

#define MERGE3_CONFLICTS_MAX	64		/* pointers kept */
#define MERGE3_CONFLICTS_BYTES	((size_t)64 << 10)	/* their bytes */

/*
 * The paths in conflict, as RFC 6901 JSON Pointers ("~0" "~1"), in the
 * order they were found: at most MERGE3_CONFLICTS_MAX of them, of at most
 * MERGE3_CONFLICTS_BYTES together (one that does not fit is counted, not
 * kept). Each is malloc'ed and NUL-terminated, but a member name may hold
 * NULs: len tells its length.
 */
struct merge3_conflicts {
	char	*ptr[MERGE3_CONFLICTS_MAX];
	size_t	 len[MERGE3_CONFLICTS_MAX];
	size_t	 n;		/* pointers kept */
	size_t	 total;		/* paths in conflict: more than n when no room */
};

/*
 * Merges base[0..bn) -> yours[0..yn) into cur[0..cn): compact JSON texts
 * that json_check() passed (the stored values: base is the version the
 * client read, cur the key's current value, yours what it writes now).
 *
 * MERGE3_OK: *out is the merged value (compact JSON, malloc'ed,
 * NUL-terminated, the caller frees it), *outlen bytes, at most max_value.
 * MERGE3_CONFLICT: *c lists the paths; the caller frees them with
 * merge3_conflicts_free(). Any other answer leaves *c empty and *out NULL.
 * MERGE3_WHOLE: the whole value conflicts (both sides replaced it, or one
 * of them holds no object where the other's members changed): there is
 * nothing to merge. A result that would be both in conflict and too large
 * is MERGE3_CONFLICT.
 */
enum merge3_err	merge3(const char *base, size_t bn, const char *yours,
		    size_t yn, const char *cur, size_t cn, size_t max_value,
		    char **out, size_t *outlen, struct merge3_conflicts *c);

/* Frees the pointers of c and empties it (an empty one is fine). */
void		merge3_conflicts_free(struct merge3_conflicts *c);

#endif
