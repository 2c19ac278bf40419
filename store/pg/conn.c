/*
 * conn.c - the store on PostgreSQL: opened and closed, its pool of
 * connections, its prepared statements and how they run, and the calls
 * that need nothing else; see pg_int.h.
 */
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "store/store.h"
#include "store/store_int.h"
#include "pg_int.h"

/* The columns of a key's state, in pg_meta()'s order. */
#define META_COLS "version, created_us, updated_us, lastmod_s, deleted, " \
	"principal"

/* A write of verstore_kv's row over the one there. */
#define KV_UPSERT "ON CONFLICT (key) DO UPDATE SET value = excluded.value, " \
	"version = excluded.version, created_us = excluded.created_us, " \
	"updated_us = excluded.updated_us, lastmod_s = excluded.lastmod_s, " \
	"deleted = excluded.deleted, principal = excluded.principal, " \
	"seq = excluded.seq"

static const struct {
	const char	*name;
	const char	*sql;
} stmts[Q_NSTMT] = {
	[Q_GET] = { "vs_get",
	    "SELECT value, " META_COLS " FROM verstore_kv "
	    "WHERE key = $1::bytea" },
	[Q_GET_LOCK] = { "vs_get_lock",
	    "SELECT value, " META_COLS " FROM verstore_kv "
	    "WHERE key = $1::bytea FOR UPDATE" },
	/* $1 key, $2 value (NULL: tombstone), $3.. the state, $9 seq, $10
	   the highest version that falls out of the history */
	[Q_WRITE] = { "vs_write",
	    "WITH k AS (INSERT INTO verstore_kv (key, value, version, "
	    "created_us, updated_us, lastmod_s, deleted, principal, seq) "
	    "VALUES ($1::bytea, $2::bytea, $3::int8, $4::int8, $5::int8, "
	    "$6::int8, $7::bool, $8::bytea, $9::int8) "
	    KV_UPSERT "), "
	    "h AS (INSERT INTO verstore_history (key, version, value, "
	    "created_us, updated_us, lastmod_s, deleted, principal) "
	    "VALUES ($1, $3, $2, $4, $5, $6, $7, $8)) "
	    "DELETE FROM verstore_history WHERE key = $1 AND "
	    "version <= $10::int8" },
	[Q_NEXT_ID] = { "vs_next_id",
	    "UPDATE verstore_meta SET value = GREATEST(value + 1, $1::int8) "
	    "WHERE name = 'last_id' RETURNING value" },
	[Q_SEQ] = { "vs_seq",
	    "SELECT value FROM verstore_meta WHERE name = 'seq'" },
	/*
	 * $1 prefix, $2 after, $3 rows, $4 with values, $5 bytes of values:
	 * fits says whether a row's value is within them (the first always
	 * is), and only those carry it.
	 */
	[Q_LIST] = { "vs_list",
	    "SELECT key, " META_COLS ", CASE WHEN $4::bool AND fits THEN "
	    "value END, fits FROM (SELECT *, (row_number() OVER w = 1 OR "
	    "sum(octet_length(value)) OVER w <= $5::int8) AS fits "
	    "FROM verstore_kv WHERE key >= $1::bytea AND key > $2::bytea "
	    "AND NOT deleted WINDOW w AS (ORDER BY key ROWS UNBOUNDED "
	    "PRECEDING) ORDER BY key LIMIT $3::int8) t ORDER BY key" },
	[Q_LIST_TO] = { "vs_list_to",
	    "SELECT key, " META_COLS ", CASE WHEN $4::bool AND fits THEN "
	    "value END, fits FROM (SELECT *, (row_number() OVER w = 1 OR "
	    "sum(octet_length(value)) OVER w <= $5::int8) AS fits "
	    "FROM verstore_kv WHERE key >= $1::bytea AND key > $2::bytea "
	    "AND key < $6::bytea AND NOT deleted WINDOW w AS (ORDER BY key "
	    "ROWS UNBOUNDED PRECEDING) ORDER BY key LIMIT $3::int8) t "
	    "ORDER BY key" },
	/*
	 * $1 since, $2 entries to look at, $3 the prefixes (a key under
	 * any), $4 results: the results (kind 0), then one row (kind 1)
	 * with the entries looked at, the last of them and the store's seq.
	 */
	[Q_CHANGES] = { "vs_changes",
	    "WITH s AS (SELECT key, seq, version, deleted, updated_us "
	    "FROM verstore_kv WHERE seq > $1::int8 ORDER BY seq "
	    "LIMIT $2::int8) "
	    "SELECT * FROM (SELECT 0 AS kind, key, seq, version, deleted, "
	    "updated_us FROM s WHERE "
	    "EXISTS (SELECT 1 FROM unnest($3::bytea[]) AS p(x) WHERE "
	    "substring(s.key FROM 1 FOR octet_length(p.x)) = p.x) "
	    "ORDER BY seq LIMIT $4::int8) r "
	    "UNION ALL SELECT 1, NULL::bytea, max(seq), count(*), false, "
	    "(SELECT value FROM verstore_meta WHERE name = 'seq') FROM s "
	    "ORDER BY 1, 3" },
	/* $1 key, $2 versions kept */
	[Q_HISTORY] = { "vs_history",
	    "SELECT h.version, h.updated_us, h.deleted, "
	    "COALESCE(octet_length(h.value), 0)::int8, h.principal "
	    "FROM verstore_kv k JOIN verstore_history h ON h.key = k.key "
	    "AND h.version > k.version - $2::int8 WHERE k.key = $1::bytea "
	    "ORDER BY h.version DESC LIMIT $2" },
	/* $1 key, $2 version: the current version, then that one's row */
	[Q_VERSION] = { "vs_version",
	    "SELECT k.version, h.value, h.version, h.created_us, "
	    "h.updated_us, h.lastmod_s, h.deleted, h.principal "
	    "FROM verstore_kv k LEFT JOIN verstore_history h "
	    "ON h.key = k.key AND h.version = $2::int8 "
	    "WHERE k.key = $1::bytea" },
	[Q_IDEM_GET] = { "vs_idem_get",
	    "SELECT expires_us, fp, response FROM verstore_idem "
	    "WHERE name = $1::bytea FOR UPDATE" },
	[Q_IDEM_PURGE] = { "vs_idem_purge",
	    "DELETE FROM verstore_idem WHERE name IN (SELECT name FROM "
	    "verstore_idem WHERE expires_us < $1::int8 ORDER BY expires_us "
	    "LIMIT 8)" },
	[Q_IDEM_PUT] = { "vs_idem_put",
	    "INSERT INTO verstore_idem (name, expires_us, fp, response) "
	    "VALUES ($1::bytea, $2::int8, $3::bytea, $4::bytea) "
	    "ON CONFLICT (name) DO UPDATE SET expires_us = "
	    "excluded.expires_us, fp = excluded.fp, "
	    "response = excluded.response" },
	/* $1 the keys: their rows, locked in key order */
	[Q_PREFETCH] = { "vs_prefetch",
	    "SELECT key, value, " META_COLS " FROM verstore_kv "
	    "WHERE key = ANY($1::bytea[]) ORDER BY key FOR UPDATE" },
	[Q_SEQ_SET] = { "vs_seq_set",
	    "UPDATE verstore_meta SET value = $1::int8 WHERE name = 'seq'" },
	/*
	 * Q_WRITE's $1..$10 as arrays, one element a write (wmany.c); the
	 * history's rows found by key = ANY($1), an index scan whatever the
	 * planner thinks of the table (a join on w alone is a seq scan while
	 * the table's statistics say it is small)
	 */
	[Q_WRITES] = { "vs_writes",
	    "WITH w AS (SELECT * FROM unnest($1::bytea[], $2::bytea[], "
	    "$3::int8[], $4::int8[], $5::int8[], $6::int8[], $7::bool[], "
	    "$8::bytea[], $9::int8[], $10::int8[]) AS w(key, value, version, "
	    "created_us, updated_us, lastmod_s, deleted, principal, seq, "
	    "prune)), "
	    "k AS (INSERT INTO verstore_kv (key, value, version, created_us, "
	    "updated_us, lastmod_s, deleted, principal, seq) "
	    "SELECT key, value, version, created_us, updated_us, lastmod_s, "
	    "deleted, principal, seq FROM w "
	    KV_UPSERT "), "
	    "h AS (INSERT INTO verstore_history (key, version, value, "
	    "created_us, updated_us, lastmod_s, deleted, principal) "
	    "SELECT key, version, value, created_us, updated_us, lastmod_s, "
	    "deleted, principal FROM w) "
	    "DELETE FROM verstore_history d USING w WHERE "
	    "d.key = ANY($1::bytea[]) AND d.key = w.key AND "
	    "d.version <= w.prune" },
	/* $1 a quota's prefix; its row is named by the prefix in hex */
	[Q_QUOTA_GET] = { "vs_quota_get",
	    "SELECT value FROM verstore_meta WHERE name = 'quota:' || "
	    "encode($1::bytea, 'hex') FOR UPDATE" },
	[Q_QUOTA_ADD] = { "vs_quota_add",
	    "UPDATE verstore_meta SET value = GREATEST(value + $2::int8, 0) "
	    "WHERE name = 'quota:' || encode($1::bytea, 'hex')" },
	/* keys are UTF-8: those under $1 sort below $1 || 0xff */
	[Q_QUOTA_COUNT] = { "vs_quota_count",
	    "WITH c AS (SELECT COALESCE(SUM(length(key) + length(value)), "
	    "0)::int8 AS b, count(*)::int8 AS n FROM verstore_kv WHERE NOT "
	    "deleted AND key >= $1::bytea AND key < $1::bytea || "
	    "'\\xff'::bytea), i AS (INSERT INTO verstore_meta (name, value) "
	    "SELECT 'quota:' || encode($1::bytea, 'hex'), b FROM c "
	    "ON CONFLICT (name) DO NOTHING RETURNING value) "
	    "SELECT b, n FROM c WHERE EXISTS (SELECT 1 FROM i)" },
	/* $1 the names of the quotas kept, comma-separated */
	[Q_QUOTA_DROP] = { "vs_quota_drop",
	    "DELETE FROM verstore_meta WHERE name LIKE 'quota:%' AND name <> "
	    "ALL (string_to_array(convert_from($1::bytea, 'UTF8'), ','))" },
	[Q_QUOTA_KEPT] = { "vs_quota_kept",
	    "SELECT count(*)::int8 FROM verstore_meta WHERE name = "
	    "ANY (string_to_array(convert_from($1::bytea, 'UTF8'), ','))" },
	[Q_QUOTA_ALL] = { "vs_quota_all",
	    "SELECT name, value FROM verstore_meta WHERE name = "
	    "ANY (string_to_array(convert_from($1::bytea, 'UTF8'), ','))" },
	/*
	 * As Q_CHANGES, the presence events among the changes: a row's
	 * columns 6.. are a presence row's (pgp_row), left_why -1 for a key.
	 */
	[Q_CHANGES_P] = { "vs_changes_p",
	    "WITH s AS (SELECT * FROM ("
	    "(SELECT key, seq, version, deleted, updated_us, "
	    "NULL::bytea AS session, NULL::bytea AS principal, "
	    "NULL::bytea AS state, 0::int8 AS since_us, 0::int8 AS "
	    "expires_us, false AS lock, -1::int8 AS left_why "
	    "FROM verstore_kv WHERE seq > $1::int8 ORDER BY seq "
	    "LIMIT $2::int8) UNION ALL "
	    "(SELECT key, seq, 0::int8, false, 0::int8, session, principal, "
	    "state, since_us, expires_us, lock, left_why "
	    "FROM verstore_presence WHERE seq > $1::int8 ORDER BY seq "
	    "LIMIT $2::int8)) u ORDER BY seq LIMIT $2::int8) "
	    "SELECT * FROM (SELECT 0 AS kind, key, seq, version, deleted, "
	    "updated_us, key AS pkey, session, principal, state, since_us, "
	    "expires_us, lock, left_why, seq AS pseq FROM s WHERE "
	    "EXISTS (SELECT 1 FROM unnest($3::bytea[]) AS p(x) WHERE "
	    "substring(s.key FROM 1 FOR octet_length(p.x)) = p.x) "
	    "ORDER BY seq LIMIT $4::int8) r "
	    "UNION ALL SELECT 1, NULL::bytea, max(seq), count(*), false, "
	    "(SELECT value FROM verstore_meta WHERE name = 'seq'), NULL, "
	    "NULL, NULL, NULL, 0, 0, false, 0, 0 FROM s ORDER BY 1, 3" },
#define P_COLS "key, session, principal, state, since_us, expires_us, " \
	"lock, left_why, seq"
	/* $1 key, $2 session, $3 now, $4 rows: the session's row first */
	[Q_P_KEY] = { "vs_p_key",
	    "SELECT " P_COLS " FROM verstore_presence WHERE key = $1::bytea "
	    "AND (session = $2::bytea OR (left_why = 0 AND "
	    "expires_us > $3::int8)) ORDER BY session = $2 DESC, session "
	    "LIMIT $4::int8" },
	/* $1 principal, $2 now, $3 counted at most */
	[Q_P_COUNT] = { "vs_p_count",
	    "SELECT count(*) FROM (SELECT 1 FROM verstore_presence "
	    "WHERE principal = $1::bytea AND left_why = 0 AND "
	    "expires_us > $2::int8 LIMIT $3::int8) t" },
	[Q_P_PUT] = { "vs_p_put",
	    "INSERT INTO verstore_presence (" P_COLS ", drop_us) VALUES "
	    "($1::bytea, $2::bytea, $3::bytea, $4::bytea, $5::int8, "
	    "$6::int8, $7::bool, 0, $8::int8, 0) ON CONFLICT (key, session) "
	    "DO UPDATE SET principal = excluded.principal, "
	    "state = excluded.state, since_us = excluded.since_us, "
	    "expires_us = excluded.expires_us, lock = excluded.lock, "
	    "left_why = 0, seq = excluded.seq, drop_us = 0" },
	/* $1 key, $2 session, $3 why, $4 seq, $5 when to drop it */
	[Q_P_LEAVE] = { "vs_p_leave",
	    "UPDATE verstore_presence SET left_why = $3::int8, "
	    "seq = $4::int8, drop_us = $5::int8 WHERE key = $1::bytea AND "
	    "session = $2::bytea AND left_why = 0" },
	/* $1 the key or prefix, $2 exact, $3 now, $4 rows, $5 below */
	[Q_P_LIST] = { "vs_p_list",
	    "SELECT " P_COLS " FROM verstore_presence WHERE key >= $1::bytea "
	    "AND (NOT $2::bool OR key = $1) AND left_why = 0 AND "
	    "expires_us > $3::int8 ORDER BY key, session LIMIT $4::int8" },
	[Q_P_LIST_TO] = { "vs_p_list_to",
	    "SELECT " P_COLS " FROM verstore_presence WHERE key >= $1::bytea "
	    "AND (NOT $2::bool OR key = $1) AND key < $5::bytea AND "
	    "left_why = 0 AND expires_us > $3::int8 ORDER BY key, session "
	    "LIMIT $4::int8" },
	/* $1 now */
	[Q_P_DUE] = { "vs_p_due",
	    "SELECT EXISTS (SELECT 1 FROM verstore_presence WHERE "
	    "left_why = 0 AND expires_us <= $1::int8) OR EXISTS (SELECT 1 "
	    "FROM verstore_presence WHERE left_why <> 0 AND "
	    "drop_us <= $1)" },
	/* $1 now, $2 rows, $3 the seq before, $4 when to drop them */
	[Q_P_EXPIRE] = { "vs_p_expire",
	    "WITH d AS (SELECT key, session, row_number() OVER () AS n FROM "
	    "(SELECT key, session FROM verstore_presence WHERE left_why = 0 "
	    "AND expires_us <= $1::int8 ORDER BY expires_us, key, session "
	    "LIMIT $2::int8) t) UPDATE verstore_presence p SET left_why = 2, "
	    "seq = $3::int8 + d.n, drop_us = $4::int8 FROM d "
	    "WHERE p.key = d.key AND p.session = d.session RETURNING p.seq" },
	/* $1 now, $2 rows */
	[Q_P_DROP] = { "vs_p_drop",
	    "DELETE FROM verstore_presence WHERE (key, session) IN (SELECT "
	    "key, session FROM verstore_presence WHERE left_why <> 0 AND "
	    "drop_us <= $1::int8 LIMIT $2::int8)" },
	/* $1 key, $2 principal, $3 now */
	[Q_P_HOLDER] = { "vs_p_holder",
	    "SELECT " P_COLS " FROM verstore_presence WHERE key = $1::bytea "
	    "AND lock AND left_why = 0 AND expires_us > $3::int8 AND "
	    "principal <> $2::bytea ORDER BY session LIMIT 1" },
#undef P_COLS
};

