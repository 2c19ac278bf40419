/*
 * Unit tests of fcgi/json/merge3.c: a table of merges and their results
 * or conflicts, the limits, and random documents for which a side that
 * did not change takes the other side whole.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "json/json.h"
#include "json/jtree.h"
#include "json/merge3.h"
#include "t.h"

#define MAX	(1 << 20)

struct tcase {
	const char	*b, *y, *c;	/* ' stands for " */
	enum merge3_err	 err;
	const char	*want;		/* the result, or the pointers */
};

static const struct tcase cases[] = {
	/* disjoint members */
	{ "{'a':1,'b':1}", "{'a':2,'b':1}", "{'a':1,'b':2}", MERGE3_OK,
	    "{'a':2,'b':2}" },
	/* one member, two values: a conflict at each path */
	{ "{'a':1,'b':{'x':1},'c':1}", "{'a':2,'b':{'x':2},'c':1}",
	    "{'a':3,'b':{'x':3},'c':2}", MERGE3_CONFLICT, "/a /b/x" },
	/* the same change on both sides */
	{ "{'a':1,'b':1}", "{'a':2,'b':1}", "{'a':2,'b':3}", MERGE3_OK,
	    "{'a':2,'b':3}" },
	{ "{'a':1}", "{'a':{'x':[1]},'n':null}", "{'n':null,'a':{'x':[1]}}",
	    MERGE3_OK, "{'n':null,'a':{'x':[1]}}" },
	/* nested objects recurse */
	{ "{'o':{'p':1,'q':1,'r':{'s':1}}}", "{'o':{'p':2,'q':1,'r':{'s':1}}}",
	    "{'o':{'p':1,'q':2,'r':{'s':1,'t':1}}}", MERGE3_OK,
	    "{'o':{'p':2,'q':2,'r':{'s':1,'t':1}}}" },
	/* a path and one inside it are the same path */
	{ "{'a':{'b':1},'k':1}", "{'k':2}", "{'a':{'b':2},'k':1}",
	    MERGE3_CONFLICT, "/a" },
	{ "{'a':{'b':1},'k':1}", "{'a':{'b':2},'k':1}", "{'k':2}",
	    MERGE3_CONFLICT, "/a" },
	{ "{'o':{'a':1}}", "{'o':{'a':2}}", "{'o':5}", MERGE3_CONFLICT, "/o" },
	{ "{'o':{'a':1}}", "{'o':[1]}", "{'o':{'a':2}}", MERGE3_CONFLICT, "/o" },
	/* added on both sides: equal is fine, different conflicts */
	{ "{}", "{'n':{'a':1}}", "{'n':{'b':1}}", MERGE3_CONFLICT, "/n" },
	{ "{}", "{'n':{'a':1,'b':2}}", "{'n':{'b':2,'a':1}}", MERGE3_OK,
	    "{'n':{'b':2,'a':1}}" },
	/* removed: on both sides, or on one with the other unchanged */
	{ "{'a':1,'b':1,'c':1}", "{'b':1,'c':2}", "{'c':1,'b':1,'d':1}",
	    MERGE3_OK, "{'c':2,'b':1,'d':1}" },
	{ "{'a':1,'b':1}", "{'b':2}", "{'b':1,'c':3}", MERGE3_OK,
	    "{'b':2,'c':3}" },
	/* the current order, then what only yours added, in your order */
	{ "{'a':1}", "{'y2':1,'a':1,'y1':{'z':2}}", "{'c1':1,'a':1}",
	    MERGE3_OK, "{'c1':1,'a':1,'y2':1,'y1':{'z':2}}" },
	/* members in another order are no change */
	{ "{'o':{'a':1,'b':2}}", "{'o':{'b':2,'a':1},'z':1}",
	    "{'o':{'a':1,'b':2},'w':1}", MERGE3_OK,
	    "{'o':{'a':1,'b':2},'w':1,'z':1}" },
	/* exact text: numbers and strings as sent, names too */
	{ "{'p':1.5,'s':'a'}", "{'p':1.50,'s':'a'}", "{'p':1.5,'s':'\\u0000'}",
	    MERGE3_OK, "{'p':1.50,'s':'\\u0000'}" },
	{ "{'p':1.5,'q':1}", "{'p':1.50,'q':1}", "{'p':15e-1,'q':2}",
	    MERGE3_CONFLICT, "/p" },
	{ "{'a':1}", "{'a':1,'\\u00e9\\/':'\\u00e9'}", "{'a':2}", MERGE3_OK,
	    "{'a':2,'\\u00e9\\/':'\\u00e9'}" },
	/* the empty name, removed against changed */
	{ "{'a':1,'':'x'}", "{'':'s'}", "{}", MERGE3_CONFLICT, "/" },
	/* pointers escape ~ and / */
	{ "{'a/b':{'m~n':1}}", "{'a/b':{'m~n':2}}", "{'a/b':{'m~n':3}}",
	    MERGE3_CONFLICT, "/a~1b/m~0n" },
	/* arrays without ids are whole values */
	{ "{'l':[1,2]}", "{'l':[1,2,3]}", "{'l':[0,1,2]}", MERGE3_CONFLICT,
	    "/l" },
	{ "{'l':[{'a':1}]}", "{'l':[{'a':2}]}", "{'l':[{'a':1},{'a':3}]}",
	    MERGE3_CONFLICT, "/l" },
	{ "{'l':[1,2]}", "{'l':[1,2,3]}", "{'l':[1,2],'x':1}", MERGE3_OK,
	    "{'l':[1,2,3],'x':1}" },
	{ "{'l':[{'a':1,'b':2}]}", "{'l':[{'b':2,'a':1}],'x':1}",
	    "{'l':[{'a':1,'b':2}],'y':1}", MERGE3_OK,
	    "{'l':[{'a':1,'b':2}],'y':1,'x':1}" },
	/* id-arrays: items added on both sides are all kept */
	{ "{'l':[{'id':1,'t':'a'}]}",
	    "{'l':[{'id':1,'t':'a'},{'id':2,'t':'y'},{'id':4,'t':'y2'}]}",
	    "{'l':[{'id':3,'t':'c'},{'id':1,'t':'a'}]}", MERGE3_OK,
	    "{'l':[{'id':3,'t':'c'},{'id':1,'t':'a'},{'id':2,'t':'y'},"
	    "{'id':4,'t':'y2'}]}" },
	{ "{'l':[]}", "{'l':[{'id':1}]}", "{'l':[{'id':2}]}", MERGE3_OK,
	    "{'l':[{'id':2},{'id':1}]}" },
	/* an item edited on both sides, in different members */
	{ "{'l':[{'id':'a','t':1,'u':1}]}", "{'l':[{'id':'a','t':2,'u':1}]}",
	    "{'l':[{'id':'a','t':1,'u':2},{'id':'b'}]}", MERGE3_OK,
	    "{'l':[{'id':'a','t':2,'u':2},{'id':'b'}]}" },
	/* ... in the same member */
	{ "{'c':[{'id':7,'text':'x'}]}", "{'c':[{'id':7,'text':'y'}]}",
	    "{'c':[{'id':7,'text':'z'}]}", MERGE3_CONFLICT, "/c/id=7/text" },
	/* removed against changed, either way round */
	{ "{'l':[{'id':3,'t':1},{'id':4}]}", "{'l':[{'id':4}]}",
	    "{'l':[{'id':3,'t':2},{'id':4},{'id':5}]}", MERGE3_CONFLICT,
	    "/l/id=3" },
	{ "{'l':[{'id':3,'t':1},{'id':4}]}",
	    "{'l':[{'id':3,'t':2},{'id':4},{'id':5}]}", "{'l':[{'id':4}]}",
	    MERGE3_CONFLICT, "/l/id=3" },
	/* removed against unchanged, either way round, or on both sides */
	{ "{'l':[{'id':1},{'id':2},{'id':3}]}", "{'l':[{'id':2}]}",
	    "{'l':[{'id':1},{'id':2},{'id':4}]}", MERGE3_OK,
	    "{'l':[{'id':2},{'id':4}]}" },
	{ "{'l':[{'id':1},{'id':2}]}", "{'l':[{'id':1},{'id':2},{'id':3}]}",
	    "{'l':[{'id':2}]}", MERGE3_OK, "{'l':[{'id':2},{'id':3}]}" },
	/* the current order kept, your change to an item taken */
	{ "{'l':[{'id':1,'v':1},{'id':2,'v':1}]}",
	    "{'l':[{'id':2,'v':2},{'id':1,'v':1}]}",
	    "{'l':[{'id':1,'v':1},{'id':2,'v':1},{'id':3}]}", MERGE3_OK,
	    "{'l':[{'id':1,'v':1},{'id':2,'v':2},{'id':3}]}" },
	/* added on both sides with one id: equal, or a conflict */
	{ "{'l':[]}", "{'l':[{'id':9,'t':1}]}", "{'l':[{'id':9,'t':1}]}",
	    MERGE3_OK, "{'l':[{'id':9,'t':1}]}" },
	{ "{'l':[]}", "{'l':[{'id':9,'t':1}]}", "{'l':[{'id':9,'t':2}]}",
	    MERGE3_CONFLICT, "/l/id=9" },
	/* ids nest, and escape as pointer tokens do; numbers by their text */
	{ "{'l':[{'id':'a/b~','c':[{'id':1.0,'x':1}]}]}",
	    "{'l':[{'id':'a/b~','c':[{'id':1.0,'x':2}]}]}",
	    "{'l':[{'id':'a/b~','c':[{'id':1.0,'x':3},{'id':1}]}]}",
	    MERGE3_CONFLICT, "/l/id=a~1b~0/c/id=1.0/x" },
	{ "{'l':[{'id':'\\u0041','v':1}]}", "{'l':[{'id':'A','v':2}]}",
	    "{'l':[{'id':'\\u0041','v':3}]}", MERGE3_CONFLICT, "/l/id=A/v" },
	/* no id-array: a missing id, one id twice (7 and '7' are one),
	   an id that is no number or string, an element no object */
	{ "{'l':[{'id':1}]}", "{'l':[{'id':1},{'id':2}]}",
	    "{'l':[{'x':3},{'id':1}]}", MERGE3_CONFLICT, "/l" },
	{ "{'l':[{'id':1}]}", "{'l':[{'id':1},{'id':2}]}",
	    "{'l':[{'id':1},{'id':1}]}", MERGE3_CONFLICT, "/l" },
	{ "{'l':[{'id':7}]}", "{'l':[{'id':7},{'id':2}]}",
	    "{'l':[{'id':7},{'id':'7'}]}", MERGE3_CONFLICT, "/l" },
	{ "{'l':[{'id':1}]}", "{'l':[{'id':1},{'id':2}]}",
	    "{'l':[{'id':1},{'id':null}]}", MERGE3_CONFLICT, "/l" },
	{ "{'l':[{'id':1}]}", "{'l':[{'id':1},{'id':2}]}",
	    "{'l':[{'id':1},3]}", MERGE3_CONFLICT, "/l" },
	{ "{'l':[{'id':1}]}", "{'l':[{'id':1},{'id':2}]}", "{'l':{'id':1}}",
	    MERGE3_CONFLICT, "/l" },
	/* the root can be an id-array */
	{ "[{'id':1}]", "[{'id':1},{'id':2}]", "[{'id':0},{'id':1}]",
	    MERGE3_OK, "[{'id':0},{'id':1},{'id':2}]" },
	/* the root */
	{ "{'a':1}", "{'a':2}", "'s'", MERGE3_WHOLE, NULL },
	{ "1", "2", "3", MERGE3_WHOLE, NULL },
	{ "[1]", "[2]", "[3]", MERGE3_WHOLE, NULL },
	{ "{'a':1}", "[1]", "{'a':2}", MERGE3_WHOLE, NULL },
	{ "{'a':1}", "[1]", "{'a':1}", MERGE3_OK, "[1]" },
	{ "{'a':1}", "{'a':1}", "'s'", MERGE3_OK, "'s'" },
	{ "1", "2", "2", MERGE3_OK, "2" },
	/* the counter: two clients set 10 to 11, one increment is lost */
	{ "{'n':10}", "{'n':11}", "{'n':11}", MERGE3_OK, "{'n':11}" },
};

