/*
 * main.c - verstored: the versioned JSON store's FastCGI server.
 *
 *   verstored [-c file]       run (in the foreground; log on stderr)
 *   verstored -t [-c file]    check the configuration and exit
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "pool.h"

#define DEFAULT_CONF	"/etc/verstore/verstore.conf"

static void
usage(void)
{
	fprintf(stderr, "usage: verstored [-t] [-c file]\n");
	exit(2);
}

static const char *
conf_message(enum conf_err e)
{
	switch (e) {
	case CONF_OPEN:		return "cannot read the file";
	case CONF_SYNTAX:	return "expected \"name value\"";
	case CONF_UNKNOWN:	return "unknown setting";
	case CONF_VALUE:	return "invalid value";
	case CONF_TOO_MANY:	return "too many require_preconditions prefixes";
	default:		return "error";
	}
}

int
main(int argc, char *argv[])
{
	struct conf		*c;
	struct conf_error	 e;
	struct pool_listener	 l;
	const char		*path = DEFAULT_CONF;
	int			 ch, test = 0;
	enum pool_err		 pe;

	while ((ch = getopt(argc, argv, "c:t")) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 't':
			test = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if ((c = malloc(sizeof(*c))) == NULL) {
		perror("verstored");
		return 1;
	}
	conf_defaults(c);
	if (conf_load(c, path, &e) != CONF_OK) {
		if (e.code == CONF_OPEN)
			fprintf(stderr, "verstored: %s: %s\n", path,
			    strerror(e.sys));
		else
			fprintf(stderr, "verstored: %s:%d: %s: %s\n", path,
			    e.line, e.name, conf_message(e.code));
		if (test)
			fprintf(stderr, "verstored: configuration file %s "
			    "test failed\n", path);
		free(c);
		return 1;
	}
	if (test) {
		fprintf(stderr, "verstored: configuration file %s test is "
		    "successful\n", path);
		free(c);
		return 0;
	}
	log_set_level(c->log_level);
	if ((pe = pool_listen(c, &l)) != POOL_OK) {
		free(c);
		return 1;
	}
	pe = pool_run(c, &l);
	log_info("stopped%s", pe == POOL_OK ? "" : " (not cleanly)");
	free(c);
	return pe == POOL_OK ? 0 : 1;
}
