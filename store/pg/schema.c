/*
 * schema.c - the tables of the store on PostgreSQL (see pg_int.h),
 * created or migrated by whichever process opens the store first: the
 * meta row "schema" holds the layout's version, and the process that
 * holds that row's lock migrates while the others wait for it. Each
 * quota's usage is a meta row too, "quota:" and its prefix in hex,
 * counted here when the store opens with a quota that has none.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "store/store.h"
#include "pg_int.h"

/* Schema 1, from nothing. */
static const char *const schema1[] = {
	"CREATE TABLE IF NOT EXISTS verstore_kv ("
	" key bytea PRIMARY KEY,"
	" value bytea,"			/* NULL: a tombstone */
	" version bigint NOT NULL,"
	" created_us bigint NOT NULL,"
	" updated_us bigint NOT NULL,"
	" lastmod_s bigint NOT NULL,"
	" deleted boolean NOT NULL,"
	" principal bytea NOT NULL,"
	" seq bigint NOT NULL)",
	"CREATE INDEX IF NOT EXISTS verstore_kv_seq ON verstore_kv (seq)",
	"CREATE TABLE IF NOT EXISTS verstore_history ("
	" key bytea NOT NULL,"
	" version bigint NOT NULL,"
	" value bytea,"
	" created_us bigint NOT NULL,"
	" updated_us bigint NOT NULL,"
	" lastmod_s bigint NOT NULL,"
	" deleted boolean NOT NULL,"
	" principal bytea NOT NULL,"
	" PRIMARY KEY (key, version))",
	"CREATE TABLE IF NOT EXISTS verstore_idem ("
	" name bytea PRIMARY KEY,"	/* principal, NUL, the key */
	" expires_us bigint NOT NULL,"
	" fp bytea NOT NULL,"
	" response bytea NOT NULL)",
	"CREATE INDEX IF NOT EXISTS verstore_idem_exp ON verstore_idem "
	"(expires_us)",
};

/* Schema 2: presence (API.md 13). */
static const char *const schema2[] = {
	"CREATE TABLE IF NOT EXISTS verstore_presence ("
	" key bytea NOT NULL,"
	" session bytea NOT NULL,"
	" principal bytea NOT NULL,"
	" state bytea,"			/* NULL: null */
	" since_us bigint NOT NULL,"
	" expires_us bigint NOT NULL,"
	" lock boolean NOT NULL,"
	" left_why bigint NOT NULL,"	/* 0: present; enum store_left */
	" seq bigint NOT NULL,"
	" drop_us bigint NOT NULL,"	/* left: when its row goes */
	" PRIMARY KEY (key, session))",
	"CREATE INDEX IF NOT EXISTS verstore_presence_seq ON "
	"verstore_presence (seq)",
	"CREATE INDEX IF NOT EXISTS verstore_presence_exp ON "
	"verstore_presence (expires_us) WHERE left_why = 0",
	"CREATE INDEX IF NOT EXISTS verstore_presence_drop ON "
	"verstore_presence (drop_us) WHERE left_why <> 0",
	"CREATE INDEX IF NOT EXISTS verstore_presence_by ON "
	"verstore_presence (principal) WHERE left_why = 0",
};

/* The schema's version, its row locked in the transaction begun. */
static enum store_err
lock_version(store *st, struct pgconn *pc, long long *version)
{
	PGresult	*res;
	enum store_err	 err = STORE_OK;

	res = PQexec(pc->c, "SELECT value FROM verstore_meta "
	    "WHERE name = 'schema' FOR UPDATE");
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK ||
	    PQntuples(res) != 1) {
		pg_log(st, 0, __func__, "schema version: %s",
		    PQerrorMessage(pc->c));
		err = STORE_IO;
	} else
		*version = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return err;
}

/*
 * The meta table, made outside any transaction. Two processes that make
 * it at once clash in the catalog (23505, 42P07): the loser is told to
 * run again (STORE_NOTFOUND, not logged) and then finds it.
 */
