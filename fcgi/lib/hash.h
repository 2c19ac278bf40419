/*
 * hash.h - the hashes verstore uses: FNV-1a 64, whose values are part of
 * the stored data (activity sets route items by it, API.md 6; the LMDB
 * store files its longest keys under it), and a keyed hash for the
 * indexes built in memory while a request runs, whose random key makes
 * names and ids chosen to collide useless.
 */
#ifndef HASH_H
#define HASH_H

#include <stddef.h>
#include <stdint.h>

/*
 * Goes on with an FNV-1a-style hash h over s[0..n), with the given prime
 * (FNV-1a 64's is 0x100000001b3).
 */
uint64_t	hash_fnv_step(uint64_t h, const void *s, size_t n,
		    uint64_t prime);
/* FNV-1a 64 over s[0..n). */
uint64_t	hash_fnv1a64(const void *s, size_t n);
/* A random key for hash_keyed (getrandom; never blocks). */
uint64_t	hash_key(void);
/* A hash of s[0..n) under key, well mixed in every bit. */
uint64_t	hash_keyed(uint64_t key, const void *s, size_t n);

#endif
