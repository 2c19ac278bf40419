/*
 * env.c - the LMDB environment: opened with its databases, closed, and
 * copied for a backup; see lmdb_int.h for what it holds.
 *
 * The map is RESERVE_MUL / 2 times map_size. Writes stop once the pages
 * in use reach map_size (write.c); the rest, the reserve, is for
 * deletes, which a full store must still take: each leaves a tombstone in
 * the records and in the history, and a feed entry, and frees only its
 * value's current copy (the versions kept stay until they fall out).
 * Deleting every key of a store filled with one-byte values took the
 * pages in use from map_size to 1.88 times it (measured; half-filled
 * pages where tombstones went in between): so much may deleting ask for,
 * and the reserve holds that with a margin. A store that an earlier build
 * filled to exactly its map opens with the reserve free. The file grows
 * only as pages are used: past map_size only by deletes.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lmdb.h>

#include "rec.h"
#include "store/store.h"
#include "store/store_int.h"
#include "lmdb_int.h"

#define RESERVE_MUL	5	/* the map: map_size * RESERVE_MUL / 2 */

const struct store_backend store_backend_lmdb = {
	"lmdb", lmdb_close, lmdb_thread_end, lmdb_get, lmdb_list, lmdb_io_get,
	lmdb_io_put, lmdb_read, lmdb_apply, lmdb_write, lmdb_write_all,
	lmdb_backup, lmdb_stats, lmdb_changes, lmdb_seq, lmdb_history,
	lmdb_get_version, lmdb_io_get_version, lmdb_usage, lmdb_quota_usage,
	lmdb_changes_ex, lmdb_presence_join, lmdb_presence_leave,
	lmdb_presence_list, lmdb_presence_sweep,
};

enum store_err
store_open_lmdb(const struct store_opts *o, store **out)
{
	store		*st = NULL;
	MDB_txn		*txn = NULL;
	MDB_val		 k, v;
	uint32_t	 fmt = STORE_FORMAT;
	int		 rc, dead = 0;
	enum store_err	 err = STORE_INVALID;

	*out = NULL;
	if (o->dir == NULL || o->map_size == 0 ||
	    o->map_size > SIZE_MAX / RESERVE_MUL)
		goto out;
	err = STORE_NOMEM;
	if ((st = calloc(1, sizeof(*st))) == NULL)
		goto out;
	st->head.be = &store_backend_lmdb;
	write_init(st, o);
	st->clock = o->clock ? o->clock : op_real_clock;
	st->clock_arg = o->clock_arg;
	st->log = o->log;
	st->history_versions = o->history_versions ? o->history_versions :
	    STORE_HISTORY_DEFAULT;
	st->on_commit = o->on_commit;
	st->commit_arg = o->commit_arg;
	st->limit = o->map_size;
	if ((err = quota_init(&st->quotas, o)) != STORE_OK)
		goto out;
	err = STORE_IO;
	if (mkdir(o->dir, 0700) == -1 && errno != EEXIST) {
		db_log(st, 0, __func__, "mkdir %s: %s", o->dir,
		    strerror(errno));
		goto out;
	}
	if ((rc = mdb_env_create(&st->env)) != 0 ||
	    (rc = mdb_env_set_maxdbs(st->env, 10)) != 0 ||
	    (rc = mdb_env_set_mapsize(st->env,
	    o->map_size / 2 * RESERVE_MUL)) != 0 ||
	    (rc = mdb_env_set_maxreaders(st->env,
	    o->max_readers ? o->max_readers : 126)) != 0) {
		err = db_err(st, __func__, "mdb_env_create", rc);
		goto out;
	}
	/*
	 * MDB_NOTLS: a reader slot belongs to its transaction, not thread.
	 * MDB_NOSYNC: a commit is written to the file (the page cache) but
	 * not synced; the kernel writes it back later.
	 */
	if ((rc = mdb_env_open(st->env, o->dir, MDB_NOTLS |
	    (o->relaxed ? MDB_NOSYNC : 0), 0600)) != 0) {
		err = db_err(st, __func__, o->dir, rc);
		goto out;
	}
	st->maxkey = (size_t)mdb_env_get_maxkeysize(st->env);
	if ((rc = mdb_reader_check(st->env, &dead)) != 0) {
		err = db_err(st, __func__, "mdb_reader_check", rc);
		goto out;
	}
	if (dead > 0)
		db_log(st, 1, __func__, "cleared %d stale reader slots", dead);
	if ((rc = mdb_txn_begin(st->env, NULL, 0, &txn)) != 0 ||
	    (rc = mdb_dbi_open(txn, "records", MDB_CREATE, &st->recs)) != 0 ||
	    (rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &st->meta)) != 0 ||
	    (rc = mdb_dbi_open(txn, "idem", MDB_CREATE, &st->idem)) != 0 ||
	    (rc = mdb_dbi_open(txn, "idem_exp", MDB_CREATE,
	    &st->idem_exp)) != 0 ||
	    (rc = mdb_dbi_open(txn, "changes", MDB_CREATE,
	    &st->changes)) != 0 ||
	    (rc = mdb_dbi_open(txn, "history", MDB_CREATE,
	    &st->history)) != 0 ||
	    (rc = mdb_dbi_open(txn, "presence", MDB_CREATE,
	    &st->presence)) != 0 ||
	    (rc = mdb_dbi_open(txn, "presence_exp", MDB_CREATE,
	    &st->pexp)) != 0 ||
	    (rc = mdb_dbi_open(txn, "presence_gone", MDB_CREATE,
	    &st->pgone)) != 0 ||
	    (rc = mdb_dbi_open(txn, "presence_count", MDB_CREATE,
	    &st->pcount)) != 0) {
		err = db_err(st, __func__, "open databases", rc);
		goto out;
	}
	/* a commit that took no seq tells on_commit nothing */
	atomic_store(&st->posted, feed_last_seq(st, txn));
	k.mv_data = "format";
	k.mv_size = 6;
	rc = mdb_get(txn, st->meta, &k, &v);
	if (rc == MDB_NOTFOUND) {
		v.mv_data = &fmt;
		v.mv_size = sizeof(fmt);
		rc = mdb_put(txn, st->meta, &k, &v, 0);
	} else if (rc == 0 && (v.mv_size != sizeof(fmt) ||
	    memcmp(v.mv_data, &fmt, sizeof(fmt)) != 0)) {
		db_log(st, 0, __func__, "%s: unknown store format", o->dir);
		err = STORE_CORRUPT;
		goto out;
	}
	if (rc != 0) {
		err = db_err(st, __func__, "format", rc);
		goto out;
	}
	if ((err = usage_open(st, txn)) != STORE_OK)
		goto out;
	if ((rc = mdb_txn_commit(txn)) != 0) {
		txn = NULL;
		err = db_err(st, __func__, "commit", rc);
		goto out;
	}
	txn = NULL;
	*out = st;
	st = NULL;
	err = STORE_OK;
