"""Server-side merges (API.md 3.4, 3.5) through nginx: merge patch and
JSON patch, append with stamps, raced by thirty clients at once."""
import json
import re
import threading

from harness import run_threads

SERVER = {"workers": 2, "threads": 16}
MERGE = {"Content-Type": "application/merge-patch+json"}
JPATCH = {"Content-Type": "application/json-patch+json"}
TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def patch(srv, key, body, headers, query=""):
    return srv.request("PATCH", "/api/storage/" + key + query,
                       json.dumps(body), headers)


def append(srv, key, value, query="", headers=None):
    return srv.request("POST", "/api/storage/" + key + "?append=" + query,
                       json.dumps(value), headers)


def test_merge_patch(srv):
    srv.put("m/doc", {"title": "a", "tags": ["x"], "meta": {"k": 1, "j": 2},
                      "big": 12345678901234567890})
    r = patch(srv, "m/doc", {"title": "b", "meta": {"j": None, "n": 3},
                             "tags": None}, MERGE)
    assert r.status == 200 and r.json["version"] == 2, r
    assert r.h("etag") == '"2"'
    got = srv.get("/api/storage/m/doc")
    assert got.json["value"] == {"title": "b", "meta": {"k": 1, "n": 3},
                                 "big": 12345678901234567890}
    assert b"12345678901234567890" in got.body      # digits untouched
    r = patch(srv, "m/doc", [1, 2], MERGE)          # non-object replaces
    assert r.status == 200 and srv.get("/api/storage/m/doc").json["value"] == [1, 2]


def test_json_patch(srv):
    srv.put("m/jp", {"items": ["a", "b"], "n": 1})
    r = patch(srv, "m/jp", [{"op": "test", "path": "/n", "value": 1},
                            {"op": "add", "path": "/items/1", "value": "z"},
                            {"op": "replace", "path": "/n", "value": 2},
                            {"op": "move", "from": "/items/0", "path": "/first"}],
              JPATCH)
    assert r.status == 200, r
    assert srv.get("/api/storage/m/jp").json["value"] == {
        "items": ["z", "b"], "n": 2, "first": "a"}
    # a failing test changes nothing and answers with the current state
    r = patch(srv, "m/jp", [{"op": "replace", "path": "/n", "value": 9},
                            {"op": "test", "path": "/n", "value": 1}], JPATCH)
    assert r.status == 409 and r.json["code"] == "PATCH_CONFLICT", r
    assert r.json["value"]["n"] == 2 and r.json["version"] == 2
    assert "operation 1 (test /n)" in r.json["message"], r
    r = patch(srv, "m/jp", [{"op": "remove", "path": "/nope"}], JPATCH)
    assert r.status == 409 and r.json["code"] == "PATCH_CONFLICT"
    assert srv.get("/api/storage/m/jp").json["version"] == 2


def test_patch_preconditions_and_errors(srv):
    srv.put("m/pc", {"a": 1})
    r = patch(srv, "m/pc", {"a": 2}, dict(MERGE, **{"If-Match": '"7"'}))
    assert r.status == 412 and r.json["value"] == {"a": 1}
    r = patch(srv, "m/pc", {"a": 2}, MERGE, "?version=5")
    assert r.status == 409 and r.json["code"] == "VERSION_CONFLICT"
    assert patch(srv, "m/pc", {"a": 2}, MERGE, "?version=1").status == 200
    r = patch(srv, "m/none", {"a": 1}, MERGE)
    assert r.status == 404 and r.json["code"] == "NOT_FOUND"
    r = srv.request("PATCH", "/api/storage/m/pc", '{"a": 3}')   # plain JSON
    assert r.status == 415 and r.json["code"] == "UNSUPPORTED_MEDIA_TYPE"
    r = srv.request("PATCH", "/api/storage/m/pc", '{"a": ', MERGE)
    assert r.status == 400 and r.json["code"] == "INVALID_JSON"
    for bad in ({"op": "add"}, [{"op": "frob", "path": "/a"}],
                [{"op": "add", "path": "/a~2", "value": 1}],
                [{"op": "add", "path": "a", "value": 1}],
                [{"op": "copy", "path": "/a"}],
                [{"op": "test", "path": "", "value": 1}] * 129):
        r = patch(srv, "m/pc", bad, JPATCH)
        assert r.status == 400 and r.json["code"] == "INVALID_PATCH", (bad, r)
    assert srv.get("/api/storage/m/pc").json["version"] == 2


