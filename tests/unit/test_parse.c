/* Unit tests of the request parsers: JSON, header values, keys, config. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc/conf.h"
#include "http/hdr.h"
#include "json/json.h"
#include "lib/dec.h"
#include "model/key.h"
#include "t.h"

static enum json_err
jc(const char *s)
{
	return json_check(s, strlen(s), JSON_MAX_DEPTH, NULL);
}

static void
test_json_valid(void)
{
	static const char *const ok[] = {
		"0", "-0", "1.5e+10", "\"\"", "\"\\u00e9\\ud83d\\ude00\"",
		"[]", "{}", " { \"a\" : [1, {\"b\": null}], \"c\": true } ",
		"\"h\xc3\xa9\"", "-12.0E-3", "false",
	};
	static const char *const bad[] = {
		"{", "[1,]", "{\"a\":1,}", "01", "1.", ".5", "+1", "tru",
		"\"\\x\"", "\"a", "{\"a\" 1}", "[1 2]", "\"\\ud800\"",
		"\"\\udc00\"", "\"\xc3\"", "\"\xed\xa0\x80\"", "\"\x01\"",
		"1 2", "{1:2}", "nan", "[\"\xff\"]", "\"\xc0\xaf\"",
	};
	size_t	 i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (jc(ok[i]) != JSON_OK)
			fprintf(stderr, "  should pass: %s\n", ok[i]);
		CHECK(jc(ok[i]) == JSON_OK);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (jc(bad[i]) != JSON_SYNTAX)
			fprintf(stderr, "  should fail: %s\n", bad[i]);
		CHECK(jc(bad[i]) == JSON_SYNTAX);
	}
	CHECK(jc("") == JSON_EMPTY);
	CHECK(jc(" \n") == JSON_EMPTY);
	CHECK(json_check("[0]\0", 4, 64, NULL) == JSON_SYNTAX);
}

static void
test_json_depth(void)
{
	char	 s[300];
	int	 i;

	for (i = 0; i < 64; i++) {
		s[i] = '[';
		s[64 + i] = ']';
	}
	CHECK(json_check(s, 128, JSON_MAX_DEPTH, NULL) == JSON_OK);
	for (i = 0; i < 65; i++) {
		s[i] = '[';
		s[65 + i] = ']';
	}
	CHECK(json_check(s, 130, JSON_MAX_DEPTH, NULL) == JSON_DEPTH);
}

static void
test_json_members(void)
{
	const char		*s = " {\"value\" : [1, {\"x\":\"}\"}] ,"
	    "\"v\\u0065rsion\":3, \"e\":{}}";
	struct json_span	 v;
	char			 name[8];
	size_t			 it = 0, nlen;
	uint64_t		 u;
	struct buf		 b = { 0 };
	char			 str[16];

	CHECK(jc(s) == JSON_OK);
	CHECK(json_member(s, strlen(s), &it, name, sizeof(name), &nlen, &v) == 1);
	CHECK(strcmp(name, "value") == 0 && nlen == 5);
	CHECK(v.n == 14 && memcmp(v.p, "[1, {\"x\":\"}\"}]", 14) == 0);
	json_compact(&b, v.p, v.n);
	CHECK(b.len == 13 && strcmp(b.p, "[1,{\"x\":\"}\"}]") == 0);
	CHECK(json_member(s, strlen(s), &it, name, sizeof(name), &nlen, &v) == 1);
	CHECK(strcmp(name, "version") == 0);
	CHECK(json_uint(v, &u) == 0 && u == 3);
	CHECK(json_member(s, strlen(s), &it, name, sizeof(name), &nlen, &v) == 1);
	CHECK(json_member(s, strlen(s), &it, name, sizeof(name), &nlen, &v) == 0);
	it = 0;
	CHECK(json_member("[1]", 3, &it, name, sizeof(name), &nlen, &v) == -1);
	v.p = "\"a\\nb\"";
	v.n = 6;
	CHECK(json_string(v, str, sizeof(str)) == 3 && strcmp(str, "a\nb") == 0);
	v.p = "1.0";
	v.n = 3;
	CHECK(json_uint(v, &u) == -1);
	v.p = "-1";
	v.n = 2;
	CHECK(json_uint(v, &u) == -1);
	buf_reset(&b);
	buf_json_str(&b, "a\"\\\x01\x7f\xc3\xa9", 7);
	CHECK(strcmp(b.p, "\"a\\\"\\\\\\u0001\\u007f\xc3\xa9\"") == 0);
	buf_free(&b);
}

static void
test_http_dates(void)
{
	int64_t	 t;
	char	 out[HDR_DATE_LEN];

	CHECK(hdr_http_date("Sun, 06 Nov 1994 08:49:37 GMT", &t) == HDR_OK);
	CHECK(t == 784111777);
	CHECK(hdr_http_date("Sunday, 06-Nov-94 08:49:37 GMT", &t) == HDR_OK);
	CHECK(t == 784111777);
	CHECK(hdr_http_date("Sun Nov  6 08:49:37 1994", &t) == HDR_OK);
	CHECK(t == 784111777);
	hdr_http_date_fmt(784111777, out);
	CHECK(strcmp(out, "Sun, 06 Nov 1994 08:49:37 GMT") == 0);
	hdr_http_date_fmt(0, out);
	CHECK(strcmp(out, "Thu, 01 Jan 1970 00:00:00 GMT") == 0);
	CHECK(hdr_http_date("Sun, 06 Nov 1994 08:49:37 UTC", &t) == HDR_INVALID);
	CHECK(hdr_http_date("Sun, 31 Feb 1994 08:49:37 GMT", &t) == HDR_INVALID);
	CHECK(hdr_http_date("yesterday", &t) == HDR_INVALID);
	CHECK(hdr_http_date("", &t) == HDR_INVALID);
	CHECK(hdr_http_date("Sun, 06 Nov 1994 25:49:37 GMT", &t) == HDR_INVALID);
}

static void
test_timestamps(void)
{
	char	 out[HDR_TS_LEN];
	int64_t	 us;

	hdr_ts_fmt(1795373910123456LL, out);
	CHECK(strcmp(out, "2026-11-22T18:58:30.123456Z") == 0);
	CHECK(hdr_ts(out, strlen(out), &us) == HDR_OK && us == 1795373910123456LL);
	CHECK(hdr_ts("2026-11-22T18:58:30Z", 20, &us) == HDR_OK);
	CHECK(us == 1795373910000000LL);
	CHECK(hdr_ts("2026-11-22T18:58:30.1Z", 22, &us) == HDR_OK);
	CHECK(us == 1795373910100000LL);
	CHECK(hdr_ts("2026-11-22T18:58:30.1234567Z", 28, &us) == HDR_INVALID);
	CHECK(hdr_ts("2026-11-22 18:58:30Z", 20, &us) == HDR_INVALID);
	CHECK(hdr_ts("2026-11-22T18:58:30+01:00", 25, &us) == HDR_INVALID);
	hdr_ts_fmt(0, out);
	CHECK(strcmp(out, "1970-01-01T00:00:00.000000Z") == 0);
}

static void
test_etags(void)
{
	struct hdr_tag t[STORE_TAGS_MAX];
	size_t		 n;
	int		 any;
	char		 many[400];
	int		 i;

	CHECK(hdr_etags("\"7\"", t, STORE_TAGS_MAX, &n, &any) == HDR_OK);
	CHECK(n == 1 && !any && t[0].kind == HDR_TAG_VERSION && t[0].version == 7);
	CHECK(hdr_etags(" * ", t, STORE_TAGS_MAX, &n, &any) == HDR_OK && any);
	CHECK(hdr_etags("W/\"3\", \"4\",\"x\"", t, STORE_TAGS_MAX, &n, &any) == HDR_OK);
	CHECK(n == 3 && t[0].weak && t[0].version == 3 && !t[1].weak);
	CHECK(t[2].kind == HDR_TAG_OTHER);
	CHECK(hdr_etags("12", t, STORE_TAGS_MAX, &n, &any) == HDR_OK);
	CHECK(n == 1 && t[0].version == 12);
	CHECK(hdr_etags("2026-11-22T18:58:30.123456Z", t, STORE_TAGS_MAX, &n,
	    &any) == HDR_OK);
	CHECK(t[0].kind == HDR_TAG_UPDATED && t[0].updated_us == 1795373910123456LL);
	CHECK(hdr_etags("\"7", t, STORE_TAGS_MAX, &n, &any) == HDR_INVALID);
	CHECK(hdr_etags("abc", t, STORE_TAGS_MAX, &n, &any) == HDR_INVALID);
	CHECK(hdr_etags("", t, STORE_TAGS_MAX, &n, &any) == HDR_INVALID);
	CHECK(hdr_etags("*, \"1\"", t, STORE_TAGS_MAX, &n, &any) == HDR_INVALID);
	CHECK(hdr_etags("\"1\" \"2\"", t, STORE_TAGS_MAX, &n, &any) == HDR_INVALID);
	many[0] = '\0';
	for (i = 0; i < 40; i++)
		strcat(many, "\"1\",");
	CHECK(hdr_etags(many, t, STORE_TAGS_MAX, &n, &any) == HDR_TOO_MANY);
}

static void
test_media_and_lists(void)
{
	uint64_t u;

	CHECK(hdr_media("application/json", "application/json"));
	CHECK(hdr_media("Application/JSON; charset=utf-8", "application/json"));
	CHECK(!hdr_media("application/jsonx", "application/json"));
	CHECK(!hdr_media("text/plain", "application/json"));
	CHECK(!hdr_media(NULL, "application/json"));
	CHECK(hdr_list_has("respond-async, return=minimal", "return=minimal"));
	CHECK(!hdr_list_has("return=representation", "return=minimal"));
	/* a comma inside a quoted string does not start an element */
	CHECK(!hdr_list_has("foo=\"a, return=minimal\"", "return=minimal"));
	CHECK(hdr_list_has("foo=\"a, \\\"b\", return=minimal",
	    "return=minimal"));
	CHECK(hdr_uint("0", &u) == HDR_OK && u == 0);
	CHECK(hdr_uint("123", &u) == HDR_OK && u == 123);
	CHECK(hdr_uint("-1", &u) == HDR_INVALID);
	CHECK(hdr_uint("1 ", &u) == HDR_INVALID);
	CHECK(hdr_uint("99999999999999999999", &u) == HDR_INVALID);
}

