"""GET /api/metrics (API.md 11) through nginx: Prometheus text that
promtool accepts, counters summed over the workers, conflicts by code and
prefix, nothing lost when a worker is killed."""
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from harness import metric, run_threads

SERVER = {"workers": 2, "threads": 8}


def scrape(srv):
    r = srv.get("/api/metrics")
    assert r.status == 200, r
    assert r.h("Content-Type").startswith("text/plain; version=0.0.4"), r
    return r.body.decode()


def sample(text, name, **labels):
    """The value of one series, 0 when it is not there."""
    v = metric(text, name, **labels)
    return 0.0 if v is None else v


def test_promtool_accepts_the_body(srv):
    srv.put("m/a", 1)
    text = scrape(srv)
    for family in ("verstore_requests_total", "verstore_conflicts_total",
                   "verstore_merges_total", "verstore_write_batches_total",
                   "verstore_write_batch_ops",
                   "verstore_request_duration_seconds",
                   "verstore_store_size_bytes", "verstore_store_used_bytes",
                   "verstore_store_readers", "verstore_watchers",
                   "verstore_changes_seq"):
        assert f"# TYPE {family} " in text, family
    if shutil.which("promtool") is None:
        print("  skipped promtool: not installed")
        return
    with tempfile.NamedTemporaryFile("w", suffix=".prom", delete=False) as f:
        f.write(text)
    p = subprocess.run(["promtool", "check", "metrics"], stdin=open(f.name),
                       capture_output=True, text=True)
    os.unlink(f.name)
    assert p.returncode == 0, p.stdout + p.stderr


def test_counters_add_up_over_workers(srv):
    before = scrape(srv)
    n = 200

    def one(i):
        assert srv.put(f"sum/k{i}", i).status == 201
    run_threads(8, lambda t: [one(t * 25 + i) for i in range(25)])
    after = scrape(srv)
    got = (sample(after, "verstore_requests_total", method="PUT", code="201")
           - sample(before, "verstore_requests_total", method="PUT",
                    code="201"))
    assert got == n, (got, n)
    dur = (sample(after, "verstore_request_duration_seconds_count",
                  method="PUT")
           - sample(before, "verstore_request_duration_seconds_count",
                    method="PUT"))
    assert dur == n, dur
    # every PUT was one op of some group-commit batch, in either worker
    ops = (sample(after, "verstore_write_batch_ops_sum")
           - sample(before, "verstore_write_batch_ops_sum"))
    batches = (sample(after, "verstore_write_batches_total")
               - sample(before, "verstore_write_batches_total"))
    assert ops == n and 0 < batches <= n, (ops, batches)
    # LMDB is bounded by its map_size; on postgres verstored sets none (0)
    size = sample(after, "verstore_store_size_bytes")
    used = sample(after, "verstore_store_used_bytes")
    assert used > 0 and "\nverstore_store_size_bytes " in after, after
    assert size > used if srv.pg is None else size == 0, (size, used)
    assert len(srv.worker_pids()) == 2


def test_conflicts_by_code_and_prefix(srv):
    srv.put("orders/1", {"n": 1})
    before = scrape(srv)
    r = srv.put("orders/1", {"n": 2}, headers={"If-Match": '"7"'})
    assert r.status == 412, r
    r = srv.put("orders/1", {"n": 2}, version=7)
    assert r.status == 409 and r.json["code"] == "VERSION_CONFLICT", r
    r = srv.request("PATCH", "/api/storage/orders/1",
                    '[{"op":"test","path":"/n","value":5}]',
                    {"Content-Type": "application/json-patch+json"})
    assert r.status == 409 and r.json["code"] == "PATCH_CONFLICT", r
    after = scrape(srv)
    for code in ("PRECONDITION_FAILED", "VERSION_CONFLICT", "PATCH_CONFLICT"):
        d = (sample(after, "verstore_conflicts_total", code=code,
                    prefix="orders")
             - sample(before, "verstore_conflicts_total", code=code,
                      prefix="orders"))
        assert d == 1, (code, d)


def test_a_killed_worker_loses_no_count(srv):
    for i in range(20):
        srv.put(f"kill/k{i}", i)
    before = scrape(srv)
    pids = srv.worker_pids()
    os.kill(pids[0], signal.SIGKILL)
    srv.wait_workers(2, gone=pids[:1])
    srv.wait_healthy()
    after = scrape(srv)
    for line in before.splitlines():
        m = re.match(r'(verstore_[a-z_]+(?:total|count|sum|bucket))'
                     r'(\{[^}]*\})? (\S+)$', line)
        if not m:
            continue
        labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"',
                                 m.group(2) or ""))
        assert sample(after, m.group(1), **labels) >= float(m.group(3)), line


def wait_watchers(srv, n, timeout=10):
    deadline = time.monotonic() + timeout
    while sample(scrape(srv), "verstore_watchers") != n:
        assert time.monotonic() < deadline, f"watchers never {n}"
        time.sleep(0.05)


def test_a_watcher_is_counted_once_and_one_left_as_499(srv):
    """A long poll or a stream is counted once, as it ends: not as a 500
    each time it waits (which paged whoever alerts on 5xx), and one whose
    client leaves first (a closed tab) as 499, nginx's code for it."""
    wait_watchers(srv, 0)
    before = scrape(srv)
    # a long poll that waits its second and is answered: one 200
    r = srv.get("/api/changes?prefix=m499/&wait=1")
    assert r.status == 200 and r.json["results"] == [], r
    # long polls and streams that wait through nginx, then are left
    socks = []
    for i in range(6):
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        accept = "Accept: text/event-stream\r\n" if i % 2 else ""
        s.sendall(f"GET /api/changes?prefix=m499/&wait=30 HTTP/1.1\r\n"
                  f"Host: x\r\n{accept}\r\n".encode())
        socks.append(s)
    wait_watchers(srv, 6)
    for s in socks[1::2]:       # a stream's head came: it is open
        assert s.recv(4096).startswith(b"HTTP/1.1 200"), s
    for s in socks:
        s.close()
    wait_watchers(srv, 0)
    after = scrape(srv)
    for code, want in (("500", 0), ("499", 6)):
        got = (sample(after, "verstore_requests_total", method="GET",
                      code=code)
               - sample(before, "verstore_requests_total", method="GET",
                        code=code))
        assert got == want, (code, got, after)
    # the 499s are not in the durations: those are the answered ones
    answered = sum(v for k, v in (
        (m.group(1), float(m.group(2))) for m in re.finditer(
            r'verstore_requests_total\{method="GET",code="(\d+)"\} (\S+)',
            after)) if k != "499")
    assert sample(after, "verstore_request_duration_seconds_count",
                  method="GET") == answered, after
