/*
 * Unit tests of the change feed and the history through store.h alone
 * (API.md 7): seq, the one entry per key, paging, the scan bound, the
 * commit hook, the versions kept.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "t.h"
#include "tstore.h"

static uint64_t	 told[64];
static size_t	 ntold;

static void
on_commit(void *arg, uint64_t seq)
{
	(void)arg;
	if (ntold < 64)
		told[ntold++] = seq;
}

static store *
open_feed(unsigned history)
{
	struct store_opts	 o;

	memset(&o, 0, sizeof(o));
	o.map_size = (size_t)64 << 20;
	o.history_versions = history;
	o.on_commit = on_commit;
	ntold = 0;
	return tstore_open_opts(&o);
}

static enum store_err
write1(store *st, enum store_op_kind kind, const char *k, const char *v)
{
	struct store_op	 op;

	memset(&op, 0, sizeof(op));
	op.kind = kind;
	op.key = k;
	op.klen = strlen(k);
	op.value = v;
	op.vlen = v != NULL ? strlen(v) : 0;
	(void)store_write(st, &op);
	free(op.cur_value);
	return op.err;
}

static void
test_one_entry_per_key_in_seq_order(void)
{
	store			*st = open_feed(0);
	struct store_changes	 ch;
	struct store_prefix	 f = { "f/", 2 };
	struct store_op		 ops[2];
	uint64_t		 since = 0, last = 0;
	size_t			 i, seen = 0;
	int			 found[4] = { 0 };
	size_t			 failed;

	CHECK(store_seq(st) == 0);
	CHECK(write1(st, STORE_OP_PUT, "f/a", "1") == STORE_OK);	/* 1 */
	CHECK(write1(st, STORE_OP_PUT, "f/b", "1") == STORE_OK);	/* 2 */
	CHECK(write1(st, STORE_OP_PUT, "f/a", "2") == STORE_OK);	/* 3 */
	CHECK(write1(st, STORE_OP_DELETE, "f/b", NULL) == STORE_OK);	/* 4 */
	memset(ops, 0, sizeof(ops));
	ops[0].kind = ops[1].kind = STORE_OP_PUT;
	ops[0].key = "f/c";
	ops[1].key = "f/d";
	ops[0].klen = ops[1].klen = 3;
	ops[0].value = ops[1].value = "0";
	ops[0].vlen = ops[1].vlen = 1;
	CHECK(store_write_all(st, ops, 2, &failed) == STORE_OK);	/* 5, 6 */
	CHECK(store_seq(st) == 6);
	CHECK(ntold > 0 && told[ntold - 1] == 6);
	for (i = 1; i < ntold; i++)
		CHECK(told[i] > told[i - 1]);
	/* pages of 3: a(3) b(4) c(5) | d(6) | nothing */
	for (;;) {
		CHECK(store_changes(st, since, &f, 1, 3, 0, &ch) ==
		    STORE_OK);
		for (i = 0; i < ch.n; i++) {
			CHECK(ch.items[i].seq > last);
			last = ch.items[i].seq;
			found[ch.items[i].key[2] - 'a']++;
			seen++;
		}
		if (ch.n > 0)
			CHECK(ch.last_seq == ch.items[ch.n - 1].seq);
		since = ch.last_seq;
		i = ch.n;
		store_changes_free(&ch);
		if (i == 0)
			break;
	}
	CHECK(seen == 4 && found[0] == 1 && found[1] == 1 && found[2] == 1 &&
	    found[3] == 1);
	CHECK(since == 6);
	CHECK(store_changes(st, 2, NULL, 0, 10, 0, &ch) == STORE_OK);
	CHECK(ch.n == 4 && ch.items[0].seq == 3 &&
	    strcmp(ch.items[0].key, "f/a") == 0 && ch.items[0].version == 2);
	CHECK(ch.items[1].deleted && ch.items[1].version == 2);
	store_changes_free(&ch);
	/* a since past the store's end gets the store's last seq back */
	CHECK(store_changes(st, 1000, NULL, 0, 10, 0, &ch) == STORE_OK);
	CHECK(ch.n == 0 && ch.last_seq == 6);
	store_changes_free(&ch);
	tstore_close(st);
}

static void
test_scan_bound(void)
{
	store			*st = open_feed(0);
	struct store_changes	 ch;
	struct store_prefix	 b = { "b/", 2 };
	char			 k[16];
	int			 i;

	for (i = 0; i < 20; i++) {
		snprintf(k, sizeof(k), "a/%d", i);
		CHECK(write1(st, STORE_OP_PUT, k, "1") == STORE_OK);
	}
	CHECK(write1(st, STORE_OP_PUT, "b/x", "1") == STORE_OK);	/* 21 */
	CHECK(store_changes(st, 0, &b, 1, 10, 5, &ch) == STORE_OK);
	CHECK(ch.n == 0 && ch.last_seq == 5);	/* looked at 1..5 */
	store_changes_free(&ch);
	CHECK(store_changes(st, 15, &b, 1, 10, 10, &ch) == STORE_OK);
	CHECK(ch.n == 1 && ch.items[0].seq == 21 && ch.last_seq == 21);
	store_changes_free(&ch);
	tstore_close(st);
}

/*
 * Keys under none of the prefixes count against the scan only: a limit of
 * one with a key outside between two inside steps over it, and last_seq
 * at the end is the store's seq whether or not keys outside exist.
 */
