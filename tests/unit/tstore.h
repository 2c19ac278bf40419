/*
 * tstore.h - a fresh store for unit tests: LMDB in a new temporary
 * directory, or, once tstore_use_pg() said yes, PostgreSQL in a fresh
 * schema of the database that VERSTORE_PG names (tests/pg.sh starts one;
 * psql empties the schema, which the store finds through search_path).
 */
#ifndef TSTORE_H
#define TSTORE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"

static char tstore_dir[64];
static int tstore_pg;			/* the stores are PostgreSQL's */
static char tstore_conninfo[1024];

#define TSTORE_SCHEMA	"verstore_unit"

/* Empties the test schema; 0, or -1 when psql could not. */
static inline int
tstore_pg_reset(void)
{
	char	 cmd[1400];

	snprintf(cmd, sizeof(cmd), "PGOPTIONS=--client-min-messages=warning "
	    "psql -X -q -v ON_ERROR_STOP=1 \"%s\" -c 'DROP SCHEMA IF EXISTS "
	    TSTORE_SCHEMA " CASCADE; CREATE SCHEMA " TSTORE_SCHEMA "'",
	    getenv("VERSTORE_PG"));
	return system(cmd) == 0 ? 0 : -1;
}

/* Sets o to the store that tstore_open_opts() opened last. */
static inline void
tstore_reopen_opts(struct store_opts *o)
{
	if (tstore_pg) {
		o->backend = STORE_BACKEND_POSTGRES;
		o->conninfo = tstore_conninfo;
	} else
		o->dir = tstore_dir;
}

/* Opens a store with o's options, in a new directory or schema. */
static inline store *
tstore_open_opts(struct store_opts *o)
{
	store	*st = NULL;

	if (tstore_pg) {
		if (tstore_pg_reset() == -1)
			abort();
	} else {
		strcpy(tstore_dir, "/tmp/verstore-unit-XXXXXX");
		if (mkdtemp(tstore_dir) == NULL)
			abort();
	}
	tstore_reopen_opts(o);
	if (store_open(o, &st) != STORE_OK)
		abort();
	return st;
}

static inline store *
tstore_open(size_t map_size, store_clock_fn clock)
{
	struct store_opts	 o;

	memset(&o, 0, sizeof(o));
	o.map_size = map_size;
	o.clock = clock;
	return tstore_open_opts(&o);
}

static inline void
tstore_close(store *st)
{
	char	 cmd[128];

	store_close(st);
	if (tstore_pg)
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tstore_dir);
	if (system(cmd) != 0)
		abort();
}

/*
 * Switches the tests to PostgreSQL when VERSTORE_PG names a database (and
 * says so when it does not): 1 when the tests should run again there.
 */
static inline int
tstore_use_pg(void)
{
	const char	*ci = getenv("VERSTORE_PG");
	struct store_opts o;
	store		*st = NULL;

	if (ci == NULL || *ci == '\0') {
		printf("# postgres pass skipped: VERSTORE_PG is not set "
		    "(tests/pg.sh start)\n");
		return 0;
	}
	snprintf(tstore_conninfo, sizeof(tstore_conninfo),
	    "%s options='-c search_path=" TSTORE_SCHEMA "'", ci);
	memset(&o, 0, sizeof(o));
	o.backend = STORE_BACKEND_POSTGRES;
	o.conninfo = tstore_conninfo;
	if (tstore_pg_reset() == -1 || store_open(&o, &st) != STORE_OK) {
		printf("FAIL tstore_postgres_open (VERSTORE_PG set, but no "
		    "store there: built without libpq, or no server)\n");
		return 0;
	}
	store_close(st);
	tstore_pg = 1;
	t_suffix = "_pg";
	return 1;
}

/* A PUT of value (a C string) to key, under c (NULL: none). */
static inline struct store_op
tstore_put_op(const char *key, const char *value, const struct store_cond *c)
{
	struct store_op	 op;

	memset(&op, 0, sizeof(op));
	op.kind = STORE_OP_PUT;
	op.key = key;
	op.klen = strlen(key);
	op.value = value;
	op.vlen = strlen(value);
	op.cond = c;
	return op;
}

#endif
