/*
 * act.c - activity sets over the text of their items; see act.h.
 *
 * An item is a span of compact JSON and its id's bytes. A request's items
 * live in a compact copy of its body; a bucket's in a copy of its stored
 * text, made when the bucket is first needed (a store_io_put moves the
 * store's memory). Each bucket gets an index by id, keyed with a random
 * key, when first searched, so upserts and deletes cost O(1) each; a
 * split counts the items per bucket for each candidate count, then routes
 * every item once into the count it chose.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/act.h"
#include "lib/buf.h"
#include "lib/hash.h"
#include "json/json.h"
#include "model/key.h"

#define PREFIX	"_act/"				/* where every set lives */
#define KEY_MAX	(5 + ACT_NAME_MAX + 1 + 20)	/* _act/S/manifest, _act/S/i */
#define ID_MAX	1024				/* bytes of an id */

struct item {
	const char	*text;		/* compact JSON; NULL: deleted */
	size_t		 len;
	const char	*id;		/* a string's bytes, an integer's text */
	size_t		 idlen;
	uint64_t	 h;		/* fnv1a64 of the id: its route */
	char		*own;		/* id decoded into memory of its own */
};

struct items {
	struct item	*v;
	size_t		 n, cap;
};

/* Positions + 1 of items, by a keyed hash of their ids; 0 is empty. */
struct index {
	size_t		*slot;
	size_t		 cap;
	uint64_t	 key;
};

struct act_post {
	struct buf	 text;		/* the body, compact */
	struct items	 up;		/* upserts */
	struct items	 del;		/* ids to delete */
};

int
act_name_valid(const char *name, size_t n)
{
	struct key	 k;

	return n > 0 && n <= ACT_NAME_MAX && memchr(name, '/', n) == NULL &&
	    key_check(name, n, &k) == KEY_OK && !k.prefix;
}

int
act_is_key(const char *key, size_t n)
{
	return n >= sizeof(PREFIX) - 1 &&
	    memcmp(key, PREFIX, sizeof(PREFIX) - 1) == 0;
}

size_t
act_set_prefix(char *out, size_t outsz, const char *name, size_t n)
{
	int	 k = snprintf(out, outsz, PREFIX "%.*s/", (int)n, name);

	return k < 0 ? 0 : (size_t)k < outsz ? (size_t)k : outsz - 1;
}

size_t
act_manifest_key(char *out, size_t outsz, const char *name, size_t n)
{
	int	 k = snprintf(out, outsz, PREFIX "%.*s/manifest", (int)n, name);

	return k < 0 ? 0 : (size_t)k < outsz ? (size_t)k : outsz - 1;
}

/* ---- items -------------------------------------------------------------- */

static void
items_free(struct items *it)
{
	size_t	 i;

	for (i = 0; i < it->n; i++)
		free(it->v[i].own);
	free(it->v);
	memset(it, 0, sizeof(*it));
}

static struct item *
items_push(struct items *it)
{
	struct item	*v;
	size_t		 cap;

	if (it->n == it->cap) {
		cap = it->cap ? it->cap * 2 : 16;
		if ((v = realloc(it->v, cap * sizeof(*v))) == NULL)
			return NULL;
		it->v = v;
		it->cap = cap;
	}
	memset(&it->v[it->n], 0, sizeof(it->v[0]));
	return &it->v[it->n++];
}

/*
 * Reads an id (a string or an integer) from the checked value v into x.
 * Returns ACT_OK, ACT_INVALID when v is no id, or ACT_NOMEM.
 */
