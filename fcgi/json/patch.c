/*
 * patch.c - RFC 7396 merge patch, RFC 6902 JSON patch and append, on
 * jtree documents; see patch.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json/json.h"
#include "json/jtree.h"
#include "json/patch.h"

/*
 * The memory one change may take, as a multiple of max_value: the current
 * value's nodes, the copies a JSON patch makes, and the result.
 */
#define MEM_FACTOR	24
#define MEM_MIN		((size_t)16 << 20)

enum patch_kind {
	P_MERGE,
	P_JSON,
	P_APPEND,
};

/* A JSON pointer's tokens, decoded (~0 ~1), as bytes. */
struct tok {
	char	*s;
	size_t	 n;
};

struct ptr {
	struct tok	*tok;
	size_t		 n;
};

enum op_kind { OP_ADD, OP_REMOVE, OP_REPLACE, OP_MOVE, OP_COPY, OP_TEST };

static const char *const op_names[] = { "add", "remove", "replace", "move",
    "copy", "test" };

struct op {
	enum op_kind	 kind;
	struct ptr	 path, from;
	struct jnode	*value;
};

struct patch {
	enum patch_kind	 kind;
	struct jtree	*t;		/* owns doc and everything parsed */
	struct jnode	*doc;		/* the merge patch, or the value */
	struct op	*ops;		/* a JSON patch */
	size_t		 nops;
	struct ptr	 pointer;	/* append */
	int		 stamp;		/* append */
};

/* ---- JSON pointers (RFC 6901) --------------------------------------------- */

/*
 * A stored value nests at most 63 levels, so a pointer of more tokens
 * than JSON_MAX_DEPTH can name nothing that may be kept; refusing it also
 * bounds how deep a change can open a document up.
 */
int
patch_pointer_valid(const char *s, size_t n)
{
	size_t	 i, k = 0;

	if (n > 0 && s[0] != '/')
		return 0;
	for (i = 0; i < n; i++) {
		if (s[i] == '~' && (i + 1 >= n || (s[i + 1] != '0' &&
		    s[i + 1] != '1')))
			return 0;
		if (s[i] == '/' && ++k > JSON_MAX_DEPTH)
			return 0;
	}
	return 1;
}

/* Splits the valid pointer s[0..n) into decoded tokens in t's memory. */
static int
ptr_parse(const char *s, size_t n, struct ptr *p)
{
	const char	*seg, *end, *stop = s + n;
	size_t		 k = 0, i, o;
	char		*d;

	p->tok = NULL;
	p->n = 0;
	for (i = 0; i < n; i++)
		k += s[i] == '/';
	if (k == 0)
		return 0;
	if ((p->tok = calloc(k, sizeof(*p->tok))) == NULL)
		return -1;
	seg = s + 1;
	while (p->n < k) {
		if ((end = memchr(seg, '/', (size_t)(stop - seg))) == NULL)
			end = stop;
		if ((d = malloc((size_t)(end - seg) + 1)) == NULL)
			return -1;
		for (o = 0; seg < end; seg++) {
			if (*seg == '~') {
				d[o++] = seg[1] == '1' ? '/' : '~';
				seg++;
			} else
				d[o++] = *seg;
		}
		d[o] = '\0';
		p->tok[p->n].s = d;
		p->tok[p->n++].n = o;
		seg = end + 1;
	}
	return 0;
}

static void
ptr_free(struct ptr *p)
{
	size_t	 i;

	for (i = 0; i < p->n; i++)
		free(p->tok[i].s);
	free(p->tok);
	p->tok = NULL;
	p->n = 0;
}

/* An array index token: digits, no leading zero; -1 otherwise. */
static long
arr_index(const struct tok *t)
{
	long	 v = 0;
	size_t	 i;

	if (t->n == 0 || t->n > 9 || (t->s[0] == '0' && t->n > 1))
		return -1;
	for (i = 0; i < t->n; i++) {
		if (t->s[i] < '0' || t->s[i] > '9')
			return -1;
		v = v * 10 + (t->s[i] - '0');
	}
	return v;
}

/* The child of x named by token k, or NULL. */
static struct jnode *
child(struct jnode *x, const struct tok *k)
{
	long	 i;

	if (jtree_type(x) == JTREE_OBJECT)
		return jtree_get(x, k->s, k->n);
	if (jtree_type(x) == JTREE_ARRAY && (i = arr_index(k)) >= 0)
		return jtree_at(x, (size_t)i);
	return NULL;
}

