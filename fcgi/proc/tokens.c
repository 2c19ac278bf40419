/* tokens.c - the tokens file; see tokens.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proc/tokens.h"
#include "lib/base64url.h"
#include "lib/buf.h"
#include "lib/hex.h"
#include "lib/utf8.h"

_Static_assert(TOKENS_TOKEN_LEN == BASE64URL_LEN(TOKENS_RANDOM_BYTES),
    "a token's length");

/* An entry and the one allocation that holds its name and prefixes. */
struct slot {
	struct tokens_entry	 e;
	void			*mem;
};

struct tokens {
	struct slot	*v;
	size_t		 n, cap;
};

static enum tokens_status
fail(struct tokens_err *e, enum tokens_status code, int line,
    const char *value)
{
	size_t	 n = value == NULL ? 0 : strlen(value);

	if (n >= sizeof(e->value))
		n = sizeof(e->value) - 1;
	e->code = code;
	e->line = line;
	if (n > 0)
		memcpy(e->value, value, n);
	e->value[n] = '\0';
	return code;
}

static enum tokens_status
fail_sys(struct tokens_err *e, enum tokens_status code, int sys)
{
	e->sys = sys;
	return fail(e, code, 0, NULL);
}

static int
name_valid(const char *s)
{
	size_t	 n;
	char	 c;

	for (n = 0; (c = s[n]) != '\0'; n++)
		if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') &&
		    !(c >= '0' && c <= '9') && c != '.' && c != '_' &&
		    c != '@' && c != '-')
			return 0;
	return n >= 1 && n <= TOKENS_NAME_MAX;
}

/* A key prefix other than "*"; see tokens.h. */
static int
prefix_valid(const char *s)
{
	size_t	 n = strlen(s), i;

	if (n == 0 || n > TOKENS_KEY_MAX || s[0] == '/' || s[n - 1] == '*')
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f)
			return 0;
	return utf8_valid(s, n);
}

/* One of count prefixes of a token: a key prefix, or "*" alone. */
static int
prefix_ok(const char *s, size_t count)
{
	return strcmp(s, "*") == 0 ? count == 1 : prefix_valid(s);
}

/*
 * Cuts s into its blank-separated fields, in place: each ends with one NUL
 * and the next follows it. Returns their number; *end is past the last.
 */
static size_t
split(char *s, char **end)
{
	char	*r = s, *w = s;
	size_t	 n = 0;

	for (;;) {
		while (*r == ' ' || *r == '\t')
			r++;
		if (*r == '\0')
			break;
		if (n++ > 0)
			*w++ = '\0';
		while (*r != '\0' && *r != ' ' && *r != '\t')
			*w++ = *r++;
	}
	*w = '\0';
	*end = n > 0 ? w + 1 : s;
	return n;
}

static const char *
next_field(const char *p)
{
	return p + strlen(p) + 1;
}

