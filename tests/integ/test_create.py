"""Create with a unique name (API.md 3.6): slugs folded, -2, -3 ...
decided inside the write transaction, ids when there is no slug."""
import re
import threading

from harness import run_threads

SERVER = {"workers": 2, "threads": 16}


def create(srv, prefix, body):
    import json
    text = body if isinstance(body, str) else json.dumps(body)
    return srv.request("POST", "/api/storage/" + prefix, text)


def test_create_with_slug(srv):
    r = create(srv, "cards/", {"value": {"t": 1}, "slug": "My Card!"})
    assert r.status == 201, r
    b = r.json
    assert b["key"] == "cards/my-card" and b["value"] == {"t": 1}
    assert b["version"] == 1 and b["created_at"] == b["updated_at"]
    assert set(b) == {"key", "value", "version", "updated_at", "created_at",
                      "updated_by"}
    assert r.h("location") == "/api/storage/cards/my-card"
    assert r.h("etag") == '"1"'
    assert create(srv, "cards/", {"value": 2, "slug": "my card"}).json["key"] == \
        "cards/my-card-2"
    assert create(srv, "cards/", {"value": 3, "slug": "Crème Brûlée"}).json["key"] == \
        "cards/creme-brulee"
    assert create(srv, "cards/", {"value": 4, "slug": "!!!"}).json["key"] == \
        "cards/item"
    long = create(srv, "cards/", {"value": 5, "slug": "x" * 10000})
    assert long.status == 201 and long.json["key"] == "cards/" + "x" * 64
    # a tombstone counts as free; its version goes on
    srv.delete("cards/item")
    r = create(srv, "cards/", {"value": 6, "slug": "item"})
    assert r.json["key"] == "cards/item" and r.json["version"] == 3
    assert create(srv, "", {"value": 7, "slug": "top"}).json["key"] == "top"


def test_create_without_slug(srv):
    keys = [create(srv, "ids/", {"value": i}).json["key"] for i in range(20)]
    ids = [k[len("ids/"):] for k in keys]
    assert all(re.fullmatch(r"[0-9a-f]{16}", i) for i in ids), ids
    assert ids == sorted(ids) and len(set(ids)) == 20       # time-ordered


def test_thirty_creates_same_slug(srv):
    n = 30
    barrier = threading.Barrier(n)

    def client(i):
        barrier.wait(30)
        return create(srv, "race/", {"value": i, "slug": "Same Title"})

    rs = run_threads(n, client)
    assert all(r.status == 201 for r in rs), [r.status for r in rs]
    keys = sorted(r.json["key"] for r in rs)
    want = sorted(["race/same-title"] + [f"race/same-title-{i}" for i in range(2, 31)])
    assert keys == want
    for r in rs:        # each key holds its creator's value
        assert srv.get("/api/storage/" + r.json["key"]).json["value"] == r.json["value"]


def test_create_bad_input(srv):
    for body in ({"slug": "x"}, {"value": 1, "slug": 5}, {"value": 1, "x": 2},
                 [1]):
        r = create(srv, "bad/", body)
        assert r.status == 400 and r.json["code"] == "INVALID_REQUEST", (body, r)
    r = create(srv, "bad/", '{"value": 1, "slug": "a", "slug": "b"}')
    assert r.status == 400 and r.json["code"] == "INVALID_JSON", r     # I-JSON
    r = srv.request("POST", "/api/storage/bad/", '{"value": 1}',
                    {"Content-Type": "text/plain"})
    assert r.status == 415
    r = create(srv, "_act/", {"value": 1})
    assert r.status == 400 and r.json["code"] == "INVALID_KEY"
    r = create(srv, "p" * 500 + "/", {"value": 1, "slug": "x" * 30})
    assert r.status == 400 and r.json["code"] == "INVALID_KEY"
    assert srv.get("/api/storage/bad/").json["items"] == []
