/*
 * patch.c - RFC 7396 merge patch, RFC 6902 JSON patch and append, on
 * cJSON trees whose numbers are held as raw text; see patch.h.
 */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "hdr.h"
#include "json.h"
#include "patch.h"

enum patch_kind {
	P_MERGE,
	P_JSON,
	P_APPEND,
};

struct patch {
	enum patch_kind	 kind;
	cJSON		*doc;		/* the patch, the ops, or the value */
	char		*pointer;	/* append */
	int		 stamp;		/* append */
};

/* ---- exact numbers ------------------------------------------------------- */

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
cJSON *
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

static int
is_integer_text(const char *s)
{
	return strpbrk(s, ".eE") == NULL;
}

static int
number_equal(const char *a, const char *b)
{
	if (strcmp(a, b) == 0)
		return 1;
	if (is_integer_text(a) && is_integer_text(b)) {
		/* exact: only -0 and 0 are the same integer spelled apart */
		return (strcmp(a, "-0") == 0 || strcmp(a, "0") == 0) &&
		    (strcmp(b, "-0") == 0 || strcmp(b, "0") == 0);
	}
	return strtod(a, NULL) == strtod(b, NULL);
}

/* RFC 6902 4.6: deep equality, members in any order, numbers by value. */
static int
equal(const cJSON *a, const cJSON *b)
{
	const cJSON	*x, *y;
	int		 na = 0, nb = 0;

	if ((a->type & 0xff) != (b->type & 0xff))
		return 0;
	switch (a->type & 0xff) {
	case cJSON_Raw:
		return number_equal(a->valuestring, b->valuestring);
	case cJSON_String:
		return strcmp(a->valuestring, b->valuestring) == 0;
	case cJSON_Array:
		for (x = a->child, y = b->child; x != NULL && y != NULL;
		    x = x->next, y = y->next)
			if (!equal(x, y))
				return 0;
		return x == NULL && y == NULL;
	case cJSON_Object:
		for (x = a->child; x != NULL; x = x->next)
			na++;
		for (y = b->child; y != NULL; y = y->next)
			nb++;
		if (na != nb)
			return 0;
		for (x = a->child; x != NULL; x = x->next) {
			y = cJSON_GetObjectItemCaseSensitive(b, x->string);
			if (y == NULL || !equal(x, y))
				return 0;
		}
		return 1;
	default:		/* true, false, null */
		return 1;
	}
}

/* ---- JSON pointers (RFC 6901) --------------------------------------------- */

struct ptr {
	char	**tok;
	size_t	  n;
};

int
patch_pointer_valid(const char *s, size_t n)
{
	size_t	 i;

	if (n > 0 && s[0] != '/')
		return 0;
	for (i = 0; i < n; i++) {
		if (s[i] == '\0')
			return 0;
		if (s[i] == '~' && (i + 1 >= n || (s[i + 1] != '0' &&
		    s[i + 1] != '1')))
			return 0;
	}
	return 1;
}

static void
ptr_free(struct ptr *p)
{
	size_t	 i;

	for (i = 0; i < p->n; i++)
		free(p->tok[i]);
	free(p->tok);
	p->tok = NULL;
	p->n = 0;
}

/* Splits a valid pointer into unescaped tokens; -1 when out of memory. */
static int
ptr_parse(const char *s, struct ptr *p)
{
	size_t		 n = strlen(s), i, k = 0, o;
	const char	*seg, *end;
	char		*t;

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
		if ((end = strchr(seg, '/')) == NULL)
			end = s + n;
		if ((t = malloc((size_t)(end - seg) + 1)) == NULL) {
			ptr_free(p);
			return -1;
		}
		for (o = 0; seg < end; seg++) {
			if (*seg == '~') {
				t[o++] = seg[1] == '1' ? '/' : '~';
				seg++;
			} else
				t[o++] = *seg;
		}
		t[o] = '\0';
		p->tok[p->n++] = t;
		seg = end + 1;
	}
	return 0;
}

