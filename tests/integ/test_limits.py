"""max_value (API.md 10): a merge, JSON patch or append that would grow a
value past it answers 413 TOO_LARGE, detected while the value grows, with
nothing written, and the worker's memory stays a small multiple of it.
map_size (LMDB): a store that reached it refuses writes with 507 and still
takes every delete, also after a restart; deleting makes room again."""
import json
import time

from harness import backends, metric, running

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


def fill(srv, prefix, value):
    """PUTs prefix/N until 507: the keys written."""
    keys = []
    for i in range(5000):
        r = srv.put(f"{prefix}/{i}", value)
        if r.status == 507:
            assert r.json["code"] == "STORAGE_FULL", r
            assert srv.get(f"/api/storage/{prefix}/{i}").status == 404
            return keys
        assert r.status == 201, r
        keys.append(f"{prefix}/{i}")
    raise AssertionError("never full")


def delete_all(srv, keys):
    codes = [srv.delete(k).status for k in keys]
    assert codes == [200] * len(keys), codes


def restart(srv):
    srv.stop_verstored()
    srv.start_verstored()
    srv.wait_healthy()


@backends("lmdb")            # map_size bounds LMDB only
def test_full_store_takes_deletes_and_writes_again():
    """Filled to 507, every DELETE is 200 (each writes a tombstone, its
    history and a feed entry: the store keeps room for them), and the
    room the values took is writable again, also after a restart."""
    with running(workers=2, threads=4, conf="map_size 1M") as srv:
        big = "x" * 5000
        first = fill(srv, "a", big)
        assert len(first) > 50, first
        restart(srv)
        assert srv.put("a/more", big).status == 507
        delete_all(srv, first)
        assert srv.get(f"/api/storage/{first[0]}").status == 404
        again = fill(srv, "b", big)
        assert len(again) > len(first) // 3, (len(first), len(again))
        restart(srv)
        delete_all(srv, again)
        assert srv.put("c/0", big).status == 201
        used = metric(srv.get("/api/metrics").body.decode(),
                      "verstore_store_used_bytes")
        assert 0 < used < 1 << 20, used


@backends("lmdb")
def test_full_store_of_small_values_takes_every_delete():
    """Small values: a tombstone takes about as much as what it replaces,
    and every delete still succeeds, before and after a restart; the
    history stays readable."""
    with running(workers=1, threads=4, conf="map_size 1M") as srv:
        keys = fill(srv, "s", "y" * 200)
        half = len(keys) // 2
        delete_all(srv, keys[:half])
        restart(srv)
        delete_all(srv, keys[half:])
        r = srv.get(f"/api/storage/{keys[-1]}?version=1")
        assert r.status == 200 and r.json["value"] == "y" * 200, r
        assert "store error" not in srv.log()
