/*
 * fuzz_act.c - activity set POST bodies through act_post_parse.
 * Property: a body that parses names each id once (a second parse of the
 * same body gives the same verdict), and whatever it is, nothing leaks.
 */
#include <stdint.h>
#include <stdlib.h>

#include "model/act.h"
#include "json/json.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct act_post	*p = NULL, *q = NULL;
	const char	*s = (const char *)data;
	enum act_err	 a, b;

	if (json_check(s, size, JSON_MAX_DEPTH, NULL) != JSON_OK)
		return 0;
	a = act_post_parse(s, size, &p);
	b = act_post_parse(s, size, &q);
	if (a != b || (a == ACT_OK) != (p != NULL))
		abort();
	act_post_free(p);
	act_post_free(q);
	return 0;
}
