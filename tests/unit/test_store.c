/* Unit tests of the store through store.h alone: versions, timestamps,
 * preconditions, tombstones, long keys, a full store and the names of
 * created keys, with an injected clock: on LMDB, then on PostgreSQL when
 * VERSTORE_PG names a database (tests/pg.sh). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"
#include "t.h"
#include "tstore.h"

static int64_t fake_now;

static int64_t
fake_clock(void *arg)
{
	(void)arg;
	return fake_now;
}

static store *
open_store(size_t map_size)
{
	return tstore_open(map_size, fake_clock);
}

#define close_store tstore_close

static enum store_err
put(store *st, const char *k, const char *v, const struct store_cond *c,
    struct store_op *op)
{
	memset(op, 0, sizeof(*op));
	op->kind = STORE_OP_PUT;
	op->key = k;
	op->klen = strlen(k);
	op->value = v;
	op->vlen = strlen(v);
	op->cond = c;
	(void)store_apply(st, op, 1);
	return op->err;
}

static enum store_err
del(store *st, const char *k, const struct store_cond *c, struct store_op *op)
{
	memset(op, 0, sizeof(*op));
	op->kind = STORE_OP_DELETE;
	op->key = k;
	op->klen = strlen(k);
	op->cond = c;
	(void)store_apply(st, op, 1);
	return op->err;
}

static void
test_put_get_versions(void)
{
	store			*st = open_store(1 << 20);
	struct store_op		 op;
	struct store_meta	 m;
	char			*v;
	size_t			 n;

	fake_now = 1000000000000000LL;
	CHECK(store_get(st, "a", 1, &m, &v, &n) == STORE_NOTFOUND);
	CHECK(m.version == 0 && v == NULL);
	CHECK(put(st, "a", "1", NULL, &op) == STORE_OK);
	CHECK(op.created && op.meta.version == 1);
	CHECK(op.meta.created_us == fake_now && op.meta.updated_us == fake_now);
	fake_now += 5000000;
	CHECK(put(st, "a", "[2]", NULL, &op) == STORE_OK);
	CHECK(!op.created && op.meta.version == 2);
	CHECK(op.meta.created_us == 1000000000000000LL);
	CHECK(store_get(st, "a", 1, &m, &v, &n) == STORE_OK);
	CHECK(m.version == 2 && n == 3 && strcmp(v, "[2]") == 0);
	free(v);
	close_store(st);
}

static void
test_delete_recreate(void)
{
	store			*st = open_store(1 << 20);
	struct store_op		 op;
	struct store_meta	 m;
	char			*v;
	size_t			 n;
	int			 i;

	fake_now = 2000000000000000LL;
	for (i = 0; i < 5; i++)
		CHECK(put(st, "k", "true", NULL, &op) == STORE_OK);
	CHECK(op.meta.version == 5);
	CHECK(del(st, "k", NULL, &op) == STORE_OK);
	CHECK(op.meta.version == 6 && op.meta.deleted);
	CHECK(store_get(st, "k", 1, &m, &v, &n) == STORE_DELETED);
	CHECK(m.version == 6 && m.deleted && v == NULL);
	CHECK(del(st, "k", NULL, &op) == STORE_DELETED);
	CHECK(op.meta.version == 6);
	CHECK(del(st, "nope", NULL, &op) == STORE_NOTFOUND);
	fake_now += 10;
	CHECK(put(st, "k", "false", NULL, &op) == STORE_OK);
	CHECK(op.created && op.meta.version == 7);
	CHECK(op.meta.created_us == op.meta.updated_us);
	close_store(st);
}

static void
test_clock_steps_back(void)
{
	store		*st = open_store(1 << 20);
	struct store_op	 op;
	int64_t		 u1, l1;

	fake_now = 3000000000500000LL;	/* .5 s into a second */
	CHECK(put(st, "c", "1", NULL, &op) == STORE_OK);
	u1 = op.meta.updated_us;
	l1 = op.meta.lastmod_s;
	CHECK(l1 == 3000000000);
	fake_now -= 60 * 1000000LL;	/* the clock steps back a minute */
	CHECK(put(st, "c", "2", NULL, &op) == STORE_OK);
	CHECK(op.meta.updated_us == u1 + 1);
	CHECK(op.meta.lastmod_s == l1 + 1);
	/* same second again: Last-Modified still moves on */
	fake_now = 3000000000600000LL;
	CHECK(put(st, "c", "3", NULL, &op) == STORE_OK);
	CHECK(op.meta.updated_us == 3000000000600000LL);
	CHECK(op.meta.lastmod_s == l1 + 2);
	/* after a delete and re-create, too */
	CHECK(del(st, "c", NULL, &op) == STORE_OK);
	CHECK(op.meta.lastmod_s == l1 + 3);
	fake_now = 1;
	CHECK(put(st, "c", "4", NULL, &op) == STORE_OK);
	CHECK(op.meta.updated_us > 3000000000600000LL);
	CHECK(op.meta.lastmod_s == l1 + 4 && op.meta.version == 5);
	close_store(st);
}

