/*
 * jtree.c - JSON documents that keep their text; see jtree.h.
 *
 * A node is unexpanded text (raw, rawlen) until something looks inside it;
 * then a container gets its children (kids), each again unexpanded text.
 * Every node knows its compact length (size), and a change adjusts the
 * sizes of the node's ancestors, so the document's length is known before
 * a change is made. Objects keep their members in order; a removed member
 * leaves a hole, so that removing many members of a large object is not
 * quadratic, and objects with many members get a hash index by name.
 * Memory comes from the tree's chunks and goes back all at once.
 */
#include <stdlib.h>
#include <string.h>
#include "lib/hash.h"
#include "json/json.h"
#include "json/jtree.h"

#define CHUNK		((size_t)64 << 10)
#define CHUNK_FIRST	((size_t)4 << 10)
#define INDEX_MIN	16	/* members before an object gets an index */

struct chunk {
	struct chunk	*next;
	size_t		 used, cap, pad;	/* data follows, 16-aligned */
};

struct kids {
	struct jnode	**v;		/* objects: a removed member is NULL */
	size_t		  n, cap, live;
	struct jnode	**idx;		/* open addressing by decoded name */
	size_t		  idxcap, idxused;
};

struct jnode {
	struct jtree	*tree;		/* whose memory its children use */
	struct jnode	*up;
	struct kids	*k;		/* an expanded array or object */
	const char	*raw;		/* unexpanded: compact text */
	const char	*name;		/* a member: the name's text, quoted */
	const char	*key;		/* ... and its decoded bytes */
	size_t		 rawlen, size, namelen, keylen, pos;
	enum jtree_type	 type;
};

struct jtree {
	size_t		 max_size, max_mem, mem;
	struct chunk	*chunks;
	enum jtree_err	 err;
	uint64_t	 seed;
};

static struct jnode	 tomb;		/* a removed entry of an index */

/* ---- memory ----------------------------------------------------------- */

static void *
alloc(struct jtree *t, size_t n)
{
	struct chunk	*c = t->chunks, *nc;
	size_t		 cap;
	char		*p;

	if (t->err != JTREE_OK)
		return NULL;
	n = (n + 15) & ~(size_t)15;
	if (c == NULL || c->cap - c->used < n) {
		/* small first: most changes touch a few nodes of a small value */
		cap = c == NULL ? CHUNK_FIRST : c->cap * 2 > CHUNK ? CHUNK :
		    c->cap * 2;
		if (n > cap)
			cap = n;
		if (cap > t->max_mem || t->mem > t->max_mem - cap) {
			t->err = JTREE_TOO_LARGE;
			return NULL;
		}
		if ((nc = malloc(sizeof(*nc) + cap)) == NULL) {
			t->err = JTREE_NOMEM;
			return NULL;
		}
		t->mem += cap;
		nc->cap = cap;
		nc->used = 0;
		if (c != NULL && n > cap / 2) {	/* keep using the head */
			nc->next = c->next;
			c->next = nc;
		} else {
			nc->next = c;
			t->chunks = nc;
		}
		c = nc;
	}
	p = (char *)(c + 1) + c->used;
	c->used += n;
	return p;
}

struct jtree *
jtree_new(size_t max_size, size_t max_mem)
{
	struct jtree	*t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->max_size = max_size;
	t->max_mem = max_mem;
	/* the index key is drawn when a first index is built: most changes
	   never build one */
	return t;
}