static enum act_err
id_read(struct json_span v, struct item *x)
{
	size_t	 i = 0;

	if (v.n >= 2 && v.p[0] == '"') {
		/* ID_MAX decoded bytes; an escape is at most 6 bytes a byte */
		if (v.n - 2 > 6 * ID_MAX)
			return ACT_INVALID;
		if (memchr(v.p, '\\', v.n) == NULL) {
			x->id = v.p + 1;
			x->idlen = v.n - 2;
		} else {
			if ((x->own = malloc(v.n)) == NULL)
				return ACT_NOMEM;
			x->idlen = json_decode(v.p, v.n, x->own);
			x->id = x->own;
		}
		if (x->idlen > ID_MAX)
			return ACT_INVALID;
	} else {
		/* an integer's exact text: -?(0|[1-9][0-9]*) */
		if (v.n > 0 && v.p[0] == '-')
			i++;
		if (i >= v.n || v.n > 40 || (v.p[i] == '0' && v.n > i + 1))
			return ACT_INVALID;
		for (; i < v.n; i++)
			if (v.p[i] < '0' || v.p[i] > '9')
				return ACT_INVALID;
		x->id = v.p;
		x->idlen = v.n;
	}
	x->h = hash_fnv1a64(x->id, x->idlen);
	return ACT_OK;
}

/* Reads the item at v (checked, compact text): an object with an id. */
static enum act_err
item_read(struct json_span v, struct item *x)
{
	struct json_span	 m;
	char			 name[4];
	size_t			 it = 0, nlen;

	x->text = v.p;
	x->len = v.n;
	if (v.n == 0 || v.p[0] != '{')
		return ACT_INVALID;
	while (json_member(v.p, v.n, &it, name, sizeof(name), &nlen, &m) == 1)
		if (json_name_is(name, nlen, "id"))
			return id_read(m, x);
	return ACT_INVALID;
}

static int
id_eq(const struct item *a, const struct item *b)
{
	return a->idlen == b->idlen && memcmp(a->id, b->id, a->idlen) == 0;
}

/* ---- the index ---------------------------------------------------------- */

static void
index_free(struct index *ix)
{
	free(ix->slot);
	memset(ix, 0, sizeof(*ix));
}

static size_t
index_home(const struct index *ix, const struct item *x)
{
	return (size_t)hash_keyed(ix->key, x->id, x->idlen) & (ix->cap - 1);
}

/* Where x's id is (its position + 1 in the slot), or the empty slot. */
static size_t *
index_find(const struct index *ix, const struct items *it,
    const struct item *x)
{
	size_t	 i = index_home(ix, x);

	while (ix->slot[i] != 0 && !id_eq(&it->v[ix->slot[i] - 1], x))
		i = (i + 1) & (ix->cap - 1);
	return &ix->slot[i];
}

/* An empty index with room for n ids; -1 out of memory. */
static int
index_init(struct index *ix, size_t n)
{
	size_t	 cap = 16;

	while (cap < 2 * (n + 1))
		cap *= 2;
	free(ix->slot);
	if ((ix->slot = calloc(cap, sizeof(*ix->slot))) == NULL)
		return -1;
	ix->cap = cap;
	if (ix->key == 0)
		ix->key = hash_key();
	return 0;
}

/* (Re)builds the index of it with room to grow; -1 out of memory. */
static int
index_build(struct index *ix, const struct items *it)
{
	size_t	 i, *s;

	if (index_init(ix, it->n) == -1)
		return -1;
	for (i = 0; i < it->n; i++)
		if (it->v[i].text != NULL &&
		    *(s = index_find(ix, it, &it->v[i])) == 0)
			*s = i + 1;
	return 0;
}

/* ---- parsing the request ----------------------------------------------- */

void
act_post_free(struct act_post *p)
{
	if (p == NULL)
		return;
	buf_free(&p->text);
	items_free(&p->up);
	items_free(&p->del);
	free(p);
}

/* Reads the array at v into it, as items or as bare ids. */
static enum act_err
read_list(struct json_span v, struct items *it, int ids)
{
	struct json_span	 e;
	struct item		*x;
	size_t			 k = 0;
	enum act_err		 err;

	if (v.p[0] != '[')
		return ACT_INVALID;
	while (json_element(v.p, v.n, &k, &e) == 1) {
		if ((x = items_push(it)) == NULL)
			return ACT_NOMEM;
		if ((err = ids ? id_read(e, x) : item_read(e, x)) != ACT_OK)
			return err;
	}
	return ACT_OK;
}