/* The node at the first k tokens of p, or NULL. */
static struct jnode *
ptr_get(struct jnode *root, const struct ptr *p, size_t k)
{
	size_t	 i;

	for (i = 0; i < k && root != NULL; i++)
		root = child(root, &p->tok[i]);
	return root;
}

/* ---- results -------------------------------------------------------------- */

static enum patch_err
tree_err(struct jtree *t)
{
	switch (jtree_error(t)) {
	case JTREE_OK:		return PATCH_OK;
	case JTREE_TOO_LARGE:	return PATCH_TOO_LARGE;
	default:		return PATCH_NOMEM;
	}
}

/* A failed jtree call's error, or def when the tree has none. */
static enum patch_err
fail(struct jtree *t, enum patch_err def)
{
	enum patch_err	 e = tree_err(t);

	return e != PATCH_OK ? e : def;
}

/* ---- RFC 6902 operations ---------------------------------------------------- */

/* Adds the free node v at p. */
static enum patch_err
op_add(struct jtree *t, struct jnode **root, const struct ptr *p,
    struct jnode *v)
{
	struct jnode		*parent;
	const struct tok	*last;
	long			 i;

	if (p->n == 0) {
		*root = v;	/* its size is checked before it is written */
		return PATCH_OK;
	}
	if ((parent = ptr_get(*root, p, p->n - 1)) == NULL)
		return fail(t, PATCH_CONFLICT);
	last = &p->tok[p->n - 1];
	if (jtree_type(parent) == JTREE_OBJECT)
		return jtree_set(t, parent, last->s, last->n, v) == JTREE_OK ?
		    PATCH_OK : fail(t, PATCH_NOMEM);
	if (jtree_type(parent) != JTREE_ARRAY)
		return PATCH_CONFLICT;
	if (last->n == 1 && last->s[0] == '-')
		i = (long)jtree_count(parent);
	else if ((i = arr_index(last)) < 0 ||
	    (size_t)i > jtree_count(parent))
		return fail(t, PATCH_CONFLICT);
	return jtree_insert(t, parent, (size_t)i, v) == JTREE_OK ? PATCH_OK :
	    fail(t, PATCH_NOMEM);
}

/* Would adding n more bytes pass max? Checked before a copy is made. */
static int
too_large(const struct jnode *root, size_t n, size_t max)
{
	return jtree_size(root) > max || n > max - jtree_size(root);
}

static enum patch_err
apply_op(struct jtree *t, struct jnode **root, const struct op *op,
    size_t max)
{
	struct jnode	*x, *v;

	switch (op->kind) {
	case OP_ADD:
		if ((v = jtree_copy(t, op->value)) == NULL)
			return fail(t, PATCH_NOMEM);
		return op_add(t, root, &op->path, v);
	case OP_REMOVE:
		if (op->path.n == 0 ||
		    (x = ptr_get(*root, &op->path, op->path.n)) == NULL)
			return fail(t, PATCH_CONFLICT);
		jtree_remove(x);
		return PATCH_OK;
	case OP_REPLACE:
		if ((x = ptr_get(*root, &op->path, op->path.n)) == NULL)
			return fail(t, PATCH_CONFLICT);
		if ((v = jtree_copy(t, op->value)) == NULL)
			return fail(t, PATCH_NOMEM);
		if (op->path.n == 0) {
			*root = v;
			return PATCH_OK;
		}
		return jtree_replace(t, x, v) == JTREE_OK ? PATCH_OK :
		    fail(t, PATCH_NOMEM);
	case OP_MOVE:
		if ((x = ptr_get(*root, &op->from, op->from.n)) == NULL)
			return fail(t, PATCH_CONFLICT);
		if (op->from.n == op->path.n && ptr_get(*root, &op->path,
		    op->path.n) == x)
			return PATCH_OK;	/* onto itself */
		jtree_remove(x);
		return op_add(t, root, &op->path, x);
	case OP_COPY:
		if ((x = ptr_get(*root, &op->from, op->from.n)) == NULL)
			return fail(t, PATCH_CONFLICT);
		if (too_large(*root, jtree_size(x), max))
			return PATCH_TOO_LARGE;
		if ((v = jtree_copy(t, x)) == NULL)
			return fail(t, PATCH_NOMEM);
		return op_add(t, root, &op->path, v);
	case OP_TEST:
	default:
		x = ptr_get(*root, &op->path, op->path.n);
		if (x == NULL)
			return fail(t, PATCH_CONFLICT);
		return jtree_equal(t, x, op->value) ? PATCH_OK :
		    fail(t, PATCH_CONFLICT);
	}
}