void
jtree_free(struct jtree *t)
{
	struct chunk	*c, *next;

	if (t == NULL)
		return;
	for (c = t->chunks; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	free(t);
}

enum jtree_err
jtree_error(const struct jtree *t)
{
	return t->err;
}

/* ---- nodes over text -------------------------------------------------- */

static enum jtree_type
type_of(char c)
{
	switch (c) {
	case '{':	return JTREE_OBJECT;
	case '[':	return JTREE_ARRAY;
	case '"':	return JTREE_STRING;
	case 't':	return JTREE_TRUE;
	case 'f':	return JTREE_FALSE;
	case 'n':	return JTREE_NULL;
	default:	return JTREE_NUMBER;
	}
}

static struct jnode *
node_new(struct jtree *t, const char *s, size_t n)
{
	struct jnode	*x;

	if ((x = alloc(t, sizeof(*x))) == NULL)
		return NULL;
	memset(x, 0, sizeof(*x));
	x->tree = t;
	x->raw = s;
	x->rawlen = x->size = n;
	x->type = type_of(s[0]);
	return x;
}

struct jnode *
jtree_wrap(struct jtree *t, const char *s, size_t n)
{
	return n > 0 ? node_new(t, s, n) : NULL;
}

/* The index after the string of compact text at s[i] == '"'. */
static size_t
str_end(const char *s, size_t n, size_t i)
{
	for (i++; i < n && s[i] != '"'; i++)
		if (s[i] == '\\')
			i++;
	return i + 1;
}

struct jnode *
jtree_parse(struct jtree *t, const char *s, size_t n)
{
	char	*d;
	size_t	 i, j, k = 0;

	if ((d = alloc(t, n + 1)) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		if (s[i] == '"') {
			j = str_end(s, n, i);
			memcpy(d + k, s + i, j - i);
			k += j - i;
			i = j - 1;
		} else if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' &&
		    s[i] != '\r')
			d[k++] = s[i];
	}
	d[k] = '\0';
	return jtree_wrap(t, d, k);
}

enum jtree_type
jtree_type(const struct jnode *x)
{
	return x->type;
}

size_t
jtree_size(const struct jnode *x)
{
	return x->size;
}

struct jnode *
jtree_parent(const struct jnode *x)
{
	return x->up;
}

static void
set_key(struct jnode *x)
{
	char	*d;

	if (memchr(x->name, '\\', x->namelen) == NULL) {
		x->key = x->name + 1;
		x->keylen = x->namelen - 2;
		return;
	}
	if ((d = alloc(x->tree, x->namelen)) == NULL)
		return;
	x->key = d;
	x->keylen = json_decode(x->name, x->namelen, d);
}

static int
kids_push(struct jtree *t, struct kids *k, struct jnode *x)
{
	struct jnode	**v;
	size_t		  cap;

	if (k->n == k->cap) {
		cap = k->cap ? k->cap * 2 : 8;
		if ((v = alloc(t, cap * sizeof(*v))) == NULL)
			return -1;
		if (k->n > 0)
			memcpy(v, k->v, k->n * sizeof(*v));
		k->v = v;
		k->cap = cap;
	}
	x->pos = k->n;
	k->v[k->n++] = x;
	k->live++;
	return 0;
}

/* Gives a container its children; -1 on failure (t->err). */
static int
expand(struct jnode *x)
{
	struct jtree	*t = x->tree;
	struct kids	*k;
	struct jnode	*c;
	const char	*s = x->raw, *name = NULL;
	size_t		 n = x->rawlen, i = 1, j, namelen = 0;

	if (x->k != NULL || (x->type != JTREE_ARRAY && x->type != JTREE_OBJECT))
		return t->err == JTREE_OK ? 0 : -1;
	if ((k = alloc(t, sizeof(*k))) == NULL)
		return -1;
	memset(k, 0, sizeof(*k));
	while (i < n - 1) {
		if (x->type == JTREE_OBJECT) {
			j = str_end(s, n, i);
			name = s + i;
			namelen = j - i;
			i = j + 1;			/* the ':' */
		}
		j = json_skip(s, n, i);
		if ((c = node_new(t, s + i, j - i)) == NULL)
			return -1;
		c->up = x;
		if (x->type == JTREE_OBJECT) {
			c->name = name;
			c->namelen = namelen;
			set_key(c);
		}
		if (kids_push(t, k, c) == -1)
			return -1;
		i = j + 1;				/* the ',' */
	}
	if (t->err != JTREE_OK)
		return -1;
	x->k = k;
	return 0;
}

