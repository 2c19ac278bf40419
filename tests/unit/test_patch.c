/* Unit tests of fcgi/patch.c: the RFC 7396 appendix A and RFC 6902
 * appendix A examples, exact numbers, append and stamps. */
#include <stdlib.h>
#include <string.h>

#include "json/json.h"
#include "json/jtree.h"
#include "json/patch.h"
#include "t.h"

/* Semantic equality of two JSON texts (member order aside). */
static int
same_json(const char *a, const char *b)
{
	struct jtree	*t = jtree_new(1 << 20, 1 << 24);
	struct jnode	*x, *y;
	int		 eq = 0;

	if (t == NULL || json_check(a, strlen(a), 64, NULL) != JSON_OK ||
	    json_check(b, strlen(b), 64, NULL) != JSON_OK)
		goto out;
	x = jtree_parse(t, a, strlen(a));
	y = jtree_parse(t, b, strlen(b));
	eq = x != NULL && y != NULL && jtree_equal(t, x, y);
out:
	jtree_free(t);
	return eq;
}

static enum patch_err
run(int json_patch, const char *doc, const char *patch, char **out)
{
	struct patch		*p = NULL;
	struct patch_ctx	 ctx = { "2026-11-22T18:58:30.123456Z", NULL,
				    1 << 20 };
	enum patch_err		 e;
	size_t			 n;
	struct patch_res	 res;

	*out = NULL;
	/* as the API does: the body passes json_check (I-JSON) first */
	if (json_check(patch, strlen(patch), JSON_MAX_DEPTH, NULL) != JSON_OK)
		return PATCH_INVALID;
	e = json_patch ? patch_json(patch, strlen(patch), &p) :
	    patch_merge(patch, strlen(patch), &p);
	if (e != PATCH_OK)
		return e;
	e = patch_apply(p, doc, strlen(doc), &ctx, out, &n, &res);
	patch_free(p);
	return e;
}

static void
expect(int json_patch, const char *doc, const char *patch, const char *want)
{
	char		*out;
	enum patch_err	 e = run(json_patch, doc, patch, &out);

	if (e != PATCH_OK || !same_json(out, want)) {
		fprintf(stderr, "  %s + %s: got %s (err %d), want %s\n", doc,
		    patch, out ? out : "-", e, want);
		t_failed++;
	}
	free(out);
}

static void
expect_err(int json_patch, const char *doc, const char *patch,
    enum patch_err want)
{
	char		*out;
	enum patch_err	 e = run(json_patch, doc, patch, &out);

	if (e != want) {
		fprintf(stderr, "  %s + %s: err %d, want %d\n", doc, patch, e,
		    want);
		t_failed++;
	}
	free(out);
}

static void
test_rfc7396_appendix_a(void)
{
	expect(0, "{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}");
	expect(0, "{\"a\":\"b\"}", "{\"b\":\"c\"}", "{\"a\":\"b\",\"b\":\"c\"}");
	expect(0, "{\"a\":\"b\"}", "{\"a\":null}", "{}");
	expect(0, "{\"a\":\"b\",\"b\":\"c\"}", "{\"a\":null}", "{\"b\":\"c\"}");
	expect(0, "{\"a\":[\"b\"]}", "{\"a\":\"c\"}", "{\"a\":\"c\"}");
	expect(0, "{\"a\":\"c\"}", "{\"a\":[\"b\"]}", "{\"a\":[\"b\"]}");
	expect(0, "{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"d\",\"c\":null}}",
	    "{\"a\":{\"b\":\"d\"}}");
	expect(0, "{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", "{\"a\":[1]}");
	expect(0, "[\"a\",\"b\"]", "[\"c\",\"d\"]", "[\"c\",\"d\"]");
	expect(0, "{\"a\":\"b\"}", "[\"c\"]", "[\"c\"]");
	expect(0, "{\"a\":\"foo\"}", "null", "null");
	expect(0, "{\"a\":\"foo\"}", "\"bar\"", "\"bar\"");
	expect(0, "{\"e\":null}", "{\"a\":1}", "{\"e\":null,\"a\":1}");
	expect(0, "[1,2]", "{\"a\":\"b\",\"c\":null}", "{\"a\":\"b\"}");
	expect(0, "{}", "{\"a\":{\"bb\":{\"ccc\":null}}}", "{\"a\":{\"bb\":{}}}");
}

