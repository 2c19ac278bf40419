"""API.md sections 1-4 and 11 through real nginx + verstored: every status
and header of reads, replaces, deletes and preconditions."""
import json
import re
import time
from email.utils import formatdate, parsedate_to_datetime

import harness

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def check_problem(r, status, code):
    assert r.status == status, r
    assert r.h("content-type") == "application/problem+json", r
    p = r.json
    assert p["status"] == status and p["code"] == code, p
    assert isinstance(p["error"], str) and p["error"], p
    assert isinstance(p["message"], str) and p["message"], p
    return p


def test_health(srv):
    r = srv.get("/api/health")
    assert r.status == 200 and r.json == {"status": "ok"}
    assert r.h("content-type") == "application/json"
    r = srv.request("HEAD", "/api/health")
    assert r.status == 200 and r.body == b""
    r = srv.request("POST", "/api/health", "{}")
    check_problem(r, 405, "METHOD_NOT_ALLOWED")
    assert r.h("allow") == "GET, HEAD"


def test_put_create_then_replace(srv):
    r = srv.put("t/create", {"a": 1})
    assert r.status == 201, r
    assert r.h("etag") == '"1"'
    assert r.h("location") == "/api/storage/t/create"
    assert parsedate_to_datetime(r.h("last-modified"))
    b = r.json
    assert b["key"] == "t/create" and b["version"] == 1 and TS.match(b["updated_at"])
    r = srv.put("t/create", [1, 2, 3])
    assert r.status == 200 and r.h("etag") == '"2"' and r.h("location") is None
    assert r.json["version"] == 2


def test_get_envelope(srv):
    srv.put("t/get", {"n": 12345678901234567890, "s": "é\u2028", "f": 1.5e300})
    r = srv.get("/api/storage/t/get")
    assert r.status == 200, r
    assert r.h("etag") == '"1"' and r.h("cache-control") == "no-cache"
    assert r.h("last-modified")
    b = r.json
    assert set(b) == {"key", "value", "version", "updated_at", "created_at",
                      "updated_by"}
    assert b["value"] == {"n": 12345678901234567890, "s": "é\u2028", "f": 1.5e300}
    assert b"12345678901234567890" in r.body      # every digit kept
    assert b["updated_by"] is None and b["created_at"] == b["updated_at"]
    r = srv.request("HEAD", "/api/storage/t/get")
    assert r.status == 200 and r.body == b"" and r.h("etag") == '"1"'
    time.sleep(0.002)
    srv.put("t/get", 2)
    b2 = srv.get("/api/storage/t/get").json
    assert b2["created_at"] == b["created_at"] and b2["updated_at"] > b["updated_at"]


def test_missing_and_deleted(srv):
    check_problem(srv.get("/api/storage/t/never"), 404, "NOT_FOUND")
    check_problem(srv.delete("t/never"), 404, "NOT_FOUND")
    for _ in range(5):
        srv.put("t/del", 1)
    r = srv.delete("t/del")
    assert r.status == 200 and r.json == {"key": "t/del", "version": 6,
                                          "deleted": True}
    p = check_problem(srv.get("/api/storage/t/del"), 404, "DELETED")
    assert p["version"] == 6 and TS.match(p["updated_at"])
    check_problem(srv.delete("t/del"), 404, "DELETED")
    r = srv.put("t/del", "again")
    assert r.status == 201 and r.json["version"] == 7, r
    assert srv.get("/api/storage/t/del").json["created_at"] == r.json["updated_at"]


def test_if_match(srv):
    srv.put("t/im", "v1")
    srv.put("t/im", "v2")
    r = srv.put("t/im", "stale", {"If-Match": '"1"'})
    p = check_problem(r, 412, "PRECONDITION_FAILED")
    assert p["key"] == "t/im" and p["value"] == "v2" and p["version"] == 2
    assert p["exists"] is True and TS.match(p["updated_at"])
    assert p["updated_by"] is None      # no principal under auth none
    assert r.h("etag") == '"2"'
    assert srv.put("t/im", "v3", {"If-Match": '"5", "2"'}).status == 200
    assert srv.put("t/im", "x", {"If-Match": 'W/"3"'}).status == 412
    assert srv.put("t/im", "v4", {"If-Match": "3"}).status == 200   # bare
    ts = srv.get("/api/storage/t/im").json["updated_at"]
    assert srv.put("t/im", "v5", {"If-Match": ts}).status == 200
    assert srv.put("t/im", "v6", {"If-Match": "*"}).status == 200
    check_problem(srv.put("t/im-missing", 1, {"If-Match": "*"}), 404, "NOT_FOUND")
    srv.delete("t/im")
    p = check_problem(srv.put("t/im", 1, {"If-Match": '"7"'}), 404, "DELETED")
    assert p["version"] == 7
    # a stale If-Match on GET is 412 too
    srv.put("t/im2", 1)
    check_problem(srv.get("/api/storage/t/im2", {"If-Match": '"9"'}), 412,
                  "PRECONDITION_FAILED")


