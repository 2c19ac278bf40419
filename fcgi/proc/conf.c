/* conf.c - configuration file; see conf.h and conf/verstore.conf. */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proc/conf.h"
#include "lib/log.h"

void
conf_defaults(struct conf *c)
{
	memset(c, 0, sizeof(*c));
	strcpy(c->data_dir, "/var/lib/verstore");
	strcpy(c->socket, "/run/verstore/verstored.sock");
	c->socket_mode = 0660;
	c->workers = 0;
	c->threads = 16;
	c->map_size = (size_t)1 << 30;
	c->max_body = (size_t)1 << 20;
	c->precondition_failed_status = 412;
	c->log_level = LOG_INFO;
	c->shutdown_timeout = 10;
	c->batch_max = 64;
	c->idempotency_ttl = 86400;
	c->bucket_max_items = 1000;
	c->bucket_count_max = 1024;
	c->max_value = (size_t)16 << 20;
	c->request_timeout = 30;
	c->max_conns = 1024;
}

/* "1024", "64k", "512M", "1G" (binary units). */
static int
parse_size(const char *s, size_t *out)
{
	char			*end;
	unsigned long long	 v;
	unsigned		 shift = 0;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return -1;
	switch (*end) {
	case '\0':			break;
	case 'k': case 'K':	shift = 10; end++; break;
	case 'm': case 'M':	shift = 20; end++; break;
	case 'g': case 'G':	shift = 30; end++; break;
	case 't': case 'T':	shift = 40; end++; break;
	default:		return -1;
	}
	if (*end != '\0' || v > (SIZE_MAX >> shift))
		return -1;
	*out = (size_t)(v << shift);
	return 0;
}

static int
parse_uint(const char *s, unsigned min, unsigned max, int base, unsigned *out)
{
	char		*end;
	unsigned long	 v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoul(s, &end, base);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = (unsigned)v;
	return 0;
}

static int
copy(char *dst, size_t dstsz, const char *src)
{
	size_t	 n = strlen(src);

	if (n == 0 || n >= dstsz)
		return -1;
	memcpy(dst, src, n + 1);
	return 0;
}

