/*
 * problem.h - the problem+json catalogue (API.md 10): every error answer
 * of the API, as status, code and message. It is the only place where
 * error text is written; api.c renders an entry with its arguments:
 *
 *	api_problem(resp, P_TOO_LARGE_BODY, conf->max_body);
 *
 * Each entry expands to `status, "CODE", "printf format"`, so the
 * compiler checks the arguments of every use against its text. A message
 * says what was wrong and what to send instead.
 */
#ifndef PROBLEM_H
#define PROBLEM_H

/* Credentials (API.md 9) */
#define P_AUTH_NONE	401, "UNAUTHORIZED", "This request needs " \
	"credentials: send Authorization: Bearer <token>."
#define P_AUTH_MALFORMED	401, "UNAUTHORIZED", "Authorization is " \
	"malformed: send Authorization: Bearer <token>, the token as " \
	"verstored token add printed it."
#define P_AUTH_UNKNOWN	401, "UNAUTHORIZED", "The bearer token is not " \
	"known: it was mistyped or revoked."
#define P_AUTH_NO_USER	401, "UNAUTHORIZED", "No authenticated user: " \
	"nginx passed no REMOTE_USER."
#define P_AUTH_USER_LONG	401, "UNAUTHORIZED", \
	"REMOTE_USER is longer than 255 bytes."
#define P_FORBIDDEN_RO	403, "FORBIDDEN", "The token \"%s\" is " \
	"read-only: it may not change \"%s\"."
#define P_FORBIDDEN_KEY	403, "FORBIDDEN", "The token \"%s\" may not %s " \
	"\"%s\": none of its prefixes covers it."
#define P_FORBIDDEN_METRICS	403, "FORBIDDEN", "The token \"%s\" may not " \
	"read /api/metrics: they name every prefix's counts, so they need " \
	"a token for every key (*) or one made for them (verstored token add " \
	"NAME --metrics)."
#define P_FORBIDDEN_METRICS_ONLY	403, "FORBIDDEN", "The token \"%s\" " \
	"is for metrics: it reads /api/metrics and no key; use a token made " \
	"for keys here."

/* Routes and methods */
#define P_NO_RESOURCE	404, "NOT_FOUND", "No such resource: the API " \
	"lives under /api/storage/, /api/txn, /api/activities/, " \
	"/api/presence/, /api/changes, /api/health and /api/metrics."
#define P_TARGET	400, "INVALID_REQUEST", "The request target is " \
	"not a valid URI path: percent-encode spaces and every other " \
	"character RFC 3986 does not allow (as %%20)."
#define P_TARGET_KEY	400, "INVALID_KEY", "The request target is not " \
	"a valid URI path: percent-encode spaces and every other character " \
	"of the key that RFC 3986 does not allow (as %%20)."
#define P_METHOD_HEALTH	405, "METHOD_NOT_ALLOWED", "Use GET or HEAD here."
#define P_METHOD_METRICS	405, "METHOD_NOT_ALLOWED", \
	"Use GET or HEAD here."
#define P_METHOD_TXN	405, "METHOD_NOT_ALLOWED", "Use POST here."
#define P_METHOD_KEY	405, "METHOD_NOT_ALLOWED", \
	"This method is not allowed on a key."
#define P_METHOD_PREFIX	405, "METHOD_NOT_ALLOWED", \
	"A prefix can be listed (GET) or created under (POST)."
#define P_METHOD_SET	405, "METHOD_NOT_ALLOWED", \
	"A set is read with GET and changed with POST."

/* Bodies and media types */
#define P_BODY_TOO_LARGE	413, "TOO_LARGE", \
	"The body is larger than max_body (%zu bytes)."
#define P_BODY_LENGTH	400, "INVALID_REQUEST", \
	"Content-Length does not match the body."
#define P_BODY_EMPTY	400, "INVALID_JSON", "The body is empty."
#define P_BODY_DEEP	400, "INVALID_JSON", \
	"The body is nested deeper than 64 levels."
#define P_BODY_DUPLICATE	400, "INVALID_JSON", "The member name at " \
	"byte %zu appears twice in one object; send each name once (I-JSON)."
#define P_BODY_SYNTAX	400, "INVALID_JSON", \
	"The body is not JSON: it breaks off at byte %zu."
#define P_MEDIA_JSON	415, "UNSUPPORTED_MEDIA_TYPE", \
	"Send the body as Content-Type: application/json."
#define P_MEDIA_PATCH	415, "UNSUPPORTED_MEDIA_TYPE", "PATCH takes " \
	"application/merge-patch+json or application/json-patch+json."

/* Keys */
#define P_KEY_ENCODING	400, "INVALID_KEY", \
	"The key has malformed percent-encoding."
