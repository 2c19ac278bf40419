/*
 * fuzz_hdr.c - the header parsers: entity-tag lists, HTTP dates, RFC 3339
 * times, media types, integers. Properties: a date that parses prints
 * back to a date that parses to the same second; a timestamp likewise.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/hdr.h"

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
	free(s);
	return 0;
}
