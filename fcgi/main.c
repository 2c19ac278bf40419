/*
 * main.c - verstored: the versioned JSON store's FastCGI server.
 *
 *   verstored [-c file]              run (in the foreground; log on stderr)
 *   verstored -t [-c file]           check the configuration and exit
 *   verstored backup [-c file] DIR   write a hot copy of the store to DIR
 *   verstored token add|list|revoke  keep the tokens file (see cmd_token)
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store.h"
#include "api/api.h"
#include "api/route.h"
#include "proc/conf.h"
#include "http/conn.h"
#include "http/http.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/notify.h"
#include "proc/pool.h"
#include "proc/tokens.h"

#define DEFAULT_CONF	"/etc/verstore/verstore.conf"

/* proc/ knows no store: its bounds must be the store's own. */
_Static_assert(CONF_KEY_MAX == STORE_KEY_MAX, "conf and store key bounds");
_Static_assert(CONF_BATCH_MAX == STORE_BATCH_MAX, "conf and store batch bounds");
_Static_assert(TOKENS_KEY_MAX == STORE_KEY_MAX, "tokens and store key bounds");
_Static_assert(CONF_QUOTAS_MAX == STORE_QUOTAS_MAX, "conf and store quota bounds");
#ifndef VERSTORE_VERSION
#define VERSTORE_VERSION	"unknown"
#endif

/* ---- a worker's work: the store, the connections, the API ------------- */

/* What the master hands every worker it forks. */
struct app {
	const char	*conf_path;	/* read again on SIGHUP */
	struct conf	*conf;		/* the master's, reloads applied */
	struct metrics	*metrics;	/* shared by every process */
	struct notify	*notify;	/* the latest seq, shared */
};

/*
 * The settings and tokens requests are answered with. A request takes a
 * reference for its whole length; SIGHUP puts a new one in place, and the
 * old one is freed by the last request that still uses it.
 */
struct live {
	struct conf	 conf;
	struct tokens	*tokens;	/* NULL unless auth token */
	unsigned	 refs;		/* under worker.lock */
};

struct worker {
	const struct app	*app;
	store			*st;
	struct conn_loop	*loop;
	pthread_mutex_t		 lock;
	struct live		*live;	/* current; one reference is ours */
	pthread_t		 feed;	/* tells the watchers of changes */
	int			 feed_started;
	atomic_int		 feed_stop;
};

static void
live_free(struct live *l)
{
	if (l == NULL)
		return;
	tokens_free(l->tokens);
	free(l);
}

/*
 * A snapshot of c, with its tokens file loaded under auth token; NULL
 * when that file does not load (logged).
 */
static struct live *
live_make(const struct conf *c)
{
	struct live		*l;
	struct tokens_err	 e;
	char			 why[512];

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return NULL;
	l->conf = *c;
	l->refs = 1;
	if (c->auth == CONF_AUTH_TOKEN &&
	    tokens_load(c->tokens, &l->tokens, &e) != TOKENS_OK) {
		tokens_reason(&e, why, sizeof(why));
		log_error("tokens %s:%d: %s", c->tokens, e.line, why);
		free(l);
		return NULL;
	}
	return l;
}

static struct live *
live_get(struct worker *w)
{
	struct live	*l;

	pthread_mutex_lock(&w->lock);
	l = w->live;
	l->refs++;
	pthread_mutex_unlock(&w->lock);
	return l;
}

static void
live_put(struct worker *w, struct live *l)
{
	unsigned	 refs;

	pthread_mutex_lock(&w->lock);
	refs = --l->refs;
	pthread_mutex_unlock(&w->lock);
	if (refs == 0)
		live_free(l);
}

static void *
thread_start(void *arg)
{
	(void)arg;
	return calloc(1, sizeof(struct http_scratch));
}

static void
thread_end(void *arg, void *state)
{
	struct worker	*w = arg;

	store_thread_end(w->st);
	http_scratch_free(state);
	free(state);
}

/* The API as http's handler. */
static void
api_serve(void *arg, const struct http_req *req, struct http_resp *resp)
{
	route_handle(arg, req, resp);
}

static void
handle(void *arg, void *state, const struct wire *req, struct http_park *pk,
    struct buf *out)
{
	struct worker	*w = arg;
	struct live	*l = live_get(w);
	struct api_ctx	 ctx;

