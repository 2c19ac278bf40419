"""Group commit across two worker processes and many threads: mixed
conditional writes over a few keys through nginx, every answer checked
against a serial model (each version made once, each successful CAS at
the version it named + 1, the final state the last write's)."""
import random

from harness import run_threads

SERVER = {"workers": 2, "threads": 16}
KEYS = ["gc/a", "gc/b", "gc/c"]


def test_mixed_conditional_writes_serialise(srv):
    def client(t):
        rng = random.Random(t)
        seen = {k: 0 for k in KEYS}
        out = []
        for i in range(60):
            key = rng.choice(KEYS)
            kind = rng.choice(["put", "ifmatch", "token", "create", "delete"])
            base = seen[key]
            if kind == "token" and base == 0:
                kind = "create"         # version 0: must not exist
            value = f"c{t}-{i}"
            if kind == "put":
                r = srv.put(key, value)
            elif kind == "ifmatch":
                r = srv.put(key, value, {"If-Match": f'"{base}"'})
            elif kind == "token":
                r = srv.put(key, value, version=base)
            elif kind == "create":
                r = srv.put(key, value, version=0)
            else:
                r = srv.delete(key, query=f"?version={base}")
            assert r.status < 500, r
            body = r.json
            version = body.get("version", 0)
            if version > seen[key]:
                seen[key] = version
            out.append((key, kind, base, r.status, version, value,
                        body.get("code")))
        return out

    results = [x for rs in run_threads(24, client) for x in rs]
    made = {k: {} for k in KEYS}
    for key, kind, base, status, version, value, code in results:
        if status in (200, 201):
            assert version not in made[key], (key, version)
            made[key][version] = (kind, value)
            if kind in ("ifmatch", "token", "delete"):
                assert version == base + 1, (key, kind, base, version)
            if kind == "create":
                assert status == 201
        elif status in (409, 412):
            assert code in ("VERSION_CONFLICT", "PRECONDITION_FAILED")
            if kind != "create":
                assert version != base, (key, kind, base, version)
        else:
            assert status == 404 and code in ("NOT_FOUND", "DELETED"), status
    for key in KEYS:
        if not made[key]:
            continue
        top = max(made[key])
        assert sorted(made[key]) == list(range(1, top + 1)), key
        kind, value = made[key][top]
        r = srv.get("/api/storage/" + key)
        if kind == "delete":
            assert r.status == 404 and r.json["version"] == top
        else:
            assert r.json["version"] == top and r.json["value"] == value


def test_batched_writes_keep_each_version(srv):
    """24 writers, each on its own 3 keys, some written twice in a row
    and some deleted, past the 10 versions kept (history_versions): the
    writes that share a commit land each as it was sent. Every key's
    history holds its last 10 versions, each with the value, or the
    tombstone, that made it; the older ones are gone; the feed has each
    key once, at its last version."""
    def client(t):
        made = {}
        for i in range(14):
            for j in range(3):
                key = f"gh/{t}/{j}"
                reps = 2 if (i + j) % 4 == 0 else 1
                for _ in range(reps):
                    versions = made.get(key, {})
                    live = versions and versions[max(versions)] is not None
                    if live and (i + j + t) % 5 == 0:
                        r = srv.delete(key)
                        value = None
                    else:
                        value = {"t": t, "i": i, "j": j, "r": reps}
                        r = srv.put(key, value)
                    assert r.status in (200, 201), r
                    made.setdefault(key, {})[r.json["version"]] = value
        return made

    made = {}
    for m in run_threads(24, client):
        made.update(m)
    for key, versions in made.items():
        top = max(versions)
        assert sorted(versions) == list(range(1, top + 1)), key
        h = srv.get(f"/api/storage/{key}?history=1").json["versions"]
        assert [v["version"] for v in h] == list(range(top, top - 10, -1))
        for v in h:
            assert v["deleted"] == (versions[v["version"]] is None), (key, v)
        for n in (top - 9, top - 5, top):
            r = srv.get(f"/api/storage/{key}?version={n}")
            if versions[n] is None:
                assert r.status == 404 and r.json["code"] == "DELETED", r
            else:
                assert r.status == 200 and r.json["value"] == versions[n], r
        r = srv.get(f"/api/storage/{key}?version={top - 10}")
        assert r.status == 404 and r.json["code"] == "VERSION_GONE", r
    feed = []
    since = 0
    while True:
        r = srv.get(f"/api/changes?since={since}&limit=1000&prefix=gh%2F")
        if not r.json["results"]:
            break
        feed += r.json["results"]
        since = r.json["last_seq"]
    assert sorted(c["key"] for c in feed) == sorted(made)
    assert all(c["version"] == max(made[c["key"]]) for c in feed)
