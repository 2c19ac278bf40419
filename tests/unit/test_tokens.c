/*
 * Unit tests of proc/tokens: the file's form and its errors by line, the
 * lookup of a presented token, what an entry allows, and token add and
 * revoke on real files; lib/base64url on the RFC 4648 vectors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/base64url.h"
#include "lib/hex.h"
#include "lib/sha256.h"
#include "proc/tokens.h"
#include "t.h"

static char	 dir[] = "/tmp/verstore-tokens-XXXXXX";
static char	 path[sizeof(dir) + 16];

static void
put(const char *text)
{
	FILE	*f;

	if ((f = fopen(path, "w")) == NULL)
		abort();
	fputs(text, f);
	fclose(f);
}

static char *
slurp(void)
{
	static char	 text[8192];
	FILE		*f;
	size_t		 n;

	if ((f = fopen(path, "r")) == NULL)
		return NULL;
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	return text;
}

/* The digest field of a token, as the file holds it (four at a time). */
static const char *
digest(const char *token)
{
	static char	 hex[4][2 * SHA256_LEN + 1];
	static int	 i;
	unsigned char	 d[SHA256_LEN];

	i = (i + 1) % 4;
	sha256(token, strlen(token), d);
	hex_encode(d, sizeof(d), hex[i]);
	return hex[i];
}

static int
b64_is(const char *s, size_t n, const char *want)
{
	char	 out[64];

	base64url_encode(s, n, out);
	return strlen(out) == BASE64URL_LEN(n) && strcmp(out, want) == 0;
}

static void
test_base64url(void)
{
	CHECK(b64_is("", 0, ""));
	CHECK(b64_is("f", 1, "Zg"));
	CHECK(b64_is("fo", 2, "Zm8"));
	CHECK(b64_is("foo", 3, "Zm9v"));
	CHECK(b64_is("foob", 4, "Zm9vYg"));
	CHECK(b64_is("fooba", 5, "Zm9vYmE"));
	CHECK(b64_is("foobar", 6, "Zm9vYmFy"));
	CHECK(b64_is("\xfb\xff", 2, "-_8"));	/* "+/8=" in base64 */
	CHECK(BASE64URL_LEN(32) == 43);
}

static void
test_tokens_load(void)
{
	struct tokens			*t;
	struct tokens_err		 e;
	const struct tokens_entry	*en;
	char				 text[1024];

	snprintf(text, sizeof(text),
	    "# the CRM's tokens\n"
	    "\n"
	    "alice %s rw crm/ notes/\n"
	    "   # indented comment\n"
	    "bob\t%s\tro\t*\r\n"
	    "svc.backup@host-1 %s ro crm/reports/",
	    digest("tok-alice"), digest("tok-bob"), digest("tok-svc"));
	put(text);
	CHECK(tokens_load(path, &t, &e) == TOKENS_OK && e.code == TOKENS_OK);
	if (t == NULL)
		return;
	CHECK(tokens_count(t) == 3);
	en = tokens_at(t, 0);
	CHECK(strcmp(en->name, "alice") == 0 && en->rw && !en->all);
	CHECK(en->nprefixes == 2 && en->line == 3);
	CHECK(strcmp(en->prefixes[0], "crm/") == 0);
	CHECK(strcmp(en->prefixes[1], "notes/") == 0);
	en = tokens_at(t, 1);
	CHECK(strcmp(en->name, "bob") == 0 && !en->rw && en->all);
	CHECK(en->nprefixes == 0 && en->prefixes == NULL && en->line == 5);
	en = tokens_at(t, 2);
	CHECK(strcmp(en->name, "svc.backup@host-1") == 0 && en->line == 6);
	CHECK(en->nprefixes == 1 && strcmp(en->prefixes[0], "crm/reports/") == 0);

	CHECK(tokens_find(t, "tok-alice", 9) == tokens_at(t, 0));
	CHECK(tokens_find(t, "tok-bob", 7) == tokens_at(t, 1));
	CHECK(tokens_find(t, "tok-svc", 7) == tokens_at(t, 2));
	CHECK(tokens_find(t, "tok-svc", 6) == NULL);
	CHECK(tokens_find(t, "tok-svcx", 8) == NULL);
	CHECK(tokens_find(t, "", 0) == NULL);
	CHECK(tokens_find(t, digest("tok-bob"), 64) == NULL);
	tokens_free(t);

	/* empty, and only comments: no tokens, no error */
	put("");
	CHECK(tokens_load(path, &t, &e) == TOKENS_OK && tokens_count(t) == 0);
	CHECK(tokens_find(t, "x", 1) == NULL);
	tokens_free(t);
	put("# none yet\n\n  \n");
	CHECK(tokens_load(path, &t, &e) == TOKENS_OK && tokens_count(t) == 0);
	tokens_free(t);
	tokens_free(NULL);
}

