/*
 * pool.c - master and workers; see pool.h.
 *
 * Graceful stop inside a worker: libfcgi's own SIGTERM handler only sets a
 * flag that threads blocked in accept() never see, so workers install
 * their own. The worker's main thread waits for SIGTERM, sets `stopping`,
 * then pokes every request thread that is waiting in FCGX_Accept_r with
 * SIGUSR2 (the requests are made with FCGI_FAIL_ACCEPT_ON_INTR, so the
 * accept fails) until all threads have finished their current request
 * and returned, or shutdown_timeout passes.
 */
#include <errno.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "../store/store.h"
#include "api.h"
#include "http.h"
#include "log.h"
#include "pool.h"

#define BACKOFF_MIN_MS	100
#define BACKOFF_MAX_MS	5000
#define YOUNG_MS	2000	/* a worker dying younger than this backs off */

static int64_t
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
is_listening_socket(int fd)
{
	int		 v = 0;
	socklen_t	 len = sizeof(v);

	return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) == 0 && v;
}

enum pool_err
pool_listen(const struct conf *c, struct pool_listener *l)
{
	struct sockaddr_un	 sa;
	struct stat		 st;
	struct group		*gr;
	char			 dir[sizeof(sa.sun_path)], *slash;
	int			 fd = -1, probe = -1;
	enum pool_err		 err = POOL_SOCKET;

	l->fd = -1;
	l->owned = 0;
	if (is_listening_socket(0)) {
		l->fd = 0;
		log_info("using the listening socket on fd 0");
		return POOL_OK;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, c->socket, strlen(c->socket) + 1);
	memcpy(dir, c->socket, sizeof(dir));
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) == -1 && errno != EEXIST) {
			log_error("mkdir %s: %s", dir, strerror(errno));
			goto out;
		}
	}
	if (lstat(c->socket, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_error("%s exists and is not a socket", c->socket);
			errno = EEXIST;
			goto out;
		}
		if ((probe = socket(AF_UNIX, SOCK_STREAM, 0)) == -1)
			goto out;
		if (connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			log_error("%s: another server is listening", c->socket);
			err = POOL_IN_USE;
			goto out;
		}
		unlink(c->socket);	/* stale, from a server that died */
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
		log_error("%s: %s", c->socket, strerror(errno));
		goto out;
	}
	l->owned = 1;
	if (chmod(c->socket, c->socket_mode) == -1) {
		log_error("chmod %s: %s", c->socket, strerror(errno));
		goto out;
	}
	if (c->socket_group[0] != '\0') {
		if ((gr = getgrnam(c->socket_group)) == NULL) {
			log_error("socket_group %s: no such group",
			    c->socket_group);
			goto out;
		}
		if (chown(c->socket, (uid_t)-1, gr->gr_gid) == -1) {
			log_error("chown %s: %s", c->socket, strerror(errno));
			goto out;
		}
	}
	if (listen(fd, SOMAXCONN) == -1) {
		log_error("listen %s: %s", c->socket, strerror(errno));
		goto out;
	}
	l->fd = fd;
	fd = -1;
	err = POOL_OK;
out:
	if (probe != -1)
		close(probe);
	if (fd != -1) {
		close(fd);
		if (l->owned)
			unlink(c->socket);
		l->owned = 0;
	}
	return err;
}

/* ---- worker ---------------------------------------------------------- */

struct thread_slot {
	pthread_t		 tid;
	int			 started;
	atomic_int		 in_accept;
	atomic_int		 done;
	struct worker		*w;
};

struct worker {
	const struct conf	*conf;
	int			 listen_fd;
	struct api_ctx		 ctx;
	atomic_int		 stopping;
	struct thread_slot	*slots;
	unsigned		 nslots;
};

static void
on_usr2(int sig)
{
	(void)sig;	/* only to interrupt accept() */
}

static void *
request_thread(void *arg)
{
	struct thread_slot	*t = arg;
	struct worker		*w = t->w;
	struct http_scratch	*s;
	FCGX_Request		 req;
	int			 rc;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		log_error("out of memory");
		goto out;
	}
	if (FCGX_InitRequest(&req, w->listen_fd, FCGI_FAIL_ACCEPT_ON_INTR)) {
		log_error("FCGX_InitRequest failed");
		goto out;
	}
	while (!atomic_load(&w->stopping)) {
		atomic_store(&t->in_accept, 1);
		if (atomic_load(&w->stopping)) {
			atomic_store(&t->in_accept, 0);
			break;
		}
		rc = FCGX_Accept_r(&req);
		atomic_store(&t->in_accept, 0);
		if (rc < 0) {
			if (atomic_load(&w->stopping) || rc == -EINTR)
				continue;
			log_warn("FCGX_Accept_r: %s", strerror(-rc));
			usleep(10000);	/* EMFILE and kin: do not spin */
			continue;
		}
		http_serve(&req, &w->ctx, s);
		/*
		 * Close without libfcgi's lingering close (shutdown, then
		 * poll and read until nginx closes): http_serve has read the
		 * request to its end, so nothing unread is left to protect,
		 * and the lingering cost a syscall round and a wait on nginx
		 * per request.
		 */
		FCGX_Detach(&req);
		FCGX_Finish_r(&req);
	}
	FCGX_Free(&req, 1);
	store_thread_end(w->ctx.st);