/* Checks that no id comes twice among a and b. */
static enum act_err
ids_distinct(const struct items *a, const struct items *b)
{
	struct items	 all = { NULL, 0, 0 };
	struct index	 ix = { NULL, 0, 0 };
	size_t		 i, *s;
	enum act_err	 err = ACT_NOMEM;

	if (a->n + b->n == 0)
		return ACT_OK;
	if ((all.v = malloc((a->n + b->n) * sizeof(*all.v))) == NULL)
		return ACT_NOMEM;
	if (a->n > 0)
		memcpy(all.v, a->v, a->n * sizeof(*all.v));
	if (b->n > 0)
		memcpy(all.v + a->n, b->v, b->n * sizeof(*all.v));
	if (index_init(&ix, a->n + b->n) == -1)
		goto out;
	err = ACT_INVALID;
	for (all.n = 1; all.n <= a->n + b->n; all.n++) {
		i = all.n - 1;
		if (*(s = index_find(&ix, &all, &all.v[i])) != 0)
			goto out;
		*s = i + 1;
	}
	err = ACT_OK;
out:
	free(all.v);
	index_free(&ix);
	return err;
}

enum act_err
act_post_parse(const char *body, size_t n, struct act_post **out)
{
	struct act_post		*p;
	struct json_span	 v;
	char			 name[8];
	size_t			 it = 0, nlen;
	int			 rc, seen_up = 0, seen_del = 0;
	enum act_err		 err = ACT_NOMEM;

	*out = NULL;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return ACT_NOMEM;
	/* items are stored as sent, compact: spans of one compact copy */
	json_compact(&p->text, body, n);
	if (p->text.oom)
		goto out;
	err = ACT_INVALID;
	while ((rc = json_member(p->text.p, p->text.len, &it, name,
	    sizeof(name), &nlen, &v)) == 1) {
		if (json_name_is(name, nlen, "upsert") && !seen_up++)
			err = read_list(v, &p->up, 0);
		else if (json_name_is(name, nlen, "delete") && !seen_del++)
			err = read_list(v, &p->del, 1);
		else
			err = ACT_INVALID;
		if (err != ACT_OK)
			goto out;
	}
	if (rc == -1 || (err = ids_distinct(&p->up, &p->del)) != ACT_OK) {
		if (rc == -1)
			err = ACT_INVALID;
		goto out;
	}
	*out = p;
	p = NULL;
	err = ACT_OK;
out:
	act_post_free(p);
	return err;
}

/* ---- a set inside one transaction --------------------------------------- */

struct bucket {
	struct items	 it;		/* spans into the set's texts */
	struct index	 ix;
	size_t		 live;
	int		 loaded;
	int		 dirty;
};

struct set {
	const char		*name;
	size_t			 n;
	int			 exists;
	size_t			 b;		/* bucket count */
	struct store_meta	 mmeta;		/* the manifest's */
	uint64_t		*ver;		/* each bucket's version */
	struct bucket		*bk;
	char			**texts;	/* copies of the buckets read */
	size_t			 ntexts;
	int			 write_all;	/* new, or B changed: every key */
	int			 manifest_dirty;
};

static size_t
key_name(char *out, const char *name, size_t n, const char *what)
{
	return (size_t)snprintf(out, KEY_MAX + 1, PREFIX "%.*s/%s", (int)n,
	    name, what);
}

static size_t
bucket_name(char *out, const char *name, size_t n, size_t i)
{
	char	 num[24];

	snprintf(num, sizeof(num), "%zu", i);
	return key_name(out, name, n, num);
}

static void
buckets_free(struct bucket *bk, size_t b)
{
	size_t	 i;

	for (i = 0; bk != NULL && i < b; i++) {
		items_free(&bk[i].it);
		index_free(&bk[i].ix);
	}
	free(bk);
}

static void
set_free(struct set *s)
{
	size_t	 i;

	buckets_free(s->bk, s->b);
	for (i = 0; i < s->ntexts; i++)
		free(s->texts[i]);
	free(s->texts);
	free(s->ver);
	memset(s, 0, sizeof(*s));
}

static uint64_t
set_etag(const struct set *s)
{
	uint64_t	 e = s->mmeta.version;
	size_t		 i;

	for (i = 0; i < s->b; i++)
		e += s->ver[i];
	return e;
}

/*
 * Reads a manifest's bucket count: 0 when m[0..n) is not
 * {"bucket_count": B, "buckets": ["_act/S/0", ... "_act/S/B-1"]} for name.
 */
