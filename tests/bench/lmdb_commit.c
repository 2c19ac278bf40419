/*
 * lmdb_commit - LMDB's durable commit rate on this disk, the reference for
 * verstore's write speed: N synced transactions of one 1 KiB put each.
 * Usage: lmdb_commit DIR SECONDS   Prints: commits/s p50_ms p99_ms
 */
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double
now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
cmp(const void *a, const void *b)
{
	double	 d = *(const double *)a - *(const double *)b;

	return d < 0 ? -1 : d > 0;
}

int
main(int argc, char *argv[])
{
	MDB_env		*env;
	MDB_txn		*txn;
	MDB_dbi		 dbi;
	MDB_val		 k, v;
	char		 kb[32], vb[1024];
	double		*lat, t0, secs, a;
	size_t		 n = 0, cap = 1 << 20;
	int		 rc;

	if (argc != 3) {
		fprintf(stderr, "usage: lmdb_commit DIR SECONDS\n");
		return 2;
	}
	secs = atof(argv[2]);
	memset(vb, 'x', sizeof(vb));
	if ((lat = malloc(cap * sizeof(*lat))) == NULL ||
	    (rc = mdb_env_create(&env)) != 0 ||
	    (rc = mdb_env_set_mapsize(env, (size_t)1 << 30)) != 0 ||
	    (rc = mdb_env_open(env, argv[1], 0, 0600)) != 0 ||
	    (rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0 ||
	    (rc = mdb_dbi_open(txn, NULL, 0, &dbi)) != 0 ||
	    (rc = mdb_txn_commit(txn)) != 0) {
		fprintf(stderr, "lmdb_commit: setup failed\n");
		return 1;
	}
	t0 = now();
	while (n < cap && now() - t0 < secs) {
		a = now();
		k.mv_size = (size_t)snprintf(kb, sizeof(kb), "k%08zu", n % 10000);
		k.mv_data = kb;
		v.mv_size = sizeof(vb);
		v.mv_data = vb;
		if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0 ||
		    (rc = mdb_put(txn, dbi, &k, &v, 0)) != 0 ||
		    (rc = mdb_txn_commit(txn)) != 0) {
			fprintf(stderr, "lmdb_commit: %s\n", mdb_strerror(rc));
			return 1;
		}
		lat[n++] = now() - a;
	}
	secs = now() - t0;
	qsort(lat, n, sizeof(*lat), cmp);
	printf("%.0f %.3f %.3f\n", n / secs, lat[n / 2] * 1e3,
	    lat[n * 99 / 100] * 1e3);
	mdb_env_close(env);
	free(lat);
	return 0;
}
