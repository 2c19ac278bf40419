/*
 * key.h - keys as API.md section 2 defines them: taken from the raw request
 * target, percent-decoded once, then validated.
 */
#ifndef KEY_H
#define KEY_H

#include <stddef.h>

#include "store/store.h"

enum key_err {
	KEY_OK = 0,
	KEY_ENCODING,		/* bad percent-encoding */
	KEY_LENGTH,		/* empty or over STORE_KEY_MAX bytes */
	KEY_UTF8,		/* not valid UTF-8 */
	KEY_CONTROL,		/* a control character */
	KEY_SEGMENT,		/* an empty, "." or ".." segment */
};

struct key {
	char	 s[STORE_KEY_MAX + 1];	/* decoded, NUL-terminated */
	size_t	 n;
	int	 prefix;	/* it ended in '/': a prefix (may be empty) */
	int	 reserved;	/* its first segment starts with '_' */
};

/*
 * Decodes raw[0..n) (the path after "/api/storage/", up to but not
 * including '?') into *k and validates it. An empty raw is the empty
 * prefix.
 */
enum key_err	key_parse(const char *raw, size_t n, struct key *k);
/* Validates the key s[0..n) as it is (no percent-decoding) into *k. */
enum key_err	key_check(const char *s, size_t n, struct key *k);
/*
 * Percent-decodes raw[0..n) once into out (NUL-terminated). Returns the
 * length, or -1 on a malformed escape or when it does not fit outsz.
 */
long		key_decode(const char *raw, size_t n, char *out, size_t outsz);
/*
 * Writes s[0..n) percent-encoded for a URI path into out (NUL-terminated,
 * cut to fit outsz); returns the length written.
 */
size_t		key_encode(const char *s, size_t n, char *out, size_t outsz);

#endif