/* ---- RFC 7396 --------------------------------------------------------------- */

static struct jnode	*merge_new(struct jtree *, struct jnode *);

/* Merges the object patch into the object target, in place. */
static int
merge_members(struct jtree *t, struct jnode *target, struct jnode *patch)
{
	struct jnode	*m, *old, *nv;
	const char	*name;
	size_t		 i, n, len;

	n = jtree_count(patch);
	for (i = 0; i < n; i++) {
		if ((m = jtree_at(patch, i)) == NULL)
			return -1;
		name = jtree_name(m, &len);
		old = jtree_get(target, name, len);
		if (jtree_error(t) != JTREE_OK)
			return -1;
		if (jtree_type(m) == JTREE_NULL) {
			if (old != NULL)
				jtree_remove(old);
			continue;
		}
		if (old != NULL && jtree_type(old) == JTREE_OBJECT &&
		    jtree_type(m) == JTREE_OBJECT) {
			if (merge_members(t, old, m) == -1)
				return -1;
			continue;
		}
		if ((nv = merge_new(t, m)) == NULL ||
		    jtree_set(t, target, name, len, nv) != JTREE_OK)
			return -1;
	}
	return jtree_error(t) == JTREE_OK ? 0 : -1;
}

/* The result of merging patch into nothing. */
static struct jnode *
merge_new(struct jtree *t, struct jnode *patch)
{
	struct jnode	*o;

	if (jtree_type(patch) != JTREE_OBJECT)
		return jtree_copy(t, patch);
	if ((o = jtree_new_object(t)) == NULL || merge_members(t, o, patch) == -1)
		return NULL;
	return o;
}

/* ---- parsing -------------------------------------------------------------- */

static enum patch_err
patch_new(enum patch_kind kind, const char *text, size_t n, struct patch **out)
{
	struct patch	*p;

	*out = NULL;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return PATCH_NOMEM;
	p->kind = kind;
	/* the body was checked against max_body already: no size limit */
	if ((p->t = jtree_new((size_t)-1 / 2, MEM_MIN + n * MEM_FACTOR)) ==
	    NULL || (p->doc = jtree_parse(p->t, text, n)) == NULL) {
		patch_free(p);
		return PATCH_NOMEM;
	}
	*out = p;
	return PATCH_OK;
}

void
patch_free(struct patch *p)
{
	size_t	 i;

	if (p == NULL)
		return;
	for (i = 0; i < p->nops; i++) {
		ptr_free(&p->ops[i].path);
		ptr_free(&p->ops[i].from);
	}
	free(p->ops);
	ptr_free(&p->pointer);
	jtree_free(p->t);
	free(p);
}

/* Expands every object of a merge patch now, so applying reads only. */
static int
expand_objects(struct jtree *t, struct jnode *x, int depth)
{
	size_t	 i, n;

	if (jtree_type(x) != JTREE_OBJECT || depth > JSON_MAX_DEPTH)
		return 0;
	n = jtree_count(x);
	for (i = 0; i < n; i++)
		if (expand_objects(t, jtree_at(x, i), depth + 1) == -1)
			return -1;
	return jtree_error(t) == JTREE_OK ? 0 : -1;
}

enum patch_err
patch_merge(const char *text, size_t n, struct patch **out)
{
	enum patch_err	 e;

	if ((e = patch_new(P_MERGE, text, n, out)) != PATCH_OK)
		return e;
	if (expand_objects((*out)->t, (*out)->doc, 0) == -1) {
		patch_free(*out);
		*out = NULL;
		return PATCH_NOMEM;
	}
	return PATCH_OK;
}

/* A member of op that is a string: its decoded bytes, or NULL. */
static const char *
str_member(struct jnode *op, const char *name, size_t *len)
{
	struct jnode	*m = jtree_get(op, name, strlen(name));

	if (m == NULL || jtree_type(m) != JTREE_STRING)
		return NULL;
	return jtree_string(m, len);
}

/* A pointer member of op, parsed into p; -1 when absent or malformed. */
static int
ptr_member(struct jnode *op, const char *name, struct ptr *p)
{
	const char	*s;
	size_t		 n;

	if ((s = str_member(op, name, &n)) == NULL ||
	    !patch_pointer_valid(s, n))
		return -1;
	return ptr_parse(s, n, p);
}

