"""Three-way merge of a stale PUT (API.md 4.1) through nginx: disjoint
edits land, clashes are named, id-arrays merge by item, a base no longer
kept gets the ordinary 412, auto_merge needs no header, and 30 clients
editing one document from one stale base all land."""
import json
import re

from harness import run_threads

SERVER = {"workers": 2, "threads": 8,
          "conf": "history_versions 50\nauto_merge forms/\n"
                  "bucket_max_items 4\n"}
MERGE = {"Prefer": "merge"}


def put(srv, key, value, base, headers=None):
    h = {"If-Match": f'"{base}"'}
    h.update(headers or {})
    return srv.put(key, value, headers=h)


def test_disjoint_edits_merge(srv):
    srv.put("m/doc", {"title": "a", "body": "x", "tags": ["t"]})
    assert put(srv, "m/doc", {"title": "b", "body": "x", "tags": ["t"]},
               1).status == 200                          # v2: someone else
    r = put(srv, "m/doc", {"title": "a", "body": "y", "tags": ["t"]}, 1,
            MERGE)                                       # stale: read v1
    assert r.status == 200, r
    assert r.json["merged"] == {"base": 1, "current": 2}
    assert r.h("Preference-Applied") == "merge"
    assert r.json["version"] == 3
    doc = srv.get("/api/storage/m/doc").json
    assert doc["value"] == {"title": "b", "body": "y", "tags": ["t"]}
    # identical changes on both sides merge as well
    r = put(srv, "m/doc", {"title": "b", "body": "y", "tags": ["t"]}, 2,
            MERGE)
    assert r.status == 200, r


def test_clash_names_the_paths(srv):
    srv.put("m/c", {"a": {"x": 1, "y": 1}, "b": 1})
    put(srv, "m/c", {"a": {"x": 2, "y": 1}, "b": 2}, 1)
    r = put(srv, "m/c", {"a": {"x": 3, "y": 5}, "b": 1}, 1, MERGE)
    assert r.status == 409, r
    assert r.json["code"] == "MERGE_CONFLICT"
    assert r.json["conflicts"] == ["/a/x"], r.json
    assert r.json["base"] == 1 and r.json["version"] == 2
    assert r.json["value"] == {"a": {"x": 2, "y": 1}, "b": 2}
    assert srv.get("/api/storage/m/c").json["version"] == 2
    # without Prefer: merge the stale write is the ordinary 412
    r = put(srv, "m/c", {"a": {"x": 3}}, 1)
    assert r.status == 412 and r.json["code"] == "PRECONDITION_FAILED", r


def test_id_arrays_merge_by_item(srv):
    srv.put("m/l", {"items": [{"id": 1, "t": "a"}, {"id": 2, "t": "b"}]})
    put(srv, "m/l", {"items": [{"id": 1, "t": "a"}, {"id": 2, "t": "b"},
                               {"id": 3, "t": "theirs"}]}, 1)
    r = put(srv, "m/l", {"items": [{"id": 1, "t": "A"}, {"id": 2, "t": "b"},
                                   {"id": 4, "t": "mine"}]}, 1, MERGE)
    assert r.status == 200, r
    items = srv.get("/api/storage/m/l").json["value"]["items"]
    assert items == [{"id": 1, "t": "A"}, {"id": 2, "t": "b"},
                     {"id": 3, "t": "theirs"}, {"id": 4, "t": "mine"}]


def test_base_gone_is_the_ordinary_412(srv):
    srv.put("m/g", {"n": 0})
    for i in range(1, 52):                     # history_versions 50
        put(srv, "m/g", {"n": i}, i)
    r = put(srv, "m/g", {"n": 0, "other": 1}, 1, MERGE)
    assert r.status == 412 and r.json["code"] == "PRECONDITION_FAILED", r
    # a deleted key is not merged into either
    srv.put("m/d", {"a": 1})
    srv.delete("m/d")
    r = put(srv, "m/d", {"a": 1, "b": 2}, 1, MERGE)
    assert r.status == 404 and r.json["code"] == "DELETED", r