/* Every entry found, wherever it stands among many. */
static void
test_tokens_find_any_place(void)
{
	struct tokens		*t;
	struct tokens_err	 e;
	char			 text[64 * 120], tok[32];
	size_t			 i, off = 0;

	for (i = 0; i < 64; i++) {
		snprintf(tok, sizeof(tok), "token-%zu", i);
		off += (size_t)snprintf(text + off, sizeof(text) - off,
		    "n%zu %s %s k%zu/\n", i, digest(tok), i % 2 ? "rw" : "ro",
		    i);
	}
	put(text);
	CHECK(tokens_load(path, &t, &e) == TOKENS_OK);
	if (t == NULL)
		return;
	CHECK(tokens_count(t) == 64);
	for (i = 0; i < 64; i++) {
		snprintf(tok, sizeof(tok), "token-%zu", i);
		CHECK(tokens_find(t, tok, strlen(tok)) == tokens_at(t, i));
	}
	CHECK(tokens_find(t, "token-64", 8) == NULL);
	tokens_free(t);
}

static void
test_tokens_allows(void)
{
	struct tokens			*t;
	struct tokens_err		 e;
	const struct tokens_entry	*rw, *ro, *all, *bare;
	char				 text[1024];

	snprintf(text, sizeof(text), "rw %s rw crm/ _act/crm-\n"
	    "ro %s ro crm/\nall %s ro *\nbare %s rw crm\n",
	    digest("1"), digest("2"), digest("3"), digest("4"));
	put(text);
	CHECK(tokens_load(path, &t, &e) == TOKENS_OK);
	if (t == NULL)
		return;
	rw = tokens_at(t, 0);
	ro = tokens_at(t, 1);
	all = tokens_at(t, 2);
	bare = tokens_at(t, 3);
	CHECK(tokens_allows(rw, "crm/a", 5, 0) && tokens_allows(rw, "crm/a", 5, 1));
	CHECK(tokens_allows(rw, "crm/", 4, 1));
	CHECK(!tokens_allows(rw, "crm", 3, 0));	/* "crm/" is not "crm" */
	CHECK(!tokens_allows(rw, "crmx/a", 6, 0));
	CHECK(!tokens_allows(rw, "notes/a", 7, 0));
	CHECK(tokens_allows(rw, "_act/crm-acme/0", 15, 1));
	/* the length given counts, not a NUL */
	CHECK(!tokens_allows(rw, "crm/a", 3, 0));
	CHECK(tokens_allows(ro, "crm/a", 5, 0) && !tokens_allows(ro, "crm/a", 5, 1));
	CHECK(tokens_allows(all, "anything", 8, 0));
	CHECK(!tokens_allows(all, "anything", 8, 1));
	/* a bare prefix is bytes: "crm" covers "crm", "crm/a" and "crmx" */
	CHECK(tokens_allows(bare, "crm", 3, 1));
	CHECK(tokens_allows(bare, "crm/a", 5, 1));
	CHECK(tokens_allows(bare, "crmx", 4, 1));
	CHECK(!tokens_allows(bare, "cr", 2, 0));
	tokens_free(t);
}

