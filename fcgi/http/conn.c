/*
 * conn.c - the event loop and the request threads; see conn.h.
 *
 * The loop thread owns the connections being received: a list in accept
 * order, so the oldest (the first to reach its deadline, and the one
 * closed to make room) is its head. A connection is registered with
 * EPOLLONESHOT and re-armed after each read that leaves it incomplete,
 * so a complete one needs no epoll_ctl before it is handed over; its
 * request thread's close() takes it out of the epoll set. A connection is
 * read once at once after accept: nginx has usually sent its whole
 * request by then, and that saves the epoll round.
 *
 * Connections closed while a batch of events is handled are freed only
 * after the batch, as a later event of the batch may still name them.
 *
 * Watchers: a request whose handler parks it comes back to the loop
 * through the `back` list; the loop keeps it in the parked list with its
 * epoll registration armed for its peer's close only. conn_notify()
 * posts changes as notes; the loop matches them against the parked
 * watchers' prefixes and hands those concerned, and those whose time
 * came, to the request threads again. A watcher handed back with a
 * cursor below the last change the loop heard of runs again at once: a
 * change that came while it was running is never missed.
 *
 * The parked watchers' prefixes are indexed: each distinct prefix once,
 * in a hash table, with the watchers that wait on it, and the distinct
 * lengths that prefixes have. A change is looked up once per such length
 * that its key reaches, so that what a commit costs the loop grows with
 * the watchers it concerns, not with all that wait. A watcher no change
 * concerned, whose time comes, has seen every change the loop heard of:
 * it runs from there.
 *
 * Kept connections (FCGI_KEEP_CONN): once its answer is written, a
 * connection whose request asked to be kept goes back to the loop, as a
 * `kept` list like `back`, and is received again as a new one: with a
 * fresh parser, request_timeout to deliver its next request (the bound on
 * how long it may sit idle), counted against max_conns (the oldest
 * closed first to make room). Idle ones are closed as the worker stops; a
 * request whose records came with bytes after its end is not kept.
 *
 * The hand-over: a complete request goes straight to the request thread
 * that went idle last (a stack, under the queue's mutex), which sleeps on
 * a semaphore of its own; only when no thread is idle does it wait in the
 * queue, which busy threads empty before they go idle. Measured, one
 * condition variable shared by all the threads cost three futex calls a
 * request (the woken thread then waited for the mutex), this costs two.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http/conn.h"
#include "lib/hash.h"
#include "lib/log.h"

#define EVENTS_MAX	64	/* epoll events per wait */
#define ACCEPT_BATCH	64	/* accepts per wake-up */
#define READS_MAX	4	/* full reads of one connection per wake-up */
#define READ_BUF	65536
#define ACCEPT_PAUSE_MS	100	/* after EMFILE and kin */
#define OUT_KEEP	(1u << 20)	/* a thread keeps a larger answer buffer
					   only for one request */
#define OWNER_BUCKETS	256	/* of the owners' table */
#define INDEX_BUCKETS	4096	/* of the watchers' prefix index */

enum conn_state { C_PENDING = 0, C_BUSY, C_PARKED };

struct conn;

/* A prefix that parked watchers wait on, and they (its nodes). */
struct wprefix {
	struct wprefix	*next;		/* in its bucket */
	struct wnode	*nodes;
	size_t		 len;
	unsigned char	 p[];
};

/* One prefix of one parked watcher. */
struct wnode {
	struct wnode	*next, *prev;	/* of its prefix */
	struct wprefix	*px;
	struct conn	*c;
};

/* A length that indexed prefixes have, and how many have it. */
struct wlen {
	size_t		 len;
	unsigned	 n;
};

/* An owner of watchers, while it has one: how many. */
struct owner {
	struct owner	*next;		/* in its bucket */
	unsigned	 n;
	char		 name[];
};

struct conn {
	int		 fd;		/* -1 once closed */
	int		 armed;		/* registered with epoll */
	enum conn_state	 state;
	int		 watching;	/* counted among the watchers */
	struct owner	*owner;		/* ... and its owner's, or NULL */
	struct wnode	*wn;		/* parked: its prefixes, indexed */
	size_t		 nwn;
	int		 woken;		/* parked: a change concerned it */
	int		 idle;		/* kept, and nothing of its next
					   request read yet */
	int		 extra;		/* bytes came after its request */
	int64_t		 deadline;	/* ms; parked: when it runs again */
	struct conn	*prev, *next;	/* pending or parked list, queue,
					   back or dead list */
	struct wire	 w;
	struct http_park pk;
};

/* Changes posted by conn_notify(), for the loop. */
struct note {
	struct note	*next;
	uint64_t	 upto;
	size_t		 n;
	struct conn_topic t[];		/* keys follow the array */
};

struct conn_loop;

struct req_thread {
	pthread_t		 tid;
	sem_t			 go;	/* posted with c set, or NULL: stop */
	struct conn		*c;
	struct req_thread	*next_idle;
	struct conn_loop	*l;
};

/*
 * What an epoll event names besides a connection: two distinct members of
 * the loop (the loop itself would be its first member, o).
 */
#define LISTEN_TAG(l)	((void *)&(l)->epfd)
#define WAKE_TAG(l)	((void *)&(l)->evfd)

