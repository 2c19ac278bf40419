/* hdr.c - HTTP header values; see hdr.h. */
#include <string.h>
#include <strings.h>

#include "http/hdr.h"
#include "lib/dec.h"

static const char *const wkday[7] = {
	"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"	/* 1970-01-01: Thu */
};
static const char *const wkday_long[7] = {
	"Thursday", "Friday", "Saturday", "Sunday", "Monday", "Tuesday",
	"Wednesday"
};
static const char *const month[12] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t		 era;
	unsigned	 yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t		 era;
	unsigned	 doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int
days_in_month(int64_t y, unsigned m)
{
	static const int dm[12] = {31,28,31,30,31,30,31,31,30,31,30,31};
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return dm[m - 1] + (m == 2 && leap);
}

static int64_t
floordiv(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* Writes v as exactly w decimal digits at p. */
static char *
put_dec(char *p, int64_t v, int w)
{
	int	 i;

	for (i = w - 1; i >= 0; i--) {
		p[i] = (char)('0' + v % 10);
		v /= 10;
	}
	return p + w;
}

/* Splits secs into a civil date and time, the year clamped to 0..9999. */
static void
split(int64_t secs, int64_t *y, unsigned *m, unsigned *d, int64_t *rem,
    int *wd)
{
	int64_t	 days;

	if (secs < -62167219200LL)	/* 0000-01-01 */
		secs = -62167219200LL;
	if (secs > 253402300799LL)	/* 9999-12-31T23:59:59 */
		secs = 253402300799LL;
	days = floordiv(secs, 86400);
	*rem = secs - days * 86400;
	*wd = (int)(((days % 7) + 7) % 7);
	civil_from_days(days, y, m, d);
}

void
hdr_http_date_fmt(int64_t secs, char out[HDR_DATE_LEN])
{
	int64_t		 y, rem;
	unsigned	 m, d;
	int		 wd;
	char		*p = out;

	split(secs, &y, &m, &d, &rem, &wd);
	memcpy(p, wkday[wd], 3);
	p += 3;
	*p++ = ',';
	*p++ = ' ';
	p = put_dec(p, d, 2);
	*p++ = ' ';
	memcpy(p, month[m - 1], 3);
	p += 3;
	*p++ = ' ';
	p = put_dec(p, y, 4);
	*p++ = ' ';
	p = put_dec(p, rem / 3600, 2);
	*p++ = ':';
	p = put_dec(p, rem / 60 % 60, 2);
	*p++ = ':';
	p = put_dec(p, rem % 60, 2);
	memcpy(p, " GMT", 5);
}

void
hdr_ts_fmt(int64_t us, char out[HDR_TS_LEN])
{
	int64_t		 secs = floordiv(us, 1000000), y, rem;
	unsigned	 m, d;
	int		 wd;
	char		*p = out;

	split(secs, &y, &m, &d, &rem, &wd);
	p = put_dec(p, y, 4);
	*p++ = '-';
	p = put_dec(p, m, 2);
	*p++ = '-';
	p = put_dec(p, d, 2);
	*p++ = 'T';
	p = put_dec(p, rem / 3600, 2);
	*p++ = ':';
	p = put_dec(p, rem / 60 % 60, 2);
	*p++ = ':';
	p = put_dec(p, rem % 60, 2);
	*p++ = '.';
	p = put_dec(p, us - secs * 1000000, 6);
	memcpy(p, "Z", 2);
}

/* Reads exactly n digits at s; returns the value or -1. */
static long
digits(const char *s, int n)
{
	long	 v = 0;
	int	 i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

static int
month_of(const char *s)
{
	int	 i;

	for (i = 0; i < 12; i++)
		if (strncmp(s, month[i], 3) == 0)
			return i + 1;
	return -1;
}

/* "HH:MM:SS" at s into seconds of the day, or -1. */
static long
clock_of(const char *s)
{
	long	 h = digits(s, 2), mi = digits(s + 3, 2), se = digits(s + 6, 2);

	if (h < 0 || mi < 0 || se < 0 || s[2] != ':' || s[5] != ':' ||
	    h > 23 || mi > 59 || se > 60)
		return -1;
	return h * 3600 + mi * 60 + (se == 60 ? 59 : se);
}

static enum hdr_err
make_date(int64_t y, long m, long d, long secs, int64_t *out)
{
	if (y < 1 || y > 9999 || m < 1 || m > 12 || d < 1 ||
	    d > days_in_month(y, (unsigned)m) || secs < 0)
		return HDR_INVALID;
	*out = days_from_civil(y, (unsigned)m, (unsigned)d) * 86400 + secs;
	return HDR_OK;
}

enum hdr_err
hdr_http_date(const char *s, int64_t *secs)
{
	size_t		 n = strlen(s), i;
	long		 d, m, y, c;
	const char	*p;

	/* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
	if (n == 29 && s[3] == ',') {
		for (i = 0; i < 7; i++)
			if (strncmp(s, wkday[i], 3) == 0)
				break;
		if (i == 7 || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' ||
		    s[16] != ' ' || s[25] != ' ' || strcmp(s + 26, "GMT") != 0)
			return HDR_INVALID;
		d = digits(s + 5, 2);
		m = month_of(s + 8);
		y = digits(s + 12, 4);
		c = clock_of(s + 17);
		if (d < 0 || m < 0 || y < 0 || c < 0)
			return HDR_INVALID;
		return make_date(y, m, d, c, secs);
	}
	/* asctime: "Sun Nov  6 08:49:37 1994" */
	if (n == 24 && s[3] == ' ') {
		if (s[7] != ' ' || s[10] != ' ' || s[19] != ' ')
			return HDR_INVALID;
		m = month_of(s + 4);
		d = s[8] == ' ' ? digits(s + 9, 1) : digits(s + 8, 2);
		c = clock_of(s + 11);
		y = digits(s + 20, 4);
		if (d < 0 || m < 0 || y < 0 || c < 0)
			return HDR_INVALID;
		return make_date(y, m, d, c, secs);
	}
	/* RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT" */
	for (i = 0; i < 7; i++) {
		size_t	 w = strlen(wkday_long[i]);

		if (strncmp(s, wkday_long[i], w) != 0 || n != w + 24)
			continue;
		p = s + w;
		if (p[0] != ',' || p[1] != ' ' || p[4] != '-' || p[8] != '-' ||
		    p[11] != ' ' || strcmp(p + 21, "GMT") != 0 || p[20] != ' ')
			return HDR_INVALID;
		d = digits(p + 2, 2);
		m = month_of(p + 5);
		y = digits(p + 9, 2);
		c = clock_of(p + 12);
		if (d < 0 || m < 0 || y < 0 || c < 0)
			return HDR_INVALID;
		/* RFC 9110: a two-digit year more than 50 years ahead is past. */
		y += y < 70 ? 2000 : 1900;
		return make_date(y, m, d, c, secs);
	}
	return HDR_INVALID;
}

enum hdr_err
hdr_ts(const char *s, size_t n, int64_t *us)
{
	long		 y, mo, d, h, mi, se, f = 0;
	size_t		 i, nf = 0;
	int64_t		 secs;

	if (n < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' &&
	    s[10] != 't') || s[13] != ':' || s[16] != ':')
		return HDR_INVALID;
	y = digits(s, 4);
	mo = digits(s + 5, 2);
	d = digits(s + 8, 2);
	h = digits(s + 11, 2);
	mi = digits(s + 14, 2);
	se = digits(s + 17, 2);
	if (y < 0 || mo < 0 || d < 0 || h < 0 || mi < 0 || se < 0 ||
	    h > 23 || mi > 59 || se > 59)
		return HDR_INVALID;
	i = 19;
	if (s[i] == '.') {
		for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++, nf++) {
			if (nf >= 6)
				return HDR_INVALID;
			f = f * 10 + (s[i] - '0');
		}
		if (nf == 0)
			return HDR_INVALID;
		for (; nf < 6; nf++)
			f *= 10;
	}
	if (i + 1 != n || (s[i] != 'Z' && s[i] != 'z'))
		return HDR_INVALID;
	if (make_date(y, mo, d, h * 3600 + mi * 60 + se, &secs) != HDR_OK)
		return HDR_INVALID;
	*us = secs * 1000000 + f;
	return HDR_OK;
}