/* Is a a proper prefix of b (move's from must not be)? */
static int
ptr_prefix(const struct ptr *a, const struct ptr *b)
{
	size_t	 i;

	if (a->n >= b->n)
		return 0;
	for (i = 0; i < a->n; i++)
		if (a->tok[i].n != b->tok[i].n ||
		    memcmp(a->tok[i].s, b->tok[i].s, a->tok[i].n) != 0)
			return 0;
	return 1;
}

/* RFC 6902 section 4: one operation, parsed; -1 when malformed. */
static int
op_parse(struct jtree *t, struct jnode *x, struct op *op)
{
	const char	*name;
	size_t		 i, n;

	if (jtree_type(x) != JTREE_OBJECT ||
	    (name = str_member(x, "op", &n)) == NULL)
		return -1;
	for (i = 0; i < 6; i++)
		if (n == strlen(op_names[i]) && memcmp(name, op_names[i], n) == 0)
			break;
	if (i == 6 || ptr_member(x, "path", &op->path) == -1)
		return -1;
	op->kind = (enum op_kind)i;
	op->value = jtree_get(x, "value", 5);
	if ((op->kind == OP_ADD || op->kind == OP_REPLACE ||
	    op->kind == OP_TEST) && op->value == NULL)
		return -1;
	if (op->kind == OP_MOVE || op->kind == OP_COPY) {
		if (ptr_member(x, "from", &op->from) == -1)
			return -1;
		if (op->kind == OP_MOVE && ptr_prefix(&op->from, &op->path))
			return -1;
	}
	return jtree_error(t) == JTREE_OK ? 0 : -1;
}

enum patch_err
patch_json(const char *text, size_t n, struct patch **out)
{
	struct patch	*p;
	enum patch_err	 e;
	size_t		 i, k;

	if ((e = patch_new(P_JSON, text, n, out)) != PATCH_OK)
		return e;
	p = *out;
	e = PATCH_INVALID;
	if (jtree_type(p->doc) != JTREE_ARRAY ||
	    (k = jtree_count(p->doc)) > PATCH_OPS_MAX)
		goto bad;
	if (k > 0 && (p->ops = calloc(k, sizeof(*p->ops))) == NULL) {
		e = PATCH_NOMEM;
		goto bad;
	}
	for (i = 0; i < k; i++, p->nops++)
		if (op_parse(p->t, jtree_at(p->doc, i), &p->ops[i]) == -1) {
			p->nops++;
			e = fail(p->t, PATCH_INVALID);
			goto bad;
		}
	return PATCH_OK;
bad:
	patch_free(p);
	*out = NULL;
	return e;
}

enum patch_err
patch_append(const char *pointer, size_t plen, const char *text, size_t n,
    int stamp, struct patch **out)
{
	enum patch_err	 e;

	*out = NULL;
	if (!patch_pointer_valid(pointer, plen))
		return PATCH_INVALID;
	if ((e = patch_new(P_APPEND, text, n, out)) != PATCH_OK)
		return e;
	(*out)->stamp = stamp;
	if (stamp && jtree_type((*out)->doc) != JTREE_OBJECT)
		e = PATCH_INVALID;
	else if (ptr_parse(pointer, plen, &(*out)->pointer) == -1)
		e = PATCH_NOMEM;
	if (e != PATCH_OK) {
		patch_free(*out);
		*out = NULL;
	}
	return e;
}

/* ---- applying ------------------------------------------------------------- */