	memset(&ctx, 0, sizeof(ctx));
	ctx.conf = &l->conf;
	ctx.tokens = l->tokens;
	ctx.st = w->st;
	ctx.metrics = w->app->metrics;
	http_serve(req, api_serve, &ctx, state, pk, out);
	live_put(w, l);
}

/* Watchers waiting in this worker, counted in the shared metrics. */
static void
count_watchers(void *arg, int delta)
{
	struct worker	*w = arg;

	metrics_watchers_add(w->app->metrics, delta);
}

/* A watcher whose client left first: over, unanswered (499). */
static void
count_abandoned(void *arg, const struct wire *req)
{
	struct worker	*w = arg;

	metrics_abandoned(w->app->metrics, wire_param(req, "REQUEST_METHOD"));
}

/* A commit: the watchers of every worker may have something new. */
static void
post_commit(void *arg, uint64_t seq)
{
	const struct app	*a = arg;

	notify_post(a->notify, seq);
	metrics_seq_set(a->metrics, seq);
}

#define FEED_BATCH	1000	/* changes read for the watchers at once */
#define SWEEP_MAX	256	/* presence expiries recorded at once */
#define SWEEP_MS	500	/* how often, at most */

/*
 * Records the expiry of the sessions past theirs (API.md 13.3), which
 * wakes their watchers as any commit does: every worker tries, each
 * finds by a read whether something is due, and one records it.
 */
static void
sweep(struct worker *w, int64_t *last_ms)
{
	int64_t		 now = conn_now_ms();
	size_t		 n;

	if (now - *last_ms < SWEEP_MS)
		return;
	*last_ms = now;
	if (store_presence_sweep(w->st, SWEEP_MAX, &n) == STORE_OK && n > 0)
		metrics_presence_leave(w->app->metrics, METRICS_LEAVE_EXPIRED,
		    n);
}

/*
 * The worker's feed thread: sleeps on the shared seq and, when it moves,
 * reads what changed since (one reader for all the watchers) and tells
 * the connections, which wake the watchers concerned.
 */
static void *
feed_main(void *arg)
{
	struct worker		*w = arg;
	struct store_changes	 ch;
	struct conn_topic	*t = NULL;
	uint64_t		 seen = store_seq(w->st), seq;
	int64_t			 swept_ms = 0;
	size_t			 i, more;
	int			 failing = 0;	/* said once, until it reads */

	while (!atomic_load(&w->feed_stop)) {
		sweep(w, &swept_ms);
		if ((seq = notify_wait(w->app->notify, seen, 1000)) <= seen)
			continue;
		do {
			more = 0;
			if (store_changes_ex(w->st, seen, NULL, 0, FEED_BATCH,
			    0, 1, &ch) != STORE_OK) {
				if (!failing)
					log_error("the feed cannot be read; "
					    "trying again every second");
				failing = 1;
				sleep(1);
				break;
			}
			if (failing)
				log_info("the feed is read again");
			failing = 0;
			if (t == NULL &&
			    (t = calloc(FEED_BATCH, sizeof(*t))) == NULL) {
				store_changes_free(&ch);
				sleep(1);
				break;
			}
			for (i = 0; i < ch.n && i < FEED_BATCH; i++) {
				t[i].key = ch.items[i].key;
				t[i].klen = ch.items[i].klen;
				t[i].seq = ch.items[i].seq;
			}
			conn_notify(w->loop, t, i, ch.last_seq);
			if (ch.last_seq > seen)
				seen = ch.last_seq;
			/* a post past what the store holds: do not spin on it */
			if (ch.n == 0 && seq > seen)
				seen = seq;
			more = ch.n == FEED_BATCH;
			store_changes_free(&ch);
		} while (more && !atomic_load(&w->feed_stop));
	}
	free(t);
	store_thread_end(w->st);
	return NULL;
}

/* The store's group commit, counted in the shared metrics. */
static void
count_batch(void *arg, size_t nops)
{
	metrics_batch(arg, nops > UINT_MAX ? UINT_MAX : (unsigned)nops);
}

/*
 * The store that c names, as store_open() takes it; its quotas in
 * sq[0..CONF_QUOTAS_MAX), the caller's, pointing into c.
 */