/* A bad line is named by its number and what it should have been. */
static void
test_tokens_errors(void)
{
	static const struct {
		const char		*line;
		enum tokens_status	 code;
		const char		*value;
	} bad[] = {
		{ "alice H rw", TOKENS_FIELDS, "" },
		{ "alice", TOKENS_FIELDS, "" },
		{ "al/ice H rw *", TOKENS_NAME, "al/ice" },
		{ "alice 00 rw *", TOKENS_HASH, "" },
		{ "alice H rx *", TOKENS_MODE, "rx" },
		{ "alice H RW *", TOKENS_MODE, "RW" },
		{ "alice H rw /crm/", TOKENS_PREFIX, "/crm/" },
		{ "alice H rw crm/ *", TOKENS_PREFIX, "*" },
		{ "alice H rw * crm/", TOKENS_PREFIX, "*" },
		{ "alice H rw crm/*", TOKENS_PREFIX, "crm/*" },
		{ "alice H rw a\x01z", TOKENS_PREFIX, "a\x01z" },
		{ "alice H rw \xc3(", TOKENS_PREFIX, "\xc3(" },
		{ "alice H rw crm/\x7f", TOKENS_PREFIX, "crm/\x7f" },
	};
	struct tokens		*t = NULL;
	struct tokens_err	 e;
	char			 text[2048], line[1024], hash[65], *h;
	char			 reason[512], name[66];
	size_t			 i;
	FILE			*f;

	snprintf(hash, sizeof(hash), "%s", digest("x"));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(line, sizeof(line), "%s", bad[i].line);
		if ((h = strstr(line, " H ")) != NULL) {
			memmove(h + 65, h + 2, strlen(h + 2) + 1);
			memcpy(h + 1, hash, 64);
		}
		snprintf(text, sizeof(text), "# ok\nbob %s ro *\n%s\n",
		    digest("b"), line);
		put(text);
		CHECK(tokens_load(path, &t, &e) == bad[i].code);
		CHECK(t == NULL && e.code == bad[i].code && e.line == 3);
		if (bad[i].value != NULL)
			CHECK(strcmp(e.value, bad[i].value) == 0);
		if (e.code != bad[i].code || e.line != 3)
			fprintf(stderr, "  line %s: code %d line %d\n",
			    bad[i].line, e.code, e.line);
	}

	/* the digest field: 63 or 65 digits, or not hex */
	snprintf(text, sizeof(text), "a %.63s rw *\n", digest("x"));
	put(text);
	CHECK(tokens_load(path, &t, &e) == TOKENS_HASH && e.line == 1);
	snprintf(text, sizeof(text), "a %s0 rw *\n", digest("x"));
	put(text);
	CHECK(tokens_load(path, &t, &e) == TOKENS_HASH);
	snprintf(text, sizeof(text), "a g%.63s rw *\n", digest("x"));
	put(text);
	CHECK(tokens_load(path, &t, &e) == TOKENS_HASH);
	/* upper-case hex is a digest too */
	put("a E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"
	    " ro *\n");
	CHECK(tokens_load(path, &t, &e) == TOKENS_OK);
	CHECK(tokens_find(t, "", 0) == tokens_at(t, 0));
	tokens_free(t);

	/* a token pasted where its digest goes is never repeated */
	put("a 7Hd0Xw8xM2h0Uu1e3b1qS-Vb6bWcQ0qL9s3oPcYtZkA rw *\n");
	CHECK(tokens_load(path, &t, &e) == TOKENS_HASH);
	tokens_reason(&e, reason, sizeof(reason));
	CHECK(strstr(reason, "7Hd0Xw8x") == NULL && strstr(reason, "64 hex"));
	CHECK(strstr(e.value, "7Hd0Xw8x") == NULL);

	/* a name twice, a digest twice: the earlier line is named */
	snprintf(text, sizeof(text), "a %s rw *\n\nb %s ro x/\na %s ro *\n",
	    digest("1"), digest("2"), digest("3"));
	put(text);
	CHECK(tokens_load(path, &t, &e) == TOKENS_DUP_NAME);
	CHECK(e.line == 4 && e.other == 1 && strcmp(e.value, "a") == 0);
	tokens_reason(&e, reason, sizeof(reason));
	CHECK(strcmp(reason, "the name \"a\" is on line 1 already") == 0);
	snprintf(text, sizeof(text), "a %s rw *\nb %s ro x/\nc %s ro *\n",
	    digest("1"), digest("2"), digest("2"));
	put(text);
	CHECK(tokens_load(path, &t, &e) == TOKENS_DUP_HASH);
	CHECK(e.line == 3 && e.other == 2);

	/* a NUL byte in a line */
	if ((f = fopen(path, "w")) == NULL)
		abort();
	fwrite("a\0b\n", 1, 4, f);
	fclose(f);
	CHECK(tokens_load(path, &t, &e) == TOKENS_FIELDS && e.line == 1);

	/* a name of 64 characters, and of 65 */
	memset(name, 'n', 65);
	name[64] = '\0';
	snprintf(text, sizeof(text), "%s %s ro *\n", name, digest("x"));
	put(text);
	CHECK(tokens_load(path, &t, &e) == TOKENS_OK);
	tokens_free(t);
	name[64] = 'n';
	name[65] = '\0';
	snprintf(text, sizeof(text), "%s %s ro *\n", name, digest("x"));
	put(text);
	CHECK(tokens_load(path, &t, &e) == TOKENS_NAME && e.line == 1);

	/* no file, and a directory */
	unlink(path);
	CHECK(tokens_load(path, &t, &e) == TOKENS_READ && t == NULL);
	tokens_reason(&e, reason, sizeof(reason));
	CHECK(strstr(reason, "No such file") != NULL && e.line == 0);
	CHECK(tokens_load(dir, &t, &e) == TOKENS_READ && t == NULL);
}