struct conn_loop {
	struct conn_opts o;
	int		 epfd;
	int		 evfd;		/* conn_stop wakes the loop */
	pthread_t	 loop_tid;
	struct req_thread *rt;
	unsigned	 nrt;		/* started */
	atomic_int	 stopping;
	_Atomic int64_t	 stop_deadline;
	atomic_uint	 open;		/* connections not yet closed */
	atomic_uint	 nwatch;	/* watchers counted; raised under
					   owners_mu */
	pthread_mutex_t	 owners_mu;
	struct owner	*owners[OWNER_BUCKETS];
	uint64_t	 hkey;		/* of both tables' hashes */

	/* the loop thread's own */
	struct conn	*pend_head, *pend_tail;
	struct conn	*dead;
	int		 accepting;
	int64_t		 accept_resume;	/* ms; 0: not paused */
	int64_t		 refused_warn;	/* ms; no warning before */
	struct conn	*park_head, *park_tail;
	int64_t		 park_due;	/* ms; no parked watcher is due
					   before (INT64_MAX: none) */
	uint64_t	 heard;		/* the last change notified */
	struct wprefix	*index[INDEX_BUCKETS];
	struct wlen	*lens;		/* ascending */
	size_t		 nlens, lens_cap;
	char		 rbuf[READ_BUF];

	/* shared, under mu */
	pthread_mutex_t	 mu;
	pthread_cond_t	 ended;		/* live went down */
	struct conn	*q_head, *q_tail;
	struct conn	*back;		/* parked by a request thread */
	struct conn	*kept;		/* answered, kept for the next one */
	int		 told;		/* the loop is woken to take them */
	struct note	*notes;		/* newest first */
	struct req_thread *idle;	/* the last to go idle first */
	int		 loop_done;	/* nothing more will be queued */
	unsigned	 live;		/* threads running, the loop's included */
	int		 cut;		/* requests cut off at the deadline */
};

int64_t
conn_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Wakes the loop to take what was put on its lists, once per take: the
 * caller holds mu and has just put something there; 1 when it must then
 * write the eventfd (after unlocking).
 */
static int
tell_loop(struct conn_loop *l)
{
	if (l->told)
		return 0;
	l->told = 1;
	return 1;
}

static void
wake_loop(struct conn_loop *l)
{
	uint64_t	 one = 1;

	if (write(l->evfd, &one, sizeof(one)) == -1)
		log_error("eventfd: %s", strerror(errno));
}

/* ---- the loop ----------------------------------------------------------- */

static void
pending_unlink(struct conn_loop *l, struct conn *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		l->pend_head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	else
		l->pend_tail = c->prev;
	c->prev = c->next = NULL;
}

/*
 * Receives c (again): last in the pending list, with request_timeout
 * from now to deliver its request. The list stays in deadline order.
 */
static void
pending_add(struct conn_loop *l, struct conn *c, int64_t now)
{
	c->state = C_PENDING;
	c->deadline = now + (int64_t)l->o.request_timeout * 1000;
	c->next = NULL;
	c->prev = l->pend_tail;
	if (l->pend_tail != NULL)
		l->pend_tail->next = c;
	else
		l->pend_head = c;
	l->pend_tail = c;
}

/* Closes a connection still being received; freed after the batch. */
static void
pending_close(struct conn_loop *l, struct conn *c, const char *why)
{
	log_debug("closing connection %d: %s", c->fd, why);
	pending_unlink(l, c);
	close(c->fd);
	c->fd = -1;
	c->next = l->dead;
	l->dead = c;
	atomic_fetch_sub(&l->open, 1);
}

static void
conn_free(struct conn *c)
{
	wire_free(&c->w);
	buf_free(&c->pk.watch);
	free(c);
}

static void
free_dead(struct conn_loop *l)
{
	struct conn	*c;

	while ((c = l->dead) != NULL) {
		l->dead = c->next;
		conn_free(c);
	}
}

static struct owner **
owner_bucket(struct conn_loop *l, const char *name)
{
	return &l->owners[hash_keyed(l->hkey, name, strlen(name)) %
	    OWNER_BUCKETS];
}

/*
 * Counts c among the watchers, and among its owner's (pk.owner) when it
 * names one: 0, or -1 when max_watchers or the owner's share is taken
 * (pk.owner_full says which) or memory ran out. Any thread.
 */
static int
claim(struct conn_loop *l, struct conn *c)
{
	struct owner	**b, *o = NULL;
	size_t		 n = strlen(c->pk.owner);
	int		 rc = -1;

	if (c->watching)
		return 0;
	c->pk.owner_full = 0;
	pthread_mutex_lock(&l->owners_mu);
	if (atomic_load(&l->nwatch) >= l->o.max_watchers)
		goto out;
	if (n > 0 && l->o.max_watchers_per_owner > 0) {
		b = owner_bucket(l, c->pk.owner);
		for (o = *b; o != NULL && strcmp(o->name, c->pk.owner) != 0;
		    o = o->next)
			;
		if (o == NULL) {
			if ((o = malloc(sizeof(*o) + n + 1)) == NULL)
				goto out;
			memcpy(o->name, c->pk.owner, n + 1);
			o->n = 0;
			o->next = *b;
			*b = o;
		}
		if (o->n >= l->o.max_watchers_per_owner) {
			c->pk.owner_full = 1;
			goto out;
		}
		o->n++;
	}
	atomic_fetch_add(&l->nwatch, 1);
	c->owner = o;
	c->watching = 1;
	rc = 0;
out:
	pthread_mutex_unlock(&l->owners_mu);
	if (rc == 0 && l->o.watchers != NULL)
		l->o.watchers(l->o.arg, 1);
	return rc;
}