static void
store_opts_from(const struct conf *c, struct store_opts *so,
    struct store_quota *sq)
{
	size_t	 i;

	memset(so, 0, sizeof(*so));
	for (i = 0; i < c->nquotas; i++) {
		sq[i].prefix = c->quotas[i].prefix;
		sq[i].plen = strlen(c->quotas[i].prefix);
		sq[i].bytes = c->quotas[i].bytes;
	}
	so->quotas = sq;
	so->nquotas = c->nquotas;
	so->backend = c->backend == CONF_BACKEND_POSTGRES ?
	    STORE_BACKEND_POSTGRES : STORE_BACKEND_LMDB;
	so->conninfo = c->conninfo;
	so->dir = c->data_dir;
	so->map_size = c->map_size;
	so->log = log_store;
}

static void *
work_start(const struct conf *c, int listen_fd, void *arg)
{
	struct worker		*w;
	struct store_opts	 so;
	struct store_quota	 sq[CONF_QUOTAS_MAX];
	struct conn_opts	 co;
	unsigned		 nreaders;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	w->app = arg;
	if ((w->live = live_make(c)) == NULL) {
		free(w);
		return NULL;
	}
	pthread_mutex_init(&w->lock, NULL);
	nreaders = conf_workers(c) * (c->threads + 2) + 16;
	store_opts_from(c, &so, sq);
	so.max_readers = nreaders < 126 ? 126 : nreaders;
	so.batch_max = c->batch_max;
	so.relaxed = c->durability_relaxed;
	so.on_batch = count_batch;
	so.batch_arg = w->app->metrics;
	so.on_commit = post_commit;
	so.history_versions = c->history_versions;
	so.commit_arg = (void *)w->app;
	if (store_open(&so, &w->st) != STORE_OK) {
		if (c->backend == CONF_BACKEND_POSTGRES)
			log_error("cannot open the store on PostgreSQL "
			    "(postgres_conninfo)");
		else
			log_error("cannot open the store in %s", c->data_dir);
		goto fail;
	}
	memset(&co, 0, sizeof(co));
	co.listen_fd = listen_fd;
	co.threads = c->threads;
	co.max_conns = c->max_conns;
	co.request_timeout = c->request_timeout;
	co.max_body = c->max_body;
	co.max_watchers = c->max_watchers;
	co.max_watchers_per_owner = c->max_watchers_per_principal;
	if (co.max_watchers_per_owner == 0)	/* a quarter, at least 1 */
		co.max_watchers_per_owner = (c->max_watchers + 3) / 4;
	co.watchers = count_watchers;
	co.abandoned = count_abandoned;
	co.thread_start = thread_start;
	co.thread_end = thread_end;
	co.handle = handle;
	co.arg = w;
	if (conn_start(&co, &w->loop) != CONN_OK)
		goto fail;
	if (pthread_create(&w->feed, NULL, feed_main, w) != 0) {
		log_error("cannot start the feed thread");
		conn_stop(w->loop, conn_now_ms());
		(void)conn_wait(w->loop);
		goto fail;
	}
	w->feed_started = 1;
	log_debug("worker ready, %u threads", c->threads);
	return w;
fail:
	store_close(w->st);
	live_free(w->live);
	pthread_mutex_destroy(&w->lock);
	free(w);
	return NULL;
}

static struct conf	*reload_conf(const char *);

/*
 * SIGHUP in a worker: reads the configuration file and the tokens again
 * and puts them in place for the requests that start from now on; those
 * in flight finish with what they began with. A file that does not load
 * changes nothing.
 */
static void
work_reload(void *h)
{
	struct worker	*w = h;
	struct conf	*next, *cur = NULL;
	struct live	*l, *old;
	char		 restart[256];

	if ((next = reload_conf(w->app->conf_path)) == NULL)
		return;
	if ((cur = malloc(sizeof(*cur))) == NULL)
		goto out;
	old = live_get(w);
	*cur = old->conf;
	live_put(w, old);
	conf_apply(cur, next, restart, sizeof(restart));
	if ((l = live_make(cur)) == NULL)
		goto out;
	log_set_level(cur->log_level);
	pthread_mutex_lock(&w->lock);
	old = w->live;
	w->live = l;
	pthread_mutex_unlock(&w->lock);
	live_put(w, old);
	log_debug("configuration reloaded");
out:
	free(cur);
	free(next);
}