static void
test_if_match(void)
{
	store			*st = open_store(1 << 20);
	struct store_op		 op;
	struct store_cond	 c;

	fake_now = 4000000000000000LL;
	memset(&c, 0, sizeof(c));
	c.flags = STORE_IF_MATCH;
	c.nmatch = 1;
	c.match[0].kind = STORE_TAG_VERSION;
	c.match[0].version = 1;
	CHECK(put(st, "m", "1", &c, &op) == STORE_NOTFOUND);
	CHECK(put(st, "m", "1", NULL, &op) == STORE_OK);
	CHECK(put(st, "m", "2", &c, &op) == STORE_OK);	/* v1 -> v2 */
	CHECK(put(st, "m", "3", &c, &op) == STORE_PRECOND);	/* stale */
	CHECK(op.meta.version == 2 && op.cur_value != NULL);
	CHECK(op.cur_value && strcmp(op.cur_value, "2") == 0);
	free(op.cur_value);
	c.match[0].weak = 1;
	c.match[0].version = 2;
	CHECK(put(st, "m", "3", &c, &op) == STORE_PRECOND);	/* weak never */
	free(op.cur_value);
	c.match[0].weak = 0;
	c.match[0].kind = STORE_TAG_UPDATED;
	c.match[0].updated_us = op.meta.updated_us;
	CHECK(put(st, "m", "3", &c, &op) == STORE_OK);
	c.match_any = 1;
	CHECK(put(st, "m", "4", &c, &op) == STORE_OK);
	CHECK(del(st, "m", NULL, &op) == STORE_OK);
	CHECK(put(st, "m", "5", &c, &op) == STORE_DELETED);	/* If-Match: * */
	close_store(st);
}

static void
test_tokens_and_none_match(void)
{
	store			*st = open_store(1 << 20);
	struct store_op		 op;
	struct store_cond	 c;

	fake_now = 5000000000000000LL;
	memset(&c, 0, sizeof(c));
	c.flags = STORE_TOKEN_VERSION;
	c.token_version = 0;	/* must not exist */
	CHECK(put(st, "t", "1", &c, &op) == STORE_OK);
	CHECK(put(st, "t", "1", &c, &op) == STORE_CONFLICT);
	free(op.cur_value);
	c.token_version = 1;
	CHECK(put(st, "t", "2", &c, &op) == STORE_OK);
	CHECK(put(st, "t", "3", &c, &op) == STORE_CONFLICT);
	CHECK(op.meta.version == 2);
	free(op.cur_value);
	c.token_version = 5;
	CHECK(put(st, "u", "1", &c, &op) == STORE_NOTFOUND);
	memset(&c, 0, sizeof(c));
	c.flags = STORE_IF_NONE_MATCH;
	c.none_any = 1;
	CHECK(put(st, "t", "4", &c, &op) == STORE_PRECOND);
	free(op.cur_value);
	CHECK(del(st, "t", NULL, &op) == STORE_OK);
	CHECK(put(st, "t", "4", &c, &op) == STORE_OK);	/* tombstone: free */
	CHECK(op.created && op.meta.version == 4);
	close_store(st);
}