static void
test_prefixes_filter_before_limit(void)
{
	store			*st = open_feed(0);
	struct store_changes	 ch;
	struct store_prefix	 two[2] = { { "a/", 2 }, { "c/", 2 } };
	struct store_prefix	 bx = { "b/x", 3 }, by = { "b/y", 3 };

	CHECK(write1(st, STORE_OP_PUT, "a/1", "1") == STORE_OK);	/* 1 */
	CHECK(write1(st, STORE_OP_PUT, "b/x1", "1") == STORE_OK);	/* 2 */
	CHECK(write1(st, STORE_OP_PUT, "c/1", "1") == STORE_OK);	/* 3 */
	CHECK(write1(st, STORE_OP_PUT, "b/x2", "1") == STORE_OK);	/* 4 */
	CHECK(store_changes(st, 0, two, 2, 1, 0, &ch) == STORE_OK);
	CHECK(ch.n == 1 && ch.items[0].seq == 1 && ch.last_seq == 1);
	store_changes_free(&ch);
	CHECK(store_changes(st, 1, two, 2, 1, 0, &ch) == STORE_OK);
	CHECK(ch.n == 1 && ch.items[0].seq == 3 &&
	    strcmp(ch.items[0].key, "c/1") == 0 && ch.last_seq == 3);
	store_changes_free(&ch);
	CHECK(store_changes(st, 3, two, 2, 1, 0, &ch) == STORE_OK);
	CHECK(ch.n == 0 && ch.last_seq == 4);
	store_changes_free(&ch);
	/* a prefix that exists and one that does not answer alike */
	CHECK(store_changes(st, 0, &by, 1, 1, 0, &ch) == STORE_OK);
	CHECK(ch.n == 0 && ch.last_seq == 4);
	store_changes_free(&ch);
	CHECK(store_changes(st, 0, &bx, 1, 1, 0, &ch) == STORE_OK);
	CHECK(ch.n == 1 && ch.last_seq == 2);
	store_changes_free(&ch);
	CHECK(store_changes(st, 0, two, STORE_FEED_PREFIXES_MAX + 1, 1, 0,
	    &ch) == STORE_INVALID);
	tstore_close(st);
}

static void
test_history_kept_and_pruned(void)
{
	store			*st = open_feed(3);
	struct store_version	*v = NULL;
	struct store_meta	 m;
	char			*val;
	size_t			 n, vlen;

	CHECK(store_history(st, "h", 1, &v, &n) == STORE_NOTFOUND);
	CHECK(write1(st, STORE_OP_PUT, "h", "\"one\"") == STORE_OK);
	CHECK(write1(st, STORE_OP_PUT, "h", "\"two\"") == STORE_OK);
	CHECK(write1(st, STORE_OP_DELETE, "h", NULL) == STORE_OK);
	CHECK(write1(st, STORE_OP_PUT, "h", "\"four\"") == STORE_OK);
	CHECK(store_history(st, "h", 1, &v, &n) == STORE_OK);
	CHECK(n == 3 && v[0].version == 4 && v[1].version == 3 &&
	    v[2].version == 2);
	CHECK(v[1].deleted && v[1].size == 0 && v[0].size == 6);
	free(v);
	CHECK(store_get_version(st, "h", 1, 2, &m, &val, &vlen) == STORE_OK);
	CHECK(vlen == 5 && memcmp(val, "\"two\"", 5) == 0 && m.version == 2);
	free(val);
	CHECK(store_get_version(st, "h", 1, 3, &m, &val, &vlen) ==
	    STORE_DELETED && val == NULL && m.version == 3);
	CHECK(store_get_version(st, "h", 1, 1, &m, &val, &vlen) == STORE_GONE);
	CHECK(store_get_version(st, "h", 1, 5, &m, &val, &vlen) ==
	    STORE_NOTFOUND);
	CHECK(store_get_version(st, "h", 1, 0, &m, &val, &vlen) ==
	    STORE_NOTFOUND);
	CHECK(store_get_version(st, "h", 1, 4, &m, &val, &vlen) == STORE_OK);
	free(val);
	tstore_close(st);
}

/* A lower history_versions holds at once, and what it drops goes. */
static void
test_history_lowered(void)
{
	struct store_opts	 o;
	struct store_version	*v = NULL;
	struct store_meta	 m;
	store			*st = open_feed(10);
	char			*val;
	size_t			 n, vlen;
	int			 i;

	for (i = 0; i < 15; i++)
		CHECK(write1(st, STORE_OP_PUT, "l", "1") == STORE_OK);
	CHECK(store_get_version(st, "l", 1, 6, &m, &val, &vlen) == STORE_OK);
	free(val);
	store_close(st);
	memset(&o, 0, sizeof(o));
	tstore_reopen_opts(&o);
	o.map_size = (size_t)64 << 20;
	o.history_versions = 3;
	CHECK(store_open(&o, &st) == STORE_OK);
	for (i = 0; i < 2; i++)
		CHECK(write1(st, STORE_OP_PUT, "l", "1") == STORE_OK);
	CHECK(store_get_version(st, "l", 1, 6, &m, &val, &vlen) == STORE_GONE);
	CHECK(store_get_version(st, "l", 1, 14, &m, &val, &vlen) ==
	    STORE_GONE);
	CHECK(store_get_version(st, "l", 1, 15, &m, &val, &vlen) == STORE_OK);
	free(val);
	CHECK(store_history(st, "l", 1, &v, &n) == STORE_OK && n == 3 &&
	    v[0].version == 17 && v[2].version == 15);
	free(v);
	tstore_close(st);
}

static void
run_all(void)
{
	RUN(test_one_entry_per_key_in_seq_order);
	RUN(test_scan_bound);
	RUN(test_prefixes_filter_before_limit);
	RUN(test_history_kept_and_pruned);
	RUN(test_history_lowered);
}

int
main(void)
{
	run_all();
	if (tstore_use_pg())
		run_all();
	return T_EXIT();
}
