/*
 * json.h - a strict RFC 8259 scanner for request bodies.
 *
 * verstore stores JSON values as the text the client sent (compacted), so
 * numbers keep every digit. This module validates that text (UTF-8,
 * grammar, nesting depth, I-JSON's distinct member names) and walks the
 * members of a top-level object without building a tree. Strings are
 * decoded to (bytes, length), so "\u0000" is a byte like any other.
 */
#ifndef JSON_H
#define JSON_H

#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

#define JSON_MAX_DEPTH	64

enum json_err {
	JSON_OK = 0,
	JSON_EMPTY,		/* nothing but white space */
	JSON_SYNTAX,		/* not JSON (incl. invalid UTF-8, bad escapes) */
	JSON_DEPTH,		/* nested deeper than the limit */
	JSON_DUPLICATE,		/* an object names one member twice */
	JSON_NOMEM,
};

/*
 * Checks that s[0..n) is exactly one JSON text nested at most maxdepth
 * levels (an object or array counts one level) whose objects name each
 * member once, names compared by their decoded text (RFC 7493 2.3). On
 * error *pos, when not NULL, is the byte offset where scanning stopped (for
 * JSON_DUPLICATE, where the second of the two names starts).
 */
enum json_err	json_check(const char *s, size_t n, int maxdepth, size_t *pos);

/* A slice of the caller's text. */
struct json_span {
	const char	*p;
	size_t		 n;
};

/*
 * Walks the members of the object that s[0..n) holds; s must have passed
 * json_check(). Start with *it = 0. Each call stores the member's name,
 * unescaped into name[0..namesz) (cut to fit, *namelen the full length),
 * and its value's raw text, then returns 1; it returns 0 after the last
 * member and -1 when s is not an object.
 */
int	json_member(const char *s, size_t n, size_t *it,
	    char *name, size_t namesz, size_t *namelen, struct json_span *val);

/*
 * Walks the elements of the array that s[0..n) holds (checked text), as
 * json_member() walks members: 1 with *val set, 0 after the last, -1 when
 * s is not an array.
 */
int	json_element(const char *s, size_t n, size_t *it, struct json_span *val);

/*
 * 1 when a name that json_member() stored (namelen bytes of the full name,
 * cut to namesz) is exactly lit: the full name, "\u0000" and all.
 */
int	json_name_is(const char *name, size_t namelen, const char *lit);

/* Skips the value of checked text at s[i]; returns the index after it. */
size_t	json_skip(const char *s, size_t n, size_t i);

/*
 * Decodes the checked string at s[0..n) (quotes included) into out, which
 * has room for n bytes; returns the decoded length (NULs included).
 */
size_t	json_decode(const char *s, size_t n, char *out);

/*
 * Compares the checked strings a[0..an) and b[0..bn) (quotes included) by
 * their decoded bytes, as memcmp does.
 */
int	json_str_cmp(const char *a, size_t an, const char *b, size_t bn);

/* Appends s[0..n) (valid JSON) to b without insignificant white space. */
void	json_compact(struct buf *b, const char *s, size_t n);

/*
 * Reads a JSON integer 0 <= v <= DEC_MAX (2^63 - 1, lib/dec.h) from a
 * checked value's text: digits alone, as JSON writes them (no leading
 * zero, no fraction or exponent). Returns 0, or -1 when the value is not
 * such a number.
 */
int	json_uint(struct json_span v, uint64_t *out);

/*
 * Unescapes the JSON string value v (with its quotes) into out[0..outsz),
 * NUL-terminated. Returns its length, or -1 when v is not a string or
 * does not fit.
 */
long	json_string(struct json_span v, char *out, size_t outsz);

#endif
