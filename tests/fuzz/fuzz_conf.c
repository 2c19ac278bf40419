/*
 * fuzz_conf.c - the configuration parser: any bytes as a file. Property:
 * a file that loads leaves every setting within its documented range,
 * and auth token with a tokens file.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "proc/conf.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct conf	 c;
	struct conf_error	 e;
	char			 path[] = "/tmp/verstore-fuzz-conf-XXXXXX";
	int			 fd;

	if ((fd = mkstemp(path)) == -1)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		unlink(path);
		return 0;
	}
	close(fd);
	conf_defaults(&c);
	if (conf_load(&c, path, &e) == CONF_OK &&
	    (c.threads < 1 || c.threads > 1024 || c.workers > 256 ||
	    c.map_size < ((size_t)1 << 20) || c.batch_max < 1 ||
	    c.max_body < 1024 || c.max_value < 1024 ||
	    (c.bucket_count_max & (c.bucket_count_max - 1)) != 0 ||
	    (c.precondition_failed_status != 412 &&
	    c.precondition_failed_status != 409) ||
	    c.auth < CONF_AUTH_NONE || c.auth > CONF_AUTH_REMOTE_USER ||
	    (c.auth == CONF_AUTH_TOKEN && c.tokens[0] == '\0') ||
	    c.norigins > CONF_ORIGINS_MAX))
		abort();
	unlink(path);
	return 0;
}