out:
	http_scratch_free(s);
	free(s);
	atomic_store(&t->done, 1);
	return NULL;
}

/* Blocks until SIGTERM; then drains. Returns the worker's exit code. */
static int
worker_wait_and_drain(struct worker *w)
{
	sigset_t	 set;
	int		 sig = 0;
	unsigned	 i, live;
	int64_t		 deadline;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	while (sig != SIGTERM) {
		sig = sigwaitinfo(&set, NULL);
		if (sig == -1 && errno != EINTR) {
			log_error("sigwaitinfo: %s", strerror(errno));
			break;
		}
	}
	atomic_store(&w->stopping, 1);
	deadline = now_ms() + (int64_t)w->conf->shutdown_timeout * 1000;
	for (;;) {
		live = 0;
		for (i = 0; i < w->nslots; i++) {
			struct thread_slot *t = &w->slots[i];

			if (!t->started || atomic_load(&t->done))
				continue;
			live++;
			if (atomic_load(&t->in_accept))
				pthread_kill(t->tid, SIGUSR2);
		}
		if (live == 0)
			break;
		if (now_ms() >= deadline) {
			log_warn("%u requests still running at shutdown_timeout",
			    live);
			return 1;
		}
		usleep(20000);
	}
	for (i = 0; i < w->nslots; i++)
		if (w->slots[i].started)
			pthread_join(w->slots[i].tid, NULL);
	return 0;
}

static int
worker_main(const struct conf *c, int listen_fd, pid_t master)
{
	struct worker		 w;
	struct store_opts	 so;
	struct store_stats	 ss;
	struct sigaction	 sa;
	sigset_t		 set;
	unsigned		 i, nreaders;
	int			 rc = 2;

	memset(&w, 0, sizeof(w));
	w.conf = c;
	w.listen_fd = listen_fd;
	/* Die with the master, and make sure it did not die already. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1 || getppid() != master)
		goto out;
	if (FCGX_Init() != 0) {
		log_error("FCGX_Init failed");
		goto out;
	}
	/* Replace libfcgi's handlers: SIGTERM is waited for, below. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);	/* the master coordinates a stop */
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = on_usr2;	/* no SA_RESTART: accept fails */
	sigaction(SIGUSR2, &sa, NULL);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);	/* inherited by threads */

	nreaders = conf_workers(c) * (c->threads + 2) + 16;
	memset(&so, 0, sizeof(so));
	so.dir = c->data_dir;
	so.map_size = c->map_size;
	so.max_readers = nreaders < 126 ? 126 : nreaders;
	so.log = log_store;
	so.batch_max = c->batch_max;
	so.relaxed = c->durability_relaxed;
	if (store_open(&so, &w.ctx.st) != STORE_OK) {
		log_error("cannot open the store in %s", c->data_dir);
		goto out;
	}
	w.ctx.conf = c;
	if ((w.slots = calloc(c->threads, sizeof(*w.slots))) == NULL)
		goto out;
	w.nslots = c->threads;
	for (i = 0; i < w.nslots; i++) {
		w.slots[i].w = &w;
		if (pthread_create(&w.slots[i].tid, NULL, request_thread,
		    &w.slots[i]) != 0) {
			log_error("pthread_create: %s", strerror(errno));
			atomic_store(&w.stopping, 1);
			kill(getpid(), SIGTERM);
			break;
		}
		w.slots[i].started = 1;
	}
	log_debug("worker ready, %u threads", w.nslots);
	rc = worker_wait_and_drain(&w);
	if (rc != 0)
		return rc;	/* threads still running: free nothing */
	store_stats(w.ctx.st, &ss);
	log_info("%llu writes in %llu write transactions",
	    (unsigned long long)ss.batched_ops, (unsigned long long)ss.batches);
	store_close(w.ctx.st);
out:
	free(w.slots);
	return rc;
}

/* ---- master ---------------------------------------------------------- */

struct wslot {
	pid_t	 pid;		/* 0: not running */
	int64_t	 started;	/* ms */
	int64_t	 respawn_at;	/* ms; when pid == 0 */
	int	 backoff;	/* ms */
};