void
pg_log(const store *st, int level, const char *func, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	store_vlog(st->log, level, func, fmt, ap);
	va_end(ap);
}

/* libpq's message on one line. */
static const char *
one_line(const char *msg, char *buf, size_t bufsz)
{
	size_t	 i;

	snprintf(buf, bufsz, "%s", msg != NULL ? msg : "(no message)");
	for (i = 0; buf[i] != '\0'; i++)
		if (buf[i] == '\n')
			buf[i] = buf[i + 1] == '\0' ? '\0' : ' ';
	return buf;
}

/* A failed result (res may be NULL) in the store's words. */
enum store_err
pg_fail(store *st, struct pgconn *pc, PGresult *res, const char *what)
{
	const char	*state = res != NULL ?
	    PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	char		 buf[400];

	if (PQstatus(pc->c) == CONNECTION_BAD) {
		pg_log(st, 0, __func__, "%s: connection lost: %s", what,
		    one_line(PQerrorMessage(pc->c), buf, sizeof(buf)));
		return STORE_UNAVAILABLE;
	}
	if (state != NULL && strcmp(state, "25006") == 0) {
		/* a standby, or a primary demoted: another server leads */
		pc->gone = 1;
		pg_log(st, 1, __func__, "%s: the server is read-only (a "
		    "standby?): %s", what, one_line(PQresultErrorMessage(res),
		    buf, sizeof(buf)));
		return STORE_UNAVAILABLE;
	}
	if (state != NULL && (strcmp(state, "40001") == 0 ||
	    strcmp(state, "40P01") == 0)) {
		pc->retry = 1;
		return STORE_IO;
	}
	if (state != NULL && (strcmp(state, "55P03") == 0 ||
	    strcmp(state, "53300") == 0 || strcmp(state, "57P03") == 0)) {
		/* a lock waited for too long, no connection slot, starting */
		pg_log(st, 1, __func__, "%s: %s", what, one_line(
		    PQresultErrorMessage(res), buf, sizeof(buf)));
		return STORE_UNAVAILABLE;
	}
	if (state != NULL && (strcmp(state, "53100") == 0 ||
	    strcmp(state, "54000") == 0)) {
		pg_log(st, 1, __func__, "%s: %s", what, one_line(
		    PQresultErrorMessage(res), buf, sizeof(buf)));
		return STORE_FULL;
	}
	pg_log(st, 0, __func__, "%s: %s%s", what, state ? state : "",
	    one_line(res != NULL ? PQresultErrorMessage(res) :
	    PQerrorMessage(pc->c), buf, sizeof(buf)));
	if (res == NULL)
		return STORE_NOMEM;
	return STORE_IO;
}

