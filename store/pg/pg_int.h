/*
 * pg_int.h - what the files of store/pg/ share; private to it.
 *
 * The store on PostgreSQL (or an engine that speaks its wire protocol and
 * its plain SQL: no advisory locks, extensions or triggers). schema.c
 * creates and migrates the tables at open:
 *
 *   verstore_meta(name, value)   "schema" (its version), "seq" (the last
 *                                seq given), "last_id" (the last id of a
 *                                created key)
 *   verstore_kv                  a key's current state, tombstones too;
 *                                its seq (indexed) is the change feed:
 *                                each key's latest change
 *   verstore_history             the versions kept, the current one too
 *   verstore_idem                the answers of idempotent requests
 *   verstore_presence            sessions on keys (API.md 13), a row
 *                                per key and session; one that left
 *                                stays (left_why) until drop_us, so
 *                                that its seq is the feed's leave
 *
 * Keys, values and principals are bytea, so keys sort in byte order and
 * values come back byte for byte. Every write transaction first locks the
 * meta row "seq" (SELECT ... FOR UPDATE): writers of every host take it
 * in turn, as LMDB's writers take its write lock, so preconditions are
 * judged against the state they write over, seq is given in commit order,
 * and writers never deadlock one another. A serialization failure or a
 * deadlock (SQLSTATE 40001, 40P01) re-runs the whole transaction, a
 * bounded number of times.
 *
 * Connections come from a pool in the store (conn.c): a thread takes one
 * for a call and gives it back; a broken one is dropped, so the next call
 * connects anew. Every statement is prepared on each connection, with
 * binary parameters and results.
 *
 * The arrows point down: conn.c opens the store (schema.c) with what
 * write.c gives the group commit queue, and starts listen.c's thread,
 * which tells on_commit of other hosts' commits; write.c and read.c use
 * conn.c.
 */
#ifndef PG_INT_H
#define PG_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "store/store.h"
#include "store/store_int.h"

#define PG_SCHEMA	2	/* meta "schema": the tables' layout */
#define PG_SCHEMA_TEXT	"2"	/* ... in SQL */
#define PG_RETRIES	10	/* runs of a transaction that the database
				   refused for a concurrent one */
#define PG_POOL_IDLE	64	/* idle connections kept */
#define PG_POLL_MS	1000	/* the seq read for other hosts' writes */
/* Bounds on waiting for the database (settings the conninfo may override). */
#define PG_CONNECT_TIMEOUT	"5"	/* s to connect */
#define PG_TCP_USER_TIMEOUT	"10000"	/* ms data may go unacknowledged */
#define PG_IDLE_TX_TIMEOUT	"'10s'"	/* a session idle in a transaction */
#define PG_LOCK_TIMEOUT		"'10s'"	/* a wait for a row lock */
/* Sessions' application_name, for pg_stat_activity (the conninfo's wins). */
#define PG_APP			"verstored"
#define PG_APP_FEED		"verstored feed"	/* listen.c's */

/* The prepared statements (conn.c holds their SQL). */
enum pg_stmt {
	Q_GET,		/* key -> value, version, created, updated,
			   lastmod, deleted, principal */
	Q_GET_LOCK,	/* the same, FOR UPDATE */
	Q_WRITE,	/* a new version: kv, history, pruning */
	Q_NEXT_ID,	/* the next id of a created key */
	Q_SEQ,		/* the last seq */
	Q_LIST,		/* a listing without an upper bound */
	Q_LIST_TO,	/* a listing below a bound */
	Q_CHANGES,	/* the feed */
	Q_HISTORY,	/* the versions kept */
	Q_VERSION,	/* one version */
	Q_IDEM_GET,
	Q_IDEM_PURGE,
	Q_IDEM_PUT,
	Q_PREFETCH,	/* keys (bytea[]) -> key, value, state, FOR UPDATE */
	Q_SEQ_SET,	/* the last seq, written */
	Q_WRITES,	/* many Q_WRITEs of different keys, as arrays */
	Q_QUOTA_GET,	/* a quota's usage (prefix), locked */
	Q_QUOTA_ADD,	/* ... added to */
	Q_QUOTA_COUNT,	/* ... counted from the keys, when none is kept */
	Q_QUOTA_DROP,	/* the usage of quotas not named, dropped */
	Q_QUOTA_KEPT,	/* how many of the named quotas have a usage */
	Q_QUOTA_ALL,	/* the usage of the named quotas */
	Q_CHANGES_P,	/* the feed with the presence events */
	Q_P_KEY,	/* a session and the others live on its key */
	Q_P_COUNT,	/* a principal's sessions present */
	Q_P_PUT,	/* a session's row, written */
	Q_P_LEAVE,	/* a session's row, left */
	Q_P_LIST,	/* the sessions live on a key or under a prefix */
	Q_P_LIST_TO,	/* ... below a bound */
	Q_P_DUE,	/* something for the sweep? */
	Q_P_EXPIRE,	/* the sessions past their expiry, left */
	Q_P_DROP,	/* leaves past the time kept, dropped */
	Q_P_HOLDER,	/* a lock on a key of another principal's */
	Q_NSTMT
};

