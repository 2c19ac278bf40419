/*
 * notify.h - the store's latest change seq, shared by the master and its
 * workers, and a way to sleep until it moves (API.md 7).
 *
 * The master maps one word pair before it forks; whichever process
 * commits a write posts its seq, and a thread in every worker waits on
 * it with a futex, which wakes across processes on shared memory. A
 * post costs an atomic add, and a system call only while someone waits.
 */
#ifndef NOTIFY_H
#define NOTIFY_H

#include <stdint.h>

struct notify;

/* Maps it, zeroed, shared with every process forked later; -1 on error. */
int		 notify_create(struct notify **);
void		 notify_destroy(struct notify *);	/* NULL-safe */
/* A commit made seq: the shared seq becomes at least that; waiters wake. */
void		 notify_post(struct notify *, uint64_t seq);
/* The shared seq now. */
uint64_t	 notify_seq(struct notify *);
/*
 * Sleeps until the shared seq is above seen or timeout_ms passed (or a
 * signal came); returns the shared seq then.
 */
uint64_t	 notify_wait(struct notify *, uint64_t seen, int timeout_ms);

#endif