out:
	if (txn != NULL)
		mdb_txn_abort(txn);
	lmdb_close(st);
	return err;
}

void
lmdb_close(store *st)
{
	if (st == NULL)
		return;
	lmdb_thread_end(st);
	if (st->env != NULL)
		mdb_env_close(st->env);
	commit_fini(&st->q);
	quota_fini(&st->quotas);
	free(st);
}

/*
 * The copy's data.mdb is made 0600, as the store's own file is:
 * mdb_env_copy2() would make it 0666 less the umask, readable by all.
 */
enum store_err
lmdb_backup(store *st, const char *dir)
{
	char	 path[PATH_MAX];
	int	 fd, rc;

	if ((size_t)snprintf(path, sizeof(path), "%s/data.mdb", dir) >=
	    sizeof(path))
		return db_err(st, __func__, dir, ENAMETOOLONG);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) == -1)
		return db_err(st, __func__, path, errno);
	rc = mdb_env_copyfd2(st->env, fd, MDB_CP_COMPACT);
	if (rc == 0 && fsync(fd) == -1)
		rc = errno;
	if (close(fd) == -1 && rc == 0)
		rc = errno;
	if (rc != 0)
		(void)unlink(path);
	return db_err(st, __func__, path, rc);
}

void
lmdb_stats(store *st, struct store_stats *out)
{
	commit_stats(&st->q, out);
}

/* mdb_reader_list's line for each slot: those with a txnid are reading. */
static int
count_reader(const char *line, void *arg)
{
	uint64_t	*n = arg;
	size_t		 len = strlen(line);

	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == ' '))
		len--;
	if (len > 0 && line[len - 1] >= '0' && line[len - 1] <= '9')
		(*n)++;
	return 0;
}

enum store_err
lmdb_usage(store *st, struct store_usage *out)
{
	MDB_txn		*txn;
	enum store_err	 err;
	int		 rc;

	memset(out, 0, sizeof(*out));
	out->size_bytes = st->limit;
	/* the pages in use, not the file's end: free pages are reused */
	if ((rc = db_read_begin(st, &txn)) != 0)
		return db_err(st, __func__, "mdb_txn_begin", rc);
	err = db_used_bytes(st, txn, &out->used_bytes);
	db_read_end(txn);
	if (err != STORE_OK)
		return err;
	/* the header line ends in "txnid", an idle slot in "-" */
	if (mdb_reader_list(st->env, count_reader, &out->readers) < 0)
		return db_err(st, __func__, "readers", EIO);
	return STORE_OK;
}
