/*
 * listen.c - news of the commits that other hosts (and other processes)
 * make in the database, for on_commit: one thread per store, on its own
 * connection, that LISTENs on the channel "verstore" and also reads the
 * meta row "seq" every PG_POLL_MS, so that it works where NOTIFY does not
 * exist (it is a hint only: the seq row is the truth). Every seq above the
 * last one told goes to on_commit, as a commit of this process's would.
 *
 * A writer's transaction sends NOTIFY verstore (write.c); the database
 * delivers it at COMMIT, to every listener of the database. It carries
 * nothing: stores in other schemas of the database notify the same
 * channel, so the listener reads its own seq row on every wake-up.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "store/store.h"
#include "pg_int.h"

void
pg_post(store *st, uint64_t seq)
{
	uint64_t	 prev = atomic_load(&st->posted);

	while (prev < seq &&
	    !atomic_compare_exchange_weak(&st->posted, &prev, seq))
		;
	if (prev < seq && st->on_commit != NULL)
		st->on_commit(st->commit_arg, seq);
}

/* A connection that listens (when the database can): NULL when down. */
static PGconn *
listen_connect(store *st)
{
	PGconn		*c;
	PGresult	*res;

	c = pg_dial(st->conninfo, PG_APP_FEED);
	if (c == NULL || PQstatus(c) != CONNECTION_OK) {
		PQfinish(c);
		return NULL;
	}
	PQsetNoticeProcessor(c, pg_notice, st);
	res = PQexec(c, "LISTEN verstore");
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		pg_log(st, 2, __func__, "LISTEN is not available (%s): the "
		    "feed learns of other hosts' writes by reading the seq "
		    "every %d ms", PQresultErrorField(res, PG_DIAG_SQLSTATE) ?
		    PQresultErrorField(res, PG_DIAG_SQLSTATE) : "?",
		    PG_POLL_MS);
	PQclear(res);
	return c;
}

/* The seq row, read on c; 0 when it cannot be (c is then likely down). */
static uint64_t
read_seq(PGconn *c)
{
	PGresult	*res;
	uint64_t	 seq = 0;

	res = PQexec(c, "SELECT value FROM verstore_meta WHERE name = 'seq'");
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		seq = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return seq;
}

/* Whether notifications came (read and dropped). */
static int
notified(PGconn *c)
{
	PGnotify	*n;
	int		 any = 0;

	while ((n = PQnotifies(c)) != NULL) {
		any = 1;
		PQfreemem(n);
	}
	return any;
}

static void *
listen_main(void *arg)
{
	store		*st = arg;
	PGconn		*c = NULL;
	struct pollfd	 pfd[2];
	uint64_t	 seq;
	int		 n, down = 0;
	char		 b;

	for (;;) {
		if (c == NULL && (c = listen_connect(st)) == NULL && !down) {
			pg_log(st, 1, __func__, "the database is out of reach; "
			    "trying again every %d ms", PG_POLL_MS);
			down = 1;
		}
		if (c != NULL && down)
			pg_log(st, 2, __func__, "the database is reachable again");
		if (c != NULL)
			down = 0;
		pfd[0].fd = st->listen_stop[0];
		pfd[0].events = POLLIN;
		pfd[1].fd = c != NULL ? PQsocket(c) : -1;
		pfd[1].events = POLLIN;
		if ((n = poll(pfd, 2, PG_POLL_MS)) == -1 && errno != EINTR)
			break;
		if (n > 0 && (pfd[0].revents & POLLIN) &&
		    read(st->listen_stop[0], &b, 1) >= 0)
			break;
		if (c == NULL)
			continue;
		/* news, or a second without: the seq row says what is new */
		if (n > 0 && pfd[1].revents != 0 &&
		    (!PQconsumeInput(c) || !notified(c)))
			seq = 0;
		else
			seq = read_seq(c);
		if (PQstatus(c) != CONNECTION_OK) {
			PQfinish(c);
			c = NULL;
			continue;
		}
		pg_post(st, seq);
	}
	PQfinish(c);
	return NULL;
}

enum store_err
pg_listen_start(store *st)
{
	if (st->on_commit == NULL)
		return STORE_OK;	/* nobody to tell */
	if (pipe(st->listen_stop) == -1)
		return STORE_IO;
	(void)fcntl(st->listen_stop[0], F_SETFD, FD_CLOEXEC);
	(void)fcntl(st->listen_stop[1], F_SETFD, FD_CLOEXEC);
	if (pthread_create(&st->listener, NULL, listen_main, st) != 0) {
		close(st->listen_stop[0]);
		close(st->listen_stop[1]);
		return STORE_IO;
	}
	st->listening = 1;
	return STORE_OK;
}

void
pg_listen_stop(store *st)
{
	if (!st->listening)
		return;
	while (write(st->listen_stop[1], "", 1) == -1 && errno == EINTR)
		;
	pthread_join(st->listener, NULL);
	close(st->listen_stop[0]);
	close(st->listen_stop[1]);
	st->listening = 0;
}