static void
test_unmodified_since_and_require(void)
{
	store			*st = open_store(1 << 20);
	struct store_op		 op;
	struct store_cond	 c;

	fake_now = 6000000000000000LL;
	memset(&c, 0, sizeof(c));
	c.flags = STORE_IF_UNMODIFIED;
	c.unmodified_since = 6000000000 - 1;
	CHECK(put(st, "s", "1", &c, &op) == STORE_OK);	/* missing: ignored */
	CHECK(put(st, "s", "2", &c, &op) == STORE_PRECOND);
	free(op.cur_value);
	c.unmodified_since = 6000000000;
	CHECK(put(st, "s", "2", &c, &op) == STORE_OK);
	/* same second: Last-Modified is now +1, so the same date is stale */
	CHECK(put(st, "s", "3", &c, &op) == STORE_PRECOND);
	free(op.cur_value);
	memset(&c, 0, sizeof(c));
	c.flags = STORE_REQUIRE;
	CHECK(put(st, "r", "1", &c, &op) == STORE_OK);	/* new key: fine */
	CHECK(put(st, "r", "2", &c, &op) == STORE_REQUIRED);
	CHECK(del(st, "r", &c, &op) == STORE_REQUIRED);
	c.flags |= STORE_TOKEN_VERSION;
	c.token_version = 1;
	CHECK(put(st, "r", "2", &c, &op) == STORE_OK);
	close_store(st);
}

static void
test_long_keys(void)
{
	store			*st = open_store(1 << 20);
	struct store_op		 op;
	struct store_meta	 m;
	char			 k1[513], k2[513], *v;
	size_t			 n;

	fake_now = 7000000000000000LL;
	memset(k1, 'a', 512);
	k1[512] = '\0';
	memcpy(k2, k1, sizeof(k1));
	k2[511] = 'b';
	CHECK(put(st, k1, "1", NULL, &op) == STORE_OK);
	CHECK(put(st, k2, "2", NULL, &op) == STORE_OK);
	CHECK(store_get(st, k1, 512, &m, &v, &n) == STORE_OK);
	CHECK(v && strcmp(v, "1") == 0);
	free(v);
	CHECK(store_get(st, k2, 512, &m, &v, &n) == STORE_OK);
	CHECK(v && strcmp(v, "2") == 0);
	free(v);
	CHECK(store_get(st, k1, 511, &m, &v, &n) == STORE_NOTFOUND);
	CHECK(store_get(st, k1, 513, &m, &v, &n) == STORE_INVALID);
	close_store(st);
}

static void
test_map_full(void)
{
	store			*st = open_store(1 << 20);	/* 1 MiB */
	struct store_op		 op;
	struct store_meta	 m;
	char			*big, *v, key[32];
	size_t			 n;
	int			 i, full = 0;

	fake_now = 8000000000000000LL;
	big = malloc(100001);
	memset(big, '1', 100000);
	big[100000] = '\0';
	CHECK(put(st, "keep", "42", NULL, &op) == STORE_OK);
	for (i = 0; i < 40 && !full; i++) {
		snprintf(key, sizeof(key), "big/%d", i);
		if (put(st, key, big, NULL, &op) == STORE_FULL)
			full = 1;
		else
			CHECK(op.err == STORE_OK);
	}
	CHECK(full);
	CHECK(store_get(st, key, strlen(key), &m, &v, &n) == STORE_NOTFOUND);
	/* a full map still serves reads, and takes deletes */
	CHECK(store_get(st, "keep", 4, &m, &v, &n) == STORE_OK);
	free(v);
	CHECK(put(st, "keep", "43", NULL, &op) == STORE_FULL);
	CHECK(del(st, "big/0", NULL, &op) == STORE_OK);
	free(big);
	close_store(st);
}

