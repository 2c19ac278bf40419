"""Activity sets (API.md 6) through nginx: buckets under a manifest,
splits, one-snapshot reads, server-side and client-side merging."""
import json
import random
import threading

from harness import run_threads, running

SERVER = {"workers": 2, "threads": 16, "conf": "bucket_max_items 8"}


def fnv1a64(data):
    """FNV-1a 64, written here independently of the server's."""
    h = 0xcbf29ce484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def id_text(i):
    return (i if isinstance(i, str) else str(i)).encode()


def bucket_of(i, b):
    return fnv1a64(id_text(i)) % b


def post(srv, s, body, headers=None):
    return srv.request("POST", "/api/activities/" + s, json.dumps(body), headers)


def get_set(srv, s, q=""):
    return srv.get("/api/activities/" + s + q)


def test_fnv_vectors():
    assert fnv1a64(b"") == 0xcbf29ce484222325
    assert fnv1a64(b"a") == 0xaf63dc4c8601ec8c
    assert fnv1a64(b"foobar") == 0x85944171f73967e8


def test_post_get_delete(srv):
    assert get_set(srv, "s1").status == 404
    r = post(srv, "s1", {"upsert": [{"id": "a", "v": 1}, {"id": 7, "v": 2}]})
    assert r.status == 200, r
    b = r.json
    assert b["set"] == "s1" and b["upserted"] == 2 and b["deleted"] == 0
    assert b["bucket_count"] == 1 and b["etag"] == r.h("etag")
    g = get_set(srv, "s1")
    assert g.status == 200 and g.h("etag") == b["etag"] == g.json["etag"]
    assert g.json["items"] == [{"id": "a", "v": 1}, {"id": 7, "v": 2}]
    assert g.json["buckets"] == [{"key": "_act/s1/0", "version": 1, "count": 2}]
    # the manifest and buckets are ordinary keys to read
    m = srv.get("/api/storage/_act/s1/manifest").json["value"]
    assert m == {"bucket_count": 1, "buckets": ["_act/s1/0"]}
    # upsert replaces (the caller's item wins); delete counts what was there
    r = post(srv, "s1", {"upsert": [{"id": "a", "v": 9}], "delete": [7, "zz"]})
    assert r.json["upserted"] == 1 and r.json["deleted"] == 1
    assert get_set(srv, "s1").json["items"] == [{"id": "a", "v": 9}]
    assert r.json["etag"] != b["etag"]


def test_conditional(srv):
    post(srv, "s2", {"upsert": [{"id": 1}]})
    g = get_set(srv, "s2")
    etag = g.h("etag")
    r = get_set(srv, "s2")
    assert srv.get("/api/activities/s2", {"If-None-Match": etag}).status == 304
    assert srv.get("/api/activities/s2", {"If-Modified-Since":
                   "Sun, 06 Nov 2044 08:49:37 GMT"}).status == 200
    assert srv.get("/api/activities/s2", {"If-Match": '"1"'}).status == 412
    r = post(srv, "s2", {"upsert": [{"id": 2}]}, {"If-Match": etag})
    assert r.status == 200
    r = post(srv, "s2", {"upsert": [{"id": 3}]}, {"If-Match": etag})   # stale
    assert r.status == 412 and r.json["code"] == "PRECONDITION_FAILED"
    assert [i["id"] for i in get_set(srv, "s2").json["items"]] == [1, 2]
    # a direct write to a bucket changes the set ETag too
    b0 = srv.get("/api/storage/_act/s2/0").json
    srv.put("_act/s2/0", b0["value"], {"If-Match": f'"{b0["version"]}"'})
    assert get_set(srv, "s2").h("etag") != r.h("etag")


def test_split_routes_every_item(srv):
    ids = [f"item-{i}" for i in range(40)] + list(range(1000, 1020))
    r = post(srv, "big", {"upsert": [{"id": i, "n": n} for n, i in enumerate(ids)]})
    assert r.status == 200, r
    b = r.json["bucket_count"]
    assert b >= 8 and b & (b - 1) == 0, b          # doubled from 1
    g = get_set(srv, "big").json
    assert sorted(map(str, (i["id"] for i in g["items"]))) == sorted(map(str, ids))
    assert len(g["buckets"]) == b and sum(x["count"] for x in g["buckets"]) == 60
    for k in range(b):
        one = get_set(srv, "big", f"?bucket={k}").json
        assert len(one["buckets"]) == 1 and one["buckets"][0]["key"] == f"_act/big/{k}"
        for item in one["items"]:
            assert bucket_of(item["id"], b) == k
        assert all(x["count"] <= 8 for x in g["buckets"])
    assert get_set(srv, "big", f"?bucket={b}").status == 404


def test_thirty_disjoint_posters(srv):
    n = 30
    barrier = threading.Barrier(n)

    def client(i):
        barrier.wait(30)
        return post(srv, "many", {"upsert": [{"id": f"c{i}-{k}"} for k in range(3)]})

    rs = run_threads(n, client)
    assert all(r.status == 200 for r in rs), [r.status for r in rs]
    items = get_set(srv, "many").json["items"]
    assert sorted(i["id"] for i in items) == sorted(f"c{i}-{k}" for i in range(n)
                                                    for k in range(3))


def client_merge(srv, s, item):
    """The loop of a client that merges for itself, through the storage API."""
    for attempt in range(200):
        m = srv.get(f"/api/storage/_act/{s}/manifest").json["value"]
        b = m["bucket_count"]
        key = m["buckets"][bucket_of(item["id"], b)]
        cur = srv.get("/api/storage/" + key)
        assert cur.status == 200, cur
        items = [x for x in cur.json["value"] if x["id"] != item["id"]] + [item]
        r = srv.put(key, items, {"If-Match": cur.h("etag")})
        if r.status in (200, 201):
            return attempt
        # 412: the bucket moved on; 422: the set split meanwhile
        assert r.status in (409, 412, 422), r
    raise AssertionError("no progress")