static void
work_stop(void *h, int64_t deadline_ms)
{
	struct worker	*w = h;

	atomic_store(&w->feed_stop, 1);
	conn_stop(w->loop, deadline_ms);
}

static int
work_finish(void *h)
{
	struct worker		*w = h;
	struct store_stats	 ss;
	int			 rc;

	/* the feed thread tells the loop of changes: it ends first (within
	   a second of work_stop), before conn_wait frees the loop */
	if (w->feed_started)
		pthread_join(w->feed, NULL);
	if ((rc = conn_wait(w->loop)) == -1)
		return rc;	/* threads still running: free nothing */
	store_stats(w->st, &ss);
	log_info("%llu writes in %llu write transactions, which held the "
	    "write lock %.1f ms in all, %.1f ms at most",
	    (unsigned long long)ss.batched_ops, (unsigned long long)ss.batches,
	    ss.held_us / 1000.0, ss.held_max_us / 1000.0);
	store_close(w->st);
	live_put(w, w->live);
	pthread_mutex_destroy(&w->lock);
	free(w);
	return rc;
}

/* ---- the command -------------------------------------------------------- */

static void
usage(void)
{
	fprintf(stderr, "usage: verstored [-c file]\n"
	    "       verstored -t [-c file]\n"
	    "       verstored backup [-c file] dir\n"
	    "       verstored token add name [--read-only] "
	    "[--prefix prefix]... [-c file]\n"
	    "       verstored token add name --metrics [-c file]\n"
	    "       verstored token list [-c file]\n"
	    "       verstored token revoke name [-c file]\n"
	    "       verstored --version\n"
	    "       verstored -h | --help\n");
	exit(2);
}

/* verstored --help: the man page in brief. */
static void
help(void)
{
	printf("verstored %s: a versioned JSON key/value store, served to "
	    "nginx over FastCGI\n\n"
	    "usage: verstored [-c file]              serve (foreground, logs "
	    "on stderr)\n"
	    "       verstored -t [-c file]           check the configuration "
	    "and the paths\n"
	    "       verstored backup [-c file] dir   hot copy of the store "
	    "into an empty dir\n"
	    "       verstored token add name [--read-only] "
	    "[--prefix prefix]... [-c file]\n"
	    "                                        a new token, printed "
	    "once on stdout\n"
	    "       verstored token add name --metrics [-c file]\n"
	    "                                        one that reads "
	    "/api/metrics only\n"
	    "       verstored token list [-c file]   names, modes and "
	    "prefixes\n"
	    "       verstored token revoke name [-c file]\n"
	    "       verstored --version\n"
	    "       verstored -h | --help\n\n"
	    "Options go before the command word or anywhere after it.\n"
	    "The configuration (default %s) holds \"name value\"\nlines; "
	    "conf/verstore.conf documents every setting. The token commands "
	    "keep the\nfile its \"tokens\" setting names. SIGTERM drains and "
	    "stops.\nSee verstored(8), and doc/API.md for the HTTP contract.\n"
	    "\nexit status:\n"
	    "  0  stopped cleanly; the configuration is good; the command "
	    "did it\n"
	    "  1  anything else: a bad configuration or tokens file, a store "
	    "that\n"
	    "     cannot be opened, a command that failed\n"
	    "  2  usage: an unknown option or command, a missing or extra "
	    "argument\n",
	    VERSTORE_VERSION, DEFAULT_CONF);
}

static const char *
conf_message(enum conf_err e)
{
	switch (e) {
	case CONF_OPEN:		return "cannot read the file";
	case CONF_SYNTAX:	return "expected \"name value\"";
	case CONF_UNKNOWN:	return "unknown setting";
	case CONF_VALUE:	return "invalid value";
	case CONF_TOO_MANY:	return "too many values (32 at most)";
	case CONF_NO_TOKENS:	return "token needs a \"tokens FILE\" line "
				    "naming the tokens file";
	default:		return "error";
	}
}

