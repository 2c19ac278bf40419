/* utf8.h - strict UTF-8 validation (RFC 3629: no overlongs, no surrogates). */
#ifndef UTF8_H
#define UTF8_H

#include <stddef.h>

/*
 * Returns the length of the valid UTF-8 sequence at s[0..n), 1 to 4,
 * or 0 when the bytes there are not valid UTF-8.
 */
size_t	utf8_seq(const unsigned char *s, size_t n);
/* Returns 1 when all of s[0..n) is valid UTF-8, else 0. */
int	utf8_valid(const char *s, size_t n);

#endif
