/*
 * fuzz_wire.c - libFuzzer target for fcgi/wire.c: the input's first byte
 * picks the size of the pieces it is fed in (as reads would split it),
 * the rest is the byte stream. A complete request is then read back
 * (every param, the body) and answered, as http.c would.
 */
#include <stdint.h>
#include <string.h>

#include "http/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct wire_param	*pr;
	struct wire		 w;
	struct buf		 out = { 0 };
	size_t			 step, at = 0, k, used, n, i, len;
	volatile size_t		 sum = 0;
	const char		*body;

	if (size == 0)
		return 0;
	step = (size_t)data[0] % 64 + 1;
	data++;
	size--;
	wire_init(&w, 4096);
	while (at < size && !wire_done(&w)) {
		k = size - at < step ? size - at : step;
		if (wire_feed(&w, data + at, k, &used) != WIRE_OK)
			break;
		if (used > k)
			__builtin_trap();
		at += used;
	}
	if (wire_done(&w)) {
		pr = wire_params(&w, &n);
		for (i = 0; i < n; i++)
			sum += strlen(pr[i].name) + strlen(pr[i].value) +
			    pr[i].name_len + pr[i].value_len;
		body = wire_body(&w, &len);
		if (len > 4096 || (len > 0 && body[len] != '\0'))
			__builtin_trap();
		if (sum == (size_t)-1)
			__builtin_trap();
		(void)wire_param(&w, "CONTENT_LENGTH");
		wire_stdout(&out, w.id, body, len);
		wire_end(&out, w.id);
	}
	buf_free(&out);
	wire_free(&w);
	return 0;
}