enum conf_err
conf_set(struct conf *c, const char *name, const char *v)
{
	static const char *const levels[] = { "error", "warn", "info", "debug" };
	unsigned	 u;
	size_t		 z, i;

	if (strcmp(name, "data_dir") == 0)
		return copy(c->data_dir, sizeof(c->data_dir), v) ? CONF_VALUE : 0;
	if (strcmp(name, "socket") == 0)
		return copy(c->socket, sizeof(c->socket), v) ? CONF_VALUE : 0;
	if (strcmp(name, "socket_mode") == 0) {
		if (parse_uint(v, 0, 0777, 8, &u) == -1)
			return CONF_VALUE;
		c->socket_mode = u;
		return CONF_OK;
	}
	if (strcmp(name, "socket_group") == 0)
		return copy(c->socket_group, sizeof(c->socket_group), v) ?
		    CONF_VALUE : 0;
	if (strcmp(name, "workers") == 0) {
		if (parse_uint(v, 0, 256, 10, &u) == -1)
			return CONF_VALUE;
		c->workers = u;
		return CONF_OK;
	}
	if (strcmp(name, "threads") == 0) {
		if (parse_uint(v, 1, 1024, 10, &u) == -1)
			return CONF_VALUE;
		c->threads = u;
		return CONF_OK;
	}
	if (strcmp(name, "map_size") == 0) {
		if (parse_size(v, &z) == -1 || z < ((size_t)1 << 20))
			return CONF_VALUE;
		c->map_size = z;
		return CONF_OK;
	}
	if (strcmp(name, "max_body") == 0) {
		if (parse_size(v, &z) == -1 || z < 1024 ||
		    z > ((size_t)1 << 30))
			return CONF_VALUE;
		c->max_body = z;
		return CONF_OK;
	}
	if (strcmp(name, "precondition_failed_status") == 0) {
		if (strcmp(v, "412") != 0 && strcmp(v, "409") != 0)
			return CONF_VALUE;
		c->precondition_failed_status = atoi(v);
		return CONF_OK;
	}
	if (strcmp(name, "require_preconditions") == 0) {
		if (strcmp(v, "on") == 0)
			c->require_all = 1;
		else if (strcmp(v, "off") == 0) {
			c->require_all = 0;
			c->nrequire = 0;
		} else {
			if (c->nrequire == CONF_PREFIXES_MAX)
				return CONF_TOO_MANY;
			if (copy(c->require[c->nrequire],
			    sizeof(c->require[0]), v) == -1)
				return CONF_VALUE;
			c->nrequire++;
		}
		return CONF_OK;
	}
	if (strcmp(name, "durability") == 0) {
		if (strcmp(v, "strict") != 0 && strcmp(v, "relaxed") != 0)
			return CONF_VALUE;
		c->durability_relaxed = v[0] == 'r';
		return CONF_OK;
	}
	if (strcmp(name, "log_level") == 0) {
		for (i = 0; i < 4; i++)
			if (strcmp(v, levels[i]) == 0) {
				c->log_level = (int)i;
				return CONF_OK;
			}
		return CONF_VALUE;
	}
	if (strcmp(name, "batch_max") == 0) {
		if (parse_uint(v, 1, CONF_BATCH_MAX, 10, &u) == -1)
			return CONF_VALUE;
		c->batch_max = u;
		return CONF_OK;
	}
	if (strcmp(name, "bucket_max_items") == 0) {
		if (parse_uint(v, 2, 1000000, 10, &u) == -1)
			return CONF_VALUE;
		c->bucket_max_items = u;
		return CONF_OK;
	}
	if (strcmp(name, "bucket_count_max") == 0) {
		if (parse_uint(v, 1, 1 << 16, 10, &u) == -1 || (u & (u - 1)))
			return CONF_VALUE;
		c->bucket_count_max = u;
		return CONF_OK;
	}
	if (strcmp(name, "max_value") == 0) {
		if (parse_size(v, &z) == -1 || z < 1024 ||
		    z > ((size_t)1 << 31))
			return CONF_VALUE;
		c->max_value = z;
		return CONF_OK;
	}
	if (strcmp(name, "request_timeout") == 0) {
		if (parse_uint(v, 1, 3600, 10, &u) == -1)
			return CONF_VALUE;
		c->request_timeout = u;
		return CONF_OK;
	}
	if (strcmp(name, "max_conns") == 0) {
		if (parse_uint(v, 16, 1 << 20, 10, &u) == -1)
			return CONF_VALUE;
		c->max_conns = u;
		return CONF_OK;
	}
	if (strcmp(name, "idempotency_ttl") == 0) {
		if (parse_uint(v, 1, 30 * 86400, 10, &u) == -1)
			return CONF_VALUE;
		c->idempotency_ttl = u;
		return CONF_OK;
	}
	if (strcmp(name, "shutdown_timeout") == 0) {
		if (parse_uint(v, 1, 3600, 10, &u) == -1)
			return CONF_VALUE;
		c->shutdown_timeout = u;
		return CONF_OK;
	}
	return CONF_UNKNOWN;
}

static int
is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

enum conf_err
conf_load(struct conf *c, const char *path, struct conf_error *e)
{
	FILE		*f = NULL;
	char		 line[1024], *p, *name, *val, *end;
	size_t		 n;
	enum conf_err	 rc = CONF_OK;

	memset(e, 0, sizeof(*e));
	if ((f = fopen(path, "r")) == NULL) {
		e->sys = errno;
		rc = CONF_OPEN;
		goto out;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		e->line++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			rc = CONF_SYNTAX;	/* over-long line */
			goto out;
		}
		if ((p = strchr(line, '#')) != NULL)
			*p = '\0';
		for (p = line; is_space(*p); p++)
			;
		if (*p == '\0')
			continue;
		name = p;
		while (*p != '\0' && !is_space(*p))
			p++;
		if (*p != '\0')
			*p++ = '\0';
		n = strlen(name);
		if (n >= sizeof(e->name))
			n = sizeof(e->name) - 1;
		memcpy(e->name, name, n);
		e->name[n] = '\0';
		e->value[0] = '\0';
		while (is_space(*p))
			p++;
		val = p;
		end = val + strlen(val);
		while (end > val && is_space(end[-1]))
			*--end = '\0';
		if (*val == '\0') {
			rc = CONF_SYNTAX;
			goto out;
		}
		for (p = val; *p != '\0'; p++)
			if (is_space(*p)) {
				rc = CONF_SYNTAX;
				goto out;
			}
		n = strlen(val) < sizeof(e->value) ? strlen(val) :
		    sizeof(e->value) - 1;
		memcpy(e->value, val, n);
		e->value[n] = '\0';
		if ((rc = conf_set(c, name, val)) != CONF_OK)
			goto out;
	}
	if (ferror(f)) {
		e->sys = errno;
		rc = CONF_OPEN;
		goto out;
	}
	e->line = 0;
	e->name[0] = '\0';
out:
	if (f != NULL)
		fclose(f);
	e->code = rc;
	return rc;
}