#define P_KEY_LENGTH	400, "INVALID_KEY", "A key has 1 to 512 bytes."
#define P_KEY_UTF8	400, "INVALID_KEY", "The key is not valid UTF-8."
#define P_KEY_CONTROL	400, "INVALID_KEY", \
	"The key holds a control character."
#define P_KEY_SEGMENT	400, "INVALID_KEY", \
	"The key has an empty, \".\" or \"..\" segment."
#define P_KEY_INVALID	400, "INVALID_KEY", "The key is invalid."
#define P_KEY_RESERVED	400, "INVALID_KEY", \
	"Keys whose first segment starts with _ are reserved."
#define P_KEY_CLASH	400, "INVALID_KEY", "A different 512-byte key " \
	"with the same first 502 bytes is already stored."
#define P_KEY_CREATED_LONG	400, "INVALID_KEY", "The prefix and the " \
	"name would make a key longer than 512 bytes."
#define P_SET_NAME	400, "INVALID_KEY", "A set's name is one key " \
	"segment: 1 to 200 bytes of UTF-8, no control characters, no '/', " \
	"not . or .."

/* Preconditions (API.md 4) */
#define P_IF_MATCH_MANY	400, "INVALID_REQUEST", \
	"If-Match lists too many entity tags."
#define P_IF_MATCH	400, "INVALID_REQUEST", "If-Match is malformed: " \
	"send the quoted version from the ETag (If-Match: \"7\"), a list of " \
	"them, or *."
#define P_IF_NONE_MATCH_MANY	400, "INVALID_REQUEST", \
	"If-None-Match lists too many entity tags."
#define P_IF_NONE_MATCH	400, "INVALID_REQUEST", "If-None-Match is " \
	"malformed: send quoted versions (If-None-Match: \"7\") or *."
#define P_IF_UNMODIFIED	400, "INVALID_REQUEST", "If-Unmodified-Since " \
	"is not an HTTP-date such as the Last-Modified header's (Sun, 22 Nov " \
	"2026 18:58:30 GMT)."
#define P_IF_MODIFIED	400, "INVALID_REQUEST", "If-Modified-Since is " \
	"not an HTTP-date such as the Last-Modified header's (Sun, 22 Nov " \
	"2026 18:58:30 GMT)."
#define P_PRECOND	412, "PRECONDITION_FAILED", "A precondition " \
	"failed: the key is not in the state the request expected."
#define P_PRECOND_409	409, "VERSION_CONFLICT", "A precondition " \
	"failed: the key is not in the state the request expected."
#define P_VERSION	409, "VERSION_CONFLICT", "The version in the " \
	"request is not the key's current version."
#define P_MERGE_CONFLICT	409, "MERGE_CONFLICT", "The key changed " \
	"since the version you read, and %zu of the paths you changed were " \
	"changed there too (conflicts); nothing was written."
#define P_REQUIRED	428, "PRECONDITION_REQUIRED", "Writes to this key " \
	"need If-Match, If-Unmodified-Since or a version."

/* Query parameters */
#define P_QUERY_RANGE	400, "INVALID_REQUEST", \
	"The query parameter %s is out of range (%llu to %llu)."
#define P_QUERY_AFTER	400, "INVALID_REQUEST", \
	"after must be a percent-encoded key."
#define P_QUERY_HISTORY	400, "INVALID_REQUEST", \
	"history takes 1: GET the key with ?history=1."
#define P_VERSION_GONE	404, "VERSION_GONE", "Version %llu is no longer " \
	"kept (history_versions); read the current one, or ?history=1 for " \
	"those kept."

/* Writes: PUT bodies, patches, appends, created keys */
#define P_PUT_TWICE	400, "INVALID_REQUEST", "The body names %s twice."
#define P_PUT_VERSION	400, "INVALID_REQUEST", \
	"version must be an integer from 0 to %llu."
#define P_PUT_UPDATED	400, "INVALID_REQUEST", \
	"updated_at must be an RFC 3339 UTC time."
#define P_PUT_MEMBER	400, "INVALID_REQUEST", "unknown member \"%s\": " \
	"the body holds value, and may hold version or updated_at; wrap the " \
	"document as {\"value\": ...}."
#define P_PUT_SHAPE	400, "INVALID_REQUEST", \
	"The body must be an object {\"value\": ...}."
#define P_PUT_NO_VALUE	400, "INVALID_REQUEST", \
	"The body has no value member."
#define P_PATCH_INVALID	400, "INVALID_PATCH", "The JSON patch is " \
	"malformed: an array of at most 128 operations, each with a known " \
	"op, valid JSON pointers and the members it needs."
