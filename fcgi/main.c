/*
 * main.c - verstored: the versioned JSON store's FastCGI server.
 *
 *   verstored [-c file]              run (in the foreground; log on stderr)
 *   verstored -t [-c file]           check the configuration and exit
 *   verstored backup [-c file] DIR   write a hot copy of the store to DIR
 */
#include <errno.h>
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
#include "proc/pool.h"

#define DEFAULT_CONF	"/etc/verstore/verstore.conf"

/* proc/ knows no store: its bounds must be the store's own. */
_Static_assert(CONF_KEY_MAX == STORE_KEY_MAX, "conf and store key bounds");
_Static_assert(CONF_BATCH_MAX == STORE_BATCH_MAX, "conf and store batch bounds");
#ifndef VERSTORE_VERSION
#define VERSTORE_VERSION	"unknown"
#endif

/* ---- a worker's work: the store, the connections, the API ------------- */

struct worker {
	struct api_ctx		 ctx;
	struct conn_loop	*loop;
};

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

	store_thread_end(w->ctx.st);
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
handle(void *arg, void *state, const struct wire *req, struct buf *out)
{
	struct worker	*w = arg;

	http_serve(req, api_serve, &w->ctx, state, out);
}

static void *
work_start(const struct conf *c, int listen_fd, void *arg)
{
	struct worker		*w;
	struct store_opts	 so;
	struct conn_opts	 co;
	unsigned		 nreaders;

	(void)arg;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	nreaders = conf_workers(c) * (c->threads + 2) + 16;
	memset(&so, 0, sizeof(so));
	so.dir = c->data_dir;
	so.map_size = c->map_size;
	so.max_readers = nreaders < 126 ? 126 : nreaders;
	so.log = log_store;
	so.batch_max = c->batch_max;
	so.relaxed = c->durability_relaxed;
	if (store_open(&so, &w->ctx.st) != STORE_OK) {
		log_error("cannot open the store in %s", c->data_dir);
		free(w);
		return NULL;
	}
	w->ctx.conf = c;
	memset(&co, 0, sizeof(co));
	co.listen_fd = listen_fd;
	co.threads = c->threads;
	co.max_conns = c->max_conns;
	co.request_timeout = c->request_timeout;
	co.max_body = c->max_body;
	co.thread_start = thread_start;
	co.thread_end = thread_end;
	co.handle = handle;
	co.arg = w;
	if (conn_start(&co, &w->loop) != CONN_OK) {
		store_close(w->ctx.st);
		free(w);
		return NULL;
	}
	log_debug("worker ready, %u threads", c->threads);
	return w;
}

static void
work_stop(void *h, int64_t deadline_ms)
{
	struct worker	*w = h;

	conn_stop(w->loop, deadline_ms);
}

static int
work_finish(void *h)
{
	struct worker		*w = h;
	struct store_stats	 ss;
	int			 rc;

	if ((rc = conn_wait(w->loop)) == -1)
		return rc;	/* threads still running: free nothing */
	store_stats(w->ctx.st, &ss);
	log_info("%llu writes in %llu write transactions, which held the "
	    "write lock %.1f ms in all, %.1f ms at most",
	    (unsigned long long)ss.batched_ops, (unsigned long long)ss.batches,
	    ss.held_us / 1000.0, ss.held_max_us / 1000.0);
	store_close(w->ctx.st);
	free(w);
	return rc;
}

/* ---- the command -------------------------------------------------------- */

static void
usage(void)
{
	fprintf(stderr, "usage: verstored [-t] [-c file]\n"
	    "       verstored backup [-c file] dir\n");
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
	    "       verstored --version | --help\n\n"
	    "The configuration (default %s) holds \"name value\"\nlines; "
	    "conf/verstore.conf documents every setting. SIGTERM drains and "
	    "stops.\nSee verstored(8), and doc/API.md for the HTTP contract.\n",
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

/* Loads path over the defaults; NULL (said on stderr) when it is bad. */
static struct conf *
load_conf(const char *path, int test)
{
	struct conf		*c;
	struct conf_error	 e;

	if ((c = malloc(sizeof(*c))) == NULL) {
		perror("verstored");
		return NULL;
	}
	conf_defaults(c);
	if (conf_load(c, path, &e) == CONF_OK)
		return c;
	if (e.code == CONF_OPEN)
		fprintf(stderr, "verstored: %s: %s\n", path, strerror(e.sys));
	else if (e.code == CONF_VALUE && conf_expected(e.name) != NULL)
		fprintf(stderr, "verstored: %s:%d: %s: expected %s, got "
		    "\"%s\"\n", path, e.line, e.name, conf_expected(e.name),
		    e.value);
	else
		fprintf(stderr, "verstored: %s:%d: %s: %s\n", path, e.line,
		    e.name, conf_message(e.code));
	if (test)
		fprintf(stderr, "verstored: configuration file %s test "
		    "failed\n", path);
	free(c);
	return NULL;
}

/*
 * verstored backup [-c file] DIR: a consistent, compacted copy of the
 * store that the configuration names, made while it serves. DIR must
 * exist and hold no store yet.
 */
static int
cmd_backup(int argc, char *argv[])
{
	struct conf		*c = NULL;
	struct store_opts	 so;
	struct stat		 sb;
	store			*st = NULL;
	const char		*path = DEFAULT_CONF;
	char			 file[PATH_MAX + 16];
	int			 ch, rc = 1;

	optind = 1;
	while ((ch = getopt(argc, argv, "c:")) != -1) {
		if (ch != 'c')
			usage();
		path = optarg;
	}
	if (optind != argc - 1)
		usage();
	if ((c = load_conf(path, 0)) == NULL)
		goto out;
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
	memset(&so, 0, sizeof(so));
	so.dir = c->data_dir;
	so.map_size = c->map_size;
	so.log = log_store;
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

int
main(int argc, char *argv[])
{
	struct conf		*c;
	struct pool_listener	 l;
	struct pool_work	 work = { work_start, work_stop, work_finish,
				     NULL };
	const char		*path = DEFAULT_CONF;
	char			 msg[PATH_MAX + 1024];
	int			 ch, test = 0;
	enum pool_err		 pe;

	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		printf("verstored %s\n", VERSTORE_VERSION);
		return 0;
	}
	if (argc == 2 && (strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0)) {
		help();
		return 0;
	}
	if (argc > 1 && strcmp(argv[1], "backup") == 0)
		return cmd_backup(argc - 1, argv + 1);
	while ((ch = getopt(argc, argv, "c:t")) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 't':
			test = 1;
			break;
		default:
			usage();
		}
	}
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
		fprintf(stderr, "verstored: configuration file %s test is "
		    "successful\n", path);
		free(c);
		return 0;
	}
	log_set_level(c->log_level);
	if ((pe = pool_listen(c, &l)) != POOL_OK) {
		free(c);
		return 1;
	}
	pe = pool_run(c, &l, &work);
	log_info("stopped%s", pe == POOL_OK ? "" : " (not cleanly)");
	free(c);
	return pe == POOL_OK ? 0 : 1;
}