static enum store_err
create_meta(store *st, struct pgconn *pc)
{
	PGresult	*res;
	const char	*state;
	enum store_err	 err = STORE_OK;

	res = PQexec(pc->c, "CREATE TABLE IF NOT EXISTS verstore_meta "
	    "(name text PRIMARY KEY, value bigint NOT NULL)");
	if (res != NULL && PQresultStatus(res) == PGRES_COMMAND_OK)
		goto out;
	state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	if (state != NULL && (strcmp(state, "23505") == 0 ||
	    strcmp(state, "42P07") == 0))
		err = STORE_NOTFOUND;
	else {
		pg_log(st, 0, __func__, "%s", PQerrorMessage(pc->c));
		err = PQstatus(pc->c) == CONNECTION_OK ? STORE_IO :
		    STORE_UNAVAILABLE;
	}
out:
	PQclear(res);
	return err;
}

static enum store_err
migrate(store *st, struct pgconn *pc)
{
	long long	 v = 0;
	enum store_err	 err;
	size_t		 i;

	if ((err = create_meta(st, pc)) != STORE_OK ||
	    (err = pg_sql(st, pc, "BEGIN ISOLATION LEVEL READ COMMITTED")) !=
	    STORE_OK ||
	    (err = pg_sql(st, pc, "INSERT INTO verstore_meta (name, value) "
	    "VALUES ('schema', 0), ('seq', 0), ('last_id', 0) "
	    "ON CONFLICT (name) DO NOTHING")) != STORE_OK ||
	    (err = lock_version(st, pc, &v)) != STORE_OK)
		return err;
	if (v > PG_SCHEMA) {
		pg_log(st, 0, __func__, "the database holds schema %lld, newer "
		    "than this verstored knows (%d)", v, PG_SCHEMA);
		return STORE_CORRUPT;
	}
	if (v < 1) {
		pg_log(st, 2, __func__, "creating schema %d", PG_SCHEMA);
		for (i = 0; i < sizeof(schema1) / sizeof(schema1[0]); i++)
			if ((err = pg_sql(st, pc, schema1[i])) != STORE_OK)
				return err;
	}
	/* later schemas migrate here, one step each, from v up */
	if (v < 2)
		for (i = 0; i < sizeof(schema2) / sizeof(schema2[0]); i++)
			if ((err = pg_sql(st, pc, schema2[i])) != STORE_OK)
				return err;
	if (v != PG_SCHEMA && (err = pg_sql(st, pc, "UPDATE verstore_meta "
	    "SET value = " PG_SCHEMA_TEXT " WHERE name = 'schema'")) !=
	    STORE_OK)
		return err;
	return pg_sql(st, pc, "COMMIT");
}

/*
 * Processes that start together may race to create the same table (a
 * unique violation in the catalog): the loser runs again and finds it.
 */
enum store_err
schema_ensure(store *st, struct pgconn *pc)
{
	enum store_err	 err = STORE_UNAVAILABLE;
	int		 i;

	for (i = 0; i < 5; i++) {
		if ((err = migrate(st, pc)) == STORE_OK)
			return STORE_OK;
		if (PQstatus(pc->c) != CONNECTION_OK || err == STORE_CORRUPT)
			break;
		if (PQtransactionStatus(pc->c) != PQTRANS_IDLE)
			(void)pg_sql(st, pc, "ROLLBACK");
		usleep(20000u * (unsigned)(i + 1));
	}
	return err;
}

/*
 * verstored -t: connects and reads the schema's version, writing nothing;
 * see store_check() in store.h.
 */