/* What is wrong with the configuration file at path, in a sentence. */
static void
conf_error_text(const char *path, const struct conf_error *e, char *buf,
    size_t sz)
{
	if (e->code == CONF_OPEN)
		snprintf(buf, sz, "%s: %s", path, strerror(e->sys));
	else if (e->code == CONF_VALUE && conf_expected(e->name) != NULL)
		snprintf(buf, sz, "%s:%d: %s: expected %s, got \"%s\"", path,
		    e->line, e->name, conf_expected(e->name), e->value);
	else
		snprintf(buf, sz, "%s:%d: %s: %s", path, e->line, e->name,
		    conf_message(e->code));
}

/* Loads path over the defaults; NULL (said on stderr) when it is bad. */
static struct conf *
load_conf(const char *path, int test)
{
	struct conf		*c;
	struct conf_error	 e;
	char			 msg[PATH_MAX + 256];

	if ((c = malloc(sizeof(*c))) == NULL) {
		perror("verstored");
		return NULL;
	}
	conf_defaults(c);
	if (conf_load(c, path, &e) == CONF_OK)
		return c;
	conf_error_text(path, &e, msg, sizeof(msg));
	fprintf(stderr, "verstored: %s\n", msg);
	if (test)
		fprintf(stderr, "verstored: configuration file %s test "
		    "failed\n", path);
	free(c);
	return NULL;
}

/* Loads path for a reload; NULL (logged) when it is bad. */
static struct conf *
reload_conf(const char *path)
{
	struct conf		*c;
	struct conf_error	 e;
	char			 msg[PATH_MAX + 256];

	if ((c = malloc(sizeof(*c))) == NULL) {
		log_error("SIGHUP: out of memory: not reloaded");
		return NULL;
	}
	conf_defaults(c);
	if (conf_load(c, path, &e) == CONF_OK)
		return c;
	conf_error_text(path, &e, msg, sizeof(msg));
	log_error("SIGHUP: %s; the configuration in force stays", msg);
	free(c);
	return NULL;
}

/*
 * SIGHUP in the master, before the workers get it: the file and its tokens
 * must load, else nothing changes. The master's copy takes the new
 * settings, for workers it starts later.
 */
static int
master_check(void *arg)
{
	struct app		*a = arg;
	struct conf		*next;
	struct tokens		*t = NULL;
	struct tokens_err	 e;
	char			 why[512], restart[256];

	if ((next = reload_conf(a->conf_path)) == NULL)
		return -1;
	if (next->auth == CONF_AUTH_TOKEN &&
	    tokens_load(next->tokens, &t, &e) != TOKENS_OK) {
		tokens_reason(&e, why, sizeof(why));
		log_error("SIGHUP: tokens %s:%d: %s; the configuration in "
		    "force stays", next->tokens, e.line, why);
		free(next);
		return -1;
	}
	tokens_free(t);
	conf_apply(a->conf, next, restart, sizeof(restart));
	free(next);
	log_set_level(a->conf->log_level);
	if (restart[0] != '\0')
		log_warn("SIGHUP: %s: changed, applied at the next restart",
		    restart);
	log_info("SIGHUP: %s reloaded", a->conf_path);
	return 0;
}

/*
 * verstored backup [-c file] DIR: a consistent, compacted copy of the
 * store that the configuration names, made while it serves. DIR must
 * exist and hold no store yet. argv[0] is "backup"; path, the file that
 * a -c before it named (a -c after it wins).
 */
