/*
 * conf.h - verstored's configuration: loaded once at start-up into a
 * struct conf that is then passed by pointer and never written again.
 * The file format and every setting are documented in conf/verstore.conf.
 */
#ifndef CONF_H
#define CONF_H

#include <limits.h>
#include <stddef.h>
#include <sys/un.h>


#define CONF_PREFIXES_MAX	32
#define CONF_KEY_MAX		512	/* a key prefix; STORE_KEY_MAX */
#define CONF_BATCH_MAX		256	/* batch_max; STORE_BATCH_MAX */
#define CONF_ORIGINS_MAX	32	/* cors_origins */
#define CONF_ORIGIN_MAX		255	/* bytes of one origin */

#define CONF_CONNINFO_MAX	1023	/* bytes of postgres_conninfo */
#define CONF_QUOTAS_MAX		64	/* quota lines; STORE_QUOTAS_MAX */
#define CONF_QUOTA_PREFIX_MAX	255	/* bytes of a quota's prefix */

/* A quota line: the keys under prefix hold at most bytes (store.h). */
struct conf_quota {
	char		prefix[CONF_QUOTA_PREFIX_MAX + 1];
	size_t		bytes;
};

enum conf_backend {
	CONF_BACKEND_LMDB = 0,		/* data_dir, one host */
	CONF_BACKEND_POSTGRES,		/* postgres_conninfo, any hosts */
};

enum conf_auth {
	CONF_AUTH_NONE = 0,		/* no credentials asked */
	CONF_AUTH_TOKEN,		/* Bearer tokens of the tokens file */
	CONF_AUTH_REMOTE_USER,		/* nginx's REMOTE_USER */
};

struct conf {
	int		backend;		/* enum conf_backend */
	char		conninfo[CONF_CONNINFO_MAX + 1]; /* "" = libpq's
						   defaults (PG* variables) */
	char		data_dir[PATH_MAX];
	char		socket[sizeof(((struct sockaddr_un *)0)->sun_path)];
	unsigned	socket_mode;
	char		socket_group[64];	/* "" = leave as is */
	unsigned	workers;		/* 0 = one per CPU */
	unsigned	threads;
	size_t		map_size;
	size_t		max_body;
	int		precondition_failed_status;	/* 412 or 409 */
	int		require_all;		/* require_preconditions on */
	size_t		nrequire;		/* ... or for these prefixes */
	char		require[CONF_PREFIXES_MAX][CONF_KEY_MAX + 1];
	size_t		nmerge;			/* auto_merge prefixes */
	char		merge[CONF_PREFIXES_MAX][CONF_KEY_MAX + 1];
	int		log_level;		/* enum log_level */
	unsigned	shutdown_timeout;	/* seconds */
	unsigned	batch_max;		/* writes per group commit */
	unsigned	idempotency_ttl;	/* seconds */
	unsigned	bucket_max_items;	/* activity buckets */
	unsigned	bucket_count_max;	/* buckets of one set */
	size_t		max_value;		/* a stored value's bytes */
	unsigned	request_timeout;	/* seconds to deliver a request */
	unsigned	max_conns;		/* open connections per worker */
	unsigned	max_watchers;		/* waiting feed requests, each */
	unsigned	max_watchers_per_principal; /* ... of one principal;
						   0: a quarter of those */
	unsigned	history_versions;	/* versions a key keeps */
	int		durability_relaxed;	/* commits not synced */
	int		auth;			/* enum conf_auth */
	char		tokens[PATH_MAX];	/* the tokens file; "" = unset */
	size_t		norigins;		/* cors_origins */
	char		origins[CONF_ORIGINS_MAX][CONF_ORIGIN_MAX + 1];
	int		metrics_public;		/* /api/metrics without auth */
	size_t		nquotas;		/* quota lines, in their order */
	struct conf_quota quotas[CONF_QUOTAS_MAX];
	size_t		nlocks;			/* enforce_locks prefixes */
	char		locks[CONF_PREFIXES_MAX][CONF_KEY_MAX + 1];
	unsigned	presence_per_key;	/* sessions on one key */
	unsigned	presence_per_principal;	/* ... of one principal */
};

enum conf_err {
	CONF_OK = 0,
	CONF_OPEN,		/* the file cannot be read (errno in sys) */
	CONF_SYNTAX,		/* a line is not "name value" */
	CONF_UNKNOWN,		/* no such setting */
	CONF_VALUE,		/* the value is out of range or malformed */
	CONF_TOO_MANY,		/* too many require_preconditions prefixes
				   or cors_origins */
	CONF_NO_TOKENS,		/* auth token, and no tokens file named */
};

struct conf_error {
	enum conf_err	code;
	int		line;		/* 1-based; 0 when not about a line */
	int		sys;		/* errno, CONF_OPEN only */
	char		name[32];	/* the setting, when known */
	char		value[64];	/* its value, cut to fit */
};

void		conf_defaults(struct conf *);
/*
 * Loads path over the defaults. A later line overrides an earlier one.
 * "auth token" needs a "tokens" line (CONF_NO_TOKENS, on the auth line).
 */
enum conf_err	conf_load(struct conf *, const char *path, struct conf_error *);
/*
 * Applies one "name value" setting. Only cors_origins takes a list, its
 * values separated by blanks; it replaces the list of an earlier line.
 * postgres_conninfo takes the rest of its line, blanks and all. quota
 * takes a prefix and bytes; a line for a prefix named before replaces
 * its bytes, "quota off" forgets every quota.
 */
enum conf_err	conf_set(struct conf *, const char *name, const char *value);
/* The form a setting's value takes, for a message; NULL if unknown. */
const char	*conf_expected(const char *name);
/*
 * Checks, as the user running it, that the paths of the configuration
 * can be used: under backend lmdb, data_dir (made when missing) and its
 * store are readable and writable, the socket's directory can hold the socket, socket_group
 * names a group, and under auth token the tokens file can be read and
 * loads. -1 with a sentence in msg when not (naming the tokens file's
 * line at fault).
 */
int		conf_check(const struct conf *, char *msg, size_t msgsz);
/*
 * SIGHUP: takes next's settings into cur, but for those that only a
 * restart applies (the data, the socket, the processes and threads, the
 * sizes the connections and the store were opened with); the names of
 * those that next changes go into restart, blank-separated ("" if none).
 */
void		conf_apply(struct conf *cur, const struct conf *next,
		    char *restart, size_t restartsz);
/* The number of workers to run (resolves workers 0). */
unsigned	conf_workers(const struct conf *);
/* 1 when a stale PUT of key[0..n) is merged without Prefer: merge. */
int		conf_auto_merge(const struct conf *, const char *key, size_t n);
/* 1 when another principal's lock on key[0..n) refuses a write. */
int		conf_enforces_locks(const struct conf *, const char *key,
		    size_t n);
/* 1 when writes to key[0..n) must carry a precondition. */
int		conf_requires(const struct conf *, const char *key, size_t n);
/* 1 when origin[0..n) is one of cors_origins (compared as bytes). */
int		conf_origin_allowed(const struct conf *, const char *origin,
		    size_t n);

#endif