/* s with ' for ", in one of two static buffers. */
static const char *
q(const char *s)
{
	static char	 buf[4][1024];
	static int	 which;
	char		*d = buf[which = (which + 1) % 4];
	size_t		 i;

	for (i = 0; s[i] != '\0' && i + 1 < sizeof(buf[0]); i++)
		d[i] = s[i] == '\'' ? '"' : s[i];
	d[i] = '\0';
	return d;
}

/* The pointers of c, one space between each. */
static void
pointers(const struct merge3_conflicts *c, struct buf *b)
{
	size_t	 i;

	for (i = 0; i < c->n; i++) {
		if (i > 0)
			buf_add(b, " ", 1);
		buf_add(b, c->ptr[i], c->len[i]);
	}
	buf_add(b, "", 1);
}

static enum merge3_err
m3(const char *b, const char *y, const char *c, size_t max, char **out,
    struct merge3_conflicts *cf)
{
	size_t	 n;

	return merge3(b, strlen(b), y, strlen(y), c, strlen(c), max, out, &n,
	    cf);
}

static void
test_table(void)
{
	const struct tcase	*tc;
	struct merge3_conflicts	 cf;
	struct buf		 got = { 0 };
	enum merge3_err		 e;
	char			*out, b[1024], y[1024], c[1024];
	size_t			 i, n;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		tc = &cases[i];
		strcpy(b, q(tc->b));
		strcpy(y, q(tc->y));
		strcpy(c, q(tc->c));
		CHECK(json_check(b, strlen(b), 64, NULL) == JSON_OK &&
		    json_check(y, strlen(y), 64, NULL) == JSON_OK &&
		    json_check(c, strlen(c), 64, NULL) == JSON_OK);
		e = merge3(b, strlen(b), y, strlen(y), c, strlen(c), MAX, &out,
		    &n, &cf);
		buf_reset(&got);
		if (e == MERGE3_OK)
			buf_add(&got, out, n + 1);
		else
			pointers(&cf, &got);
		if (e != tc->err || (e == MERGE3_OK && (n != strlen(out) ||
		    strcmp(out, q(tc->want)) != 0)) ||
		    (e == MERGE3_CONFLICT && (strcmp(got.p, q(tc->want)) != 0 ||
		    cf.total != cf.n)) ||
		    (e != MERGE3_OK && out != NULL) ||
		    (e != MERGE3_CONFLICT && cf.n + cf.total != 0)) {
			fprintf(stderr, "  case %zu: %s -> %s, current %s: "
			    "%d %s, want %d %s\n", i, b, y, c, e, got.p,
			    tc->err, tc->want ? q(tc->want) : "");
			t_failed++;
		}
		free(out);
		merge3_conflicts_free(&cf);
	}
	buf_free(&got);
}

