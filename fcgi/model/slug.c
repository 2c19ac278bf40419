/* slug.c - see slug.h. */
#include <string.h>

#include "model/slug.h"
#include "lib/utf8.h"

/* U+00C0 .. U+00FF folded to ASCII; "" for the two signs among them. */
static const char *const latin1[64] = {
	"a", "a", "a", "a", "a", "a", "ae", "c",	/* C0 */
	"e", "e", "e", "e", "i", "i", "i", "i",		/* C8 */
	"d", "n", "o", "o", "o", "o", "o", "",		/* D0, D7 x */
	"o", "u", "u", "u", "u", "y", "th", "ss",	/* D8 */
	"a", "a", "a", "a", "a", "a", "ae", "c",	/* E0 */
	"e", "e", "e", "e", "i", "i", "i", "i",		/* E8 */
	"d", "n", "o", "o", "o", "o", "o", "",		/* F0, F7 / */
	"o", "u", "u", "u", "u", "y", "th", "y",	/* F8 */
};

size_t
slug_fold(const char *s, size_t n, char out[SLUG_MAX + 1])
{
	const unsigned char	*u = (const unsigned char *)s;
	const char		*fold;
	char			 one[2] = { 0, 0 };
	size_t			 i = 0, o = 0, k;
	int			 dash = 0;

	while (i < n && o < SLUG_MAX) {
		fold = NULL;
		k = utf8_seq(u + i, n - i);
		if (k == 1 && ((u[i] >= 'a' && u[i] <= 'z') ||
		    (u[i] >= '0' && u[i] <= '9'))) {
			one[0] = (char)u[i];
			fold = one;
		} else if (k == 1 && u[i] >= 'A' && u[i] <= 'Z') {
			one[0] = (char)(u[i] - 'A' + 'a');
			fold = one;
		} else if (k == 2 && u[i] == 0xc3) {
			/* U+00C0 .. U+00FF: C3 80 .. C3 BF */
			fold = latin1[u[i + 1] - 0x80];
		}
		i += k == 0 ? 1 : k;
		if (fold == NULL || fold[0] == '\0') {
			dash = 1;
			continue;
		}
		if (dash && o > 0)
			out[o++] = '-';
		dash = 0;
		for (; *fold != '\0' && o < SLUG_MAX; fold++)
			out[o++] = *fold;
	}
	while (o > 0 && out[o - 1] == '-')
		o--;
	if (o == 0) {
		memcpy(out, "item", 5);
		return 4;
	}
	out[o] = '\0';
	return o;
}