static int
is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* etagc: %x21 / %x23-7E / obs-text */
static int
is_etagc(unsigned char c)
{
	return c == 0x21 || (c >= 0x23 && c != 0x7f);
}

/*
 * Classifies a tag's opaque text: a version, a timestamp, or other. A
 * version is as an ETag writes it, without a leading zero: a tag is text,
 * and "07" is not the tag "7".
 */
static void
classify(const char *s, size_t n, struct hdr_tag *t)
{
	uint64_t	 v;

	t->kind = HDR_TAG_OTHER;
	if ((n == 1 || (n > 1 && s[0] != '0')) &&
	    dec_parse(s, n, &v) == DEC_OK) {
		t->kind = HDR_TAG_VERSION;
		t->version = v;
		return;
	}
	if (hdr_ts(s, n, &t->updated_us) == HDR_OK)
		t->kind = HDR_TAG_UPDATED;
}

enum hdr_err
hdr_etags(const char *s, struct hdr_tag *tags, size_t max, size_t *n,
    int *any)
{
	const char	*p = s, *q;
	struct hdr_tag t;

	*n = 0;
	*any = 0;
	while (is_ows(*p))
		p++;
	if (*p == '*') {
		for (p++; is_ows(*p); p++)
			;
		if (*p != '\0')
			return HDR_INVALID;
		*any = 1;
		return HDR_OK;
	}
	for (;;) {
		while (is_ows(*p) || *p == ',')
			p++;
		if (*p == '\0')
			break;
		memset(&t, 0, sizeof(t));
		if (p[0] == 'W' && p[1] == '/') {
			t.weak = 1;
			p += 2;
		}
		if (*p == '"') {
			for (q = ++p; *q != '"'; q++)
				if (!is_etagc((unsigned char)*q))
					return HDR_INVALID;
			classify(p, (size_t)(q - p), &t);
			p = q + 1;
		} else {
			/* a bare version or timestamp, for compatibility */
			if (t.weak)
				return HDR_INVALID;
			for (q = p; *q != '\0' && *q != ',' && !is_ows(*q); q++)
				;
			classify(p, (size_t)(q - p), &t);
			if (t.kind == HDR_TAG_OTHER)
				return HDR_INVALID;
			p = q;
		}
		while (is_ows(*p))
			p++;
		if (*p != ',' && *p != '\0')
			return HDR_INVALID;
		if (*n == max)
			return HDR_TOO_MANY;
		tags[(*n)++] = t;
	}
	return *n == 0 ? HDR_INVALID : HDR_OK;
}

