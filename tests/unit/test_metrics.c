/*
 * Unit tests of fcgi/lib/metrics.c: counts from several processes, one of
 * them killed, the prefix table's bound and escaping, histogram edges,
 * and the exposition as promtool reads it (when promtool is installed).
 */
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/hash.h"
#include "lib/metrics.h"
#include "lib/metrics_int.h"
#include "t.h"

#define N	100000		/* requests each child records */

/*
 * The value of the sample whose name and labels are exactly series, or
 * -1 when the exposition has no such line.
 */
static long long
sample(const struct buf *b, const char *series)
{
	size_t		 n = strlen(series);
	const char	*p = b->p, *end = b->p + b->len;

	while (p != NULL && p < end) {
		if (strncmp(p, series, n) == 0 && p[n] == ' ')
			return strtoll(p + n + 1, NULL, 10);
		if ((p = memchr(p, '\n', (size_t)(end - p))) != NULL)
			p++;
	}
	return -1;
}

/* How many lines of the exposition begin with s. */
static int
lines_with(const struct buf *b, const char *s)
{
	const char	*p = b->p, *end = b->p + b->len;
	int		 k = 0;

	while (p != NULL && p < end) {
		if (strncmp(p, s, strlen(s)) == 0)
			k++;
		if ((p = memchr(p, '\n', (size_t)(end - p))) != NULL)
			p++;
	}
	return k;
}

/* A new region, or NULL (a failed check) when none can be had. */
static struct metrics *
fresh(void)
{
	struct metrics	*m;

	CHECK(metrics_create(&m) == METRICS_OK && m != NULL);
	return m;
}

static int
render(struct metrics *m, struct buf *b)
{
	buf_reset(b);
	return metrics_render(m, NULL, b) == METRICS_OK && b->len > 0;
}

/* Series and the value each must have after test_counts' records. */
static const struct want {
	const char	*series;
	long long	 v;
} counts[] = {
	{ "verstore_requests_total{method=\"GET\",code=\"200\"}", 2 },
	{ "verstore_requests_total{method=\"GET\",code=\"304\"}", 1 },
	{ "verstore_requests_total{method=\"PUT\",code=\"412\"}", 1 },
	{ "verstore_requests_total{method=\"other\",code=\"501\"}", 2 },
	{ "verstore_requests_total{method=\"other\",code=\"200\"}", 1 },
	{ "verstore_conflicts_total{code=\"VERSION_CONFLICT\","
	    "prefix=\"lists\"}", 2 },
	{ "verstore_conflicts_total{code=\"PRECONDITION_FAILED\","
	    "prefix=\"lists\"}", 1 },
	{ "verstore_conflicts_total{code=\"MERGE_CONFLICT\",prefix=\"cards\"}",
	    1 },
	{ "verstore_conflicts_total{code=\"PATCH_CONFLICT\",prefix=\"~other\"}",
	    3 },
	{ "verstore_merges_total{result=\"merged\"}", 2 },
	{ "verstore_merges_total{result=\"conflict\"}", 1 },
	{ "verstore_write_batches_total", 4 },
	{ "verstore_write_batch_ops_bucket{le=\"1\"}", 1 },
	{ "verstore_write_batch_ops_bucket{le=\"4\"}", 2 },
	{ "verstore_write_batch_ops_bucket{le=\"256\"}", 3 },
	{ "verstore_write_batch_ops_bucket{le=\"+Inf\"}", 4 },
	{ "verstore_write_batch_ops_sum", 560 },
	{ "verstore_write_batch_ops_count", 4 },
	{ "verstore_watchers", 2 },
	{ "verstore_changes_seq", 42 },
	{ "verstore_request_duration_seconds_count{method=\"GET\"}", 3 },
};

static void
expect(const struct buf *b, const struct want *w, size_t n)
{
	size_t		 i;
	long long	 v;

	for (i = 0; i < n; i++)
		if ((v = sample(b, w[i].series)) != w[i].v) {
			fprintf(stderr, "  %s is %lld, want %lld\n",
			    w[i].series, v, w[i].v);
			t_failed++;
		}
}