static void
test_rfc6902_appendix_a(void)
{
	expect(1, "{\"foo\":\"bar\"}",
	    "[{\"op\":\"add\",\"path\":\"/baz\",\"value\":\"qux\"}]",
	    "{\"baz\":\"qux\",\"foo\":\"bar\"}");				/* A.1 */
	expect(1, "{\"foo\":[\"bar\",\"baz\"]}",
	    "[{\"op\":\"add\",\"path\":\"/foo/1\",\"value\":\"qux\"}]",
	    "{\"foo\":[\"bar\",\"qux\",\"baz\"]}");				/* A.2 */
	expect(1, "{\"baz\":\"qux\",\"foo\":\"bar\"}",
	    "[{\"op\":\"remove\",\"path\":\"/baz\"}]", "{\"foo\":\"bar\"}");	/* A.3 */
	expect(1, "{\"foo\":[\"bar\",\"qux\",\"baz\"]}",
	    "[{\"op\":\"remove\",\"path\":\"/foo/1\"}]",
	    "{\"foo\":[\"bar\",\"baz\"]}");					/* A.4 */
	expect(1, "{\"baz\":\"qux\",\"foo\":\"bar\"}",
	    "[{\"op\":\"replace\",\"path\":\"/baz\",\"value\":\"boo\"}]",
	    "{\"baz\":\"boo\",\"foo\":\"bar\"}");				/* A.5 */
	expect(1, "{\"foo\":{\"bar\":\"baz\",\"waldo\":\"fred\"},"
	    "\"qux\":{\"corge\":\"grault\"}}",
	    "[{\"op\":\"move\",\"from\":\"/foo/waldo\",\"path\":\"/qux/thud\"}]",
	    "{\"foo\":{\"bar\":\"baz\"},\"qux\":{\"corge\":\"grault\","
	    "\"thud\":\"fred\"}}");						/* A.6 */
	expect(1, "{\"foo\":[\"all\",\"grass\",\"cows\",\"eat\"]}",
	    "[{\"op\":\"move\",\"from\":\"/foo/1\",\"path\":\"/foo/3\"}]",
	    "{\"foo\":[\"all\",\"cows\",\"eat\",\"grass\"]}");		/* A.7 */
	expect(1, "{\"baz\":\"qux\",\"foo\":[\"a\",2,\"c\"]}",
	    "[{\"op\":\"test\",\"path\":\"/baz\",\"value\":\"qux\"},"
	    "{\"op\":\"test\",\"path\":\"/foo/1\",\"value\":2}]",
	    "{\"baz\":\"qux\",\"foo\":[\"a\",2,\"c\"]}");			/* A.8 */
	expect_err(1, "{\"baz\":\"qux\"}",
	    "[{\"op\":\"test\",\"path\":\"/baz\",\"value\":\"bar\"}]",
	    PATCH_CONFLICT);						/* A.9 */
	expect(1, "{\"foo\":\"bar\"}",
	    "[{\"op\":\"add\",\"path\":\"/child\",\"value\":{\"grandchild\":{}}}]",
	    "{\"foo\":\"bar\",\"child\":{\"grandchild\":{}}}");		/* A.10 */
	expect(1, "{\"foo\":\"bar\"}",
	    "[{\"op\":\"add\",\"path\":\"/baz\",\"value\":\"qux\",\"xyz\":123}]",
	    "{\"foo\":\"bar\",\"baz\":\"qux\"}");				/* A.11 */
	expect_err(1, "{\"foo\":\"bar\"}",
	    "[{\"op\":\"add\",\"path\":\"/baz/bat\",\"value\":\"qux\"}]",
	    PATCH_CONFLICT);						/* A.12 */
	expect_err(1, "{\"foo\":\"bar\"}",
	    "[{\"op\":\"add\",\"path\":\"/baz\",\"value\":\"qux\","
	    "\"op\":\"remove\"}]", PATCH_INVALID);				/* A.13 */
	expect(1, "{\"/\":9,\"~1\":10}",
	    "[{\"op\":\"test\",\"path\":\"/~01\",\"value\":10}]",
	    "{\"/\":9,\"~1\":10}");						/* A.14 */
	expect_err(1, "{\"/\":9,\"~1\":10}",
	    "[{\"op\":\"test\",\"path\":\"/~01\",\"value\":\"10\"}]",
	    PATCH_CONFLICT);						/* A.15 */
	expect(1, "{\"foo\":[\"bar\"]}",
	    "[{\"op\":\"add\",\"path\":\"/foo/-\",\"value\":[\"abc\",\"def\"]}]",
	    "{\"foo\":[\"bar\",[\"abc\",\"def\"]]}");			/* A.16 */
}

