/* log.c - see log.h. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"

static int log_level = LOG_INFO;	/* written once, before threads */

void
log_set_level(int level)
{
	log_level = level;
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

	if (level > log_level)
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
