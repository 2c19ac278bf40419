/*
 * Unit tests of fcgi/api/ called in-process: requests made as structs,
 * handed to route_handle() over a real store in a temporary directory,
 * answers read from the response. No FastCGI, no nginx: what the
 * integration tests show through the stack, shown here at the handlers.
 */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/route.h"
#include "http/http.h"
#include "json/json.h"
#include "proc/conf.h"
#include "t.h"
#include "tstore.h"

static struct conf	 conf;
static struct api_ctx	 ctx;
static struct http_resp	 resp;

/* Every answer with a body is one JSON text ending in a newline. */
static void
well_formed(void)
{
	if (resp.content_type == NULL)
		return;
	CHECK(resp.body.len > 0 && resp.body.p[resp.body.len - 1] == '\n');
	CHECK(json_check(resp.body.p, resp.body.len, JSON_MAX_DEPTH, NULL) ==
	    JSON_OK);
}

/* Sends one request; the answer is in resp. */
static int
req(const char *method, const char *uri, const char *body,
    const char *if_match)
{
	struct http_req	 q;

	memset(&q, 0, sizeof(q));
	q.method = method;
	q.uri = uri;
	q.content_type = body != NULL ? "application/json" : NULL;
	q.if_match = if_match;
	q.body = body != NULL ? body : "";
	q.body_len = body != NULL ? strlen(body) : 0;
	http_resp_reset(&resp);
	route_handle(&ctx, &q, &resp);
	well_formed();
	buf_add(&resp.body, "", 1);	/* a C string to search */
	resp.body.len--;
	return resp.status;
}

static int
body_has(const char *s)
{
	return resp.body.p != NULL && strstr(resp.body.p, s) != NULL;
}

static int
head_has(const char *s)
{
	buf_add(&resp.head, "", 1);
	resp.head.len--;
	return resp.head.p != NULL && strstr(resp.head.p, s) != NULL;
}

static void
test_put_get_cas(void)
{
	CHECK(req("PUT", "/api/storage/h/a", "{\"value\":{\"n\":1}}", NULL) ==
	    201);
	CHECK(head_has("ETag: \"1\"") && head_has("Location: /api/storage/h/a"));
	CHECK(req("GET", "/api/storage/h/a", NULL, NULL) == 200);
	CHECK(body_has("\"value\":{\"n\":1}") && body_has("\"version\":1"));
	CHECK(req("PUT", "/api/storage/h/a", "{\"value\":2}", "\"1\"") == 200);
	/* stale: 412 with the current state */
	CHECK(req("PUT", "/api/storage/h/a", "{\"value\":3}", "\"1\"") == 412);
	CHECK(body_has("PRECONDITION_FAILED") && body_has("\"value\":2") &&
	    body_has("\"version\":2"));
	CHECK(req("DELETE", "/api/storage/h/a", NULL, NULL) == 200);
	CHECK(req("GET", "/api/storage/h/a", NULL, NULL) == 404 &&
	    body_has("DELETED"));
}

static void
test_errors_are_problems(void)
{
	CHECK(req("PUT", "/api/storage/h/b", "{\"value\":1,\"value\":2}",
	    NULL) == 400 && body_has("INVALID_JSON") && body_has("twice"));
	CHECK(req("PUT", "/api/storage/h/b", "{\"title\":1}", NULL) == 400 &&
	    body_has("unknown member \\\"title\\\""));
	CHECK(req("PUT", "/api/storage/a/../b", "{\"value\":1}", NULL) ==
	    400 && body_has("INVALID_KEY"));
	CHECK(req("PUT", "/api/storage/_x/y", "{\"value\":1}", NULL) == 400);
	CHECK(req("GET", "/api/nowhere", NULL, NULL) == 404);
	CHECK(req("FROB", "/api/storage/h/b", NULL, NULL) == 405 &&
	    head_has("Allow: "));
	CHECK(req("GET", "/api/health", NULL, NULL) == 200 &&
	    body_has("\"status\":\"ok\""));
}

/*
 * A request target that is not origin-form (RFC 9112 3.2.1) is 400 and
 * writes nothing: INVALID_KEY where it names a key or a set, else
 * INVALID_REQUEST; every character RFC 3986 allows passes.
 */
static void
test_bad_targets(void)
{
	static const char *const bad[] = {
		"/api/storage/t/sp ace", "/api/storage/t/tab\tx",
		"/api/storage/t/a\"b", "/api/storage/t/a<b>", "/api/storage/t/{x}",
		"/api/storage/t/a|b", "/api/storage/t/a\\b", "/api/storage/t/a^b",
		"/api/storage/t/a`b", "/api/storage/t/a#b", "/api/storage/t/%zz",
		"/api/storage/t/a%2", "/api/storage/t/caf\xc3\xa9",
		"/api/storage/t/x?q=a b", "/api/activities/s p", "api/storage/t/x",
	};
	size_t	 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(req("PUT", bad[i], "{\"value\":1}", NULL) == 400 &&
		    body_has("\"INVALID_KEY\"") == (bad[i][0] == '/'));
		CHECK(req("GET", bad[i], NULL, NULL) == 400);
	}
	CHECK(req("GET", "/api/storage/t/", NULL, NULL) == 200 &&
	    body_has("\"items\":[]"));
	CHECK(req("GET", "/api/health?a b", NULL, NULL) == 400 &&
	    body_has("\"INVALID_REQUEST\"") && body_has("%20"));
	CHECK(req("GET", "/api/nowhere/x y", NULL, NULL) == 400 &&
	    body_has("\"INVALID_REQUEST\""));
	CHECK(req("GET", "", NULL, NULL) == 400);
	CHECK(req("PUT", "/api/storage/t/-._~!$&'()*+,;=:@%20%C3%A9",
	    "{\"value\":1}", NULL) == 201);
	CHECK(req("GET", "/api/storage/t/-._~!$&'()*+,;=:@%20%C3%A9?a=/?",
	    NULL, NULL) == 200);
}

