/*
 * pool.h - the process model: a master that owns the listening socket and
 * supervises `workers` worker processes, each running `threads` request
 * threads. Workers open the store after fork.
 *
 * Signals to the master: SIGTERM / SIGINT drain and stop (exit 0 when all
 * workers finished in time); SIGHUP is logged and ignored (restart to
 * apply a new configuration). A worker that dies is replaced, with a
 * back-off when it keeps dying young.
 */
#ifndef POOL_H
#define POOL_H

#include "conf.h"

enum pool_err {
	POOL_OK = 0,
	POOL_SOCKET,		/* the socket cannot be made (errno kept) */
	POOL_IN_USE,		/* another server answers on the socket */
	POOL_SYSTEM,		/* fork, signals or threads failed */
	POOL_TIMEOUT,		/* workers had to be killed at shutdown */
};

struct pool_listener {
	int	fd;
	int	owned;		/* we made the socket file: unlink at exit */
};

/*
 * Takes the listening socket handed over on fd 0 (spawn-fcgi, systemd
 * StandardInput=socket), or makes conf->socket with its mode and group.
 */
enum pool_err	pool_listen(const struct conf *, struct pool_listener *);
/* Runs the master until SIGTERM/SIGINT; closes the listener. */
enum pool_err	pool_run(const struct conf *, struct pool_listener *);

#endif
