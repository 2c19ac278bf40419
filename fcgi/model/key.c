/* key.c - key decoding and validation; see key.h. */
#include <string.h>

#include "model/key.h"
#include "lib/hex.h"
#include "lib/utf8.h"

static enum key_err
check_segments(const char *s, size_t n)
{
	size_t	 i, start = 0, len;

	for (i = 0; i <= n; i++) {
		if (i < n && s[i] != '/')
			continue;
		len = i - start;
		if (len == 0 || (len == 1 && s[start] == '.') ||
		    (len == 2 && s[start] == '.' && s[start + 1] == '.'))
			return KEY_SEGMENT;
		start = i + 1;
	}
	return KEY_OK;
}

long
key_decode(const char *raw, size_t n, char *out, size_t outsz)
{
	size_t	 i, o = 0;
	int	 hi, lo;
	char	 c;

	for (i = 0; i < n; i++) {
		c = raw[i];
		if (c == '%') {
			if (i + 2 >= n || (hi = hex_digit(raw[i + 1])) < 0 ||
			    (lo = hex_digit(raw[i + 2])) < 0)
				return -1;
			c = (char)(hi * 16 + lo);
			i += 2;
		}
		if (o + 1 >= outsz)
			return -1;
		out[o++] = c;
	}
	if (outsz > 0)
		out[o] = '\0';
	return (long)o;
}

static enum key_err	check(struct key *, size_t);

enum key_err
key_parse(const char *raw, size_t n, struct key *k)
{
	size_t		 i;
	long		 len;

	memset(k, 0, sizeof(*k));
	/* a key longer than STORE_KEY_MAX does not fit k->s */
	if ((len = key_decode(raw, n, k->s, sizeof(k->s))) < 0) {
		for (i = 0; i < n; i++)
			if (raw[i] == '%' && (i + 2 >= n || hex_digit(raw[i + 1]) < 0 ||
			    hex_digit(raw[i + 2]) < 0))
				return KEY_ENCODING;
		return KEY_LENGTH;
	}
	return check(k, (size_t)len);
}

enum key_err
key_check(const char *s, size_t n, struct key *k)
{
	memset(k, 0, sizeof(*k));
	if (n > STORE_KEY_MAX)
		return KEY_LENGTH;
	memcpy(k->s, s, n);
	k->s[n] = '\0';
	return check(k, n);
}

/* Validates the decoded key k->s[0..o). */
static enum key_err
check(struct key *k, size_t o)
{
	size_t		 i;
	unsigned char	 c;

	if (!utf8_valid(k->s, o))
		return KEY_UTF8;
	for (i = 0; i < o; i++) {
		c = (unsigned char)k->s[i];
		if (c < 0x20 || c == 0x7f)
			return KEY_CONTROL;
	}
	if (o > 0 && k->s[o - 1] == '/') {
		k->prefix = 1;
		k->n = o;
		k->reserved = k->s[0] == '_';
		return o == 1 ? KEY_SEGMENT : check_segments(k->s, o - 1);
	}
	if (o == 0) {
		k->prefix = 1;	/* the empty prefix: every key */
		return KEY_OK;
	}
	k->n = o;
	k->reserved = k->s[0] == '_';
	return check_segments(k->s, o);
}

size_t
key_encode(const char *s, size_t n, char *out, size_t outsz)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t		  i, o = 0;
	unsigned char	  c;

	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("-._~/!$&'()*+,;=:@", c)) {
			if (o + 1 >= outsz)
				break;
			out[o++] = (char)c;
		} else {
			if (o + 3 >= outsz)
				break;
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	if (outsz > 0)
		out[o] = '\0';
	return o;
}