static void
test_patch_and_txn(void)
{
	struct http_req	 q;

	CHECK(req("PUT", "/api/storage/h/p", "{\"value\":{\"a\":1,\"b\":2}}",
	    NULL) == 201);
	memset(&q, 0, sizeof(q));
	q.method = "PATCH";
	q.uri = "/api/storage/h/p";
	q.content_type = "application/json-patch+json";
	q.body = "[{\"op\":\"test\",\"path\":\"/a\",\"value\":9}]";
	q.body_len = strlen(q.body);
	http_resp_reset(&resp);
	route_handle(&ctx, &q, &resp);
	buf_add(&resp.body, "", 1);
	CHECK(resp.status == 409 && body_has("operation 0 (test /a)"));
	CHECK(req("POST", "/api/txn", "{\"ops\":[{\"op\":\"put\",\"key\":"
	    "\"h/t1\",\"value\":1},{\"op\":\"check\",\"key\":\"h/p\","
	    "\"version\":7}]}", NULL) == 409 && body_has("\"op_index\":1"));
	CHECK(req("GET", "/api/storage/h/t1", NULL, NULL) == 404);
	/* an op that does not parse is named, as is one that fails */
	CHECK(req("POST", "/api/txn", "{\"ops\":[{\"op\":\"get\",\"key\":"
	    "\"h/p\"},{\"op\":\"get\",\"key\":\"h/p\"},{\"op\":\"put\","
	    "\"key\":\"a/../b\",\"value\":1}]}", NULL) == 400 &&
	    body_has("INVALID_KEY") && body_has("\"op_index\":2"));
	CHECK(req("POST", "/api/txn", "{\"ops\":[{\"op\":\"frob\","
	    "\"key\":\"h/p\"}]}", NULL) == 400 &&
	    body_has("\"op_index\":0"));
	CHECK(req("POST", "/api/txn", "{\"ops\":[{\"op\":\"put\",\"key\":"
	    "\"h/t2\",\"value\":1},{\"op\":\"delete\",\"key\":"
	    "\"h/none\"}]}", NULL) == 404 && body_has("NOT_FOUND") &&
	    body_has("\"op_index\":1") && body_has("\"key\":\"h/none\""));
	CHECK(req("POST", "/api/txn", "{\"ops\":[{\"op\":\"get\",\"key\":"
	    "\"h/p\"},{\"op\":\"get\",\"key\":\"h/none\"}]}", NULL) ==
	    200 && body_has("\"results\":[{\"key\":\"h/p\"") &&
	    body_has("},null]}"));
}

static void
test_lists_and_queries(void)
{
	CHECK(req("PUT", "/api/storage/l/a", "{\"value\":[1]}", NULL) == 201);
	CHECK(req("PUT", "/api/storage/l/b", "{\"value\":{}}", NULL) == 201);
	CHECK(req("GET", "/api/storage/l/?limit=1&values=1", NULL, NULL) ==
	    200 && body_has("{\"items\":[{\"key\":\"l/a\",\"version\":1,"
	    "\"updated_at\":\"") && body_has("\"value\":[1]}],\"next\":\"l/a\"}"));
	CHECK(req("GET", "/api/storage/l/?after=l%2Fb", NULL, NULL) == 200 &&
	    body_has("{\"items\":[],\"next\":null}"));
	CHECK(req("GET", "/api/storage/l/?limit=0", NULL, NULL) == 400 &&
	    body_has("limit is out of range (1 to 1000)") &&
	    body_has("\"parameter\":\"limit\""));
	CHECK(req("GET", "/api/activities/none", NULL, NULL) == 404);
	CHECK(req("GET", "/api/activities/crm?bucket=x", NULL, NULL) == 400);
}

static void
test_activities(void)
{
	CHECK(req("POST", "/api/activities/crm", "{\"upsert\":[{\"id\":1},"
	    "{\"id\":\"a\\u0000b\"}]}", NULL) == 200 &&
	    body_has("\"upserted\":2"));
	CHECK(req("GET", "/api/activities/crm", NULL, NULL) == 200 &&
	    body_has("\"a\\u0000b\""));
	CHECK(req("POST", "/api/activities/a%2Fb", "{}", NULL) == 400 &&
	    body_has("INVALID_KEY"));
}

int
main(void)
{
	conf_defaults(&conf);
	ctx.conf = &conf;
	ctx.st = tstore_open((size_t)64 << 20, NULL);
	RUN(test_put_get_cas);
	RUN(test_errors_are_problems);
	RUN(test_bad_targets);
	RUN(test_patch_and_txn);
	RUN(test_activities);
	RUN(test_lists_and_queries);
	http_resp_free(&resp);
	store_thread_end(ctx.st);
	tstore_close(ctx.st);
	return T_EXIT();
}