/* A NUL in a name stays in its pointer. */
static void
test_nul_pointer(void)
{
	static const char	 b[] = "{\"k\\u0000\":1}", y[] = "{\"k\\u0000\":2}",
				 c[] = "{\"k\\u0000\":3}";
	struct merge3_conflicts	 cf;
	char			*out;

	CHECK(m3(b, y, c, MAX, &out, &cf) == MERGE3_CONFLICT);
	CHECK(cf.n == 1 && cf.len[0] == 3 && memcmp(cf.ptr[0], "/k\0", 4) == 0);
	merge3_conflicts_free(&cf);
	CHECK(cf.n == 0 && cf.total == 0);
	merge3_conflicts_free(&cf);
}

static void
test_too_large(void)
{
	static const char	 want[] = "{\"a\":2,\"b\":\"0123456789\"}";
	struct merge3_conflicts	 cf;
	char			*out;

	/* one byte fewer than the merged value is too few */
	CHECK(m3("{\"a\":1}", "{\"a\":1,\"b\":\"0123456789\"}", "{\"a\":2}",
	    strlen(want) - 1, &out, &cf) == MERGE3_TOO_LARGE && out == NULL &&
	    cf.total == 0);
	CHECK(m3("{\"a\":1}", "{\"a\":1,\"b\":\"0123456789\"}", "{\"a\":2}",
	    strlen(want), &out, &cf) == MERGE3_OK && strcmp(out, want) == 0);
	free(out);
	/* yours taken whole, or the current value kept, are bounded too */
	CHECK(m3("{\"a\":1}", "{\"a\":12345}", "{\"a\":1}", 10, &out, &cf) ==
	    MERGE3_TOO_LARGE && out == NULL);
	CHECK(m3("{\"a\":1}", "{\"a\":1}", "{\"a\":12345}", 10, &out, &cf) ==
	    MERGE3_TOO_LARGE && out == NULL);
	/* an id-array grows as it is built anew */
	CHECK(m3("[{\"id\":1}]", "[{\"id\":1},{\"id\":2,\"t\":\"0123456789\"}]",
	    "[{\"id\":0},{\"id\":1}]", 30, &out, &cf) == MERGE3_TOO_LARGE &&
	    out == NULL);
	CHECK(m3("{\"l\":[{\"id\":1}]}", "{\"l\":[{\"id\":1},{\"id\":2}]}",
	    "{\"l\":[{\"id\":0},{\"id\":1}],\"x\":\"0123456789\"}", 50, &out,
	    &cf) == MERGE3_TOO_LARGE && out == NULL);
	CHECK(m3("{\"l\":[{\"id\":1}]}", "{\"l\":[{\"id\":1},{\"id\":2}]}",
	    "{\"l\":[{\"id\":0},{\"id\":1}],\"x\":\"0123456789\"}", 60, &out,
	    &cf) == MERGE3_OK && out != NULL);
	free(out);
	/* a conflict wins over the size that came first */
	CHECK(m3("{\"a\":1,\"b\":1}", "{\"a\":\"0123456789\",\"b\":2}",
	    "{\"a\":1,\"b\":3}", 20, &out, &cf) == MERGE3_CONFLICT);
	CHECK(cf.n == 1 && strcmp(cf.ptr[0], "/b") == 0 && out == NULL);
	merge3_conflicts_free(&cf);
}