#define P_PATCH_OP	409, "PATCH_CONFLICT", "JSON patch operation %ld " \
	"(%s) does not apply to the current value: its test failed or its " \
	"path is missing; nothing was written."
#define P_PATCH_APPLY	409, "PATCH_CONFLICT", "The change does not " \
	"apply to the current value (a missing path, or no array there); " \
	"nothing was written."
#define P_PATCH_DEEP	409, "PATCH_CONFLICT", "The result would nest " \
	"deeper than 64 levels; nothing was written."
#define P_VALUE_TOO_LARGE	413, "TOO_LARGE", "The change would make " \
	"the value larger than max_value (%zu bytes); nothing was written."
#define P_APPEND_WHERE	400, "INVALID_REQUEST", "POST to a key appends " \
	"to an array: name it with ?append=<JSON pointer>."
#define P_APPEND_POINTER	400, "INVALID_PATCH", "append must be a " \
	"JSON pointer (\"\" or /a/b, ~0 ~1 escapes, at most 64 tokens)."
#define P_APPEND_STAMP	400, "INVALID_REQUEST", \
	"stamp=1 needs an object to stamp."
#define P_CREATE_SLUG	400, "INVALID_REQUEST", "slug must be a string."
#define P_CREATE_MEMBER	400, "INVALID_REQUEST", \
	"The body may hold only value and slug, once each."

/* Transactions (API.md 5) */
#define P_TXN_SHAPE	400, "INVALID_REQUEST", \
	"The body is {\"ops\": [...]} and nothing else."
#define P_TXN_COUNT	400, "INVALID_REQUEST", \
	"A transaction has 1 to %d ops."
#define P_TXN_OP_OBJECT	400, "INVALID_REQUEST", "An op is an object."
#define P_TXN_OP_KIND	400, "INVALID_REQUEST", \
	"op is one of check, put, patch, delete and get."
#define P_TXN_OP_KEY	400, "INVALID_KEY", \
	"key must be a string of 1 to 512 bytes."
#define P_TXN_OP_VERSION	400, "INVALID_REQUEST", \
	"version must be an integer from 0 to %llu."
#define P_TXN_OP_MEMBER	400, "INVALID_REQUEST", "An op holds op, key " \
	"and what its op needs (value, version, merge or json_patch), once " \
	"each."
#define P_TXN_OP_NO_KEY	400, "INVALID_REQUEST", "Every op names a key."
#define P_TXN_OP_PREFIX	400, "INVALID_KEY", \
	"An op names a key, not a prefix."
#define P_TXN_OP_NEEDS	400, "INVALID_REQUEST", "check needs a version, " \
	"put a value, patch one of merge and json_patch; get takes only a key."
#define P_TXN_OP_PATCH	400, "INVALID_PATCH", \
	"The op's patch is malformed."

/* Activity sets (API.md 6) */
#define P_SET_ITEMS	400, "INVALID_REQUEST", "Items need an id (a " \
	"string of at most 1024 bytes, or an integer), and an id may come " \
	"once per request."
#define P_SET_PRECOND	412, "PRECONDITION_FAILED", \
	"The set changed since the ETag in If-Match."
#define P_SET_NOT_FOUND	404, "NOT_FOUND", "No such set (or bucket)."
#define P_SET_BROKEN	422, "INVALID_ACTIVITY", "The write would break " \
	"the set: a manifest must match its buckets, and a bucket hold " \
	"objects with distinct ids that hash to it."
#define P_SET_TOO_LARGE	413, "TOO_LARGE", "A bucket of the set would " \
	"grow past max_value; nothing was written. Delete items, or raise " \
	"max_value or bucket_count_max."
#define P_SET_FAILED	500, "INTERNAL", "The set could not be read or " \
	"written; nothing was changed."

/* The change feed (API.md 7) */
#define P_METHOD_CHANGES	405, "METHOD_NOT_ALLOWED", \
	"The feed is read with GET."
#define P_FEED_PREFIX	400, "INVALID_REQUEST", \
	"prefix must be a percent-encoded key prefix of at most 512 bytes."
#define P_FEED_LAST_ID	400, "INVALID_REQUEST", \
	"Last-Event-ID must be a seq from 0 to %llu, as the stream's id: " \
	"lines give it."
#define P_FEED_FORBIDDEN	403, "FORBIDDEN", "The token \"%s\" may " \
	"read no key under the prefix \"%s\": ask for a prefix within its " \
	"prefixes, or for none (the keys it may read)."
#define P_FEED_PREFIXES	400, "INVALID_REQUEST", "The token \"%s\" has " \
	"more than %d prefixes under \"%s\": ask for a narrower prefix."