static void
test_counts(void)
{
	struct metrics	*m;
	struct buf	 b = { 0 }, full = { 0 };

	if ((m = fresh()) == NULL)
		return;
	CHECK(render(m, &b));
	/* the families are there before anything was counted */
	CHECK(lines_with(&b, "# TYPE verstore_requests_total counter") == 1);
	CHECK(lines_with(&b, "verstore_requests_total{") == 0);
	CHECK(lines_with(&b, "# HELP verstore_conflicts_total ") == 1);
	CHECK(lines_with(&b, "verstore_store_") == 0);	/* no gauges given */

	CHECK(metrics_request(m, "GET", 200, 150) == METRICS_OK);
	CHECK(metrics_request(m, "GET", 200, 50) == METRICS_OK);
	CHECK(metrics_request(m, "GET", 304, 1) == METRICS_OK);
	CHECK(metrics_request(m, "PUT", 412, 2000000) == METRICS_OK);
	CHECK(metrics_request(m, "BREW", 501, 10) == METRICS_OK);
	CHECK(metrics_request(m, NULL, 501, 10) == METRICS_OK);
	CHECK(metrics_request(m, "get", 200, 10) == METRICS_OK);
	CHECK(metrics_request(m, "GET", 99, 10) == METRICS_INVALID);
	CHECK(metrics_request(m, "GET", 600, 10) == METRICS_INVALID);
	CHECK(metrics_conflict(m, METRICS_VERSION_CONFLICT, "lists/a", 7) ==
	    METRICS_OK);
	CHECK(metrics_conflict(m, METRICS_VERSION_CONFLICT, "lists", 5) ==
	    METRICS_OK);
	CHECK(metrics_conflict(m, METRICS_PRECONDITION_FAILED, "lists/b/c", 9)
	    == METRICS_OK);
	CHECK(metrics_conflict(m, METRICS_MERGE_CONFLICT, "cards/x", 7) ==
	    METRICS_OK);
	CHECK(metrics_conflict(m, METRICS_CONFLICT_CODES, "cards/x", 7) ==
	    METRICS_INVALID);
	/* empty, "~other" itself, not UTF-8: all three under ~other */
	CHECK(metrics_conflict(m, METRICS_PATCH_CONFLICT, "/x", 2) ==
	    METRICS_OK);
	CHECK(metrics_conflict(m, METRICS_PATCH_CONFLICT, "~other/x", 8) ==
	    METRICS_OK);
	CHECK(metrics_conflict(m, METRICS_PATCH_CONFLICT, "\xff/x", 3) ==
	    METRICS_OK);
	metrics_merge(m, 1);
	metrics_merge(m, 1);
	metrics_merge(m, 0);
	metrics_batch(m, 1);
	metrics_batch(m, 3);
	metrics_batch(m, 256);
	metrics_batch(m, 300);
	metrics_watchers_add(m, 3);
	metrics_watchers_add(m, -1);
	metrics_seq_set(m, 42);
	metrics_seq_set(m, 41);		/* a late report does not go back */

	CHECK(render(m, &b));
	expect(&b, counts, sizeof(counts) / sizeof(counts[0]));
	CHECK(lines_with(&b, "verstore_requests_total{") == 5);
	CHECK(lines_with(&b, "verstore_conflicts_total{") == 4);
	/* a buffer that ran out of memory says so */
	full.oom = 1;
	CHECK(metrics_render(m, NULL, &full) == METRICS_NOMEM);
	/* 150 + 50 + 1 µs */
	CHECK(strstr(b.p, "verstore_request_duration_seconds_sum{method="
	    "\"GET\"} 0.000201\n") != NULL);
	CHECK(strstr(b.p, "verstore_request_duration_seconds_sum{method="
	    "\"PUT\"} 2.000000\n") != NULL);
	/* no series for a method that answered nothing */
	CHECK(lines_with(&b, "verstore_request_duration_seconds_count{method="
	    "\"HEAD\"}") == 0);
	buf_free(&b);
	metrics_destroy(m);
}

