/*
 * quota.c - per-prefix quotas (store.h, struct store_quota) whatever
 * backend keeps their usage: the quotas a store was opened with, which
 * of them cover a key, and the check and charge of a write's bytes; see
 * store_int.h.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "store/store_int.h"

enum store_err
quota_init(struct quota_set *qs, const struct store_opts *o)
{
	size_t	 i;
	char	*p;

	memset(qs, 0, sizeof(*qs));
	if (o->nquotas > STORE_QUOTAS_MAX)
		return STORE_INVALID;
	for (i = 0; i < o->nquotas; i++)
		if (o->quotas[i].plen == 0 ||
		    o->quotas[i].plen > STORE_QUOTA_PREFIX_MAX)
			return STORE_INVALID;
	for (i = 0; i < o->nquotas; i++) {
		if ((p = malloc(o->quotas[i].plen)) == NULL) {
			quota_fini(qs);
			return STORE_NOMEM;
		}
		memcpy(p, o->quotas[i].prefix, o->quotas[i].plen);
		qs->q[i] = o->quotas[i];
		qs->q[i].prefix = p;
		qs->n++;
	}
	return STORE_OK;
}

void
quota_fini(struct quota_set *qs)
{
	size_t	 i;

	for (i = 0; i < qs->n; i++)
		free((char *)qs->q[i].prefix);
	qs->n = 0;
}

int
quota_covers(const struct store_quota *q, const char *key, size_t klen)
{
	return klen >= q->plen && memcmp(key, q->prefix, q->plen) == 0;
}

int64_t
quota_bytes(size_t klen, int live, size_t vlen)
{
	return live ? (int64_t)(klen + vlen) : 0;
}

enum store_err
quota_charge(const struct quota_set *qs, const struct quota_backend *be,
    const char *key, size_t klen, int64_t delta, struct store_op *op)
{
	uint64_t	 used;
	enum store_err	 err;
	size_t		 i;
	int		 found;

	if (delta == 0)
		return STORE_OK;
	/* every quota that covers key first, so that a refusal writes none */
	for (i = 0; delta > 0 && i < qs->n; i++) {
		if (!quota_covers(&qs->q[i], key, klen))
			continue;
		if ((err = be->get(be->arg, i, &used, &found)) != STORE_OK)
			return err;
		if (found && (used > qs->q[i].bytes ||
		    (uint64_t)delta > qs->q[i].bytes - used)) {
			op->quota = i;
			op->quota_used = used;
			return STORE_QUOTA;
		}
	}
	for (i = 0; i < qs->n; i++)
		if (quota_covers(&qs->q[i], key, klen) &&
		    (err = be->add(be->arg, i, delta)) != STORE_OK)
			return err;
	return STORE_OK;
}