const char *
conf_expected(const char *name)
{
	static const struct {
		const char	*name, *form;
	} forms[] = {
		{ "data_dir", "a directory path" },
		{ "socket", "a socket path of at most 107 bytes" },
		{ "socket_mode", "octal permission bits such as 0660" },
		{ "socket_group", "a group name such as www-data" },
		{ "workers", "a number of processes, 0 to 256 (0: one per CPU)" },
		{ "threads", "a number of threads, 1 to 1024" },
		{ "map_size", "bytes with a k, M, G or T suffix, at least 1M" },
		{ "max_body", "bytes with a k, M or G suffix, 1k to 1G" },
		{ "max_value", "bytes with a k, M or G suffix, 1k to 2G" },
		{ "durability", "strict or relaxed" },
		{ "precondition_failed_status", "412 or 409" },
		{ "require_preconditions", "on, off or a key prefix" },
		{ "log_level", "error, warn, info or debug" },
		{ "batch_max", "a number of writes, 1 to 256" },
		{ "bucket_max_items", "a number of items, 2 to 1000000" },
		{ "bucket_count_max", "a power of two, 1 to 65536" },
		{ "idempotency_ttl", "seconds, 1 to 2592000" },
		{ "request_timeout", "seconds, 1 to 3600" },
		{ "max_conns", "a number of connections, 16 to 1048576" },
		{ "shutdown_timeout", "seconds, 1 to 3600" },
	};
	size_t	 i;

	for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++)
		if (strcmp(name, forms[i].name) == 0)
			return forms[i].form;
	return NULL;
}

/* Can this process read, write and enter dir (or make it)? */
static int
dir_usable(const char *dir, const char *what, char *msg, size_t msgsz)
{
	char		 parent[PATH_MAX], *slash;
	struct stat	 sb;

	if (stat(dir, &sb) == 0) {
		if (!S_ISDIR(sb.st_mode)) {
			snprintf(msg, msgsz, "%s %s is not a directory", what,
			    dir);
			return -1;
		}
		if (access(dir, R_OK | W_OK | X_OK) == -1) {
			snprintf(msg, msgsz, "%s %s: %s for uid %ld; give this "
			    "user read, write and search rights on it", what,
			    dir, strerror(errno), (long)geteuid());
			return -1;
		}
		return 0;
	}
	if (errno != ENOENT) {
		snprintf(msg, msgsz, "%s %s: %s", what, dir, strerror(errno));
		return -1;
	}
	/* missing: it is made at start, one level, in its parent */
	snprintf(parent, sizeof(parent), "%s", dir);
	if ((slash = strrchr(parent, '/')) == NULL)
		snprintf(parent, sizeof(parent), ".");
	else if (slash == parent)
		parent[1] = '\0';
	else
		*slash = '\0';
	if (access(parent, W_OK | X_OK) == -1) {
		snprintf(msg, msgsz, "%s %s does not exist and cannot be made "
		    "in %s: %s for uid %ld", what, dir, parent, strerror(errno),
		    (long)geteuid());
		return -1;
	}
	return 0;
}

int
conf_check(const struct conf *c, char *msg, size_t msgsz)
{
	char	 path[PATH_MAX + 16], *slash;

	if (dir_usable(c->data_dir, "data_dir", msg, msgsz) == -1)
		return -1;
	snprintf(path, sizeof(path), "%s/data.mdb", c->data_dir);
	if (access(path, F_OK) == 0 && access(path, R_OK | W_OK) == -1) {
		snprintf(msg, msgsz, "the store %s: %s for uid %ld", path,
		    strerror(errno), (long)geteuid());
		return -1;
	}
	snprintf(path, sizeof(path), "%s", c->socket);
	if ((slash = strrchr(path, '/')) != NULL && slash != path) {
		*slash = '\0';
		if (dir_usable(path, "the socket's directory", msg, msgsz) == -1)
			return -1;
	}
	if (c->socket_group[0] != '\0' && getgrnam(c->socket_group) == NULL) {
		snprintf(msg, msgsz, "socket_group %s: no such group",
		    c->socket_group);
		return -1;
	}
	return 0;
}

unsigned
conf_workers(const struct conf *c)
{
	long	 n;

	if (c->workers > 0)
		return c->workers;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > 64 ? 64 : (unsigned)n;
}

int
conf_requires(const struct conf *c, const char *key, size_t n)
{
	size_t	 i, plen;

	if (c->require_all)
		return 1;
	for (i = 0; i < c->nrequire; i++) {
		plen = strlen(c->require[i]);
		if (plen <= n && memcmp(key, c->require[i], plen) == 0)
			return 1;
	}
	return 0;
}