/* Exactly on a bound counts in that bucket: le means <=. */
static void
test_bucket_edges(void)
{
	struct metrics		*m;
	struct metrics_quota	 q[2] = { { "t\"a/", 100, 40 },
				    { "b/", 5, 0 } };
	struct metrics_gauges	 g = { 1 << 30, 12345, 3, q, 2 };
	struct buf		 b = { 0 };

	if ((m = fresh()) == NULL)
		return;
	metrics_request(m, "HEAD", 200, 100);
	metrics_request(m, "HEAD", 200, 101);
	metrics_request(m, "HEAD", 200, 0);
	metrics_request(m, "HEAD", 200, 10000000);
	metrics_request(m, "HEAD", 200, 10000001);
	metrics_batch(m, 2);
	metrics_batch(m, 0);
	CHECK(metrics_render(m, &g, &b) == METRICS_OK);
#define HEAD_LE(le) sample(&b, "verstore_request_duration_seconds_bucket" \
	    "{method=\"HEAD\",le=\"" le "\"}")
	CHECK(HEAD_LE("0.0001") == 2);
	CHECK(HEAD_LE("0.00025") == 3);
	CHECK(HEAD_LE("5") == 3);
	CHECK(HEAD_LE("10") == 4);
	CHECK(HEAD_LE("+Inf") == 5);
#undef HEAD_LE
	CHECK(sample(&b, "verstore_request_duration_seconds_count{method="
	    "\"HEAD\"}") == 5);
	CHECK(strstr(b.p, "verstore_request_duration_seconds_sum{method="
	    "\"HEAD\"} 20.000202\n") != NULL);
	CHECK(sample(&b, "verstore_write_batch_ops_bucket{le=\"1\"}") == 1);
	CHECK(sample(&b, "verstore_write_batch_ops_bucket{le=\"2\"}") == 2);
	CHECK(sample(&b, "verstore_store_size_bytes") == 1 << 30);
	CHECK(sample(&b, "verstore_store_used_bytes") == 12345);
	CHECK(sample(&b, "verstore_store_readers") == 3);
	CHECK(lines_with(&b, "# TYPE verstore_store_readers gauge") == 1);
	CHECK(sample(&b, "verstore_quota_bytes{prefix=\"t\\\"a/\"}") == 100);
	CHECK(sample(&b, "verstore_quota_used_bytes{prefix=\"t\\\"a/\"}") ==
	    40);
	CHECK(sample(&b, "verstore_quota_bytes{prefix=\"b/\"}") == 5);
	CHECK(lines_with(&b, "# TYPE verstore_quota_used_bytes gauge") == 1);
	buf_free(&b);
	metrics_destroy(m);
}

/* 150 prefixes: the first 100 get series, the rest count as ~other. */
static void
test_prefix_bound(void)
{
	struct metrics	*m;
	struct buf	 b = { 0 };
	char		 key[80], series[160];
	long long	 v, total = 0;
	int		 i, k, named = 0;

	if ((m = fresh()) == NULL)
		return;
	/* 64 bytes is the longest that is named, 65 is ~other */
	memset(key, 'l', 65);
	key[65] = '/';
	metrics_conflict(m, METRICS_PRECONDITION_FAILED, key + 1, 65);
	metrics_conflict(m, METRICS_PRECONDITION_FAILED, key, 66);
	for (i = 0; i < 150; i++)
		for (k = 0; k <= i % 3; k++) {
			snprintf(key, sizeof(key), "p%03d/item", i);
			CHECK(metrics_conflict(m, METRICS_VERSION_CONFLICT, key,
			    strlen(key)) == METRICS_OK);
		}
	CHECK(render(m, &b));
	for (i = 0; i < 150; i++) {
		snprintf(series, sizeof(series), "verstore_conflicts_total{code="
		    "\"VERSION_CONFLICT\",prefix=\"p%03d\"}", i);
		if ((v = sample(&b, series)) == -1)
			continue;
		CHECK(v == i % 3 + 1);
		named++;
		total += v;
	}
	CHECK(named == 99);	/* the 64-byte one took the last slot */
	v = sample(&b, "verstore_conflicts_total{code=\"VERSION_CONFLICT\","
	    "prefix=\"~other\"}");
	CHECK(v > 0);
	CHECK(total + v == 150 / 3 * (1 + 2 + 3));
	CHECK(sample(&b, "verstore_conflicts_total{code=\"PRECONDITION_FAILED\""
	    ",prefix=\"~other\"}") == 1);
	CHECK(lines_with(&b, "verstore_conflicts_total{code=\"PRECONDITION_"
	    "FAILED\",prefix=\"llll") == 1);
	/* 100 named series and one ~other for each code that has one */
	CHECK(lines_with(&b, "verstore_conflicts_total{") == 100 + 2);
	buf_free(&b);
	metrics_destroy(m);
}