/* One connection of the pool. */
struct pgconn {
	PGconn		*c;
	struct pgconn	*next;		/* the idle list */
	int		 retry;		/* the last failure was 40001/40P01 */
	int		 gone;		/* its server cannot take writes (a
					   standby): closed when given back */
};

/*
 * A write transaction keeps the rows it locked (its cache, write.c): the
 * keys of a batch's ops are read and locked in one statement as it
 * begins, a write changes the cached row at once and is queued, and the
 * queue goes out in one round trip (a pipeline) with COMMIT, or before a
 * statement that must see it, its writes of different keys in one
 * statement (wmany.c). So a batch of plain ops costs a few round trips
 * and statements, not two per op, while it holds the seq row every
 * writer waits for.
 */
#define PG_ROWS_MAX	(2 * STORE_BATCH_MAX)	/* rows cached, at most */
#define PG_ROWS_SLOTS	(4 * STORE_BATCH_MAX)	/* their hash table (2^n) */
#define PG_WRITES_MAX	STORE_BATCH_MAX		/* writes queued, at most */

/* A value shared by a cached row and the writes queued for it. */
struct pgval {
	size_t		 refs;
	size_t		 len;
	char		 data[];	/* len bytes and a NUL */
};

/* A key's row as its transaction left it (locked by it). */
struct pgrow {
	char		 key[STORE_KEY_MAX];
	size_t		 klen;
	int		 found;		/* it exists (a tombstone too) */
	struct store_meta meta;		/* found: its state */
	struct pgval	*value;		/* NULL: none (a tombstone) */
};

/* A write queued: the row's new state, as Q_WRITE takes it. */
struct pgwrite {
	const struct pgrow *row;	/* the key */
	struct pgval	*value;		/* NULL: a tombstone */
	struct store_meta meta;
	uint64_t	 seq;
	uint64_t	 prune;		/* the highest version pruned */
	struct store_op	*op;		/* whose write; failing, it gets */
	struct store_meta before;	/* the error and this state back */
};

struct pgcache {
	struct pgrow	*rows[PG_ROWS_MAX];
	size_t		 nrows;
	uint16_t	 slot[PG_ROWS_SLOTS];	/* index + 1; 0: free */
	struct pgwrite	*w;		/* the queue, grown up to */
	size_t		 nw, wcap;	/* PG_WRITES_MAX */
};

/* A write transaction (or a read one: writable 0). */
struct pgtx {
	struct pgconn	*pc;
	uint64_t	 seq;		/* the last seq given in it */
	uint64_t	 seq0;		/* ... when it began */
	int		 failed;	/* a statement failed: it is unusable */
	int		 defer;		/* writes are queued (else sent) */
	struct pgcache	*cache;		/* NULL: none yet */
};

struct store {
	struct store_head head;	/* first: store.c reads it */
	char		*conninfo;
	int		 ready;		/* open: the schema is there */
	unsigned	 history_versions;
	store_clock_fn	 clock;
	void		*clock_arg;
	store_log_fn	 log;
	store_commit_fn	 on_commit;
	void		*commit_arg;
	_Atomic uint64_t posted;	/* the last seq told on_commit */
	int		 notify;	/* commits send NOTIFY verstore */
	int		 relaxed;	/* commits do not wait for the WAL's
					   flush (synchronous_commit off) */
	int		 listening;	/* listen.c's thread runs */
	int		 listen_stop[2]; /* a pipe: a byte stops it */
	pthread_t	 listener;
	_Atomic uint64_t busy;		/* connections handed out */
	_Atomic int64_t	 said_down;	/* the second it last said so */
	pthread_mutex_t	 lock;		/* the idle list */
	struct pgconn	*idle;
	size_t		 nidle;
	struct commit_queue q;		/* store_write() */
	struct pgtx	 qtx[1];	/* the queue's transaction */
	struct quota_set quotas;	/* schema.c, write.c */
};

