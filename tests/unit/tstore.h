/* tstore.h - a store in a fresh temporary directory, for unit tests. */
#ifndef TSTORE_H
#define TSTORE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"

static char tstore_dir[64];

/* Opens a store with o's options in a new directory (o->dir is set). */
static inline store *
tstore_open_opts(struct store_opts *o)
{
	store	*st = NULL;

	strcpy(tstore_dir, "/tmp/verstore-unit-XXXXXX");
	if (mkdtemp(tstore_dir) == NULL)
		abort();
	o->dir = tstore_dir;
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
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tstore_dir);
	if (system(cmd) != 0)
		abort();
}

#endif