static void
test_json_patch_edges(void)
{
	/* all or nothing: the second op fails, so nothing changes */
	expect_err(1, "{\"a\":1}", "[{\"op\":\"add\",\"path\":\"/b\",\"value\":2},"
	    "{\"op\":\"remove\",\"path\":\"/zz\"}]", PATCH_CONFLICT);
	expect(1, "{\"foo\":null}",
	    "[{\"op\":\"test\",\"path\":\"/foo\",\"value\":null}]", "{\"foo\":null}");
	expect(1, "{\"foo\":{\"foo\":1,\"bar\":2}}", "[{\"op\":\"test\","
	    "\"path\":\"/foo\",\"value\":{\"bar\":2,\"foo\":1}}]",
	    "{\"foo\":{\"foo\":1,\"bar\":2}}");
	expect(1, "{\"n\":1}", "[{\"op\":\"test\",\"path\":\"/n\",\"value\":1.0}]",
	    "{\"n\":1}");
	expect(1, "{\"foo\":\"bar\"}", "[{\"op\":\"add\",\"path\":\"\","
	    "\"value\":{\"baz\":\"qux\"}}]", "{\"baz\":\"qux\"}");
	expect(1, "{\"baz\":[{\"qux\":\"hello\"}],\"bar\":1}", "[{\"op\":\"copy\","
	    "\"from\":\"/baz/0\",\"path\":\"/boo\"}]",
	    "{\"baz\":[{\"qux\":\"hello\"}],\"bar\":1,\"boo\":{\"qux\":\"hello\"}}");
	expect(1, "[\"foo\",\"sil\"]", "[{\"op\":\"replace\",\"path\":\"/1\","
	    "\"value\":[\"bar\",\"baz\"]}]", "[\"foo\",[\"bar\",\"baz\"]]");
	expect(1, "{\"foo\":1}", "[{\"op\":\"move\",\"from\":\"/foo\","
	    "\"path\":\"/foo\"}]", "{\"foo\":1}");
	expect(1, "{}", "[]", "{}");
	expect_err(1, "{\"bar\":[1,2]}", "[{\"op\":\"add\",\"path\":\"/bar/8\","
	    "\"value\":5}]", PATCH_CONFLICT);
	expect_err(1, "{\"bar\":[1,2]}", "[{\"op\":\"add\",\"path\":\"/bar/01\","
	    "\"value\":5}]", PATCH_CONFLICT);
	expect_err(1, "[\"foo\",\"bar\"]", "[{\"op\":\"test\",\"path\":\"/1e0\","
	    "\"value\":\"bar\"}]", PATCH_CONFLICT);
	expect_err(1, "{\"a\":1}", "[{\"op\":\"remove\",\"path\":\"\"}]",
	    PATCH_CONFLICT);
	/* malformed patches */
	expect_err(1, "{}", "{\"op\":\"add\"}", PATCH_INVALID);
	expect_err(1, "{}", "[{\"op\":\"frob\",\"path\":\"/a\"}]", PATCH_INVALID);
	expect_err(1, "{}", "[{\"op\":\"add\",\"path\":\"a\",\"value\":1}]",
	    PATCH_INVALID);
	expect_err(1, "{}", "[{\"op\":\"add\",\"path\":\"/a~2\",\"value\":1}]",
	    PATCH_INVALID);
	expect_err(1, "{}", "[{\"op\":\"add\",\"path\":\"/a\"}]", PATCH_INVALID);
	expect_err(1, "{}", "[{\"op\":\"move\",\"path\":\"/a\"}]", PATCH_INVALID);
	expect_err(1, "{\"a\":{}}", "[{\"op\":\"move\",\"from\":\"/a\","
	    "\"path\":\"/a/b\"}]", PATCH_INVALID);
	expect_err(1, "{}", "[1]", PATCH_INVALID);
}

