/* tstore.h - a store in a fresh temporary directory, for unit tests. */
#ifndef TSTORE_H
#define TSTORE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"

static char tstore_dir[64];

static store *
tstore_open(size_t map_size, store_clock_fn clock)
{
	struct store_opts	 o;
	store			*st = NULL;

	strcpy(tstore_dir, "/tmp/verstore-unit-XXXXXX");
	if (mkdtemp(tstore_dir) == NULL)
		abort();
	memset(&o, 0, sizeof(o));
	o.dir = tstore_dir;
	o.map_size = map_size;
	o.clock = clock;
	if (store_open(&o, &st) != STORE_OK)
		abort();
	return st;
}

static void
tstore_close(store *st)
{
	char	 cmd[128];

	store_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tstore_dir);
	if (system(cmd) != 0)
		abort();
}

#endif
