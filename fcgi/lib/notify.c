/* notify.c - a shared seq to sleep on; see notify.h. */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "lib/notify.h"

struct notify {
	_Atomic uint64_t	 seq;
	_Atomic uint32_t	 word;		/* moves with every post */
	_Atomic uint32_t	 waiters;
};

int
notify_create(struct notify **out)
{
	void	*p;

	p = mmap(NULL, sizeof(struct notify), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		*out = NULL;
		return -1;
	}
	*out = p;		/* an anonymous mapping starts zeroed */
	return 0;
}

void
notify_destroy(struct notify *n)
{
	if (n != NULL)
		munmap(n, sizeof(*n));
}

void
notify_post(struct notify *n, uint64_t seq)
{
	uint64_t	 cur = atomic_load(&n->seq);

	while (cur < seq &&
	    !atomic_compare_exchange_weak(&n->seq, &cur, seq))
		;
	atomic_fetch_add(&n->word, 1);
	if (atomic_load(&n->waiters) > 0)
		(void)syscall(SYS_futex, &n->word, FUTEX_WAKE, INT_MAX, NULL,
		    NULL, 0);
}

uint64_t
notify_seq(struct notify *n)
{
	return atomic_load(&n->seq);
}

uint64_t
notify_wait(struct notify *n, uint64_t seen, int timeout_ms)
{
	struct timespec	 ts;
	uint32_t	 w;
	uint64_t	 s;

	w = atomic_load(&n->word);
	if ((s = atomic_load(&n->seq)) > seen)
		return s;
	ts.tv_sec = timeout_ms / 1000;
	ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000;
	atomic_fetch_add(&n->waiters, 1);
	/* returns at once if a post moved the word since it was read */
	(void)syscall(SYS_futex, &n->word, FUTEX_WAIT, w, &ts, NULL, 0);
	atomic_fetch_sub(&n->waiters, 1);
	return atomic_load(&n->seq);
}