/* Parses one line that is not blank nor a comment into *sl. */
static enum tokens_status
parse_line(char *s, int line, struct slot *sl, struct tokens_err *e)
{
	const char	*name, *hash, *mode, **pv;
	char		*p, *end, *mem, *str;
	size_t		 nf, np, i, nlen, plen;
	int		 hi, lo;

	memset(sl, 0, sizeof(*sl));
	if ((nf = split(s, &end)) < 3)
		return fail(e, TOKENS_FIELDS, line, NULL);
	name = s;
	hash = next_field(name);
	mode = next_field(hash);
	p = (char *)next_field(mode);
	np = nf - 3;
	if (!name_valid(name))
		return fail(e, TOKENS_NAME, line, name);
	if (strlen(hash) != 2 * SHA256_LEN)
		return fail(e, TOKENS_HASH, line, NULL);
	for (i = 0; i < SHA256_LEN; i++) {
		if ((hi = hex_digit(hash[2 * i])) < 0 ||
		    (lo = hex_digit(hash[2 * i + 1])) < 0)
			return fail(e, TOKENS_HASH, line, NULL);
		sl->e.hash[i] = (unsigned char)(hi << 4 | lo);
	}
	if (strcmp(mode, "ro") == 0)
		sl->e.rw = 0;
	else if (strcmp(mode, "rw") == 0)
		sl->e.rw = 1;
	else if (strcmp(mode, "metrics") == 0)
		sl->e.metrics = 1;
	else
		return fail(e, TOKENS_MODE, line, mode);
	if (sl->e.metrics && np > 0)
		return fail(e, TOKENS_METRICS_PREFIX, line, p);
	if (!sl->e.metrics && np == 0)
		return fail(e, TOKENS_FIELDS, line, NULL);
	for (str = p, i = 0; i < np; i++, str += strlen(str) + 1)
		if (!prefix_ok(str, np))
			return fail(e, TOKENS_PREFIX, line, str);
	if (np == 1 && strcmp(p, "*") == 0) {
		sl->e.all = 1;
		np = 0;
	}

	/* the prefixes' pointers, then the name, then the prefixes */
	nlen = strlen(name) + 1;
	plen = np > 0 ? (size_t)(end - p) : 0;
	if ((mem = malloc(np * sizeof(*pv) + nlen + plen)) == NULL)
		return fail(e, TOKENS_NOMEM, line, NULL);
	pv = (const char **)(void *)mem;
	str = mem + np * sizeof(*pv);
	memcpy(str, name, nlen);
	sl->e.name = str;
	str += nlen;
	memcpy(str, p, plen);
	for (i = 0; i < np; i++, str += strlen(str) + 1)
		pv[i] = str;
	sl->e.prefixes = np > 0 ? pv : NULL;
	sl->e.nprefixes = np;
	sl->e.line = line;
	sl->mem = mem;
	return TOKENS_OK;
}

/* Reads the lines of f into t. */
static enum tokens_status
load_stream(FILE *f, struct tokens *t, struct tokens_err *e)
{
	struct slot	*v, *sl;
	char		*line = NULL, *p;
	size_t		 cap = 0, i, ncap;
	ssize_t		 len;
	int		 lineno = 0;
	enum tokens_status rc = TOKENS_OK;

	while ((len = getline(&line, &cap, f)) != -1) {
		lineno++;
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		if (len > 0 && line[len - 1] == '\r')
			line[--len] = '\0';
		if (strlen(line) != (size_t)len) {	/* a NUL byte */
			rc = fail(e, TOKENS_FIELDS, lineno, NULL);
			goto out;
		}
		for (p = line; *p == ' ' || *p == '\t'; p++)
			;
		if (*p == '\0' || *p == '#')
			continue;
		if (t->n == t->cap) {
			ncap = t->cap == 0 ? 16 : t->cap * 2;
			if ((v = reallocarray(t->v, ncap, sizeof(*v))) == NULL) {
				rc = fail(e, TOKENS_NOMEM, lineno, NULL);
				goto out;
			}
			t->v = v;
			t->cap = ncap;
		}
		sl = &t->v[t->n];
		if ((rc = parse_line(p, lineno, sl, e)) != TOKENS_OK)
			goto out;
		for (i = 0; i < t->n; i++) {
			if (strcmp(t->v[i].e.name, sl->e.name) == 0)
				rc = fail(e, TOKENS_DUP_NAME, lineno, sl->e.name);
			else if (memcmp(t->v[i].e.hash, sl->e.hash,
			    SHA256_LEN) == 0)
				rc = fail(e, TOKENS_DUP_HASH, lineno, NULL);
			else
				continue;
			e->other = t->v[i].e.line;
			free(sl->mem);
			goto out;
		}
		t->n++;
	}
	if (ferror(f) || !feof(f))
		rc = fail_sys(e, TOKENS_READ, errno);
out:
	free(line);
	return rc;
}

enum tokens_status
tokens_load(const char *path, struct tokens **out, struct tokens_err *e)
{
	struct tokens		*t = NULL;
	FILE			*f;
	enum tokens_status	 rc;

	memset(e, 0, sizeof(*e));
	*out = NULL;
	if ((f = fopen(path, "re")) == NULL)
		return fail_sys(e, TOKENS_READ, errno);
	if ((t = calloc(1, sizeof(*t))) == NULL)
		rc = fail(e, TOKENS_NOMEM, 0, NULL);
	else
		rc = load_stream(f, t, e);
	fclose(f);
	if (rc != TOKENS_OK) {
		tokens_free(t);
		return rc;
	}
	*out = t;
	return TOKENS_OK;
}