static int
dec_is(const char *s, uint64_t want)
{
	uint64_t	 u = 12345;

	return dec_parse(s, strlen(s), &u) == DEC_OK && u == want;
}

static int
dec_fails(const char *s, enum dec_err want)
{
	uint64_t	 u = 12345;

	return dec_parse(s, strlen(s), &u) == want && u == 12345;
}

static int
json_uint_is(const char *s, uint64_t want)
{
	struct json_span	 v = { s, strlen(s) };
	uint64_t		 u = 12345;

	return json_uint(v, &u) == 0 && u == want;
}

static int
json_uint_fails(const char *s)
{
	struct json_span	 v = { s, strlen(s) };
	uint64_t		 u = 12345;

	return json_uint(v, &u) == -1 && u == 12345;
}

/* Every integer of a request: 0 to 2^63 - 1, checked digit by digit. */
static void
test_decimals(void)
{
	struct hdr_tag	 t[STORE_TAGS_MAX];
	uint64_t	 u;
	size_t		 n;
	int		 any;
	char		 zeros[600];

	CHECK(DEC_MAX == 9223372036854775807ULL);
	CHECK(dec_is("0", 0) && dec_is("7", 7) && dec_is("007", 7));
	CHECK(dec_is("9999999999", 9999999999ULL));
	CHECK(dec_is("10000000000", 10000000000ULL));	/* 11 digits */
	CHECK(dec_is("9007199254740993", 9007199254740993ULL)); /* 2^53 + 1 */
	CHECK(dec_is("9223372036854775806", DEC_MAX - 1));
	CHECK(dec_is("9223372036854775807", DEC_MAX));
	CHECK(dec_fails("9223372036854775808", DEC_RANGE));
	CHECK(dec_fails("9223372036854775810", DEC_RANGE));
	CHECK(dec_fails("18446744073709551615", DEC_RANGE));	/* 2^64 - 1 */
	CHECK(dec_fails("18446744073709551616", DEC_RANGE));	/* wraps to 0 */
	CHECK(dec_fails("99999999999999999999", DEC_RANGE));
	CHECK(dec_fails("", DEC_SYNTAX) && dec_fails("-1", DEC_SYNTAX));
	CHECK(dec_fails("+1", DEC_SYNTAX) && dec_fails(" 1", DEC_SYNTAX));
	CHECK(dec_fails("1 ", DEC_SYNTAX) && dec_fails("0x10", DEC_SYNTAX));
	CHECK(dec_fails("1e3", DEC_SYNTAX) && dec_fails("1.0", DEC_SYNTAX));
	CHECK(dec_fails("99999999999999999999x", DEC_SYNTAX));
	/* the length given counts, not a NUL */
	CHECK(dec_parse("123", 2, &u) == DEC_OK && u == 12);
	CHECK(dec_parse("1\0", 2, &u) == DEC_SYNTAX);
	/* leading zeros, many of them, before the largest */
	memset(zeros, '0', 500);
	strcpy(zeros + 500, "9223372036854775807");
	CHECK(dec_is(zeros, DEC_MAX));
	zeros[518] = '8';
	CHECK(dec_fails(zeros, DEC_RANGE));

	/* Last-Event-ID */
	CHECK(hdr_uint("9223372036854775807", &u) == HDR_OK && u == DEC_MAX);
	CHECK(hdr_uint("9223372036854775808", &u) == HDR_INVALID);
	CHECK(hdr_uint("1000000000000000000", &u) == HDR_OK);	/* 19 digits */
	CHECK(hdr_uint(NULL, &u) == HDR_INVALID);

	/* body versions: JSON's integers, no leading zero */
	CHECK(json_uint_is("0", 0) && json_uint_is("10000000000", 10000000000ULL));
	CHECK(json_uint_is("9223372036854775807", DEC_MAX));
	CHECK(json_uint_fails("9223372036854775808"));
	CHECK(json_uint_fails("07") && json_uint_fails("1e3"));
	CHECK(json_uint_fails("-0") && json_uint_fails(""));

	/* If-Match: a version tag as an ETag writes it */
	CHECK(hdr_etags("\"9223372036854775807\"", t, STORE_TAGS_MAX, &n,
	    &any) == HDR_OK);
	CHECK(t[0].kind == HDR_TAG_VERSION && t[0].version == DEC_MAX);
	CHECK(hdr_etags("10000000000000000", t, STORE_TAGS_MAX, &n, &any) ==
	    HDR_OK);
	CHECK(t[0].kind == HDR_TAG_VERSION &&
	    t[0].version == 10000000000000000ULL);	/* 17 digits */
	CHECK(hdr_etags("\"9223372036854775808\"", t, STORE_TAGS_MAX, &n,
	    &any) == HDR_OK && t[0].kind == HDR_TAG_OTHER);
	CHECK(hdr_etags("9223372036854775808", t, STORE_TAGS_MAX, &n, &any) ==
	    HDR_INVALID);
	CHECK(hdr_etags("\"07\"", t, STORE_TAGS_MAX, &n, &any) == HDR_OK &&
	    t[0].kind == HDR_TAG_OTHER);
	CHECK(hdr_etags("\"0\"", t, STORE_TAGS_MAX, &n, &any) == HDR_OK &&
	    t[0].kind == HDR_TAG_VERSION && t[0].version == 0);
}

