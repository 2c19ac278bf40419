"""The process model and its configuration: verstored -t, SIGTERM drain,
socket hand-over on fd 0, one server per socket, crash-loop back-off, and
the settings that change answers (require_preconditions, map_size)."""
import json
import os
import signal
import socket
import subprocess
import tempfile
import time

import harness
from harness import running


def verstored(*args, **kw):
    return subprocess.run([os.path.join(harness.BUILD, "verstored"), *args],
                          capture_output=True, text=True, timeout=30, **kw)


def test_config_check():
    with tempfile.TemporaryDirectory() as d:
        check_configs(d)


def check_configs(d):
    good = os.path.join(d, "good.conf")
    with open(good, "w") as f:
        f.write("# ok\nworkers 2\nmap_size 64M\n")
    r = verstored("-t", "-c", good)
    assert r.returncode == 0 and "successful" in r.stderr, r
    # the shipped file, with its tokens file where this test can make one
    shipped = os.path.join(d, "shipped.conf")
    tokens = os.path.join(d, "tokens")
    with open(os.path.join(harness.ROOT, "conf", "verstore.conf")) as f:
        text = f.read()
    assert "\ntokens /etc/verstore/tokens\n" in text
    with open(shipped, "w") as f:
        f.write(text.replace("\ntokens /etc/verstore/tokens\n",
                             f"\ntokens {tokens}\n"))
    open(tokens, "w").close()
    r = verstored("-t", "-c", shipped)
    assert r.returncode == 0, r
    for text, line, word in (("workers 2\nthreads lots\n", 2, "threads"),
                             ("\n\nmap_sise 1G\n", 3, "map_sise"),
                             ("workers 1 2\n", 1, "workers"),
                             ("precondition_failed_status 410\n", 1,
                              "precondition_failed_status")):
        bad = os.path.join(d, "bad.conf")
        with open(bad, "w") as f:
            f.write(text)
        r = verstored("-t", "-c", bad)
        assert r.returncode == 1, r
        assert f"bad.conf:{line}: {word}" in r.stderr, r.stderr
        assert "test failed" in r.stderr
    r = verstored("-t", "-c", os.path.join(d, "missing.conf"))
    assert r.returncode == 1 and "No such file" in r.stderr
    r = verstored("-x")
    assert r.returncode == 2 and "usage" in r.stderr


def test_sigterm_drains_in_flight_request():
    with running(workers=1, threads=2) as srv:
        body = json.dumps({"value": "drained"}).encode()
        params = {"REQUEST_METHOD": "PUT", "REQUEST_URI": "/api/storage/drain",
                  "CONTENT_TYPE": "application/json",
                  "CONTENT_LENGTH": str(len(body))}
        s = harness.fcgi_connect(srv.sock, params)
        harness.fcgi_send_stdin(s, body[:5], end=False)   # request in flight
        time.sleep(0.3)
        master = srv.vs
        master.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        assert master.poll() is None, "master exited with a request in flight"
        assert not os.path.exists(srv.sock), "still accepting"
        harness.fcgi_send_stdin(s, body[5:])
        headers, out = harness.fcgi_read(s)
        assert headers["status"].startswith("201"), (headers, out)
        assert master.wait(10) == 0
        srv.vs = None
        srv.start_verstored()
        srv.wait_healthy()
        assert srv.get("/api/storage/drain").json["value"] == "drained"


def test_sigterm_bounded_by_shutdown_timeout():
    with running(workers=1, threads=2, conf="shutdown_timeout 1") as srv:
        params = {"REQUEST_METHOD": "PUT", "REQUEST_URI": "/api/storage/stuck",
                  "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": "100"}
        s = harness.fcgi_connect(srv.sock, params)
        harness.fcgi_send_stdin(s, b'{"va', end=False)    # never finished
        time.sleep(0.2)
        t0 = time.monotonic()
        rc = srv.stop_verstored()
        assert time.monotonic() - t0 < 6
        assert rc == 1          # not clean: a request was cut off
        s.close()