/* Merges depth objects around b, y and c at the bottom; as test_table. */
static enum merge3_err
deep(int depth, const char *b, const char *y, const char *c, char **out)
{
	struct merge3_conflicts	 cf;
	struct buf		 v[3] = { { 0 } };
	const char		*inner[3] = { b, y, c };
	enum merge3_err		 e;
	size_t			 n;
	int			 i, k;

	for (k = 0; k < 3; k++) {
		for (i = 0; i < depth - 1; i++)
			buf_puts(&v[k], "{\"a\":");
		buf_printf(&v[k], "{%s}", inner[k]);
		for (i = 0; i < depth - 1; i++)
			buf_add(&v[k], "}", 1);
	}
	e = merge3(v[0].p, v[0].len, v[1].p, v[1].len, v[2].p, v[2].len, MAX,
	    out, &n, &cf);
	for (k = 0; k < 3; k++)
		buf_free(&v[k]);
	merge3_conflicts_free(&cf);
	return e;
}

static void
test_depth(void)
{
	char	*out;

	/* 63 levels, changed at the bottom on both sides: merged */
	CHECK(deep(63, "\"x\":1,\"y\":1", "\"x\":2,\"y\":1", "\"x\":1,\"y\":2",
	    &out) == MERGE3_OK && out != NULL &&
	    strstr(out, "{\"a\":{\"x\":2,\"y\":2}}") != NULL);
	free(out);
	/* 64 is more than a stored value nests */
	CHECK(deep(64, "\"x\":1,\"y\":1", "\"x\":2,\"y\":1", "\"x\":1,\"y\":2",
	    &out) == MERGE3_TOO_DEEP && out == NULL);
	/* deeper than any JSON the server takes: refused, not followed */
	CHECK(deep(80, "\"x\":1,\"y\":1", "\"x\":2,\"y\":1", "\"x\":1,\"y\":2",
	    &out) == MERGE3_TOO_DEEP && out == NULL);
	CHECK(deep(80, "\"x\":1,\"y\":1", "\"x\":2,\"y\":1", "\"y\":1,\"x\":1",
	    &out) == MERGE3_TOO_DEEP && out == NULL);
}