/* An array index token: digits, no leading zero; -1 otherwise. */
static long
arr_index(const char *t)
{
	long	 v = 0;
	size_t	 i;

	if (t[0] == '\0' || (t[0] == '0' && t[1] != '\0'))
		return -1;
	for (i = 0; t[i] != '\0'; i++) {
		if (t[i] < '0' || t[i] > '9' || i >= 9)
			return -1;
		v = v * 10 + (t[i] - '0');
	}
	return v;
}

/* The child of node named by token t, or NULL. */
static cJSON *
child(cJSON *node, const char *t)
{
	long	 i;

	if (cJSON_IsObject(node))
		return cJSON_GetObjectItemCaseSensitive(node, t);
	if (cJSON_IsArray(node) && (i = arr_index(t)) >= 0 &&
	    i < cJSON_GetArraySize(node))
		return cJSON_GetArrayItem(node, (int)i);
	return NULL;
}

/* The node at the first k tokens of p, or NULL. */
static cJSON *
ptr_get(cJSON *root, const struct ptr *p, size_t k)
{
	size_t	 i;

	for (i = 0; i < k && root != NULL; i++)
		root = child(root, p->tok[i]);
	return root;
}

/* ---- RFC 6902 operations on a tree ---------------------------------------- */

/*
 * Inserts v before element i of arr (0 <= i < size). Debian's cJSON 1.7.15
 * refuses cJSON_InsertItemInArray past index 0, so this links it by hand,
 * keeping cJSON's invariants: the head's prev is the last element, every
 * other prev the element before.
 */
static void
array_insert(cJSON *arr, int i, cJSON *v)
{
	cJSON	*at = cJSON_GetArrayItem(arr, i);

	v->next = at;
	v->prev = at->prev;
	if (at == arr->child)
		arr->child = v;
	else
		at->prev->next = v;
	at->prev = v;
}

/* Adds v (owned) at p. */
static enum patch_err
op_add(cJSON **root, const struct ptr *p, cJSON *v)
{
	cJSON		*parent;
	const char	*last;
	long		 i;

	if (p->n == 0) {
		cJSON_Delete(*root);
		*root = v;
		return PATCH_OK;
	}
	parent = ptr_get(*root, p, p->n - 1);
	last = p->tok[p->n - 1];
	if (cJSON_IsObject(parent)) {
		if (cJSON_GetObjectItemCaseSensitive(parent, last) != NULL)
			cJSON_ReplaceItemInObjectCaseSensitive(parent, last, v);
		else
			cJSON_AddItemToObject(parent, last, v);
		return PATCH_OK;
	}
	if (cJSON_IsArray(parent)) {
		if (strcmp(last, "-") == 0) {
			cJSON_AddItemToArray(parent, v);
			return PATCH_OK;
		}
		i = arr_index(last);
		if (i >= 0 && i < cJSON_GetArraySize(parent)) {
			array_insert(parent, (int)i, v);
			return PATCH_OK;
		}
		if (i >= 0 && i == cJSON_GetArraySize(parent)) {
			cJSON_AddItemToArray(parent, v);
			return PATCH_OK;
		}
	}
	cJSON_Delete(v);
	return PATCH_CONFLICT;
}

/* Detaches the node at p (not the root); NULL when missing. */
static cJSON *
op_detach(cJSON *root, const struct ptr *p)
{
	cJSON		*parent;
	const char	*last;
	long		 i;

	if (p->n == 0)
		return NULL;
	parent = ptr_get(root, p, p->n - 1);
	last = p->tok[p->n - 1];
	if (cJSON_IsObject(parent))
		return cJSON_DetachItemFromObjectCaseSensitive(parent, last);
	if (cJSON_IsArray(parent) && (i = arr_index(last)) >= 0 &&
	    i < cJSON_GetArraySize(parent))
		return cJSON_DetachItemFromArray(parent, (int)i);
	return NULL;
}