static enum key_err
kp(const char *raw, struct key *k)
{
	return key_parse(raw, strlen(raw), k);
}

static void
test_keys(void)
{
	struct key	 k;
	char		 long_key[600];
	char		 enc[64];

	CHECK(kp("notes/1", &k) == KEY_OK && k.n == 7 && !k.prefix);
	CHECK(kp("x%2Fy", &k) == KEY_OK && strcmp(k.s, "x/y") == 0);
	CHECK(kp("a%2520b", &k) == KEY_OK && strcmp(k.s, "a%20b") == 0);
	CHECK(kp("caf%C3%A9", &k) == KEY_OK && k.n == 5);
	CHECK(kp("_act/s/0", &k) == KEY_OK && k.reserved);
	CHECK(kp("a/", &k) == KEY_OK && k.prefix);
	CHECK(kp("", &k) == KEY_OK && k.prefix && k.n == 0);
	CHECK(kp("a/../b", &k) == KEY_SEGMENT);
	CHECK(kp("a/%2E%2E/b", &k) == KEY_SEGMENT);
	CHECK(kp("./a", &k) == KEY_SEGMENT);
	CHECK(kp("a//b", &k) == KEY_SEGMENT);
	CHECK(kp("/a", &k) == KEY_SEGMENT);
	CHECK(kp("/", &k) == KEY_SEGMENT);
	CHECK(kp("a%", &k) == KEY_ENCODING);
	CHECK(kp("a%4", &k) == KEY_ENCODING);
	CHECK(kp("a%G1", &k) == KEY_ENCODING);
	CHECK(kp("a%00b", &k) == KEY_CONTROL);
	CHECK(kp("a%7F", &k) == KEY_CONTROL);
	CHECK(kp("a\tb", &k) == KEY_CONTROL);
	CHECK(kp("a%FF", &k) == KEY_UTF8);
	CHECK(kp("a%C3", &k) == KEY_UTF8);
	memset(long_key, 'k', 512);
	long_key[512] = '\0';
	CHECK(kp(long_key, &k) == KEY_OK && k.n == 512);
	long_key[512] = 'k';
	long_key[513] = '\0';
	CHECK(kp(long_key, &k) == KEY_LENGTH);
	key_encode("a b/%?#\xc3\xa9", 9, enc, sizeof(enc));
	CHECK(strcmp(enc, "a%20b/%25%3F%23%C3%A9") == 0);
}

