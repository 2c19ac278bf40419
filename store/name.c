/*
 * name.c - the names of created keys (API.md 3.6), decided inside the
 * write transaction so that concurrent creates never get the same one;
 * see store_int.h.
 */
#include <stdio.h>
#include <string.h>

#include "store/store.h"
#include "store/store_int.h"

#define NAME_TRIES	1000000

uint64_t
name_id(int64_t now, uint64_t last)
{
	uint64_t	 id = (uint64_t)now << 8;

	return id > last ? id : last + 1;
}

/*
 * A slug takes the first free of slug, slug-2, slug-3, ...; without one,
 * each try is a fresh id, which is free but for a clash in the backend.
 */
enum store_err
name_pick(struct store_op *op, const struct name_backend *be)
{
	static const char hex[] = "0123456789abcdef";
	enum store_err	 err;
	uint64_t	 id, i;
	size_t		 n;
	int		 k, sfx;
	char		 num[24];

	if (op->klen > STORE_KEY_MAX)
		return STORE_INVALID;
	memcpy(op->new_key, op->key, op->klen);
	for (i = 1; i <= NAME_TRIES; i++) {
		n = op->klen;
		if (op->slug != NULL && op->slug_len > 0) {
			sfx = i > 1 ? snprintf(num, sizeof(num), "-%llu",
			    (unsigned long long)i) : 0;
			if (n + op->slug_len + (size_t)sfx > STORE_KEY_MAX)
				return STORE_INVALID;
			memcpy(op->new_key + n, op->slug, op->slug_len);
			memcpy(op->new_key + n + op->slug_len, num, (size_t)sfx);
			n += op->slug_len + (size_t)sfx;
		} else {
			if (n + 16 > STORE_KEY_MAX)
				return STORE_INVALID;
			if ((err = be->id(be->arg, &id)) != STORE_OK)
				return err;
			for (k = 15; k >= 0; k--, id >>= 4)
				op->new_key[n + (size_t)k] = hex[id & 15];
			n += 16;
		}
		op->new_key[n] = '\0';
		op->new_klen = n;
		err = be->look(be->arg, op->new_key, n);
		if (err != STORE_OK && err != STORE_KEY_CLASH)
			return err;	/* free, or an error */
	}
	return STORE_INVALID;
}
