/* act.c - activity sets on cJSON trees with exact numbers; see act.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "act.h"
#include "json.h"

/* ---- cJSON trees whose numbers keep their text -------------------------- */

/* Finds the next number token of valid JSON s at or after *pos. */
static int
next_number(const char *s, size_t n, size_t *pos, size_t *start, size_t *len)
{
	size_t	 i = *pos;

	while (i < n) {
		if (s[i] == '"') {
			for (i++; i < n && s[i] != '"'; i++)
				if (s[i] == '\\')
					i++;
			i++;
			continue;
		}
		if (s[i] == '-' || (s[i] >= '0' && s[i] <= '9')) {
			*start = i;
			while (i < n && strchr("+-.eE0123456789", s[i]) != NULL)
				i++;
			*len = i - *start;
			*pos = i;
			return 0;
		}
		i++;
	}
	return -1;
}

/*
 * Turns every number of the tree parsed from s into a raw node holding its
 * text: a tree's values in pre-order are the text's values in order.
 */
static int
rawify(cJSON *node, const char *s, size_t n, size_t *pos)
{
	size_t	 start, len;
	char	*t;

	for (; node != NULL; node = node->next) {
		if (cJSON_IsNumber(node)) {
			if (next_number(s, n, pos, &start, &len) == -1 ||
			    (t = malloc(len + 1)) == NULL)
				return -1;
			memcpy(t, s + start, len);
			t[len] = '\0';
			node->type = cJSON_Raw;
			node->valuestring = t;
		} else if (node->child != NULL &&
		    rawify(node->child, s, n, pos) == -1)
			return -1;
	}
	return 0;
}

/* Parses valid JSON text into a tree with exact numbers. */
static cJSON *
patch_parse_exact(const char *text, size_t n)
{
	cJSON	*root;
	size_t	 pos = 0;

	if ((root = cJSON_ParseWithLength(text, n)) == NULL)
		return NULL;
	if (rawify(root, text, n, &pos) == -1) {
		cJSON_Delete(root);
		return NULL;
	}
	return root;
}

#define KEY_MAX	(5 + ACT_NAME_MAX + 1 + 20)	/* _act/S/manifest, _act/S/i */

struct act_post {
	cJSON	*upsert;	/* an array of items, or NULL */
	cJSON	*del;		/* an array of ids, or NULL */
};