static size_t
manifest_count(const char *m, size_t n, const char *name, size_t nn)
{
	struct json_span	 v, bc = { NULL, 0 }, bs = { NULL, 0 }, e;
	char			 mname[16], want[KEY_MAX + 1], got[KEY_MAX + 1];
	size_t			 it = 0, nlen, k = 0, i = 0, wl;
	uint64_t		 b;
	long			 gl;

	if (n == 0 || m[0] != '{')
		return 0;
	while (json_member(m, n, &it, mname, sizeof(mname), &nlen, &v) == 1) {
		if (json_name_is(mname, nlen, "bucket_count") && bc.p == NULL)
			bc = v;
		else if (json_name_is(mname, nlen, "buckets") && bs.p == NULL)
			bs = v;
		else
			return 0;
	}
	if (bc.p == NULL || bs.p == NULL || bs.p[0] != '[' ||
	    json_uint(bc, &b) == -1 || b < 1 || b > (1 << 20))
		return 0;
	while (json_element(bs.p, bs.n, &k, &e) == 1) {
		wl = bucket_name(want, name, nn, i++);
		if (i > b || (gl = json_string(e, got, sizeof(got))) < 0 ||
		    (size_t)gl != wl || memcmp(got, want, wl) != 0)
			return 0;
	}
	return i == b ? (size_t)b : 0;
}

static enum act_err
set_alloc(struct set *s, size_t b)
{
	s->b = b;
	if ((s->ver = calloc(b, sizeof(*s->ver))) == NULL ||
	    (s->bk = calloc(b, sizeof(*s->bk))) == NULL)
		return ACT_NOMEM;
	return ACT_OK;
}

/* Loads the manifest and the buckets' versions (no bucket is read). */
static enum act_err
set_load(store_io *io, const char *name, size_t n, struct set *s)
{
	char			 key[KEY_MAX + 1];
	const char		*v;
	size_t			 vlen, b = 1, i;
	struct store_meta	 m;
	enum store_err		 e;
	enum act_err		 err;

	memset(s, 0, sizeof(*s));
	s->name = name;
	s->n = n;
	e = store_io_get(io, key, key_name(key, name, n, "manifest"), &s->mmeta,
	    &v, &vlen);
	if (e == STORE_OK) {
		if ((b = manifest_count(v, vlen, name, n)) == 0)
			return ACT_CORRUPT;
		s->exists = 1;
	} else if (e != STORE_NOTFOUND && e != STORE_DELETED)
		return ACT_STORE;
	if (!s->exists)
		memset(&s->mmeta, 0, sizeof(s->mmeta));
	if ((err = set_alloc(s, b)) != ACT_OK)
		return err;
	for (i = 0; i < b && s->exists; i++) {
		e = store_io_get(io, key, bucket_name(key, name, n, i), &m, &v,
		    &vlen);
		if (e != STORE_OK)
			return e == STORE_NOTFOUND || e == STORE_DELETED ?
			    ACT_CORRUPT : ACT_STORE;
		s->ver[i] = m.version;
	}
	return ACT_OK;
}

/* Reads a bucket's value text[0..n) (compact) into bk's items. */
static enum act_err
bucket_parse(struct bucket *bk, const char *text, size_t n)
{
	struct json_span	 e;
	struct item		*x;
	size_t			 k = 0;
	enum act_err		 err;

	if (n == 0 || text[0] != '[')
		return ACT_BAD_SET;
	while (json_element(text, n, &k, &e) == 1) {
		if ((x = items_push(&bk->it)) == NULL)
			return ACT_NOMEM;
		if ((err = item_read(e, x)) != ACT_OK)
			return err == ACT_INVALID ? ACT_BAD_SET : err;
		bk->live++;
	}
	bk->loaded = 1;
	return ACT_OK;
}

/* Keeps a copy of text[0..n) for as long as the set; NULL out of memory. */
static char *
set_text(struct set *s, const char *text, size_t n)
{
	char	**v, *t;

	if ((v = realloc(s->texts, (s->ntexts + 1) * sizeof(*v))) == NULL)
		return NULL;
	s->texts = v;
	if ((t = malloc(n + 1)) == NULL)
		return NULL;
	memcpy(t, text, n);
	t[n] = '\0';
	return s->texts[s->ntexts++] = t;
}