def test_idle_sigterm_exits_zero_quickly():
    with running(workers=2, threads=16) as srv:
        srv.put("x", 1)
        t0 = time.monotonic()
        assert srv.stop_verstored() == 0
        assert time.monotonic() - t0 < 3
        assert "stopped" in srv.log()


def test_socket_on_fd0():
    srv = harness.Server(workers=1, threads=2)
    ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    os.makedirs(os.path.dirname(srv.sock))
    ls.bind(srv.sock)
    os.chmod(srv.sock, 0o666)
    ls.listen(64)
    try:
        srv.vs = subprocess.Popen(
            [os.path.join(harness.BUILD, "verstored"), "-c", srv.conf_path],
            stdin=ls.fileno(), stdout=subprocess.DEVNULL,
            stderr=open(srv.vs_log, "a"), start_new_session=True)
        srv.start_nginx()
        srv.wait_healthy()
        assert srv.put("fd0", 1).status == 201
        assert "listening socket on fd 0" in srv.log()
        assert srv.stop_verstored() == 0
        assert os.path.exists(srv.sock)     # not ours to remove
    finally:
        ls.close()
        srv.stop()


def test_second_server_refused():
    with running(workers=1, threads=2) as srv:
        r = verstored("-c", srv.conf_path)
        assert r.returncode == 1 and "another server" in r.stderr, r
        assert srv.get("/api/health").status == 200


def test_workers_that_cannot_start_stop_the_master():
    """A store the workers cannot open (here not an LMDB file, which no
    check of the paths can see) stops verstored at once with the reason,
    rather than leaving a master up while its workers crash-loop."""
    with tempfile.TemporaryDirectory() as d:
        data = os.path.join(d, "data")
        os.makedirs(data)
        with open(os.path.join(data, "data.mdb"), "wb") as f:
            f.write(b"not a store" * 1000)
        conf = os.path.join(d, "v.conf")
        with open(conf, "w") as f:
            f.write(f"data_dir {data}\nsocket {d}/s.sock\nworkers 2\n")
        p = subprocess.run([os.path.join(harness.BUILD, "verstored"), "-c",
                            conf], capture_output=True, text=True, timeout=30)
        assert p.returncode == 1, p
        assert "cannot open the store" in p.stderr
        assert "workers cannot start" in p.stderr
        assert p.stderr.count("exited with status 3") <= 2, p.stderr
        assert not os.path.exists(os.path.join(d, "s.sock"))


def test_crash_loop_backs_off():
    """Workers that keep dying young are replaced ever more slowly."""
    with running(workers=1, threads=2) as srv:
        time.sleep(2.2)             # the pool has run: this is no start-up
        deadline = time.monotonic() + 1.2
        killed = set()
        while time.monotonic() < deadline:
            for pid in srv.worker_pids():
                if pid not in killed and not harness.is_zombie(pid):
                    os.kill(pid, signal.SIGKILL)
                    killed.add(pid)
            time.sleep(0.01)
        # 100, 200, 400, 800 ms apart: at most 4 in 1.2 s, not dozens
        assert 2 <= len(killed) <= 5, killed
        srv.wait_workers(1, timeout=15, gone=killed)
        assert srv.get("/api/health").status == 200


def test_worker_replaced_and_logged():
    with running(workers=2, threads=4) as srv:
        before = srv.worker_pids()
        os.kill(before[0], signal.SIGUSR1)    # default action: die
        after = srv.wait_workers(2, gone=[before[0]])
        assert before[1] in after
        assert srv.get("/api/health").status == 200
        log = srv.log()
        assert f"worker {before[0]} killed by signal {int(signal.SIGUSR1)}" in log
        assert "replaced a worker" in log