static const char *
str_member(const cJSON *op, const char *name)
{
	const cJSON	*m = cJSON_GetObjectItemCaseSensitive(op, name);

	return cJSON_IsString(m) ? m->valuestring : NULL;
}

static enum patch_err
apply_op(cJSON **root, const cJSON *op)
{
	const char	*name = str_member(op, "op");
	const cJSON	*value = cJSON_GetObjectItemCaseSensitive(op, "value");
	struct ptr	 path = { 0 }, from = { 0 };
	cJSON		*v = NULL, *t;
	enum patch_err	 err = PATCH_NOMEM;

	if (ptr_parse(str_member(op, "path"), &path) == -1)
		goto out;
	if (str_member(op, "from") != NULL &&
	    ptr_parse(str_member(op, "from"), &from) == -1)
		goto out;
	err = PATCH_CONFLICT;
	if (strcmp(name, "add") == 0) {
		if ((v = cJSON_Duplicate(value, 1)) == NULL)
			err = PATCH_NOMEM;
		else
			err = op_add(root, &path, v);
	} else if (strcmp(name, "remove") == 0) {
		if ((t = op_detach(*root, &path)) != NULL) {
			cJSON_Delete(t);
			err = PATCH_OK;
		}
	} else if (strcmp(name, "replace") == 0) {
		if (ptr_get(*root, &path, path.n) == NULL)
			goto out;
		if ((v = cJSON_Duplicate(value, 1)) == NULL) {
			err = PATCH_NOMEM;
			goto out;
		}
		/* an array element is replaced where it stands (add inserts) */
		t = path.n > 0 ? ptr_get(*root, &path, path.n - 1) : NULL;
		if (cJSON_IsArray(t)) {
			cJSON_ReplaceItemInArray(t,
			    (int)arr_index(path.tok[path.n - 1]), v);
			err = PATCH_OK;
		} else
			err = op_add(root, &path, v);
	} else if (strcmp(name, "move") == 0) {
		if (strcmp(str_member(op, "from"), str_member(op, "path")) == 0) {
			err = ptr_get(*root, &from, from.n) ? PATCH_OK :
			    PATCH_CONFLICT;
			goto out;
		}
		if ((v = op_detach(*root, &from)) != NULL)
			err = op_add(root, &path, v);
	} else if (strcmp(name, "copy") == 0) {
		if ((t = ptr_get(*root, &from, from.n)) == NULL)
			goto out;
		if ((v = cJSON_Duplicate(t, 1)) == NULL)
			err = PATCH_NOMEM;
		else
			err = op_add(root, &path, v);
	} else {	/* test */
		t = ptr_get(*root, &path, path.n);
		err = t != NULL && equal(t, value) ? PATCH_OK : PATCH_CONFLICT;
	}
out:
	ptr_free(&path);
	ptr_free(&from);
	return err;
}

/* ---- RFC 7396 ------------------------------------------------------------- */

static cJSON *merge_new(const cJSON *patch);

/* Merges the object patch into the object target, in place. */
static int
merge_members(cJSON *target, const cJSON *patch)
{
	const cJSON	*m;
	cJSON		*old, *nv;

	for (m = patch->child; m != NULL; m = m->next) {
		old = cJSON_GetObjectItemCaseSensitive(target, m->string);
		if (cJSON_IsNull(m)) {
			if (old != NULL)
				cJSON_DeleteItemFromObjectCaseSensitive(target,
				    m->string);
			continue;
		}
		if (old != NULL && cJSON_IsObject(old) && cJSON_IsObject(m)) {
			if (merge_members(old, m) == -1)
				return -1;
			continue;
		}
		if ((nv = merge_new(m)) == NULL)
			return -1;
		if (old != NULL)
			cJSON_ReplaceItemViaPointer(target, old, nv);
		else
			cJSON_AddItemToObject(target, m->string, nv);
	}
	return 0;
}