PGresult *
pg_run(store *st, struct pgconn *pc, enum pg_stmt s, const struct pgq *q,
    enum store_err *err)
{
	PGresult	*res;
	ExecStatusType	 rs;

	pc->retry = 0;
	res = PQexecPrepared(pc->c, stmts[s].name, q->n, q->v, q->len, q->fmt,
	    1);
	rs = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	if (rs == PGRES_TUPLES_OK || rs == PGRES_COMMAND_OK) {
		*err = STORE_OK;
		return res;
	}
	*err = pg_fail(st, pc, res, stmts[s].name);
	PQclear(res);
	return NULL;
}

int
pg_send(struct pgconn *pc, enum pg_stmt s, const struct pgq *q)
{
	return PQsendQueryPrepared(pc->c, stmts[s].name, q->n, q->v, q->len,
	    q->fmt, 1);
}

enum store_err
pg_sql(store *st, struct pgconn *pc, const char *sql)
{
	PGresult	*res;
	ExecStatusType	 rs;
	enum store_err	 err = STORE_OK;

	pc->retry = 0;
	res = PQexec(pc->c, sql);
	rs = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	if (rs != PGRES_TUPLES_OK && rs != PGRES_COMMAND_OK)
		err = pg_fail(st, pc, res, sql);
	PQclear(res);
	return err;
}

