"""Listing by prefix (API.md 3.7): byte order, tombstones left out,
limit/after/next paging, values, and the bounds of limit."""
SERVER = {"workers": 1, "threads": 4}


def keys(r):
    return [i["key"] for i in r.json["items"]]


def test_list_prefix_order_and_tombstones(srv):
    for k in ("l/b", "l/a", "l/a/c", "l/a/b", "l0", "lz", "l/c%2Fd", "l/%C3%A9"):
        assert srv.put(k, k).status == 201
    srv.delete("l/b")
    r = srv.get("/api/storage/l/")
    assert r.status == 200 and r.h("content-type") == "application/json"
    assert keys(r) == ["l/a", "l/a/b", "l/a/c", "l/c/d", "l/é"]
    assert r.json["next"] is None
    item = r.json["items"][0]
    assert set(item) == {"key", "version", "updated_at"} and item["version"] == 1
    r = srv.get("/api/storage/l/a/?values=1")
    assert [(i["key"], i["value"]) for i in r.json["items"]] == [
        ("l/a/b", "l/a/b"), ("l/a/c", "l/a/c")]
    everything = keys(srv.get("/api/storage/"))
    assert everything == sorted(everything, key=lambda s: s.encode())
    assert "l0" in everything and "l/b" not in everything


def test_list_paging(srv):
    for i in range(25):
        srv.put(f"page/{i:03d}", i)
    seen, after, pages = [], "", 0
    while True:
        q = "?limit=10" + (f"&after={after}" if after else "")
        r = srv.get("/api/storage/page/" + q)
        assert r.status == 200
        seen += keys(r)
        pages += 1
        if r.json["next"] is None:
            break
        assert r.json["next"] == keys(r)[-1]
        after = r.json["next"].replace("/", "%2F")
    assert seen == [f"page/{i:03d}" for i in range(25)] and pages == 3
    r = srv.get("/api/storage/page/?limit=25")
    assert len(keys(r)) == 25 and r.json["next"] is None


def test_list_bad_parameters(srv):
    for q in ("limit=0", "limit=1001", "limit=abc", "limit=", "limit=-1"):
        r = srv.get("/api/storage/page/?" + q)
        assert r.status == 400 and r.json["code"] == "INVALID_REQUEST", (q, r)
    r = srv.get("/api/storage/page/?after=%zz")
    assert r.status == 400
    r = srv.request("PUT", "/api/storage/page/", '{"value": 1}')
    assert r.status == 405 and r.json["code"] == "METHOD_NOT_ALLOWED"
    assert srv.get("/api/storage/nothing-here/").json == {"items": [], "next": None}