const char *
jtree_text(const struct jnode *x, size_t *len)
{
	if (x->k != NULL)
		return NULL;
	*len = x->rawlen;
	return x->raw;
}

const char *
jtree_number(struct jnode *x)
{
	char	*d;

	if ((d = alloc(x->tree, x->rawlen + 1)) == NULL)
		return NULL;
	memcpy(d, x->raw, x->rawlen);
	d[x->rawlen] = '\0';
	return d;
}

const char *
jtree_string(struct jnode *x, size_t *len)
{
	char	*d;

	if ((d = alloc(x->tree, x->rawlen)) == NULL)
		return NULL;
	*len = json_decode(x->raw, x->rawlen, d);
	return d;
}

size_t
jtree_count(struct jnode *x)
{
	if (expand(x) == -1 || x->k == NULL)
		return 0;
	return x->k->live;
}

/* Closes the holes of an object's members (positions change). */
static void
compact(struct kids *k)
{
	size_t	 i, o = 0;

	for (i = 0; i < k->n; i++)
		if (k->v[i] != NULL) {
			k->v[i]->pos = o;
			k->v[o++] = k->v[i];
		}
	k->n = o;
}

struct jnode *
jtree_at(struct jnode *x, size_t i)
{
	if (expand(x) == -1 || x->k == NULL || i >= x->k->live)
		return NULL;
	if (x->k->n != x->k->live)
		compact(x->k);
	return x->k->v[i];
}

const char *
jtree_name(struct jnode *x, size_t *len)
{
	*len = x->keylen;
	return x->key;
}

/* ---- the index of a large object --------------------------------------- */

static uint64_t
hash(const struct jtree *t, const char *s, size_t n)
{
	return hash_keyed(t->seed, s, n);
}

static void
idx_put(struct jtree *t, struct kids *k, struct jnode *x)
{
	size_t	 m = k->idxcap - 1, i = hash(t, x->key, x->keylen) & m;

	while (k->idx[i] != NULL && k->idx[i] != &tomb)
		i = (i + 1) & m;
	if (k->idx[i] == NULL)
		k->idxused++;
	k->idx[i] = x;
}

/* (Re)builds the index with room for twice the live members. */
static int
idx_build(struct jtree *t, struct kids *k)
{
	size_t	 cap = 64, i;

	while (cap < k->live * 4)
		cap *= 2;
	if (t->seed == 0)
		t->seed = hash_key();	/* names chosen to collide cannot be */
	if ((k->idx = alloc(t, cap * sizeof(*k->idx))) == NULL)
		return -1;
	memset(k->idx, 0, cap * sizeof(*k->idx));
	k->idxcap = cap;
	k->idxused = 0;
	for (i = 0; i < k->n; i++)
		if (k->v[i] != NULL)
			idx_put(t, k, k->v[i]);
	return 0;
}

static struct jnode **
idx_slot(struct jtree *t, struct kids *k, const char *name, size_t len)
{
	size_t		 m = k->idxcap - 1, i = hash(t, name, len) & m;
	struct jnode	*x;

	while ((x = k->idx[i]) != NULL) {
		if (x != &tomb && x->keylen == len &&
		    memcmp(x->key, name, len) == 0)
			return &k->idx[i];
		i = (i + 1) & m;
	}
	return NULL;
}

struct jnode *
jtree_get(struct jnode *obj, const char *name, size_t len)
{
	struct kids	*k;
	struct jnode	**slot;
	size_t		  i;

	if (obj->type != JTREE_OBJECT || expand(obj) == -1)
		return NULL;
	k = obj->k;
	if (k->idx == NULL && k->live > INDEX_MIN &&
	    idx_build(obj->tree, k) == -1)
		return NULL;
	if (k->idx != NULL)
		return (slot = idx_slot(obj->tree, k, name, len)) ? *slot : NULL;
	for (i = 0; i < k->n; i++)
		if (k->v[i] != NULL && k->v[i]->keylen == len &&
		    memcmp(k->v[i]->key, name, len) == 0)
			return k->v[i];
	return NULL;
}

