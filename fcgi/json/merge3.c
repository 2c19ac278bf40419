/*
 * merge3.c - the three-way merge of API.md 4.1 on jtree documents; see
 * merge3.h.
 *
 * The three texts are wrapped in one tree, and the current value is
 * changed in place: a path that yours changed alone takes a copy of your
 * value there, and an id-array is built anew from its items, found by id
 * through a hash of each array's ids. Two subtrees that nothing opened
 * compare with one memcmp, so a small change to a large value opens only
 * the path to it. The first conflict stops the building, and the walk
 * goes on only to list the other paths; a result that grows past
 * max_value is walked again without building, so that a conflict wins
 * over its size.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/hash.h"
#include "json/json.h"
#include "json/jtree.h"
#include "json/merge3.h"

/* The memory one merge may take: as in patch.c, for the three values. */
#define MEM_FACTOR	24
#define MEM_MIN		((size_t)16 << 20)

/* A token of the path being merged: a member's decoded name, or an id. */
struct frame {
	const char	*s;
	size_t		 n;
	int		 id;		/* an item of an id-array: "id=" */
};

/* An item of an id-array: its id (see merge3.h) and the id's hash. */
struct item {
	const char	*id;
	size_t		 n;
	uint64_t	 h;
	struct jnode	*x;
};

/* The items of an id-array in order, and by id (index + 1; 0: none). */
struct ids {
	struct item	*item;
	size_t		 n;
	size_t		*slot;
	size_t		 cap;
};

struct m3 {
	struct jtree		*t;
	struct merge3_conflicts	*c;
	size_t			 cbytes;	/* of c's pointers */
	int			 build;		/* 0: only list conflicts */
	int			 whole;		/* the root conflicts */
	enum merge3_err		 err;
	struct frame		 path[JSON_MAX_DEPTH];
	size_t			 depth;		/* tokens in path */
	uint64_t		 seed;		/* of the ids' hashes */
};

/* ---- failures ------------------------------------------------------------ */

/* Takes the tree's error (a failed call's); -1. */
static int
tfail(struct m3 *m)
{
	m->err = jtree_error(m->t) == JTREE_TOO_LARGE ? MERGE3_TOO_LARGE :
	    MERGE3_NOMEM;
	return -1;
}

static int
deep(struct m3 *m)
{
	m->err = MERGE3_TOO_DEEP;
	return -1;
}

/* ---- conflicts ------------------------------------------------------------- */

void
merge3_conflicts_free(struct merge3_conflicts *c)
{
	size_t	 i;

	if (c == NULL)
		return;
	for (i = 0; i < c->n; i++)
		free(c->ptr[i]);
	memset(c, 0, sizeof(*c));
}

/* A token's length in a pointer: "~" and "/" take two bytes. */
static size_t
tok_len(const struct frame *f)
{
	size_t	 i, n = f->n + (f->id ? 3 : 0);

	for (i = 0; i < f->n; i++)
		n += f->s[i] == '~' || f->s[i] == '/';
	return n;
}

static char *
tok_put(char *d, const struct frame *f)
{
	size_t	 i;

	if (f->id) {
		memcpy(d, "id=", 3);
		d += 3;
	}
	for (i = 0; i < f->n; i++) {
		if (f->s[i] == '~' || f->s[i] == '/') {
			*d++ = '~';
			*d++ = f->s[i] == '~' ? '0' : '1';
		} else
			*d++ = f->s[i];
	}
	return d;
}

/* Records the path being merged as a conflict, and stops the building. */
static int
conflict(struct m3 *m)
{
	struct merge3_conflicts	*c = m->c;
	size_t			 i, n = 0;
	char			*p, *d;

	m->build = 0;
	if (m->depth == 0) {
		m->whole = 1;
		return 0;
	}
	c->total++;
	if (c->n == MERGE3_CONFLICTS_MAX)
		return 0;
	for (i = 0; i < m->depth; i++) {
		n += 1 + tok_len(&m->path[i]);
		if (n > MERGE3_CONFLICTS_BYTES - m->cbytes)
			return 0;
	}
	if ((p = malloc(n + 1)) == NULL) {
		m->err = MERGE3_NOMEM;
		return -1;
	}
	for (d = p, i = 0; i < m->depth; i++) {
		*d++ = '/';
		d = tok_put(d, &m->path[i]);
	}
	*d = '\0';
	c->ptr[c->n] = p;
	c->len[c->n++] = n;
	m->cbytes += n;
	return 0;
}

/* ---- equality ------------------------------------------------------------- */

static int
is_container(const struct jnode *x)
{
	return jtree_type(x) == JTREE_OBJECT || jtree_type(x) == JTREE_ARRAY;
}

/*
 * Are a and b (either may be NULL: absent) equal, at d tokens deep?
 * 1 or 0; -1 on failure.
 */
