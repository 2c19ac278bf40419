/*
 * pool.c - master and workers; see pool.h.
 *
 * Graceful stop inside a worker: its main thread waits for SIGTERM
 * (blocked in every thread), then tells the work to stop and waits for it
 * within shutdown_timeout.
 */
#include <errno.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "proc/pool.h"

#define BACKOFF_MIN_MS	100
#define BACKOFF_MAX_MS	5000
#define YOUNG_MS	2000	/* a worker dying younger than this backs off */
#define EXIT_NO_START	3	/* a worker's work could not start */

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

/* Gives path to socket_group, when one is set. */
static int
to_group(const struct conf *c, const char *path)
{
	struct group	*gr;

	if (c->socket_group[0] == '\0')
		return 0;
	if ((gr = getgrnam(c->socket_group)) == NULL) {
		log_error("socket_group %s: no such group", c->socket_group);
		return -1;
	}
	if (chown(path, (uid_t)-1, gr->gr_gid) == -1) {
		log_error("chown %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * The socket's directory, when missing: 0750, in socket_group when one is
 * set, so that only its owner and that group (nginx's) reach the socket.
 */
static int
make_dir(const struct conf *c, const char *dir)
{
	if (mkdir(dir, 0750) == -1) {
		if (errno == EEXIST)
			return 0;
		log_error("mkdir %s: %s", dir, strerror(errno));
		return -1;
	}
	return to_group(c, dir);
}

enum pool_err
pool_listen(const struct conf *c, struct pool_listener *l)
{
	struct sockaddr_un	 sa;
	struct stat		 st;
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
		if (make_dir(c, dir) == -1)
			goto out;
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
	if (to_group(c, c->socket) == -1)
		goto out;
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

/*
 * A worker: starts its work, waits for SIGTERM, then lets the work stop
 * taking new requests and finish within shutdown_timeout. Returns the
 * worker's exit code: 0 clean, 1 work cut off, 2 could not start.
 */
static int
worker_main(const struct conf *c, int listen_fd, pid_t master,
    const struct pool_work *work)
{
	struct sigaction	 sa;
	sigset_t		 set;
	void			*h;
	int			 sig = 0;

	/* Die with the master, and make sure it did not die already. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1 || getppid() != master)
		return 2;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);	/* the master coordinates a stop */
	sa.sa_handler = SIG_DFL;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);	/* inherited by threads */

	if ((h = work->start(c, listen_fd, work->arg)) == NULL)
		return EXIT_NO_START;
	while (sig != SIGTERM) {
		sig = sigwaitinfo(&set, NULL);
		if (sig == SIGHUP && work->reload != NULL)
			work->reload(h);
		if (sig == -1 && errno != EINTR) {
			log_error("sigwaitinfo: %s", strerror(errno));
			break;
		}
	}
	work->stop(h, now_ms() + (int64_t)c->shutdown_timeout * 1000);
	return work->finish(h) == 0 ? 0 : 1;
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
    const sigset_t *oldmask, const struct pool_work *work)
{
	pid_t	 pid, master = getpid();
	int	 rc;

	if ((pid = fork()) == -1) {
		log_error("fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		struct sigaction sa;
		sigset_t	 mask = *oldmask;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = SIG_DFL;
		sigaction(SIGCHLD, &sa, NULL);
		/* a SIGHUP before the work starts waits for it, not kills */
		sigaddset(&mask, SIGHUP);
		sigprocmask(SIG_SETMASK, &mask, NULL);
		rc = worker_main(c, l->fd, master, work);
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

/*
 * Reaps exited workers; returns how many of slots still run. *ever_ran
 * is set once a worker has lived YOUNG_MS; *no_start when a worker could
 * not start its work before that: the pool never worked, and respawning
 * would not help (the reason is in the worker's log line).
 */
static unsigned
reap(struct wslot *slots, unsigned n, int stopping, int *unclean,
    int *ever_ran, int *no_start)
{
	pid_t		 pid;
	int		 status;
	unsigned	 i, live = 0;
	int64_t		 t = now_ms(), age;

	for (i = 0; i < n && ever_ran != NULL; i++)
		if (slots[i].pid != 0 && t - slots[i].started >= YOUNG_MS)
			*ever_ran = 1;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		log_exit(pid, status, stopping);
		if (stopping && (WIFSIGNALED(status) || WEXITSTATUS(status)))
			*unclean = 1;
		if (ever_ran != NULL && !*ever_ran && WIFEXITED(status) &&
		    WEXITSTATUS(status) == EXIT_NO_START)
			*no_start = 1;
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
	while ((live = reap(slots, n, 1, unclean, NULL, NULL)) > 0) {
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
pool_run(const struct conf *c, struct pool_listener *l,
    const struct pool_work *work)
{
	struct wslot	*slots = NULL;
	sigset_t	 set, old;
	struct timespec	 tick = { 0, 200 * 1000 * 1000 };
	unsigned	 n = conf_workers(c), i;
	int		 sig, unclean = 0, ever_ran = 0, no_start = 0;
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
	log_info("verstored starting: %u workers x %u threads, data %s%s", n,
	    c->threads, c->backend == CONF_BACKEND_POSTGRES ? "on PostgreSQL" :
	    "in ", c->backend == CONF_BACKEND_POSTGRES ? "" : c->data_dir);
	for (i = 0; i < n; i++)
		if (spawn(c, l, &slots[i], &old, work) == -1)
			goto out;
	for (;;) {
		sig = sigtimedwait(&set, NULL, &tick);
		if (sig == SIGTERM || sig == SIGINT) {
			log_info("%s: stopping", strsignal(sig));
			break;
		}
		if (sig == SIGHUP &&
		    (work->check == NULL || work->check(work->arg) == 0)) {
			for (i = 0; i < n; i++)
				if (slots[i].pid != 0)
					kill(slots[i].pid, SIGHUP);
		}
		(void)reap(slots, n, 0, &unclean, &ever_ran, &no_start);
		if (no_start) {
			log_error("workers cannot start (see above): stopping");
			err = POOL_NO_START;
			goto out;
		}
		for (i = 0; i < n; i++) {
			if (slots[i].pid != 0 || now_ms() < slots[i].respawn_at)
				continue;
			if (spawn(c, l, &slots[i], &old, work) > 0)
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