/* ---- sizes ------------------------------------------------------------ */

static struct jnode *
root_of(struct jnode *x)
{
	while (x->up != NULL)
		x = x->up;
	return x;
}

/* What child c adds to its parent's text besides its own size. */
static size_t
overhead(const struct jnode *parent, const struct jnode *c)
{
	size_t	 o = parent->k->live > 0 ? 1 : 0;	/* a ',' */

	return parent->type == JTREE_OBJECT ? o + c->namelen + 1 : o;
}

/* Checks that x's document may grow by d bytes; then grows it. */
static int
grow(struct jtree *t, struct jnode *x, size_t d)
{
	struct jnode	*r = root_of(x);

	if (r->size > t->max_size || d > t->max_size - r->size) {
		t->err = JTREE_TOO_LARGE;
		return -1;
	}
	for (; x != NULL; x = x->up)
		x->size += d;
	return 0;
}

static void
shrink(struct jnode *x, size_t d)
{
	for (; x != NULL; x = x->up)
		x->size -= d;
}

/* ---- changes ---------------------------------------------------------- */

struct jnode *
jtree_new_object(struct jtree *t)
{
	return node_new(t, "{}", 2);
}

struct jnode *
jtree_new_array(struct jtree *t)
{
	return node_new(t, "[]", 2);
}

struct jnode *
jtree_new_null(struct jtree *t)
{
	return node_new(t, "null", 4);
}

/* Writes s[0..n) as a JSON string into d (room for 6n + 2); its length. */
static size_t
quote(char *d, const char *s, size_t n)
{
	static const char	 hex[] = "0123456789abcdef";
	size_t			 i, k = 0;
	unsigned char		 c;

	d[k++] = '"';
	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			d[k++] = '\\';
			d[k++] = (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			memcpy(d + k, "\\u00", 4);
			d[k + 4] = hex[c >> 4];
			d[k + 5] = hex[c & 15];
			k += 6;
		} else
			d[k++] = (char)c;
	}
	d[k++] = '"';
	return k;
}

struct jnode *
jtree_new_string(struct jtree *t, const char *s, size_t n)
{
	char	*d;

	if (n > t->max_size / 6 + 1) {
		t->err = JTREE_TOO_LARGE;
		return NULL;
	}
	if ((d = alloc(t, 6 * n + 2)) == NULL)
		return NULL;
	return node_new(t, d, quote(d, s, n));
}

static char	*write_node(const struct jnode *, char *);

struct jnode *
jtree_copy(struct jtree *t, struct jnode *x)
{
	char	*d;

	if (x->k == NULL)		/* its text is all it is */
		return node_new(t, x->raw, x->rawlen);
	if (x->size > t->max_size) {
		t->err = JTREE_TOO_LARGE;
		return NULL;
	}
	if ((d = alloc(t, x->size)) == NULL)
		return NULL;
	write_node(x, d);
	return node_new(t, d, x->size);
}

/* Makes a name's text for the decoded bytes name[0..len). */
static int
name_new(struct jtree *t, struct jnode *v, const char *name, size_t len)
{
	char	*d;

	if (len > t->max_size / 6 + 1) {
		t->err = JTREE_TOO_LARGE;
		return -1;
	}
	if ((d = alloc(t, 6 * len + 2)) == NULL)
		return -1;
	v->name = d;
	v->namelen = quote(d, name, len);
	set_key(v);
	return t->err == JTREE_OK ? 0 : -1;
}