/* Runs sql on pc, logging nothing: 0, or -1 when it failed. */
static int
pg_sql_quiet(struct pgconn *pc, const char *sql)
{
	PGresult	*res = PQexec(pc->c, sql);
	int		 ok = PQresultStatus(res) == PGRES_COMMAND_OK;

	PQclear(res);
	return ok ? 0 : -1;
}

/* ---- parameters and results --------------------------------------------- */

void
pgq_init(struct pgq *q)
{
	q->n = 0;
}

void
pgq_bytes(struct pgq *q, const void *p, size_t n)
{
	q->v[q->n] = n > 0 ? p : "";
	q->len[q->n] = (int)n;
	q->fmt[q->n++] = 1;
}

void
pgq_int(struct pgq *q, int64_t v)
{
	uint64_t	 u = (uint64_t)v;
	int		 i;

	for (i = 7; i >= 0; i--, u >>= 8)
		q->num[q->n][i] = (unsigned char)(u & 0xff);
	pgq_bytes(q, q->num[q->n], 8);
}

void
pgq_bool(struct pgq *q, int v)
{
	q->num[q->n][0] = v != 0;
	pgq_bytes(q, q->num[q->n], 1);
}

void
pgq_null(struct pgq *q)
{
	q->v[q->n] = NULL;
	q->len[q->n] = 0;
	q->fmt[q->n++] = 1;
}