static void
test_prefix_escaping(void)
{
	struct metrics	*m;
	struct buf	 b = { 0 };
	const char	 key[] = "a\"b\\c\nd/rest";

	if ((m = fresh()) == NULL)
		return;
	metrics_conflict(m, METRICS_PATCH_CONFLICT, key, sizeof(key) - 1);
	CHECK(render(m, &b));
	CHECK(sample(&b, "verstore_conflicts_total{code=\"PATCH_CONFLICT\","
	    "prefix=\"a\\\"b\\\\c\\nd\"}") == 1);
	buf_free(&b);
	metrics_destroy(m);
}

/* Records n requests of method, and conflicts over 50 shared prefixes. */
static void
record(struct metrics *m, const char *method, int n)
{
	char	 key[32];
	int	 i;

	for (i = 0; i < n; i++) {
		metrics_request(m, method, 200 + i % 2, (uint64_t)i % 3000);
		snprintf(key, sizeof(key), "shared%d/k", i % 50);
		metrics_conflict(m, METRICS_VERSION_CONFLICT, key, strlen(key));
	}
}

/*
 * Two children count at once, over the same prefixes; one exits, the
 * other is killed with SIGKILL while it is still counting. The parent
 * sees all that both had counted.
 */
static void
test_processes(void)
{
	struct metrics	*m;
	struct buf	 b = { 0 };
	pid_t		 a, k;
	int		 fd[2], st, i, once = 1;
	char		 c, series[128];
	long long	 req, count, sum = 0;

	if ((m = fresh()) == NULL)
		return;
	if (pipe(fd) == -1) {
		CHECK(0);
		metrics_destroy(m);
		return;
	}
	if ((a = fork()) == 0) {
		record(m, "GET", N);
		_exit(0);
	}
	if ((k = fork()) == 0) {
		record(m, "PUT", N);
		if (write(fd[1], "x", 1) != 1)
			_exit(1);
		for (;;)		/* counting when the kill comes */
			metrics_request(m, "DELETE", 204, 7);
	}
	CHECK(a > 0 && k > 0);
	CHECK(read(fd[0], &c, 1) == 1);
	usleep(20000);
	kill(k, SIGKILL);
	CHECK(waitpid(a, &st, 0) == a && WIFEXITED(st) &&
	    WEXITSTATUS(st) == 0);
	CHECK(waitpid(k, &st, 0) == k && WIFSIGNALED(st) &&
	    WTERMSIG(st) == SIGKILL);
	close(fd[0]);
	close(fd[1]);

	CHECK(render(m, &b));
	CHECK(sample(&b, "verstore_requests_total{method=\"GET\",code=\"200\"}")
	    == N / 2);
	CHECK(sample(&b, "verstore_requests_total{method=\"GET\",code=\"201\"}")
	    == N / 2);
	CHECK(sample(&b, "verstore_requests_total{method=\"PUT\",code=\"200\"}")
	    + sample(&b, "verstore_requests_total{method=\"PUT\","
	    "code=\"201\"}") == N);
	CHECK(sample(&b, "verstore_request_duration_seconds_count{method="
	    "\"PUT\"}") == N);
	for (i = 0; i < N; i++)
		sum += i % 3000;
	snprintf(series, sizeof(series), "verstore_request_duration_seconds_sum"
	    "{method=\"GET\"} %lld.%06lld\n", sum / 1000000, sum % 1000000);
	CHECK(strstr(b.p, series) != NULL);
	/* the kill may fall between a request's counter and its histogram */
	req = sample(&b, "verstore_requests_total{method=\"DELETE\","
	    "code=\"204\"}");
	count = sample(&b, "verstore_request_duration_seconds_count{method="
	    "\"DELETE\"}");
	CHECK(req > 0 && (req == count || req == count + 1));
	/* each shared prefix once, with both children's counts */
	for (i = 0; i < 50; i++) {
		snprintf(series, sizeof(series), "verstore_conflicts_total{code="
		    "\"VERSION_CONFLICT\",prefix=\"shared%d\"}", i);
		if (sample(&b, series) != 2 * N / 50 && once) {
			fprintf(stderr, "  %s: %lld\n", series,
			    sample(&b, series));
			CHECK(0);
			once = 0;
		}
	}
	CHECK(lines_with(&b, "verstore_conflicts_total{") == 50);
	buf_free(&b);
	metrics_destroy(m);
}