static int
same(struct m3 *m, struct jnode *a, struct jnode *b, size_t d)
{
	struct jnode	*x, *y;
	const char	*ta, *tb, *name;
	size_t		 na, nb, i, n, len;
	int		 k;

	if (a == NULL || b == NULL)
		return a == b;
	if (jtree_type(a) != jtree_type(b))
		return 0;
	ta = jtree_text(a, &na);
	tb = jtree_text(b, &nb);
	if (ta != NULL && tb != NULL) {
		if (na == nb && memcmp(ta, tb, na) == 0)
			return 1;
		/* scalars by text; arrays with no object inside them too */
		if (!is_container(a) || (jtree_type(a) == JTREE_ARRAY &&
		    memchr(ta, '{', na) == NULL && memchr(tb, '{', nb) == NULL))
			return 0;
	}
	if (d >= JSON_MAX_DEPTH)
		return deep(m);
	n = jtree_count(a);
	if (n != jtree_count(b))
		return jtree_error(m->t) == JTREE_OK ? 0 : tfail(m);
	for (i = 0; i < n; i++) {
		if ((x = jtree_at(a, i)) == NULL)
			return tfail(m);
		if (jtree_type(a) == JTREE_ARRAY)
			y = jtree_at(b, i);
		else {
			name = jtree_name(x, &len);
			y = jtree_get(b, name, len);
		}
		if (jtree_error(m->t) != JTREE_OK)
			return tfail(m);
		if ((k = same(m, x, y, d + 1)) != 1)
			return k;
	}
	return 1;
}

/* ---- merging ---------------------------------------------------------------- */

static int	merge_at(struct m3 *, struct jnode *, struct jnode *,
		    struct jnode *, struct jnode **);

/* Your value, to stand where the current one does (NULL: none). */
static int
take(struct m3 *m, struct jnode *y, struct jnode **res)
{
	if (!m->build)
		return 0;
	if (y == NULL)
		*res = NULL;
	else if ((*res = jtree_copy(m->t, y)) == NULL)
		return tfail(m);
	return 0;
}

/*
 * Merges one member of the object c, named as ym or else bm: bm, ym and
 * cm are its values in the base, yours and c (NULL where absent).
 */
static int
member(struct m3 *m, struct jnode *c, struct jnode *bm, struct jnode *ym,
    struct jnode *cm)
{
	struct jnode	*r;
	struct frame	*f = &m->path[m->depth];

	f->s = jtree_name(ym != NULL ? ym : bm, &f->n);
	f->id = 0;
	m->depth++;
	if (merge_at(m, bm, ym, cm, &r) == -1)
		return -1;
	m->depth--;
	if (r == cm)
		return 0;
	if (r == NULL)
		jtree_remove(cm);
	else if ((cm != NULL ? jtree_replace(m->t, cm, r) :
	    jtree_set_as(m->t, c, ym, r)) != JTREE_OK)
		return tfail(m);
	return 0;
}

/* Merges the members of the objects b -> y into c, in place. */
static int
merge_members(struct m3 *m, struct jnode *b, struct jnode *y, struct jnode *c)
{
	struct jnode	*bm, *ym, *cm;
	const char	*name;
	size_t		 i, n, len;

	if (m->depth >= JSON_MAX_DEPTH)
		return deep(m);
	n = jtree_count(y);
	for (i = 0; i < n; i++) {
		if ((ym = jtree_at(y, i)) == NULL)
			return tfail(m);
		name = jtree_name(ym, &len);
		bm = jtree_get(b, name, len);
		cm = jtree_get(c, name, len);
		if (jtree_error(m->t) != JTREE_OK)
			return tfail(m);
		if (member(m, c, bm, ym, cm) == -1)
			return -1;
	}
	/* what yours removed */
	n = jtree_count(b);
	for (i = 0; i < n; i++) {
		if ((bm = jtree_at(b, i)) == NULL)
			return tfail(m);
		name = jtree_name(bm, &len);
		if (jtree_get(y, name, len) != NULL)
			continue;
		cm = jtree_get(c, name, len);
		if (jtree_error(m->t) != JTREE_OK)
			return tfail(m);
		if (member(m, c, bm, NULL, cm) == -1)
			return -1;
	}
	return jtree_error(m->t) == JTREE_OK ? 0 : tfail(m);
}

/* ---- id-arrays ------------------------------------------------------------- */