/* A statement's parameters, binary, at most PG_PARAMS of them. */
#define PG_PARAMS	12
struct pgq {
	const char	*v[PG_PARAMS];
	int		 len[PG_PARAMS];
	int		 fmt[PG_PARAMS];
	unsigned char	 num[PG_PARAMS][8];
	int		 n;
};

/* A transaction as store_read() and STORE_OP_MULTI hand it out. */
struct store_io {
	struct store_head head;	/* first: store.c reads it */
	store		*st;
	struct pgtx	*tx;
	int		 writable;
	const char	*principal;
	enum store_err	 pg_err;	/* a statement the database refused,
					   or a quota (then quota, quota_used) */
	size_t		 quota;
	uint64_t	 quota_used;
	PGresult	**res;		/* what store_io_get handed out */
	size_t		 nres;
	size_t		 cap;
};

/* conn.c */

void		pg_log(const store *, int level, const char *func,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/*
 * A connection to conninfo, with the bounds above, named app in
 * pg_stat_activity unless conninfo names it (PQstatus says whether it is
 * up; PQfinish it either way).
 */
PGconn		*pg_dial(const char *conninfo, const char *app);
/* libpq's notice processor: the server's warnings to st's log. */
void		 pg_notice(void *st, const char *msg);
/* A connection of the pool, connected and prepared; NULL: logged. */
struct pgconn	*pg_take(store *);
/* Gives pc back: kept when idle and healthy, else closed. NULL-safe. */
void		 pg_give(store *, struct pgconn *pc);

void		 pgq_init(struct pgq *);
void		 pgq_bytes(struct pgq *, const void *p, size_t n);
void		 pgq_int(struct pgq *, int64_t v);
void		 pgq_bool(struct pgq *, int v);
void		 pgq_null(struct pgq *);
/* p[0..4): v, big-endian, as the binary wire forms want it. */
void		 pg_put_u32(unsigned char *p, uint32_t v);
/*
 * The head of the binary form of a one-dimensional bytea[] of n elements
 * (PG_ARRAY_HEAD bytes at buf); each element follows as pg_put_u32 of its
 * length, then its bytes.
 */
#define PG_ARRAY_HEAD	20
void		 pg_array_head(unsigned char *buf, uint32_t n);

/*
 * Runs statement s on pc: the result (TUPLES_OK or COMMAND_OK, to
 * PQclear), or NULL with *err set (logged, pc->retry set for 40001 and
 * 40P01; STORE_IO when the connection is lost).
 */
PGresult	*pg_run(store *, struct pgconn *pc, enum pg_stmt s,
		    const struct pgq *q, enum store_err *err);
/* Sends statement s into pc's pipeline; 1, or 0 when it could not. */
int		 pg_send(struct pgconn *pc, enum pg_stmt s,
		    const struct pgq *q);
/*
 * The store's error for a failed result (res may be NULL), logged as
 * pg_run logs it, pc->retry set for 40001 and 40P01; what names it. A
 * server that refuses writes as read-only (25006: a standby, or a primary
 * demoted) is STORE_UNAVAILABLE, and pc->gone is set: the pool drops pc,
 * and the idle ones, so the next connection finds the primary.
 */
enum store_err	 pg_fail(store *, struct pgconn *pc, PGresult *res,
		    const char *what);
/* Runs plain SQL (no parameters, text); STORE_OK or as pg_run. */
enum store_err	 pg_sql(store *, struct pgconn *pc, const char *sql);

/* Binary result fields. */
int64_t		 pg_int(const PGresult *, int row, int col);
int		 pg_bool(const PGresult *, int row, int col);
/*
 * Fills m from the columns col.. of row: version, created_us, updated_us,
 * lastmod_s, deleted, principal.
 */
void		 pg_meta(const PGresult *, int row, int col,
		    struct store_meta *m);

/* wmany.c */
#define PG_WMANY_BYTES	(1u << 20)	/* values in one Q_WRITES, at most
					   (but one value, whatever size) */
/* How many of w[0..n) (n > 0), from the first, go in one Q_WRITES. */
size_t		 pgwm_span(const struct pgwrite *w, size_t n);
/* Sends Q_WRITES of w[0..n) into pc's pipeline; 1, or 0 when it could not. */
int		 pgwm_send(struct pgconn *pc, const struct pgwrite *w, size_t n);

/* listen.c */
/* Tells on_commit of seq when it is above the last one told. */
void		 pg_post(store *, uint64_t seq);
/* Starts the thread that learns of other processes' commits (none
   without on_commit). */
enum store_err	 pg_listen_start(store *);
void		 pg_listen_stop(store *);	/* when started; waits */

/* presence.c: presence (API.md 13), store.h's calls. */
enum store_err	 pgp_join(store *, const struct store_join *,
		    struct store_presence *out);
enum store_err	 pgp_leave(store *, const char *key, size_t klen,
		    const char *session, size_t slen, const char *principal,
		    enum store_left why, struct store_presence *out);
enum store_err	 pgp_list(store *, const char *key, size_t klen, int exact,
		    size_t max, struct store_presence **out, size_t *n,
		    int *more);
enum store_err	 pgp_sweep(store *, size_t max, size_t *expired);
/*
 * STORE_LOCKED (holder filled) when a session of a principal other than
 * principal (NULL: none) holds a live lock on key, read in tx at now;
 * else STORE_OK, or the failure of the statement (tx failed then).
 */
enum store_err	 pgp_lock_check(store *, struct pgtx *tx, const char *key,
		    size_t klen, const char *principal, int64_t now,
		    struct store_presence *holder);
/* A presence row from column col on (key, session, principal, state,
   since_us, expires_us, lock, left_why, seq); -1: not one. */
int		 pgp_row(const PGresult *, int row, int col,
		    struct store_presence *p);

/* schema.c: creates or migrates the schema; STORE_OK or logged. */
enum store_err	 schema_ensure(store *, struct pgconn *pc);
/*
 * The names of st's quotas' usage rows in verstore_meta, comma-separated
 * ("quota:" and the prefix in hex), as Q_QUOTA_DROP, KEPT and ALL take
 * them; malloc'ed, NULL when out of memory.
 */
char		*schema_quota_names(const store *, size_t *len);
/*
 * Drops the usage rows of quotas st was not opened with, and counts those
 * of its quotas that have none (the keys locked against writes while it
 * counts), in one transaction on pc (prepared).
 */
enum store_err	 schema_quotas(store *, struct pgconn *pc);

/* write.c */
/* Begins a write transaction on tx->pc (taken when NULL), seq locked. */
enum store_err	 pgw_begin(store *, struct pgtx *tx);
void		 pgw_init(store *, const struct store_opts *);
enum store_err	 pgw_apply(store *, struct store_op *ops, size_t n);
enum store_err	 pgw_write(store *, struct store_op *op);
enum store_err	 pgw_write_all(store *, struct store_op *ops, size_t n,
		    size_t *failed);
enum store_err	 pgw_io_put(store_io *, const char *key, size_t klen,
		    const char *value, size_t vlen, struct store_meta *meta);

/* read.c */
/*
 * The least byte string above every key that starts with p[0..n), in
 * out; its length, 0 when there is none (p empty or all 0xff).
 */
size_t		 pg_prefix_end(const char *p, size_t n, unsigned char *out);
enum store_err	 pgr_changes_ex(store *, uint64_t since,
		     const struct store_prefix *pfx, size_t npfx,
		     size_t limit, size_t scan_max, int with_presence,
		     struct store_changes *out);
/* Forgets what store_io_get handed out. */
void		 pgio_clear(store_io *);
enum store_err	 pgr_get(store *, const char *key, size_t klen,
		    struct store_meta *meta, char **value, size_t *vlen);
enum store_err	 pgr_list(store *, const char *prefix, size_t plen,
		    const char *after, size_t alen, size_t limit,
		    int with_values, struct store_list *out);
enum store_err	 pgr_io_get(store_io *, const char *key, size_t klen,
		    struct store_meta *meta, const char **value, size_t *vlen);
enum store_err	 pgr_read(store *, store_multi_fn fn, void *arg);
enum store_err	 pgr_changes(store *, uint64_t since,
		     const struct store_prefix *pfx, size_t npfx,
		     size_t limit, size_t scan_max, struct store_changes *out);
uint64_t	 pgr_seq(store *);
enum store_err	 pgr_history(store *, const char *key, size_t klen,
		    struct store_version **out, size_t *n);
enum store_err	 pgr_get_version(store *, const char *key, size_t klen,
		    uint64_t version, struct store_meta *meta, char **value,
		    size_t *vlen);
enum store_err	 pgr_io_get_version(store_io *, const char *key,
		    size_t klen, uint64_t version, struct store_meta *meta,
		    const char **value, size_t *vlen);

#endif