static void
test_conf(void)
{
	struct conf		 c;
	struct conf_error	 e;
	char			 path[] = "/tmp/verstore-conf-XXXXXX";
	int			 fd;
	FILE			*f;

	conf_defaults(&c);
	CHECK(c.threads == 16 && c.map_size == (size_t)1 << 30);
	CHECK(c.max_body == 1 << 20 && c.precondition_failed_status == 412);
	CHECK(conf_set(&c, "map_size", "64M") == CONF_OK);
	CHECK(c.map_size == (size_t)64 << 20);
	CHECK(conf_set(&c, "map_size", "64Q") == CONF_VALUE);
	CHECK(conf_set(&c, "threads", "0") == CONF_VALUE);
	CHECK(conf_set(&c, "precondition_failed_status", "409") == CONF_OK);
	CHECK(conf_set(&c, "precondition_failed_status", "410") == CONF_VALUE);
	CHECK(conf_set(&c, "nonsense", "1") == CONF_UNKNOWN);
	CHECK(conf_set(&c, "require_preconditions", "docs/") == CONF_OK);
	CHECK(conf_requires(&c, "docs/a", 6) && !conf_requires(&c, "doc", 3));
	CHECK(conf_set(&c, "socket_mode", "0666") == CONF_OK);
	CHECK(c.socket_mode == 0666);

	if ((fd = mkstemp(path)) == -1 || (f = fdopen(fd, "w")) == NULL)
		abort();
	fputs("# comment\n\nworkers 3\nthreads 8 # trailing\n"
	    "max_body 2M\nthreads eight\n", f);
	fclose(f);
	conf_defaults(&c);
	CHECK(conf_load(&c, path, &e) == CONF_VALUE);
	CHECK(e.line == 6 && strcmp(e.name, "threads") == 0);
	CHECK(c.workers == 3 && c.threads == 8);
	f = fopen(path, "w");
	fputs("workers 3 4\n", f);
	fclose(f);
	CHECK(conf_load(&c, path, &e) == CONF_SYNTAX && e.line == 1);
	f = fopen(path, "w");
	fputs("wrokers 3\n", f);
	fclose(f);
	CHECK(conf_load(&c, path, &e) == CONF_UNKNOWN && e.line == 1);
	unlink(path);
	CHECK(conf_load(&c, path, &e) == CONF_OPEN);
	conf_defaults(&c);
	CHECK(conf_load(&c, "conf/verstore.conf", &e) == CONF_OK);
}