/* At most MERGE3_CONFLICTS_MAX pointers, of bounded bytes; all counted. */
static void
test_many_conflicts(void)
{
	struct merge3_conflicts	 cf;
	struct buf		 b = { 0 }, y = { 0 }, c = { 0 };
	char			*out;
	size_t			 n;
	int			 i;

	buf_puts(&b, "{");
	buf_puts(&y, "{");
	buf_puts(&c, "{");
	for (i = 0; i < 100; i++) {
		buf_printf(&b, "%s\"m%d\":0", i ? "," : "", i);
		buf_printf(&y, "%s\"m%d\":1", i ? "," : "", i);
		buf_printf(&c, "%s\"m%d\":2", i ? "," : "", i);
	}
	buf_puts(&b, "}");
	buf_puts(&y, "}");
	buf_puts(&c, "}");
	CHECK(merge3(b.p, b.len, y.p, y.len, c.p, c.len, MAX, &out, &n, &cf) ==
	    MERGE3_CONFLICT);
	CHECK(cf.n == MERGE3_CONFLICTS_MAX && cf.total == 100);
	CHECK(strcmp(cf.ptr[0], "/m0") == 0 && strcmp(cf.ptr[63], "/m63") == 0);
	merge3_conflicts_free(&cf);
	/* two names of 40000 bytes: the second pointer has no room */
	buf_reset(&b);
	buf_reset(&y);
	buf_reset(&c);
	for (i = 0; i < 2; i++) {
		buf_printf(&b, "%s\"%c", i ? "," : "{", 'p' + i);
		buf_printf(&y, "%s\"%c", i ? "," : "{", 'p' + i);
		buf_printf(&c, "%s\"%c", i ? "," : "{", 'p' + i);
		for (n = 0; n < 40000; n++) {
			buf_add(&b, "x", 1);
			buf_add(&y, "x", 1);
			buf_add(&c, "x", 1);
		}
		buf_puts(&b, "\":0");
		buf_puts(&y, "\":1");
		buf_puts(&c, "\":2");
	}
	buf_puts(&b, "}");
	buf_puts(&y, "}");
	buf_puts(&c, "}");
	CHECK(!b.oom && !y.oom && !c.oom);
	CHECK(merge3(b.p, b.len, y.p, y.len, c.p, c.len, MAX, &out, &n, &cf) ==
	    MERGE3_CONFLICT);
	CHECK(cf.n == 1 && cf.total == 2 && cf.len[0] == 40002);
	merge3_conflicts_free(&cf);
	buf_free(&b);
	buf_free(&y);
	buf_free(&c);
}

