/*
 * load - fills a store for make bench-scale: keys bench/scale/t1-1 ..
 * bench/scale/t1-N/2 and t2-1 .. t2-N/2, each a 100-byte JSON string, in
 * transactions of 10000 writes. Usage: load DIR N
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"

#define CHUNK	10000

int
main(int argc, char *argv[])
{
	struct store_opts	 o;
	struct store_op		*ops;
	store			*st = NULL;
	static char		 keys[CHUNK][40];
	char			 value[101];
	long			 n, i, done = 0, half;
	size_t			 k;

	if (argc != 3 || (n = atol(argv[2])) < 2) {
		fprintf(stderr, "usage: load DIR N\n");
		return 2;
	}
	half = n / 2;
	memset(value, 'v', 100);
	value[0] = value[99] = '"';
	value[100] = '\0';
	memset(&o, 0, sizeof(o));
	o.dir = argv[1];
	o.map_size = (size_t)4 << 30;
	if ((ops = calloc(CHUNK, sizeof(*ops))) == NULL ||
	    store_open(&o, &st) != STORE_OK) {
		fprintf(stderr, "load: cannot open %s\n", argv[1]);
		return 1;
	}
	while (done < 2 * half) {
		for (k = 0; k < CHUNK && done < 2 * half; k++, done++) {
			i = done % half + 1;
			snprintf(keys[k], sizeof(keys[k]), "bench/scale/t%ld-%ld",
			    done < half ? 1L : 2L, i);
			memset(&ops[k], 0, sizeof(ops[k]));
			ops[k].kind = STORE_OP_PUT;
			ops[k].key = keys[k];
			ops[k].klen = strlen(keys[k]);
			ops[k].value = value;
			ops[k].vlen = 100;
		}
		if (store_apply(st, ops, k) != STORE_OK || ops[0].err != STORE_OK) {
			fprintf(stderr, "load: write failed\n");
			return 1;
		}
	}
	store_close(st);
	free(ops);
	printf("%ld keys\n", done);
	return 0;
}