/* A watcher that ends is counted down, with its owner's; any thread. */
static void
unwatch(struct conn_loop *l, struct conn *c)
{
	struct owner	**b;

	if (!c->watching)
		return;
	c->watching = 0;
	if (c->owner != NULL) {
		pthread_mutex_lock(&l->owners_mu);
		if (--c->owner->n == 0) {
			for (b = owner_bucket(l, c->owner->name); *b != c->owner;
			    b = &(*b)->next)
				;
			*b = c->owner->next;
			free(c->owner);
		}
		pthread_mutex_unlock(&l->owners_mu);
		c->owner = NULL;
	}
	atomic_fetch_sub(&l->nwatch, 1);
	if (l->o.watchers != NULL)
		l->o.watchers(l->o.arg, -1);
}

/* Hands a complete request to an idle thread, or queues it. */
static void
hand(struct conn_loop *l, struct conn *c)
{
	struct req_thread	*t;

	c->state = C_BUSY;
	pthread_mutex_lock(&l->mu);
	if ((t = l->idle) != NULL)
		l->idle = t->next_idle;
	else {
		if (l->q_tail != NULL)
			l->q_tail->next = c;
		else
			l->q_head = c;
		l->q_tail = c;
	}
	pthread_mutex_unlock(&l->mu);
	if (t != NULL) {
		t->c = c;
		sem_post(&t->go);
	}
}

static void
enqueue(struct conn_loop *l, struct conn *c)
{
	pending_unlink(l, c);
	hand(l, c);
}

static void	conn_read(struct conn_loop *, struct conn *);

/* ---- watchers ----------------------------------------------------------- */

static struct wprefix **
index_bucket(struct conn_loop *l, const void *p, size_t len)
{
	return &l->index[hash_keyed(l->hkey, p, len) % INDEX_BUCKETS];
}

/* Counts one more (delta 1) or one fewer (-1) prefix of length len. */
static int
lens_count(struct conn_loop *l, size_t len, int delta)
{
	struct wlen	*nl;
	size_t		 i;

	for (i = 0; i < l->nlens && l->lens[i].len < len; i++)
		;
	if (i < l->nlens && l->lens[i].len == len) {
		if (delta > 0)
			l->lens[i].n++;
		else if (--l->lens[i].n == 0) {
			memmove(&l->lens[i], &l->lens[i + 1],
			    (l->nlens - i - 1) * sizeof(l->lens[0]));
			l->nlens--;
		}
		return 0;
	}
	if (l->nlens == l->lens_cap) {
		nl = realloc(l->lens, (l->lens_cap * 2 + 8) * sizeof(*nl));
		if (nl == NULL)
			return -1;
		l->lens = nl;
		l->lens_cap = l->lens_cap * 2 + 8;
	}
	memmove(&l->lens[i + 1], &l->lens[i],
	    (l->nlens - i) * sizeof(l->lens[0]));
	l->lens[i].len = len;
	l->lens[i].n = 1;
	l->nlens++;
	return 0;
}

/* The indexed prefix p[0..len), made when new; NULL: no memory. */
static struct wprefix *
index_prefix(struct conn_loop *l, const unsigned char *p, size_t len)
{
	struct wprefix	**b = index_bucket(l, p, len), *px;

	for (px = *b; px != NULL; px = px->next)
		if (px->len == len && memcmp(px->p, p, len) == 0)
			return px;
	if ((px = malloc(sizeof(*px) + len)) == NULL)
		return NULL;
	if (lens_count(l, len, 1) == -1) {
		free(px);
		return NULL;
	}
	memcpy(px->p, p, len);
	px->len = len;
	px->nodes = NULL;
	px->next = *b;
	*b = px;
	return px;
}

/* Takes c's prefixes out of the index. */
static void
index_del(struct conn_loop *l, struct conn *c)
{
	struct wprefix	**b;
	struct wnode	*n;
	size_t		 i;

	for (i = 0; i < c->nwn; i++) {
		n = &c->wn[i];
		if (n->prev != NULL)
			n->prev->next = n->next;
		else
			n->px->nodes = n->next;
		if (n->next != NULL)
			n->next->prev = n->prev;
		if (n->px->nodes != NULL)
			continue;
		for (b = index_bucket(l, n->px->p, n->px->len); *b != n->px;
		    b = &(*b)->next)
			;
		*b = n->px->next;
		(void)lens_count(l, n->px->len, -1);
		free(n->px);
	}
	free(c->wn);
	c->wn = NULL;
	c->nwn = 0;
}

/*
 * Puts c's prefixes (http_watch_add's list in pk.watch; none: every key)
 * into the index; -1 when memory ran out (then none is there).
 */
