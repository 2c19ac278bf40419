/*
 * store.c - store.h's functions, handed to the backend that opened the
 * store (store_int.h, struct store_backend), and the ones that need no
 * backend at all.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "store/store_int.h"

/* The backend of a store, or of a store_io: its head's table. */
#define BE(p)	(((const struct store_head *)(const void *)(p))->be)

enum store_err
store_open(const struct store_opts *o, store **out)
{
	*out = NULL;
	switch (o->backend) {
	case STORE_BACKEND_LMDB:
		return store_open_lmdb(o, out);
	case STORE_BACKEND_POSTGRES:
#ifdef STORE_HAVE_PG
		return store_open_pg(o, out);
#else
		if (o->log != NULL)
			o->log(0, __func__, "backend postgres: this verstored "
			    "was built without libpq (libpq-fe.h missing); "
			    "install libpq-dev and rebuild");
		return STORE_INVALID;
#endif
	default:
		return STORE_INVALID;
	}
}

enum store_err
store_check(const struct store_opts *o)
{
	switch (o->backend) {
	case STORE_BACKEND_LMDB:
		return STORE_OK;
	case STORE_BACKEND_POSTGRES:
#ifdef STORE_HAVE_PG
		return store_check_pg(o);
#else
		return STORE_INVALID;
#endif
	default:
		return STORE_INVALID;
	}
}

void
store_close(store *st)
{
	if (st != NULL)
		BE(st)->close(st);
}

void
store_thread_end(store *st)
{
	BE(st)->thread_end(st);
}

enum store_err
store_get(store *st, const char *key, size_t klen, struct store_meta *meta,
    char **value, size_t *vlen)
{
	return BE(st)->get(st, key, klen, meta, value, vlen);
}

enum store_err
store_list(store *st, const char *prefix, size_t plen, const char *after,
    size_t alen, size_t limit, int with_values, struct store_list *out)
{
	return BE(st)->list(st, prefix, plen, after, alen, limit, with_values,
	    out);
}

void
store_list_free(struct store_list *l)
{
	size_t	 i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++) {
		free(l->items[i].key);
		free(l->items[i].value);
	}
	free(l->items);
	memset(l, 0, sizeof(*l));
}

enum store_err
store_io_get(store_io *io, const char *key, size_t klen,
    struct store_meta *meta, const char **value, size_t *vlen)
{
	return BE(io)->io_get(io, key, klen, meta, value, vlen);
}

enum store_err
store_io_put(store_io *io, const char *key, size_t klen, const char *value,
    size_t vlen, struct store_meta *meta)
{
	return BE(io)->io_put(io, key, klen, value, vlen, meta);
}

enum store_err
store_read(store *st, store_multi_fn fn, void *arg)
{
	return BE(st)->read(st, fn, arg);
}

enum store_err
store_apply(store *st, struct store_op *ops, size_t n)
{
	return BE(st)->apply(st, ops, n);
}

enum store_err
store_write(store *st, struct store_op *op)
{
	return BE(st)->write(st, op);
}

enum store_err
store_write_all(store *st, struct store_op *ops, size_t n, size_t *failed)
{
	return BE(st)->write_all(st, ops, n, failed);
}

enum store_err
store_backup(store *st, const char *dir)
{
	return BE(st)->backup(st, dir);
}

void
store_stats(store *st, struct store_stats *out)
{
	BE(st)->stats(st, out);
}

enum store_err
store_changes(store *st, uint64_t since, const struct store_prefix *pfx,
    size_t npfx, size_t limit, size_t scan_max, struct store_changes *out)
{
	memset(out, 0, sizeof(*out));
	if (limit == 0 || npfx > STORE_FEED_PREFIXES_MAX)
		return STORE_INVALID;
	if (BE(st)->changes_ex != NULL)
		return BE(st)->changes_ex(st, since, pfx, npfx, limit,
		    scan_max, 0, out);
	return BE(st)->changes(st, since, pfx, npfx, limit, scan_max, out);
}

enum store_err
store_changes_ex(store *st, uint64_t since, const struct store_prefix *pfx,
    size_t npfx, size_t limit, size_t scan_max, int with_presence,
    struct store_changes *out)
{
	if (BE(st)->changes_ex == NULL)
		return store_changes(st, since, pfx, npfx, limit, scan_max,
		    out);
	memset(out, 0, sizeof(*out));
	if (limit == 0 || npfx > STORE_FEED_PREFIXES_MAX)
		return STORE_INVALID;
	return BE(st)->changes_ex(st, since, pfx, npfx, limit, scan_max,
	    with_presence, out);
}

