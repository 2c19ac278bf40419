/*
 * dec.h - the decimal integers of a request: query parameters, versions
 * in headers and bodies, Last-Event-ID (API.md 1). One reading for all
 * of them, so that each takes the same range and says so.
 */
#ifndef DEC_H
#define DEC_H

#include <stddef.h>
#include <stdint.h>

/* The largest: 2^63 - 1, a signed 64-bit integer (PostgreSQL's bigint). */
#define DEC_MAX		((uint64_t)INT64_MAX)

enum dec_err {
	DEC_OK = 0,
	DEC_SYNTAX,	/* empty, or not only the digits 0-9 */
	DEC_RANGE,	/* digits, but a value above DEC_MAX */
};

/*
 * Reads s[0..n) as a decimal from 0 to DEC_MAX into *out: the digits 0-9,
 * at least one, nothing else (no sign, no blank); leading zeros are
 * allowed ("007" is 7). Each digit is checked for overflow before it is
 * added, so any n is safe. *out is set only on DEC_OK.
 */
enum dec_err	dec_parse(const char *s, size_t n, uint64_t *out);

#endif