def test_auto_merge_needs_no_header_and_thirty_land(srv):
    fields = {f"f{i}": "" for i in range(30)}
    assert srv.put("forms/1", fields).status == 201

    def one(i):
        mine = dict(fields)
        mine[f"f{i}"] = f"filled by {i}"
        r = srv.put("forms/1", mine, version=1)     # the body's version
        assert r.status == 200, r
        return r.json.get("merged") is not None
    merged = run_threads(30, one)
    doc = srv.get("/api/storage/forms/1").json
    assert doc["version"] == 31
    assert doc["value"] == {f"f{i}": f"filled by {i}" for i in range(30)}
    assert sum(merged) == 29                     # the first was not stale


def test_a_counter_shows_why_it_is_opt_in(srv):
    """Two clients both read 10 and both write 11: it merges cleanly, and
    one increment is lost. Counters want PATCH, append or a txn."""
    srv.put("forms/counter", {"n": 10})
    a = srv.put("forms/counter", {"n": 11}, version=1)
    b = srv.put("forms/counter", {"n": 11}, version=1)
    assert a.status == 200 and b.status == 200, (a, b)
    assert srv.get("/api/storage/forms/counter").json["value"] == {"n": 11}


def test_merges_are_counted(srv):
    text = srv.get("/api/metrics").body.decode()
    merged = re.search(r'^verstore_merges_total\{result="merged"\} (\d+)',
                       text, re.M)
    conflict = re.search(r'^verstore_merges_total\{result="conflict"\} '
                         r'(\d+)', text, re.M)
    assert merged and int(merged.group(1)) >= 30, text[:2000]
    assert conflict and int(conflict.group(1)) >= 1
    assert re.search(r'^verstore_conflicts_total\{code="MERGE_CONFLICT",'
                     r'prefix="m"\} 1', text, re.M), text


def test_base_named_by_updated_at(srv):
    r = srv.put("m/t", {"a": 1, "b": 1})
    read_at = r.json["updated_at"]
    srv.put("m/t", {"a": 2, "b": 1}, headers={"If-Match": '"1"'})
    r = srv.put("m/t", {"a": 1, "b": 2}, headers=MERGE, updated_at=read_at)
    assert r.status == 200 and r.json["merged"]["base"] == 1, r
    assert srv.get("/api/storage/m/t").json["value"] == {"a": 2, "b": 2}


def fnv1a64(text):
    h = 0xcbf29ce484222325
    for b in text.encode():
        h = ((h ^ b) * 0x100000001b3) & 0xffffffffffffffff
    return h


def test_a_stale_activity_bucket_merges_by_id_and_stays_valid(srv):
    """A set's bucket (API.md 6.4) merges like any id-array, and the merged
    bucket is checked as any write of it is."""
    ids = [f"i{n}" for n in range(6)]          # 6 > bucket_max_items: B=2
    r = srv.request("POST", "/api/activities/board", {"upsert": [
        {"id": i, "title": i, "done": False} for i in ids]})
    assert r.status == 200 and r.json["bucket_count"] == 2, r
    key = "_act/board/0"
    read = srv.get("/api/storage/" + key).json
    v, items = read["version"], read["value"]
    a, b = items[0]["id"], items[1]["id"]
    # another tab ticks a; this one, from the same read, renames b
    mine = [dict(i, title="renamed") if i["id"] == b else i for i in items]
    theirs = [dict(i, done=True) if i["id"] == a else i for i in items]
    assert put(srv, key, theirs, v).status == 200
    r = put(srv, key, mine, v, MERGE)
    assert r.status == 200, r
    assert r.json["merged"] == {"base": v, "current": v + 1}
    got = {i["id"]: i for i in srv.get("/api/activities/board").json["items"]}
    assert got[a]["done"] is True and got[b]["title"] == "renamed"
    assert len(got) == 6
    # the same field of one item: the item's field is named
    r = put(srv, key, [dict(i, done="maybe") if i["id"] == a else i
                       for i in items], v, MERGE)
    assert r.status == 409 and r.json["code"] == "MERGE_CONFLICT", r
    assert r.json["conflicts"] == [f"/id={a}/done"]
    # a merge that would put an item in the other bucket is refused, and
    # nothing is written
    other = next(f"x{n}" for n in range(100) if fnv1a64(f"x{n}") % 2 == 1)
    r = put(srv, key, items + [{"id": other}], v, MERGE)
    assert r.status == 422 and r.json["code"] == "INVALID_ACTIVITY", r
    assert srv.get("/api/storage/" + key).json["version"] == v + 2