void
pg_put_u32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

void
pg_array_head(unsigned char *buf, uint32_t n)
{
	pg_put_u32(buf, 1);		/* dimensions */
	pg_put_u32(buf + 4, 0);		/* no NULLs */
	pg_put_u32(buf + 8, 17);	/* bytea's oid */
	pg_put_u32(buf + 12, n);
	pg_put_u32(buf + 16, 1);	/* the lower bound */
}

int64_t
pg_int(const PGresult *res, int row, int col)
{
	const unsigned char *p;
	uint64_t	 u = 0;
	int		 i, n;

	if (PQgetisnull(res, row, col))
		return 0;
	p = (const unsigned char *)PQgetvalue(res, row, col);
	n = PQgetlength(res, row, col);
	for (i = 0; i < n && i < 8; i++)
		u = u << 8 | p[i];
	if (n == 4 && (u & 0x80000000u))
		u |= 0xffffffff00000000ull;	/* an int4 below 0 */
	return (int64_t)u;
}

int
pg_bool(const PGresult *res, int row, int col)
{
	return !PQgetisnull(res, row, col) && PQgetlength(res, row, col) == 1 &&
	    PQgetvalue(res, row, col)[0] != 0;
}

void
pg_meta(const PGresult *res, int row, int col, struct store_meta *m)
{
	int	 n;

	memset(m, 0, sizeof(*m));
	m->version = (uint64_t)pg_int(res, row, col);
	m->created_us = pg_int(res, row, col + 1);
	m->updated_us = pg_int(res, row, col + 2);
	m->lastmod_s = pg_int(res, row, col + 3);
	m->deleted = pg_bool(res, row, col + 4);
	n = PQgetlength(res, row, col + 5);
	if (n > STORE_PRINCIPAL_MAX)
		n = STORE_PRINCIPAL_MAX;
	memcpy(m->principal, PQgetvalue(res, row, col + 5), (size_t)n);
}