/* ---- random documents --------------------------------------------------- */

static unsigned long	 rnd_state = 1;

static unsigned
rnd(unsigned n)
{
	rnd_state = rnd_state * 6364136223846793005UL + 1442695040888963407UL;
	return (unsigned)(rnd_state >> 33) % n;
}

static const char *const scalars[] = { "1", "1.50", "1.5", "-0", "1e3",
    "\"x\"", "\"\\u0000\"", "\"\\u0078\"", "true", "null", "[]", "[1,2]" };

static void
gen_value(struct buf *b, int depth);

static void
gen_object(struct buf *b, int depth)
{
	static const char *const names[] = { "a", "b", "c", "d\\u0000",
	    "e/~" };
	unsigned	 i, n = rnd(5), used = 0, k;

	buf_add(b, "{", 1);
	for (i = 0; i < n; i++) {
		k = rnd(5);
		if (used & (1u << k))
			continue;
		buf_printf(b, "%s\"%s\":", used ? "," : "", names[k]);
		used |= 1u << k;
		gen_value(b, depth + 1);
	}
	buf_add(b, "}", 1);
}

/* An id-array of up to three items, ids from 0 to 4. */
static void
gen_items(struct buf *b, int depth)
{
	unsigned	 i, n = rnd(4), used = 0, id;

	buf_add(b, "[", 1);
	for (i = 0; i < n; i++) {
		if (used & (1u << (id = rnd(5))))
			continue;
		buf_printf(b, "%s{\"id\":%u,\"a\":", used ? "," : "", id);
		used |= 1u << id;
		gen_value(b, depth + 2);
		buf_add(b, "}", 1);
	}
	buf_add(b, "]", 1);
}