def test_thirty_merge_patches_all_land(srv):
    srv.put("m/race", {"title": "shared"})
    n = 30
    barrier = threading.Barrier(n)

    def client(i):
        barrier.wait(30)
        return patch(srv, "m/race", {f"field{i}": i}, MERGE)

    rs = run_threads(n, client)
    assert all(r.status == 200 for r in rs), [r.status for r in rs]
    assert sorted(r.json["version"] for r in rs) == list(range(2, 32))
    value = srv.get("/api/storage/m/race").json["value"]
    assert value == dict({"title": "shared"}, **{f"field{i}": i for i in range(n)})


def test_thirty_stamped_appends(srv):
    srv.put("m/card", {"title": "card"})
    n = 30
    barrier = threading.Barrier(n)

    def client(i):
        barrier.wait(30)
        return append(srv, "m/card", {"text": f"comment {i}", "by": "mallory",
                                      "at": "forged"}, "/comments&stamp=1")

    rs = run_threads(n, client)
    assert all(r.status == 200 for r in rs), [r for r in rs if r.status != 200]
    assert sorted(r.json["index"] for r in rs) == list(range(n))
    got = srv.get("/api/storage/m/card").json
    comments = got["value"]["comments"]
    assert sorted(c["text"] for c in comments) == sorted(f"comment {i}" for i in range(n))
    for i, c in enumerate(comments):
        assert c["by"] is None                  # no authentication: null
        assert TS.match(c["at"]), c
    # each answer's index points at its own comment
    for r in rs:
        assert comments[r.json["index"]]["at"] <= got["updated_at"]
    assert got["version"] == n + 1


def test_append_edges(srv):
    srv.put("m/list", [1])
    r = append(srv, "m/list", 2, "")                # the value itself
    assert r.status == 200 and r.json["index"] == 1
    assert srv.get("/api/storage/m/list").json["value"] == [1, 2]
    srv.put("m/obj", {"a": "text", "b": {}})
    r = append(srv, "m/obj", 1, "/a")
    assert r.status == 409 and r.json["code"] == "PATCH_CONFLICT"
    assert r.json["value"] == {"a": "text", "b": {}}
    assert append(srv, "m/obj", 1, "%2Fb%2Fc").json["index"] == 0   # created
    assert append(srv, "m/obj", 1, "/x/y").status == 409    # no parent
    assert append(srv, "m/obj", 1, "").status == 409        # not an array
    r = append(srv, "m/none", 1, "/a")
    assert r.status == 404
    r = append(srv, "m/obj", 1, "/a~2")
    assert r.status == 400 and r.json["code"] == "INVALID_PATCH"
    r = append(srv, "m/obj", 1, "/b/c&stamp=1")
    assert r.status == 400 and r.json["code"] == "INVALID_REQUEST"
    r = srv.request("POST", "/api/storage/m/obj", "1")
    assert r.status == 400 and r.json["code"] == "INVALID_REQUEST"
    r = append(srv, "m/obj", 1, "/b/c", {"If-Match": '"1"'})
    assert r.status == 412
    r = append(srv, "m/obj", 1, "/b/c&version=2")
    assert r.status == 200 and r.json["version"] == 3
    assert srv.get("/api/storage/m/obj").json["value"]["b"]["c"] == [1, 1]
