/*
 * hdr.h - parsing and formatting of HTTP header values: entity-tag lists,
 * HTTP-dates (RFC 9110 5.6.7), RFC 3339 timestamps, media types.
 * Pure functions; no allocation.
 */
#ifndef HDR_H
#define HDR_H

#include <stddef.h>
#include <stdint.h>

enum hdr_err {
	HDR_OK = 0,
	HDR_INVALID,		/* malformed */
	HDR_TOO_MANY,		/* more entity tags than asked for */
};

/* One entity tag, read for what it may name. */
enum hdr_tag_kind {
	HDR_TAG_VERSION,	/* "7", or a bare 7 */
	HDR_TAG_UPDATED,	/* a bare RFC 3339 timestamp */
	HDR_TAG_OTHER,		/* well-formed, and anything else */
};
struct hdr_tag {
	enum hdr_tag_kind	kind;
	int			weak;
	uint64_t		version;
	int64_t			updated_us;
};

#define HDR_DATE_LEN	30	/* "Sun, 06 Nov 1994 08:49:37 GMT" + NUL */
#define HDR_TS_LEN	28	/* "2026-11-22T18:58:30.123456Z" + NUL */

/*
 * Parses an If-Match / If-None-Match value: "*" (sets *any) or a list of
 * entity tags, where a bare version (7) or bare RFC 3339 timestamp also
 * counts as one tag.
 */
enum hdr_err	hdr_etags(const char *s, struct hdr_tag *tags, size_t max,
		    size_t *n, int *any);
/* Parses an HTTP-date in any of its three forms into seconds (UTC). */
enum hdr_err	hdr_http_date(const char *s, int64_t *secs);
void		hdr_http_date_fmt(int64_t secs, char out[HDR_DATE_LEN]);
/* RFC 3339 UTC with six fractional digits, as API.md section 1 says. */
void		hdr_ts_fmt(int64_t us, char out[HDR_TS_LEN]);
/* Parses "YYYY-MM-DDTHH:MM:SS[.f{1,6}]Z" (case-insensitive T and Z). */
enum hdr_err	hdr_ts(const char *s, size_t n, int64_t *us);
/* 1 when Content-Type ct names type/subtype want (case-insensitive). */
int		hdr_media(const char *ct, const char *want);
/* 1 when the comma-separated list holds tok (case-insensitive). */
int		hdr_list_has(const char *list, const char *tok);
/*
 * Parses a header's decimal (Last-Event-ID) as dec_parse does: digits
 * only, 0 to DEC_MAX; HDR_INVALID for anything else.
 */
enum hdr_err	hdr_uint(const char *s, uint64_t *out);

#endif
