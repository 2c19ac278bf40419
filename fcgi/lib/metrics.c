/*
 * metrics.c - counters in a region shared by the master and its workers;
 * see metrics.h.
 *
 * The region is struct metrics (metrics_int.h): fixed arrays of atomics,
 * no pointers, so that it means the same in every process that maps it.
 * Adds are relaxed: each counter only has to be exact on its own.
 *
 * The prefix table is open addressing over METRICS_PREFIXES slots, probed
 * from the FNV-1a hash of the prefix, so that every process looks for a
 * given prefix in the same order. A slot is claimed with a CAS on its
 * state (empty -> claimed by this pid), its name written, then published
 * with a release store (-> ready); a reader acquires the state and skips
 * what is not ready. Slots are never freed, so an empty slot ends a
 * search. A process that finds the slot it needs claimed waits a moment
 * for the name to be published and compares it, so two processes
 * inserting one prefix at once end up in one slot. Two cases remain:
 * - the claimer died before publishing (it was killed in those few
 *   instructions): once it is gone the slot is taken over;
 * - the claimer is alive but stalled past the wait: the waiter goes on
 *   probing and may put the same prefix in a second slot. metrics_render()
 *   adds up slots of one name, so the exposition never holds a series
 *   twice and no count is lost; the table just holds one fewer prefix.
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/hash.h"
#include "lib/metrics.h"
#include "lib/metrics_int.h"
#include "lib/utf8.h"

/*
 * The region is shared between processes: only atomics that are always
 * lock-free work there (a lock inside libatomic is per process). The
 * kernel zero-fills the mapping, which is every such atomic's zero.
 */
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics take a lock");
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "int atomics take a lock");

static const char *const methods[METRICS_NMETHODS] = {
	"GET", "HEAD", "PUT", "PATCH", "POST", "DELETE", "OPTIONS", "other"
};

static const char *const conflict_codes[METRICS_CONFLICT_CODES] = {
	"VERSION_CONFLICT", "PRECONDITION_FAILED", "PATCH_CONFLICT",
	"MERGE_CONFLICT"
};

/* Histogram upper bounds: le is inclusive, "+Inf" follows the last. */
struct bound {
	uint64_t	 v;
	const char	*le;
};

static const struct bound dur_bounds[] = {	/* in microseconds */
	{ 100, "0.0001" }, { 250, "0.00025" }, { 500, "0.0005" },
	{ 1000, "0.001" }, { 2500, "0.0025" }, { 5000, "0.005" },
	{ 10000, "0.01" }, { 25000, "0.025" }, { 50000, "0.05" },
	{ 100000, "0.1" }, { 250000, "0.25" }, { 500000, "0.5" },
	{ 1000000, "1" }, { 2500000, "2.5" }, { 5000000, "5" },
	{ 10000000, "10" }
};
#define NDUR		METRICS_NDUR
_Static_assert(sizeof(dur_bounds) / sizeof(dur_bounds[0]) == NDUR,
    "duration bounds");

/* A group commit carries 1 to 256 writes (STORE_BATCH_MAX). */
static const struct bound ops_bounds[] = {
	{ 1, "1" }, { 2, "2" }, { 4, "4" }, { 8, "8" }, { 16, "16" },
	{ 32, "32" }, { 64, "64" }, { 128, "128" }, { 256, "256" }
};
#define NOPS		METRICS_NOPS
_Static_assert(sizeof(ops_bounds) / sizeof(ops_bounds[0]) == NOPS,
    "batch size bounds");

#define OTHER		"~other"

/*
 * How often a process looks again, yielding between looks, at a slot
 * another one is filling: about a millisecond. A name is written in
 * nanoseconds, unless its writer lost the CPU or died in between.
 */
#define CLAIM_SPINS	1000

