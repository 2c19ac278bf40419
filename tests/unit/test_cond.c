/*
 * The precondition rules (API.md 4) as store_cond_check() applies them to
 * a key's state: no store is opened, so every backend shares these.
 */
#include <string.h>

#include "store/store.h"
#include "t.h"

/* The states a key can be in. */
enum { MISSING, LIVE, TOMB };

static struct store_meta
state(int which)
{
	struct store_meta	 m;

	memset(&m, 0, sizeof(m));
	if (which == MISSING)
		return m;
	m.version = 3;
	m.created_us = 1000;
	m.updated_us = 5000;
	m.lastmod_s = 100;
	m.deleted = which == TOMB;
	return m;
}

static struct store_tag
vtag(uint64_t version, int weak)
{
	struct store_tag	 t;

	memset(&t, 0, sizeof(t));
	t.kind = STORE_TAG_VERSION;
	t.version = version;
	t.weak = weak;
	return t;
}

/* store_cond_check() on each state, for a write and for a read. */
static void
expect(const struct store_cond *c, enum store_err missing,
    enum store_err live, enum store_err tomb, int forread, int line)
{
	static const char	*names[] = { "missing", "live", "tombstone" };
	struct store_meta	 m;
	enum store_err		 want[3] = { missing, live, tomb }, got;
	int			 i;

	for (i = MISSING; i <= TOMB; i++) {
		m = state(i);
		if ((got = store_cond_check(c, &m, forread)) != want[i]) {
			t_failed++;
			fprintf(stderr, "  %s:%d: %s key, %s: %d, want %d\n",
			    __FILE__, line, names[i],
			    forread ? "read" : "write", got, want[i]);
		}
	}
}

#define WRITE(c, a, b, d)	expect(c, a, b, d, 0, __LINE__)
#define READ(c, a, b, d)	expect(c, a, b, d, 1, __LINE__)

static void
test_none_given(void)
{
	struct store_cond	 c;

	memset(&c, 0, sizeof(c));
	WRITE(NULL, STORE_OK, STORE_OK, STORE_OK);
	WRITE(&c, STORE_OK, STORE_OK, STORE_OK);
	READ(&c, STORE_OK, STORE_OK, STORE_OK);
}

static void
test_if_match_list(void)
{
	struct store_cond	 c;

	memset(&c, 0, sizeof(c));
	c.flags = STORE_IF_MATCH;
	c.nmatch = 2;
	c.match[0] = vtag(1, 0);
	c.match[1] = vtag(3, 0);
	WRITE(&c, STORE_NOTFOUND, STORE_OK, STORE_DELETED);
	c.match[1] = vtag(2, 0);
	WRITE(&c, STORE_NOTFOUND, STORE_PRECOND, STORE_DELETED);
	/* If-Match compares strongly: a weak tag never matches */
	c.match[1] = vtag(3, 1);
	WRITE(&c, STORE_NOTFOUND, STORE_PRECOND, STORE_DELETED);
	/* a bare updated_at */
	c.match[1].weak = 0;
	c.match[1].kind = STORE_TAG_UPDATED;
	c.match[1].updated_us = 5000;
	WRITE(&c, STORE_NOTFOUND, STORE_OK, STORE_DELETED);
	c.match[1].updated_us = 5001;
	WRITE(&c, STORE_NOTFOUND, STORE_PRECOND, STORE_DELETED);
	/* a well-formed tag that is not ours */
	c.nmatch = 1;
	c.match[0].kind = STORE_TAG_OTHER;
	WRITE(&c, STORE_NOTFOUND, STORE_PRECOND, STORE_DELETED);
}

static void
test_if_match_any(void)
{
	struct store_cond	 c;

	memset(&c, 0, sizeof(c));
	c.flags = STORE_IF_MATCH;
	c.match_any = 1;
	WRITE(&c, STORE_NOTFOUND, STORE_OK, STORE_DELETED);
	READ(&c, STORE_NOTFOUND, STORE_OK, STORE_DELETED);
}

static void
test_if_none_match(void)
{
	struct store_cond	 c;

	memset(&c, 0, sizeof(c));
	c.flags = STORE_IF_NONE_MATCH;
	c.none_any = 1;
	/* a tombstone does not exist: create over it */
	WRITE(&c, STORE_OK, STORE_PRECOND, STORE_OK);
	READ(&c, STORE_OK, STORE_NOT_MODIFIED, STORE_OK);
	/* a list compares weakly */
	c.none_any = 0;
	c.nnone = 2;
	c.none[0] = vtag(2, 0);
	c.none[1] = vtag(3, 1);
	WRITE(&c, STORE_OK, STORE_PRECOND, STORE_OK);
	READ(&c, STORE_OK, STORE_NOT_MODIFIED, STORE_OK);
	c.none[1] = vtag(4, 0);
	WRITE(&c, STORE_OK, STORE_OK, STORE_OK);
	READ(&c, STORE_OK, STORE_OK, STORE_OK);
}