static int
index_add(struct conn_loop *l, struct conn *c)
{
	static const unsigned char all[2];	/* one prefix, empty */
	const unsigned char	*p = (const unsigned char *)c->pk.watch.p;
	size_t			 left = c->pk.watch.len, n, k = 0, count = 0;
	struct wprefix		*px;
	struct wnode		*wn;

	if (left == 0) {
		p = all;
		left = sizeof(all);
	}
	for (n = 0; n + 2 <= left; n += 2 + ((size_t)p[n] << 8 | p[n + 1]))
		count++;
	if (n != left)
		return -1;		/* http_watch_add never makes it */
	if ((c->wn = calloc(count, sizeof(*c->wn))) == NULL)
		return -1;
	while (k < count) {
		n = (size_t)p[0] << 8 | p[1];
		if ((px = index_prefix(l, p + 2, n)) == NULL) {
			c->nwn = k;
			index_del(l, c);
			return -1;
		}
		wn = &c->wn[k++];
		wn->px = px;
		wn->c = c;
		wn->prev = NULL;
		wn->next = px->nodes;
		if (px->nodes != NULL)
			px->nodes->prev = wn;
		px->nodes = wn;
		p += 2 + n;
	}
	c->nwn = k;
	return 0;
}

static void
park_link(struct conn_loop *l, struct conn *c)
{
	c->next = NULL;
	c->prev = l->park_tail;
	if (l->park_tail != NULL)
		l->park_tail->next = c;
	else
		l->park_head = c;
	l->park_tail = c;
}

static void
park_unlink(struct conn_loop *l, struct conn *c)
{
	index_del(l, c);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		l->park_head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	else
		l->park_tail = c->prev;
	c->prev = c->next = NULL;
}

/*
 * Closes a connection the loop holds that is not being received: a
 * watcher (parked, or handed back) or one handed back to be kept.
 */
static void
watcher_close(struct conn_loop *l, struct conn *c, int parked,
    const char *why)
{
	log_debug("closing watcher %d: %s", c->fd, why);
	if (parked)
		park_unlink(l, c);
	close(c->fd);
	c->fd = -1;
	unwatch(l, c);
	c->next = l->dead;
	l->dead = c;
	atomic_fetch_sub(&l->open, 1);
}

/*
 * A parked watcher whose peer closed, that asked for it (farewell): its
 * request runs once more, closed, on a request thread, which then closes
 * it.
 */
static void
farewell(struct conn_loop *l, struct conn *c)
{
	park_unlink(l, c);
	if (epoll_ctl(l->epfd, EPOLL_CTL_DEL, c->fd, NULL) == 0)
		c->armed = 0;
	c->pk.closed = 1;
	c->pk.resumed = 1;
	c->pk.timed_out = 0;
	c->pk.streaming = c->pk.stream;
	hand(l, c);
}

