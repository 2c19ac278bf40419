"""Quotas (conf `quota PREFIX BYTES`, API.md 10, 11): a write that would
take a prefix past its quota is 507 QUOTA_EXCEEDED naming the prefix, the
quota and the usage, with nothing written; deletes and shrinking writes
always pass; every quota that covers a key applies; the usage is kept by
each write, survives a restart, is counted anew for a quota line added,
and is in /api/metrics."""
import json
import os
import shutil
import signal
import subprocess
import time

from harness import metric, running

CONF = "quota q/a/ 2k\nquota q/ 5k\n"


def used(srv, prefix):
    return metric(srv.get("/api/metrics").body.decode(),
                  "verstore_quota_used_bytes", prefix=prefix)


def counted(keys):
    """What a quota counts: each live key's name and its value's JSON."""
    return sum(len(k.encode()) + len(json.dumps(v, separators=(",", ":")))
               for k, v in keys.items())


def refused(r, prefix, quota):
    assert r.status == 507 and r.json["code"] == "QUOTA_EXCEEDED", r
    assert r.json["prefix"] == prefix and r.json["quota"] == quota, r
    assert prefix in r.json["message"] and "nothing was written" in \
        r.json["message"], r
    return r.json["used"]


def fill(srv, prefix, value, live):
    """PUTs prefix+N = value until refused (into live): the refusal."""
    for i in range(100):
        r = srv.put(f"{prefix}{i}", value)
        if r.status != 201:
            assert srv.get(f"/api/storage/{prefix}{i}").status == 404
            return r
        live[f"{prefix}{i}"] = value
    raise AssertionError("never refused")


def test_quota_refuses_and_deletes_make_room():
    with running(workers=2, threads=4, conf=CONF) as srv:
        live = {}
        r = fill(srv, "q/a/", "x" * 100, live)
        assert refused(r, "q/a/", 2048) == counted(live), r
        assert counted(live) + len("q/a/NN") + 102 > 2048
        assert srv.get("/api/changes?since=0&limit=1000").json["results"][-1][
            "key"] == f"q/a/{len(live) - 1}"
        # other prefixes write on; the outer quota counts q/a/ too
        assert srv.put("other/big", "y" * 10000).status == 201
        assert used(srv, "q/a/") == counted(live)
        assert used(srv, "q/") == counted(live)
        # a smaller value, a delete, a transaction of deletes: always
        assert srv.put("q/a/0", "s").status == 200
        live["q/a/0"] = "s"
        assert srv.delete("q/a/1").status == 200
        del live["q/a/1"]
        assert used(srv, "q/a/") == counted(live)
        r = srv.put("q/a/new", "x" * 80)
        assert r.status == 201, r
        live["q/a/new"] = "x" * 80
        # q/b/ is under q/ only: it fills what q/a/ leaves of 5k
        r = fill(srv, "q/b/", "z" * 200, live)
        assert refused(r, "q/", 5120) == counted(live), r
        # one op of a transaction over its quota: nothing of it written
        r = srv.request("POST", "/api/txn", json.dumps({"ops": [
            {"op": "put", "key": "other/t", "value": 1},
            {"op": "put", "key": "q/a/t", "value": "w" * 3000}]}))
        assert r.status == 507 and r.json["code"] == "QUOTA_EXCEEDED", r
        assert r.json["op_index"] == 1, r
        assert srv.get("/api/storage/other/t").status == 404
        # an activity set under a quota: refused whole
        r = srv.request("POST", "/api/activities/s", json.dumps(
            {"upsert": [{"id": i, "pad": "p" * 100} for i in range(30)]}))
        assert r.status == 201 or r.status == 200, r
        with open(srv.conf_path) as f:
            text = f.read()
        with open(srv.conf_path, "w") as f:
            f.write(text + "quota _act/ 1k\n")
        os.kill(srv.vs.pid, signal.SIGHUP)
        deadline = time.monotonic() + 10
        while "quota: changed, applied at the next restart" not in \
                srv.log() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "quota: changed, applied at the next restart" in srv.log()
        # the restart counts the new line and keeps the others' usage
        srv.stop_verstored()
        srv.start_verstored()
        srv.wait_healthy()
        assert used(srv, "q/a/") == counted({k: v for k, v in live.items()
                                              if k.startswith("q/a/")})
        assert used(srv, "q/") == counted(live)
        act = used(srv, "_act/")
        assert act > 1024, act
        etag = srv.get("/api/activities/s").json["etag"]
        r = srv.request("POST", "/api/activities/s", json.dumps(
            {"upsert": [{"id": 100, "pad": "p"}]}))
        assert r.status == 507 and r.json["prefix"] == "_act/", r
        assert srv.get("/api/activities/s").json["etag"] == etag
        assert used(srv, "_act/") == act
        text = srv.get("/api/metrics").body.decode()
        assert metric(text, "verstore_quota_bytes", prefix="q/") == 5120
        if shutil.which("promtool"):
            p = subprocess.run(["promtool", "check", "metrics"], input=text,
                               capture_output=True, text=True)
            assert p.returncode == 0, p.stdout + p.stderr


def test_quota_line_removed_and_added_counts_anew():
    """A quota away for a while did not count the writes meanwhile: when
    its line comes back, its usage is counted again from the keys."""
    with running(workers=1, threads=4, conf="quota r/ 1M\n") as srv:
        assert srv.put("r/1", "a" * 100).status == 201
        with open(srv.conf_path) as f:
            text = f.read()
        without = text.replace("quota r/ 1M\n", "")
        for conf in (without, text):
            with open(srv.conf_path, "w") as f:
                f.write(conf)
            srv.stop_verstored()
            srv.start_verstored()
            srv.wait_healthy()
            assert srv.put("r/2", "b" * 50).status in (200, 201)
        assert used(srv, "r/") == counted({"r/1": "a" * 100,
                                           "r/2": "b" * 50})
        assert "quota r/: 160 bytes in 2 keys, counted" in srv.log()
