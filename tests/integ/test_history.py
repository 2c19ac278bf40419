"""Per-key history (API.md 3.1, 7) through nginx: ?version=N and
?history=1, pruning at history_versions with tombstones counted, and who
wrote each version."""
import hashlib
import os
import tempfile

SECRET = "hist-0123456789abcdefghijklmnopqrstuvwxyzABCD"
D = tempfile.mkdtemp(prefix="verstore-hist-")
os.chmod(D, 0o755)
TOKENS = os.path.join(D, "tokens")
with open(TOKENS, "w") as f:
    for name in ("ann", "bob"):
        digest = hashlib.sha256((name + SECRET).encode()).hexdigest()
        f.write(f"{name} {digest} rw *\n")
os.chmod(TOKENS, 0o644)
SERVER = {"workers": 2, "threads": 8,
          "conf": f"history_versions 4\nauth token\ntokens {TOKENS}\n"}


def who(name):
    return {"Authorization": "Bearer " + name + SECRET}


def test_versions_and_pruning(srv):
    for i in range(1, 4):
        assert srv.put("h/a", {"n": i}, headers=who("ann")).status in (200, 201)
    assert srv.delete("h/a", headers=who("bob")).status == 200       # v4
    assert srv.put("h/a", {"n": 5}, headers=who("bob")).status == 201  # v5
    assert srv.put("h/a", {"n": 6}, headers=who("ann")).status == 200  # v6
    h = srv.get("/api/storage/h/a?history=1", headers=who("ann"))
    assert h.status == 200, h
    vs = h.json["versions"]
    assert [v["version"] for v in vs] == [6, 5, 4, 3]       # newest first
    assert [v["updated_by"] for v in vs] == ["ann", "bob", "bob", "ann"]
    assert [v["deleted"] for v in vs] == [False, False, True, False]
    assert vs[2]["size"] == 0 and vs[0]["size"] == len('{"n":6}')
    assert set(vs[0]) == {"version", "updated_at", "updated_by", "deleted",
                          "size"}
    r = srv.get("/api/storage/h/a?version=3", headers=who("bob"))
    assert r.status == 200 and r.json["value"] == {"n": 3}, r
    assert r.json["version"] == 3 and r.json["updated_by"] == "ann"
    assert r.h("ETag") == '"3"'
    r = srv.get("/api/storage/h/a?version=4", headers=who("bob"))
    assert r.status == 404 and r.json["code"] == "DELETED", r
    for gone in (1, 2):
        r = srv.get(f"/api/storage/h/a?version={gone}", headers=who("bob"))
        assert r.status == 404 and r.json["code"] == "VERSION_GONE", r
    r = srv.get("/api/storage/h/a?version=7", headers=who("bob"))
    assert r.status == 404 and r.json["code"] == "NOT_FOUND", r
    r = srv.get("/api/storage/h/none?history=1", headers=who("bob"))
    assert r.status == 404 and r.json["code"] == "NOT_FOUND", r
    r = srv.get("/api/storage/h/a?version=0", headers=who("bob"))
    assert r.status == 400, r
    r = srv.get("/api/storage/h/a?history=yes", headers=who("bob"))
    assert r.status == 400, r


def test_history_after_delete(srv):
    srv.put("h/d", 1, headers=who("ann"))
    srv.delete("h/d", headers=who("ann"))
    h = srv.get("/api/storage/h/d?history=1", headers=who("bob")).json
    assert [(v["version"], v["deleted"]) for v in h["versions"]] == \
        [(2, True), (1, False)]
    assert srv.get("/api/storage/h/d?version=1",
                   headers=who("bob")).json["value"] == 1


def test_long_keys_keep_history_apart(srv):
    base = "h/" + "x" * 497           # 499 bytes: the history key is hashed
    a, b = base + "a", base + "b"
    assert len(a.encode()) == 500
    for k, n in ((a, 3), (b, 2)):
        for i in range(n):
            srv.put(k, {"k": k[-1], "i": i}, headers=who("ann"))
    ha = srv.get(f"/api/storage/{a}?history=1", headers=who("ann")).json
    hb = srv.get(f"/api/storage/{b}?history=1", headers=who("ann")).json
    assert [v["version"] for v in ha["versions"]] == [3, 2, 1]
    assert [v["version"] for v in hb["versions"]] == [2, 1]
    r = srv.get(f"/api/storage/{b}?version=1", headers=who("ann"))
    assert r.json["value"] == {"k": "b", "i": 0}, r