static enum patch_err
apply_append(struct jtree *t, const struct patch *p, struct jnode **root,
    const struct patch_ctx *ctx, long *index)
{
	const struct ptr	*path = &p->pointer;
	struct jnode		*v, *target, *parent, *arr, *by;

	if ((v = jtree_copy(t, p->doc)) == NULL)
		return fail(t, PATCH_NOMEM);
	if (p->stamp) {
		by = ctx->principal != NULL ? jtree_new_string(t,
		    ctx->principal, strlen(ctx->principal)) : jtree_new_null(t);
		if (by == NULL || jtree_set(t, v, "at", 2,
		    jtree_new_string(t, ctx->at, strlen(ctx->at))) != JTREE_OK ||
		    jtree_set(t, v, "by", 2, by) != JTREE_OK)
			return fail(t, PATCH_NOMEM);
	}
	target = ptr_get(*root, path, path->n);
	if (target == NULL && path->n > 0) {
		/* a missing member of an object becomes the array */
		parent = ptr_get(*root, path, path->n - 1);
		if (parent == NULL || jtree_type(parent) != JTREE_OBJECT)
			return fail(t, PATCH_CONFLICT);
		if ((arr = jtree_new_array(t)) == NULL ||
		    jtree_set(t, parent, path->tok[path->n - 1].s,
		    path->tok[path->n - 1].n, arr) != JTREE_OK)
			return fail(t, PATCH_NOMEM);
		target = arr;
	}
	if (target == NULL || jtree_type(target) != JTREE_ARRAY)
		return fail(t, PATCH_CONFLICT);
	*index = (long)jtree_count(target);
	return jtree_insert(t, target, (size_t)*index, v) == JTREE_OK ?
	    PATCH_OK : fail(t, PATCH_NOMEM);
}

void
patch_op_describe(const struct patch *p, size_t i, char *out, size_t outsz)
{
	const struct op	*op;
	size_t		 k, j, o;
	unsigned char	 c;

	if (outsz == 0)
		return;
	out[0] = '\0';
	if (p->kind != P_JSON || i >= p->nops)
		return;
	op = &p->ops[i];
	snprintf(out, outsz, "%s ", op_names[op->kind]);
	o = strlen(out);
	for (k = 0; k < op->path.n && o + 1 < outsz; k++) {
		out[o++] = '/';
		for (j = 0; j < op->path.tok[k].n && o + 1 < outsz; j++) {
			c = (unsigned char)op->path.tok[k].s[j];
			out[o++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
		}
	}
	if (op->path.n == 0 && o + 2 < outsz) {
		out[o++] = '"';
		out[o++] = '"';
	}
	out[o < outsz ? o : outsz - 1] = '\0';
}

enum patch_err
patch_apply(const struct patch *p, const char *cur, size_t n,
    const struct patch_ctx *ctx, char **out, size_t *outlen,
    struct patch_res *res)
{
	struct jtree	*t;
	struct jnode	*root, *nv;
	size_t		 i, mem;
	enum patch_err	 err = PATCH_NOMEM;

	*out = NULL;
	*outlen = 0;
	res->index = -1;
	res->op = -1;
	mem = ctx->max_value > ((size_t)-1 - MEM_MIN) / MEM_FACTOR ?
	    (size_t)-1 : MEM_MIN + ctx->max_value * MEM_FACTOR;
	if ((t = jtree_new(ctx->max_value, mem)) == NULL)
		return PATCH_NOMEM;
	/* the stored value is compact text that outlives this call */
	if ((root = jtree_wrap(t, cur, n)) == NULL)
		goto out;
	switch (p->kind) {
	case P_MERGE:
		if (jtree_type(p->doc) == JTREE_OBJECT &&
		    jtree_type(root) == JTREE_OBJECT) {
			if (merge_members(t, root, p->doc) == -1) {
				err = fail(t, PATCH_NOMEM);
				goto out;
			}
		} else {
			if ((nv = merge_new(t, p->doc)) == NULL) {
				err = fail(t, PATCH_NOMEM);
				goto out;
			}
			root = nv;
		}
		break;
	case P_JSON:
		for (i = 0; i < p->nops; i++)
			if ((err = apply_op(t, &root, &p->ops[i],
			    ctx->max_value)) != PATCH_OK) {
				res->op = (long)i;
				goto out;
			}
		break;
	case P_APPEND:
		if ((err = apply_append(t, p, &root, ctx, &res->index)) !=
		    PATCH_OK)
			goto out;
		break;
	}
	if (jtree_size(root) > ctx->max_value) {
		err = PATCH_TOO_LARGE;
		goto out;
	}
	if (jtree_write(t, root, out, outlen) != JTREE_OK) {
		err = fail(t, PATCH_NOMEM);
		goto out;
	}
	/* a stored value nests at most 63 levels: {"value": ...} is 64 */
	if (json_check(*out, *outlen, JSON_MAX_DEPTH - 1, NULL) != JSON_OK) {
		err = PATCH_TOO_DEEP;
		goto out;
	}
	err = PATCH_OK;
out:
	if (err != PATCH_OK) {
		free(*out);
		*out = NULL;
		*outlen = 0;
	}
	jtree_free(t);
	return err;
}
