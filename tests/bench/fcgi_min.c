/*
 * fcgi_min.c - the ceiling of the nginx -> FastCGI path for make bench: a
 * responder on libfcgi that reads nothing and answers every request with
 * the same body, of the size of verstored's answer to a GET of a 1 KiB
 * value, from threads that each accept one connection at a time (libfcgi
 * keeps a kept connection's thread for it).
 *
 *	fcgi_min SOCKET THREADS
 */
#include <fcgiapp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define THREADS_MAX	256
#define VALUE_LEN	(1024 - 14)	/* as the benchmark's values */

static int	 sock;
static char	 answer[VALUE_LEN + 512];

static void *
serve(void *arg)
{
	FCGX_Request	 r;

	(void)arg;
	if (FCGX_InitRequest(&r, sock, 0) != 0)
		return NULL;
	while (FCGX_Accept_r(&r) >= 0) {
		FCGX_PutS(answer, r.out);
		FCGX_Finish_r(&r);
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	pthread_t	 t[THREADS_MAX];
	char		 value[VALUE_LEN + 1];
	int		 i, n;

	if (argc != 3 || (n = atoi(argv[2])) < 1 || n > THREADS_MAX) {
		fprintf(stderr, "usage: fcgi_min SOCKET THREADS (1-%d)\n",
		    THREADS_MAX);
		return 2;
	}
	memset(value, 'x', VALUE_LEN);
	value[VALUE_LEN] = '\0';
	snprintf(answer, sizeof(answer), "Status: 200 OK\r\n"
	    "Content-Type: application/json\r\nETag: \"1\"\r\n"
	    "Cache-Control: no-cache\r\n\r\n"
	    "{\"key\":\"bench/hot/1\",\"value\":\"%s\",\"version\":1,"
	    "\"updated_at\":\"2026-01-01T00:00:00.000000Z\","
	    "\"created_at\":\"2026-01-01T00:00:00.000000Z\","
	    "\"updated_by\":null}\n", value);
	if (FCGX_Init() != 0)
		return 1;
	/* FCGX_Init's SIGTERM handler only sets a flag */
	signal(SIGTERM, SIG_DFL);
	unlink(argv[1]);
	if ((sock = FCGX_OpenSocket(argv[1], 1024)) < 0) {
		perror("FCGX_OpenSocket");
		return 1;
	}
	chmod(argv[1], 0666);
	for (i = 0; i < n; i++)
		if (pthread_create(&t[i], NULL, serve, NULL) != 0)
			return 1;
	for (i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	return 0;
}
