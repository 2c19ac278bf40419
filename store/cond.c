/*
 * cond.c - preconditions (API.md 4) judged against a key's state, the
 * same whatever backend holds it; see store_cond_check() in store.h.
 */
#include "store/store.h"

static int
tag_matches(const struct store_tag *t, const struct store_meta *cur,
    int strong)
{
	if (strong && t->weak)
		return 0;
	switch (t->kind) {
	case STORE_TAG_VERSION:
		return t->version == cur->version;
	case STORE_TAG_UPDATED:
		return t->updated_us == cur->updated_us;
	default:
		return 0;
	}
}

static int
any_matches(const struct store_tag *tags, size_t n,
    const struct store_meta *cur, int strong)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (tag_matches(&tags[i], cur, strong))
			return 1;
	return 0;
}

/*
 * In RFC 9110 13.2.2's order: If-Match (else If-Unmodified-Since), then
 * If-None-Match (else If-Modified-Since), then the body tokens. A
 * tombstone does not exist for any of them, but a precondition that
 * needs the key answers STORE_DELETED for it rather than STORE_NOTFOUND.
 */
enum store_err
store_cond_check(const struct store_cond *c, const struct store_meta *cur,
    int forread)
{
	const unsigned	 given = STORE_IF_MATCH | STORE_IF_UNMODIFIED |
	    STORE_IF_NONE_MATCH | STORE_TOKEN_VERSION | STORE_TOKEN_UPDATED;
	int		 exists = cur->version > 0 && !cur->deleted;
	enum store_err	 gone = cur->version == 0 ? STORE_NOTFOUND :
	    STORE_DELETED;

	if (c == NULL)
		return STORE_OK;
	if ((c->flags & STORE_REQUIRE) && exists && !(c->flags & given))
		return STORE_REQUIRED;
	if (c->flags & STORE_IF_MATCH) {
		if (!exists)
			return gone;
		if (!c->match_any && !any_matches(c->match, c->nmatch, cur, 1))
			return STORE_PRECOND;
	} else if ((c->flags & STORE_IF_UNMODIFIED) && exists &&
	    cur->lastmod_s > c->unmodified_since)
		return STORE_PRECOND;
	if (c->flags & STORE_IF_NONE_MATCH) {
		if (exists && (c->none_any ||
		    any_matches(c->none, c->nnone, cur, 0)))
			return forread ? STORE_NOT_MODIFIED : STORE_PRECOND;
	} else if (forread && (c->flags & STORE_IF_MODIFIED) && exists &&
	    cur->lastmod_s <= c->modified_since)
		return STORE_NOT_MODIFIED;
	if (c->flags & STORE_TOKEN_VERSION) {
		if (c->token_version == 0) {
			if (exists)
				return STORE_CONFLICT;
		} else if (!exists)
			return gone;
		else if (cur->version != c->token_version)
			return STORE_CONFLICT;
	}
	if (c->flags & STORE_TOKEN_UPDATED) {
		if (!exists)
			return gone;
		if (cur->updated_us != c->token_updated_us)
			return STORE_CONFLICT;
	}
	return STORE_OK;
}