static void
test_conf_auth(void)
{
	static const char *const bad[] = {
		"https://App.example.com", "HTTPS://a", "https://a/",
		"https://a/x", "https://", "https//a", "a.example.com",
		"https://a:", "https://a:0", "https://a:080", "https://a:65536",
		"https://a:123456", "https://u@a", "https://[::1", "https://[]",
		"https://a?", "*", "null", "1http://a", "https://a_b",
	};
	struct conf		 c;
	struct conf_error	 e;
	char			 path[] = "/tmp/verstore-conf-XXXXXX";
	char			 tpath[] = "/tmp/verstore-tokens-XXXXXX";
	char			 msg[1024], text[256];
	size_t			 i;
	int			 fd;
	FILE			*f;

	conf_defaults(&c);
	CHECK(c.auth == CONF_AUTH_NONE && c.tokens[0] == '\0');
	CHECK(c.norigins == 0 && !c.metrics_public);
	CHECK(conf_set(&c, "auth", "token") == CONF_OK);
	CHECK(c.auth == CONF_AUTH_TOKEN);
	CHECK(conf_set(&c, "auth", "remote_user") == CONF_OK);
	CHECK(c.auth == CONF_AUTH_REMOTE_USER);
	CHECK(conf_set(&c, "auth", "basic") == CONF_VALUE);
	CHECK(conf_set(&c, "auth", "none") == CONF_OK && c.auth == CONF_AUTH_NONE);
	CHECK(conf_set(&c, "metrics_public", "on") == CONF_OK && c.metrics_public);
	CHECK(conf_set(&c, "metrics_public", "yes") == CONF_VALUE);
	CHECK(conf_set(&c, "metrics_public", "off") == CONF_OK);
	CHECK(!c.metrics_public);
	CHECK(conf_set(&c, "tokens", "/etc/verstore/tokens") == CONF_OK);
	CHECK(strcmp(c.tokens, "/etc/verstore/tokens") == 0);

	/* origins: scheme://host[:port], lower case, nothing after */
	CHECK(conf_set(&c, "cors_origins", "https://app.example.com "
	    "http://localhost:8080\thttp://[::1]:3000 app+x://h.a-b") ==
	    CONF_OK);
	CHECK(c.norigins == 4 && strcmp(c.origins[1], "http://localhost:8080") == 0);
	CHECK(conf_origin_allowed(&c, "https://app.example.com", 23));
	CHECK(conf_origin_allowed(&c, "http://[::1]:3000", 17));
	CHECK(!conf_origin_allowed(&c, "https://app.example.co", 22));
	CHECK(!conf_origin_allowed(&c, "https://app.example.com/", 24));
	CHECK(!conf_origin_allowed(&c, "http://localhost", 16));
	CHECK(conf_set(&c, "cors_origins", "https://b.example") == CONF_OK);
	CHECK(c.norigins == 1 && strcmp(c.origins[0], "https://b.example") == 0);
	CHECK(!conf_origin_allowed(&c, "https://app.example.com", 23));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (conf_set(&c, "cors_origins", bad[i]) != CONF_VALUE)
			fprintf(stderr, "  should fail: %s\n", bad[i]);
		CHECK(conf_set(&c, "cors_origins", bad[i]) == CONF_VALUE);
	}
	/* one bad origin sets none of the line */
	CHECK(conf_set(&c, "cors_origins", "https://a https://B") == CONF_VALUE);
	CHECK(c.norigins == 1 && strcmp(c.origins[0], "https://b.example") == 0);
	CHECK(conf_set(&c, "cors_origins", "https://a:65535") == CONF_OK);

	/* in a file: a list on one line; the bad origin is the value named */
	if ((fd = mkstemp(path)) == -1 || (f = fdopen(fd, "w")) == NULL)
		abort();
	fputs("cors_origins https://a.example http://b.example:8080 # two\n"
	    "workers 2 3\n", f);
	fclose(f);
	conf_defaults(&c);
	CHECK(conf_load(&c, path, &e) == CONF_SYNTAX && e.line == 2);
	CHECK(c.norigins == 2 && strcmp(c.origins[1], "http://b.example:8080") == 0);
	f = fopen(path, "w");
	fputs("\ncors_origins https://a.example https://b.example/ https://c\n", f);
	fclose(f);
	CHECK(conf_load(&c, path, &e) == CONF_VALUE && e.line == 2);
	CHECK(strcmp(e.name, "cors_origins") == 0);
	CHECK(strcmp(e.value, "https://b.example/") == 0);

	/* auth token needs a tokens file, named on the auth line */
	f = fopen(path, "w");
	fputs("workers 2\nauth token\nthreads 4\n", f);
	fclose(f);
	conf_defaults(&c);
	CHECK(conf_load(&c, path, &e) == CONF_NO_TOKENS && e.line == 2);
	CHECK(strcmp(e.name, "auth") == 0);
	f = fopen(path, "w");
	fputs("auth token\nauth none\n", f);
	fclose(f);
	conf_defaults(&c);
	CHECK(conf_load(&c, path, &e) == CONF_OK);

	/* conf_check loads the tokens file: a bad line is named */
	if ((fd = mkstemp(tpath)) == -1 || close(fd) == -1)
		abort();
	f = fopen(path, "w");
	snprintf(text, sizeof(text), "data_dir /tmp\nsocket /tmp/v.sock\n"
	    "auth token\ntokens %s\n", tpath);
	fputs(text, f);
	fclose(f);
	conf_defaults(&c);
	CHECK(conf_load(&c, path, &e) == CONF_OK);
	CHECK(conf_check(&c, msg, sizeof(msg)) == 0);
	f = fopen(tpath, "w");
	fputs("# tokens\nalice 00 rw *\n", f);
	fclose(f);
	CHECK(conf_check(&c, msg, sizeof(msg)) == -1);
	snprintf(text, sizeof(text), "tokens %s:2: SHA256HEX: expected", tpath);
	CHECK(strncmp(msg, text, strlen(text)) == 0);
	unlink(tpath);
	CHECK(conf_check(&c, msg, sizeof(msg)) == -1);
	CHECK(strstr(msg, "No such file") != NULL);
	c.auth = CONF_AUTH_NONE;
	CHECK(conf_check(&c, msg, sizeof(msg)) == 0);
	unlink(path);
}