#define P_FEED_FULL	503, "UNAVAILABLE", "This worker already has " \
	"max_watchers waiting; retry after a moment."
#define P_FEED_FULL_PRINCIPAL	503, "UNAVAILABLE", "\"%s\" already has " \
	"max_watchers_per_principal feed requests waiting on this worker: " \
	"close some (one stream can watch many keys), then retry."

/* Idempotency (API.md 8) */
#define P_IDEM_KEY	400, "INVALID_REQUEST", "Idempotency-Key is 1 to " \
	"255 visible ASCII characters, bare or as a quoted string."
#define P_IDEM_REUSED	422, "IDEMPOTENCY_KEY_REUSED", "This " \
	"Idempotency-Key was used for another request (method, path or body)."

/* Reads and state */
#define P_NOT_FOUND	404, "NOT_FOUND", "No such key."
#define P_DELETED	404, "DELETED", "The key was deleted."

/* The server's side */
#define P_FULL		507, "STORAGE_FULL", \
	"The store is full (map_size); nothing was written."
#define P_QUOTA		507, "QUOTA_EXCEEDED", "The write would take the " \
	"keys under \"%s\" past their quota of %llu bytes (%llu in use); " \
	"nothing was written. Delete or shrink keys under it, or ask for a " \
	"larger quota line."
#define P_UNAVAILABLE	503, "UNAVAILABLE", "The database cannot be " \
	"reached; nothing of the request was written. Retry after a moment."
#define P_INTERNAL	500, "INTERNAL", \
	"The store failed; nothing of the request was written."
#define P_OOM		500, "INTERNAL", "Out of memory."
#define P_INTERNAL_RENDER	500, "INTERNAL", \
	"The answer could not be rendered."

/* Presence and soft locks (API.md 13) */
#define P_METHOD_PRESENCE	405, "METHOD_NOT_ALLOWED", \
	"A key's presence is read with GET, joined with PUT and left with " \
	"DELETE."
#define P_METHOD_PRESENCE_PREFIX	405, "METHOD_NOT_ALLOWED", \
	"The presence under a prefix is read with GET; join a key itself."
#define P_PRESENCE_KEY_LONG	400, "INVALID_KEY", "A key with presence " \
	"has 1 to %d bytes."
#define P_PRESENCE_BODY	400, "INVALID_REQUEST", "A presence is " \
	"{\"session\": id, \"ttl\": seconds, \"state\": JSON, \"lock\": " \
	"true|false}: %s."
#define P_PRESENCE_STATE_LARGE	413, "TOO_LARGE", "state has %zu bytes " \
	"as compact JSON; it may have %d: keep a field name, a cursor, a " \
	"colour there, and the rest in the key."
#define P_PRESENCE_SESSION	400, "INVALID_REQUEST", "Name the session " \
	"with ?session=S: 1 to %d of A-Z a-z 0-9 . _ ~ -."
#define P_PRESENCE_FORCE_VALUE	400, "INVALID_REQUEST", \
	"force is 1 or absent."
#define P_PRESENCE_NOT_FOUND	404, "NOT_FOUND", "The session \"%s\" is " \
	"not present on \"%s\" (it left, or expired)."
#define P_PRESENCE_NOT_OWNER	403, "FORBIDDEN", "The session \"%s\" on " \
	"\"%s\" is another principal's: use a session id of your own."
#define P_PRESENCE_RO_LOCK	403, "FORBIDDEN", "The token \"%s\" is " \
	"read-only: it may be present on \"%s\" but not lock it."
#define P_PRESENCE_FORCE	403, "FORBIDDEN", "Only a token for every " \
	"key that may write (rw *) may make another's session leave."
#define P_PRESENCE_LOCKED	423, "LOCKED", "Another session holds the " \
	"lock on \"%s\" (see holder): join without the lock, or wait until " \
	"it leaves or expires."
#define P_PRESENCE_KEY_FULL	429, "TOO_MANY_SESSIONS", "\"%s\" has " \
	"presence_per_key (%u) sessions present already: try again when " \
	"one leaves."
#define P_PRESENCE_PRINCIPAL_FULL	429, "TOO_MANY_SESSIONS", "\"%s\" " \
	"has presence_per_principal (%u) sessions present already: leave " \
	"one first."
#define P_FEED_FAREWELL	400, "INVALID_REQUEST", "A feed that makes a " \
	"session leave when it closes names both: session=S and " \
	"presence_key=K, the key (not a prefix, at most 400 bytes) it is on."
#define P_LOCKED_WRITE	423, "LOCKED", "\"%s\" is locked by \"%s\" (see " \
	"holder): write it once they leave, or have an administrator break " \
	"the lock."

#endif
