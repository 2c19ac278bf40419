/* hex.h - hexadecimal digits. */
#ifndef HEX_H
#define HEX_H

#include <stddef.h>

/* The value of the hex digit c (either case), or -1. */
int	hex_digit(char c);
/* Writes s[0..n) as 2n lower-case hex digits and a NUL into out. */
void	hex_encode(const void *s, size_t n, char *out);

#endif
