/*
 * presence.c - the parts of presence (API.md 13) that every backend
 * shares: what a session id and a join may be, and a session's entry.
 */
#include <string.h>

#include "store/store.h"
#include "store/store_int.h"

int
store_session_ok(const char *s, size_t n)
{
	size_t	 i;

	if (s == NULL || n == 0 || n > STORE_SESSION_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char	 c = (unsigned char)s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		    c == '~' || c == '-'))
			return 0;
	}
	return 1;
}

int
presence_join_ok(const struct store_join *j)
{
	return j->key != NULL && j->klen > 0 &&
	    j->klen <= STORE_PRESENCE_KEY_MAX &&
	    memchr(j->key, '\0', j->klen) == NULL &&
	    store_session_ok(j->session, j->slen) &&
	    (j->principal == NULL ||
	    strlen(j->principal) <= STORE_PRINCIPAL_MAX) &&
	    (j->state != NULL || j->statelen == 0) &&
	    j->statelen <= STORE_STATE_MAX && j->ttl_us > 0 &&
	    j->per_key >= 1 && j->per_key <= STORE_PRESENCE_PER_KEY_MAX &&
	    j->per_principal >= 1;
}

void
presence_from_join(struct store_presence *p, const struct store_join *j,
    int64_t now)
{
	memset(p, 0, sizeof(*p));
	memcpy(p->key, j->key, j->klen);
	p->klen = j->klen;
	memcpy(p->session, j->session, j->slen);
	p->slen = j->slen;
	if (j->principal != NULL)
		strcpy(p->principal, j->principal);
	if (j->statelen > 0)
		memcpy(p->state, j->state, j->statelen);
	p->statelen = j->statelen;
	p->since_us = now;
	p->expires_us = now + j->ttl_us;
	p->lock = j->lock != 0;
	p->left = STORE_PRESENT;
}

int
presence_changes(const struct store_presence *p, const struct store_join *j)
{
	return (p->lock != 0) != (j->lock != 0) ||
	    p->statelen != j->statelen ||
	    (j->statelen > 0 && memcmp(p->state, j->state, j->statelen) != 0);
}