static int
cmd_backup(int argc, char *argv[], const char *path)
{
	struct conf		*c = NULL;
	struct store_opts	 so;
	struct store_quota	 sq[CONF_QUOTAS_MAX];
	struct stat		 sb;
	store			*st = NULL;
	char			 file[PATH_MAX + 16];
	int			 ch, rc = 1;

	optind = 0;		/* anew: main's getopt ran */
	while ((ch = getopt(argc, argv, "c:")) != -1) {
		if (ch != 'c')
			usage();
		path = optarg;
	}
	if (optind != argc - 1)
		usage();
	if ((c = load_conf(path, 0)) == NULL)
		goto out;
	if (c->backend == CONF_BACKEND_POSTGRES) {
		fprintf(stderr, "verstored: backup: %s sets backend postgres; "
		    "back the database up with PostgreSQL's own tools "
		    "(pg_dump, or a standby)\n", path);
		goto out;
	}
	snprintf(file, sizeof(file), "%s/data.mdb", c->data_dir);
	if (stat(file, &sb) == -1) {
		fprintf(stderr, "verstored: backup: no store in %s: %s\n",
		    c->data_dir, strerror(errno));
		goto out;
	}
	if (stat(argv[optind], &sb) == -1 || !S_ISDIR(sb.st_mode)) {
		fprintf(stderr, "verstored: backup: %s is not a directory; "
		    "make an empty one first\n", argv[optind]);
		goto out;
	}
	snprintf(file, sizeof(file), "%s/data.mdb", argv[optind]);
	if (stat(file, &sb) == 0) {
		fprintf(stderr, "verstored: backup: %s already holds a store; "
		    "choose an empty directory\n", argv[optind]);
		goto out;
	}
	store_opts_from(c, &so, sq);
	if (store_open(&so, &st) != STORE_OK) {
		fprintf(stderr, "verstored: backup: cannot open the store in "
		    "%s\n", c->data_dir);
		goto out;
	}
	if (store_backup(st, argv[optind]) != STORE_OK) {
		fprintf(stderr, "verstored: backup: the copy into %s failed\n",
		    argv[optind]);
		goto out;
	}
	fprintf(stderr, "verstored: backup of %s written to %s\n",
	    c->data_dir, file);
	rc = 0;
out:
	store_close(st);
	free(c);
	return rc;
}

/* An error of the token commands, with the file's line when it has one. */
static void
token_error(const char *cmd, const char *path, const struct tokens_err *e)
{
	char	 why[512];

	tokens_reason(e, why, sizeof(why));
	if (e->line > 0)
		fprintf(stderr, "verstored: token %s: %s:%d: %s\n", cmd, path,
		    e->line, why);
	else if (e->code == TOKENS_NAME || e->code == TOKENS_PREFIX)
		fprintf(stderr, "verstored: token %s: %s\n", cmd, why);
	else
		fprintf(stderr, "verstored: token %s: %s: %s\n", cmd, path, why);
}

static int
token_add(const struct conf *c, const char *conf_path, const char *name,
    enum tokens_mode mode, const char *const *pfx, size_t npfx)
{
	struct tokens_err	 e;
	char			 token[TOKENS_TOKEN_LEN + 1];
	size_t			 i, n;
	int			 rc = 1;

	if (tokens_add(c->tokens, name, mode, pfx, npfx, token, &e) !=
	    TOKENS_OK) {
		token_error("add", c->tokens, &e);
		return 1;
	}
	if (printf("%s\n", token) < 0 || fflush(stdout) == EOF) {
		fprintf(stderr, "verstored: token add: the token could not be "
		    "written out: %s; its line is taken back\n",
		    strerror(errno));
		if (tokens_revoke(c->tokens, name, &e) != TOKENS_OK)
			token_error("revoke", c->tokens, &e);
		goto out;
	}
	fprintf(stderr, "verstored: token %s (%s) added to %s\n", name,
	    mode == TOKENS_METRICS ? "metrics" : mode == TOKENS_RW ? "rw" :
	    "ro", c->tokens);
	for (i = 0; i < npfx; i++) {
		n = strlen(pfx[i]);
		if (pfx[i][n - 1] != '/' && strcmp(pfx[i], "*") != 0)
			fprintf(stderr, "verstored: token add: warning: prefix "
			    "\"%s\" covers every key that starts with those "
			    "bytes (\"%sx\" too); end it with / to mean a "
			    "folder\n", pfx[i], pfx[i]);
	}
	if (c->auth != CONF_AUTH_TOKEN)
		fprintf(stderr, "verstored: note: %s does not set auth token; "
		    "tokens count only under it\n", conf_path);
	rc = 0;
out:
	explicit_bzero(token, sizeof(token));
	return rc;
}

static int
token_list(const struct conf *c)
{
	struct tokens			*t;
	struct tokens_err		 e;
	const struct tokens_entry	*en;
	size_t				 i, j;

	if (tokens_load(c->tokens, &t, &e) != TOKENS_OK) {
		token_error("list", c->tokens, &e);
		return 1;
	}
	for (i = 0; i < tokens_count(t); i++) {
		en = tokens_at(t, i);
		printf("%s %s", en->name, en->metrics ? "metrics" :
		    en->rw ? "rw" : "ro");
		if (en->all)
			printf(" *");
		for (j = 0; j < en->nprefixes; j++)
			printf(" %s", en->prefixes[j]);
		printf("\n");
	}
	tokens_free(t);
	if (fflush(stdout) == EOF) {
		perror("verstored: token list");
		return 1;
	}
	return 0;
}

