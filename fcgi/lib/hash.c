/* hash.c - FNV-1a 64 and a keyed hash for in-memory indexes; see hash.h. */
#include <sys/random.h>
#include <time.h>

#include "lib/hash.h"

#define FNV_OFFSET	0xcbf29ce484222325ULL
#define FNV_PRIME	0x100000001b3ULL

uint64_t
hash_fnv_step(uint64_t h, const void *s, size_t n, uint64_t prime)
{
	const unsigned char	*p = s;
	size_t			 i;

	for (i = 0; i < n; i++) {
		h ^= p[i];
		h *= prime;
	}
	return h;
}

uint64_t
hash_fnv1a64(const void *s, size_t n)
{
	return hash_fnv_step(FNV_OFFSET, s, n, FNV_PRIME);
}

uint64_t
hash_key(void)
{
	uint64_t	 k;
	struct timespec	 ts;

	if (getrandom(&k, sizeof(k), GRND_NONBLOCK) == (ssize_t)sizeof(k))
		return k;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_nsec * FNV_PRIME ^ (uint64_t)ts.tv_sec;
}

uint64_t
hash_keyed(uint64_t key, const void *s, size_t n)
{
	uint64_t	 h;

	h = hash_fnv_step(FNV_OFFSET ^ key, s, n, FNV_PRIME) ^ key;

	/* a finaliser (MurmurHash3's) so that the low bits depend on all */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}