/* The result of merging patch into nothing. */
static cJSON *
merge_new(const cJSON *patch)
{
	cJSON	*o;

	if (!cJSON_IsObject(patch))
		return cJSON_Duplicate(patch, 1);
	if ((o = cJSON_CreateObject()) == NULL)
		return NULL;
	if (merge_members(o, patch) == -1) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* ---- parsing -------------------------------------------------------------- */

static struct patch *
patch_new(enum patch_kind kind, cJSON *doc)
{
	struct patch	*p;

	if ((p = calloc(1, sizeof(*p))) == NULL) {
		cJSON_Delete(doc);
		return NULL;
	}
	p->kind = kind;
	p->doc = doc;
	return p;
}

void
patch_free(struct patch *p)
{
	if (p == NULL)
		return;
	cJSON_Delete(p->doc);
	free(p->pointer);
	free(p);
}

enum patch_err
patch_merge(const char *text, size_t n, struct patch **out)
{
	cJSON	*doc;

	*out = NULL;
	if ((doc = patch_parse_exact(text, n)) == NULL)
		return PATCH_INVALID;
	return (*out = patch_new(P_MERGE, doc)) ? PATCH_OK : PATCH_NOMEM;
}

static int
count_members(const cJSON *o, const char *name)
{
	const cJSON	*m;
	int		 k = 0;

	for (m = o->child; m != NULL; m = m->next)
		k += strcmp(m->string, name) == 0;
	return k;
}

static int
is_pointer(const char *s)
{
	return s != NULL && patch_pointer_valid(s, strlen(s));
}

/* RFC 6902 section 4: the shape of one operation. */
static int
op_valid(const cJSON *op)
{
	static const char *const names[] = { "add", "remove", "replace", "move",
	    "copy", "test" };
	const char	*name, *path, *from;
	size_t		 i, len;

	if (!cJSON_IsObject(op) || count_members(op, "op") != 1 ||
	    count_members(op, "path") != 1 || count_members(op, "from") > 1 ||
	    count_members(op, "value") > 1)
		return 0;
	if ((name = str_member(op, "op")) == NULL ||
	    !is_pointer(path = str_member(op, "path")))
		return 0;
	for (i = 0; i < 6; i++)
		if (strcmp(name, names[i]) == 0)
			break;
	if (i == 6)
		return 0;
	if ((i == 0 || i == 2 || i == 5) &&
	    cJSON_GetObjectItemCaseSensitive(op, "value") == NULL)
		return 0;
	if (i == 3 || i == 4) {
		if (!is_pointer(from = str_member(op, "from")))
			return 0;
		/* move: from must not be a proper prefix of path */
		len = strlen(from);
		if (i == 3 && strncmp(path, from, len) == 0 && path[len] == '/')
			return 0;
	}
	return 1;
}

enum patch_err
patch_json(const char *text, size_t n, struct patch **out)
{
	cJSON		*doc;
	const cJSON	*op;
	int		 k = 0;

	*out = NULL;
	if ((doc = patch_parse_exact(text, n)) == NULL)
		return PATCH_INVALID;
	if (!cJSON_IsArray(doc))
		goto bad;
	for (op = doc->child; op != NULL; op = op->next)
		if (++k > PATCH_OPS_MAX || !op_valid(op))
			goto bad;
	return (*out = patch_new(P_JSON, doc)) ? PATCH_OK : PATCH_NOMEM;
bad:
	cJSON_Delete(doc);
	return PATCH_INVALID;
}

enum patch_err
patch_append(const char *pointer, const char *text, size_t n, int stamp,
    struct patch **out)
{
	cJSON		*doc;
	struct patch	*p;

	*out = NULL;
	if (!patch_pointer_valid(pointer, strlen(pointer)))
		return PATCH_INVALID;
	if ((doc = patch_parse_exact(text, n)) == NULL)
		return PATCH_INVALID;
	if (stamp && !cJSON_IsObject(doc)) {
		cJSON_Delete(doc);
		return PATCH_INVALID;
	}
	if ((p = patch_new(P_APPEND, doc)) == NULL)
		return PATCH_NOMEM;
	if ((p->pointer = strdup(pointer)) == NULL) {
		patch_free(p);
		return PATCH_NOMEM;
	}
	p->stamp = stamp;
	*out = p;
	return PATCH_OK;
}

/* ---- applying ------------------------------------------------------------- */

static int
set_member(cJSON *o, const char *name, cJSON *v)
{
	if (v == NULL)
		return -1;
	cJSON_DeleteItemFromObjectCaseSensitive(o, name);
	cJSON_AddItemToObject(o, name, v);
	return 0;
}

static enum patch_err
apply_append(const struct patch *p, cJSON **root,
    const struct patch_ctx *ctx, long *index)
{
	struct ptr	 path = { 0 };
	cJSON		*v, *parent, *target, *arr;
	char		 ts[HDR_TS_LEN];
	enum patch_err	 err = PATCH_NOMEM;

	if ((v = cJSON_Duplicate(p->doc, 1)) == NULL)
		goto out;
	if (p->stamp) {
		hdr_ts_fmt(ctx->now_us, ts);
		if (set_member(v, "at", cJSON_CreateString(ts)) == -1 ||
		    set_member(v, "by", ctx->principal != NULL ?
		    cJSON_CreateString(ctx->principal) : cJSON_CreateNull()) == -1)
			goto out;
	}
	if (ptr_parse(p->pointer, &path) == -1)
		goto out;
	err = PATCH_CONFLICT;
	target = ptr_get(*root, &path, path.n);
	if (target == NULL && path.n > 0) {
		/* a missing member of an object becomes the array */
		parent = ptr_get(*root, &path, path.n - 1);
		if (!cJSON_IsObject(parent))
			goto out;
		if ((arr = cJSON_CreateArray()) == NULL) {
			err = PATCH_NOMEM;
			goto out;
		}
		cJSON_AddItemToObject(parent, path.tok[path.n - 1], arr);
		target = arr;
	}
	if (!cJSON_IsArray(target))
		goto out;
	*index = cJSON_GetArraySize(target);
	cJSON_AddItemToArray(target, v);
	v = NULL;
	err = PATCH_OK;
out:
	cJSON_Delete(v);
	ptr_free(&path);
	return err;
}

enum patch_err
patch_apply(const struct patch *p, const char *cur, size_t n,
    const struct patch_ctx *ctx, char **out, size_t *outlen, long *index)
{
	cJSON		*root = NULL, *nv;
	const cJSON	*op;
	char		*text = NULL;
	enum patch_err	 err = PATCH_NOMEM;

	*out = NULL;
	*outlen = 0;
	if ((root = patch_parse_exact(cur, n)) == NULL)
		goto out;
	switch (p->kind) {
	case P_MERGE:
		if (cJSON_IsObject(p->doc) && cJSON_IsObject(root)) {
			if (merge_members(root, p->doc) == -1)
				goto out;
		} else {
			if ((nv = merge_new(p->doc)) == NULL)
				goto out;
			cJSON_Delete(root);
			root = nv;
		}
		break;
	case P_JSON:
		for (op = p->doc->child; op != NULL; op = op->next)
			if ((err = apply_op(&root, op)) != PATCH_OK)
				goto out;
		break;
	case P_APPEND:
		if ((err = apply_append(p, &root, ctx, index)) != PATCH_OK)
			goto out;
		break;
	}
	err = PATCH_NOMEM;
	if ((text = cJSON_PrintUnformatted(root)) == NULL)
		goto out;
	*outlen = strlen(text);
	/* a stored value nests at most 63 levels: {"value": ...} is 64 */
	if (json_check(text, *outlen, JSON_MAX_DEPTH - 1, NULL) != JSON_OK) {
		err = PATCH_TOO_DEEP;
		goto out;
	}
	*out = text;
	text = NULL;
	err = PATCH_OK;
out:
	if (err != PATCH_OK)
		*outlen = 0;
	free(text);
	cJSON_Delete(root);
	return err;
}