enum store_err
store_presence_join(store *st, const struct store_join *j,
    struct store_presence *out)
{
	memset(out, 0, sizeof(*out));
	if (BE(st)->presence_join == NULL || !presence_join_ok(j))
		return STORE_INVALID;
	return BE(st)->presence_join(st, j, out);
}

enum store_err
store_presence_leave(store *st, const char *key, size_t klen,
    const char *session, size_t slen, const char *principal,
    enum store_left why, struct store_presence *out)
{
	memset(out, 0, sizeof(*out));
	if (BE(st)->presence_leave == NULL || klen == 0 ||
	    klen > STORE_PRESENCE_KEY_MAX || !store_session_ok(session,
	    slen) || why == STORE_PRESENT)
		return STORE_INVALID;
	return BE(st)->presence_leave(st, key, klen, session, slen,
	    principal, why, out);
}

enum store_err
store_presence_list(store *st, const char *key, size_t klen, int exact,
    size_t max, struct store_presence **out, size_t *n, int *more)
{
	*out = NULL;
	*n = 0;
	*more = 0;
	if (BE(st)->presence_list == NULL || klen > STORE_PRESENCE_KEY_MAX ||
	    (exact && klen == 0) || max == 0 || max > STORE_PRESENCE_LIST_MAX)
		return STORE_INVALID;
	return BE(st)->presence_list(st, key, klen, exact, max, out, n, more);
}

enum store_err
store_presence_sweep(store *st, size_t max, size_t *expired)
{
	*expired = 0;
	if (BE(st)->presence_sweep == NULL || max == 0)
		return STORE_OK;
	return BE(st)->presence_sweep(st, max, expired);
}

int
store_prefix_match(const struct store_prefix *pfx, size_t npfx,
    const char *key, size_t klen)
{
	size_t	 i;

	if (npfx == 0)
		return 1;
	for (i = 0; i < npfx; i++)
		if (klen >= pfx[i].len && memcmp(key, pfx[i].p, pfx[i].len) == 0)
			return 1;
	return 0;
}

void
store_changes_free(struct store_changes *c)
{
	size_t	 i;

	if (c == NULL)
		return;
	for (i = 0; i < c->n; i++) {
		free((char *)c->items[i].key);
		free((void *)c->items[i].presence);
	}
	free(c->items);
	memset(c, 0, sizeof(*c));
}

uint64_t
store_seq(store *st)
{
	return BE(st)->seq(st);
}

enum store_err
store_history(store *st, const char *key, size_t klen,
    struct store_version **out, size_t *n)
{
	return BE(st)->history(st, key, klen, out, n);
}

enum store_err
store_get_version(store *st, const char *key, size_t klen, uint64_t version,
    struct store_meta *meta, char **value, size_t *vlen)
{
	return BE(st)->get_version(st, key, klen, version, meta, value, vlen);
}

enum store_err
store_io_get_version(store_io *io, const char *key, size_t klen,
    uint64_t version, struct store_meta *meta, const char **value,
    size_t *vlen)
{
	return BE(io)->io_get_version(io, key, klen, version, meta, value,
	    vlen);
}

enum store_err
store_usage(store *st, struct store_usage *out)
{
	return BE(st)->usage(st, out);
}

enum store_err
store_quota_usage(store *st, uint64_t *used, size_t n)
{
	memset(used, 0, n * sizeof(*used));
	return BE(st)->quota_usage(st, used, n);
}

void
store_vlog(store_log_fn log, int level, const char *func, const char *fmt,
    va_list ap)
{
	char	 msg[512];

	if (log == NULL)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	log(level, func, msg);
}

size_t
store_idem_name(const struct store_idem *id, char *buf, size_t bufsz)
{
	size_t	 plen = id->principal ? strnlen(id->principal,
		    STORE_PRINCIPAL_MAX) : 0;

	if (id->klen == 0 || id->klen > 255 || plen + 1 + id->klen > bufsz)
		return 0;
	memcpy(buf, id->principal ? id->principal : "", plen);
	buf[plen] = '\0';
	memcpy(buf + plen + 1, id->key, id->klen);
	return plen + 1 + id->klen;
}
