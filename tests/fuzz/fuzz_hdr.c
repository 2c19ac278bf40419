/*
 * fuzz_hdr.c - the header parsers: entity-tag lists, HTTP dates, RFC 3339
 * times, media types, integers. Properties: a date that parses prints
 * back to a date that parses to the same second; a timestamp likewise; an
 * integer that parses is at most DEC_MAX and is its digits' value (what
 * it prints as, after its leading zeros), and one of digits alone that
 * does not parse is above DEC_MAX.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/hdr.h"
#include "lib/dec.h"

/* The integer properties of s[0..n). */
static void
check_dec(const char *s, size_t n)
{
	char		 back[24];
	uint64_t	 u;
	size_t		 z, digits;
	enum dec_err	 e;

	for (digits = 0; digits < n && s[digits] >= '0' && s[digits] <= '9';
	    digits++)
		;
	e = dec_parse(s, n, &u);
	if (n == 0 || digits < n) {
		if (e != DEC_SYNTAX)
			abort();
		return;
	}
	for (z = 0; z + 1 < n && s[z] == '0'; z++)
		;
	if (e == DEC_RANGE) {
		/* more than 19 digits, or 19 above the largest */
		if (n - z < 19 || (n - z == 19 &&
		    memcmp(s + z, "9223372036854775807", 19) <= 0))
			abort();
		return;
	}
	if (e != DEC_OK || u > DEC_MAX)
		abort();
	snprintf(back, sizeof(back), "%llu", (unsigned long long)u);
	if (strlen(back) != n - z || memcmp(back, s + z, n - z) != 0)
		abort();
}

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hdr_tag	 tags[32];
	char			*s, out[HDR_DATE_LEN], ts[HDR_TS_LEN];
	size_t			 n;
	int			 any;
	int64_t			 t, t2;
	uint64_t		 u;

	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	(void)hdr_etags(s, tags, 32, &n, &any);
	if (hdr_http_date(s, &t) == HDR_OK) {
		hdr_http_date_fmt(t, out);
		if (hdr_http_date(out, &t2) != HDR_OK || t2 != t)
			abort();
	}
	if (hdr_ts(s, size, &t) == HDR_OK) {
		hdr_ts_fmt(t, ts);
		if (hdr_ts(ts, strlen(ts), &t2) != HDR_OK || t2 != t)
			abort();
	}
	(void)hdr_media(s, "application/json");
	(void)hdr_list_has(s, "merge");
	(void)hdr_uint(s, &u);
	check_dec((const char *)data, size);
	free(s);
	return 0;
}