/* ---- the pool -------------------------------------------------------------- */

/* Prepares every statement on pc (the schema must be there). */
static enum store_err
pg_prepare(store *st, struct pgconn *pc)
{
	PGresult	*res;
	enum store_err	 err;
	int		 i;

	for (i = 0; i < Q_NSTMT; i++) {
		res = PQprepare(pc->c, stmts[i].name, stmts[i].sql, 0, NULL);
		if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK) {
			err = pg_fail(st, pc, res, stmts[i].name);
			PQclear(res);
			return err;
		}
		PQclear(res);
	}
	return STORE_OK;
}

/*
 * The server's warnings go to the log; its notices (a table already
 * there, ...) do not.
 */
void
pg_notice(void *arg, const char *msg)
{
	char	 buf[400];

	if (strncmp(msg, "NOTICE:", 7) != 0)
		pg_log(arg, 1, __func__, "%s", one_line(msg, buf,
		    sizeof(buf)));
}

PGconn *
pg_dial(const char *conninfo, const char *app)
{
	/* conninfo comes last: what it says overrides these */
	static const char *const keys[] = { "connect_timeout",
	    "tcp_user_timeout", "application_name", "dbname", NULL };
	const char	*vals[] = { PG_CONNECT_TIMEOUT, PG_TCP_USER_TIMEOUT,
	    app, conninfo, NULL };
	PGconn		*c;
	PGresult	*res;

	c = PQconnectdbParams(keys, vals, 1);
	if (c == NULL || PQstatus(c) != CONNECTION_OK)
		return c;
	/*
	 * A host that dies inside a transaction (its machine, not just its
	 * process) must not hold the seq row's lock, which every host's
	 * writers wait for, until TCP notices: the server ends a session
	 * idle in a transaction, and a wait for a lock is bounded. Engines
	 * without these settings do without.
	 */
	res = PQexec(c, "SET idle_in_transaction_session_timeout = "
	    PG_IDLE_TX_TIMEOUT "; SET lock_timeout = " PG_LOCK_TIMEOUT);
	PQclear(res);
	return c;
}

/*
 * That the database cannot be reached, said once a second at most while
 * it lasts: every request would say it otherwise.
 */
static void
say_unreachable(store *st, PGconn *c)
{
	int64_t	 now = op_real_clock(NULL) / 1000000, last;
	char	 buf[400];

	last = atomic_load(&st->said_down);
	if (now == last || !atomic_compare_exchange_strong(&st->said_down,
	    &last, now))
		return;
	pg_log(st, 0, "pg_connect", "cannot connect: %s", one_line(
	    c != NULL ? PQerrorMessage(c) : "out of memory", buf,
	    sizeof(buf)));
}

