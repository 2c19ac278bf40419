/*
 * tokens.h - the tokens file that conf "tokens" names (API.md 9): who may
 * use the API under "auth token", reading or writing, and which keys, or
 * reading the metrics alone.
 *
 * One line per token:
 *
 *	NAME SHA256HEX ro|rw PREFIX...
 *	NAME SHA256HEX metrics
 *
 * NAME is 1 to 64 of A-Z a-z 0-9 . _ @ -, once in the file; it is the
 * principal (updated_by, the "by" of stamped appends). SHA256HEX is the
 * SHA-256 of the token as the client presents it (its base64url text), as
 * 64 hex digits: the file never holds a token, and no two lines the same
 * digest. ro: reads only; rw: reads and writes. Each PREFIX is a key
 * prefix as keys are written (API.md 2: no leading '/'), or "*" alone for
 * every key. metrics: reads GET /api/metrics and no key, and takes no
 * PREFIX (the metrics name every tenant's prefixes and the store's seq,
 * so only such a token or one for "*" reads them). Fields are separated by spaces or tabs; a line whose first
 * non-blank character is '#' is a comment; blank lines are allowed.
 *
 * Prefixes match bytes, nothing more: a key is within a prefix when it
 * starts with the prefix's bytes. "crm/" covers "crm/a" and "crm/a/b" but
 * not "crm"; "crm" covers "crm" and "crm/a", and "crmx" too. A prefix
 * meant as a folder therefore ends with '/', and `verstored token add
 * --prefix` warns when one does not. A prefix cannot hold whitespace or
 * control characters, and cannot end with '*': a star there would be
 * taken as a wildcard, yet it would only match a key holding that very
 * byte, so "crm/" is written instead.
 *
 * A loaded table is never changed: threads may share it without locks.
 * No message this module makes holds a token or a digest field's text
 * (someone may have pasted the token itself there).
 */
#ifndef TOKENS_H
#define TOKENS_H

#include <stddef.h>

#include "lib/sha256.h"

#define TOKENS_NAME_MAX		64
#define TOKENS_KEY_MAX		512	/* a prefix's bytes; STORE_KEY_MAX */
#define TOKENS_RANDOM_BYTES	32	/* from getrandom(2) */
#define TOKENS_TOKEN_LEN	43	/* their base64url, unpadded */

/* A token's mode, the third field. */
enum tokens_mode {
	TOKENS_RO = 0,		/* "ro" */
	TOKENS_RW = 1,		/* "rw" */
	TOKENS_METRICS = 2,	/* "metrics" */
};

struct tokens_entry {
	const char		 *name;
	unsigned char		  hash[SHA256_LEN];
	int			  rw;		/* 1: reads and writes */
	int			  metrics;	/* 1: the metrics, no key */
	int			  all;		/* "*": every key */
	size_t			  nprefixes;	/* 0 when all or metrics */
	const char *const	 *prefixes;	/* NUL-terminated */
	int			  line;		/* in the file, 1-based */
};

struct tokens;

enum tokens_status {
	TOKENS_OK = 0,
	TOKENS_READ,		/* the file cannot be read (errno in sys) */
	TOKENS_WRITE,		/* it, its new copy or its directory cannot
				   be written (errno in sys) */
	TOKENS_NOMEM,
	TOKENS_FIELDS,		/* fewer than four fields (three for
				   metrics) */
	TOKENS_NAME,		/* NAME is not 1 to 64 of the characters */
	TOKENS_HASH,		/* not 64 hex digits */
	TOKENS_MODE,		/* neither ro, rw nor metrics */
	TOKENS_METRICS_PREFIX,	/* a metrics token given a PREFIX */
	TOKENS_PREFIX,		/* not a key prefix, or "*" among others */
	TOKENS_DUP_NAME,	/* NAME is on line other already */
	TOKENS_DUP_HASH,	/* the digest is on line other already */
	TOKENS_NO_NAME,		/* revoke: no token has that NAME */
	TOKENS_RANDOM,		/* getrandom(2) failed (errno in sys) */
};

struct tokens_err {
	enum tokens_status	code;
	int			line;	/* 1-based; 0 when not about a line */
	int			other;	/* TOKENS_DUP_*: the earlier line */
	int			sys;	/* errno: TOKENS_READ, _WRITE, _RANDOM */
	char			value[72]; /* the field at fault, cut to fit;
					      never a digest field */
};

/*
 * Reads the file at path into a new table (*out, for tokens_free). On an
 * error *out is NULL and where says what and on which line.
 */
enum tokens_status	tokens_load(const char *path, struct tokens **out,
			    struct tokens_err *where);
void			tokens_free(struct tokens *);	/* NULL-safe */
size_t			tokens_count(const struct tokens *);
/* Entry i, 0 <= i < tokens_count, in the file's order. */
const struct tokens_entry *tokens_at(const struct tokens *, size_t i);
/*
 * The entry of the token a client presented, token[0..n), or NULL.
 * Its digest is compared with every entry's, each in constant time and
 * without stopping at a match; no branch depends on the token's bytes.
 */
const struct tokens_entry *tokens_find(const struct tokens *,
			    const char *token, size_t n);
/*
 * 1 when the entry may read (write 0) or write (write 1) key[0..klen):
 * the key starts with one of its prefixes (any key for "*"), and a write
 * needs rw. Else 0, and always 0 for a metrics token.
 */
int			tokens_allows(const struct tokens_entry *,
			    const char *key, size_t klen, int write);
/* 1 when the entry may read the metrics: a metrics token, or one for "*". */
int			tokens_reads_metrics(const struct tokens_entry *);

/*
 * verstored token add: makes a token of TOKENS_RANDOM_BYTES from
 * getrandom(2), writes its base64url and a NUL into token, and appends its
 * line to the file at path (created mode 0640 when missing), synced
 * before it returns. npfx 0 means "*", but for TOKENS_METRICS, which takes
 * none (TOKENS_METRICS_PREFIX). Refuses a bad name or prefix (line 0,
 * value the one at fault), a file that does not load, and a name that it
 * holds already. token holds nothing unless TOKENS_OK.
 */
enum tokens_status	tokens_add(const char *path, const char *name,
			    enum tokens_mode mode,
			    const char *const *pfx, size_t npfx,
			    char token[TOKENS_TOKEN_LEN + 1],
			    struct tokens_err *where);
/*
 * verstored token revoke: rewrites the file at path without the line of
 * name, atomically (a new copy in the same directory, with the file's
 * mode and owner, synced, renamed over it, the directory synced); the
 * other lines, comments included, stay as they were.
 */
enum tokens_status	tokens_revoke(const char *path, const char *name,
			    struct tokens_err *where);
/* What went wrong, in words, without the path and the line. */
void			tokens_reason(const struct tokens_err *, char *buf,
			    size_t bufsz);

#endif
