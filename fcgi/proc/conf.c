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
#include "proc/tokens.h"
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
	c->max_watchers = 10000;
	c->history_versions = 10;
	c->presence_per_key = 32;
	c->presence_per_principal = 64;
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

static int
is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/*
 * An origin as a browser sends it (RFC 6454): scheme://host[:port],
 * lower case, the host a name or a bracketed IPv6 address, the port 1 to
 * 65535 without a leading zero, nothing after it.
 */
static int
origin_valid(const char *s, size_t n)
{
	size_t		 i = 0, h;
	unsigned long	 port = 0;

	if (n > CONF_ORIGIN_MAX || n == 0 || !(s[0] >= 'a' && s[0] <= 'z'))
		return 0;
	while (i < n && ((s[i] >= 'a' && s[i] <= 'z') ||
	    (s[i] >= '0' && s[i] <= '9') || s[i] == '+' || s[i] == '-' ||
	    s[i] == '.'))
		i++;
	if (n - i < 3 || memcmp(s + i, "://", 3) != 0)
		return 0;
	i += 3;
	h = i;
	if (i < n && s[i] == '[') {
		for (i++; i < n && ((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f') || s[i] == ':' ||
		    s[i] == '.'); i++)
			;
		if (i == h + 1 || i == n || s[i++] != ']')
			return 0;
	} else {
		while (i < n && ((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '-'))
			i++;
		if (i == h)
			return 0;
	}
	if (i == n)
		return 1;
	if (s[i++] != ':' || i == n || s[i] == '0' || n - i > 5)
		return 0;
	for (; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		port = port * 10 + (unsigned long)(s[i] - '0');
	}
	return port <= 65535;
}

/* The next blank-separated word of v at or after *at: its start and n. */
static const char *
word(const char *v, size_t *at, size_t *n)
{
	const char	*w;

	while (v[*at] != '\0' && is_space(v[*at]))
		(*at)++;
	w = v + *at;
	while (v[*at] != '\0' && !is_space(v[*at]))
		(*at)++;
	*n = (size_t)(v + *at - w);
	return *n > 0 ? w : NULL;
}

/* cors_origins: every origin valid and within the count, or none set. */
static enum conf_err
set_origins(struct conf *c, const char *v)
{
	const char	*w;
	size_t		 at = 0, n, count = 0;

	while ((w = word(v, &at, &n)) != NULL) {
		if (!origin_valid(w, n))
			return CONF_VALUE;
		if (++count > CONF_ORIGINS_MAX)
			return CONF_TOO_MANY;
	}
	if (count == 0)
		return CONF_VALUE;
	c->norigins = 0;
	for (at = 0; (w = word(v, &at, &n)) != NULL; c->norigins++) {
		memcpy(c->origins[c->norigins], w, n);
		c->origins[c->norigins][n] = '\0';
	}
	return CONF_OK;
}

/* quota PREFIX BYTES (or off). */
static enum conf_err
set_quota(struct conf *c, const char *v)
{
	const char	*w, *b;
	char		 bytes[32];
	size_t		 at = 0, n, bn, i, z;

	if (strcmp(v, "off") == 0) {
		c->nquotas = 0;
		return CONF_OK;
	}
	if ((w = word(v, &at, &n)) == NULL || n > CONF_QUOTA_PREFIX_MAX ||
	    (b = word(v, &at, &bn)) == NULL || bn >= sizeof(bytes) ||
	    word(v, &at, &i) != NULL)
		return CONF_VALUE;
	memcpy(bytes, b, bn);
	bytes[bn] = '\0';
	if (parse_size(bytes, &z) == -1)
		return CONF_VALUE;
	for (i = 0; i < c->nquotas; i++)
		if (strlen(c->quotas[i].prefix) == n &&
		    memcmp(c->quotas[i].prefix, w, n) == 0)
			break;
	if (i == CONF_QUOTAS_MAX)
		return CONF_TOO_MANY;
	memcpy(c->quotas[i].prefix, w, n);
	c->quotas[i].prefix[n] = '\0';
	c->quotas[i].bytes = z;
	if (i == c->nquotas)
		c->nquotas++;
	return CONF_OK;
}

/* The index of v among words[0..n), or -1. */
static int
one_of(const char *v, const char *const *words, int n)
{
	int	 i;

	for (i = 0; i < n; i++)
		if (strcmp(v, words[i]) == 0)
			return i;
	return -1;
}

enum conf_err
conf_set(struct conf *c, const char *name, const char *v)
{
	static const char *const auths[] = { "none", "token", "remote_user" };
	static const char *const levels[] = { "error", "warn", "info", "debug" };
	unsigned	 u;
	size_t		 z;
	int		 k;

	if (strcmp(name, "backend") == 0) {
		if (strcmp(v, "lmdb") != 0 && strcmp(v, "postgres") != 0)
			return CONF_VALUE;
		c->backend = v[0] == 'p' ? CONF_BACKEND_POSTGRES :
		    CONF_BACKEND_LMDB;
		return CONF_OK;
	}
	if (strcmp(name, "postgres_conninfo") == 0)
		return copy(c->conninfo, sizeof(c->conninfo), v) ? CONF_VALUE :
		    0;
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
		if (parse_uint(v, 1, 1000, 10, &u) == -1)
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
	if (strcmp(name, "auto_merge") == 0) {
		if (strcmp(v, "off") == 0) {
			c->nmerge = 0;
			return CONF_OK;
		}
		if (c->nmerge == CONF_PREFIXES_MAX)
			return CONF_TOO_MANY;
		if (copy(c->merge[c->nmerge], sizeof(c->merge[0]), v) == -1)
			return CONF_VALUE;
		c->nmerge++;
		return CONF_OK;
	}
	if (strcmp(name, "enforce_locks") == 0) {
		if (strcmp(v, "off") == 0) {
			c->nlocks = 0;
			return CONF_OK;
		}
		if (c->nlocks == CONF_PREFIXES_MAX)
			return CONF_TOO_MANY;
		if (copy(c->locks[c->nlocks], sizeof(c->locks[0]), v) == -1)
			return CONF_VALUE;
		c->nlocks++;
		return CONF_OK;
	}
	if (strcmp(name, "presence_per_key") == 0) {
		if (parse_uint(v, 1, 1000, 10, &u) == -1)
			return CONF_VALUE;
		c->presence_per_key = u;
		return CONF_OK;
	}
	if (strcmp(name, "presence_per_principal") == 0) {
		if (parse_uint(v, 1, 1 << 20, 10, &u) == -1)
			return CONF_VALUE;
		c->presence_per_principal = u;
		return CONF_OK;
	}
	if (strcmp(name, "durability") == 0) {
		if (strcmp(v, "strict") != 0 && strcmp(v, "relaxed") != 0)
			return CONF_VALUE;
		c->durability_relaxed = v[0] == 'r';
		return CONF_OK;
	}
	if (strcmp(name, "auth") == 0) {
		if ((k = one_of(v, auths, 3)) == -1)
			return CONF_VALUE;
		c->auth = k;
		return CONF_OK;
	}
	if (strcmp(name, "tokens") == 0)
		return copy(c->tokens, sizeof(c->tokens), v) ? CONF_VALUE : 0;
	if (strcmp(name, "quota") == 0)
		return set_quota(c, v);
	if (strcmp(name, "cors_origins") == 0)
		return set_origins(c, v);
	if (strcmp(name, "metrics_public") == 0) {
		if (strcmp(v, "on") != 0 && strcmp(v, "off") != 0)
			return CONF_VALUE;
		c->metrics_public = v[1] == 'n';
		return CONF_OK;
	}
	if (strcmp(name, "log_level") == 0) {
		if ((k = one_of(v, levels, 4)) == -1)
			return CONF_VALUE;
		c->log_level = k;
		return CONF_OK;
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
	if (strcmp(name, "history_versions") == 0) {
		if (parse_uint(v, 1, 1000, 10, &u) == -1)
			return CONF_VALUE;
		c->history_versions = u;
		return CONF_OK;
	}
	if (strcmp(name, "max_watchers") == 0) {
		if (parse_uint(v, 0, 1 << 20, 10, &u) == -1)
			return CONF_VALUE;
		c->max_watchers = u;
		return CONF_OK;
	}
	if (strcmp(name, "max_watchers_per_principal") == 0) {
		if (parse_uint(v, 1, 1 << 20, 10, &u) == -1)
			return CONF_VALUE;
		c->max_watchers_per_principal = u;
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

/* Cuts value into e->value. */
static void
say_value(struct conf_error *e, const char *v, size_t n)
{
	if (n >= sizeof(e->value))
		n = sizeof(e->value) - 1;
	memcpy(e->value, v, n);
	e->value[n] = '\0';
}

/* A value of cors_origins that is not an origin, for the message. */
static void
say_bad_origin(struct conf_error *e, const char *v)
{
	const char	*w;
	size_t		 at = 0, n;

	while ((w = word(v, &at, &n)) != NULL)
		if (!origin_valid(w, n)) {
			say_value(e, w, n);
			return;
		}
}

enum conf_err
conf_load(struct conf *c, const char *path, struct conf_error *e)
{
	FILE		*f = NULL;
	char		 line[CONF_ORIGINS_MAX * (CONF_ORIGIN_MAX + 1) + 256];
	char		*p, *name, *val, *end;
	size_t		 n;
	int		 list, blanks, auth_line = 0;
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
		list = strcmp(name, "cors_origins") == 0;
		blanks = list || strcmp(name, "postgres_conninfo") == 0 ||
		    strcmp(name, "quota") == 0;
		for (p = val; *p != '\0' && !blanks; p++)
			if (is_space(*p)) {
				rc = CONF_SYNTAX;
				goto out;
			}
		say_value(e, val, strlen(val));
		if ((rc = conf_set(c, name, val)) != CONF_OK) {
			if (rc == CONF_VALUE && list)
				say_bad_origin(e, val);
			goto out;
		}
		if (strcmp(name, "auth") == 0)
			auth_line = e->line;
	}
	if (ferror(f)) {
		e->sys = errno;
		rc = CONF_OPEN;
		goto out;
	}
	if (c->auth == CONF_AUTH_TOKEN && c->tokens[0] == '\0') {
		e->line = auth_line;
		snprintf(e->name, sizeof(e->name), "auth");
		snprintf(e->value, sizeof(e->value), "token");
		rc = CONF_NO_TOKENS;
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
		{ "backend", "lmdb or postgres" },
		{ "postgres_conninfo", "a libpq connection string of at most "
		    "1023 bytes, such as host=/run/postgresql dbname=verstore" },
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
		{ "auto_merge", "off or a key prefix" },
		{ "enforce_locks", "off or a key prefix" },
		{ "presence_per_key", "a number of sessions, 1 to 1000" },
		{ "presence_per_principal",
		    "a number of sessions, 1 to 1048576" },
		{ "log_level", "error, warn, info or debug" },
		{ "batch_max", "a number of writes, 1 to 256" },
		{ "bucket_max_items", "a number of items, 2 to 1000000" },
		{ "bucket_count_max", "a power of two, 1 to 65536" },
		{ "idempotency_ttl", "seconds, 1 to 2592000" },
		{ "request_timeout", "seconds, 1 to 3600" },
		{ "max_conns", "a number of connections, 16 to 1048576" },
		{ "max_watchers", "a number of watchers, 0 to 1048576" },
		{ "max_watchers_per_principal",
		    "a number of watchers, 1 to 1048576" },
		{ "history_versions", "a number of versions, 1 to 1000" },
		{ "shutdown_timeout", "seconds, 1 to 3600" },
		{ "auth", "none, token or remote_user" },
		{ "tokens", "the path of the tokens file" },
		{ "cors_origins", "origins such as https://app.example.com or "
		    "http://localhost:8080 (scheme://host[:port], lower case, "
		    "no path)" },
		{ "metrics_public", "on or off" },
		{ "quota", "a key prefix of at most 255 bytes and bytes with a "
		    "k, M, G or T suffix, such as tenant-a/ 100M, or off" },
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

/* Can this process read and load the tokens file? */
static int
tokens_usable(const char *path, char *msg, size_t msgsz)
{
	struct tokens		*t;
	struct tokens_err	 e;
	char			 why[512];

	if (tokens_load(path, &t, &e) == TOKENS_OK) {
		tokens_free(t);
		return 0;
	}
	if (e.code == TOKENS_READ && e.sys == ENOENT)
		snprintf(msg, msgsz, "tokens %s: %s; \"verstored token add\" "
		    "makes it", path, strerror(e.sys));
	else if (e.code == TOKENS_READ)
		snprintf(msg, msgsz, "tokens %s: %s for uid %ld%s", path,
		    strerror(e.sys), (long)geteuid(), e.sys == EACCES ?
		    "; let this user read it (mode 0640, in its group)" : "");
	else {
		tokens_reason(&e, why, sizeof(why));
		snprintf(msg, msgsz, "tokens %s:%d: %s", path, e.line, why);
	}
	return -1;
}

int
conf_check(const struct conf *c, char *msg, size_t msgsz)
{
	char	 path[PATH_MAX + 16], *slash;

	if (c->backend == CONF_BACKEND_LMDB &&
	    dir_usable(c->data_dir, "data_dir", msg, msgsz) == -1)
		return -1;
	snprintf(path, sizeof(path), "%s/data.mdb", c->data_dir);
	if (c->backend == CONF_BACKEND_LMDB && access(path, F_OK) == 0 &&
	    access(path, R_OK | W_OK) == -1) {
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
	if (c->auth == CONF_AUTH_TOKEN)
		return tokens_usable(c->tokens, msg, msgsz);
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

/* 1 when a and b name the same quotas, in the same order. */
static int
quotas_same(const struct conf *a, const struct conf *b)
{
	size_t	 i;

	if (a->nquotas != b->nquotas)
		return 0;
	for (i = 0; i < a->nquotas; i++)
		if (strcmp(a->quotas[i].prefix, b->quotas[i].prefix) != 0 ||
		    a->quotas[i].bytes != b->quotas[i].bytes)
			return 0;
	return 1;
}

/* Notes name in restart when the setting differs. */
static void
restart_only(int differs, const char *name, char *restart, size_t sz)
{
	size_t	 n = strlen(restart);

	if (!differs || n + strlen(name) + 2 > sz)
		return;
	snprintf(restart + n, sz - n, "%s%s", n > 0 ? " " : "", name);
}

void
conf_apply(struct conf *cur, const struct conf *next, char *restart,
    size_t restartsz)
{
	struct conf	 old = *cur;

	if (restartsz > 0)
		restart[0] = '\0';
#define KEEP(f, same) do {						\
	restart_only(!(same), #f, restart, restartsz);			\
	cur->f = old.f;							\
} while (0)
	*cur = *next;
	KEEP(workers, old.workers == next->workers);
	KEEP(threads, old.threads == next->threads);
	KEEP(map_size, old.map_size == next->map_size);
	KEEP(max_body, old.max_body == next->max_body);
	KEEP(socket_mode, old.socket_mode == next->socket_mode);
	KEEP(shutdown_timeout, old.shutdown_timeout == next->shutdown_timeout);
	KEEP(batch_max, old.batch_max == next->batch_max);
	KEEP(request_timeout, old.request_timeout == next->request_timeout);
	KEEP(max_conns, old.max_conns == next->max_conns);
	KEEP(max_watchers, old.max_watchers == next->max_watchers);
	KEEP(max_watchers_per_principal, old.max_watchers_per_principal ==
	    next->max_watchers_per_principal);
	KEEP(history_versions,
	    old.history_versions == next->history_versions);
	KEEP(durability_relaxed,
	    old.durability_relaxed == next->durability_relaxed);
	KEEP(backend, old.backend == next->backend);
#undef KEEP
	restart_only(strcmp(old.conninfo, next->conninfo) != 0,
	    "postgres_conninfo", restart, restartsz);
	memcpy(cur->conninfo, old.conninfo, sizeof(cur->conninfo));
	restart_only(strcmp(old.data_dir, next->data_dir) != 0, "data_dir",
	    restart, restartsz);
	memcpy(cur->data_dir, old.data_dir, sizeof(cur->data_dir));
	restart_only(strcmp(old.socket, next->socket) != 0, "socket", restart,
	    restartsz);
	memcpy(cur->socket, old.socket, sizeof(cur->socket));
	restart_only(strcmp(old.socket_group, next->socket_group) != 0,
	    "socket_group", restart, restartsz);
	/* the store counts a quota's usage from when it opens with it */
	restart_only(!quotas_same(&old, next), "quota", restart, restartsz);
	cur->nquotas = old.nquotas;
	memcpy(cur->quotas, old.quotas, sizeof(cur->quotas));
	memcpy(cur->socket_group, old.socket_group, sizeof(cur->socket_group));
}

int
conf_origin_allowed(const struct conf *c, const char *origin, size_t n)
{
	size_t	 i;

	for (i = 0; i < c->norigins; i++)
		if (strlen(c->origins[i]) == n &&
		    memcmp(c->origins[i], origin, n) == 0)
			return 1;
	return 0;
}

/* 1 when key[0..n) starts with one of the np prefixes p. */
static int
prefixed(const char p[][CONF_KEY_MAX + 1], size_t np, const char *key,
    size_t n)
{
	size_t	 i, plen;

	for (i = 0; i < np; i++) {
		plen = strlen(p[i]);
		if (plen <= n && memcmp(key, p[i], plen) == 0)
			return 1;
	}
	return 0;
}

int
conf_requires(const struct conf *c, const char *key, size_t n)
{
	return c->require_all || prefixed(c->require, c->nrequire, key, n);
}

int
conf_enforces_locks(const struct conf *c, const char *key, size_t n)
{
	return prefixed(c->locks, c->nlocks, key, n);
}

int
conf_auto_merge(const struct conf *c, const char *key, size_t n)
{
	return prefixed(c->merge, c->nmerge, key, n);
}
