/* Unit tests of fcgi/json/jw.c: commas, names, nesting and misuse. */
#include <string.h>

#include "json/json.h"
#include "json/jw.h"
#include "t.h"

/* The document in b is exactly want (with jw_end's newline). */
static void
expect(struct buf *b, const char *want)
{
	if (b->len != strlen(want) || memcmp(b->p, want, b->len) != 0) {
		fprintf(stderr, "  got %.*s want %s", (int)b->len,
		    b->p ? b->p : "", want);
		t_failed++;
	}
}

static void
test_nesting(void)
{
	struct buf	 b = { 0 };
	struct jw	 w;

	jw_init(&w, &b);
	jw_obj(&w, NULL);
	jw_str(&w, "key", "a\"b\n", 4);
	jw_u64(&w, "version", 18446744073709551615ULL);
	jw_arr(&w, "items");
	jw_obj(&w, NULL);
	jw_close(&w);
	jw_arr(&w, NULL);
	jw_close(&w);
	jw_null(&w, NULL);
	jw_bool(&w, NULL, 1);
	jw_raw(&w, NULL, "{\"x\":1.50}", 10);
	jw_close(&w);
	jw_bool(&w, "exists", 0);
	jw_close(&w);
	CHECK(jw_end(&w) == 0);
	expect(&b, "{\"key\":\"a\\\"b\\n\",\"version\":18446744073709551615,"
	    "\"items\":[{},[],null,true,{\"x\":1.50}],\"exists\":false}\n");
	CHECK(json_check(b.p, b.len, JSON_MAX_DEPTH, NULL) == JSON_OK);
	buf_free(&b);
}

static void
test_scalar_top(void)
{
	struct buf	 b = { 0 };
	struct jw	 w;

	jw_init(&w, &b);
	jw_strz(&w, NULL, "x");
	CHECK(jw_end(&w) == 0);
	expect(&b, "\"x\"\n");
	buf_free(&b);
}

static void
test_splice(void)
{
	struct buf	 b = { 0 };
	struct jw	 w;

	jw_init(&w, &b);
	jw_arr(&w, NULL);
	jw_splice(&w, "[]", 2);
	jw_splice(&w, "[1,2]", 5);
	jw_splice(&w, "[]", 2);
	jw_u64(&w, NULL, 3);
	jw_splice(&w, "[{\"a\":[4]}]", 11);
	jw_close(&w);
	CHECK(jw_end(&w) == 0);
	expect(&b, "[1,2,3,{\"a\":[4]}]\n");
	buf_free(&b);
}

/* Each misuse makes jw_end fail and stops writing. */
static void
test_misuse(void)
{
	struct buf	 b = { 0 };
	struct jw	 w;
	size_t		 len;
	int		 i;

	for (i = 0; i < 8; i++) {
		buf_reset(&b);
		jw_init(&w, &b);
		switch (i) {
		case 0:		/* a member without a name */
			jw_obj(&w, NULL);
			jw_u64(&w, NULL, 1);
			jw_close(&w);
			break;
		case 1:		/* an element with a name */
			jw_arr(&w, NULL);
			jw_u64(&w, "x", 1);
			jw_close(&w);
			break;
		case 2:		/* a name at the top */
			jw_obj(&w, "x");
			jw_close(&w);
			break;
		case 3:		/* a close with nothing open */
			jw_obj(&w, NULL);
			jw_close(&w);
			jw_close(&w);
			break;
		case 4:		/* left open */
			jw_obj(&w, NULL);
			break;
		case 5:		/* two top-level values */
			jw_obj(&w, NULL);
			jw_close(&w);
			jw_obj(&w, NULL);
			jw_close(&w);
			break;
		case 6:		/* nothing at all */
			break;
		case 7:		/* a splice into an object */
			jw_obj(&w, NULL);
			jw_splice(&w, "[1]", 3);
			jw_close(&w);
			break;
		}
		len = b.len;
		CHECK(jw_end(&w) == -1);
		CHECK(b.len == len);	/* no newline after a broken one */
	}
	buf_free(&b);
}

static void
test_depth(void)
{
	struct buf	 b = { 0 };
	struct jw	 w;
	int		 i;

	jw_init(&w, &b);
	for (i = 0; i < JW_DEPTH_MAX; i++)
		jw_arr(&w, NULL);
	CHECK(jw_ok(&w) == 0);
	for (i = 0; i < JW_DEPTH_MAX; i++)
		jw_close(&w);
	CHECK(jw_end(&w) == 0);
	buf_reset(&b);
	jw_init(&w, &b);
	for (i = 0; i <= JW_DEPTH_MAX; i++)
		jw_arr(&w, NULL);
	CHECK(jw_ok(&w) == -1);
	buf_free(&b);
}

int
main(void)
{
	RUN(test_nesting);
	RUN(test_scalar_top);
	RUN(test_splice);
	RUN(test_misuse);
	RUN(test_depth);
	return T_EXIT();
}