static void
test_tokens_add_revoke(void)
{
	struct tokens		*t;
	struct tokens_err	 e;
	struct stat		 sb;
	const char		*crm[] = { "crm/", "notes/" }, *star[] = { "*" };
	const char		*bad[] = { "crm/", "*" }, *text;
	char			 tok[TOKENS_TOKEN_LEN + 1], tok2[sizeof(tok)];
	char			 want[256];
	size_t			 i;

	unlink(path);
	CHECK(tokens_add(path, "alice", 1, crm, 2, tok, &e) == TOKENS_OK);
	CHECK(strlen(tok) == TOKENS_TOKEN_LEN);
	for (i = 0; i < TOKENS_TOKEN_LEN; i++)
		CHECK(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		    "0123456789-_", tok[i]) != NULL);
	CHECK(stat(path, &sb) == 0 && (sb.st_mode & 07777) == 0640);
	snprintf(want, sizeof(want), "alice %s rw crm/ notes/\n", digest(tok));
	CHECK((text = slurp()) != NULL && strcmp(text, want) == 0);

	/* a second, read-only for every key; a file without a last newline */
	snprintf(want, sizeof(want), "# kept\nalice %s rw crm/ notes/",
	    digest(tok));
	put(want);
	CHECK(tokens_add(path, "bob", 0, NULL, 0, tok2, &e) == TOKENS_OK);
	CHECK(strcmp(tok, tok2) != 0);
	CHECK(tokens_load(path, &t, &e) == TOKENS_OK);
	if (t != NULL) {
		CHECK(tokens_count(t) == 2);
		CHECK(tokens_find(t, tok, strlen(tok)) == tokens_at(t, 0));
		CHECK(tokens_find(t, tok2, strlen(tok2)) == tokens_at(t, 1));
		CHECK(tokens_at(t, 1)->all && !tokens_at(t, 1)->rw);
		tokens_free(t);
	}
	CHECK(tokens_add(path, "carol", 1, star, 1, tok2, &e) == TOKENS_OK);

	/* refused: a name taken, a bad name, a bad prefix, "*" among others */
	CHECK(tokens_add(path, "bob", 1, NULL, 0, tok2, &e) == TOKENS_DUP_NAME);
	CHECK(e.line == 0 && e.other == 3 && tok2[0] == '\0');
	CHECK(tokens_add(path, "b b", 1, NULL, 0, tok2, &e) == TOKENS_NAME);
	CHECK(tokens_add(path, "", 1, NULL, 0, tok2, &e) == TOKENS_NAME);
	CHECK(tokens_add(path, "dan", 1, bad, 2, tok2, &e) == TOKENS_PREFIX);
	CHECK(strcmp(e.value, "*") == 0);
	bad[0] = "with space/";
	CHECK(tokens_add(path, "dan", 1, bad, 1, tok2, &e) == TOKENS_PREFIX);

	/* revoke: the line goes, the rest stays as it was */
	CHECK(chmod(path, 0600) == 0);
	CHECK(tokens_revoke(path, "bob", &e) == TOKENS_OK);
	CHECK(stat(path, &sb) == 0 && (sb.st_mode & 07777) == 0600);
	snprintf(want, sizeof(want), "# kept\nalice %s rw crm/ notes/\n",
	    digest(tok));
	CHECK((text = slurp()) != NULL && strncmp(text, want,
	    strlen(want)) == 0 && strstr(text, "bob") == NULL &&
	    strstr(text, "carol ") != NULL);
	CHECK(tokens_revoke(path, "bob", &e) == TOKENS_NO_NAME);
	CHECK(strcmp(e.value, "bob") == 0);
	CHECK(tokens_revoke(path, "alice", &e) == TOKENS_OK);
	CHECK(tokens_revoke(path, "carol", &e) == TOKENS_OK);
	CHECK((text = slurp()) != NULL && strcmp(text, "# kept\n") == 0);

	/* a broken file is neither added to nor rewritten */
	put("x\n");
	CHECK(tokens_add(path, "erin", 1, NULL, 0, tok2, &e) == TOKENS_FIELDS);
	CHECK(e.line == 1);
	CHECK(tokens_revoke(path, "x", &e) == TOKENS_FIELDS && e.line == 1);
	CHECK((text = slurp()) != NULL && strcmp(text, "x\n") == 0);
	unlink(path);
	CHECK(tokens_revoke(path, "x", &e) == TOKENS_READ);
	/* no directory to make it in */
	CHECK(tokens_add("/nonexistent/dir/tokens", "erin", 1, NULL, 0, tok2,
	    &e) == TOKENS_WRITE);
}