/* The slot the prefix s is first looked for in. */
static struct metrics_slot *
home(struct metrics *m, const char *s)
{
	return &m->prefix[hash_fnv1a64(s, strlen(s)) % METRICS_PREFIXES];
}

static unsigned
state(struct metrics_slot *p)
{
	return atomic_load(&p->state);
}

/* A slot left claimed by a process that died before publishing is reused. */
static void
test_claimer_died(void)
{
	struct metrics		*m;
	struct metrics_slot	*p;
	struct buf		 b = { 0 };
	pid_t			 dead;

	if ((m = fresh()) == NULL)
		return;
	if ((dead = fork()) == 0)
		_exit(0);
	CHECK(dead > 0 && waitpid(dead, NULL, 0) == dead);
	/* what it left: its claim, and half a name */
	p = home(m, "dead");
	atomic_store(&p->state, (unsigned)dead << 1);
	memcpy(p->name, "de", 2);
	CHECK(metrics_conflict(m, METRICS_VERSION_CONFLICT, "dead/x", 6) ==
	    METRICS_OK);
	CHECK(state(p) == METRICS_SLOT_READY && p->len == 4 &&
	    memcmp(p->name, "dead", 4) == 0);
	CHECK(atomic_load(&p->count[METRICS_VERSION_CONFLICT]) == 1);
	CHECK(render(m, &b));
	CHECK(lines_with(&b, "verstore_conflicts_total{") == 1);
	buf_free(&b);
	metrics_destroy(m);
}

/*
 * A claimer alive but stalled past the wait: the prefix goes to a second
 * slot, and the render adds the two up into one series.
 */
static void
test_claimer_stalled(void)
{
	struct metrics		*m;
	struct metrics_slot	*p, *q;
	struct buf		 b = { 0 };

	if ((m = fresh()) == NULL)
		return;
	p = home(m, "slow");
	q = &m->prefix[(size_t)(p - m->prefix + 1) % METRICS_PREFIXES];
	atomic_store(&p->state, (unsigned)getpid() << 1);
	CHECK(metrics_conflict(m, METRICS_PATCH_CONFLICT, "slow/1", 6) ==
	    METRICS_OK);
	CHECK(state(q) == METRICS_SLOT_READY && q->len == 4);
	CHECK(atomic_load(&q->count[METRICS_PATCH_CONFLICT]) == 1);
	/* the stalled claimer publishes the same name after all */
	memcpy(p->name, "slow", 4);
	p->len = 4;
	atomic_store(&p->state, METRICS_SLOT_READY);
	CHECK(metrics_conflict(m, METRICS_PATCH_CONFLICT, "slow/2", 6) ==
	    METRICS_OK);
	CHECK(metrics_conflict(m, METRICS_MERGE_CONFLICT, "slow", 4) ==
	    METRICS_OK);
	/* from now on its first slot is found first */
	CHECK(atomic_load(&p->count[METRICS_PATCH_CONFLICT]) == 1);
	CHECK(atomic_load(&q->count[METRICS_PATCH_CONFLICT]) == 1);
	CHECK(render(m, &b));
	CHECK(sample(&b, "verstore_conflicts_total{code=\"PATCH_CONFLICT\","
	    "prefix=\"slow\"}") == 2);
	CHECK(sample(&b, "verstore_conflicts_total{code=\"MERGE_CONFLICT\","
	    "prefix=\"slow\"}") == 1);
	CHECK(lines_with(&b, "verstore_conflicts_total{") == 2);
	buf_free(&b);
	metrics_destroy(m);
}