/* Puts "k/N" = a value of vlen bytes until the store is full: how many. */
static int
fill(store *st, const char *prefix, size_t vlen)
{
	struct store_op	 op;
	char		*val, key[32];
	int		 i;

	val = malloc(vlen + 3);
	val[0] = '"';
	memset(val + 1, 'v', vlen);
	strcpy(val + 1 + vlen, "\"");
	for (i = 0; i < 100000; i++) {
		snprintf(key, sizeof(key), "%s/%06d", prefix, i);
		if (put(st, key, val, NULL, &op) != STORE_OK)
			break;
	}
	CHECK(op.err == STORE_FULL);
	free(val);
	return i;
}

/* Deletes "prefix/0" .. "prefix/n-1": how many the store took. */
static int
del_all(store *st, const char *prefix, int n)
{
	struct store_op	 op;
	char		 key[32];
	int		 i, ok = 0;

	for (i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "%s/%06d", prefix, i);
		ok += del(st, key, NULL, &op) == STORE_OK;
	}
	return ok;
}

/*
 * A full store takes every delete, however small its values (a tombstone
 * and its history entry take room); deleting large values makes room for
 * writes again, and a store emptied and filled again fills as far.
 */
static void
test_full_store_empties(void)
{
	static const size_t	 sizes[] = { 1, 100, 1000 };
	struct store_usage	 u;
	store			*st;
	size_t			 i;
	int			 n, again;

	fake_now = 8100000000000000LL;
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		st = open_store(1 << 20);
		n = fill(st, "k", sizes[i]);
		CHECK(n > 100);
		CHECK(store_usage(st, &u) == STORE_OK);
		CHECK(u.size_bytes == 1 << 20 && u.used_bytes >= 1 << 20);
		CHECK(del_all(st, "k", n) == n);
		close_store(st);
	}
	/* values with pages of their own: deleting frees them */
	st = open_store(1 << 20);
	n = fill(st, "a", 5000);
	CHECK(n > 50 && del_all(st, "a", n) == n);
	CHECK(store_usage(st, &u) == STORE_OK && u.used_bytes < 700 << 10);
	again = fill(st, "b", 5000);
	CHECK(again > n / 3);
	CHECK(del_all(st, "b", again) == again);
	close_store(st);
}

/*
 * A store whose data passed its map_size (an earlier build filled its map
 * to the end, or map_size was lowered) opens, refuses writes and takes
 * deletes; in one batch a refused write leaves its batch-mates alone.
 */
static void
test_over_map_size(void)
{
	struct store_opts	 o;
	struct store_op		 ops[3];
	store			*st = open_store(2 << 20);
	int			 n;

	fake_now = 8200000000000000LL;
	n = fill(st, "k", 500);
	store_close(st);
	memset(&o, 0, sizeof(o));
	o.map_size = 1 << 20;
	o.clock = fake_clock;
	tstore_reopen_opts(&o);
	CHECK(store_open(&o, &st) == STORE_OK);
	memset(ops, 0, sizeof(ops));
	ops[0] = tstore_put_op("k/new", "1", NULL);
	ops[1] = (struct store_op){ .kind = STORE_OP_DELETE, .key = "k/000000",
	    .klen = 8 };
	ops[2] = tstore_put_op("k/000001", "2", NULL);
	CHECK(store_apply(st, ops, 3) == STORE_OK);
	CHECK(ops[0].err == STORE_FULL && ops[2].err == STORE_FULL);
	CHECK(ops[1].err == STORE_OK && ops[1].meta.deleted);
	CHECK(del_all(st, "k", n) == n - 1);
	close_store(st);
}