void
tokens_free(struct tokens *t)
{
	size_t	 i;

	if (t == NULL)
		return;
	for (i = 0; i < t->n; i++)
		free(t->v[i].mem);
	free(t->v);
	free(t);
}

size_t
tokens_count(const struct tokens *t)
{
	return t->n;
}

const struct tokens_entry *
tokens_at(const struct tokens *t, size_t i)
{
	return &t->v[i].e;
}

const struct tokens_entry *
tokens_find(const struct tokens *t, const char *token, size_t n)
{
	unsigned char	 d[SHA256_LEN];
	size_t		 i, at = 0, mask;
	unsigned	 eq, found = 0;

	sha256(token, n, d);
	for (i = 0; i < t->n; i++) {
		eq = (unsigned)sha256_equal(d, t->v[i].e.hash);
		mask = (size_t)0 - eq;		/* every bit set on a match */
		at |= i & mask;
		found |= eq;
	}
	explicit_bzero(d, sizeof(d));
	return found ? &t->v[at].e : NULL;
}

int
tokens_allows(const struct tokens_entry *en, const char *key, size_t klen,
    int write)
{
	size_t	 i, plen;

	if (en->metrics || (write && !en->rw))
		return 0;
	if (en->all)
		return 1;
	for (i = 0; i < en->nprefixes; i++) {
		plen = strlen(en->prefixes[i]);
		if (plen <= klen && memcmp(key, en->prefixes[i], plen) == 0)
			return 1;
	}
	return 0;
}

int
tokens_reads_metrics(const struct tokens_entry *en)
{
	return en->metrics || en->all;
}

/* ---- verstored token add and revoke ------------------------------------- */