/* A metrics token reads the metrics and no key, and takes no prefix. */
static void
test_tokens_metrics(void)
{
	struct tokens			*t;
	struct tokens_err		 e;
	const struct tokens_entry	*m, *all, *crm;
	const char			*crm_p[] = { "crm/" }, *star[] = { "*" };
	const char			*text;
	char				 buf[1024], tok[TOKENS_TOKEN_LEN + 1];
	char				 reason[512];

	snprintf(buf, sizeof(buf), "prom %s metrics\nall %s ro *\n"
	    "crm %s rw crm/\n", digest("1"), digest("2"), digest("3"));
	put(buf);
	CHECK(tokens_load(path, &t, &e) == TOKENS_OK);
	if (t == NULL)
		return;
	m = tokens_at(t, 0);
	all = tokens_at(t, 1);
	crm = tokens_at(t, 2);
	CHECK(strcmp(m->name, "prom") == 0 && m->metrics && !m->rw);
	CHECK(!m->all && m->nprefixes == 0 && m->prefixes == NULL);
	CHECK(!all->metrics && !crm->metrics);
	CHECK(tokens_find(t, "1", 1) == m);
	CHECK(!tokens_allows(m, "crm/a", 5, 0) && !tokens_allows(m, "", 0, 0));
	CHECK(!tokens_allows(m, "crm/a", 5, 1));
	CHECK(tokens_reads_metrics(m) && tokens_reads_metrics(all));
	CHECK(!tokens_reads_metrics(crm));
	tokens_free(t);

	/* a prefix after metrics, "*" too, is refused and named */
	snprintf(buf, sizeof(buf), "ok %s ro *\nprom %s metrics crm/\n",
	    digest("1"), digest("2"));
	put(buf);
	CHECK(tokens_load(path, &t, &e) == TOKENS_METRICS_PREFIX && t == NULL);
	CHECK(e.line == 2 && strcmp(e.value, "crm/") == 0);
	tokens_reason(&e, reason, sizeof(reason));
	CHECK(strstr(reason, "takes no PREFIX") != NULL);
	snprintf(buf, sizeof(buf), "prom %s metrics *\n", digest("2"));
	put(buf);
	CHECK(tokens_load(path, &t, &e) == TOKENS_METRICS_PREFIX);
	/* three fields are a line for metrics only */
	snprintf(buf, sizeof(buf), "prom %s ro\n", digest("2"));
	put(buf);
	CHECK(tokens_load(path, &t, &e) == TOKENS_FIELDS && e.line == 1);
	tokens_reason(&e, reason, sizeof(reason));
	CHECK(strstr(reason, "NAME SHA256HEX metrics") != NULL);
	snprintf(buf, sizeof(buf), "prom %s Metrics\n", digest("2"));
	put(buf);
	CHECK(tokens_load(path, &t, &e) == TOKENS_MODE);
	CHECK(strcmp(e.value, "Metrics") == 0);

	/* token add makes the line, without a prefix */
	unlink(path);
	CHECK(tokens_add(path, "prom", TOKENS_METRICS, NULL, 0, tok, &e) ==
	    TOKENS_OK);
	snprintf(buf, sizeof(buf), "prom %s metrics\n", digest(tok));
	CHECK((text = slurp()) != NULL && strcmp(text, buf) == 0);
	CHECK(tokens_load(path, &t, &e) == TOKENS_OK);
	if (t != NULL) {
		CHECK(tokens_find(t, tok, strlen(tok)) == tokens_at(t, 0));
		CHECK(tokens_at(t, 0)->metrics);
		tokens_free(t);
	}
	CHECK(tokens_add(path, "prom2", TOKENS_METRICS, crm_p, 1, tok, &e) ==
	    TOKENS_METRICS_PREFIX && tok[0] == '\0');
	CHECK(tokens_add(path, "prom2", TOKENS_METRICS, star, 1, tok, &e) ==
	    TOKENS_METRICS_PREFIX);
	CHECK((text = slurp()) != NULL && strstr(text, "prom2") == NULL);
	unlink(path);
}

int
main(void)
{
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(path, sizeof(path), "%s/tokens", dir);
	RUN(test_base64url);
	RUN(test_tokens_load);
	RUN(test_tokens_find_any_place);
	RUN(test_tokens_allows);
	RUN(test_tokens_errors);
	RUN(test_tokens_add_revoke);
	RUN(test_tokens_metrics);
	unlink(path);
	rmdir(dir);
	return T_EXIT();
}
