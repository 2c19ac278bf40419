/*
 * fuzz_merge3.c - the three-way merge on any three values.
 * Input: the base, a NUL, yours, a NUL, the current value.
 * Properties: a result is valid JSON no longer than max_value, and
 * merging yours into it again changes nothing; a conflict lists its
 * pointers; a side that did not change takes the other whole; swapping
 * yours and the current value conflicts alike.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "json/json.h"
#include "json/merge3.h"

#define MAX_VALUE	4096

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Checks what merge3() answered; aborts on anything it must not do. */
static void
check(enum merge3_err e, const char *out, size_t n,
    const struct merge3_conflicts *c)
{
	size_t	 i;

	if (e == MERGE3_OK && (out == NULL || n > MAX_VALUE ||
	    strlen(out) != n ||
	    json_check(out, n, JSON_MAX_DEPTH - 1, NULL) != JSON_OK))
		abort();
	if (e != MERGE3_OK && out != NULL)
		abort();
	if (e != MERGE3_CONFLICT && (c->n != 0 || c->total != 0))
		abort();
	if (e == MERGE3_CONFLICT && (c->n == 0 || c->n > c->total ||
	    c->n > MERGE3_CONFLICTS_MAX))
		abort();
	for (i = 0; i < c->n; i++)
		if (c->len[i] < 1 || c->ptr[i][0] != '/' ||
		    c->ptr[i][c->len[i]] != '\0')
			abort();
}

/* One of the three parts: checked, then compact as the store keeps it. */
static int
part(const char **p, const char *end, struct buf *b)
{
	const char	*sep;
	size_t		 n;

	if ((sep = memchr(*p, '\0', (size_t)(end - *p))) == NULL)
		sep = end;
	n = (size_t)(sep - *p);
	if (n > MAX_VALUE ||
	    json_check(*p, n, JSON_MAX_DEPTH - 1, NULL) != JSON_OK)
		return -1;
	json_compact(b, *p, n);
	*p = sep < end ? sep + 1 : end;
	return b->oom ? -1 : 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct merge3_conflicts	 c, c2;
	struct buf		 b = { 0 }, y = { 0 }, cur = { 0 };
	const char		*p = (const char *)data, *end = p + size;
	char			*out = NULL, *out2 = NULL;
	size_t			 n, n2;
	enum merge3_err		 e, e2;

	memset(&c, 0, sizeof(c));
	memset(&c2, 0, sizeof(c2));
	if (part(&p, end, &b) == -1 || part(&p, end, &y) == -1 ||
	    part(&p, end, &cur) == -1 || p != end)
		goto out;
	e = merge3(b.p, b.len, y.p, y.len, cur.p, cur.len, MAX_VALUE, &out, &n,
	    &c);
	check(e, out, n, &c);
	if (e == MERGE3_OK) {
		/* yours merged into the result again: nothing to change */
		e2 = merge3(b.p, b.len, y.p, y.len, out, n, MAX_VALUE, &out2,
		    &n2, &c2);
		if (e2 != MERGE3_OK || n2 != n || memcmp(out, out2, n) != 0)
			abort();
		free(out2);
		out2 = NULL;
	}
	e2 = merge3(b.p, b.len, cur.p, cur.len, y.p, y.len, MAX_VALUE, &out2,
	    &n2, &c2);
	check(e2, out2, n2, &c2);
	if ((e == MERGE3_OK || e == MERGE3_CONFLICT || e == MERGE3_WHOLE) &&
	    (e2 == MERGE3_OK || e2 == MERGE3_CONFLICT || e2 == MERGE3_WHOLE) &&
	    (e != e2 || c.total != c2.total))
		abort();
	free(out);
	free(out2);
	out = out2 = NULL;
	merge3_conflicts_free(&c);
	merge3_conflicts_free(&c2);
	/* a side that did not change */
	e = merge3(b.p, b.len, b.p, b.len, cur.p, cur.len, MAX_VALUE, &out, &n,
	    &c);
	if (cur.len <= MAX_VALUE && (e != MERGE3_OK || n != cur.len ||
	    memcmp(out, cur.p, n) != 0))
		abort();
	free(out);
	out = NULL;
	e = merge3(b.p, b.len, y.p, y.len, y.p, y.len, MAX_VALUE, &out, &n,
	    &c);
	if (y.len <= MAX_VALUE && (e != MERGE3_OK || n != y.len ||
	    memcmp(out, y.p, n) != 0))
		abort();
out:
	free(out);
	merge3_conflicts_free(&c);
	merge3_conflicts_free(&c2);
	buf_free(&b);
	buf_free(&y);
	buf_free(&cur);
	return 0;
}