static void
gen_value(struct buf *b, int depth)
{
	if (depth < 4 && rnd(3) == 0)
		gen_object(b, depth);
	else if (depth < 4 && rnd(3) == 0)
		gen_items(b, depth);
	else
		buf_puts(b, scalars[rnd(sizeof(scalars) / sizeof(scalars[0]))]);
}

/* Copies the document x of t with random changes into b. */
static void
mutate(struct jtree *t, struct jnode *x, struct buf *b, int depth)
{
	struct jnode	*m;
	const char	*s;
	char		*txt;
	size_t		 i, n, len;

	if (rnd(8) == 0) {		/* a new value */
		gen_value(b, depth);
		return;
	}
	if (jtree_type(x) == JTREE_ARRAY) {
		buf_add(b, "[", 1);
		n = jtree_count(x);
		for (i = 0; i < n; i++) {
			if (rnd(5) == 0)	/* removed */
				continue;
			if (b->p[b->len - 1] != '[')
				buf_add(b, ",", 1);
			mutate(t, jtree_at(x, i), b, depth + 1);
		}
		if (rnd(3) == 0)	/* an item added, its id maybe taken */
			buf_printf(b, "%s{\"id\":%u}",
			    b->p[b->len - 1] != '[' ? "," : "", 5 + rnd(3));
		buf_add(b, "]", 1);
		return;
	}
	if (jtree_type(x) != JTREE_OBJECT) {
		if (jtree_write(t, x, &txt, &len) == JTREE_OK)
			buf_add(b, txt, len);
		free(txt);
		return;
	}
	buf_add(b, "{", 1);
	n = jtree_count(x);
	for (i = 0; i < n; i++) {
		m = jtree_at(x, i);
		if (rnd(6) == 0)	/* removed */
			continue;
		if (b->p[b->len - 1] != '{')
			buf_add(b, ",", 1);
		s = jtree_name(m, &len);
		buf_json_str(b, s, len);
		buf_add(b, ":", 1);
		mutate(t, m, b, depth + 1);
	}
	if (rnd(4) == 0 && jtree_get(x, "n", 1) == NULL &&
	    jtree_get(x, "id", 2) == NULL) {
		buf_puts(b, b->p[b->len - 1] != '{' ? ",\"n\":" : "\"n\":");
		gen_value(b, depth + 1);
	}
	buf_add(b, "}", 1);
}

/* A changed copy of the document text s. */
static void
changed(const char *s, size_t n, struct buf *out)
{
	struct jtree	*t = jtree_new(MAX, (size_t)1 << 26);
	struct jnode	*x = jtree_wrap(t, s, n);

	buf_reset(out);
	mutate(t, x, out, 0);
	jtree_free(t);
}

/* Are the texts a and b equal values (members in any order)? */
static int
equal(const char *a, size_t an, const char *b, size_t bn)
{
	struct jtree	*t = jtree_new(MAX, (size_t)1 << 26);
	int		 eq;

	eq = jtree_equal(t, jtree_wrap(t, a, an), jtree_wrap(t, b, bn));
	jtree_free(t);
	return eq;
}

static int
is(const char *out, size_t n, const struct buf *want)
{
	return n == want->len && memcmp(out, want->p, n) == 0;
}