def test_if_none_match_and_create_only(srv):
    assert srv.put("t/inm", 1, {"If-None-Match": "*"}).status == 201
    p = check_problem(srv.put("t/inm", 2, {"If-None-Match": "*"}), 412,
                      "PRECONDITION_FAILED")
    assert p["value"] == 1
    srv.delete("t/inm")
    assert srv.put("t/inm", 3, {"If-None-Match": "*"}).status == 201
    assert srv.put("t/inm", 4, {"If-None-Match": '"1"'}).status == 200
    assert srv.put("t/inm", 5, {"If-None-Match": 'W/"4"'}).status == 412


def test_conditional_get(srv):
    srv.put("t/cg", {"x": 1})
    r = srv.get("/api/storage/t/cg")
    etag, lm = r.h("etag"), r.h("last-modified")
    for inm in (etag, 'W/' + etag, '"0", ' + etag, "*"):
        r = srv.get("/api/storage/t/cg", {"If-None-Match": inm})
        assert r.status == 304 and r.body == b"", (inm, r)
        assert r.h("etag") == etag and r.h("last-modified") == lm
    assert srv.get("/api/storage/t/cg", {"If-None-Match": '"9"'}).status == 200
    assert srv.get("/api/storage/t/cg", {"If-Modified-Since": lm}).status == 304
    old = formatdate(time.time() - 3600, usegmt=True)
    assert srv.get("/api/storage/t/cg", {"If-Modified-Since": old}).status == 200
    # If-None-Match wins over If-Modified-Since
    r = srv.get("/api/storage/t/cg", {"If-None-Match": '"9"',
                                      "If-Modified-Since": lm})
    assert r.status == 200


@harness.frontends("nginx", "lighttpd")     # Apache's: test_frontend
def test_if_unmodified_since(srv):
    r = srv.put("t/ius", 1)
    lm = r.h("last-modified")
    # a second write in the same second moves Last-Modified on by one
    r2 = srv.put("t/ius", 2)
    lm2 = r2.h("last-modified")
    assert parsedate_to_datetime(lm2) > parsedate_to_datetime(lm)
    p = check_problem(srv.put("t/ius", 3, {"If-Unmodified-Since": lm}), 412,
                      "PRECONDITION_FAILED")
    assert p["version"] == 2
    assert srv.put("t/ius", 3, {"If-Unmodified-Since": lm2}).status == 200
    # on a missing key it is ignored (RFC 9110)
    assert srv.put("t/ius-new", 1, {"If-Unmodified-Since": lm}).status == 201


def test_body_tokens(srv):
    assert srv.put("t/tok", 1, version=0).status == 201
    p = check_problem(srv.put("t/tok", 2, version=0), 409, "VERSION_CONFLICT")
    assert p["value"] == 1 and p["version"] == 1 and p["exists"] is True
    assert srv.put("t/tok", 2, version=1).status == 200
    p = check_problem(srv.put("t/tok", 3, version=1), 409, "VERSION_CONFLICT")
    assert p["version"] == 2
    ts = srv.get("/api/storage/t/tok").json["updated_at"]
    assert srv.put("t/tok", 3, updated_at=ts).status == 200
    check_problem(srv.put("t/tok", 4, updated_at=ts), 409, "VERSION_CONFLICT")
    check_problem(srv.put("t/tok-missing", 1, version=3), 404, "NOT_FOUND")
    # the header is evaluated first
    check_problem(srv.put("t/tok", 4, {"If-Match": '"1"'}, version=3), 412,
                  "PRECONDITION_FAILED")
    # DELETE with ?version=
    check_problem(srv.delete("t/tok", query="?version=1"), 409, "VERSION_CONFLICT")
    assert srv.delete("t/tok", query="?version=3").status == 200
    srv.put("t/tok", 5, version=0)       # deleted counts as absent
    assert srv.get("/api/storage/t/tok").json["version"] == 5