static void
test_batch_isolation(void)
{
	store			*st = open_store(1 << 20);
	struct store_op		 ops[3];
	struct store_cond	 c;
	struct store_meta	 m;
	char			*v;
	size_t			 n;

	fake_now = 9000000000000000LL;
	memset(ops, 0, sizeof(ops));
	memset(&c, 0, sizeof(c));
	c.flags = STORE_TOKEN_VERSION;
	c.token_version = 7;	/* stale: fails */
	ops[0] = (struct store_op){ .kind = STORE_OP_PUT, .key = "x",
	    .klen = 1, .value = "1", .vlen = 1 };
	ops[1] = (struct store_op){ .kind = STORE_OP_PUT, .key = "x",
	    .klen = 1, .value = "2", .vlen = 1, .cond = &c };
	ops[2] = (struct store_op){ .kind = STORE_OP_PUT, .key = "x",
	    .klen = 1, .value = "3", .vlen = 1 };
	CHECK(store_apply(st, ops, 3) == STORE_OK);
	CHECK(ops[0].err == STORE_OK && ops[0].meta.version == 1);
	CHECK(ops[1].err == STORE_CONFLICT && ops[1].meta.version == 1);
	CHECK(ops[2].err == STORE_OK && ops[2].meta.version == 2);
	free(ops[1].cur_value);
	CHECK(store_get(st, "x", 1, &m, &v, &n) == STORE_OK);
	CHECK(v && strcmp(v, "3") == 0 && m.version == 2);
	free(v);
	close_store(st);
}

static struct store_op
mkop(enum store_op_kind kind, const char *key, const char *value,
    const struct store_cond *c)
{
	struct store_op	 op;

	memset(&op, 0, sizeof(op));
	op.kind = kind;
	op.key = key;
	op.klen = strlen(key);
	op.value = value;
	op.vlen = value ? strlen(value) : 0;
	op.cond = c;
	return op;
}

static void
test_write_all(void)
{
	store			*st = open_store(1 << 20);
	struct store_op		 ops[4];
	struct store_cond	 absent, stale;
	struct store_meta	 m;
	char			*v;
	size_t			 n, failed = 99, i;

	fake_now = 9100000000000000LL;
	memset(&absent, 0, sizeof(absent));
	absent.flags = STORE_TOKEN_VERSION;	/* version 0: must not exist */
	stale = absent;
	stale.token_version = 7;
	ops[0] = mkop(STORE_OP_PUT, "a", "1", NULL);
	ops[1] = mkop(STORE_OP_GET, "a", NULL, NULL);	/* sees ops[0] */
	ops[2] = mkop(STORE_OP_CHECK, "b", NULL, &absent);
	ops[3] = mkop(STORE_OP_PUT, "b", "2", NULL);
	CHECK(store_write_all(st, ops, 4, &failed) == STORE_OK);
	CHECK(ops[1].cur_value && strcmp(ops[1].cur_value, "1") == 0);
	CHECK(ops[1].meta.version == 1 && ops[3].meta.version == 1);
	for (i = 0; i < 4; i++)
		free(ops[i].cur_value);
	/* the second op fails: the first is undone, nothing is written */
	ops[0] = mkop(STORE_OP_PUT, "a", "changed", NULL);
	ops[1] = mkop(STORE_OP_CHECK, "b", NULL, &stale);
	ops[2] = mkop(STORE_OP_DELETE, "b", NULL, NULL);
	CHECK(store_write_all(st, ops, 3, &failed) == STORE_CONFLICT);
	CHECK(failed == 1 && ops[1].meta.version == 1);
	for (i = 0; i < 3; i++)
		free(ops[i].cur_value);
	CHECK(store_get(st, "a", 1, &m, &v, &n) == STORE_OK);
	CHECK(v && strcmp(v, "1") == 0 && m.version == 1);
	free(v);
	CHECK(store_get(st, "b", 1, &m, &v, &n) == STORE_OK && m.version == 1);
	free(v);
	/* a missing key reads as version 0 */
	ops[0] = mkop(STORE_OP_GET, "nope", NULL, NULL);
	CHECK(store_write_all(st, ops, 1, &failed) == STORE_OK);
	CHECK(ops[0].meta.version == 0 && ops[0].cur_value == NULL);
	close_store(st);
}