/* Links the free node v into x's children at position i. */
static enum jtree_err
link_at(struct jtree *t, struct jnode *x, size_t i, struct jnode *v)
{
	struct kids	*k = x->k;
	size_t		 j;

	if (grow(t, x, v->size + overhead(x, v)) == -1)
		return t->err;
	if (kids_push(x->tree, k, v) == -1) {
		shrink(x, v->size + overhead(x, v));
		return x->tree->err;
	}
	if (i < k->n - 1) {
		memmove(k->v + i + 1, k->v + i, (k->n - 1 - i) * sizeof(*k->v));
		k->v[i] = v;
		for (j = i; j < k->n; j++)
			k->v[j]->pos = j;
	}
	v->up = x;
	if (k->idx != NULL) {
		if ((k->idxused + 1) * 4 > k->idxcap * 3) {
			if (idx_build(x->tree, k) == -1)
				return x->tree->err;
		} else
			idx_put(x->tree, k, v);
	}
	return JTREE_OK;
}

/* Sets obj's member name[0..len) to v; a new one named as like, if given. */
static enum jtree_err
set_member(struct jtree *t, struct jnode *obj, const char *name, size_t len,
    const struct jnode *like, struct jnode *v)
{
	struct jnode	*old;

	if (t->err != JTREE_OK || obj->type != JTREE_OBJECT || expand(obj) == -1)
		return t->err != JTREE_OK ? t->err : JTREE_NOMEM;
	if ((old = jtree_get(obj, name, len)) != NULL)
		return jtree_replace(t, old, v);
	if (obj->tree->err != JTREE_OK)
		return obj->tree->err;
	if (like != NULL) {
		v->name = like->name;
		v->namelen = like->namelen;
		v->key = like->key;
		v->keylen = like->keylen;
	} else if (name_new(t, v, name, len) == -1)
		return t->err;
	if (obj->k->n != obj->k->live && obj->k->n >= 2 * obj->k->live + 8)
		compact(obj->k);
	return link_at(t, obj, obj->k->n, v);
}

enum jtree_err
jtree_set(struct jtree *t, struct jnode *obj, const char *name, size_t len,
    struct jnode *v)
{
	return set_member(t, obj, name, len, NULL, v);
}

enum jtree_err
jtree_set_as(struct jtree *t, struct jnode *obj, const struct jnode *m,
    struct jnode *v)
{
	if (m->name == NULL)
		return t->err != JTREE_OK ? t->err : JTREE_NOMEM;
	return set_member(t, obj, m->key, m->keylen, m, v);
}

enum jtree_err
jtree_insert(struct jtree *t, struct jnode *arr, size_t i, struct jnode *v)
{
	if (t->err != JTREE_OK || arr->type != JTREE_ARRAY || expand(arr) == -1)
		return t->err != JTREE_OK ? t->err : JTREE_NOMEM;
	return link_at(t, arr, i, v);
}

enum jtree_err
jtree_replace(struct jtree *t, struct jnode *x, struct jnode *v)
{
	struct jnode	*p = x->up;
	struct kids	*k;
	struct jnode	**slot;

	if (t->err != JTREE_OK)
		return t->err;
	if (p == NULL)
		return JTREE_OK;	/* the caller's root: nothing links it */
	if (v->size > x->size && grow(t, p, v->size - x->size) == -1)
		return t->err;
	if (v->size < x->size)
		shrink(p, x->size - v->size);
	k = p->k;
	v->up = p;
	v->pos = x->pos;
	k->v[x->pos] = v;
	if (p->type == JTREE_OBJECT) {
		v->name = x->name;
		v->namelen = x->namelen;
		v->key = x->key;
		v->keylen = x->keylen;
		if (k->idx != NULL &&
		    (slot = idx_slot(p->tree, k, x->key, x->keylen)) != NULL)
			*slot = v;
	}
	x->up = NULL;
	return JTREE_OK;
}