enum metrics_err
metrics_create(struct metrics **out)
{
	void	*p;

	*out = NULL;
	p = mmap(NULL, sizeof(struct metrics), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return METRICS_NOMEM;
	*out = p;
	return METRICS_OK;
}

void
metrics_destroy(struct metrics *m)
{
	if (m != NULL)
		munmap(m, sizeof(*m));
}

static void
add(atomic_ullong *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static uint64_t
get(atomic_ullong *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

static size_t
bucket(const struct bound *b, size_t n, uint64_t v)
{
	size_t	 i;

	for (i = 0; i < n && v > b[i].v; i++)
		;
	return i;
}

/* methods[]' index of method; the last ("other") for any other. */
static size_t
method_index(const char *method)
{
	size_t	 i;

	for (i = 0; i < METRICS_NMETHODS - 1; i++)
		if (method != NULL && strcmp(method, methods[i]) == 0)
			break;
	return i;
}

enum metrics_err
metrics_request(struct metrics *m, const char *method, int status,
    uint64_t duration_us)
{
	size_t	 i = method_index(method);

	if (status < METRICS_STATUS_MIN || status > METRICS_STATUS_MAX)
		return METRICS_INVALID;
	add(&m->req[i][status - METRICS_STATUS_MIN], 1);
	add(&m->dur[i][bucket(dur_bounds, NDUR, duration_us)], 1);
	add(&m->dur_us[i], duration_us);
	return METRICS_OK;
}

void
metrics_abandoned(struct metrics *m, const char *method)
{
	add(&m->req[method_index(method)][METRICS_ABANDONED -
	    METRICS_STATUS_MIN], 1);
}

/* The claimer a slot's state names has exited (and was reaped). */
static int
claimer_gone(unsigned state)
{
	return kill((pid_t)(state >> 1), 0) == -1 && errno == ESRCH;
}

/*
 * Claims p, whose state was *st, and publishes s[0..n) in it; 0 when the
 * state had changed (*st is then the new one).
 */
static int
claim(struct metrics_slot *p, unsigned *st, const char *s, size_t n)
{
	unsigned	 mine = (unsigned)getpid() << 1;

	if (!atomic_compare_exchange_strong_explicit(&p->state, st, mine,
	    memory_order_acquire, memory_order_acquire))
		return 0;
	memcpy(p->name, s, n);
	p->len = (unsigned)n;
	atomic_store_explicit(&p->state, METRICS_SLOT_READY,
	    memory_order_release);
	return 1;
}

/*
 * The slot that holds s[0..n), claimed and published here when it is in
 * none; NULL when the table has no room for it.
 */
static struct metrics_slot *
prefix_slot(struct metrics *m, const char *s, size_t n)
{
	struct metrics_slot	*p;
	uint64_t		 h = hash_fnv1a64(s, n);
	unsigned		 st;
	size_t			 i;
	int			 spins;

	for (i = 0; i < METRICS_PREFIXES; i++) {
		p = &m->prefix[(h + i) % METRICS_PREFIXES];
		spins = 0;
		st = atomic_load_explicit(&p->state, memory_order_acquire);
		while (st != METRICS_SLOT_READY) {
			if (st == METRICS_SLOT_EMPTY ||
			    (spins == CLAIM_SPINS && claimer_gone(st))) {
				if (claim(p, &st, s, n))
					return p;
				continue;
			}
			if (spins++ == CLAIM_SPINS)
				break;		/* stalled: probe on */
			sched_yield();
			st = atomic_load_explicit(&p->state,
			    memory_order_acquire);
		}
		if (st == METRICS_SLOT_READY && p->len == n &&
		    memcmp(p->name, s, n) == 0)
			return p;
	}
	return NULL;
}

enum metrics_err
metrics_conflict(struct metrics *m, enum metrics_conflict code,
    const char *key, size_t klen)
{
	struct metrics_slot	*p = NULL;
	const char		*slash;
	size_t			 n = klen;

	if ((unsigned)code >= METRICS_CONFLICT_CODES)
		return METRICS_INVALID;
	if (key == NULL)
		n = 0;
	else if ((slash = memchr(key, '/', klen)) != NULL)
		n = (size_t)(slash - key);
	/* "~other" itself must not get a second series of that name. */
	if (n > 0 && n <= METRICS_PREFIX_MAX && utf8_valid(key, n) &&
	    !(n == sizeof(OTHER) - 1 && memcmp(key, OTHER, n) == 0))
		p = prefix_slot(m, key, n);
	add(p != NULL ? &p->count[code] : &m->other[code], 1);
	return METRICS_OK;
}

void
metrics_merge(struct metrics *m, int merged)
{
	add(&m->merges[merged ? 1 : 0], 1);
}

void
metrics_watcher_woken(struct metrics *m)
{
	add(&m->wakeups, 1);
}

void
metrics_presence_join(struct metrics *m)
{
	add(&m->pjoins, 1);
}

void
metrics_presence_leave(struct metrics *m, enum metrics_leave why,
    uint64_t n)
{
	if ((unsigned)why < METRICS_LEAVE_REASONS)
		add(&m->pleaves[why], n);
}

void
metrics_presence_refused(struct metrics *m, enum metrics_refusal why)
{
	if ((unsigned)why < METRICS_REFUSALS)
		add(&m->prefused[why], 1);
}

void
metrics_locked_write(struct metrics *m)
{
	add(&m->locked_writes, 1);
}

void
metrics_batch(struct metrics *m, unsigned nops)
{
	add(&m->ops[bucket(ops_bounds, NOPS, nops)], 1);
	add(&m->ops_sum, nops);
}

/* 1 while the process pid runs. */
static int
alive(int pid)
{
	return pid > 0 && (kill(pid, 0) == 0 || errno != ESRCH);
}

/* This process's watcher slot: its own, a free one, or a dead one's. */
static struct metrics_proc *
proc_slot(struct metrics *m)
{
	struct metrics_proc	*p;
	int			 me = (int)getpid(), pid;
	size_t			 i;

	for (i = 0; i < METRICS_PROCS; i++)
		if (atomic_load(&m->watchers[i].pid) == me)
			return &m->watchers[i];
	for (i = 0; i < METRICS_PROCS; i++) {
		p = &m->watchers[i];
		pid = atomic_load(&p->pid);
		if (pid != 0 && alive(pid))
			continue;
		if (atomic_compare_exchange_strong(&p->pid, &pid, me)) {
			atomic_store(&p->n, 0);
			return p;
		}
	}
	return NULL;
}

void
metrics_watchers_add(struct metrics *m, int64_t delta)
{
	struct metrics_proc	*p;

	if ((p = proc_slot(m)) != NULL)
		atomic_fetch_add_explicit(&p->n, delta, memory_order_relaxed);
}

/* The watchers of the processes that run. */
static long long
watchers(struct metrics *m)
{
	long long	 sum = 0;
	size_t		 i;
	int		 pid;

	for (i = 0; i < METRICS_PROCS; i++) {
		pid = atomic_load(&m->watchers[i].pid);
		if (pid != 0 && alive(pid))
			sum += atomic_load(&m->watchers[i].n);
	}
	return sum;
}

void
metrics_seq_set(struct metrics *m, uint64_t seq)
{
	unsigned long long	 cur;

	/* Workers report as they go: a late, lower one must not win. */
	cur = atomic_load_explicit(&m->seq, memory_order_relaxed);
	while (cur < seq && !atomic_compare_exchange_weak_explicit(&m->seq,
	    &cur, seq, memory_order_relaxed, memory_order_relaxed))
		;
}

/* ---- rendering ---------------------------------------------------------- */

static void
family(struct buf *out, const char *name, const char *type, const char *help)
{
	buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* s[0..n) as a label value: the text format escapes \, " and newline. */
static void
label_value(struct buf *out, const char *s, size_t n)
{
	size_t	 i, run = 0;

	buf_add(out, "\"", 1);
	for (i = 0; i < n; i++) {
		if (s[i] != '\\' && s[i] != '"' && s[i] != '\n')
			continue;
		buf_add(out, s + run, i - run);
		buf_add(out, s[i] == '\n' ? "\\n" : s[i] == '"' ? "\\\"" :
		    "\\\\", 2);
		run = i + 1;
	}
	buf_add(out, s + run, n - run);
	buf_add(out, "\"", 1);
}

/* Reads c[0..n) into v, one counter at a time; returns their sum. */
static uint64_t
snapshot(atomic_ullong *c, uint64_t *v, size_t n)
{
	uint64_t	 total = 0;
	size_t		 i;

	for (i = 0; i < n; i++)
		total += v[i] = get(&c[i]);
	return total;
}

/*
 * One histogram's series: labels is "" or `name="value",`; c[0..n] are
 * the per-bucket counts (c[n] above the last bound), sum is preformatted.
 * _count is the +Inf bucket, from the same reading.
 */
static void
histogram(struct buf *out, const char *name, const char *labels,
    const struct bound *b, size_t n, const uint64_t *c, const char *sum)
{
	uint64_t	 cum = 0;
	size_t		 i;
	int		 len = (int)strlen(labels);

	for (i = 0; i <= n; i++) {
		cum += c[i];
		buf_printf(out, "%s_bucket{%sle=\"%s\"} ", name, labels,
		    i < n ? b[i].le : "+Inf");
		buf_u64(out, cum);
		buf_add(out, "\n", 1);
	}
	/* _sum and _count take labels without its trailing comma */
	if (len == 0)
		buf_printf(out, "%s_sum %s\n%s_count ", name, sum, name);
	else
		buf_printf(out, "%s_sum{%.*s} %s\n%s_count{%.*s} ", name,
		    len - 1, labels, sum, name, len - 1, labels);
	buf_u64(out, cum);
	buf_add(out, "\n", 1);
}

static int
same_name(const struct metrics_slot *a, const struct metrics_slot *b)
{
	return a->len == b->len && memcmp(a->name, b->name, a->len) == 0;
}

static int
ready(struct metrics_slot *p)
{
	return atomic_load_explicit(&p->state, memory_order_acquire) ==
	    METRICS_SLOT_READY;
}

static void
conflict_series(struct buf *out, const char *name, size_t n,
    const uint64_t *sum)
{
	size_t	 c;

	for (c = 0; c < METRICS_CONFLICT_CODES; c++) {
		if (sum[c] == 0)
			continue;
		buf_printf(out, "verstore_conflicts_total{code=\"%s\",prefix=",
		    conflict_codes[c]);
		label_value(out, name, n);
		buf_add(out, "} ", 2);
		buf_u64(out, sum[c]);
		buf_add(out, "\n", 1);
	}
}

static void
render_conflicts(struct metrics *m, struct buf *out)
{
	struct metrics_slot	*p, *q;
	uint64_t	 sum[METRICS_CONFLICT_CODES];
	size_t		 i, j, c;

	family(out, "verstore_conflicts_total", "counter", "Conflict "
	    "answers (409, 412), by problem code and the key's first "
	    "segment; past 100 segments, prefix=\"~other\".");
	for (i = 0; i < METRICS_PREFIXES; i++) {
		p = &m->prefix[i];
		if (!ready(p))
			continue;
		/* a slot of a name seen before was added up there */
		for (j = 0; j < i; j++)
			if (ready(&m->prefix[j]) && same_name(&m->prefix[j], p))
				break;
		if (j < i)
			continue;
		memset(sum, 0, sizeof(sum));
		for (j = i; j < METRICS_PREFIXES; j++) {
			q = &m->prefix[j];
			if (j != i && (!ready(q) || !same_name(q, p)))
				continue;
			for (c = 0; c < METRICS_CONFLICT_CODES; c++)
				sum[c] += get(&q->count[c]);
		}
		conflict_series(out, p->name, p->len, sum);
	}
	for (c = 0; c < METRICS_CONFLICT_CODES; c++)
		sum[c] = get(&m->other[c]);
	conflict_series(out, OTHER, sizeof(OTHER) - 1, sum);
}

static void
gauge(struct buf *out, const char *name, const char *help, uint64_t v)
{
	family(out, name, "gauge", help);
	buf_printf(out, "%s ", name);
	buf_u64(out, v);
	buf_add(out, "\n", 1);
}

static void
render_requests(struct metrics *m, struct buf *out)
{
	uint64_t	 v;
	size_t		 i, s;

	family(out, "verstore_requests_total", "counter",
	    "Requests answered, by method and status code.");
	for (i = 0; i < METRICS_NMETHODS; i++)
		for (s = 0; s < METRICS_NSTATUS; s++) {
			if ((v = get(&m->req[i][s])) == 0)
				continue;
			buf_printf(out, "verstore_requests_total{method=\"%s\","
			    "code=\"%zu\"} ", methods[i],
			    s + METRICS_STATUS_MIN);
			buf_u64(out, v);
			buf_add(out, "\n", 1);
		}
}

static void
render_batches(struct metrics *m, struct buf *out)
{
	uint64_t	 c[NOPS + 1], n;
	char		 sum[24];

	/* Both families from one reading of the buckets, so they agree. */
	n = snapshot(m->ops, c, NOPS + 1);
	family(out, "verstore_write_batches_total", "counter",
	    "Write transactions (group commits).");
	buf_puts(out, "verstore_write_batches_total ");
	buf_u64(out, n);
	buf_add(out, "\n", 1);
	family(out, "verstore_write_batch_ops", "histogram",
	    "Writes carried by one write transaction.");
	snprintf(sum, sizeof(sum), "%llu",
	    (unsigned long long)get(&m->ops_sum));
	histogram(out, "verstore_write_batch_ops", "", ops_bounds, NOPS, c,
	    sum);
}

static void
render_durations(struct metrics *m, struct buf *out)
{
	uint64_t	 c[NDUR + 1], us;
	char		 labels[32], sum[32];
	size_t		 i;

	family(out, "verstore_request_duration_seconds", "histogram",
	    "Time to answer a request, by method.");
	for (i = 0; i < METRICS_NMETHODS; i++) {
		if (snapshot(m->dur[i], c, NDUR + 1) == 0)
			continue;
		us = get(&m->dur_us[i]);
		snprintf(labels, sizeof(labels), "method=\"%s\",", methods[i]);
		snprintf(sum, sizeof(sum), "%llu.%06llu",
		    (unsigned long long)(us / 1000000),
		    (unsigned long long)(us % 1000000));
		histogram(out, "verstore_request_duration_seconds", labels,
		    dur_bounds, NDUR, c, sum);
	}
}

/* Each quota line's bytes, then each one's usage: two families. */
static void
render_quotas(const struct metrics_gauges *store, struct buf *out)
{
	const struct metrics_quota	*q;
	size_t				 i, f;

	if (store->nquotas == 0)
		return;
	for (f = 0; f < 2; f++) {
		family(out, f == 0 ? "verstore_quota_bytes" :
		    "verstore_quota_used_bytes", "gauge", f == 0 ?
		    "The bytes a quota line lets its prefix hold." :
		    "The bytes of the live keys under a quota line's prefix "
		    "(names and current values).");
		for (i = 0; i < store->nquotas; i++) {
			q = &store->quotas[i];
			buf_puts(out, f == 0 ? "verstore_quota_bytes{prefix=" :
			    "verstore_quota_used_bytes{prefix=");
			label_value(out, q->prefix, strlen(q->prefix));
			buf_add(out, "} ", 2);
			buf_u64(out, f == 0 ? q->bytes : q->used);
			buf_add(out, "\n", 1);
		}
	}
}

/* A counter family: one series, or one per label value of names[]. */
static void
counter(struct buf *out, const char *name, const char *help,
    const char *label, const char *const *names, atomic_ullong *c, size_t n)
{
	size_t	 i;

	family(out, name, "counter", help);
	for (i = 0; i < n; i++) {
		if (label != NULL)
			buf_printf(out, "%s{%s=\"%s\"} ", name, label, names[i]);
		else
			buf_printf(out, "%s ", name);
		buf_u64(out, get(&c[i]));
		buf_add(out, "\n", 1);
	}
}

/* The presence families (API.md 13.6). */
static void
render_presence(struct metrics *m, struct buf *out)
{
	static const char *const reasons[] = { "leave", "expired", "closed",
	    "forced" };
	static const char *const codes[] = { "LOCKED", "TOO_MANY_SESSIONS" };

	counter(out, "verstore_presence_joins_total",
	    "Sessions that joined a key.", NULL, NULL, &m->pjoins, 1);
	counter(out, "verstore_presence_leaves_total",
	    "Sessions that left a key, by why.", "reason", reasons,
	    m->pleaves, METRICS_LEAVE_REASONS);
	counter(out, "verstore_presence_refused_total",
	    "Joins refused, by the problem code.", "code", codes,
	    m->prefused, METRICS_REFUSALS);
	counter(out, "verstore_locked_writes_total", "Writes refused for a "
	    "lock of another principal (enforce_locks).", NULL, NULL,
	    &m->locked_writes, 1);
}

enum metrics_err
metrics_render(struct metrics *m, const struct metrics_gauges *store,
    struct buf *out)
{
	render_requests(m, out);
	render_conflicts(m, out);
	family(out, "verstore_merges_total", "counter",
	    "Server-side merges (API.md 4.1), by result.");
	buf_puts(out, "verstore_merges_total{result=\"merged\"} ");
	buf_u64(out, get(&m->merges[1]));
	buf_puts(out, "\nverstore_merges_total{result=\"conflict\"} ");
	buf_u64(out, get(&m->merges[0]));
	buf_add(out, "\n", 1);
	render_batches(m, out);
	render_durations(m, out);
	if (store != NULL) {
		gauge(out, "verstore_store_size_bytes", "The store's size "
		    "limit (map_size).", store->size_bytes);
		gauge(out, "verstore_store_used_bytes", "Bytes of the store "
		    "in use.", store->used_bytes);
		gauge(out, "verstore_store_readers", "Reader slots in use.",
		    store->readers);
		render_quotas(store, out);
	}
	family(out, "verstore_watchers", "gauge",
	    "Waiting feed requests and open streams.");
	buf_printf(out, "verstore_watchers %lld\n", watchers(m));
	counter(out, "verstore_watcher_wakeups_total", "Waiting feed requests "
	    "and streams run again for a change under their prefixes.", NULL,
	    NULL, &m->wakeups, 1);
	gauge(out, "verstore_changes_seq", "The store's change sequence.",
	    get(&m->seq));
	render_presence(m, out);
	return out->oom ? METRICS_NOMEM : METRICS_OK;
}