/* The id of x when it is an object with one: 1, or 0; -1 on failure. */
static int
item_id(struct m3 *m, struct jnode *x, struct item *it)
{
	struct jnode	*id;

	if (jtree_type(x) != JTREE_OBJECT)
		return 0;
	if ((id = jtree_get(x, "id", 2)) == NULL)
		return jtree_error(m->t) == JTREE_OK ? 0 : tfail(m);
	it->x = x;
	it->id = jtree_text(id, &it->n);	/* a scalar's is always there */
	if (jtree_type(id) == JTREE_STRING) {
		if (memchr(it->id, '\\', it->n) == NULL) {
			it->id++;
			it->n -= 2;
		} else if ((it->id = jtree_string(id, &it->n)) == NULL)
			return tfail(m);
	} else if (jtree_type(id) != JTREE_NUMBER)
		return 0;
	it->h = hash_keyed(m->seed, it->id, it->n);
	return 1;
}

static struct jnode *
ids_get(const struct ids *ids, const struct item *it)
{
	const struct item	*o;
	size_t			 m = ids->cap - 1, i = it->h & m;

	for (; ids->slot[i] != 0; i = (i + 1) & m) {
		o = &ids->item[ids->slot[i] - 1];
		if (o->h == it->h && o->n == it->n &&
		    memcmp(o->id, it->id, it->n) == 0)
			return o->x;
	}
	return NULL;
}

/* Indexes the items of arr: 1, or 0 when it is no id-array; -1 on failure. */
static int
ids_build(struct m3 *m, struct jnode *arr, struct ids *ids)
{
	struct item	*it;
	size_t		 i, j, n;
	int		 k;

	n = jtree_count(arr);
	if (jtree_error(m->t) != JTREE_OK)
		return tfail(m);
	for (ids->cap = 8; ids->cap < 2 * n; ids->cap *= 2)
		;
	if ((ids->item = calloc(n ? n : 1, sizeof(*ids->item))) == NULL ||
	    (ids->slot = calloc(ids->cap, sizeof(*ids->slot))) == NULL) {
		m->err = MERGE3_NOMEM;
		return -1;
	}
	if (m->seed == 0)
		m->seed = hash_key();	/* ids chosen to collide cannot be */
	for (i = 0; i < n; i++) {
		it = &ids->item[i];
		if ((it->x = jtree_at(arr, i)) == NULL)
			return tfail(m);
		if ((k = item_id(m, it->x, it)) != 1)
			return k;
		if (ids_get(ids, it) != NULL)
			return 0;		/* two items, one id */
		for (j = it->h & (ids->cap - 1); ids->slot[j] != 0;
		    j = (j + 1) & (ids->cap - 1))
			;
		ids->slot[j] = i + 1;
	}
	ids->n = n;
	return 1;
}

static void
ids_free(struct ids *ids)
{
	free(ids->item);
	free(ids->slot);
}

/*
 * Merges one item, bi -> yi into ci (NULL where absent), and appends what
 * is to stand there to arr (when building).
 */
static int
merge_item(struct m3 *m, const struct item *it, struct jnode *bi,
    struct jnode *yi, struct jnode *ci, struct jnode *arr, size_t *len)
{
	struct frame	*f = &m->path[m->depth];
	struct jnode	*r;

	f->s = it->id;
	f->n = it->n;
	f->id = 1;
	m->depth++;
	if (merge_at(m, bi, yi, ci, &r) == -1)
		return -1;
	m->depth--;
	if (!m->build || r == NULL)
		return 0;
	if (r == ci && (r = jtree_copy(m->t, ci)) == NULL)
		return tfail(m);
	return jtree_insert(m->t, arr, (*len)++, r) == JTREE_OK ? 0 : tfail(m);
}

/*
 * Merges the id-arrays b -> y into c: into a new array, *res. 1, or 0
 * when one of them is no id-array; -1 on failure.
 */
static int
merge_ids(struct m3 *m, struct jnode *b, struct jnode *y, struct jnode *c,
    struct jnode **res)
{
	struct ids	 ib = { 0 }, iy = { 0 }, ic = { 0 };
	struct jnode	*arr = NULL;
	struct item	*it;
	size_t		 i, len = 0;
	int		 rc = -1;

	if (m->depth >= JSON_MAX_DEPTH) {
		deep(m);
		goto out;
	}
	if ((rc = ids_build(m, b, &ib)) != 1 ||
	    (rc = ids_build(m, y, &iy)) != 1 ||
	    (rc = ids_build(m, c, &ic)) != 1)
		goto out;
	rc = -1;
	if (m->build && (arr = jtree_new_array(m->t)) == NULL) {
		tfail(m);
		goto out;
	}
	/* the current items, in the current order */
	for (i = 0; i < ic.n; i++) {
		it = &ic.item[i];
		if (merge_item(m, it, ids_get(&ib, it), ids_get(&iy, it),
		    it->x, arr, &len) == -1)
			goto out;
	}
	/* what the current value removed */
	for (i = 0; i < ib.n; i++) {
		it = &ib.item[i];
		if (ids_get(&ic, it) == NULL && merge_item(m, it, it->x,
		    ids_get(&iy, it), NULL, arr, &len) == -1)
			goto out;
	}
	/* what only yours added, in your order */
	for (i = 0; i < iy.n; i++) {
		it = &iy.item[i];
		if (ids_get(&ib, it) == NULL && ids_get(&ic, it) == NULL &&
		    merge_item(m, it, NULL, it->x, NULL, arr, &len) == -1)
			goto out;
	}
	if (m->build)
		*res = arr;
	rc = 1;
out:
	ids_free(&ib);
	ids_free(&iy);
	ids_free(&ic);
	return rc;
}

