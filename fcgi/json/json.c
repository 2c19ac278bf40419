/* json.c - strict JSON scanner; see json.h. */
#include <stdlib.h>
#include <string.h>

#include "json/json.h"
#include "lib/dec.h"
#include "lib/hex.h"
#include "lib/utf8.h"

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

/* Reads \uXXXX's four digits at s[i..]; returns the code unit or -1. */
static long
hex4(const char *s, size_t n, size_t i)
{
	long	 v = 0;
	int	 k, d;

	if (i + 4 > n)
		return -1;
	for (k = 0; k < 4; k++) {
		if ((d = hex_digit(s[i + k])) < 0)
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

/* ---- member names: I-JSON's rule, by decoded text ---------------------- */

/* Reads a checked string's decoded bytes one at a time. */
struct dec {
	const char	*s;
	size_t		 n, i;		/* s[i] is the next unread byte */
	char		 pend[4];	/* the rest of a decoded \u escape */
	size_t		 np, pi;
};

static size_t	put_utf8(char *, long);

static void
dec_init(struct dec *d, const char *s, size_t n)
{
	d->s = s;
	d->n = n > 0 && s[n - 1] == '"' ? n - 1 : n;	/* the closing quote */
	d->i = 1;
	d->np = d->pi = 0;
}

/* The next decoded byte, or -1 at the end. */
static int
dec_next(struct dec *d)
{
	const char	*s = d->s;
	long		 cp;
	char		 c;

	if (d->pi < d->np)
		return (unsigned char)d->pend[d->pi++];
	if (d->i >= d->n)
		return -1;
	if ((c = s[d->i++]) != '\\')
		return (unsigned char)c;
	switch ((c = s[d->i++])) {
	case 'b': return '\b';
	case 'f': return '\f';
	case 'n': return '\n';
	case 'r': return '\r';
	case 't': return '\t';
	case 'u':
		cp = hex4(s, d->n, d->i);
		d->i += 4;
		if (cp >= 0xd800 && cp <= 0xdbff) {
			cp = 0x10000 + ((cp - 0xd800) << 10) +
			    (hex4(s, d->n, d->i + 2) - 0xdc00);
			d->i += 6;
		}
		d->np = put_utf8(d->pend, cp);
		d->pi = 1;
		return (unsigned char)d->pend[0];
	default:
		return (unsigned char)c;
	}
}

int
json_str_cmp(const char *a, size_t an, const char *b, size_t bn)
{
	struct dec	 x, y;
	int		 ca, cb;

	if (memchr(a, '\\', an) == NULL && memchr(b, '\\', bn) == NULL) {
		ca = memcmp(a + 1, b + 1, (an < bn ? an : bn) - 2);
		return ca != 0 ? ca : (an > bn) - (an < bn);
	}
	dec_init(&x, a, an);
	dec_init(&y, b, bn);
	do {
		ca = dec_next(&x);
		cb = dec_next(&y);
	} while (ca == cb && ca != -1);
	return (ca > cb) - (ca < cb);
}

size_t
json_decode(const char *s, size_t n, char *out)
{
	struct dec	 d;
	size_t		 k = 0;
	int		 c;

	dec_init(&d, s, n);
	while ((c = dec_next(&d)) != -1)
		out[k++] = (char)c;
	return k;
}

int
json_name_is(const char *name, size_t namelen, const char *lit)
{
	return namelen == strlen(lit) && memcmp(name, lit, namelen) == 0;
}

/* The names of the objects open in json_check, innermost last. */
struct names {
	struct json_span	*v;
	size_t			 n, cap;
};

static int
names_push(struct names *nm, const char *p, size_t len)
{
	struct json_span	*v;
	size_t			 cap;

	if (nm->n == nm->cap) {
		cap = nm->cap ? nm->cap * 2 : 64;
		if ((v = realloc(nm->v, cap * sizeof(*v))) == NULL)
			return -1;
		nm->v = v;
		nm->cap = cap;
	}
	nm->v[nm->n].p = p;
	nm->v[nm->n++].n = len;
	return 0;
}

static int
span_cmp(const void *a, const void *b)
{
	const struct json_span	*x = a, *y = b;
	int			 c = json_str_cmp(x->p, x->n, y->p, y->n);

	/* equal names: the earlier one first, so the later one is reported */
	return c != 0 ? c : (x->p > y->p) - (x->p < y->p);
}

/* Sorts the names from nm->v[from] on; the later of a duplicate, or NULL. */
static const char *
names_dup(struct names *nm, size_t from)
{
	struct json_span	*v = nm->v + from;
	size_t			 k = nm->n - from, i;
	const char		*dup = NULL;

	if (k < 2)
		return NULL;
	qsort(v, k, sizeof(*v), span_cmp);
	for (i = 1; i < k; i++)
		if (json_str_cmp(v[i - 1].p, v[i - 1].n, v[i].p, v[i].n) == 0 &&
		    (dup == NULL || v[i].p < dup))
			dup = v[i].p;
	return dup;
}

enum json_err
json_check(const char *s, size_t n, int maxdepth, size_t *pos)
{
	char		 stack[JSON_MAX_DEPTH + 1];
	size_t		 mark[JSON_MAX_DEPTH + 1];	/* first name of each */
	struct names	 nm = { NULL, 0, 0 };
	const char	*dup;
	int		 depth = 0;
	size_t		 i = 0, at;
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
		mark[depth] = nm.n;
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
		if (stack[depth] == '{') {
			if ((dup = names_dup(&nm, mark[depth])) != NULL) {
				i = (size_t)(dup - s);
				rc = JSON_DUPLICATE;
				goto out;
			}
			nm.n = mark[depth];
		}
		i++;
		goto after;
	}
	goto out;
member:
	i = skip_ws(s, n, i);
	at = i;
	if (i >= n || s[i] != '"' || scan_string(s, n, &i) == -1)
		goto out;
	if (names_push(&nm, s + at, i - at) == -1) {
		rc = JSON_NOMEM;
		goto out;
	}
	i = skip_ws(s, n, i);
	if (i >= n || s[i] != ':')
		goto out;
	i++;
	goto value;
out:
	free(nm.v);
	if (pos != NULL)
		*pos = i;
	return rc;
}

size_t
json_skip(const char *s, size_t n, size_t i)
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
	struct dec	 d;
	size_t		 end = *i, len = 0;
	int		 c;

	(void)scan_string(s, n, &end);	/* checked text: it ends */
	dec_init(&d, s + *i, end - *i);
	while ((c = dec_next(&d)) != -1) {
		if (out != NULL && len + 1 < outsz)
			out[len] = (char)c;
		len++;
	}
	if (out != NULL && outsz > 0)
		out[len < outsz ? len : outsz - 1] = '\0';
	*i = end;
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
	i = json_skip(s, n, i);
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
	i = json_skip(s, n, i);
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
	if ((v.n > 1 && v.p[0] == '0') || dec_parse(v.p, v.n, out) != DEC_OK)
		return -1;
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