/* Reads bucket i from the store, once. */
static enum act_err
set_bucket(store_io *io, struct set *s, size_t i)
{
	char			 key[KEY_MAX + 1];
	const char		*v;
	char			*t;
	size_t			 vlen;
	struct store_meta	 m;
	enum store_err		 e;
	enum act_err		 err;

	if (s->bk[i].loaded)
		return ACT_OK;
	e = store_io_get(io, key, bucket_name(key, s->name, s->n, i), &m, &v,
	    &vlen);
	if (e == STORE_NOTFOUND || e == STORE_DELETED) {
		s->bk[i].loaded = 1;
		return ACT_OK;
	}
	if (e != STORE_OK)
		return ACT_STORE;
	/* a copy: the store's memory moves with the next write */
	if ((t = set_text(s, v, vlen)) == NULL)
		return ACT_NOMEM;
	err = bucket_parse(&s->bk[i], t, vlen);
	return err == ACT_BAD_SET ? ACT_CORRUPT : err;
}

/* The slot of id x in bucket bk (building its index on first use). */
static size_t *
bucket_slot(struct bucket *bk, const struct item *x)
{
	if (bk->ix.slot == NULL && index_build(&bk->ix, &bk->it) == -1)
		return NULL;
	return index_find(&bk->ix, &bk->it, x);
}

/* Upserts x into bk; 1 when it replaced an item, -1 out of memory. */
static int
bucket_upsert(struct bucket *bk, const struct item *x)
{
	size_t		*s;
	struct item	*y;

	if ((s = bucket_slot(bk, x)) == NULL)
		return -1;
	if (*s != 0) {
		y = &bk->it.v[*s - 1];
		if (y->text == NULL)
			bk->live++;	/* deleted earlier in this request */
		y->text = x->text;	/* the id is the same bytes */
		y->len = x->len;
		return 1;
	}
	if ((y = items_push(&bk->it)) == NULL)
		return -1;
	*y = *x;
	y->own = NULL;		/* x keeps its memory */
	*s = bk->it.n;
	bk->live++;
	if (bk->it.n * 2 >= bk->ix.cap && index_build(&bk->ix, &bk->it) == -1)
		return -1;
	return 0;
}

/* Deletes id x from bk: 1 when it was there, -1 out of memory. */
static int
bucket_delete(struct bucket *bk, const struct item *x)
{
	size_t	*s;

	if ((s = bucket_slot(bk, x)) == NULL)
		return -1;
	if (*s == 0 || bk->it.v[*s - 1].text == NULL)
		return 0;
	/* a hole; the slot keeps the id, so an upsert may fill it again */
	bk->it.v[*s - 1].text = NULL;
	bk->live--;
	return 1;
}

/*
 * Splits the set while a bucket holds more than max_items and the count
 * may double (up to max_buckets): counts the items per bucket for each
 * candidate count, then moves every item once, keeping stored order.
 */
