/*
 * fuzz_json.c - the strict scanner. Properties: what passes json_check
 * passes at every larger depth limit; its compact form passes again and
 * compacts to itself; walking members or elements ends; a string's
 * decoded bytes compare equal to themselves.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "json/json.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char		*s = (const char *)data;
	struct buf		 a = { 0 }, b = { 0 };
	struct json_span	 v;
	char			 name[16], *dec;
	size_t			 it = 0, nlen, k = 0;
	int			 d;

	if (json_check(s, size, JSON_MAX_DEPTH, NULL) != JSON_OK) {
		for (d = 1; d < JSON_MAX_DEPTH; d++)
			if (json_check(s, size, d, NULL) == JSON_OK)
				abort();	/* a smaller limit cannot pass */
		return 0;
	}
	json_compact(&a, s, size);
	if (a.oom || json_check(a.p, a.len, JSON_MAX_DEPTH, NULL) != JSON_OK)
		abort();
	json_compact(&b, a.p, a.len);
	if (b.len != a.len || memcmp(a.p, b.p, a.len) != 0)
		abort();
	while (json_member(a.p, a.len, &it, name, sizeof(name), &nlen, &v) == 1)
		if (++k > a.len || v.n == 0)
			abort();
	it = 0;
	while (json_element(a.p, a.len, &it, &v) == 1) {
		if (++k > 2 * a.len || v.n == 0)
			abort();
		if (v.p[0] == '"') {
			if ((dec = malloc(v.n)) == NULL)
				break;
			if (json_decode(v.p, v.n, dec) > v.n ||
			    json_str_cmp(v.p, v.n, v.p, v.n) != 0)
				abort();
			free(dec);
		}
	}
	buf_free(&a);
	buf_free(&b);
	return 0;
}
