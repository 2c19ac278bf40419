/* Unit tests of fcgi/lib/notify.c: a post in one process wakes another. */
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/notify.h"
#include "t.h"

static long
ms_since(const struct timespec *t0)
{
	struct timespec	 t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 +
	    (t.tv_nsec - t0->tv_nsec) / 1000000;
}

static void
test_post_raises_only(void)
{
	struct notify	*n;

	CHECK(notify_create(&n) == 0);
	CHECK(notify_seq(n) == 0);
	notify_post(n, 5);
	notify_post(n, 3);	/* a late post never moves it back */
	CHECK(notify_seq(n) == 5);
	CHECK(notify_wait(n, 4, 1000) == 5);	/* already past: no sleep */
	notify_destroy(n);
}

static void
test_timeout(void)
{
	struct notify	*n;
	struct timespec	 t0;
	long		 ms;

	CHECK(notify_create(&n) == 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK(notify_wait(n, 0, 100) == 0);
	ms = ms_since(&t0);
	CHECK(ms >= 90 && ms < 2000);
	notify_destroy(n);
}

/* A child process posts; the parent, asleep, wakes well before its
   timeout. */
static void
test_wakes_across_processes(void)
{
	struct notify	*n;
	struct timespec	 t0;
	pid_t		 pid;
	int		 status;
	uint64_t	 seen = 0;

	CHECK(notify_create(&n) == 0);
	if ((pid = fork()) == 0) {
		usleep(100 * 1000);
		notify_post(n, 42);
		_exit(0);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (seen == 0 && ms_since(&t0) < 5000)
		seen = notify_wait(n, 0, 5000);
	CHECK(seen == 42);
	CHECK(ms_since(&t0) < 2000);
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	notify_destroy(n);
}

int
main(void)
{
	RUN(test_post_raises_only);
	RUN(test_timeout);
	RUN(test_wakes_across_processes);
	return T_EXIT();
}