/* quota PREFIX BYTES lines: parsed, replaced, bounded, restart-only. */
static void
test_conf_quota(void)
{
	struct conf	 c, next;
	char		 restart[256], line[64];
	int		 i;

	conf_defaults(&c);
	CHECK(conf_set(&c, "quota", "a/ 10M") == CONF_OK);
	CHECK(conf_set(&c, "quota", "b/x 4k") == CONF_OK);
	CHECK(conf_set(&c, "quota", "a/ 5k") == CONF_OK);
	CHECK(c.nquotas == 2 && strcmp(c.quotas[0].prefix, "a/") == 0);
	CHECK(c.quotas[0].bytes == 5 << 10 && c.quotas[1].bytes == 4 << 10);
	CHECK(conf_set(&c, "quota", "c/") == CONF_VALUE);
	CHECK(conf_set(&c, "quota", "c/ 1Q") == CONF_VALUE);
	CHECK(conf_set(&c, "quota", "c/ 1k 2k") == CONF_VALUE);
	CHECK(c.nquotas == 2);
	next = c;
	CHECK(conf_set(&next, "quota", "off") == CONF_OK && next.nquotas == 0);
	for (i = 0; i < CONF_QUOTAS_MAX; i++) {
		snprintf(line, sizeof(line), "p%d/ 1k", i);
		CHECK(conf_set(&next, "quota", line) == CONF_OK);
	}
	CHECK(conf_set(&next, "quota", "one-more/ 1k") == CONF_TOO_MANY);
	conf_apply(&c, &next, restart, sizeof(restart));
	CHECK(strstr(restart, "quota") != NULL && c.nquotas == 2);
	CHECK(conf_expected("quota") != NULL);
}

int
main(void)
{
	RUN(test_json_valid);
	RUN(test_json_depth);
	RUN(test_json_members);
	RUN(test_http_dates);
	RUN(test_timestamps);
	RUN(test_etags);
	RUN(test_media_and_lists);
	RUN(test_decimals);
	RUN(test_keys);
	RUN(test_conf);
	RUN(test_conf_quota);
	RUN(test_conf_auth);
	return T_EXIT();
}