/* A new connection, prepared once the store is open (st->ready). */
static struct pgconn *
pg_connect(store *st)
{
	struct pgconn	*pc;

	if ((pc = calloc(1, sizeof(*pc))) == NULL)
		return NULL;
	pc->c = pg_dial(st->conninfo, PG_APP);
	if (pc->c == NULL || PQstatus(pc->c) != CONNECTION_OK) {
		say_unreachable(st, pc->c);
		goto fail;
	}
	PQsetNoticeProcessor(pc->c, pg_notice, st);
	if (st->ready && pg_prepare(st, pc) != STORE_OK)
		goto fail;
	return pc;
fail:
	PQfinish(pc->c);
	free(pc);
	return NULL;
}

/*
 * Whether an idle connection may be used. The server sends nothing to an
 * idle session of ours but when it ends it (a restart, a terminated
 * backend: a FATAL message, then the close), so anything to read means
 * it is gone, or going; a connection dropped for nothing costs a new one.
 */
static int
idle_alive(struct pgconn *pc)
{
	struct pollfd	 p;

	p.fd = PQsocket(pc->c);
	p.events = POLLIN;
	p.revents = 0;
	return PQstatus(pc->c) == CONNECTION_OK && p.fd >= 0 &&
	    poll(&p, 1, 0) == 0;
}

struct pgconn *
pg_take(store *st)
{
	struct pgconn	*pc;

	for (;;) {
		pthread_mutex_lock(&st->lock);
		if ((pc = st->idle) != NULL) {
			st->idle = pc->next;
			st->nidle--;
		}
		pthread_mutex_unlock(&st->lock);
		if (pc == NULL || idle_alive(pc))
			break;
		PQfinish(pc->c);
		free(pc);
	}
	if (pc == NULL && (pc = pg_connect(st)) == NULL)
		return NULL;
	pc->next = NULL;
	pc->retry = 0;
	atomic_fetch_add(&st->busy, 1);
	return pc;
}

void
pg_give(store *st, struct pgconn *pc)
{
	if (pc == NULL)
		return;
	atomic_fetch_sub(&st->busy, 1);
	if (PQstatus(pc->c) == CONNECTION_OK && !pc->gone &&
	    PQtransactionStatus(pc->c) != PQTRANS_IDLE)
		(void)pg_sql(st, pc, "ROLLBACK");
	pthread_mutex_lock(&st->lock);
	if (PQstatus(pc->c) != CONNECTION_OK || pc->gone) {
		/*
		 * the server went away, or no longer takes writes: the idle
		 * ones are likely on it too
		 */
		pc->next = st->idle;
		st->idle = NULL;
		st->nidle = 0;
	} else if (PQtransactionStatus(pc->c) == PQTRANS_IDLE &&
	    st->nidle < PG_POOL_IDLE) {
		pc->next = st->idle;
		st->idle = pc;
		st->nidle++;
		pc = NULL;
	}
	pthread_mutex_unlock(&st->lock);
	while (pc != NULL) {
		struct pgconn *next = pc->next;

		PQfinish(pc->c);
		free(pc);
		pc = next;
	}
}

/* ---- the store ------------------------------------------------------------- */

static void
pg_close(store *st)
{
	struct pgconn	*pc;

	if (st == NULL)
		return;
	pg_listen_stop(st);
	while ((pc = st->idle) != NULL) {
		st->idle = pc->next;
		PQfinish(pc->c);
		free(pc);
	}
	commit_fini(&st->q);
	quota_fini(&st->quotas);
	pthread_mutex_destroy(&st->lock);
	free(st->conninfo);
	free(st);
}

static void
pg_thread_end(store *st)
{
	(void)st;	/* a thread keeps no connection between calls */
}

static enum store_err
pg_backup(store *st, const char *dir)
{
	pg_log(st, 0, __func__, "%s: backup copies LMDB stores only; "
	    "back PostgreSQL up with its own tools (pg_dump)", dir);
	return STORE_INVALID;
}

static void
pg_stats(store *st, struct store_stats *out)
{
	commit_stats(&st->q, out);
}

/*
 * No limit is set (size_bytes 0); used_bytes is what PostgreSQL says the
 * tables take, where it can say (0 elsewhere); readers, the connections
 * of this process busy now.
 */
static enum store_err
pg_usage(store *st, struct store_usage *out)
{
	struct pgconn	*pc;
	PGresult	*res;

	memset(out, 0, sizeof(*out));
	out->readers = atomic_load(&st->busy);
	if ((pc = pg_take(st)) == NULL)
		return STORE_UNAVAILABLE;
	res = PQexecParams(pc->c, "SELECT (pg_total_relation_size("
	    "'verstore_kv') + pg_total_relation_size('verstore_history') + "
	    "pg_total_relation_size('verstore_idem'))::int8", 0, NULL, NULL,
	    NULL, NULL, 1);
	if (res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK &&
	    PQntuples(res) == 1)
		out->used_bytes = (uint64_t)pg_int(res, 0, 0);
	PQclear(res);
	pg_give(st, pc);
	return STORE_OK;
}