def test_thirty_client_side_mergers(srv):
    post(srv, "cm", {"upsert": []})             # created on first use
    n = 30
    barrier = threading.Barrier(n)

    def client(i):
        barrier.wait(30)
        return client_merge(srv, "cm", {"id": f"m{i}", "by": i})

    run_threads(n, client)
    g = get_set(srv, "cm").json
    assert sorted(i["id"] for i in g["items"]) == sorted(f"m{i}" for i in range(n))
    b = len(g["buckets"])
    for k in range(b):      # splits kept every item where it belongs
        for item in get_set(srv, "cm", f"?bucket={k}").json["items"]:
            assert bucket_of(item["id"], b) == k


def test_split_under_concurrent_readers(srv):
    stop = threading.Event()
    bad = []

    def reader(_):
        last = 0
        while not stop.is_set():
            g = get_set(srv, "rd")
            if g.status == 404:
                continue
            ids = [i["id"] for i in g.json["items"]]
            if len(ids) != len(set(ids)) or len(ids) < last:
                bad.append(ids)
            last = len(ids)
        return last

    def writer():
        for i in range(40):
            r = post(srv, "rd", {"upsert": [{"id": f"w{i}-{k}"} for k in range(3)]})
            assert r.status == 200, r

    ts = [threading.Thread(target=reader, args=(i,)) for i in range(4)]
    for t in ts:
        t.start()
    try:
        writer()
    finally:
        stop.set()
        for t in ts:
            t.join(30)
    assert not bad, bad[:1]
    g = get_set(srv, "rd").json
    assert len(g["items"]) == 120 and len(g["buckets"]) >= 16


def test_bad_requests(srv):
    post(srv, "bad", {"upsert": [{"id": "x"}]})
    etag = get_set(srv, "bad").h("etag")
    for body in ({"upsert": [{"v": 1}]}, {"upsert": [{"id": 1.5}]},
                 {"upsert": [{"id": True}]}, {"upsert": [{"id": {"a": 1}}]},
                 {"upsert": [{"id": "d"}, {"id": "d"}]},
                 {"upsert": [{"id": "d"}], "delete": ["d"]},
                 {"upsert": ["not an object"]}, {"delete": [None]},
                 {"upsert": {"id": 1}}, {"other": []}, [1]):
        r = post(srv, "bad", body)
        assert r.status == 400 and r.json["code"] == "INVALID_REQUEST", (body, r)
    assert get_set(srv, "bad").h("etag") == etag        # nothing applied
    for name in ("a%2Fb", "..", "%00"):
        assert post(srv, name, {"upsert": []}).status == 400
    assert srv.request("DELETE", "/api/activities/bad").status == 405


def test_direct_writes_are_checked(srv):
    post(srv, "dw", {"upsert": [{"id": i} for i in range(12)]})
    m = srv.get("/api/storage/_act/dw/manifest").json["value"]
    b = m["bucket_count"]
    k0 = [i for i in range(100, 200) if bucket_of(i, b) == 0]
    k1 = [i for i in range(100, 200) if bucket_of(i, b) == 1]
    cases = [
        ("_act/dw/0", [{"id": k1[0]}]),                     # wrong bucket
        ("_act/dw/0", [{"v": 1}]),                          # no id
        ("_act/dw/0", [{"id": k0[0]}, {"id": k0[0]}]),      # id twice
        ("_act/dw/0", {"id": k0[0]}),                       # not an array
        (f"_act/dw/{b}", []),                               # no such bucket
        ("_act/dw/manifest", {"bucket_count": b * 2,
                              "buckets": [f"_act/dw/{i}" for i in range(b * 2)]}),
        ("_act/dw/manifest", {"bucket_count": 1, "buckets": ["x"]}),
        ("_act/nope/0", []),                                # no such set
        ("_act/dw/01", []),
    ]
    for key, value in cases:
        r = srv.put(key, value)
        assert r.status == 422 and r.json["code"] == "INVALID_ACTIVITY", (key, r)
    for method in ("DELETE", "PATCH", "POST"):
        r = srv.request(method, "/api/storage/_act/dw/0", "[]",
                        {"Content-Type": "application/merge-patch+json"})
        assert r.status == 422, (method, r)
    ok = srv.put("_act/dw/0", [{"id": k0[0], "direct": True}])
    assert ok.status == 200, ok
    assert {"id": k0[0], "direct": True} in get_set(srv, "dw").json["items"]
    # the manifest as it is may be written back; the buckets stay
    before = sorted(map(str, (i["id"] for i in get_set(srv, "dw").json["items"])))
    assert srv.put("_act/dw/manifest", m).status == 200
    after = get_set(srv, "dw").json
    assert sorted(map(str, (i["id"] for i in after["items"]))) == before
    assert after["buckets"][0]["version"] > 1


def test_direct_write_over_the_limit_splits():
    with running(workers=1, threads=4, conf="bucket_max_items 4") as srv:
        post(srv, "sp", {"upsert": [{"id": 1}]})
        items = [{"id": i} for i in range(10)]      # all in bucket 0 of 1
        r = srv.put("_act/sp/0", items)
        assert r.status == 200, r
        g = get_set(srv, "sp").json
        assert len(g["buckets"]) >= 4 and len(g["items"]) == 10