def test_chunked_body(srv):
    body = b'{"value": "chunked"}'
    out = srv.raw(b"PUT /api/storage/t/chunked HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: application/json\r\n"
                  b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" +
                  b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 201"), out
    assert srv.get("/api/storage/t/chunked").json["value"] == "chunked"


def test_prefer_minimal(srv):
    r = srv.put("t/min", 1, {"Prefer": "return=minimal"})
    assert r.status == 204 and r.body == b"" and r.h("etag") == '"1"'
    assert r.h("location") == "/api/storage/t/min" and r.h("last-modified")


def test_keys_from_raw_uri(srv):
    r = srv.put("a%2Fb", 1)
    assert r.status == 201 and r.json["key"] == "a/b"
    assert srv.get("/api/storage/a/b").json["value"] == 1
    r = srv.put("p%2520q", 2)
    assert r.json["key"] == "p%20q"
    assert r.h("location") == "/api/storage/p%2520q"
    r = srv.put("caf%C3%A9/%E2%9C%93", 3)
    assert r.status == 201 and r.json["key"] == "café/✓"
    assert srv.get("/api/storage/caf%C3%A9/%E2%9C%93").status == 200
    assert srv.put("k" * 512, 1).status == 201
    assert srv.get("/api/storage/" + "k" * 512).json["value"] == 1


def test_invalid_keys(srv):
    for bad in ("a/../b", "a//b", "./a", "a/.", "a%2", "a%zz", "a%00",
                "a%1F", "a%7F", "a%FF", "%C3%28", "k" * 513, "a/%2E%2E/b"):
        p = check_problem(srv.put(bad, 1), 400, "INVALID_KEY")
        assert p["message"]
    check_problem(srv.put("_act/x/0", []), 422, "INVALID_ACTIVITY")   # no set
    check_problem(srv.delete("_sys"), 400, "INVALID_KEY")
    check_problem(srv.get("/api/storage/_reserved"), 404, "NOT_FOUND")


def test_bad_bodies(srv):
    url = "/api/storage/t/bad"
    check_problem(srv.request("PUT", url, '{"value": 1}',
                              {"Content-Type": "text/plain"}), 415,
                  "UNSUPPORTED_MEDIA_TYPE")
    c = srv.request("PUT", url, b'{"value": 1}', {"Content-Type": ""})
    check_problem(c, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert srv.request("PUT", url, '{"value": 1}',
                       {"Content-Type": "Application/JSON; charset=UTF-8"}).status == 201
    for body, code in (("", "INVALID_JSON"), ("{", "INVALID_JSON"),
                       ('{"value": 1,}', "INVALID_JSON"),
                       (b'{"value": "\xff"}', "INVALID_JSON"),
                       ("[1]", "INVALID_REQUEST"), ("1", "INVALID_REQUEST"),
                       ("{}", "INVALID_REQUEST"),
                       ('{"value": 1, "extra": 2}', "INVALID_REQUEST"),
                       ('{"value": 1, "value": 2}', "INVALID_JSON"),   # I-JSON
                       ('{"value": 1, "version": -1}', "INVALID_REQUEST"),
                       ('{"value": 1, "version": "1"}', "INVALID_REQUEST"),
                       ('{"value": 1, "updated_at": "yesterday"}', "INVALID_REQUEST")):
        check_problem(srv.request("PUT", url, body), 400, code)
    deep = "[" * 64 + "]" * 64
    assert srv.request("PUT", url, '{"value": %s}' % ("[" * 63 + "]" * 63)).status == 200
    check_problem(srv.request("PUT", url, '{"value": %s}' % deep), 400, "INVALID_JSON")
    assert srv.get(url).json["version"] == 2      # nothing else landed


def test_bad_headers(srv):
    srv.put("t/bh", 1)
    for h in ({"If-Match": "garbage"}, {"If-Match": '"1'},
              {"If-None-Match": "W/x"}, {"If-Unmodified-Since": "yesterday"},
              {"If-Match": ",".join(['"1"'] * 40)}):
        check_problem(srv.put("t/bh", 2, h), 400, "INVALID_REQUEST")
    check_problem(srv.get("/api/storage/t/bh", {"If-Modified-Since": "soon"}),
                  400, "INVALID_REQUEST")
    assert srv.get("/api/storage/t/bh").json["version"] == 1
    # the message shows the form expected
    r = srv.put("t/bh", 2, {"If-Match": "v7"})
    assert '"7"' in r.json["message"], r
    r = srv.put("t/bh", 2, {"If-Unmodified-Since": "yesterday"})
    assert "GMT" in r.json["message"], r


def test_unknown_member_is_named(srv):
    r = srv.request("PUT", "/api/storage/t/um", '{"title": "x", "value": 1}')
    check_problem(r, 400, "INVALID_REQUEST")
    assert 'unknown member "title"' in r.json["message"], r
    assert '{"value": ...}' in r.json["message"], r
    r = srv.request("PUT", "/api/storage/t/um", '{"a\\u0000\\"b": 1}')
    assert 'unknown member "a??b"' in r.json["message"], r
    assert srv.get("/api/storage/t/um").status == 404


def test_methods(srv):
    for m in ("FROB", "PROPFIND", "TRACE"):   # nginx refuses TRACE
        r = srv.request(m, "/api/storage/t/m", "{}")
        if m == "FROB" and srv.frontend == "lighttpd":
            # a method lighttpd does not know: its own 501 (HTML: it
            # refuses it before any of the site's settings apply)
            assert r.status == 501, r
            continue
        check_problem(r, 405, "METHOD_NOT_ALLOWED")
        assert "PUT" in r.h("allow") and "GET" in r.h("allow")
    r = srv.request("OPTIONS", "/api/storage/t/m")
    assert r.status == 204 and "DELETE" in r.h("allow")
    check_problem(srv.get("/api/nothing"), 404, "NOT_FOUND")


def test_too_large(srv):
    big = json.dumps({"value": "x" * (1 << 20)})
    check_problem(srv.request("PUT", "/api/storage/t/big", big), 413, "TOO_LARGE")
    check_problem(srv.get("/api/storage/t/big"), 404, "NOT_FOUND")
    near = json.dumps({"value": "x" * ((1 << 20) - 100)})
    assert srv.request("PUT", "/api/storage/t/big", near).status == 201


def test_static_root(srv):
    r = srv.get("/")
    assert r.status == 200 and b"<title>app" in r.body