static int
token_revoke(const struct conf *c, const char *name)
{
	struct tokens_err	 e;

	if (tokens_revoke(c->tokens, name, &e) != TOKENS_OK) {
		token_error("revoke", c->tokens, &e);
		return 1;
	}
	fprintf(stderr, "verstored: token %s revoked in %s\n", name,
	    c->tokens);
	return 0;
}

/*
 * verstored token add NAME [--read-only] [--prefix P]... [-c file]
 * verstored token add NAME --metrics [-c file]
 * verstored token list [-c file]
 * verstored token revoke NAME [-c file]
 * on the tokens file that the configuration's "tokens" names; options go
 * anywhere. argv[0] is "token"; path, the file that a -c before it named
 * (a -c after it wins). The logic is proc/tokens.c's.
 */
static int
cmd_token(int argc, char *argv[], const char *path)
{
	static const struct option	 opts[] = {
		{ "read-only",	no_argument,		NULL, 'r' },
		{ "prefix",	required_argument,	NULL, 'p' },
		{ "metrics",	no_argument,		NULL, 'm' },
		{ NULL,		0,			NULL, 0 },
	};
	struct conf			*c = NULL;
	const char			*cmd = NULL, *name = NULL;
	const char			**pfx = NULL;
	size_t				 npfx = 0;
	int				 ch, ro = 0, metrics = 0;
	int				 add_opts = 0, rc = 2;

	if ((pfx = calloc((size_t)argc, sizeof(*pfx))) == NULL) {
		perror("verstored");
		return 1;
	}
	/* "-": the words that are not options come as 1, in their order:
	   the command (add, list, revoke), then its name; optind 0: anew,
	   as main's getopt ran */
	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "-c:", opts, NULL)) != -1) {
		switch (ch) {
		case 1:
			if (cmd == NULL)
				cmd = optarg;
			else if (name == NULL)
				name = optarg;
			else
				goto out;
			break;
		case 'c':
			path = optarg;
			break;
		case 'r':
			ro = 1;
			add_opts = 1;
			break;
		case 'm':
			metrics = 1;
			add_opts = 1;
			break;
		case 'p':
			pfx[npfx++] = optarg;
			add_opts = 1;
			break;
		default:
			fprintf(stderr, "verstored: token: an unknown option, "
			    "or one without its value\n");
			goto out;
		}
	}
	if (cmd == NULL || (strcmp(cmd, "add") != 0 &&
	    strcmp(cmd, "list") != 0 && strcmp(cmd, "revoke") != 0))
		goto out;
	if ((name == NULL) != (strcmp(cmd, "list") == 0) ||
	    (add_opts && strcmp(cmd, "add") != 0))
		goto out;
	rc = 1;
	if (metrics && (ro || npfx > 0)) {
		fprintf(stderr, "verstored: token add: --metrics makes a token "
		    "that reads /api/metrics and no key: it takes neither "
		    "--read-only nor --prefix\n");
		goto out;
	}
	if ((c = load_conf(path, 0)) == NULL)
		goto out;
	if (c->tokens[0] == '\0') {
		fprintf(stderr, "verstored: token %s: %s names no tokens file; "
		    "add a line such as \"tokens /etc/verstore/tokens\"\n",
		    cmd, path);
		goto out;
	}
	if (strcmp(cmd, "add") == 0)
		rc = token_add(c, path, name, metrics ? TOKENS_METRICS :
		    ro ? TOKENS_RO : TOKENS_RW, pfx, npfx);
	else if (strcmp(cmd, "list") == 0)
		rc = token_list(c);
	else
		rc = token_revoke(c, name);
out:
	free(pfx);
	free(c);
	if (rc == 2)
		usage();
	return rc;
}

/*
 * verstored -t under backend postgres: the database must answer and hold
 * a schema this verstored can use (or none yet: the start creates it).
 * Nothing is written. 0, or -1 said on stderr.
 */
