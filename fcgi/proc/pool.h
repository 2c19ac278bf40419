/*
 * pool.h - the process model: a master that owns the listening socket and
 * supervises `workers` worker processes, each running the work it is
 * given (struct pool_work) after fork.
 *
 * Signals to the master: SIGTERM / SIGINT drain and stop (exit 0 when all
 * workers finished in time); SIGHUP reloads: the master asks the work's
 * `check` whether the new configuration may be applied and, when it may,
 * passes SIGHUP on to every worker, whose `reload` applies it without
 * stopping. A worker that dies is replaced, with a back-off when it keeps
 * dying young.
 */
#ifndef POOL_H
#define POOL_H

#include <stdint.h>

#include "proc/conf.h"

enum pool_err {
	POOL_OK = 0,
	POOL_SOCKET,		/* the socket cannot be made (errno kept) */
	POOL_IN_USE,		/* another server answers on the socket */
	POOL_SYSTEM,		/* fork, signals or threads failed */
	POOL_TIMEOUT,		/* workers had to be killed at shutdown */
	POOL_NO_START,		/* no worker could start its work */
};

struct pool_listener {
	int	fd;
	int	owned;		/* we made the socket file: unlink at exit */
};

/*
 * What a worker process runs; pool.c knows nothing more of it. The calls
 * are made from the worker's main thread, in this order.
 */
struct pool_work {
	/* Starts serving on listen_fd; NULL when it cannot (exit 2). */
	void	*(*start)(const struct conf *, int listen_fd, void *arg);
	/* SIGTERM came: take nothing new, finish the rest by deadline_ms
	   (CLOCK_MONOTONIC milliseconds). */
	void	 (*stop)(void *, int64_t deadline_ms);
	/* Waits for that. 0: all finished and freed; 1: work was cut off
	   (freed); -1: still running (nothing freed: the worker exits). */
	int	 (*finish)(void *);
	/* SIGHUP came to the worker: apply the configuration anew, while
	   requests go on. NULL: nothing to do. */
	void	 (*reload)(void *);
	/* SIGHUP came to the master, before it is passed on: 0 when the
	   new configuration may be applied (the master's own copy updated,
	   for workers started later), -1 when it is refused (logged; the
	   workers keep theirs). Called with arg. NULL: always 0. */
	int	 (*check)(void *arg);
	void	*arg;
};

/*
 * Takes the listening socket handed over on fd 0 (spawn-fcgi, systemd
 * StandardInput=socket), or makes conf->socket with its mode and group.
 */
enum pool_err	pool_listen(const struct conf *, struct pool_listener *);
/* Runs the master until SIGTERM/SIGINT; closes the listener. */
enum pool_err	pool_run(const struct conf *, struct pool_listener *,
		    const struct pool_work *);

#endif