static enum act_err
set_split(store_io *io, struct set *s, const struct act_limits *lim)
{
	struct bucket	*nb;
	struct item	*x;
	uint64_t	*ver;
	size_t		*count = NULL, i, j, b2, most;
	enum act_err	 err;

	for (i = 0, most = 0; i < s->b; i++)
		if (s->bk[i].live > most)
			most = s->bk[i].live;
	if (most <= lim->max_items || s->b * 2 > lim->max_buckets)
		return ACT_OK;
	for (i = 0; i < s->b; i++)
		if ((err = set_bucket(io, s, i)) != ACT_OK)
			return err;
	for (b2 = s->b * 2; ; b2 *= 2) {
		free(count);
		if ((count = calloc(b2, sizeof(*count))) == NULL)
			return ACT_NOMEM;
		most = 0;
		for (i = 0; i < s->b; i++)
			for (j = 0; j < s->bk[i].it.n; j++) {
				x = &s->bk[i].it.v[j];
				if (x->text != NULL && ++count[x->h % b2] > most)
					most = count[x->h % b2];
			}
		if (most <= lim->max_items || b2 * 2 > lim->max_buckets)
			break;
	}
	err = ACT_NOMEM;
	if ((nb = calloc(b2, sizeof(*nb))) == NULL ||
	    (ver = calloc(b2, sizeof(*ver))) == NULL) {
		free(nb);
		goto out;
	}
	for (i = 0; i < b2; i++) {
		nb[i].loaded = 1;
		nb[i].it.cap = count[i];
		if (count[i] > 0 && (nb[i].it.v = malloc(count[i] *
		    sizeof(*nb[i].it.v))) == NULL) {
			buckets_free(nb, b2);
			free(ver);
			goto out;
		}
	}
	for (i = 0; i < s->b; i++)
		for (j = 0; j < s->bk[i].it.n; j++) {
			x = &s->bk[i].it.v[j];
			if (x->text == NULL)
				continue;
			nb[x->h % b2].it.v[nb[x->h % b2].it.n++] = *x;
			nb[x->h % b2].live++;
			x->own = NULL;		/* moved with the item */
		}
	buckets_free(s->bk, s->b);
	free(s->ver);
	s->bk = nb;
	s->ver = ver;
	s->b = b2;
	s->write_all = 1;
	err = ACT_OK;
out:
	free(count);
	return err;
}

/* A bucket's text: [items...], in buf b; ACT_TOO_LARGE past max. */
static enum act_err
bucket_text(const struct bucket *bk, struct buf *b, size_t max)
{
	size_t	 i, k = 0, len = 2;

	for (i = 0; i < bk->it.n; i++)
		if (bk->it.v[i].text != NULL)
			len += bk->it.v[i].len + (k++ > 0);
	if (len > max)
		return ACT_TOO_LARGE;
	buf_reset(b);
	buf_add(b, "[", 1);
	for (i = 0, k = 0; i < bk->it.n; i++) {
		if (bk->it.v[i].text == NULL)
			continue;
		if (k++ > 0)
			buf_add(b, ",", 1);
		buf_add(b, bk->it.v[i].text, bk->it.v[i].len);
	}
	buf_add(b, "]", 1);
	return b->oom ? ACT_NOMEM : ACT_OK;
}

/*
 * Writes the changed buckets, and the manifest when new or resized. Every
 * bucket's size is checked first: a write that fails writes nothing.
 */
static enum act_err
set_write(store_io *io, struct set *s, const struct act_limits *lim)
{
	char			 key[KEY_MAX + 1];
	struct store_meta	 m;
	struct buf		 t = { 0 };
	size_t			 i, kl, k, len;
	enum act_err		 err = ACT_OK;

	if (!s->exists)
		s->write_all = 1;
	for (i = 0; i < s->b; i++) {
		if (!s->bk[i].dirty && !s->write_all)
			continue;
		if (!s->bk[i].loaded && s->exists)
			return ACT_CORRUPT;	/* only a new set's are unread */
		for (k = 0, len = 2; k < s->bk[i].it.n; k++)
			if (s->bk[i].it.v[k].text != NULL)
				len += s->bk[i].it.v[k].len + 1;
		if (len > lim->max_value + 1)
			return ACT_TOO_LARGE;
	}
	for (i = 0; i < s->b && err == ACT_OK; i++) {
		if (!s->bk[i].dirty && !s->write_all)
			continue;
		if ((err = bucket_text(&s->bk[i], &t, lim->max_value)) != ACT_OK)
			break;
		kl = bucket_name(key, s->name, s->n, i);
		if (store_io_put(io, key, kl, t.p, t.len, &m) != STORE_OK)
			err = ACT_STORE;
		else
			s->ver[i] = m.version;
	}
	if (err != ACT_OK || (!s->write_all && !s->manifest_dirty))
		goto out;
	buf_reset(&t);
	buf_puts(&t, "{\"bucket_count\":");
	buf_u64(&t, s->b);
	buf_puts(&t, ",\"buckets\":[");
	for (i = 0; i < s->b; i++) {
		kl = bucket_name(key, s->name, s->n, i);
		if (i > 0)
			buf_puts(&t, ",");
		buf_json_str(&t, key, kl);
	}
	buf_puts(&t, "]}");
	if (t.oom) {
		err = ACT_NOMEM;
		goto out;
	}
	if (store_io_put(io, key, key_name(key, s->name, s->n, "manifest"),
	    t.p, t.len, &s->mmeta) != STORE_OK)
		err = ACT_STORE;
out:
	buf_free(&t);
	return err;
}

