/*
 * fuzz_key.c - keys and slugs. Properties: a key that parses re-validates
 * as it is, and its percent-encoding parses back to it; a slug is 1 to
 * SLUG_MAX bytes of [a-z0-9-], no '-' at either end.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/key.h"
#include "model/slug.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct key	 k, k2, k3;
	static char		 enc[3 * STORE_KEY_MAX + 1];
	char			 slug[SLUG_MAX + 1];
	const char		*s = (const char *)data;
	size_t			 n, i;

	if (key_parse(s, size, &k) == KEY_OK && k.n > 0) {
		if (key_check(k.s, k.n, &k2) != KEY_OK || k2.n != k.n)
			abort();
		n = key_encode(k.s, k.n, enc, sizeof(enc));
		if (key_parse(enc, n, &k3) != KEY_OK || k3.n != k.n ||
		    memcmp(k3.s, k.s, k.n) != 0)
			abort();
	}
	n = slug_fold(s, size, slug);
	if (n > SLUG_MAX || strlen(slug) != n)
		abort();
	for (i = 0; i < n; i++)
		if (!((slug[i] >= 'a' && slug[i] <= 'z') ||
		    (slug[i] >= '0' && slug[i] <= '9') || slug[i] == '-'))
			abort();
	if (n > 0 && (slug[0] == '-' || slug[n - 1] == '-'))
		abort();
	return 0;
}
