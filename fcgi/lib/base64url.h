/* base64url.h - the URL- and file-safe base64 of RFC 4648 section 5. */
#ifndef BASE64URL_H
#define BASE64URL_H

#include <stddef.h>

/* The characters base64url_encode writes for n bytes, the NUL aside. */
#define BASE64URL_LEN(n)	(((n) * 4 + 2) / 3)

/*
 * Writes s[0..n) in base64url without padding ('=') and a NUL into out,
 * which holds BASE64URL_LEN(n) + 1 bytes.
 */
void	base64url_encode(const void *s, size_t n, char *out);

#endif