enum act_err
act_post_apply(store_io *io, const char *name, size_t n,
    const struct act_post *p, const struct act_limits *lim,
    const uint64_t *if_match, struct act_result *res)
{
	struct set	 s;
	size_t		 i, j;
	int		 r;
	enum act_err	 err;

	memset(res, 0, sizeof(*res));
	if ((err = set_load(io, name, n, &s)) != ACT_OK)
		goto out;
	if (if_match != NULL && *if_match != set_etag(&s)) {
		err = ACT_PRECOND;
		goto out;
	}
	for (i = 0; i < p->del.n; i++) {
		j = (size_t)(p->del.v[i].h % s.b);
		if ((err = set_bucket(io, &s, j)) != ACT_OK)
			goto out;
		if ((r = bucket_delete(&s.bk[j], &p->del.v[i])) == -1) {
			err = ACT_NOMEM;
			goto out;
		}
		s.bk[j].dirty |= r;
		res->deleted += (size_t)r;
	}
	for (i = 0; i < p->up.n; i++) {
		j = (size_t)(p->up.v[i].h % s.b);
		if ((err = set_bucket(io, &s, j)) != ACT_OK)
			goto out;
		if (bucket_upsert(&s.bk[j], &p->up.v[i]) == -1) {
			err = ACT_NOMEM;
			goto out;
		}
		s.bk[j].dirty = 1;
		res->upserted++;
	}
	if ((err = set_split(io, &s, lim)) != ACT_OK ||
	    (err = set_write(io, &s, lim)) != ACT_OK)
		goto out;
	res->etag = set_etag(&s);
	res->bucket_count = s.b;
out:
	set_free(&s);
	return err;
}

/* Splits "_act/S/rest" into S and rest; -1 when it is not such a key. */
static int
split_key(const char *key, size_t klen, const char **name, size_t *n,
    const char **rest)
{
	const char	*slash;

	if (klen < 7 || !act_is_key(key, klen) ||
	    (slash = memchr(key + 5, '/', klen - 5)) == NULL)
		return -1;
	*name = key + 5;
	*n = (size_t)(slash - *name);
	*rest = slash + 1;
	if (!act_name_valid(*name, *n) || memchr(*rest, '/', klen -
	    (size_t)(*rest - key)) != NULL)
		return -1;
	return 0;
}

/* Checks that bk (bucket i of b) holds distinct ids routed to it. */
static int
bucket_valid(struct bucket *bk, size_t i, size_t b)
{
	size_t	 j, *s;

	if (bk->ix.slot == NULL && index_build(&bk->ix, &bk->it) == -1)
		return 0;
	for (j = 0; j < bk->it.n; j++) {
		if (bk->it.v[j].h % b != i ||
		    (s = index_find(&bk->ix, &bk->it, &bk->it.v[j])) == NULL ||
		    *s != j + 1)
			return 0;	/* elsewhere, or an id seen before */
	}
	return 1;
}