static int
check_store(const struct conf *c)
{
	struct store_opts	 so;
	struct store_quota	 sq[CONF_QUOTAS_MAX];

	if (c->backend != CONF_BACKEND_POSTGRES)
		return 0;
	store_opts_from(c, &so, sq);
	switch (store_check(&so)) {
	case STORE_OK:
		fprintf(stderr, "verstored: postgres: connected; the schema "
		    "is there and current\n");
		return 0;
	case STORE_NOTFOUND:
		fprintf(stderr, "verstored: postgres: connected; the database "
		    "holds no verstore tables yet: verstored creates them "
		    "when it starts\n");
		return 0;
	case STORE_CORRUPT:
		fprintf(stderr, "verstored: postgres: the database holds a "
		    "newer schema than this verstored knows; run the newer "
		    "verstored\n");
		return -1;
	case STORE_INVALID:
		fprintf(stderr, "verstored: backend postgres: this verstored "
		    "was built without libpq; install libpq-dev and "
		    "rebuild\n");
		return -1;
	case STORE_UNAVAILABLE:
		fprintf(stderr, "verstored: postgres: cannot connect with "
		    "postgres_conninfo (the line above says why)\n");
		return -1;
	default:
		fprintf(stderr, "verstored: postgres: the schema's version "
		    "cannot be read (the line above says why)\n");
		return -1;
	}
}

int
main(int argc, char *argv[])
{
	struct conf		*c;
	struct pool_listener	 l;
	struct pool_work	 work = { work_start, work_stop, work_finish,
				     work_reload, master_check, NULL };
	struct app		 app;
	static const struct option opts[] = {
		{ "help",	no_argument,	NULL, 'h' },
		{ "version",	no_argument,	NULL, 'V' },
		{ NULL,		0,		NULL, 0 },
	};
	const char		*path = DEFAULT_CONF;
	char			 msg[PATH_MAX + 1024];
	int			 ch, test = 0;
	enum pool_err		 pe;

	/* "+": up to the command word (backup, token), which reads the
	   rest, its own options among them; -c may come before it too */
	while ((ch = getopt_long(argc, argv, "+c:th", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 't':
			test = 1;
			break;
		case 'h':
			help();
			return 0;
		case 'V':
			printf("verstored %s\n", VERSTORE_VERSION);
			return 0;
		default:
			usage();
		}
	}
	if (optind < argc && !test && strcmp(argv[optind], "backup") == 0)
		return cmd_backup(argc - optind, argv + optind, path);
	if (optind < argc && !test && strcmp(argv[optind], "token") == 0)
		return cmd_token(argc - optind, argv + optind, path);
	if (optind != argc)
		usage();
	if ((c = load_conf(path, test)) == NULL)
		return 1;
	if (conf_check(c, msg, sizeof(msg)) == -1) {
		fprintf(stderr, "verstored: %s\n", msg);
		if (test)
			fprintf(stderr, "verstored: configuration file %s "
			    "test failed\n", path);
		free(c);
		return 1;
	}
	if (test) {
		ch = check_store(c);
		fprintf(stderr, "verstored: configuration file %s test %s\n",
		    path, ch == 0 ? "is successful" : "failed");
		free(c);
		return ch == 0 ? 0 : 1;
	}
	log_set_level(c->log_level);
	/*
	 * Made before any worker is forked, so that every worker counts into
	 * the same region and a replaced worker's counts stay in it.
	 */
	if (metrics_create(&app.metrics) != METRICS_OK ||
	    notify_create(&app.notify) == -1) {
		log_error("cannot map the shared counters: %s",
		    strerror(errno));
		metrics_destroy(app.metrics);
		free(c);
		return 1;
	}
	app.conf_path = path;
	app.conf = c;
	work.arg = &app;
	if ((pe = pool_listen(c, &l)) != POOL_OK) {
		notify_destroy(app.notify);
		metrics_destroy(app.metrics);
		free(c);
		return 1;
	}
	pe = pool_run(c, &l, &work);
	log_info("stopped%s", pe == POOL_OK ? "" : " (not cleanly)");
	notify_destroy(app.notify);
	metrics_destroy(app.metrics);
	free(c);
	return pe == POOL_OK ? 0 : 1;
}
