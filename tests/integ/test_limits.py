"""max_value (API.md 10): a merge, JSON patch or append that would grow a
value past it answers 413 TOO_LARGE, detected while the value grows, with
nothing written, and the worker's memory stays a small multiple of it."""
import json
import time

from harness import running

SERVER = {"workers": 2, "threads": 4}
MERGE = {"Content-Type": "application/merge-patch+json"}
JPATCH = {"Content-Type": "application/json-patch+json"}


def peak_rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
    return 0


def test_copy_bomb_is_413_at_once(srv):
    """24 copies of the whole document into itself would reach gigabytes;
    the default max_value (16 MiB) stops it within the second."""
    srv.put("lim/bomb", {"pad": "x" * 1000})
    ops = [{"op": "copy", "from": "", "path": f"/x{i}"} for i in range(24)]
    t0 = time.monotonic()
    r = srv.request("PATCH", "/api/storage/lim/bomb", json.dumps(ops), JPATCH)
    took = time.monotonic() - t0
    assert r.status == 413 and r.json["code"] == "TOO_LARGE", r
    assert "max_value" in r.json["message"]
    assert took < 1.0, took
    got = srv.get("/api/storage/lim/bomb")
    assert got.json["version"] == 1 and got.json["value"] == {"pad": "x" * 1000}
    for pid in srv.worker_pids():
        # LMDB's mapping counts too; the old code reached 4.7 GB here
        assert peak_rss_mib(pid) < 200, (pid, peak_rss_mib(pid))
    # the store still writes
    assert srv.put("lim/after", 1).status == 201


def test_growth_stops_at_max_value():
    with running(workers=1, threads=4, conf="max_value 64k") as srv:
        srv.put("lim/doc", {"a": "y" * 60000})
        r = srv.request("PATCH", "/api/storage/lim/doc",
                        json.dumps({"b": "z" * 6000}), MERGE)
        assert r.status == 413 and r.json["code"] == "TOO_LARGE", r
        r = srv.request("PATCH", "/api/storage/lim/doc",
                        json.dumps({"b": "z" * 100}), MERGE)
        assert r.status == 200, r
        # appends land until the next one would pass 64 KiB
        srv.put("lim/list", [])
        n = 0
        while True:
            r = srv.request("POST", "/api/storage/lim/list?append=",
                            json.dumps("w" * 1000))
            if r.status != 200:
                break
            n += 1
            assert n < 100
        assert r.status == 413 and r.json["code"] == "TOO_LARGE", r
        got = srv.get("/api/storage/lim/list")
        assert len(got.json["value"]) == n and got.json["version"] == n + 1
        assert len(json.dumps(got.json["value"], separators=(",", ":"))) <= 65536
        # a JSON patch that grows then shrinks fails where it passes
        srv.put("lim/jp", {"a": "q" * 40000})
        r = srv.request("PATCH", "/api/storage/lim/jp", json.dumps([
            {"op": "copy", "from": "/a", "path": "/b"},
            {"op": "remove", "path": "/b"}]), JPATCH)
        assert r.status == 413, r
        # a transaction's patch op is bounded the same way
        r = srv.request("POST", "/api/txn", json.dumps({"ops": [
            {"op": "patch", "key": "lim/jp",
             "json_patch": [{"op": "copy", "from": "/a", "path": "/c"}]}]}))
        assert r.status == 413 and r.json["code"] == "TOO_LARGE", r
        assert srv.get("/api/storage/lim/jp").json["version"] == 1
