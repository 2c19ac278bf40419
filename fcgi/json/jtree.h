/*
 * jtree.h - a JSON document as the server changes it (merge patch, JSON
 * patch, append, API.md 3.4 and 3.5).
 *
 * Every string and number stays the exact text it was sent as ("\u0000"
 * included), the parts of a document that no change reaches stay
 * unparsed text, and the length the document has as compact text is known
 * after every change: a change that would make it longer than the tree's
 * max_size fails with JTREE_TOO_LARGE before it allocates anything. The
 * memory a tree may take is bounded too (max_mem), so no request can make
 * a worker grow without bound.
 *
 * Ownership: a tree owns every node and every byte it hands out; all of
 * it is freed by jtree_free(). A node made by jtree_parse(), jtree_copy()
 * or a jtree_new_*() call is "free" until it is attached to a parent, and
 * may be attached once. Text given to jtree_wrap() must outlive the tree.
 */
#ifndef JTREE_H
#define JTREE_H

#include <stddef.h>
#include <stdint.h>

enum jtree_err {
	JTREE_OK = 0,
	JTREE_NOMEM,
	JTREE_TOO_LARGE,	/* past max_size, or past max_mem */
};

enum jtree_type {
	JTREE_NULL,
	JTREE_FALSE,
	JTREE_TRUE,
	JTREE_NUMBER,
	JTREE_STRING,
	JTREE_ARRAY,
	JTREE_OBJECT,
};

struct jtree;
struct jnode;

/* NULL when out of memory. */
struct jtree	*jtree_new(size_t max_size, size_t max_mem);
void		 jtree_free(struct jtree *);	/* NULL-safe */
/* The first failure of any call on t (calls after one fail too). */
enum jtree_err	 jtree_error(const struct jtree *);

/* A free node for checked JSON text s[0..n), compacted into the tree. */
struct jnode	*jtree_parse(struct jtree *, const char *s, size_t n);
/* The same for compact text that outlives the tree: not copied. */
struct jnode	*jtree_wrap(struct jtree *, const char *s, size_t n);

enum jtree_type	 jtree_type(const struct jnode *);
/* The node's length as compact JSON text. */
size_t		 jtree_size(const struct jnode *);
/*
 * The compact text of a node that nothing has opened (a scalar, or a
 * container that no jtree_count(), jtree_at(), jtree_get() or change has
 * expanded), *len bytes, not NUL-terminated; NULL once it is opened.
 */
const char	*jtree_text(const struct jnode *, size_t *len);
/* A number's exact text (NUL-terminated, in the tree). */
const char	*jtree_number(struct jnode *);
/* A string's decoded bytes (*len of them, NULs included), in the tree. */
const char	*jtree_string(struct jnode *, size_t *len);

/* An array's or object's live children. */
size_t		 jtree_count(struct jnode *);
/* Child i of an array (or, in order, of an object); NULL past the end. */
struct jnode	*jtree_at(struct jnode *, size_t i);
/* A member's decoded name. */
const char	*jtree_name(struct jnode *, size_t *len);
/* The member of obj named name[0..len) (decoded bytes), or NULL. */
struct jnode	*jtree_get(struct jnode *obj, const char *name,
		    size_t len);
struct jnode	*jtree_parent(const struct jnode *);

/* Free nodes: {} [] null, and a string of the bytes s[0..n). */
struct jnode	*jtree_new_object(struct jtree *);
struct jnode	*jtree_new_array(struct jtree *);
struct jnode	*jtree_new_null(struct jtree *);
struct jnode	*jtree_new_string(struct jtree *, const char *s, size_t n);
/* A free deep copy of any node. */
struct jnode	*jtree_copy(struct jtree *, struct jnode *);

/* Sets obj's member name[0..len) to the free node v (replacing any). */
enum jtree_err	 jtree_set(struct jtree *, struct jnode *obj, const char *name,
		    size_t len, struct jnode *v);
/*
 * The same with the name of m, a member of another object of the tree:
 * the name keeps the text it was written with.
 */
enum jtree_err	 jtree_set_as(struct jtree *, struct jnode *obj,
		    const struct jnode *m, struct jnode *v);
/* Inserts the free node v before element i of arr (i == count: last). */
enum jtree_err	 jtree_insert(struct jtree *, struct jnode *arr, size_t i,
		    struct jnode *v);
/* Puts the free node v where n stands (n is then free). */
enum jtree_err	 jtree_replace(struct jtree *, struct jnode *n, struct jnode *v);
/* Detaches n from its parent; n is then free. */
void		 jtree_remove(struct jnode *n);

/* RFC 6902 4.6: equal values, numbers by value, members in any order. */
int		 jtree_equal(struct jtree *, struct jnode *, struct jnode *);

/*
 * Writes the node as compact JSON: *out is malloc'ed (the caller frees
 * it), NUL-terminated, *len bytes long.
 */
enum jtree_err	 jtree_write(struct jtree *, struct jnode *, char **out,
		    size_t *len);

#endif