static pid_t
spawn(const struct conf *c, struct pool_listener *l, struct wslot *s,
    const sigset_t *oldmask)
{
	pid_t	 pid, master = getpid();
	int	 rc;

	if ((pid = fork()) == -1) {
		log_error("fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = SIG_DFL;
		sigaction(SIGCHLD, &sa, NULL);
		sigprocmask(SIG_SETMASK, oldmask, NULL);
		rc = worker_main(c, l->fd, master);
		/* a clean stop runs exit handlers (a leak checker's, say) */
		if (rc == 0)
			exit(0);
		_exit(rc);
	}
	s->pid = pid;
	s->started = now_ms();
	return pid;
}

static void
log_exit(pid_t pid, int status, int stopping)
{
	if (WIFSIGNALED(status))
		log_msg(stopping ? LOG_INFO : LOG_ERROR, __func__,
		    "worker %ld killed by signal %d (%s)", (long)pid,
		    WTERMSIG(status), strsignal(WTERMSIG(status)));
	else if (WEXITSTATUS(status) != 0 || !stopping)
		log_msg(stopping ? LOG_WARN : LOG_ERROR, __func__,
		    "worker %ld exited with status %d", (long)pid,
		    WEXITSTATUS(status));
}

/* Reaps exited workers; returns how many of slots still run. */
static unsigned
reap(struct wslot *slots, unsigned n, int stopping, int *unclean)
{
	pid_t		 pid;
	int		 status;
	unsigned	 i, live = 0;
	int64_t		 t = now_ms(), age;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		log_exit(pid, status, stopping);
		if (stopping && (WIFSIGNALED(status) || WEXITSTATUS(status)))
			*unclean = 1;
		for (i = 0; i < n; i++) {
			if (slots[i].pid != pid)
				continue;
			slots[i].pid = 0;
			age = t - slots[i].started;
			if (age < YOUNG_MS) {
				slots[i].backoff = slots[i].backoff == 0 ?
				    BACKOFF_MIN_MS : slots[i].backoff * 2;
				if (slots[i].backoff > BACKOFF_MAX_MS)
					slots[i].backoff = BACKOFF_MAX_MS;
			} else
				slots[i].backoff = 0;
			slots[i].respawn_at = t + slots[i].backoff;
		}
	}
	for (i = 0; i < n; i++)
		if (slots[i].pid != 0)
			live++;
	return live;
}

static void
stop_all(const struct conf *c, struct wslot *slots, unsigned n, int *unclean)
{
	unsigned	 i, live;
	int64_t		 deadline;

	for (i = 0; i < n; i++)
		if (slots[i].pid != 0)
			kill(slots[i].pid, SIGTERM);
	deadline = now_ms() + (int64_t)c->shutdown_timeout * 1000 + 2000;
	while ((live = reap(slots, n, 1, unclean)) > 0) {
		if (now_ms() >= deadline) {
			log_warn("killing %u workers that did not stop", live);
			for (i = 0; i < n; i++)
				if (slots[i].pid != 0)
					kill(slots[i].pid, SIGKILL);
			*unclean = 1;
			deadline = now_ms() + 5000;
		}
		usleep(20000);
	}
}

enum pool_err
pool_run(const struct conf *c, struct pool_listener *l)
{
	struct wslot	*slots = NULL;
	sigset_t	 set, old;
	struct timespec	 tick = { 0, 200 * 1000 * 1000 };
	unsigned	 n = conf_workers(c), i;
	int		 sig, unclean = 0;
	enum pool_err	 err = POOL_SYSTEM;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, &old) == -1)
		goto out;
	signal(SIGPIPE, SIG_IGN);
	if ((slots = calloc(n, sizeof(*slots))) == NULL)
		goto out;
	log_info("verstored starting: %u workers x %u threads, data in %s",
	    n, c->threads, c->data_dir);
	for (i = 0; i < n; i++)
		if (spawn(c, l, &slots[i], &old) == -1)
			goto out;
	for (;;) {
		sig = sigtimedwait(&set, NULL, &tick);
		if (sig == SIGTERM || sig == SIGINT) {
			log_info("%s: stopping", strsignal(sig));
			break;
		}
		if (sig == SIGHUP)
			log_warn("SIGHUP: reload is not supported; restart "
			    "verstored to apply a new configuration");
		(void)reap(slots, n, 0, &unclean);
		for (i = 0; i < n; i++) {
			if (slots[i].pid != 0 || now_ms() < slots[i].respawn_at)
				continue;
			if (spawn(c, l, &slots[i], &old) > 0)
				log_info("replaced a worker with %ld",
				    (long)slots[i].pid);
		}
	}
	err = POOL_OK;
out:
	/* Refuse new connections first, then let the workers drain. */
	if (l->owned)
		unlink(c->socket);
	if (l->fd != -1)
		close(l->fd);
	l->fd = -1;
	if (slots != NULL)
		stop_all(c, slots, n, &unclean);
	free(slots);
	if (err == POOL_OK && unclean)
		err = POOL_TIMEOUT;
	return err;
}
