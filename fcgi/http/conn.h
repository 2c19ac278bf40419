/*
 * conn.h - a worker's FastCGI connections. One event-loop thread accepts
 * on the listening socket that the worker processes share, reads what
 * each connection sends into its parser (wire.h) without ever blocking,
 * and hands every complete request through a queue to the request
 * threads. A request thread calls the handler, writes the framed answer
 * (non-blocking, bounded by request_timeout) and closes the connection.
 * No request thread ever waits for a client to send its request.
 *
 * A connection has request_timeout seconds from its accept to deliver the
 * whole request; one that has not is closed. At max_conns open
 * connections the oldest one still being received is closed to make room
 * (or, when every open one is complete and waiting for a thread, the new
 * one is refused).
 *
 * Watchers: a handler may make its request wait (struct http_park). The
 * connection then goes back to the loop, parked: it holds no thread, and
 * runs again on a thread when conn_notify() names a topic (a key) under
 * the prefix it watches with a seq past its cursor, when its time comes,
 * or never, if its peer closes first (unless the handler asked to hear
 * of that, http_resp's farewell: then it runs once more on a thread,
 * closed 1, and sends nothing). A stream's part that does not fit
 * in the socket at once closes it: a slow watcher is dropped, never
 * waited for. At most max_watchers wait at once, and at most
 * max_watchers_per_owner of those that name one owner (http_resp's
 * owner); they do not count against max_conns. can_park says whether
 * one more may; when a handler parks a request and there is no room for
 * it after all, the handler runs it again at once with can_park 0
 * (owner_full 1 when the owner's share was the bound), to answer it.
 */
#ifndef CONN_H
#define CONN_H

#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "http/http.h"
#include "http/wire.h"

enum conn_err {
	CONN_OK = 0,
	CONN_SYSTEM,		/* epoll, eventfd or threads failed */
};

struct conn_opts {
	int		 listen_fd;
	unsigned	 threads;		/* request threads */
	unsigned	 max_conns;
	unsigned	 request_timeout;	/* seconds */
	size_t		 max_body;
	unsigned	 max_watchers;
	unsigned	 max_watchers_per_owner;	/* 0: no share */
	/* Each request thread's own state, made and ended in that thread. */
	void		*(*thread_start)(void *arg);
	void		 (*thread_end)(void *arg, void *state);
	/* Answers a complete request: appends the framed answer to out;
	   pk as http_serve() takes it. */
	void		 (*handle)(void *arg, void *state, const struct wire *,
			    struct http_park *pk, struct buf *out);
	/* The number of waiting watchers changed by delta (NULL: none). */
	void		 (*watchers)(void *arg, int delta);
	/* A waiting watcher's peer closed before its answer ended: the
	   request is over unanswered (NULL: none). */
	void		 (*abandoned)(void *arg, const struct wire *);
	void		*arg;
};

/* A change that watchers may wait for: a key and its seq. */
struct conn_topic {
	const char	*key;
	size_t		 klen;
	uint64_t	 seq;
};

struct conn_loop;

/* Starts the loop and the request threads. */
enum conn_err	 conn_start(const struct conn_opts *, struct conn_loop **);
/*
 * Stops accepting; the requests received or being received are finished
 * until deadline_ms (CLOCK_MONOTONIC milliseconds). Any thread may call it.
 */
void		 conn_stop(struct conn_loop *, int64_t deadline_ms);
/*
 * Waits, until that deadline, for the threads to finish. 0: all finished
 * (everything freed); 1: all finished, but requests still being received
 * at the deadline were cut off (everything freed); -1: threads still run
 * (nothing freed: exit the process).
 */
int		 conn_wait(struct conn_loop *);
/*
 * Wakes the watchers of these changes: each one parked whose prefix
 * starts one of the keys with a seq above its cursor runs again; those
 * that no change concerns take upto as their cursor (the changes given
 * are every change up to upto). Any thread may call it; it copies what
 * it needs.
 */
void		 conn_notify(struct conn_loop *, const struct conn_topic *,
		    size_t n, uint64_t upto);
/* CLOCK_MONOTONIC in milliseconds. */
int64_t		 conn_now_ms(void);

#endif