static int
write_all(int fd, const void *p, size_t n)
{
	const char	*s = p;
	ssize_t		 w;

	while (n > 0) {
		if ((w = write(fd, s, n)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

/* fsync(2) of the directory that holds path, so a new name in it lasts. */
static int
sync_dir(const char *path)
{
	char	 dir[PATH_MAX], *slash;
	int	 fd, rc, saved;

	if ((size_t)snprintf(dir, sizeof(dir), "%s", path) >= sizeof(dir)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((slash = strrchr(dir, '/')) == NULL)
		strcpy(dir, ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	rc = fsync(fd);
	saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

static enum tokens_status
make_token(unsigned char raw[TOKENS_RANDOM_BYTES],
    char token[TOKENS_TOKEN_LEN + 1], struct tokens_err *e)
{
	size_t	 got = 0;
	ssize_t	 r;

	while (got < TOKENS_RANDOM_BYTES) {
		if ((r = getrandom(raw + got, TOKENS_RANDOM_BYTES - got, 0)) ==
		    -1) {
			if (errno == EINTR)
				continue;
			return fail_sys(e, TOKENS_RANDOM, errno);
		}
		got += (size_t)r;
	}
	base64url_encode(raw, TOKENS_RANDOM_BYTES, token);
	return TOKENS_OK;
}

/* Opens path to append to it, made mode 0640 when missing (*made 1). */
static int
open_append(const char *path, int *made)
{
	int	 fd;

	*made = 0;
	fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd != -1) {
		*made = 1;
		if (fchmod(fd, 0640) == -1) {
			close(fd);
			return -1;
		}
		return fd;
	}
	if (errno != EEXIST)
		return -1;
	return open(path, O_RDWR | O_APPEND | O_CLOEXEC);
}

enum tokens_status
tokens_add(const char *path, const char *name, enum tokens_mode mode,
    const char *const *pfx, size_t npfx, char token[TOKENS_TOKEN_LEN + 1],
    struct tokens_err *e)
{
	struct tokens		*t = NULL;
	struct buf		 line = { 0 };
	struct stat		 sb;
	unsigned char		 raw[TOKENS_RANDOM_BYTES], d[SHA256_LEN];
	char			 hex[2 * SHA256_LEN + 1], last = '\n';
	size_t			 i;
	int			 fd = -1, made = 0, closed;
	enum tokens_status	 rc;

	memset(e, 0, sizeof(*e));
	memset(token, 0, TOKENS_TOKEN_LEN + 1);
	if (!name_valid(name))
		return fail(e, TOKENS_NAME, 0, name);
	if (mode == TOKENS_METRICS && npfx > 0)
		return fail(e, TOKENS_METRICS_PREFIX, 0, pfx[0]);
	for (i = 0; i < npfx; i++)
		if (!prefix_ok(pfx[i], npfx))
			return fail(e, TOKENS_PREFIX, 0, pfx[i]);
	if ((rc = tokens_load(path, &t, e)) != TOKENS_OK) {
		if (rc != TOKENS_READ || e->sys != ENOENT)
			return rc;
		memset(e, 0, sizeof(*e));	/* no file yet: made below */
	}
	for (i = 0; t != NULL && i < t->n; i++)
		if (strcmp(t->v[i].e.name, name) == 0) {
			rc = fail(e, TOKENS_DUP_NAME, 0, name);
			e->other = t->v[i].e.line;
			goto out;
		}
	if ((rc = make_token(raw, token, e)) != TOKENS_OK)
		goto out;
	sha256(token, TOKENS_TOKEN_LEN, d);
	hex_encode(d, sizeof(d), hex);
	buf_printf(&line, "%s %s %s", name, hex, mode == TOKENS_METRICS ?
	    "metrics" : mode == TOKENS_RW ? "rw" : "ro");
	for (i = 0; i < npfx; i++)
		buf_printf(&line, " %s", pfx[i]);
	buf_puts(&line, npfx == 0 && mode != TOKENS_METRICS ? " *\n" : "\n");
	if (line.oom) {
		rc = fail(e, TOKENS_NOMEM, 0, NULL);
		goto out;
	}
	if ((fd = open_append(path, &made)) == -1 || fstat(fd, &sb) == -1) {
		rc = fail_sys(e, TOKENS_WRITE, errno);
		goto out;
	}
	/* a last line without its newline must not run into this one */
	if (sb.st_size > 0 && pread(fd, &last, 1, sb.st_size - 1) != 1) {
		rc = fail_sys(e, TOKENS_READ, errno);
		goto out;
	}
	if ((last != '\n' && write_all(fd, "\n", 1) == -1) ||
	    write_all(fd, line.p, line.len) == -1 || fsync(fd) == -1) {
		rc = fail_sys(e, TOKENS_WRITE, errno);
		goto out;
	}
	closed = close(fd);
	fd = -1;
	if (closed == -1 || (made && sync_dir(path) == -1))
		rc = fail_sys(e, TOKENS_WRITE, errno);
out:
	if (fd != -1)
		close(fd);
	explicit_bzero(raw, sizeof(raw));
	explicit_bzero(d, sizeof(d));
	if (rc != TOKENS_OK)
		explicit_bzero(token, TOKENS_TOKEN_LEN + 1);
	buf_free(&line);
	tokens_free(t);
	return rc;
}

enum tokens_status
tokens_revoke(const char *path, const char *name, struct tokens_err *e)
{
	struct tokens		*t = NULL;
	struct stat		 sb;
	FILE			*f = NULL;
	char			 tmp[PATH_MAX], *line = NULL;
	size_t			 cap = 0, i;
	ssize_t			 len;
	int			 fd = -1, made = 0, lineno = 0, drop = 0;
	int			 closed;
	enum tokens_status	 rc;

	memset(e, 0, sizeof(*e));
	if ((f = fopen(path, "re")) == NULL || fstat(fileno(f), &sb) == -1) {
		rc = fail_sys(e, TOKENS_READ, errno);
		goto out;
	}
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		rc = fail(e, TOKENS_NOMEM, 0, NULL);
		goto out;
	}
	if ((rc = load_stream(f, t, e)) != TOKENS_OK)
		goto out;
	for (i = 0; i < t->n; i++)
		if (strcmp(t->v[i].e.name, name) == 0)
			drop = t->v[i].e.line;
	if (drop == 0) {
		rc = fail(e, TOKENS_NO_NAME, 0, name);
		goto out;
	}

	/* the other lines, as they are, into a new file beside it */
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >=
	    sizeof(tmp)) {
		rc = fail_sys(e, TOKENS_WRITE, ENAMETOOLONG);
		goto out;
	}
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1) {
		rc = fail_sys(e, TOKENS_WRITE, errno);
		goto out;
	}
	made = 1;
	if (fchmod(fd, sb.st_mode & 07777) == -1 ||
	    ((sb.st_uid != geteuid() || sb.st_gid != getegid()) &&
	    fchown(fd, sb.st_uid, sb.st_gid) == -1)) {
		rc = fail_sys(e, TOKENS_WRITE, errno);
		goto out;
	}
	rewind(f);
	while ((len = getline(&line, &cap, f)) != -1)
		if (++lineno != drop && write_all(fd, line, (size_t)len) == -1) {
			rc = fail_sys(e, TOKENS_WRITE, errno);
			goto out;
		}
	if (ferror(f) || !feof(f)) {
		rc = fail_sys(e, TOKENS_READ, errno);
		goto out;
	}
	if (fsync(fd) == -1) {
		rc = fail_sys(e, TOKENS_WRITE, errno);
		goto out;
	}
	closed = close(fd);
	fd = -1;
	if (closed == -1 || rename(tmp, path) == -1) {
		rc = fail_sys(e, TOKENS_WRITE, errno);
		goto out;
	}
	made = 0;
	if (sync_dir(path) == -1)
		rc = fail_sys(e, TOKENS_WRITE, errno);
out:
	if (fd != -1)
		close(fd);
	if (made)
		unlink(tmp);
	free(line);
	tokens_free(t);
	if (f != NULL)
		fclose(f);
	return rc;
}

void
tokens_reason(const struct tokens_err *e, char *buf, size_t bufsz)
{
	switch (e->code) {
	case TOKENS_OK:
		snprintf(buf, bufsz, "no error");
		break;
	case TOKENS_READ:
		snprintf(buf, bufsz, "cannot read it: %s", strerror(e->sys));
		break;
	case TOKENS_WRITE:
		snprintf(buf, bufsz, "cannot write it: %s", strerror(e->sys));
		break;
	case TOKENS_NOMEM:
		snprintf(buf, bufsz, "out of memory");
		break;
	case TOKENS_FIELDS:
		snprintf(buf, bufsz, "expected \"NAME SHA256HEX ro|rw "
		    "PREFIX...\" or \"NAME SHA256HEX metrics\"");
		break;
	case TOKENS_NAME:
		snprintf(buf, bufsz, "NAME: expected 1 to %d of A-Z a-z 0-9 "
		    ". _ @ -, got \"%s\"", TOKENS_NAME_MAX, e->value);
		break;
	case TOKENS_HASH:
		snprintf(buf, bufsz, "SHA256HEX: expected the SHA-256 of the "
		    "token as 64 hex digits (never the token itself)");
		break;
	case TOKENS_MODE:
		snprintf(buf, bufsz, "expected ro, rw or metrics, got \"%s\"",
		    e->value);
		break;
	case TOKENS_METRICS_PREFIX:
		snprintf(buf, bufsz, "a metrics token reads /api/metrics and "
		    "no key, so it takes no PREFIX, got \"%s\"", e->value);
		break;
	case TOKENS_PREFIX:
		snprintf(buf, bufsz, "PREFIX: expected a key prefix (no "
		    "leading /, whitespace or control characters, at most %d "
		    "bytes, no * at its end) or * alone, got \"%s\"",
		    TOKENS_KEY_MAX, e->value);
		break;
	case TOKENS_DUP_NAME:
		snprintf(buf, bufsz, "the name \"%s\" is on line %d already",
		    e->value, e->other);
		break;
	case TOKENS_DUP_HASH:
		snprintf(buf, bufsz, "the same token as line %d", e->other);
		break;
	case TOKENS_NO_NAME:
		snprintf(buf, bufsz, "no token is named \"%s\"", e->value);
		break;
	case TOKENS_RANDOM:
		snprintf(buf, bufsz, "getrandom: %s", strerror(e->sys));
		break;
	default:
		snprintf(buf, bufsz, "error %d", (int)e->code);
		break;
	}
}