int
hdr_media(const char *ct, const char *want)
{
	size_t	 n = strlen(want);

	if (ct == NULL)
		return 0;
	while (is_ows(*ct))
		ct++;
	if (strncasecmp(ct, want, n) != 0)
		return 0;
	ct += n;
	while (is_ows(*ct))
		ct++;
	return *ct == '\0' || *ct == ';';
}

int
hdr_list_has(const char *list, const char *tok)
{
	size_t		 n = strlen(tok);
	const char	*p = list;

	if (list == NULL)
		return 0;
	while (*p != '\0') {
		while (is_ows(*p) || *p == ',')
			p++;
		if (strncasecmp(p, tok, n) == 0) {
			const char *e = p + n;

			while (is_ows(*e))
				e++;
			if (*e == '\0' || *e == ',' || *e == ';')
				return 1;
		}
		/* to the next element: a comma in a quoted string is not one */
		while (*p != '\0' && *p != ',') {
			if (*p++ != '"')
				continue;
			while (*p != '\0' && *p != '"')
				if (*p++ == '\\' && *p != '\0')
					p++;
			if (*p == '"')
				p++;
		}
	}
	return 0;
}

enum hdr_err
hdr_uint(const char *s, uint64_t *out)
{
	if (s == NULL || dec_parse(s, strlen(s), out) != DEC_OK)
		return HDR_INVALID;
	return HDR_OK;
}
