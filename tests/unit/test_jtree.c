/*
 * Unit tests of fcgi/jtree.c: exact text, the size kept through changes
 * (checked against what is written, after every one of many random
 * changes), the limits, and large objects through their index.
 */
#include <stdlib.h>
#include <string.h>

#include "json/json.h"
#include "json/jtree.h"
#include "t.h"

/* Writes x; checks the text's length is its size and the text is JSON. */
static int
written_ok(struct jtree *t, struct jnode *x, const char *want)
{
	char	*out;
	size_t	 n;
	int	 ok;

	if (jtree_write(t, x, &out, &n) != JTREE_OK)
		return 0;
	ok = n == jtree_size(x) && json_check(out, n, 200, NULL) == JSON_OK &&
	    (want == NULL || strcmp(out, want) == 0);
	if (!ok)
		fprintf(stderr, "  wrote %s (size %zu), want %s\n", out,
		    jtree_size(x), want ? want : "valid JSON");
	free(out);
	return ok;
}

static void
test_exact_text(void)
{
	static const char	 doc[] = "{ \"s\" : \"x\\u0000y\", \"k\\u0000a\":1,"
	    "\"k\\u0000b\":[1.50, -0, 1e3], \"e\":\"\\u00e9\" }";
	struct jtree		*t = jtree_new(1 << 20, 1 << 24);
	struct jnode		*r, *v;
	const char		*s;
	size_t			 n;

	r = jtree_parse(t, doc, strlen(doc));
	CHECK(r != NULL && jtree_type(r) == JTREE_OBJECT);
	CHECK(written_ok(t, r, "{\"s\":\"x\\u0000y\",\"k\\u0000a\":1,"
	    "\"k\\u0000b\":[1.50,-0,1e3],\"e\":\"\\u00e9\"}"));
	CHECK(jtree_count(r) == 4);
	CHECK(jtree_get(r, "k", 1) == NULL);
	CHECK((v = jtree_get(r, "k\0a", 3)) != NULL);
	CHECK(jtree_get(r, "\xc3\xa9", 2) == NULL);
	CHECK((v = jtree_get(r, "s", 1)) != NULL &&
	    (s = jtree_string(v, &n)) != NULL && n == 3 &&
	    memcmp(s, "x\0y", 3) == 0);
	CHECK(jtree_set(t, r, "k\0a", 3, jtree_new_string(t, "\0\"\\", 3)) ==
	    JTREE_OK);
	CHECK(written_ok(t, r, "{\"s\":\"x\\u0000y\",\"k\\u0000a\":"
	    "\"\\u0000\\\"\\\\\",\"k\\u0000b\":[1.50,-0,1e3],\"e\":\"\\u00e9\"}"));
	jtree_free(t);
}

static void
test_equal(void)
{
	struct jtree	*t = jtree_new(1 << 20, 1 << 24);
	struct jnode	*a, *b;

	a = jtree_parse(t, "{\"a\":[1,{\"b\":\"\\u0041\"}],\"c\":1.0}", 29);
	b = jtree_parse(t, "{\"c\":1,\"a\":[1,{\"b\":\"A\"}]}", 25);
	CHECK(a != NULL && b != NULL && jtree_equal(t, a, b));
	b = jtree_parse(t, "{\"c\":1,\"a\":[1,{\"b\":\"A\\u0000\"}]}", 31);
	CHECK(b != NULL && !jtree_equal(t, a, b));
	jtree_free(t);
}

/* A node's text while nothing opened it; a member set under another's name. */
static void
test_text_and_set_as(void)
{
	static const char	 doc[] = "{\"x\\u0041\":1.50,\"o\":{\"b\":[]}}";
	struct jtree		*t = jtree_new(1 << 20, 1 << 24);
	struct jnode		*r, *o, *m, *to;
	const char		*s;
	size_t			 n;

	r = jtree_wrap(t, doc, strlen(doc));
	CHECK(r != NULL && (s = jtree_text(r, &n)) == doc && n == strlen(doc));
	CHECK((m = jtree_at(r, 0)) != NULL && jtree_text(r, &n) == NULL);
	CHECK((s = jtree_text(m, &n)) != NULL && n == 4 &&
	    memcmp(s, "1.50", 4) == 0);
	CHECK((o = jtree_get(r, "o", 1)) != NULL &&
	    (s = jtree_text(o, &n)) != NULL && n == 8);
	to = jtree_parse(t, "{\"a\":1}", 7);
	CHECK(jtree_set_as(t, to, m, jtree_copy(t, m)) == JTREE_OK);
	CHECK(written_ok(t, to, "{\"a\":1,\"x\\u0041\":1.50}"));
	CHECK(jtree_get(to, "xA", 2) != NULL);
	/* an existing member keeps its own name's text */
	CHECK(jtree_set(t, to, "xA", 2, jtree_new_null(t)) == JTREE_OK);
	CHECK(jtree_set_as(t, to, m, jtree_new_object(t)) == JTREE_OK);
	CHECK(written_ok(t, to, "{\"a\":1,\"x\\u0041\":{}}"));
	CHECK(jtree_set_as(t, to, r, jtree_new_null(t)) != JTREE_OK);
	jtree_free(t);
}