static enum store_err
create(store *st, const char *prefix, const char *slug, struct store_op *op)
{
	*op = mkop(STORE_OP_CREATE, prefix, "{}", NULL);
	op->klen = strlen(prefix);
	op->slug = slug;
	op->slug_len = slug ? strlen(slug) : 0;
	(void)store_apply(st, op, 1);
	return op->err;
}

static void
test_create_names(void)
{
	store			*st = open_store(1 << 20);
	struct store_op		 op;
	char			 first[STORE_KEY_MAX + 1];
	size_t			 i;

	fake_now = 9200000000000000LL;
	CHECK(create(st, "cards/", "card", &op) == STORE_OK);
	CHECK(strcmp(op.new_key, "cards/card") == 0 && op.new_klen == 10);
	CHECK(op.created && op.meta.version == 1);
	CHECK(create(st, "cards/", "card", &op) == STORE_OK);
	CHECK(strcmp(op.new_key, "cards/card-2") == 0);
	CHECK(create(st, "cards/", "card", &op) == STORE_OK);
	CHECK(strcmp(op.new_key, "cards/card-3") == 0);
	/* a tombstone is free: the name comes back, its versions go on */
	CHECK(del(st, "cards/card-2", NULL, &op) == STORE_OK);
	CHECK(create(st, "cards/", "card", &op) == STORE_OK);
	CHECK(strcmp(op.new_key, "cards/card-2") == 0);
	CHECK(op.created && op.meta.version == 3);
	/* no slug: 16 hex digits that grow, even when the clock stands still */
	CHECK(create(st, "ids/", NULL, &op) == STORE_OK);
	CHECK(op.new_klen == 20 && strncmp(op.new_key, "ids/", 4) == 0);
	for (i = 4; i < op.new_klen; i++)
		CHECK(strchr("0123456789abcdef", op.new_key[i]) != NULL);
	memcpy(first, op.new_key, op.new_klen + 1);
	CHECK(create(st, "ids/", NULL, &op) == STORE_OK);
	CHECK(op.new_klen == 20 && strcmp(op.new_key, first) > 0);
	/* an empty prefix names a top-level key */
	CHECK(create(st, "", "top", &op) == STORE_OK);
	CHECK(strcmp(op.new_key, "top") == 0);
	close_store(st);
}

/*
 * A MULTI callback: "a" must read as version 2 ("2"); copies it to "m",
 * which then reads as what it wrote.
 */
static int
copy_a_to_m(void *arg, store_io *io)
{
	struct store_meta	 m;
	const char		*v;
	size_t			 n;

	(void)arg;
	if (store_io_get(io, "a", 1, &m, &v, &n) != STORE_OK ||
	    m.version != 2 || n != 1 || v[0] != '2')
		return STORE_UPDATE_FAILED;
	if (store_io_put(io, "m", 1, "2", 1, NULL) != STORE_OK)
		return STORE_UPDATE_FAILED;
	if (store_io_get(io, "m", 1, &m, &v, &n) != STORE_OK ||
	    m.version != 1 || n != 1 || v[0] != '2')
		return STORE_UPDATE_FAILED;
	return 0;
}

static int
upd_append(void *arg, const char *cur, size_t clen, int64_t now,
    char **out, size_t *olen)
{
	(void)arg;
	(void)now;
	if ((*out = malloc(clen + 2)) == NULL)
		return STORE_UPDATE_FAILED;
	memcpy(*out, cur, clen);
	(*out)[clen] = '+';
	(*out)[clen + 1] = '\0';
	*olen = clen + 1;
	return 0;
}

/*
 * One batch that writes a key again and again: each op sees the state
 * the ones before it left (a read, a precondition, an update, a
 * callback's reads and a name picked), and every version is kept.
 */
