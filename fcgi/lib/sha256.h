/*
 * sha256.h - SHA-256 (FIPS 180-4), and a comparison of two digests that
 * takes the same time whatever they hold, for digests of secrets.
 */
#ifndef SHA256_H
#define SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN	32	/* bytes in a digest */

struct sha256 {
	uint32_t	h[8];
	uint64_t	len;		/* bytes hashed so far */
	unsigned char	blk[64];	/* a block not yet full */
	size_t		nblk;
};

void	sha256_init(struct sha256 *);
void	sha256_update(struct sha256 *, const void *, size_t);
/* Writes the digest; the state is then spent (sha256_init to reuse it). */
void	sha256_final(struct sha256 *, unsigned char out[SHA256_LEN]);
/* The digest of s[0..n) in one call. */
void	sha256(const void *s, size_t n, unsigned char out[SHA256_LEN]);
/*
 * 1 when the two digests are equal, else 0. It reads every byte of both
 * and neither branches nor indexes on their values, so its time says
 * nothing about where they differ.
 */
int	sha256_equal(const unsigned char a[SHA256_LEN],
	    const unsigned char b[SHA256_LEN]);

#endif