static char *
ops(int n)
{
	static char	 buf[64 * 200];
	int		 i;

	strcpy(buf, "[");
	for (i = 0; i < n; i++)
		strcat(buf, i ? ",{\"op\":\"test\",\"path\":\"\",\"value\":{}}" :
		    "{\"op\":\"test\",\"path\":\"\",\"value\":{}}");
	strcat(buf, "]");
	return buf;
}

static void
test_too_many_ops(void)
{
	char	*out;

	CHECK(run(1, "{}", ops(PATCH_OPS_MAX + 1), &out) == PATCH_INVALID);
	CHECK(run(1, "{}", ops(PATCH_OPS_MAX), &out) == PATCH_OK);
	free(out);
}

static void
test_exact_numbers(void)
{
	char	*out;

	CHECK(run(0, "{\"big\":12345678901234567890,\"f\":1.10,\"e\":1E+2}",
	    "{\"x\":true}", &out) == PATCH_OK);
	CHECK(out && strcmp(out, "{\"big\":12345678901234567890,\"f\":1.10,"
	    "\"e\":1E+2,\"x\":true}") == 0);
	free(out);
	CHECK(run(1, "[12345678901234567890]", "[{\"op\":\"test\",\"path\":"
	    "\"/0\",\"value\":12345678901234567891}]", &out) == PATCH_CONFLICT);
	free(out);
}

static void
test_append(void)
{
	struct patch		*p;
	struct patch_ctx	 ctx = { "2026-11-22T18:58:30.123456Z", "alice",
				    1 << 20 };
	char			*out;
	size_t			 n;
	struct patch_res	 res;

	CHECK(patch_append("/comments", 9, "{\"text\":\"hi\",\"by\":\"mallory\"}",
	    28, 1, &p) == PATCH_OK);
	CHECK(patch_apply(p, "{\"title\":\"t\"}", 13, &ctx, &out, &n, &res) ==
	    PATCH_OK);
	CHECK(res.index == 0);
	CHECK(out && same_json(out, "{\"title\":\"t\",\"comments\":[{\"text\":"
	    "\"hi\",\"at\":\"2026-11-22T18:58:30.123456Z\",\"by\":\"alice\"}]}"));
	free(out);
	CHECK(patch_apply(p, "{\"comments\":[1,2]}", 18, &ctx, &out, &n, &res) ==
	    PATCH_OK && res.index == 2);
	free(out);
	CHECK(patch_apply(p, "{\"comments\":\"x\"}", 16, &ctx, &out, &n, &res) ==
	    PATCH_CONFLICT);
	CHECK(patch_apply(p, "[]", 2, &ctx, &out, &n, &res) == PATCH_CONFLICT);
	patch_free(p);
	CHECK(patch_append("", 0, "7", 1, 0, &p) == PATCH_OK);
	CHECK(patch_apply(p, "[5,6]", 5, &ctx, &out, &n, &res) == PATCH_OK);
	CHECK(res.index == 2 && out && strcmp(out, "[5,6,7]") == 0);
	free(out);
	CHECK(patch_apply(p, "{}", 2, &ctx, &out, &n, &res) == PATCH_CONFLICT);
	patch_free(p);
	CHECK(patch_append("/a~2", 4, "1", 1, 0, &p) == PATCH_INVALID);
	CHECK(patch_append("/a", 2, "1", 1, 1, &p) == PATCH_INVALID);	/* stamp */
}