enum act_err
act_put_key(store_io *io, const char *key, size_t klen, const char *value,
    size_t vlen, const struct act_limits *lim, struct store_meta *meta)
{
	struct set	 s;
	const char	*name, *rest, *v;
	size_t		 n, b, i;
	char		*end, *t;
	enum act_err	 err = ACT_BAD_SET;

	memset(&s, 0, sizeof(s));
	memset(meta, 0, sizeof(*meta));
	if (split_key(key, klen, &name, &n, &rest) == -1)
		goto out;
	if ((err = set_load(io, name, n, &s)) != ACT_OK)
		goto out;
	err = ACT_BAD_SET;
	if (strcmp(rest, "manifest") == 0) {
		/* it must describe the buckets as they are */
		if ((b = manifest_count(value, vlen, name, n)) == 0 ||
		    (s.exists && b != s.b) || (!s.exists && b > lim->max_buckets))
			goto out;
		if (!s.exists) {
			set_free(&s);
			s.name = name;
			s.n = n;
			if ((err = set_alloc(&s, b)) != ACT_OK)
				goto out;
			for (i = 0; i < b; i++) {
				if ((err = set_bucket(io, &s, i)) != ACT_OK)
					goto out;
				if (!bucket_valid(&s.bk[i], i, b)) {
					err = ACT_BAD_SET;
					goto out;
				}
			}
		}
		s.manifest_dirty = 1;	/* the buckets stay as they are */
		err = set_write(io, &s, lim);
		*meta = s.mmeta;
		goto out;
	}
	i = strtoul(rest, &end, 10);
	if (!s.exists || *rest < '0' || *rest > '9' || *end != '\0' ||
	    (rest[0] == '0' && rest[1] != '\0') || i >= s.b)
		goto out;
	err = ACT_NOMEM;
	if ((t = set_text(&s, value, vlen)) == NULL)
		goto out;
	if ((err = bucket_parse(&s.bk[i], t, vlen)) != ACT_OK)
		goto out;
	err = ACT_BAD_SET;
	if (!bucket_valid(&s.bk[i], i, s.b))
		goto out;
	s.bk[i].dirty = 1;
	if ((err = set_split(io, &s, lim)) != ACT_OK ||
	    (err = set_write(io, &s, lim)) != ACT_OK)
		goto out;
	/* after a split, bucket i of the new count */
	if (store_io_get(io, key, klen, meta, &v, &n) != STORE_OK)
		err = ACT_STORE;
out:
	set_free(&s);
	return err;
}

/* ---- reading ------------------------------------------------------------ */

/* Counts the elements of a stored (valid) array. */
static size_t
count_items(const char *v, size_t n)
{
	struct json_span	 x;
	size_t			 it = 0, k = 0;

	while (json_element(v, n, &it, &x) == 1)
		k++;
	return k;
}

enum act_err
act_get(store_io *io, const char *name, size_t n, long bucket, struct jw *w,
    uint64_t *etag)
{
	struct set	 s;
	char		 key[KEY_MAX + 1], tag[24];
	const char	*v;
	size_t		 vlen, i, kl, first, last;
	struct store_meta m;
	enum act_err	 err;

	if ((err = set_load(io, name, n, &s)) != ACT_OK)
		goto out;
	err = ACT_NOT_FOUND;
	if (!s.exists || (bucket >= 0 && (size_t)bucket >= s.b))
		goto out;
	*etag = set_etag(&s);
	first = bucket >= 0 ? (size_t)bucket : 0;
	last = bucket >= 0 ? (size_t)bucket + 1 : s.b;
	snprintf(tag, sizeof(tag), "\"%llu\"", (unsigned long long)*etag);
	jw_obj(w, NULL);
	jw_str(w, "set", name, n);
	jw_strz(w, "etag", tag);
	jw_arr(w, "items");
	/* each bucket's items straight from the store into the answer */
	for (i = first; i < last; i++) {
		kl = bucket_name(key, name, n, i);
		if (store_io_get(io, key, kl, &m, &v, &vlen) != STORE_OK) {
			err = ACT_CORRUPT;
			goto out;
		}
		while (vlen > 0 && v[vlen - 1] != ']')
			vlen--;
		if (vlen < 2 || v[0] != '[') {
			err = ACT_CORRUPT;
			goto out;
		}
		jw_splice(w, v, vlen);
	}
	jw_close(w);
	jw_arr(w, "buckets");
	for (i = first; i < last; i++) {
		kl = bucket_name(key, name, n, i);
		if (store_io_get(io, key, kl, &m, &v, &vlen) != STORE_OK) {
			err = ACT_CORRUPT;
			goto out;
		}
		jw_obj(w, NULL);
		jw_str(w, "key", key, kl);
		jw_u64(w, "version", m.version);
		jw_u64(w, "count", count_items(v, vlen));
		jw_close(w);
	}
	jw_close(w);
	jw_close(w);
	err = w->b->oom ? ACT_NOMEM : ACT_OK;
out:
	set_free(&s);
	return err;
}