/* The usage rows of st's quotas, in one statement. */
static enum store_err
pg_quota_usage(store *st, uint64_t *used, size_t n)
{
	struct pgconn	*pc;
	PGresult	*res = NULL;
	struct pgq	 q;
	char		*names, *at;
	size_t		 len, i, k, plen;
	int		 row;
	enum store_err	 err = STORE_NOMEM;

	memset(used, 0, n * sizeof(*used));
	if (n > st->quotas.n)
		n = st->quotas.n;
	if (n == 0)
		return STORE_OK;
	if ((names = schema_quota_names(st, &len)) == NULL)
		return STORE_NOMEM;
	if ((pc = pg_take(st)) == NULL) {
		free(names);
		return STORE_UNAVAILABLE;
	}
	pgq_init(&q);
	pgq_bytes(&q, names, len);
	if ((res = pg_run(st, pc, Q_QUOTA_ALL, &q, &err)) == NULL)
		goto out;
	for (row = 0; row < PQntuples(res); row++) {
		/* which quota: the name's place in the list */
		for (i = 0, at = names; i < n; i++, at += plen + 1) {
			plen = strcspn(at, ",");
			k = (size_t)PQgetlength(res, row, 0);
			if (k == plen && memcmp(PQgetvalue(res, row, 0), at,
			    plen) == 0) {
				used[i] = (uint64_t)pg_int(res, row, 1);
				break;
			}
		}
	}
	err = STORE_OK;
out:
	PQclear(res);
	pg_give(st, pc);
	free(names);
	return err;
}

const struct store_backend store_backend_pg = {
	"postgres", pg_close, pg_thread_end, pgr_get, pgr_list, pgr_io_get,
	pgw_io_put, pgr_read, pgw_apply, pgw_write, pgw_write_all,
	pg_backup, pg_stats, pgr_changes, pgr_seq, pgr_history,
	pgr_get_version, pgr_io_get_version, pg_usage, pg_quota_usage,
	pgr_changes_ex, pgp_join, pgp_leave, pgp_list, pgp_sweep,
};

enum store_err
store_open_pg(const struct store_opts *o, store **out)
{
	store		*st = NULL;
	struct pgconn	*pc = NULL;
	PGresult	*res = NULL;
	struct pgq	 q;
	enum store_err	 err = STORE_INVALID;

	*out = NULL;
	if (o->conninfo == NULL)
		goto out;
	err = STORE_NOMEM;
	if ((st = calloc(1, sizeof(*st))) == NULL)
		goto out;
	st->head.be = &store_backend_pg;
	pthread_mutex_init(&st->lock, NULL);
	pgw_init(st, o);
	if ((st->conninfo = strdup(o->conninfo)) == NULL)
		goto out;
	st->clock = o->clock ? o->clock : op_real_clock;
	st->clock_arg = o->clock_arg;
	st->log = o->log;
	st->history_versions = o->history_versions ? o->history_versions :
	    STORE_HISTORY_DEFAULT;
	st->on_commit = o->on_commit;
	st->commit_arg = o->commit_arg;
	st->relaxed = o->relaxed;
	if ((err = quota_init(&st->quotas, o)) != STORE_OK)
		goto out;
	err = STORE_IO;
	if ((pc = pg_take(st)) == NULL)
		goto out;
	if ((err = schema_ensure(st, pc)) != STORE_OK ||
	    (err = pg_prepare(st, pc)) != STORE_OK ||
	    (err = schema_quotas(st, pc)) != STORE_OK)
		goto out;
	st->ready = 1;
	/* a commit that took no seq tells on_commit nothing */
	pgq_init(&q);
	if ((res = pg_run(st, pc, Q_SEQ, &q, &err)) == NULL)
		goto out;
	if (PQntuples(res) == 1)
		atomic_store(&st->posted, (uint64_t)pg_int(res, 0, 0));
	/* NOTIFY is a hint that engines without it do without */
	st->notify = pg_sql_quiet(pc, "NOTIFY verstore") == 0;
	if ((err = pg_listen_start(st)) != STORE_OK)
		goto out;
	*out = st;
	st = NULL;
	err = STORE_OK;
out:
	PQclear(res);
	if (st != NULL) {
		pg_give(st, pc);
		pg_close(st);
	} else if (pc != NULL)
		pg_give(*out, pc);
	return err;
}