static void
test_batch_reads_own_writes(void)
{
	store			*st = open_store(1 << 20);
	struct store_op		 ops[11];
	struct store_cond	 v1, absent;
	struct store_version	*h;
	struct store_meta	 m;
	char			*v;
	size_t			 n, i;

	fake_now = 9300000000000000LL;
	memset(&absent, 0, sizeof(absent));
	absent.flags = STORE_TOKEN_VERSION;
	v1 = absent;
	v1.token_version = 1;
	ops[0] = mkop(STORE_OP_PUT, "a", "1", NULL);
	ops[1] = mkop(STORE_OP_GET, "a", NULL, NULL);
	ops[2] = mkop(STORE_OP_PUT, "a", "2", &v1);
	ops[3] = mkop(STORE_OP_CHECK, "b", NULL, &absent);
	ops[4] = mkop(STORE_OP_MULTI, "a", NULL, NULL);
	ops[4].multi = copy_a_to_m;
	ops[5] = mkop(STORE_OP_GET, "m", NULL, NULL);
	ops[6] = mkop(STORE_OP_UPDATE, "m", NULL, &v1);
	ops[6].update = upd_append;
	ops[7] = mkop(STORE_OP_DELETE, "a", NULL, NULL);
	ops[8] = mkop(STORE_OP_PUT, "a", "3", NULL);
	ops[9] = mkop(STORE_OP_UPDATE, "nope", NULL, NULL);
	ops[9].update = upd_append;
	ops[10] = mkop(STORE_OP_CREATE, "", "a", NULL);
	ops[10].slug = "a";
	ops[10].slug_len = 1;
	ops[10].klen = 0;
	CHECK(store_apply(st, ops, 11) == STORE_OK);
	CHECK(ops[0].err == STORE_OK && ops[0].meta.version == 1);
	CHECK(ops[1].err == STORE_OK && ops[1].meta.version == 1);
	CHECK(ops[1].cur_value && strcmp(ops[1].cur_value, "1") == 0);
	CHECK(ops[2].err == STORE_OK && ops[2].meta.version == 2);
	CHECK(ops[3].err == STORE_OK);
	CHECK(ops[4].err == STORE_OK && ops[4].update_err == 0);
	CHECK(ops[5].err == STORE_OK && ops[5].meta.version == 1);
	CHECK(ops[5].cur_value && strcmp(ops[5].cur_value, "2") == 0);
	CHECK(ops[6].err == STORE_OK && ops[6].meta.version == 2);
	CHECK(ops[7].err == STORE_OK && ops[7].meta.version == 3);
	CHECK(ops[8].err == STORE_OK && ops[8].meta.version == 4);
	CHECK(ops[8].created);
	CHECK(ops[9].err == STORE_NOTFOUND);
	CHECK(ops[10].err == STORE_OK && strcmp(ops[10].new_key, "a-2") == 0);
	for (i = 0; i < 11; i++)
		free(ops[i].cur_value);
	CHECK(store_get(st, "a", 1, &m, &v, &n) == STORE_OK);
	CHECK(v && strcmp(v, "3") == 0 && m.version == 4);
	free(v);
	CHECK(store_get(st, "m", 1, &m, &v, &n) == STORE_OK);
	CHECK(v && strcmp(v, "2+") == 0 && m.version == 2);
	free(v);
	CHECK(store_get_version(st, "a", 1, 2, &m, &v, &n) == STORE_OK);
	CHECK(v && strcmp(v, "2") == 0);
	free(v);
	CHECK(store_get_version(st, "a", 1, 3, &m, &v, &n) == STORE_DELETED);
	CHECK(store_history(st, "a", 1, &h, &n) == STORE_OK && n == 4);
	if (n == 4)
		CHECK(h[0].version == 4 && h[1].deleted && h[3].size == 1);
	free(h);
	CHECK(store_seq(st) == 7);
	close_store(st);
}

/* Opens (again, when again) the test's store with quotas q[0..n). */
static store *
open_quotas(const struct store_quota *q, size_t n, int again)
{
	struct store_opts	 o;
	store			*st = NULL;

	memset(&o, 0, sizeof(o));
	o.map_size = 1 << 20;
	o.clock = fake_clock;
	o.quotas = q;
	o.nquotas = n;
	if (!again)
		return tstore_open_opts(&o);
	tstore_reopen_opts(&o);
	CHECK(store_open(&o, &st) == STORE_OK);
	return st;
}

