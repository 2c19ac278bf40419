"""Transactions (API.md 5): in order, all or nothing, through nginx."""
import json
import random

from harness import run_threads

SERVER = {"workers": 2, "threads": 16}


def txn(srv, ops):
    return srv.request("POST", "/api/txn", json.dumps({"ops": ops}))


def test_txn_results(srv):
    srv.put("tx/old", {"n": 1})
    r = txn(srv, [
        {"op": "check", "key": "tx/new", "version": 0},
        {"op": "put", "key": "tx/new", "value": [1]},
        {"op": "get", "key": "tx/new"},
        {"op": "patch", "key": "tx/old", "merge": {"m": 2}},
        {"op": "patch", "key": "tx/old", "json_patch": [
            {"op": "replace", "path": "/n", "value": 5}]},
        {"op": "get", "key": "tx/missing"},
        {"op": "delete", "key": "tx/old", "version": 3},
        {"op": "check", "key": "tx/old", "version": 0},
    ])
    assert r.status == 200, r
    res = r.json["results"]
    assert res[0] == {"key": "tx/new", "version": 0}
    assert res[1]["key"] == "tx/new" and res[1]["version"] == 1
    assert res[2]["value"] == [1] and res[2]["version"] == 1
    assert set(res[2]) == {"key", "value", "version", "updated_at",
                           "created_at", "updated_by"}
    assert res[3]["version"] == 2 and res[4]["version"] == 3
    assert res[5] is None
    assert res[6] == {"key": "tx/old", "version": 4, "updated_at": res[6]["updated_at"]}
    assert res[7] == {"key": "tx/old", "version": 0}
    assert srv.get("/api/storage/tx/old").json["code"] == "DELETED"


def test_fifth_op_fails_nothing_changes(srv):
    srv.put("tx/a", 1)
    srv.put("tx/b", 2)
    r = txn(srv, [
        {"op": "put", "key": "tx/a", "value": 10},
        {"op": "put", "key": "tx/c", "value": 30},
        {"op": "delete", "key": "tx/b"},
        {"op": "patch", "key": "tx/a", "merge": {"x": 1}},
        {"op": "put", "key": "tx/b", "value": 20, "version": 1},
        {"op": "put", "key": "tx/d", "value": 40},
    ])
    p = r.json
    assert r.status == 404 and p["code"] == "DELETED" and p["op_index"] == 4, r
    assert srv.get("/api/storage/tx/a").json["value"] == 1
    assert srv.get("/api/storage/tx/b").json["value"] == 2
    assert srv.get("/api/storage/tx/c").status == 404
    r = txn(srv, [{"op": "put", "key": "tx/a", "value": 5},
                  {"op": "check", "key": "tx/b", "version": 7}])
    assert r.status == 409 and r.json["code"] == "VERSION_CONFLICT"
    assert r.json["op_index"] == 1 and r.json["value"] == 2 and r.json["version"] == 1
    r = txn(srv, [{"op": "patch", "key": "tx/a", "json_patch": [
        {"op": "test", "path": "", "value": 2}]}])
    assert r.status == 409 and r.json["code"] == "PATCH_CONFLICT" and r.json["op_index"] == 0
    assert srv.get("/api/storage/tx/a").json["version"] == 1


def test_transfers_keep_the_sum(srv):
    srv.put("acct/a", 100)
    srv.put("acct/b", 100)
    moves = []

    def client(i):
        rng = random.Random(i)
        done = 0
        for attempt in range(400):
            if done == 5:
                break
            a = srv.get("/api/storage/acct/a").json
            b = srv.get("/api/storage/acct/b").json
            amt = rng.randint(1, 10)
            src, dst = (a, b) if rng.random() < 0.5 else (b, a)
            r = txn(srv, [
                {"op": "put", "key": src["key"], "value": src["value"] - amt,
                 "version": src["version"]},
                {"op": "put", "key": dst["key"], "value": dst["value"] + amt,
                 "version": dst["version"]}])
            assert r.status in (200, 409), r
            if r.status == 200:
                done += 1
        moves.append(done)

    run_threads(20, client)
    a = srv.get("/api/storage/acct/a").json
    b = srv.get("/api/storage/acct/b").json
    assert a["value"] + b["value"] == 200, (a, b)
    assert sum(moves) == 100
    assert a["version"] + b["version"] == 2 + 2 * 100


def test_txn_bad_input(srv):
    cases = [
        ({"ops": []}, "INVALID_REQUEST", None),
        ({"ops": [{"op": "get", "key": "x"}] * 129}, "INVALID_REQUEST", None),
        ({"ops": [{"op": "frob", "key": "x"}]}, "INVALID_REQUEST", 0),
        ({"ops": [{"op": "get", "key": "x"}, {"op": "put", "value": 1}]},
         "INVALID_REQUEST", 1),
        ({"ops": [{"op": "put", "key": "a/", "value": 1}]}, "INVALID_KEY", 0),
        ({"ops": [{"op": "put", "key": "_act/s/0", "value": []}]}, "INVALID_KEY", 0),
        ({"ops": [{"op": "put", "key": "a/../b", "value": 1}]}, "INVALID_KEY", 0),
        ({"ops": [{"op": "patch", "key": "a", "json_patch": [{"op": "x"}]}]},
         "INVALID_PATCH", 0),
        ({"ops": [{"op": "patch", "key": "a"}]}, "INVALID_REQUEST", 0),
        ({"ops": [{"op": "check", "key": "a"}]}, "INVALID_REQUEST", 0),
        ({"ops": [{"op": "get", "key": "a", "value": 1}]}, "INVALID_REQUEST", 0),
        ({"ops": [{"op": "put", "key": "a", "value": 1, "version": -1}]},
         "INVALID_REQUEST", 0),
        ({"ops": {"op": "get"}}, "INVALID_REQUEST", None),
        ({"ops": [], "more": 1}, "INVALID_REQUEST", None),
        ([1], "INVALID_REQUEST", None),
    ]
    for body, code, idx in cases:
        r = srv.request("POST", "/api/txn", json.dumps(body))
        assert r.status == 400 and r.json["code"] == code, (body, r)
        assert r.json.get("op_index") == idx, (body, r)
    assert srv.get("/api/txn").status == 405
    assert srv.request("POST", "/api/txn", "{", {"Content-Type":
                       "application/json"}).json["code"] == "INVALID_JSON"
    assert srv.get("/api/storage/a").status == 404
