/* dec.c - decimal integers; see dec.h. */
#include "lib/dec.h"

enum dec_err
dec_parse(const char *s, size_t n, uint64_t *out)
{
	uint64_t	 x = 0, d;
	size_t		 i;
	int		 over = 0;

	if (n == 0)
		return DEC_SYNTAX;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return DEC_SYNTAX;
		d = (uint64_t)(s[i] - '0');
		if (over || x > (DEC_MAX - d) / 10)
			over = 1;	/* read on: a later non-digit is SYNTAX */
		else
			x = x * 10 + d;
	}
	if (over)
		return DEC_RANGE;
	*out = x;
	return DEC_OK;
}