/*
 * Quotas: each covering one applies; a write over one is refused and
 * writes nothing, its batch-mates go on; deletes and shrinking writes
 * pass even over the quota; the usage survives a reopen and is counted
 * anew after a reopen without its quota.
 */
static void
test_quotas(void)
{
	struct store_quota	 q[2] = { { "a/", 2, 100 }, { "a/b/", 4, 30 } };
	struct store_op		 ops[2], op;
	struct store_meta	 m;
	uint64_t		 used[2];
	store			*st = open_quotas(q, 2, 0);
	char			*v;
	size_t			 n;

	fake_now = 8300000000000000LL;
	CHECK(put(st, "a/x", "\"0123456789\"", NULL, &op) == STORE_OK);
	CHECK(store_quota_usage(st, used, 2) == STORE_OK);
	CHECK(used[0] == 3 + 12 && used[1] == 0);
	CHECK(put(st, "a/b/y", "\"0123456789012345678901234\"", NULL, &op) ==
	    STORE_QUOTA);
	CHECK(op.quota == 1 && op.quota_used == 0);
	CHECK(store_get(st, "a/b/y", 5, &m, &v, &n) == STORE_NOTFOUND);
	ops[0] = tstore_put_op("a/b/z", "\"0123456789012345678901234\"",
	    NULL);
	ops[1] = tstore_put_op("zz", "1", NULL);
	CHECK(store_apply(st, ops, 2) == STORE_OK);
	CHECK(ops[0].err == STORE_QUOTA && ops[1].err == STORE_OK);
	CHECK(put(st, "a/b/y", "[1,2,3]", NULL, &op) == STORE_OK);
	CHECK(store_quota_usage(st, used, 2) == STORE_OK);
	CHECK(used[0] == 15 + 5 + 7 && used[1] == 12);
	CHECK(store_write(st, &op) == STORE_OK);	/* the same again */
	CHECK(store_quota_usage(st, used, 2) == STORE_OK && used[1] == 12);
	store_close(st);
	/* lowered below the usage: shrinking and deleting still pass */
	q[1].bytes = 5;
	st = open_quotas(q, 2, 1);
	CHECK(store_quota_usage(st, used, 2) == STORE_OK && used[1] == 12);
	CHECK(put(st, "a/b/y", "[1,2,3,4]", NULL, &op) == STORE_QUOTA);
	CHECK(op.quota == 1 && op.quota_used == 12);
	CHECK(put(st, "a/b/y", "[1]", NULL, &op) == STORE_OK);
	CHECK(del(st, "a/b/y", NULL, &op) == STORE_OK);
	CHECK(store_quota_usage(st, used, 2) == STORE_OK);
	CHECK(used[0] == 15 && used[1] == 0);
	store_close(st);
	/* away while a/x grew: counted anew from the keys */
	st = open_quotas(q, 0, 1);
	CHECK(put(st, "a/x", "\"0123456789abcdefghij\"", NULL, &op) ==
	    STORE_OK);
	store_close(st);
	st = open_quotas(q, 2, 1);
	CHECK(store_quota_usage(st, used, 2) == STORE_OK);
	CHECK(used[0] == 3 + 22 && used[1] == 0);
	close_store(st);
}

static void
run_all(void)
{
	RUN(test_put_get_versions);
	RUN(test_delete_recreate);
	RUN(test_clock_steps_back);
	RUN(test_if_match);
	RUN(test_tokens_and_none_match);
	RUN(test_unmodified_since_and_require);
	RUN(test_long_keys);
	if (!tstore_pg) {		/* map_size is LMDB's */
		RUN(test_map_full);
		RUN(test_full_store_empties);
		RUN(test_over_map_size);
	}
	RUN(test_quotas);
	RUN(test_batch_isolation);
	RUN(test_write_all);
	RUN(test_create_names);
	RUN(test_batch_reads_own_writes);
}

int
main(void)
{
	run_all();
	if (tstore_use_pg())
		run_all();
	return T_EXIT();
}
