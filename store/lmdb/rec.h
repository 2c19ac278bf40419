/*
 * rec.h - the on-disk record format (private to store/lmdb/).
 *
 *   off  size  field
 *     0     1  format (REC_FORMAT)
 *     1     1  flags: REC_TOMBSTONE, REC_FULLKEY
 *     2     2  principal length
 *     4     2  full key length (REC_FULLKEY only)
 *     6     2  zero
 *     8     8  version
 *    16     8  created_us
 *    24     8  updated_us
 *    32     8  lastmod_s
 *    40     8  seq: the change that wrote it (API.md 7)
 *    48        principal, then the full key, then the JSON value
 *
 * Format 1, written before the change feed, has no seq: its head ends at
 * 40, and it reads as seq 0 (no change in the feed until it is written
 * again). Every record written now is format 2.
 *
 * Host byte order: an LMDB file is not portable across endianness anyway.
 */
#ifndef REC_H
#define REC_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define REC_FORMAT	2
#define REC_HEAD	48
#define REC_HEAD_1	40		/* format 1 */
#define REC_TOMBSTONE	0x01
#define REC_FULLKEY	0x02

struct rec {
	unsigned	 flags;
	uint64_t	 version;
	int64_t		 created_us;
	int64_t		 updated_us;
	int64_t		 lastmod_s;
	uint64_t	 seq;
	const char	*principal;	/* borrowed */
	size_t		 plen;
	const char	*fullkey;	/* borrowed; REC_FULLKEY only */
	size_t		 fklen;
	const char	*value;		/* borrowed */
	size_t		 vlen;
};

/* Points r's fields into p[0..n); returns 0, or -1 when p is no record. */
int	rec_decode(const void *p, size_t n, struct rec *r);
size_t	rec_size(const struct rec *r);
/* Writes r into out[0..rec_size(r)). */
void	rec_encode(const struct rec *r, void *out);
/* The state r records (the principal cut to STORE_PRINCIPAL_MAX). */
void	rec_meta(const struct rec *r, struct store_meta *m);

#endif
