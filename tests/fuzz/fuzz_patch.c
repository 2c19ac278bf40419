/*
 * fuzz_patch.c - merge patch, JSON patch and append on any document.
 * Input: one byte choosing the kind, the document, a NUL, the patch.
 * Properties: a result is valid JSON no longer than max_value; a merge
 * patch applied again changes nothing (RFC 7396 is idempotent).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "json/json.h"
#include "json/patch.h"

#define MAX_VALUE	4096

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct patch_ctx	 ctx = { "2026-11-22T18:58:30.123456Z", "fuzz",
				    MAX_VALUE };
	struct patch		*p = NULL;
	struct buf		 cur = { 0 };
	const char		*doc, *sep, *pt;
	char			*out = NULL, *again = NULL;
	size_t			 dn, pn, on = 0, an;
	struct patch_res	 res;
	int			 kind;

	if (size < 2)
		return 0;
	kind = data[0] % 3;
	doc = (const char *)data + 1;
	if ((sep = memchr(doc, '\0', size - 1)) == NULL)
		return 0;
	dn = (size_t)(sep - doc);
	pt = sep + 1;
	pn = size - 2 - dn;
	if (dn > MAX_VALUE ||
	    json_check(doc, dn, JSON_MAX_DEPTH - 1, NULL) != JSON_OK ||
	    json_check(pt, pn, JSON_MAX_DEPTH, NULL) != JSON_OK)
		return 0;
	if ((kind == 0 && patch_merge(pt, pn, &p) != PATCH_OK) ||
	    (kind == 1 && patch_json(pt, pn, &p) != PATCH_OK) ||
	    (kind == 2 && patch_append("/a", 2, pt, pn, 1, &p) != PATCH_OK))
		goto out;
	/* stored values are compact text, as the store keeps them */
	json_compact(&cur, doc, dn);
	if (cur.oom)
		goto out;
	if (patch_apply(p, cur.p, cur.len, &ctx, &out, &on, &res) ==
	    PATCH_OK) {
		if (on > MAX_VALUE || strlen(out) != on ||
		    json_check(out, on, JSON_MAX_DEPTH - 1, NULL) != JSON_OK)
			abort();
		if (kind == 0) {
			if (patch_apply(p, out, on, &ctx, &again, &an, &res) !=
			    PATCH_OK || an != on || memcmp(out, again, on) != 0)
				abort();
			free(again);
		}
	} else if (out != NULL)
		abort();
out:
	free(out);
	patch_free(p);
	buf_free(&cur);
	return 0;
}