uint64_t
act_fnv1a64(const char *s, size_t n)
{
	uint64_t	 h = 0xcbf29ce484222325ULL;
	size_t		 i;

	for (i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

int
act_name_valid(const char *name, size_t n)
{
	size_t	 i;

	if (n == 0 || n > ACT_NAME_MAX || (n == 1 && name[0] == '.') ||
	    (n == 2 && name[0] == '.' && name[1] == '.'))
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f ||
		    name[i] == '/')
			return 0;
	return 1;
}

/* The text an id hashes as; NULL unless a string or an integer. */
static const char *
id_text(const cJSON *id)
{
	const char	*s;

	if (cJSON_IsString(id))
		return id->valuestring;
	if (id == NULL || (id->type & 0xff) != cJSON_Raw)
		return NULL;
	s = id->valuestring;		/* a number's exact text */
	if (*s == '-')
		s++;
	if (*s == '\0' || strspn(s, "0123456789") != strlen(s) ||
	    (s[0] == '0' && s[1] != '\0'))
		return NULL;
	return id->valuestring;
}

static const char *
item_id(const cJSON *item)
{
	return cJSON_IsObject(item) ?
	    id_text(cJSON_GetObjectItemCaseSensitive(item, "id")) : NULL;
}

static size_t
route(const char *id, size_t b)
{
	return (size_t)(act_fnv1a64(id, strlen(id)) % b);
}

static size_t
key_name(char *out, const char *name, size_t n, const char *what)
{
	return (size_t)snprintf(out, KEY_MAX + 1, "_act/%.*s/%s", (int)n, name,
	    what);
}

static size_t
bucket_name(char *out, const char *name, size_t n, size_t i)
{
	char	 num[24];

	snprintf(num, sizeof(num), "%zu", i);
	return key_name(out, name, n, num);
}

/* ---- parsing the request ----------------------------------------------- */

void
act_post_free(struct act_post *p)
{
	if (p == NULL)
		return;
	cJSON_Delete(p->upsert);
	cJSON_Delete(p->del);
	free(p);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

enum act_err
act_post_parse(const char *body, size_t n, struct act_post **out)
{
	struct act_post	*p = NULL;
	cJSON		*doc = NULL, *m, *x, *up = NULL, *dl = NULL;
	const char	**ids = NULL;
	size_t		 nids = 0, i;
	enum act_err	 err = ACT_NOMEM;

	*out = NULL;
	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (doc = patch_parse_exact(body, n)) == NULL)
		goto out;
	err = ACT_INVALID;
	if (!cJSON_IsObject(doc))
		goto out;
	for (m = doc->child; m != NULL; m = m->next) {
		if (strcmp(m->string, "upsert") == 0 && up == NULL &&
		    cJSON_IsArray(m))
			up = m;
		else if (strcmp(m->string, "delete") == 0 && dl == NULL &&
		    cJSON_IsArray(m))
			dl = m;
		else
			goto out;
	}
	if (up != NULL)
		p->upsert = cJSON_DetachItemViaPointer(doc, up);
	if (dl != NULL)
		p->del = cJSON_DetachItemViaPointer(doc, dl);
	/* every id valid, and none twice in the request */
	n = (size_t)cJSON_GetArraySize(p->upsert) +
	    (size_t)cJSON_GetArraySize(p->del);
	if (n > 0 && (ids = calloc(n, sizeof(*ids))) == NULL) {
		err = ACT_NOMEM;
		goto out;
	}
	for (x = p->upsert ? p->upsert->child : NULL; x != NULL; x = x->next)
		if ((ids[nids++] = item_id(x)) == NULL)
			goto out;
	for (x = p->del ? p->del->child : NULL; x != NULL; x = x->next)
		if ((ids[nids++] = id_text(x)) == NULL)
			goto out;
	qsort(ids, nids, sizeof(*ids), cmp_str);
	for (i = 1; i < nids; i++)
		if (strcmp(ids[i - 1], ids[i]) == 0)
			goto out;
	*out = p;
	p = NULL;
	err = ACT_OK;
out:
	free(ids);
	act_post_free(p);
	cJSON_Delete(doc);
	return err;
}

/* ---- a set inside one transaction --------------------------------------- */

struct set {
	const char		*name;
	size_t			 n;
	int			 exists;
	size_t			 b;		/* bucket count */
	struct store_meta	 mmeta;		/* the manifest's */
	uint64_t		*ver;		/* each bucket's version */
	cJSON			**bk;		/* parsed buckets, when needed */
	int			*dirty;
	int			 write_all;	/* new, or B changed: every key */
	int			 manifest_dirty;
};

static void
set_free(struct set *s)
{
	size_t	 i;

	for (i = 0; s->bk != NULL && i < s->b; i++)
		cJSON_Delete(s->bk[i]);
	free(s->bk);
	free(s->ver);
	free(s->dirty);
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

/* Reads a manifest: its bucket count, or 0 when it is not one of name's. */
static size_t
manifest_count(const cJSON *m, const char *name, size_t n)
{
	const cJSON	*bc, *bs, *x;
	char		 want[KEY_MAX + 1];
	size_t		 b = 0, i = 0;
	long		 v;

	if (!cJSON_IsObject(m) || cJSON_GetArraySize(m) != 2 ||
	    (bc = cJSON_GetObjectItemCaseSensitive(m, "bucket_count")) == NULL ||
	    !cJSON_IsArray(bs = cJSON_GetObjectItemCaseSensitive(m, "buckets")) ||
	    (bc->type & 0xff) != cJSON_Raw ||
	    strspn(bc->valuestring, "0123456789") != strlen(bc->valuestring) ||
	    strlen(bc->valuestring) > 7 || (v = atol(bc->valuestring)) < 1)
		return 0;
	b = (size_t)v;
	if ((size_t)cJSON_GetArraySize(bs) != b)
		return 0;
	for (x = bs->child; x != NULL; x = x->next, i++) {
		bucket_name(want, name, n, i);
		if (!cJSON_IsString(x) || strcmp(x->valuestring, want) != 0)
			return 0;
	}
	return b;
}

static enum act_err
set_alloc(struct set *s, size_t b)
{
	s->b = b;
	if ((s->ver = calloc(b, sizeof(*s->ver))) == NULL ||
	    (s->bk = calloc(b, sizeof(*s->bk))) == NULL ||
	    (s->dirty = calloc(b, sizeof(*s->dirty))) == NULL)
		return ACT_NOMEM;
	return ACT_OK;
}

/* Loads the manifest and the buckets' versions (no bucket is parsed). */
static enum act_err
set_load(store_io *io, const char *name, size_t n, struct set *s)
{
	char			 key[KEY_MAX + 1];
	const char		*v;
	size_t			 vlen, b = 1, i;
	struct store_meta	 m;
	enum store_err		 e;
	enum act_err		 err;
	cJSON			*doc;

	memset(s, 0, sizeof(*s));
	s->name = name;
	s->n = n;
	e = store_io_get(io, key, key_name(key, name, n, "manifest"), &s->mmeta,
	    &v, &vlen);
	if (e == STORE_OK) {
		if ((doc = patch_parse_exact(v, vlen)) == NULL)
			return ACT_NOMEM;
		b = manifest_count(doc, name, n);
		cJSON_Delete(doc);
		if (b == 0)
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

/* Parses bucket i, once (before any write of this transaction). */
static enum act_err
set_bucket(store_io *io, struct set *s, size_t i)
{
	char			 key[KEY_MAX + 1];
	const char		*v;
	size_t			 vlen;
	struct store_meta	 m;
	enum store_err		 e;

	if (s->bk[i] != NULL)
		return ACT_OK;
	e = store_io_get(io, key, bucket_name(key, s->name, s->n, i), &m, &v,
	    &vlen);
	if (e == STORE_OK)
		s->bk[i] = patch_parse_exact(v, vlen);
	else if (e == STORE_NOTFOUND || e == STORE_DELETED)
		s->bk[i] = cJSON_CreateArray();
	else
		return ACT_STORE;
	if (s->bk[i] == NULL)
		return ACT_NOMEM;
	return cJSON_IsArray(s->bk[i]) ? ACT_OK : ACT_CORRUPT;
}

/* The item of bucket with the id's text, or NULL. */
static cJSON *
find(const cJSON *bucket, const char *id)
{
	cJSON		*x;
	const char	*t;

	for (x = bucket->child; x != NULL; x = x->next)
		if ((t = item_id(x)) != NULL && strcmp(t, id) == 0)
			return x;
	return NULL;
}

/* Doubles B until no bucket holds more than max items. */
static enum act_err
set_split(store_io *io, struct set *s, size_t max)
{
	cJSON		**nb, *x;
	size_t		 i, b2, over;
	enum act_err	 err;

	for (;;) {
		for (i = 0, over = 0; i < s->b; i++)
			if (s->bk[i] != NULL &&
			    (size_t)cJSON_GetArraySize(s->bk[i]) > max)
				over = 1;
		if (!over)
			return ACT_OK;
		for (i = 0; i < s->b; i++)
			if ((err = set_bucket(io, s, i)) != ACT_OK)
				return err;
		b2 = s->b * 2;
		if (b2 > (1 << 20) || (nb = calloc(b2, sizeof(*nb))) == NULL)
			return ACT_NOMEM;
		for (i = 0; i < b2; i++)
			if ((nb[i] = cJSON_CreateArray()) == NULL) {
				while (i > 0)
					cJSON_Delete(nb[--i]);
				free(nb);
				return ACT_NOMEM;
			}
		/* stored order is kept within each new bucket */
		for (i = 0; i < s->b; i++)
			while ((x = s->bk[i]->child) != NULL) {
				cJSON_DetachItemViaPointer(s->bk[i], x);
				cJSON_AddItemToArray(nb[route(item_id(x), b2)], x);
			}
		for (i = 0; i < s->b; i++)
			cJSON_Delete(s->bk[i]);
		free(s->bk);
		free(s->dirty);
		free(s->ver);
		s->bk = nb;
		s->b = b2;
		if ((s->ver = calloc(b2, sizeof(*s->ver))) == NULL ||
		    (s->dirty = calloc(b2, sizeof(*s->dirty))) == NULL)
			return ACT_NOMEM;
		s->write_all = 1;
	}
}

/* Writes the changed buckets, and the manifest when new or resized. */
static enum act_err
set_write(store_io *io, struct set *s)
{
	char			 key[KEY_MAX + 1];
	struct store_meta	 m;
	struct buf		 mf = { 0 };
	char			*text;
	size_t			 i, kl;
	enum store_err		 e;

	if (!s->exists)
		s->write_all = 1;
	for (i = 0; i < s->b; i++) {
		if (!s->dirty[i] && !s->write_all)
			continue;
		if (s->bk[i] == NULL) {
			/* only a new set has buckets that were never read */
			if (s->exists)
				return ACT_CORRUPT;
			if ((s->bk[i] = cJSON_CreateArray()) == NULL)
				return ACT_NOMEM;
		}
		if ((text = cJSON_PrintUnformatted(s->bk[i])) == NULL)
			return ACT_NOMEM;
		kl = bucket_name(key, s->name, s->n, i);
		e = store_io_put(io, key, kl, text, strlen(text), &m);
		free(text);
		if (e != STORE_OK)
			return ACT_STORE;
		s->ver[i] = m.version;
	}
	if (!s->write_all && !s->manifest_dirty)
		return ACT_OK;
	buf_puts(&mf, "{\"bucket_count\":");
	buf_u64(&mf, s->b);
	buf_puts(&mf, ",\"buckets\":[");
	for (i = 0; i < s->b; i++) {
		kl = bucket_name(key, s->name, s->n, i);
		if (i > 0)
			buf_puts(&mf, ",");
		buf_json_str(&mf, key, kl);
	}
	buf_puts(&mf, "]}");
	if (mf.oom) {
		buf_free(&mf);
		return ACT_NOMEM;
	}
	e = store_io_put(io, key, key_name(key, s->name, s->n, "manifest"),
	    mf.p, mf.len, &s->mmeta);
	buf_free(&mf);
	return e == STORE_OK ? ACT_OK : ACT_STORE;
}

enum act_err
act_post_apply(store_io *io, const char *name, size_t n,
    const struct act_post *p, size_t max, const uint64_t *if_match,
    struct act_result *res)
{
	struct set	 s;
	cJSON		*x, *old, *dup;
	const char	*id;
	size_t		 i;
	enum act_err	 err;

	memset(res, 0, sizeof(*res));
	if ((err = set_load(io, name, n, &s)) != ACT_OK)
		goto out;
	if (if_match != NULL && *if_match != set_etag(&s)) {
		err = ACT_PRECOND;
		goto out;
	}
	for (x = p->del ? p->del->child : NULL; x != NULL; x = x->next) {
		id = id_text(x);
		i = route(id, s.b);
		if ((err = set_bucket(io, &s, i)) != ACT_OK)
			goto out;
		if ((old = find(s.bk[i], id)) != NULL) {
			cJSON_Delete(cJSON_DetachItemViaPointer(s.bk[i], old));
			s.dirty[i] = 1;
			res->deleted++;
		}
	}
	for (x = p->upsert ? p->upsert->child : NULL; x != NULL; x = x->next) {
		id = item_id(x);
		i = route(id, s.b);
		if ((err = set_bucket(io, &s, i)) != ACT_OK)
			goto out;
		if ((dup = cJSON_Duplicate(x, 1)) == NULL) {
			err = ACT_NOMEM;
			goto out;
		}
		if ((old = find(s.bk[i], id)) != NULL)
			cJSON_ReplaceItemViaPointer(s.bk[i], old, dup);
		else
			cJSON_AddItemToArray(s.bk[i], dup);
		s.dirty[i] = 1;
		res->upserted++;
	}
	if ((err = set_split(io, &s, max)) != ACT_OK ||
	    (err = set_write(io, &s)) != ACT_OK)
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

	if (klen < 7 || strncmp(key, "_act/", 5) != 0 ||
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

/* Checks that bucket i of B holds items with distinct ids routed to it. */
static int
bucket_valid(const cJSON *bucket, size_t i, size_t b)
{
	const cJSON	*x;
	const char	**ids;
	const char	*id;
	size_t		 k = 0, j;
	int		 ok = 0;

	if (!cJSON_IsArray(bucket))
		return 0;
	if ((ids = calloc((size_t)cJSON_GetArraySize(bucket) + 1,
	    sizeof(*ids))) == NULL)
		return 0;
	for (x = bucket->child; x != NULL; x = x->next) {
		if ((id = item_id(x)) == NULL || route(id, b) != i)
			goto out;
		ids[k++] = id;
	}
	qsort(ids, k, sizeof(*ids), cmp_str);
	for (j = 1; j < k; j++)
		if (strcmp(ids[j - 1], ids[j]) == 0)
			goto out;
	ok = 1;
out:
	free(ids);
	return ok;
}

enum act_err
act_put_key(store_io *io, const char *key, size_t klen, const char *value,
    size_t vlen, size_t max, struct store_meta *meta)
{
	struct set	 s;
	const char	*name, *rest;
	size_t		 n, b, i;
	cJSON		*doc = NULL;
	char		*end;
	enum act_err	 err = ACT_BAD_SET;

	memset(&s, 0, sizeof(s));
	memset(meta, 0, sizeof(*meta));
	if (split_key(key, klen, &name, &n, &rest) == -1)
		goto out;
	if ((doc = patch_parse_exact(value, vlen)) == NULL) {
		err = ACT_NOMEM;
		goto out;
	}
	if ((err = set_load(io, name, n, &s)) != ACT_OK)
		goto out;
	err = ACT_BAD_SET;
	if (strcmp(rest, "manifest") == 0) {
		/* it must describe the buckets as they are */
		if ((b = manifest_count(doc, name, n)) == 0 ||
		    (s.exists && b != s.b))
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
				if (!bucket_valid(s.bk[i], i, b)) {
					err = ACT_BAD_SET;
					goto out;
				}
			}
		}
		s.manifest_dirty = 1;	/* the buckets stay as they are */
		err = set_write(io, &s);
		*meta = s.mmeta;
		goto out;
	}
	i = strtoul(rest, &end, 10);
	if (!s.exists || *rest < '0' || *rest > '9' || *end != '\0' ||
	    (rest[0] == '0' && rest[1] != '\0') || i >= s.b ||
	    !bucket_valid(doc, i, s.b))
		goto out;
	s.bk[i] = doc;
	doc = NULL;
	s.dirty[i] = 1;
	if ((err = set_split(io, &s, max)) != ACT_OK ||
	    (err = set_write(io, &s)) != ACT_OK)
		goto out;
	/* after a split, bucket i of the new count */
	if (store_io_get(io, key, klen, meta, &rest, &n) != STORE_OK)
		err = ACT_STORE;
out:
	cJSON_Delete(doc);
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
act_get(store_io *io, const char *name, size_t n, long bucket, struct buf *b,
    uint64_t *etag)
{
	struct set	 s;
	char		 key[KEY_MAX + 1];
	const char	*v;
	size_t		 vlen, i, kl, first, last, any = 0;
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
	buf_puts(b, "{\"set\":");
	buf_json_str(b, name, n);
	buf_puts(b, ",\"etag\":\"\\\"");
	buf_u64(b, *etag);
	buf_puts(b, "\\\"\",\"items\":[");
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
		if (vlen > 2) {
			if (any++)
				buf_add(b, ",", 1);
			buf_add(b, v + 1, vlen - 2);
		}
	}
	buf_puts(b, "],\"buckets\":[");
	for (i = first; i < last; i++) {
		kl = bucket_name(key, name, n, i);
		if (store_io_get(io, key, kl, &m, &v, &vlen) != STORE_OK) {
			err = ACT_CORRUPT;
			goto out;
		}
		buf_puts(b, i > first ? ",{\"key\":" : "{\"key\":");
		buf_json_str(b, key, kl);
		buf_puts(b, ",\"version\":");
		buf_u64(b, m.version);
		buf_puts(b, ",\"count\":");
		buf_u64(b, count_items(v, vlen));
		buf_puts(b, "}");
	}
	buf_puts(b, "]}\n");
	err = b->oom ? ACT_NOMEM : ACT_OK;
out:
	set_free(&s);
	return err;
}
