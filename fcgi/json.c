/* json.c - strict JSON scanner; see json.h. */
#include <string.h>

#include "json.h"
#include "utf8.h"

static int
is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static size_t
skip_ws(const char *s, size_t n, size_t i)
{
	while (i < n && is_ws(s[i]))
		i++;
	return i;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Reads \uXXXX's four digits at s[i..]; returns the code unit or -1. */
static long
hex4(const char *s, size_t n, size_t i)
{
	long	 v = 0;
	int	 k, d;

	if (i + 4 > n)
		return -1;
	for (k = 0; k < 4; k++) {
		if ((d = hexval(s[i + k])) < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

/*
 * Scans the string starting at s[*i] == '"'; leaves *i after the closing
 * quote. Returns 0 or -1.
 */
static int
scan_string(const char *s, size_t n, size_t *i)
{
	const unsigned char	*u = (const unsigned char *)s;
	size_t			 j = *i + 1, k;
	long			 cu, lo;

	while (j < n) {
		if (u[j] == '"') {
			*i = j + 1;
			return 0;
		}
		if (u[j] < 0x20)
			return -1;
		if (u[j] >= 0x80) {
			if ((k = utf8_seq(u + j, n - j)) == 0)
				return -1;
			j += k;
			continue;
		}
		if (u[j] != '\\') {
			j++;
			continue;
		}
		if (++j >= n)
			return -1;
		switch (s[j]) {
		case '"': case '\\': case '/': case 'b':
		case 'f': case 'n': case 'r': case 't':
			j++;
			break;
		case 'u':
			if ((cu = hex4(s, n, j + 1)) < 0)
				return -1;
			j += 5;
			if (cu >= 0xdc00 && cu <= 0xdfff)
				return -1;	/* lone low surrogate */
			if (cu >= 0xd800 && cu <= 0xdbff) {
				if (j + 6 > n || s[j] != '\\' || s[j + 1] != 'u')
					return -1;
				lo = hex4(s, n, j + 2);
				if (lo < 0xdc00 || lo > 0xdfff)
					return -1;
				j += 6;
			}
			break;
		default:
			return -1;
		}
	}
	return -1;
}

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int
scan_number(const char *s, size_t n, size_t *i)
{
	size_t	 j = *i;

	if (j < n && s[j] == '-')
		j++;
	if (j >= n)
		return -1;
	if (s[j] == '0')
		j++;
	else if (s[j] >= '1' && s[j] <= '9') {
		while (j < n && is_digit(s[j]))
			j++;
	} else
		return -1;
	if (j < n && s[j] == '.') {
		if (++j >= n || !is_digit(s[j]))
			return -1;
		while (j < n && is_digit(s[j]))
			j++;
	}
	if (j < n && (s[j] == 'e' || s[j] == 'E')) {
		j++;
		if (j < n && (s[j] == '+' || s[j] == '-'))
			j++;
		if (j >= n || !is_digit(s[j]))
			return -1;
		while (j < n && is_digit(s[j]))
			j++;
	}
	*i = j;
	return 0;
}

static int
scan_literal(const char *s, size_t n, size_t *i, const char *lit)
{
	size_t	 len = strlen(lit);

	if (n - *i < len || memcmp(s + *i, lit, len) != 0)
		return -1;
	*i += len;
	return 0;
}

enum json_err
json_check(const char *s, size_t n, int maxdepth, size_t *pos)
{
	char		 stack[JSON_MAX_DEPTH + 1];
	int		 depth = 0;
	size_t		 i = 0;
	enum json_err	 rc = JSON_SYNTAX;

	if (maxdepth > JSON_MAX_DEPTH)
		maxdepth = JSON_MAX_DEPTH;
	i = skip_ws(s, n, i);
	if (i == n) {
		rc = JSON_EMPTY;
		goto out;
	}
value:
	i = skip_ws(s, n, i);
	if (i >= n)
		goto out;
	switch (s[i]) {
	case '{':
	case '[':
		if (depth >= maxdepth) {
			rc = JSON_DEPTH;
			goto out;
		}
		stack[depth++] = s[i++];
		i = skip_ws(s, n, i);
		if (i < n && s[i] == (stack[depth - 1] == '{' ? '}' : ']')) {
			depth--;
			i++;
			goto after;
		}
		if (stack[depth - 1] == '{')
			goto member;
		goto value;
	case '"':
		if (scan_string(s, n, &i) == -1)
			goto out;
		break;
	case 't':
		if (scan_literal(s, n, &i, "true") == -1)
			goto out;
		break;
	case 'f':
		if (scan_literal(s, n, &i, "false") == -1)
			goto out;
		break;
	case 'n':
		if (scan_literal(s, n, &i, "null") == -1)
			goto out;
		break;
	default:
		if (scan_number(s, n, &i) == -1)
			goto out;
		break;
	}
after:
	i = skip_ws(s, n, i);
	if (depth == 0) {
		if (i == n)
			rc = JSON_OK;
		goto out;
	}
	if (i >= n)
		goto out;
	if (s[i] == ',') {
		i++;
		if (stack[depth - 1] == '{')
			goto member;
		goto value;
	}
	if (s[i] == (stack[depth - 1] == '{' ? '}' : ']')) {
		depth--;
		i++;
		goto after;
	}
	goto out;
member:
	i = skip_ws(s, n, i);
	if (i >= n || s[i] != '"' || scan_string(s, n, &i) == -1)
		goto out;
	i = skip_ws(s, n, i);
	if (i >= n || s[i] != ':')
		goto out;
	i++;
	goto value;
out:
	if (pos != NULL)
		*pos = i;
	return rc;
}

/* Skips one value of checked text at s[i]; returns the index after it. */
static size_t
skip_value(const char *s, size_t n, size_t i)
{
	int	 depth = 0;

	do {
		if (s[i] == '"') {
			(void)scan_string(s, n, &i);
			continue;
		}
		if (s[i] == '{' || s[i] == '[')
			depth++;
		else if (s[i] == '}' || s[i] == ']')
			depth--;
		else if (depth == 0) {
			while (i < n && !is_ws(s[i]) && s[i] != ',' &&
			    s[i] != '}' && s[i] != ']')
				i++;
			return i;
		}
		i++;
	} while (i < n && depth > 0);
	return i;
}

/* Encodes code point cp as UTF-8 into out; returns the byte count. */
static size_t
put_utf8(char *out, long cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/*
 * Unescapes the checked string at s[*i] into out (cut at outsz - 1 bytes,
 * NUL-terminated); leaves *i after it; returns the full unescaped length.
 */
static size_t
unescape(const char *s, size_t n, size_t *i, char *out, size_t outsz)
{
	size_t	 j = *i + 1, len = 0, w = 0, k;
	char	 tmp[4];
	long	 cp;

	while (j < n && s[j] != '"') {
		if (s[j] != '\\') {
			tmp[0] = s[j++];
			k = 1;
		} else {
			j++;
			switch (s[j]) {
			case 'b': tmp[0] = '\b'; k = 1; j++; break;
			case 'f': tmp[0] = '\f'; k = 1; j++; break;
			case 'n': tmp[0] = '\n'; k = 1; j++; break;
			case 'r': tmp[0] = '\r'; k = 1; j++; break;
			case 't': tmp[0] = '\t'; k = 1; j++; break;
			case 'u':
				cp = hex4(s, n, j + 1);
				j += 5;
				if (cp >= 0xd800 && cp <= 0xdbff) {
					cp = 0x10000 + ((cp - 0xd800) << 10) +
					    (hex4(s, n, j + 2) - 0xdc00);
					j += 6;
				}
				k = put_utf8(tmp, cp);
				break;
			default: tmp[0] = s[j++]; k = 1; break;
			}
		}
		if (out != NULL && w == len && len + k < outsz) {
			memcpy(out + len, tmp, k);
			w += k;
		}
		len += k;
	}
	*i = j + 1;
	if (out != NULL && outsz > 0)
		out[w] = '\0';
	return len;
}

int
json_member(const char *s, size_t n, size_t *it, char *name, size_t namesz,
    size_t *namelen, struct json_span *val)
{
	size_t	 i = *it, start;

	if (i == 0) {
		i = skip_ws(s, n, 0);
		if (i >= n || s[i] != '{')
			return -1;
		i++;
	}
	i = skip_ws(s, n, i);
	if (i < n && s[i] == ',')
		i = skip_ws(s, n, i + 1);
	if (i >= n || s[i] != '"') {
		*it = n;
		return 0;
	}
	*namelen = unescape(s, n, &i, name, namesz);
	i = skip_ws(s, n, i);
	i = skip_ws(s, n, i + 1);	/* the ':' */
	start = i;
	i = skip_value(s, n, i);
	val->p = s + start;
	val->n = i - start;
	*it = i;
	return 1;
}

int
json_element(const char *s, size_t n, size_t *it, struct json_span *val)
{
	size_t	 i = *it, start;

	if (i == 0) {
		i = skip_ws(s, n, 0);
		if (i >= n || s[i] != '[')
			return -1;
		i++;
	}
	i = skip_ws(s, n, i);
	if (i < n && s[i] == ',')
		i = skip_ws(s, n, i + 1);
	if (i >= n || s[i] == ']') {
		*it = n;
		return 0;
	}
	start = i;
	i = skip_value(s, n, i);
	val->p = s + start;
	val->n = i - start;
	*it = i;
	return 1;
}

void
json_compact(struct buf *b, const char *s, size_t n)
{
	size_t	 i = 0, run = 0, j;

	while (i < n) {
		if (s[i] == '"') {
			j = i;
			(void)scan_string(s, n, &j);
			i = j;
			continue;
		}
		if (is_ws(s[i])) {
			buf_add(b, s + run, i - run);
			while (i < n && is_ws(s[i]))
				i++;
			run = i;
			continue;
		}
		i++;
	}
	buf_add(b, s + run, n - run);
}

int
json_uint(struct json_span v, uint64_t *out)
{
	uint64_t	 x = 0;
	size_t		 i;

	if (v.n == 0 || v.n > 16 || (v.n > 1 && v.p[0] == '0'))
		return -1;
	for (i = 0; i < v.n; i++) {
		if (!is_digit(v.p[i]))
			return -1;
		x = x * 10 + (uint64_t)(v.p[i] - '0');
	}
	if (x > ((uint64_t)1 << 53))
		return -1;
	*out = x;
	return 0;
}

long
json_string(struct json_span v, char *out, size_t outsz)
{
	size_t	 i = 0, len;

	if (v.n < 2 || v.p[0] != '"' || outsz == 0)
		return -1;
	len = unescape(v.p, v.n, &i, out, outsz);
	if (len >= outsz)
		return -1;
	return (long)len;
}