void
jtree_remove(struct jnode *x)
{
	struct jnode	*p = x->up;
	struct kids	*k;
	struct jnode	**slot;
	size_t		  j;

	if (p == NULL)
		return;
	k = p->k;
	k->live--;
	shrink(p, x->size + overhead(p, x));
	if (p->type == JTREE_OBJECT) {
		k->v[x->pos] = NULL;
		if (k->idx != NULL &&
		    (slot = idx_slot(p->tree, k, x->key, x->keylen)) != NULL)
			*slot = &tomb;
	} else {
		memmove(k->v + x->pos, k->v + x->pos + 1,
		    (k->n - x->pos - 1) * sizeof(*k->v));
		k->n--;
		for (j = x->pos; j < k->n; j++)
			k->v[j]->pos = j;
	}
	x->up = NULL;
}

/* ---- comparing -------------------------------------------------------- */

static int
is_integer_text(const char *s)
{
	return strpbrk(s, ".eE") == NULL;
}

/* Numbers by value; integers exactly (only 0 and -0 are spelled apart). */
static int
number_equal(const char *a, const char *b)
{
	if (strcmp(a, b) == 0)
		return 1;
	if (is_integer_text(a) && is_integer_text(b))
		return (strcmp(a, "-0") == 0 || strcmp(a, "0") == 0) &&
		    (strcmp(b, "-0") == 0 || strcmp(b, "0") == 0);
	return strtod(a, NULL) == strtod(b, NULL);
}

int
jtree_equal(struct jtree *t, struct jnode *a, struct jnode *b)
{
	struct jnode	*x, *y;
	const char	*na, *nb;
	size_t		 i, n;

	if (a->type != b->type)
		return 0;
	switch (a->type) {
	case JTREE_NUMBER:
		na = jtree_number(a);
		nb = jtree_number(b);
		return na != NULL && nb != NULL && number_equal(na, nb);
	case JTREE_STRING:
		return json_str_cmp(a->raw, a->rawlen, b->raw, b->rawlen) == 0;
	case JTREE_ARRAY:
	case JTREE_OBJECT:
		if ((n = jtree_count(a)) != jtree_count(b))
			return 0;
		for (i = 0; i < n; i++) {
			x = jtree_at(a, i);
			y = a->type == JTREE_ARRAY ? jtree_at(b, i) :
			    jtree_get(b, x->key, x->keylen);
			if (y == NULL || !jtree_equal(t, x, y))
				return 0;
		}
		return 1;
	default:		/* true, false, null */
		return 1;
	}
}

/* ---- writing ---------------------------------------------------------- */

/* Writes x's compact text at d; returns the end. */
static char *
write_node(const struct jnode *x, char *d)
{
	const struct jnode	*c;
	size_t			 i, k = 0;

	if (x->k == NULL) {
		memcpy(d, x->raw, x->rawlen);
		return d + x->rawlen;
	}
	*d++ = x->type == JTREE_OBJECT ? '{' : '[';
	for (i = 0; i < x->k->n; i++) {
		if ((c = x->k->v[i]) == NULL)
			continue;
		if (k++ > 0)
			*d++ = ',';
		if (x->type == JTREE_OBJECT) {
			memcpy(d, c->name, c->namelen);
			d += c->namelen;
			*d++ = ':';
		}
		d = write_node(c, d);
	}
	*d++ = x->type == JTREE_OBJECT ? '}' : ']';
	return d;
}

enum jtree_err
jtree_write(struct jtree *t, struct jnode *x, char **out, size_t *len)
{
	char	*d;

	*out = NULL;
	*len = 0;
	if (t->err != JTREE_OK)
		return t->err;
	if (x->size > t->max_size)
		return t->err = JTREE_TOO_LARGE;
	if ((d = malloc(x->size + 1)) == NULL)
		return t->err = JTREE_NOMEM;
	*len = (size_t)(write_node(x, d) - d);
	d[*len] = '\0';
	*out = d;
	return JTREE_OK;
}