enum store_err
store_check_pg(const struct store_opts *o)
{
	PGconn		*c = NULL;
	PGresult	*res = NULL;
	const char	*state;
	long long	 v;
	enum store_err	 err = STORE_UNAVAILABLE;

	if (o->conninfo == NULL)
		return STORE_INVALID;
	c = pg_dial(o->conninfo, PG_APP);
	if (c == NULL || PQstatus(c) != CONNECTION_OK) {
		if (o->log != NULL)
			o->log(0, __func__, c != NULL ? PQerrorMessage(c) :
			    "out of memory");
		goto out;
	}
	res = PQexec(c, "SELECT value FROM verstore_meta "
	    "WHERE name = 'schema'");
	state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	if (PQresultStatus(res) == PGRES_TUPLES_OK) {
		v = PQntuples(res) == 1 ?
		    strtoll(PQgetvalue(res, 0, 0), NULL, 10) : 0;
		err = v > PG_SCHEMA ? STORE_CORRUPT : v < PG_SCHEMA ?
		    STORE_NOTFOUND : STORE_OK;
	} else if (state != NULL && strcmp(state, "42P01") == 0)
		err = STORE_NOTFOUND;		/* undefined_table */
	else {
		if (o->log != NULL)
			o->log(0, __func__, PQerrorMessage(c));
		err = STORE_IO;
	}
out:
	PQclear(res);
	PQfinish(c);
	return err;
}

char *
schema_quota_names(const store *st, size_t *len)
{
	static const char	 hex[] = "0123456789abcdef";
	const struct store_quota *q;
	size_t			 i, j, n = 0;
	char			*out, *p;

	for (i = 0; i < st->quotas.n; i++)
		n += 7 + 2 * st->quotas.q[i].plen;
	if ((p = out = malloc(n + 1)) == NULL)
		return NULL;
	for (i = 0; i < st->quotas.n; i++) {
		q = &st->quotas.q[i];
		memcpy(p, i > 0 ? ",quota:" : "quota:", i > 0 ? 7 : 6);
		p += i > 0 ? 7 : 6;
		for (j = 0; j < q->plen; j++) {
			*p++ = hex[(unsigned char)q->prefix[j] >> 4];
			*p++ = hex[(unsigned char)q->prefix[j] & 15];
		}
	}
	*p = '\0';
	*len = (size_t)(p - out);
	return out;
}

enum store_err
schema_quotas(store *st, struct pgconn *pc)
{
	const struct store_quota *q;
	PGresult	*res = NULL;
	struct pgq	 pq;
	char		*names;
	size_t		 len, i;
	enum store_err	 err = STORE_NOMEM;

	if ((names = schema_quota_names(st, &len)) == NULL)
		return STORE_NOMEM;
	if ((err = pg_sql(st, pc, "BEGIN ISOLATION LEVEL READ COMMITTED")) !=
	    STORE_OK)
		goto out;
	/* a usage not kept while its quota was away would be wrong */
	pgq_init(&pq);
	pgq_bytes(&pq, names, len);
	if ((res = pg_run(st, pc, Q_QUOTA_DROP, &pq, &err)) == NULL)
		goto out;
	PQclear(res);
	if ((res = pg_run(st, pc, Q_QUOTA_KEPT, &pq, &err)) == NULL)
		goto out;
	if (PQntuples(res) == 1 &&
	    (size_t)pg_int(res, 0, 0) == st->quotas.n)
		goto commit;
	PQclear(res);
	res = NULL;
	/* no write may slip between the count and its row */
	if ((err = pg_sql(st, pc, "LOCK TABLE verstore_kv IN SHARE ROW "
	    "EXCLUSIVE MODE")) != STORE_OK)
		goto out;
	for (i = 0; i < st->quotas.n; i++) {
		q = &st->quotas.q[i];
		pgq_init(&pq);
		pgq_bytes(&pq, q->prefix, q->plen);
		if ((res = pg_run(st, pc, Q_QUOTA_COUNT, &pq, &err)) == NULL)
			goto out;
		if (PQntuples(res) == 1)
			pg_log(st, 2, __func__, "quota %.*s: %lld bytes in %lld "
			    "keys, counted", (int)q->plen, q->prefix,
			    (long long)pg_int(res, 0, 0),
			    (long long)pg_int(res, 0, 1));
		PQclear(res);
		res = NULL;
	}
commit:
	err = pg_sql(st, pc, "COMMIT");
out:
	PQclear(res);
	if (err != STORE_OK)
		(void)pg_sql(st, pc, "ROLLBACK");
	free(names);
	return err;
}
