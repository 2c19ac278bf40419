/*
 * wmany.c - many queued writes in one statement (Q_WRITES): the rows' new
 * states go as arrays, one element a write, and the statement unnests
 * them into verstore_kv, verstore_history and the history's pruning, so a
 * batch's writes cost the database one statement, not one each, while
 * its transaction holds the seq row; see pg_int.h.
 *
 * An upsert may not touch one row twice, so the keys of one statement
 * differ: pgwm_span says how many writes, from the first, go together.
 * Values are copied into the arrays, so a span also stops at
 * PG_WMANY_BYTES of them; a write alone goes as Q_WRITE.
 */
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "store/store.h"
#include "pg_int.h"

/* The element types' oids, as the binary array form names them. */
#define OID_BOOL	16
#define OID_BYTEA	17
#define OID_INT8	20

/* The columns, in Q_WRITES's order: $1.. */
enum { C_KEY, C_VALUE, C_VERSION, C_CREATED, C_UPDATED, C_LASTMOD,
	C_DELETED, C_PRINCIPAL, C_SEQ, C_PRUNE, C_N };

static const uint32_t col_oid[C_N] = { OID_BYTEA, OID_BYTEA, OID_INT8,
	OID_INT8, OID_INT8, OID_INT8, OID_BOOL, OID_BYTEA, OID_INT8,
	OID_INT8 };

size_t
pgwm_span(const struct pgwrite *w, size_t n)
{
	size_t	 k, j, bytes = 0;

	for (k = 0; k < n; k++) {
		for (j = 0; j < k; j++)
			if (w[j].row == w[k].row ||
			    (w[j].row->klen == w[k].row->klen &&
			    memcmp(w[j].row->key, w[k].row->key,
			    w[k].row->klen) == 0))
				return k;
		bytes += w[k].value != NULL ? w[k].value->len : 0;
		if (k > 0 && bytes > PG_WMANY_BYTES)
			return k;
	}
	return k;
}

/* The bytes of element c of w, NULL for SQL's NULL; *len its length. */
static const void *
elem(const struct pgwrite *w, int c, unsigned char *num, uint32_t *len)
{
	uint64_t	 u;
	int		 i;

	switch (c) {
	case C_KEY:
		*len = (uint32_t)w->row->klen;
		return w->row->key;
	case C_VALUE:
		if (w->value == NULL)
			return NULL;
		*len = (uint32_t)w->value->len;
		return w->value->data;
	case C_PRINCIPAL:
		*len = (uint32_t)strlen(w->meta.principal);
		return w->meta.principal;
	case C_DELETED:
		num[0] = w->meta.deleted != 0;
		*len = 1;
		return num;
	case C_VERSION: u = w->meta.version; break;
	case C_CREATED: u = (uint64_t)w->meta.created_us; break;
	case C_UPDATED: u = (uint64_t)w->meta.updated_us; break;
	case C_LASTMOD: u = (uint64_t)w->meta.lastmod_s; break;
	case C_SEQ: u = w->seq; break;
	default: u = w->prune; break;
	}
	for (i = 7; i >= 0; i--, u >>= 8)
		num[i] = (unsigned char)(u & 0xff);
	*len = 8;
	return num;
}

int
pgwm_send(struct pgconn *pc, const struct pgwrite *w, size_t n)
{
	unsigned char	*buf, *p, num[8];
	const void	*e;
	size_t		 size = 0, i;
	uint32_t	 len;
	struct pgq	 q;
	int		 c, ok;

	for (c = 0; c < C_N; c++)
		for (size += PG_ARRAY_HEAD, i = 0; i < n; i++) {
			e = elem(&w[i], c, num, &len);
			size += 4 + (e != NULL ? len : 0);
		}
	if ((buf = malloc(size)) == NULL)
		return 0;
	pgq_init(&q);
	for (p = buf, c = 0; c < C_N; c++) {
		unsigned char	*head = p;

		pg_array_head(p, (uint32_t)n);
		pg_put_u32(p + 8, col_oid[c]);
		for (p += PG_ARRAY_HEAD, i = 0; i < n; i++) {
			if ((e = elem(&w[i], c, num, &len)) == NULL) {
				pg_put_u32(p, 0xffffffffu);	/* NULL */
				pg_put_u32(head + 4, 1);
				p += 4;
				continue;
			}
			pg_put_u32(p, len);
			memcpy(p + 4, e, len);
			p += 4 + len;
		}
		pgq_bytes(&q, head, (size_t)(p - head));
	}
	ok = pg_send(pc, Q_WRITES, &q);
	free(buf);	/* libpq has copied it */
	return ok;
}