static void
test_if_unmodified_since(void)
{
	struct store_cond	 c;

	memset(&c, 0, sizeof(c));
	c.flags = STORE_IF_UNMODIFIED;
	c.unmodified_since = 100;	/* the key's Last-Modified */
	WRITE(&c, STORE_OK, STORE_OK, STORE_OK);
	c.unmodified_since = 99;
	/* ignored on a key that does not exist (RFC 9110) */
	WRITE(&c, STORE_OK, STORE_PRECOND, STORE_OK);
	READ(&c, STORE_OK, STORE_PRECOND, STORE_OK);
	/* and in favour of If-Match when both are given */
	c.flags |= STORE_IF_MATCH;
	c.nmatch = 1;
	c.match[0] = vtag(3, 0);
	WRITE(&c, STORE_NOTFOUND, STORE_OK, STORE_DELETED);
}

static void
test_read_conditions(void)
{
	struct store_cond	 c;

	memset(&c, 0, sizeof(c));
	c.flags = STORE_IF_MODIFIED;
	c.modified_since = 100;
	READ(&c, STORE_OK, STORE_NOT_MODIFIED, STORE_OK);
	WRITE(&c, STORE_OK, STORE_OK, STORE_OK);	/* reads only */
	c.modified_since = 99;
	READ(&c, STORE_OK, STORE_OK, STORE_OK);
	/* If-None-Match wins over If-Modified-Since */
	c.flags = STORE_IF_MODIFIED | STORE_IF_NONE_MATCH;
	c.modified_since = 100;
	c.nnone = 1;
	c.none[0] = vtag(2, 1);
	READ(&c, STORE_OK, STORE_OK, STORE_OK);
}

static void
test_tokens(void)
{
	struct store_cond	 c;

	memset(&c, 0, sizeof(c));
	c.flags = STORE_TOKEN_VERSION;
	c.token_version = 0;		/* must not exist */
	WRITE(&c, STORE_OK, STORE_CONFLICT, STORE_OK);
	c.token_version = 3;
	WRITE(&c, STORE_NOTFOUND, STORE_OK, STORE_DELETED);
	c.token_version = 2;
	WRITE(&c, STORE_NOTFOUND, STORE_CONFLICT, STORE_DELETED);
	c.flags = STORE_TOKEN_UPDATED;
	c.token_updated_us = 5000;
	WRITE(&c, STORE_NOTFOUND, STORE_OK, STORE_DELETED);
	c.token_updated_us = 4999;
	WRITE(&c, STORE_NOTFOUND, STORE_CONFLICT, STORE_DELETED);
}

static void
test_headers_before_tokens(void)
{
	struct store_cond	 c;

	memset(&c, 0, sizeof(c));
	c.flags = STORE_IF_MATCH | STORE_TOKEN_VERSION;
	c.nmatch = 1;
	c.match[0] = vtag(2, 0);
	c.token_version = 2;
	WRITE(&c, STORE_NOTFOUND, STORE_PRECOND, STORE_DELETED);
	c.flags = STORE_IF_NONE_MATCH | STORE_TOKEN_VERSION;
	c.none_any = 1;
	c.token_version = 0;
	WRITE(&c, STORE_OK, STORE_PRECOND, STORE_OK);
}

static void
test_require(void)
{
	struct store_cond	 c;

	memset(&c, 0, sizeof(c));
	c.flags = STORE_REQUIRE;
	WRITE(&c, STORE_OK, STORE_REQUIRED, STORE_OK);
	/* If-Modified-Since guards no write */
	c.flags |= STORE_IF_MODIFIED;
	WRITE(&c, STORE_OK, STORE_REQUIRED, STORE_OK);
	c.flags = STORE_REQUIRE | STORE_IF_UNMODIFIED;
	c.unmodified_since = 100;
	WRITE(&c, STORE_OK, STORE_OK, STORE_OK);
	c.flags = STORE_REQUIRE | STORE_TOKEN_VERSION;
	c.token_version = 3;
	WRITE(&c, STORE_NOTFOUND, STORE_OK, STORE_DELETED);
}

int
main(void)
{
	RUN(test_none_given);
	RUN(test_if_match_list);
	RUN(test_if_match_any);
	RUN(test_if_none_match);
	RUN(test_if_unmodified_since);
	RUN(test_read_conditions);
	RUN(test_tokens);
	RUN(test_headers_before_tokens);
	RUN(test_require);
	return T_EXIT();
}