def shared_anon(pid):
    """The shared anonymous mappings of pid, by inode (the metrics')."""
    with open(f"/proc/{pid}/maps") as f:
        return {line.split()[4] for line in f
                if " rw-s " in line and line.rstrip().endswith("/dev/zero (deleted)")}


def test_workers_count_into_the_masters_metrics():
    """The metrics region and the feed's seq are mapped by the master
    before it forks: every worker, a replacement too, maps those same
    regions, so what a worker counted outlives it (API.md 11) and a commit
    in one wakes the watchers of all (API.md 7)."""
    with running(workers=2, threads=2) as srv:
        region = shared_anon(srv.vs.pid)
        assert len(region) == 2, region
        before = srv.worker_pids()
        assert all(shared_anon(p) == region for p in before)
        os.kill(before[0], signal.SIGKILL)
        after = srv.wait_workers(2, gone=[before[0]])
        assert all(shared_anon(p) == region for p in after)


def test_require_preconditions():
    with running(workers=1, threads=4,
                 conf="require_preconditions docs/") as srv:
        assert srv.put("docs/a", 1).status == 201       # creating is fine
        r = srv.put("docs/a", 2)
        assert r.status == 428 and r.json["code"] == "PRECONDITION_REQUIRED", r
        assert srv.delete("docs/a").status == 428
        assert srv.put("docs/a", 2, {"If-Match": '"1"'}).status == 200
        assert srv.put("docs/a", 3, version=2).status == 200
        assert srv.put("docs/a", 4, {"If-Unmodified-Since":
                                     srv.get("/api/storage/docs/a").h("last-modified")}).status == 200
        assert srv.delete("docs/a", query="?version=4").status == 200
        assert srv.put("other", 1).status == 201
        assert srv.put("other", 2).status == 200        # not under docs/
    with running(workers=1, threads=4, conf="require_preconditions on") as srv:
        srv.put("x", 1)
        assert srv.put("x", 2).status == 428
        # a set's bucket written through the storage API is a PUT like any
        r = srv.request("POST", "/api/activities/s", '{"upsert": [{"id": 1}]}')
        assert r.status == 200, r
        b = srv.get("/api/storage/_act/s/0")
        assert srv.put("_act/s/0", b.json["value"]).status == 428
        assert srv.put("_act/s/0", b.json["value"],
                       {"If-Match": b.h("etag")}).status == 200


@harness.backends("lmdb")    # map_size bounds LMDB only
def test_map_full_is_507():
    with running(workers=1, threads=4, conf="map_size 1M") as srv:
        big = "x" * 60000
        codes = []
        for i in range(40):
            r = srv.put(f"full/{i}", big)
            codes.append(r.status)
            if r.status == 507:
                assert r.json["code"] == "STORAGE_FULL"
                assert srv.get(f"/api/storage/full/{i}").status == 404
                break
        assert codes[-1] == 507 and codes[0] == 201, codes
        assert srv.get("/api/storage/full/0").json["value"] == big
        # deleting frees pages (tombstones are small); the store stays usable
        assert srv.delete("full/0").status == 200
        assert srv.get("/api/health").status == 200


def cpu_ticks(pids):
    """User plus system clock ticks that the processes have used."""
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total


def test_idle_workers_sleep_after_writes():
    """A write wakes each worker's loop (its feed tells the watchers); once
    told, an idle worker must sleep again, not spin: the loop once took
    that wake-up for the listening socket, and kept a core busy after the
    first write for as long as it ran."""
    with running(workers=2) as srv:
        pids = srv.worker_pids()
        for i in range(5):
            assert srv.put(f"idle/{i}", i).status == 201
        assert srv.get("/api/changes?since=0&limit=1").status == 200
        time.sleep(0.5)
        before, t0 = cpu_ticks(pids), time.monotonic()
        time.sleep(2)
        used = (cpu_ticks(pids) - before) / os.sysconf("SC_CLK_TCK")
        # idle workers wake for timers only: far below a fifth of a core
        assert used < 0.2 * (time.monotonic() - t0), used