static void
test_limits(void)
{
	struct jtree	*t = jtree_new(20, 1 << 24);
	struct jnode	*r;

	r = jtree_parse(t, "[1,2,3]", 7);
	CHECK(jtree_insert(t, r, 3, jtree_copy(t, r)) == JTREE_OK);
	CHECK(written_ok(t, r, "[1,2,3,[1,2,3]]") && jtree_size(r) == 15);
	/* 15 + "," + 15 would be 31 > 20: refused, nothing changed */
	CHECK(jtree_insert(t, r, 0, jtree_copy(t, r)) == JTREE_TOO_LARGE);
	CHECK(jtree_error(t) == JTREE_TOO_LARGE);
	CHECK(jtree_size(r) == 15);
	jtree_free(t);
	/* memory: a tree that may take 64 KiB cannot take a 100 KiB string */
	t = jtree_new(1 << 30, 1 << 16);
	CHECK(jtree_new_string(t, (char[100000]){ 0 }, 100000) == NULL);
	CHECK(jtree_error(t) == JTREE_TOO_LARGE);
	jtree_free(t);
}

/* Many members: set, replace and remove through the index. */
static void
test_large_object(void)
{
	struct jtree	*t = jtree_new(1 << 26, 1 << 28);
	struct jnode	*r = jtree_new_object(t), *v;
	char		 name[16];
	int		 i, ok = 1;

	for (i = 0; i < 20000; i++) {
		snprintf(name, sizeof(name), "m%d", i);
		ok &= jtree_set(t, r, name, strlen(name),
		    jtree_parse(t, "1", 1)) == JTREE_OK;
	}
	for (i = 0; i < 20000; i += 2) {
		snprintf(name, sizeof(name), "m%d", i);
		if ((v = jtree_get(r, name, strlen(name))) != NULL)
			jtree_remove(v);
		else
			ok = 0;
	}
	for (i = 1; i < 20000; i += 4) {
		snprintf(name, sizeof(name), "m%d", i);
		ok &= jtree_set(t, r, name, strlen(name),
		    jtree_parse(t, "22", 2)) == JTREE_OK;
	}
	CHECK(ok);
	CHECK(jtree_count(r) == 10000);
	CHECK(jtree_get(r, "m0", 2) == NULL);
	CHECK((v = jtree_get(r, "m5", 2)) != NULL && jtree_size(v) == 2);
	CHECK((v = jtree_get(r, "m3", 2)) != NULL && jtree_size(v) == 1);
	CHECK(written_ok(t, r, NULL));
	jtree_free(t);
}

/* Random changes: the size always matches what is written. */
static void
test_random_sizes(void)
{
	static const char *const vals[] = { "1", "\"a\\u0000\"", "[]", "{}",
	    "[1,[2]]", "{\"x\":{\"y\":[]}}", "null", "-0.5e7" };
	struct jtree	*t = jtree_new(1 << 24, 1 << 28);
	struct jnode	*r, *x, *c, *v;
	char		 name[8];
	unsigned	 seed = 7;
	int		 i, bad = 0;
	size_t		 k;

	r = jtree_parse(t, "{\"a\":[1,2,{\"b\":{}}],\"c\":{\"d\":[[]]}}", 35);
	for (i = 0; i < 3000 && jtree_error(t) == JTREE_OK; i++) {
		/* walk down a random path of containers */
		x = r;
		while ((k = jtree_count(x)) > 0 && rand_r(&seed) % 3) {
			c = jtree_at(x, (size_t)rand_r(&seed) % k);
			if (jtree_type(c) != JTREE_ARRAY &&
			    jtree_type(c) != JTREE_OBJECT)
				break;
			x = c;
		}
		v = (jtree_size(r) < 2000 && rand_r(&seed) % 2) ?
		    jtree_copy(t, x) : jtree_parse(t, vals[i % 8],
		    strlen(vals[i % 8]));
		switch (rand_r(&seed) % 3) {
		case 0:
			if (jtree_type(x) == JTREE_OBJECT) {
				snprintf(name, sizeof(name), "n%u",
				    rand_r(&seed) % 20);
				jtree_set(t, x, name, strlen(name), v);
			} else
				jtree_insert(t, x, (size_t)rand_r(&seed) %
				    (jtree_count(x) + 1), v);
			break;
		case 1:
			if ((k = jtree_count(x)) > 0)
				jtree_remove(jtree_at(x,
				    (size_t)rand_r(&seed) % k));
			break;
		default:
			if ((k = jtree_count(x)) > 0)
				jtree_replace(t, jtree_at(x,
				    (size_t)rand_r(&seed) % k), v);
			break;
		}
		if (i % 100 == 0 && !written_ok(t, r, NULL))
			bad++;
	}
	CHECK(jtree_error(t) == JTREE_OK);
	CHECK(bad == 0 && written_ok(t, r, NULL));
	jtree_free(t);
}

int
main(void)
{
	RUN(test_exact_text);
	RUN(test_equal);
	RUN(test_text_and_set_as);
	RUN(test_limits);
	RUN(test_large_object);
	RUN(test_random_sizes);
	return T_EXIT();
}