/*
 * promtool reads an exposition with every family and an escaped prefix as
 * Prometheus would, and finds nothing to lint.
 */
static void
test_promtool(void)
{
	struct metrics		*m;
	struct metrics_gauges	 g = { 1 << 30, 1 << 20, 5, NULL, 0 };
	struct buf		 b = { 0 };
	char			 path[] = "/tmp/verstore-metrics-XXXXXX";
	char			 cmd[128];
	int			 fd = -1, rc;

	if ((m = fresh()) == NULL)
		return;
	metrics_request(m, "GET", 200, 100);
	metrics_request(m, "PATCH", 409, 3000);
	metrics_request(m, "MKCOL", 405, 3);
	metrics_conflict(m, METRICS_MERGE_CONFLICT, "a\"b\\c\nd/x", 9);
	metrics_conflict(m, METRICS_PATCH_CONFLICT, "lists/x", 7);
	metrics_conflict(m, METRICS_PATCH_CONFLICT, "", 0);
	metrics_merge(m, 1);
	metrics_batch(m, 5);
	metrics_watchers_add(m, 1);
	metrics_seq_set(m, 9);
	CHECK(metrics_render(m, &g, &b) == METRICS_OK);
	if ((fd = mkstemp(path)) == -1 ||
	    write(fd, b.p, b.len) != (ssize_t)b.len) {
		CHECK(0);
		goto out;
	}
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s", path);
	rc = system(cmd);
	CHECK(rc == 0);
	if (rc != 0)
		fprintf(stderr, "%s", b.p);
out:
	if (fd != -1) {
		close(fd);
		unlink(path);
	}
	buf_free(&b);
	metrics_destroy(m);
}

/* A worker that dies holding watchers takes its count with it. */
static void
test_dead_watchers_drop_out(void)
{
	struct metrics	*m;
	struct buf	 b = { 0 };
	pid_t		 pid;
	int		 status;

	if ((m = fresh()) == NULL)
		return;
	metrics_watchers_add(m, 2);
	if ((pid = fork()) == 0) {
		metrics_watchers_add(m, 5);
		_exit(0);		/* as if killed: no -5 */
	}
	waitpid(pid, &status, 0);
	CHECK(metrics_render(m, NULL, &b) == METRICS_OK);
	CHECK(sample(&b, "verstore_watchers") == 2);
	/* its slot is taken over, from zero */
	if ((pid = fork()) == 0) {
		metrics_watchers_add(m, 1);
		buf_reset(&b);
		_exit(metrics_render(m, NULL, &b) == METRICS_OK &&
		    sample(&b, "verstore_watchers") == 3 ? 0 : 1);
	}
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	buf_free(&b);
	metrics_destroy(m);
}

int
main(void)
{
	RUN(test_counts);
	RUN(test_bucket_edges);
	RUN(test_prefix_bound);
	RUN(test_prefix_escaping);
	RUN(test_processes);
	RUN(test_claimer_died);
	RUN(test_claimer_stalled);
	RUN(test_dead_watchers_drop_out);
	/* Debian's prometheus package has promtool; .ci/run installs it. */
	if (system("command -v promtool >/dev/null 2>&1") == 0)
		RUN(test_promtool);
	else
		printf("SKIP test_promtool (no promtool)\n");
	return T_EXIT();
}
