/* rec.c - the on-disk record format; see rec.h. */
#include <string.h>

#include "store/store.h"
#include "rec.h"

int
rec_decode(const void *p, size_t n, struct rec *r)
{
	const unsigned char	*b = p;
	uint16_t		 plen, fklen;
	size_t			 head;

	if (n < REC_HEAD_1 || (b[0] != 1 && b[0] != REC_FORMAT))
		return -1;
	head = b[0] == 1 ? REC_HEAD_1 : REC_HEAD;
	if (n < head)
		return -1;
	memset(r, 0, sizeof(*r));
	r->flags = b[1];
	memcpy(&plen, b + 2, 2);
	memcpy(&fklen, b + 4, 2);
	memcpy(&r->version, b + 8, 8);
	memcpy(&r->created_us, b + 16, 8);
	memcpy(&r->updated_us, b + 24, 8);
	memcpy(&r->lastmod_s, b + 32, 8);
	if (head == REC_HEAD)
		memcpy(&r->seq, b + 40, 8);
	if (!(r->flags & REC_FULLKEY))
		fklen = 0;
	if ((size_t)plen + fklen > n - head)
		return -1;
	r->principal = (const char *)b + head;
	r->plen = plen;
	r->fullkey = r->principal + plen;
	r->fklen = fklen;
	r->value = r->fullkey + fklen;
	r->vlen = n - head - plen - fklen;
	return 0;
}

size_t
rec_size(const struct rec *r)
{
	return REC_HEAD + r->plen + r->fklen + r->vlen;
}

void
rec_encode(const struct rec *r, void *out)
{
	unsigned char	*b = out;
	uint16_t	 plen = (uint16_t)r->plen, fklen = (uint16_t)r->fklen;

	memset(b, 0, REC_HEAD);
	b[0] = REC_FORMAT;
	b[1] = (unsigned char)r->flags;
	memcpy(b + 2, &plen, 2);
	memcpy(b + 4, &fklen, 2);
	memcpy(b + 8, &r->version, 8);
	memcpy(b + 16, &r->created_us, 8);
	memcpy(b + 24, &r->updated_us, 8);
	memcpy(b + 32, &r->lastmod_s, 8);
	memcpy(b + 40, &r->seq, 8);
	if (r->plen)
		memcpy(b + REC_HEAD, r->principal, r->plen);
	if (r->fklen)
		memcpy(b + REC_HEAD + r->plen, r->fullkey, r->fklen);
	if (r->vlen)
		memcpy(b + REC_HEAD + r->plen + r->fklen, r->value, r->vlen);
}

void
rec_meta(const struct rec *r, struct store_meta *m)
{
	size_t	 n = r->plen > STORE_PRINCIPAL_MAX ? STORE_PRINCIPAL_MAX : r->plen;

	m->version = r->version;
	m->created_us = r->created_us;
	m->updated_us = r->updated_us;
	m->lastmod_s = r->lastmod_s;
	m->deleted = (r->flags & REC_TOMBSTONE) != 0;
	if (n > 0)
		memcpy(m->principal, r->principal, n);
	m->principal[n] = '\0';
}
