/* hex.h - hexadecimal digits. */
#ifndef HEX_H
#define HEX_H

/* The value of the hex digit c (either case), or -1. */
int	hex_digit(char c);

#endif