/*
 * merge3(b, b, c) is c, merge3(b, y, b) is y (or b when y only ordered
 * b's members anew), merge3(b, y, y) is y; swapping yours and current
 * conflicts as often, and merges to the same value but for the order of
 * id-arrays' items; yours merged into a result again changes nothing.
 */
static void
test_random(void)
{
	struct merge3_conflicts	 cf, cf2;
	struct buf		 b = { 0 }, y = { 0 }, c = { 0 };
	enum merge3_err		 e, e2;
	char			*out, *out2;
	size_t			 n, n2;
	int			 i, bad = 0;

	for (i = 0; i < 3000 && bad < 5; i++) {
		buf_reset(&b);
		gen_object(&b, 0);
		changed(b.p, b.len, &y);
		changed(b.p, b.len, &c);
		if (b.oom || y.oom || c.oom ||
		    json_check(b.p, b.len, 64, NULL) != JSON_OK ||
		    json_check(y.p, y.len, 64, NULL) != JSON_OK ||
		    json_check(c.p, c.len, 64, NULL) != JSON_OK) {
			bad++;
			fprintf(stderr, "  made no JSON: %s %s %s\n", b.p, y.p,
			    c.p);
			continue;
		}
		if (merge3(b.p, b.len, b.p, b.len, c.p, c.len, MAX, &out, &n,
		    &cf) != MERGE3_OK || !is(out, n, &c)) {
			bad++;
			fprintf(stderr, "  %s -> itself, %s: %s\n", b.p, c.p,
			    out ? out : "-");
		}
		free(out);
		if (merge3(b.p, b.len, y.p, y.len, b.p, b.len, MAX, &out, &n,
		    &cf) != MERGE3_OK || !(is(out, n, &y) || (is(out, n, &b) &&
		    equal(b.p, b.len, y.p, y.len)))) {
			bad++;
			fprintf(stderr, "  %s -> %s, itself: %s\n", b.p, y.p,
			    out ? out : "-");
		}
		free(out);
		if (merge3(b.p, b.len, y.p, y.len, y.p, y.len, MAX, &out, &n,
		    &cf) != MERGE3_OK || !is(out, n, &y)) {
			bad++;
			fprintf(stderr, "  %s -> %s twice: %s\n", b.p, y.p,
			    out ? out : "-");
		}
		free(out);
		e = merge3(b.p, b.len, y.p, y.len, c.p, c.len, MAX, &out, &n,
		    &cf);
		e2 = merge3(b.p, b.len, c.p, c.len, y.p, y.len, MAX, &out2, &n2,
		    &cf2);
		if (e != e2 || cf.total != cf2.total || (e == MERGE3_OK &&
		    (json_check(out, n, 64, NULL) != JSON_OK ||
		    (!equal(out, n, out2, n2) && strstr(out, "\"id\"") ==
		    NULL)))) {
			bad++;
			fprintf(stderr, "  %s -> %s, %s: %d %s; swapped %d %s\n",
			    b.p, y.p, c.p, e, out ? out : "-", e2,
			    out2 ? out2 : "-");
		}
		free(out2);
		if (e == MERGE3_OK && (merge3(b.p, b.len, y.p, y.len, out, n,
		    MAX, &out2, &n2, &cf2) != MERGE3_OK || n2 != n ||
		    memcmp(out, out2, n) != 0)) {
			bad++;
			fprintf(stderr, "  %s -> %s into %s again: %s\n", b.p,
			    y.p, out, out2 ? out2 : "-");
		}
		free(out);
		free(out2);
		merge3_conflicts_free(&cf);
		merge3_conflicts_free(&cf2);
	}
	CHECK(bad == 0);
	buf_free(&b);
	buf_free(&y);
	buf_free(&c);
}

int
main(void)
{
	RUN(test_table);
	RUN(test_nul_pointer);
	RUN(test_too_large);
	RUN(test_depth);
	RUN(test_many_conflicts);
	RUN(test_random);
	return T_EXIT();
}