static int
all_of(enum jtree_type type, struct jnode *b, struct jnode *y,
    struct jnode *c)
{
	return b != NULL && y != NULL && c != NULL && jtree_type(b) == type &&
	    jtree_type(y) == type && jtree_type(c) == type;
}

/*
 * Merges b -> y into c (any may be NULL: absent) at the path being
 * merged. *res is what is to stand there: c itself (kept, or changed in
 * place), NULL (nothing), or a free node. 0, or -1 on failure.
 */
static int
merge_at(struct m3 *m, struct jnode *b, struct jnode *y, struct jnode *c,
    struct jnode **res)
{
	int	 k;

	*res = c;
	if ((k = same(m, y, b, m->depth)) != 0)
		return k == 1 ? 0 : -1;
	if ((k = same(m, c, b, m->depth)) != 0)
		return k == 1 ? take(m, y, res) : -1;
	if ((k = same(m, y, c, m->depth)) != 0)
		return k == 1 ? 0 : -1;
	if (all_of(JTREE_OBJECT, b, y, c))
		return merge_members(m, b, y, c);
	if (all_of(JTREE_ARRAY, b, y, c) &&
	    (k = merge_ids(m, b, y, c, res)) != 0)
		return k == 1 ? 0 : -1;
	return conflict(m);
}

/* ---- the entry -------------------------------------------------------------- */

/* One walk over the three values; a result in *out only when building. */
static enum merge3_err
run(struct m3 *m, const char *base, size_t bn, const char *yours, size_t yn,
    const char *cur, size_t cn, size_t max_value, char **out, size_t *outlen)
{
	struct jnode	*b, *y, *c, *r;
	size_t		 sum, mem;

	sum = bn + yn;
	sum = sum < bn || sum + cn < sum || sum + cn + max_value < sum + cn ?
	    (size_t)-1 : sum + cn + max_value;
	mem = sum > ((size_t)-1 - MEM_MIN) / MEM_FACTOR ? (size_t)-1 :
	    MEM_MIN + sum * MEM_FACTOR;
	if ((m->t = jtree_new(max_value, mem)) == NULL)
		return MERGE3_NOMEM;
	/* the stored values are compact text that outlives this call */
	if ((b = jtree_wrap(m->t, base, bn)) == NULL ||
	    (y = jtree_wrap(m->t, yours, yn)) == NULL ||
	    (c = jtree_wrap(m->t, cur, cn)) == NULL) {
		tfail(m);
		goto out;
	}
	if (merge_at(m, b, y, c, &r) == -1)
		goto out;
	if (m->whole) {
		m->err = MERGE3_WHOLE;
		goto out;
	}
	if (m->c->total > 0) {
		m->err = MERGE3_CONFLICT;
		goto out;
	}
	if (!m->build)
		goto out;
	if (jtree_write(m->t, r, out, outlen) != JTREE_OK) {
		tfail(m);
		goto out;
	}
	/* a stored value nests at most 63 levels: {"value": ...} is 64 */
	if (json_check(*out, *outlen, JSON_MAX_DEPTH - 1, NULL) != JSON_OK)
		m->err = MERGE3_TOO_DEEP;
out:
	jtree_free(m->t);
	m->t = NULL;
	return m->err;
}

enum merge3_err
merge3(const char *base, size_t bn, const char *yours, size_t yn,
    const char *cur, size_t cn, size_t max_value, char **out, size_t *outlen,
    struct merge3_conflicts *c)
{
	struct m3	 m;
	enum merge3_err	 err;

	*out = NULL;
	*outlen = 0;
	memset(c, 0, sizeof(*c));
	memset(&m, 0, sizeof(m));
	m.c = c;
	m.build = 1;
	err = run(&m, base, bn, yours, yn, cur, cn, max_value, out, outlen);
	if (err == MERGE3_TOO_LARGE && c->total == 0 && !m.whole) {
		/* the size came first: do the paths conflict all the same? */
		memset(&m, 0, sizeof(m));
		m.c = c;
		if ((err = run(&m, base, bn, yours, yn, cur, cn, max_value, out,
		    outlen)) == MERGE3_OK)
			err = MERGE3_TOO_LARGE;
	}
	if (err != MERGE3_OK) {
		free(*out);
		*out = NULL;
		*outlen = 0;
	}
	if (err != MERGE3_CONFLICT)
		merge3_conflicts_free(c);
	return err;
}