/* A watcher handed back waits: for its peer's close only, in epoll. */
static void
park(struct conn_loop *l, struct conn *c, int64_t now)
{
	struct epoll_event	 ev;

	c->state = C_PARKED;
	c->deadline = c->pk.until_ms;
	c->woken = 0;
	if (c->pk.cursor < l->heard) {
		c->deadline = now;	/* a change came while it ran */
		c->woken = 1;
	}
	if (index_add(l, c) == -1) {
		c->next = NULL;
		watcher_close(l, c, 0, "out of memory");
		return;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT;
	ev.data.ptr = c;
	if (epoll_ctl(l->epfd, c->armed ? EPOLL_CTL_MOD : EPOLL_CTL_ADD,
	    c->fd, &ev) == -1) {
		index_del(l, c);
		c->next = NULL;
		watcher_close(l, c, 0, strerror(errno));
		return;
	}
	c->armed = 1;
	if (c->deadline < l->park_due)
		l->park_due = c->deadline;
	park_link(l, c);
}

/* Wakes the parked watchers that a change of t concerns. */
static void
wake_topic(struct conn_loop *l, const struct conn_topic *t, int64_t now)
{
	struct wprefix	*px;
	struct wnode	*n;
	size_t		 i;

	for (i = 0; i < l->nlens && l->lens[i].len <= t->klen; i++) {
		for (px = *index_bucket(l, t->key, l->lens[i].len);
		    px != NULL && (px->len != l->lens[i].len ||
		    memcmp(px->p, t->key, px->len) != 0); px = px->next)
			;
		for (n = px != NULL ? px->nodes : NULL; n != NULL;
		    n = n->next) {
			if (n->c->woken || t->seq <= n->c->pk.cursor)
				continue;
			n->c->woken = 1;
			n->c->deadline = now;
			l->park_due = now;
		}
	}
}

/* Marks the watchers a note concerns to run now. */
static void
apply_note(struct conn_loop *l, const struct note *nt, int64_t now)
{
	size_t	 i;

	for (i = 0; i < nt->n; i++)
		wake_topic(l, &nt->t[i], now);
	if (nt->upto > l->heard)
		l->heard = nt->upto;
}

/* Takes what request threads handed back and what was notified. */
static void
take_back(struct conn_loop *l, int64_t now)
{
	struct conn	*back, *kept, *c;
	struct note	*notes, *nt, *old = NULL;

	pthread_mutex_lock(&l->mu);
	back = l->back;
	l->back = NULL;
	kept = l->kept;
	l->kept = NULL;
	notes = l->notes;
	l->notes = NULL;
	l->told = 0;
	pthread_mutex_unlock(&l->mu);
	while ((c = back) != NULL) {
		back = c->next;
		c->next = NULL;
		if (atomic_load(&l->stopping))
			watcher_close(l, c, 0, "stopping");
		else
			park(l, c, now);
	}
	while ((c = kept) != NULL) {
		kept = c->next;
		pending_add(l, c, now);
		c->idle = 1;
		conn_read(l, c);
	}
	while ((nt = notes) != NULL) {		/* oldest first */
		notes = nt->next;
		nt->next = old;
		old = nt;
	}
	while ((nt = old) != NULL) {
		old = nt->next;
		apply_note(l, nt, now);
		free(nt);
	}
}

/*
 * Hands the watchers whose time came to the request threads; returns
 * when the next one's comes (INT64_MAX: none).
 */
static int64_t
run_due(struct conn_loop *l, int64_t now)
{
	struct conn		*c, *next;
	int64_t			 wake = INT64_MAX;
	int			 ending = atomic_load(&l->stopping);

	/* a walk over every watcher only when one may be due: not once
	   per request the loop sees */
	if (!ending && now < l->park_due)
		return l->park_due;
	for (c = l->park_head; c != NULL; c = next) {
		next = c->next;
		if (ending)
			c->deadline = now;
		if (c->deadline > now) {
			if (c->deadline < wake)
				wake = c->deadline;
			continue;
		}
		park_unlink(l, c);
		/* out of the set: even a mask of 0 would still report
		   EPOLLHUP, for a connection the thread may have freed */
		if (epoll_ctl(l->epfd, EPOLL_CTL_DEL, c->fd, NULL) == 0)
			c->armed = 0;
		/* no change concerned it: it has seen all the loop heard of */
		if (!c->woken && c->pk.cursor < l->heard)
			c->pk.cursor = l->heard;
		c->pk.resumed = 1;
		c->pk.timed_out = now >= c->pk.until_ms;
		c->pk.streaming = c->pk.stream;
		c->pk.ending = ending;
		hand(l, c);
	}
	l->park_due = wake;
	return wake;
}

void
conn_notify(struct conn_loop *l, const struct conn_topic *t, size_t n,
    uint64_t upto)
{
	struct note	*nt;
	size_t		 i, keys = 0;
	char		*p;
	int		 tell;

	for (i = 0; i < n; i++)
		keys += t[i].klen;
	if ((nt = malloc(sizeof(*nt) + n * sizeof(nt->t[0]) + keys)) == NULL) {
		log_error("out of memory: watchers not told of %zu changes", n);
		return;
	}
	nt->upto = upto;
	nt->n = n;
	p = (char *)&nt->t[n];
	for (i = 0; i < n; i++) {
		memcpy(p, t[i].key, t[i].klen);
		nt->t[i] = t[i];
		nt->t[i].key = p;
		p += t[i].klen;
	}
	pthread_mutex_lock(&l->mu);
	nt->next = l->notes;
	l->notes = nt;
	tell = tell_loop(l);
	pthread_mutex_unlock(&l->mu);
	if (tell)
		wake_loop(l);
}

/* Reads what the connection has; hands it over once complete. */
static void
conn_read(struct conn_loop *l, struct conn *c)
{
	struct epoll_event	 ev;
	enum wire_err		 err;
	ssize_t			 n;
	size_t			 used;
	int			 round;

	for (round = 0; round < READS_MAX; round++) {
		n = read(c->fd, l->rbuf, sizeof(l->rbuf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n == -1) {
			pending_close(l, c, strerror(errno));
			return;
		}
		if (n == 0) {
			pending_close(l, c, c->idle ? "closed while kept" :
			    "closed before the request ended");
			return;
		}
		c->idle = 0;
		if ((err = wire_feed(&c->w, l->rbuf, (size_t)n, &used)) !=
		    WIRE_OK) {
			pending_close(l, c, wire_strerror(err));
			return;
		}
		if (wire_done(&c->w)) {
			c->extra = used < (size_t)n;
			enqueue(l, c);
			return;
		}
		if ((size_t)n < sizeof(l->rbuf))
			break;		/* most likely all there was */
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | EPOLLONESHOT;
	ev.data.ptr = c;
	if (epoll_ctl(l->epfd, c->armed ? EPOLL_CTL_MOD : EPOLL_CTL_ADD,
	    c->fd, &ev) == -1) {
		pending_close(l, c, strerror(errno));
		return;
	}
	c->armed = 1;
}

static void
listen_watch(struct conn_loop *l, int on)
{
	struct epoll_event	 ev;

	if (on == l->accepting)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | EPOLLEXCLUSIVE;
	ev.data.ptr = LISTEN_TAG(l);
	if (epoll_ctl(l->epfd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL,
	    l->o.listen_fd, &ev) == -1) {
		log_error("epoll_ctl on the listening socket: %s",
		    strerror(errno));
		return;
	}
	l->accepting = on;
}

/* Makes room for one more connection; 0, or -1 to refuse it. */
static int
make_room(struct conn_loop *l)
{
	/* watchers wait apart: max_watchers bounds them */
	if (atomic_load(&l->open) - atomic_load(&l->nwatch) < l->o.max_conns)
		return 0;
	if (l->pend_head == NULL)
		return -1;
	pending_close(l, l->pend_head, "max_conns reached; the oldest goes");
	return 0;
}

/*
 * 1 when another connection waits to be accepted. An accept that finds
 * none costs about what one that finds one does (the kernel makes the
 * socket first), a poll much less.
 */
static int
more_to_accept(const struct conn_loop *l)
{
	struct pollfd	 pfd;

	pfd.fd = l->o.listen_fd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	return poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN);
}

static void
accept_batch(struct conn_loop *l, int64_t now)
{
	struct conn	*c;
	int		 i, fd;

	for (i = 0; i < ACCEPT_BATCH && (i == 0 || more_to_accept(l)); i++) {
		fd = accept4(l->o.listen_fd, NULL, NULL,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			/* EMFILE and kin: the socket stays readable, so
			   stop watching it for a while rather than spin */
			log_warn("accept: %s", strerror(errno));
			listen_watch(l, 0);
			l->accept_resume = now + ACCEPT_PAUSE_MS;
			return;
		}
		if (make_room(l) == -1) {
			if (now >= l->refused_warn) {	/* once a second */
				log_warn("max_conns (%u) complete requests "
				    "waiting: refusing connections",
				    l->o.max_conns);
				l->refused_warn = now + 1000;
			}
			close(fd);
			continue;
		}
		if ((c = calloc(1, sizeof(*c))) == NULL) {
			log_error("out of memory");
			close(fd);
			continue;
		}
		c->fd = fd;
		wire_init(&c->w, l->o.max_body);
		pending_add(l, c, now);
		atomic_fetch_add(&l->open, 1);
		conn_read(l, c);
	}
}

static void
expire(struct conn_loop *l, int64_t now)
{
	while (l->pend_head != NULL && l->pend_head->deadline <= now)
		pending_close(l, l->pend_head, l->pend_head->idle ?
		    "kept idle for request_timeout" :
		    "request not delivered within request_timeout");
}

/* Closes the kept connections that wait for a request still unsent. */
static void
close_idle(struct conn_loop *l)
{
	struct conn	*c, *next;

	for (c = l->pend_head; c != NULL; c = next) {
		next = c->next;
		if (c->idle)
			pending_close(l, c, "stopping");
	}
}

static int
wait_ms(const struct conn_loop *l, int64_t now, int64_t wake)
{
	if (l->pend_head != NULL && l->pend_head->deadline < wake)
		wake = l->pend_head->deadline;
	if (atomic_load(&l->stopping) &&
	    atomic_load(&l->stop_deadline) < wake)
		wake = atomic_load(&l->stop_deadline);
	if (l->accept_resume != 0 && l->accept_resume < wake)
		wake = l->accept_resume;
	if (wake == INT64_MAX)
		return -1;
	if (wake <= now)
		return 0;
	return wake - now > 60000 ? 60000 : (int)(wake - now);
}

static void *
loop_main(void *arg)
{
	struct conn_loop	*l = arg;
	struct req_thread	*idle, *t;
	struct conn		*back, *kept, *bc;
	struct epoll_event	 ev[EVENTS_MAX];
	uint64_t		 tick;
	int64_t			 now, wake;
	int			 n, i;

	for (;;) {
		free_dead(l);
		now = conn_now_ms();
		take_back(l, now);
		wake = run_due(l, now);
		if (atomic_load(&l->stopping)) {
			listen_watch(l, 0);
			l->accept_resume = 0;
		} else if (l->accept_resume != 0 && now >= l->accept_resume) {
			l->accept_resume = 0;
			listen_watch(l, 1);
		}
		expire(l, now);
		if (atomic_load(&l->stopping))
			close_idle(l);
		if (atomic_load(&l->stopping) && ((l->pend_head == NULL &&
		    l->park_head == NULL) ||
		    now >= atomic_load(&l->stop_deadline)))
			break;
		n = epoll_wait(l->epfd, ev, EVENTS_MAX, wait_ms(l, now, wake));
		if (n == -1) {
			if (errno == EINTR)
				continue;
			log_error("epoll_wait: %s", strerror(errno));
			break;
		}
		now = conn_now_ms();
		for (i = 0; i < n; i++) {
			struct conn *c = ev[i].data.ptr;

			if (ev[i].data.ptr == LISTEN_TAG(l))
				accept_batch(l, now);
			else if (ev[i].data.ptr == WAKE_TAG(l)) {
				if (read(l->evfd, &tick, sizeof(tick)) == -1 &&
				    errno != EAGAIN)
					log_warn("eventfd: %s", strerror(errno));
			} else if (c->fd != -1 && c->state == C_PARKED) {
				if (l->o.abandoned != NULL)
					l->o.abandoned(l->o.arg, &c->w);
				if (c->pk.farewell)
					farewell(l, c);
				else
					watcher_close(l, c, 1,
					    "its peer closed");
			} else if (c->fd != -1 && c->state == C_PENDING)
				conn_read(l, c);
		}
	}
	pthread_mutex_lock(&l->mu);
	if (l->pend_head != NULL)
		l->cut = 1;
	pthread_mutex_unlock(&l->mu);
	while (l->pend_head != NULL)
		pending_close(l, l->pend_head, "shutdown_timeout");
	while (l->park_head != NULL)
		watcher_close(l, l->park_head, 1, "shutdown_timeout");
	pthread_mutex_lock(&l->mu);
	l->loop_done = 1;
	back = l->back;
	l->back = NULL;
	kept = l->kept;
	l->kept = NULL;
	pthread_mutex_unlock(&l->mu);
	while ((bc = back) != NULL) {
		back = bc->next;
		watcher_close(l, bc, 0, "shutdown_timeout");
	}
	while ((bc = kept) != NULL) {
		kept = bc->next;
		watcher_close(l, bc, 0, "stopping");
	}
	free_dead(l);
	pthread_mutex_lock(&l->mu);
	l->live--;
	idle = l->idle;
	l->idle = NULL;
	pthread_cond_broadcast(&l->ended);
	pthread_mutex_unlock(&l->mu);
	while ((t = idle) != NULL) {	/* c stays NULL: stop */
		idle = t->next_idle;
		sem_post(&t->go);
	}
	return NULL;
}

/* ---- request threads ---------------------------------------------------- */

/* Writes all of p[0..n) before deadline (ms); 0, or -1. */
static int
write_all(int fd, const char *p, size_t n, int64_t deadline)
{
	struct pollfd	 pfd;
	ssize_t		 k;
	int64_t		 left;

	while (n > 0) {
		k = send(fd, p, n, MSG_NOSIGNAL);
		if (k > 0) {
			p += k;
			n -= (size_t)k;
			continue;
		}
		if (k == -1 && errno == EINTR)
			continue;
		if (k == -1 && errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		if ((left = deadline - conn_now_ms()) <= 0)
			return -1;
		pfd.fd = fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, left > 60000 ? 60000 : (int)left) == -1 &&
		    errno != EINTR)
			return -1;
	}
	return 0;
}

/* Sends all of p[0..n) now, without waiting; 0, or -1. */
static int
send_now(int fd, const char *p, size_t n)
{
	ssize_t	 k;

	while (n > 0) {
		k = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (k == -1 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/*
 * Gives c back to the loop, on list (l->back: a watcher that waits;
 * l->kept: a connection kept for its next request); -1 when the loop is
 * gone.
 */
static int
give_back(struct conn_loop *l, struct conn *c, struct conn **list)
{
	int	 tell;

	pthread_mutex_lock(&l->mu);
	if (l->loop_done) {
		pthread_mutex_unlock(&l->mu);
		return -1;
	}
	c->next = *list;
	*list = c;
	tell = tell_loop(l);
	pthread_mutex_unlock(&l->mu);
	if (tell)
		wake_loop(l);
	return 0;
}

/*
 * Gives c, answered, back to the loop to receive its next request, when
 * its request asked for that (FCGI_KEEP_CONN); -1 when it is not kept.
 */
static int
give_kept(struct conn_loop *l, struct conn *c)
{
	if (!c->w.keep_conn || c->extra || atomic_load(&l->stopping))
		return -1;
	unwatch(l, c);
	wire_free(&c->w);		/* what a large request took goes */
	wire_init(&c->w, l->o.max_body);
	buf_free(&c->pk.watch);
	memset(&c->pk, 0, sizeof(c->pk));
	return give_back(l, c, &l->kept);
}

/* The next request: queued, or handed over while idle; NULL: stop. */
static struct conn *
next_request(struct req_thread *t)
{
	struct conn_loop	*l = t->l;
	struct conn		*c;

	pthread_mutex_lock(&l->mu);
	if ((c = l->q_head) != NULL) {
		l->q_head = c->next;
		if (l->q_head == NULL)
			l->q_tail = NULL;
		pthread_mutex_unlock(&l->mu);
		return c;
	}
	if (l->loop_done) {
		pthread_mutex_unlock(&l->mu);
		return NULL;
	}
	t->c = NULL;
	t->next_idle = l->idle;
	l->idle = t;
	pthread_mutex_unlock(&l->mu);
	while (sem_wait(&t->go) == -1 && errno == EINTR)
		;
	return t->c;
}

static void *
request_main(void *arg)
{
	struct req_thread	*t = arg;
	struct conn_loop	*l = t->l;
	struct conn		*c;
	struct buf		 out;
	void			*state;

	memset(&out, 0, sizeof(out));
	if ((state = l->o.thread_start(l->o.arg)) == NULL) {
		log_error("a request thread could not start");
		goto out;
	}
	while ((c = next_request(t)) != NULL) {
		buf_reset(&out);
		c->pk.can_park = c->watching ||
		    atomic_load(&l->nwatch) < l->o.max_watchers;
		c->pk.owner_full = 0;
		l->o.handle(l->o.arg, state, &c->w, &c->pk, &out);
		if (c->pk.closed)
			goto closed;	/* its peer is gone: nothing to send */
		if (!out.oom && c->pk.park && claim(l, c) == -1) {
			/* no room for it to wait after all: it is answered
			   as one that may not */
			buf_reset(&out);
			c->pk.can_park = 0;
			l->o.handle(l->o.arg, state, &c->w, &c->pk, &out);
		}
		if (out.oom) {
			log_error("out of memory writing a response");
			c->pk.park = 0;
		} else if (c->pk.park) {
			/* a stream's part goes now or never: a watcher that
			   cannot keep up is dropped, and resumes later */
			if ((out.len == 0 || send_now(c->fd, out.p,
			    out.len) == 0) && give_back(l, c, &l->back) == 0)
				goto next;
			log_debug("watcher dropped");
			if (c->pk.farewell) {
				c->pk.closed = 1;
				buf_reset(&out);
				l->o.handle(l->o.arg, state, &c->w, &c->pk,
				    &out);
			}
		} else if (write_all(c->fd, out.p, out.len, conn_now_ms() +
		    (int64_t)l->o.request_timeout * 1000) == -1)
			log_debug("client went away");
		else if (give_kept(l, c) == 0)
			goto next;
closed:
		close(c->fd);
		unwatch(l, c);
		conn_free(c);
		atomic_fetch_sub(&l->open, 1);
next:
		if (out.cap > OUT_KEEP)
			buf_free(&out);
	}
	l->o.thread_end(l->o.arg, state);
out:
	buf_free(&out);
	pthread_mutex_lock(&l->mu);
	l->live--;
	pthread_cond_broadcast(&l->ended);
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

/* ---- start and stop ----------------------------------------------------- */

/* Many pending connections need many descriptors: take what is allowed. */
static void
raise_nofile(void)
{
	struct rlimit	 rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			log_warn("RLIMIT_NOFILE: %s", strerror(errno));
	}
}

static void
loop_free(struct conn_loop *l)
{
	struct note	*nt;
	unsigned	 i;

	while ((nt = l->notes) != NULL) {
		l->notes = nt->next;
		free(nt);
	}
	if (l->epfd != -1)
		close(l->epfd);
	if (l->evfd != -1)
		close(l->evfd);
	for (i = 0; l->rt != NULL && i < l->o.threads; i++)
		sem_destroy(&l->rt[i].go);
	pthread_cond_destroy(&l->ended);
	pthread_mutex_destroy(&l->mu);
	pthread_mutex_destroy(&l->owners_mu);
	free(l->lens);
	free(l->rt);
	free(l);
}

enum conn_err
conn_start(const struct conn_opts *o, struct conn_loop **out)
{
	struct conn_loop	*l;
	struct epoll_event	 ev;
	pthread_condattr_t	 ca;
	unsigned		 i;
	int			 fl, rc;
	enum conn_err		 err = CONN_SYSTEM;

	*out = NULL;
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return CONN_SYSTEM;
	l->o = *o;
	l->epfd = l->evfd = -1;
	l->park_due = INT64_MAX;
	pthread_mutex_init(&l->mu, NULL);
	pthread_mutex_init(&l->owners_mu, NULL);
	l->hkey = hash_key();
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&l->ended, &ca);
	pthread_condattr_destroy(&ca);
	raise_nofile();
	/* the socket is shared: a worker woken for a connection another
	   took must not block in accept */
	if ((fl = fcntl(o->listen_fd, F_GETFL)) == -1 ||
	    fcntl(o->listen_fd, F_SETFL, fl | O_NONBLOCK) == -1 ||
	    (l->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1 ||
	    (l->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1 ||
	    (l->rt = calloc(o->threads, sizeof(*l->rt))) == NULL)
		goto out;
	for (i = 0; i < o->threads; i++) {
		l->rt[i].l = l;
		sem_init(&l->rt[i].go, 0, 0);
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = WAKE_TAG(l);
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->evfd, &ev) == -1)
		goto out;
	listen_watch(l, 1);
	if (!l->accepting)
		goto out;
	l->live = 1;
	if ((rc = pthread_create(&l->loop_tid, NULL, loop_main, l)) != 0) {
		l->live = 0;
		errno = rc;
		goto out;
	}
	for (i = 0; i < o->threads; i++) {
		pthread_mutex_lock(&l->mu);
		l->live++;
		pthread_mutex_unlock(&l->mu);
		if ((rc = pthread_create(&l->rt[i].tid, NULL, request_main,
		    &l->rt[i])) != 0) {
			pthread_mutex_lock(&l->mu);
			l->live--;
			pthread_mutex_unlock(&l->mu);
			log_error("pthread_create: %s", strerror(rc));
			break;
		}
		l->nrt++;
	}
	if (l->nrt == 0) {	/* a loop without threads: take it down */
		conn_stop(l, conn_now_ms() + 1000);
		if (conn_wait(l) == -1)
			log_error("the event loop did not stop");
		l = NULL;
		errno = rc;
		goto out;
	}
	*out = l;
	l = NULL;
	err = CONN_OK;
out:
	if (err != CONN_OK)
		log_error("cannot start the event loop: %s", strerror(errno));
	if (l != NULL)
		loop_free(l);
	return err;
}

void
conn_stop(struct conn_loop *l, int64_t deadline_ms)
{
	atomic_store(&l->stop_deadline, deadline_ms);
	atomic_store(&l->stopping, 1);
	wake_loop(l);
}

int
conn_wait(struct conn_loop *l)
{
	struct timespec	 ts;
	int64_t		 deadline = atomic_load(&l->stop_deadline);
	unsigned	 i;
	int		 rc;

	ts.tv_sec = deadline / 1000;
	ts.tv_nsec = (long)(deadline % 1000) * 1000000;
	pthread_mutex_lock(&l->mu);
	while (l->live > 0)
		if (pthread_cond_timedwait(&l->ended, &l->mu, &ts) ==
		    ETIMEDOUT)
			break;
	rc = l->live > 0 ? -1 : l->cut;
	if (l->live > 0)
		log_warn("%u threads still busy at shutdown_timeout", l->live);
	pthread_mutex_unlock(&l->mu);
	if (rc == -1)
		return -1;
	pthread_join(l->loop_tid, NULL);
	for (i = 0; i < l->nrt; i++)
		pthread_join(l->rt[i].tid, NULL);
	loop_free(l);
	return rc;
}