/* {"a":{"a":...inner...}} with depth objects around inner */
static char *
nest(int depth, const char *inner)
{
	static char	 buf[2][1024];
	static int	 which;
	char		*b = buf[which ^= 1];
	int		 i;

	b[0] = '\0';
	for (i = 0; i < depth; i++)
		strcat(b, i + 1 < depth ? "{\"a\":" : "{");
	strcat(b, inner);
	for (i = 0; i < depth; i++)
		strcat(b, "}");
	return b;
}

static void
test_depth_limit(void)
{
	char	*out, doc[1024];

	/* a value of 62 levels; a patch reaching one level deeper is fine
	 * (63), two levels deeper is not (64: {"value": ...} would be 65) */
	strcpy(doc, nest(62, ""));
	CHECK(run(0, doc, nest(62, "\"x\":[]"), &out) == PATCH_OK);
	free(out);
	CHECK(run(0, doc, nest(62, "\"x\":[[]]"), &out) == PATCH_TOO_DEEP);
}

/* Pointers of more than 64 tokens name nothing a value may hold. */
static void
test_pointer_tokens(void)
{
	char	 ptr[65 * 2 + 1], patch[256];
	char	*out;
	int	 i;

	for (i = 0; i < 65; i++)
		memcpy(ptr + 2 * i, "/a", 2);
	ptr[130] = '\0';
	CHECK(patch_pointer_valid(ptr, 128));
	CHECK(!patch_pointer_valid(ptr, 130));
	snprintf(patch, sizeof(patch), "[{\"op\":\"add\",\"path\":\"%s\","
	    "\"value\":1}]", ptr);
	CHECK(run(1, "{}", patch, &out) == PATCH_INVALID);
}

/* A failing operation is named by index, op and path. */
static void
test_failed_op(void)
{
	static const char	 jp[] = "[{\"op\":\"add\",\"path\":\"/a\","
	    "\"value\":1},{\"op\":\"test\",\"path\":\"/k\\u0000x/~1\","
	    "\"value\":2}]";
	struct patch		*p;
	struct patch_ctx	 ctx = { "2026-11-22T18:58:30.123456Z", NULL,
				    1 << 20 };
	struct patch_res	 res;
	char			*out, what[64];
	size_t			 n;

	CHECK(patch_json(jp, strlen(jp), &p) == PATCH_OK);
	CHECK(patch_apply(p, "{}", 2, &ctx, &out, &n, &res) == PATCH_CONFLICT);
	CHECK(res.op == 1 && out == NULL);
	patch_op_describe(p, 1, what, sizeof(what));
	CHECK(strcmp(what, "test /k?x//") == 0);
	patch_op_describe(p, 1, what, 8);
	CHECK(strcmp(what, "test /k") == 0);
	patch_free(p);
}

int
main(void)
{
	RUN(test_rfc7396_appendix_a);
	RUN(test_rfc6902_appendix_a);
	RUN(test_json_patch_edges);
	RUN(test_too_many_ops);
	RUN(test_exact_numbers);
	RUN(test_append);
	RUN(test_depth_limit);
	RUN(test_pointer_tokens);
	RUN(test_failed_op);
	return T_EXIT();
}
