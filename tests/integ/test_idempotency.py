"""Idempotent retries (API.md 8): the first answer is stored with the
change, in the same transaction; a retry gets it again and nothing is
applied twice."""
import json
import socket
import time

import harness
from harness import running

SERVER = {"workers": 2, "threads": 8}


def post(srv, path, body, key, extra=None):
    h = {"Idempotency-Key": key}
    h.update(extra or {})
    return srv.request("POST", path, json.dumps(body), h)


def test_append_replayed(srv):
    srv.put("i/card", {"comments": []})
    url = "/api/storage/i/card?append=/comments&stamp=1"
    r1 = post(srv, url, {"text": "hello"}, "k-1")
    assert r1.status == 200 and r1.h("idempotent-replayed") is None, r1
    r2 = post(srv, url, {"text": "hello"}, '"k-1"')       # quoted: same key
    assert r2.status == 200 and r2.h("idempotent-replayed") == "true", r2
    assert r2.body == r1.body and r2.h("etag") == r1.h("etag")
    got = srv.get("/api/storage/i/card").json
    assert got["version"] == 2 and len(got["value"]["comments"]) == 1
    r3 = post(srv, url, {"text": "other"}, "k-1")
    assert r3.status == 422 and r3.json["code"] == "IDEMPOTENCY_KEY_REUSED"
    r4 = post(srv, "/api/storage/i/card?append=/other", {"text": "hello"}, "k-1")
    assert r4.status == 422
    assert srv.get("/api/storage/i/card").json["version"] == 2


def test_create_retry_gets_the_same_key(srv):
    r1 = post(srv, "/api/storage/i/cards/", {"value": 1, "slug": "Todo"}, "c-1")
    r2 = post(srv, "/api/storage/i/cards/", {"value": 1, "slug": "Todo"}, "c-1")
    assert r1.status == r2.status == 201
    assert r2.json["key"] == r1.json["key"] == "i/cards/todo"
    assert r2.h("location") == r1.h("location")
    assert r2.h("idempotent-replayed") == "true"
    r3 = post(srv, "/api/storage/i/cards/", {"value": 1, "slug": "Todo"}, "c-2")
    assert r3.json["key"] == "i/cards/todo-2"


def test_patch_and_txn_replayed(srv):
    srv.put("i/doc", {"n": 0})
    h = {"Content-Type": "application/merge-patch+json", "Idempotency-Key": "p-1"}
    r1 = srv.request("PATCH", "/api/storage/i/doc", '{"n": 1}', h)
    r2 = srv.request("PATCH", "/api/storage/i/doc", '{"n": 1}', h)
    assert r1.status == r2.status == 200 and r2.body == r1.body
    assert srv.get("/api/storage/i/doc").json["version"] == 2
    ops = {"ops": [{"op": "get", "key": "i/doc"},
                   {"op": "put", "key": "i/t", "value": 1}]}
    t1 = post(srv, "/api/txn", ops, "t-1")
    t2 = post(srv, "/api/txn", ops, "t-1")
    assert t1.status == t2.status == 200 and t2.body == t1.body
    assert t2.h("idempotent-replayed") == "true"
    assert srv.get("/api/storage/i/t").json["version"] == 1


def test_failures_are_replayed_too(srv):
    srv.put("i/v", 1)
    url = "/api/storage/i/v?append=&version=9"
    r1 = post(srv, url, 5, "f-1")
    assert r1.status == 409
    srv.put("i/v", [])                       # now it would apply
    r2 = post(srv, url, 5, "f-1")
    assert r2.status == 409 and r2.h("idempotent-replayed") == "true"
    assert r2.body == r1.body


def test_dropped_connection_then_retry(srv):
    srv.put("i/drop", [])
    body = json.dumps("once").encode()
    uri = "/api/storage/i/drop?append="
    params = {"REQUEST_METHOD": "POST", "REQUEST_URI": uri,
              "CONTENT_TYPE": "application/json",
              "CONTENT_LENGTH": str(len(body)),
              "HTTP_IDEMPOTENCY_KEY": "drop-1"}
    s = harness.fcgi_connect(srv.sock, params)
    harness.fcgi_send_stdin(s, body)
    s.close()                               # gone before the answer
    for _ in range(100):
        if srv.get("/api/storage/i/drop").json["version"] == 2:
            break
        time.sleep(0.02)
    r = srv.request("POST", uri, body, {"Idempotency-Key": "drop-1"})
    assert r.status == 200 and r.h("idempotent-replayed") == "true", r
    assert r.json["index"] == 0 and r.json["version"] == 2
    assert srv.get("/api/storage/i/drop").json["value"] == ["once"]


def test_bad_keys(srv):
    srv.put("i/bad", [])
    for key in ("", '""', "a b", "x" * 256, '"a"b"', "\u00e9".encode().decode("latin-1")):
        if key == "" and srv.frontend == "lighttpd":
            continue        # it passes no empty header: as if none was sent
        r = srv.request("POST", "/api/storage/i/bad?append=", "1",
                        {"Idempotency-Key": key})
        assert r.status == 400 and r.json["code"] == "INVALID_REQUEST", (key, r)
    assert srv.get("/api/storage/i/bad").json["version"] == 1
    # PUT ignores it (PUT is idempotent by nature)
    assert srv.put("i/bad", [1], {"Idempotency-Key": "x"}).status == 200


def test_expiry():
    with running(workers=1, threads=4, conf="idempotency_ttl 1") as srv:
        srv.put("e/list", [])
        url = "/api/storage/e/list?append="
        assert post(srv, url, 1, "e-1").json["index"] == 0
        assert post(srv, url, 1, "e-1").h("idempotent-replayed") == "true"
        time.sleep(1.2)
        r = post(srv, url, 1, "e-1")
        assert r.h("idempotent-replayed") is None and r.json["index"] == 1
        for i in range(20):                 # expired records get purged
            post(srv, url, 1, f"e-more-{i}")
        assert srv.get("/api/storage/e/list").json["version"] == 23
