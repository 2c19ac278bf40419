/* log.c - see log.h. */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"

/* set at start and on SIGHUP, while request threads log */
static atomic_int log_level = LOG_INFO;

void
log_set_level(int level)
{
	atomic_store_explicit(&log_level, level, memory_order_relaxed);
}

void
log_msg(int level, const char *func, const char *fmt, ...)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };
	char		 line[1024];
	struct timespec	 ts;
	struct tm	 tm;
	size_t		 n;
	int		 k;
	va_list		 ap;

	if (level > atomic_load_explicit(&log_level, memory_order_relaxed))
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	k = snprintf(line + n, sizeof(line) - n, ".%03ldZ [%s] %ld %s: ",
	    ts.tv_nsec / 1000000, names[level], (long)getpid(), func);
	if (k > 0)
		n += (size_t)k < sizeof(line) - n ? (size_t)k : sizeof(line) - n - 1;
	va_start(ap, fmt);
	k = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	if (k > 0)
		n += (size_t)k < sizeof(line) - n - 1 ? (size_t)k :
		    sizeof(line) - n - 2;
	line[n++] = '\n';
	/* One write per line: lines of concurrent processes stay whole. */
	(void)!write(STDERR_FILENO, line, n);
}

void
log_store(int level, const char *func, const char *msg)
{
	log_msg(level, func, "%s", msg);
}
