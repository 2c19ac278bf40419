#!/usr/bin/env python3
"""make bench: verstore against the ceiling of its own path and against
etcd, and on backend postgres against LMDB and pgbench, measured in one
run on this machine, printed as one table.

Starts its own nginx + verstored (and etcd 3.4 on loopback when
installed, and a private PostgreSQL cluster when PostgreSQL is), loads
the keys each load needs, and drives them with wrk (and pgbench).
BENCH_SECONDS sets each run's length (default 8); PG_BIN where
PostgreSQL's programs are (default /usr/lib/postgresql/15/bin);
BENCH_ONLY=presence runs the presence rows alone."""
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integ"))
import harness  # noqa: E402

SECS = int(os.environ.get("BENCH_SECONDS", "8"))
BUILD = os.path.join(ROOT, os.environ.get("BUILD", "build"))


def lat_ms(s):
    m = re.match(r"([\d.]+)(us|ms|s)$", s)
    v = float(m.group(1))
    return {"us": v / 1000, "ms": v, "s": v * 1000}[m.group(2)]


def wrk(url, conns, script=None, threads=2, secs=SECS, args=(), token=None):
    cmd = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{secs}s", "--latency",
           "--timeout", "10s"]
    if script:
        cmd += ["-s", os.path.join(HERE, script)]
    cmd.append(url)
    if args:
        cmd += ["--", *args]
    out = subprocess.run(cmd, capture_output=True, text=True,
                         timeout=secs + 60,
                         env=dict(os.environ, BENCH_DIR=HERE,
                                  BENCH_TOKEN=token or "")).stdout
    r = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
         "p50": lat_ms(re.search(r"\s50%\s+(\S+)", out).group(1)),
         "p99": lat_ms(re.search(r"\s99%\s+(\S+)", out).group(1)),
         "errors": 0, "secs": secs}
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    r["non2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: (.*)", out)
    if m:
        r["errors"] = sum(int(x) for x in re.findall(r"\d+", m.group(1)))
    m = re.search(r"RESULT ok=(\d+) conflict=(\d+) other=(\d+) us=(\d+)", out)
    if m:
        r["ok"], r["conflict"], r["other"], us = map(int, m.groups())
        r["secs"] = us / 1e6
    return r


def load(srv, keys, value, headers=None):
    """PUTs keys concurrently; every one must land."""
    chunks = [keys[i::16] for i in range(16)]

    def one(i):
        for k in chunks[i]:
            r = srv.put(k, value, headers=headers)
            assert r.status in (200, 201), r
    harness.run_threads(16, one)


def cas_keys(s):
    """The keys cas.lua writes with argument s (two wrk threads)."""
    return [f"bench/{s}/t{t}-{i}" for t in (1, 2) for i in range(1, 1001)]


def load_bench_keys(srv):
    """The 1 KiB values get.lua reads and cas.lua writes (cas, cas32)."""
    kib = "x" * (1024 - 14)
    load(srv, [f"bench/hot/{i}" for i in range(1, 101)], kib)
    for s in ("cas", "cas32"):
        load(srv, cas_keys(s), kib)


def load_set(srv, name, n):
    """Fills an activity set with n items, 2000 per POST."""
    import json
    for start in range(0, n, 2000):
        items = [{"id": f"i{k}", "text": "an activity of the benchmark set"}
                 for k in range(start, min(n, start + 2000))]
        r = srv.request("POST", "/api/activities/" + name,
                        json.dumps({"upsert": items}))
        assert r.status == 200, r


class Etcd:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="verstore-bench-etcd-")
        self.port = harness.free_port()
        peer = harness.free_port()
        self.p = subprocess.Popen(
            ["etcd", "--name", "bench", "--data-dir", self.dir,
             "--listen-client-urls", f"http://127.0.0.1:{self.port}",
             "--advertise-client-urls", f"http://127.0.0.1:{self.port}",
             "--listen-peer-urls", f"http://127.0.0.1:{peer}",
             "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
             "--initial-cluster", f"bench=http://127.0.0.1:{peer}",
             "--log-level", "error"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import http.client
        for _ in range(100):
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                c.request("POST", "/v3/kv/range", '{"key":"Zm9v"}')
                if c.getresponse().status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("etcd did not start")

    def version(self):
        return subprocess.run(["etcd", "--version"], capture_output=True,
                              text=True).stdout.split("\n")[0]

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        self.p.wait(30)
        shutil.rmtree(self.dir, ignore_errors=True)


def lmdb_commit_rate():
    d = tempfile.mkdtemp(prefix="verstore-bench-lmdb-")
    try:
        out = subprocess.run([os.path.join(BUILD, "bench", "lmdb_commit"), d,
                              str(min(SECS, 5))], capture_output=True,
                             text=True, check=True).stdout.split()
        return {"rps": float(out[0]), "p50": float(out[1]),
                "p99": float(out[2])}
    finally:
        shutil.rmtree(d, ignore_errors=True)


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def act_post_10k():
    """One 10k-item POST into an empty set on a server of its own; the
    write lock's hold comes from the worker's log line at its stop."""
    import json
    srv = harness.Server(workers=1, threads=4)
    try:
        srv.start()
        items = [{"id": f"i{k}", "text": "an activity of the benchmark set"}
                 for k in range(10000)]
        body = json.dumps({"upsert": items})
        t0 = time.monotonic()
        r = srv.request("POST", "/api/activities/fresh", body)
        ms = (time.monotonic() - t0) * 1000
        assert r.status == 200, r
        srv.stop_verstored()
        m = re.search(r"held the write lock [\d.]+ ms in all, ([\d.]+) ms at "
                      r"most", srv.log())
        held = float(m.group(1)) if m else float("nan")
    finally:
        srv.stop()
    return {"rps": 1000 / ms, "p50": ms, "p99": ms, "errors": 0,
            "secs": SECS, "non2xx": 0,
            "note": f"one request; the write lock held {held:.1f} ms"}


def relaxed_put_rate():
    """Conditional PUTs at c64 with durability relaxed, as the row above
    with the default (strict)."""
    srv = harness.Server(workers=os.cpu_count(), threads=16,
                         conf="durability relaxed")
    try:
        srv.start()
        load(srv, [f"bench/cas/t{t}-{i}" for t in (1, 2)
                   for i in range(1, 1001)], "x" * (1024 - 14))
        return wrk(f"http://127.0.0.1:{srv.port}", 64, "cas.lua")
    finally:
        srv.stop()


BENCH_TOKEN = "bench-0123456789abcdefghijklmnopqrstuvwxyzAB"
N_WATCH = 10000         # watchers open beside the ordinary load
N_WAKE = 1000           # streams whose wake-up is timed
WAKES = 30


def rss_kib(pids):
    total = 0
    for p in pids:
        with open(f"/proc/{p}/status") as f:
            total += int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))
    return total


def gauge(srv, name):
    m = re.search(rf"^{name} (\S+)$", srv.get("/api/metrics").body.decode(),
                  re.M)
    return float(m.group(1)) if m else 0.0


def open_watchers(srv, n, query, stream=False, headers=""):
    import socket
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        s.sendall((f"GET /api/changes?{query} HTTP/1.0\r\nHost: x\r\n" +
                   ("Accept: text/event-stream\r\n" if stream else "") +
                   headers + "\r\n").encode())
        socks.append(s)
    deadline = time.monotonic() + 60
    while gauge(srv, "verstore_watchers") < n and time.monotonic() < deadline:
        time.sleep(0.2)
    return socks


def watcher_rows(rows):
    """Memory per parked watcher, GET and conditional PUT rates with
    10,000 watchers open beside none, and the time from a commit to the
    watchers' answers (1,000 streams on one prefix)."""
    import resource
    import selectors
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    # each watcher holds two descriptors in nginx: two nginx workers keep
    # 10,000 of them within a 20,000 descriptor limit
    srv = harness.Server(workers=os.cpu_count(), threads=16,
                         nginx_workers=2)
    try:
        srv.start()
        base = f"http://127.0.0.1:{srv.port}"
        kib = "x" * (1024 - 14)
        load(srv, [f"bench/hot/{i}" for i in range(1, 101)], kib)
        for s in ("cas", "cas32"):     # one key set for each run
            load(srv, [f"bench/{s}/t{t}-{i}" for t in (1, 2)
                       for i in range(1, 1001)], kib)
        for name, conns, script in (("GET 1 KiB, 100 hot keys", 32,
                                     "get.lua"),
                                    ("PUT If-Match, own keys, c64", 64,
                                     "cas.lua")):
            print(f"  {name}, no watchers ...", flush=True)
            rows[f"{name}, no watchers"] = wrk(base, conns, script,
                                               args=["cas"])
        since = srv.get("/api/changes?since=999999999").json["last_seq"]
        pids = srv.worker_pids()
        before = rss_kib(pids)
        print(f"  opening {N_WATCH} watchers ...", flush=True)
        socks = open_watchers(srv, N_WATCH,
                              f"since={since}&prefix=idle%2F&wait=60")
        per = (rss_kib(pids) - before) * 1024 / N_WATCH
        rows["memory per parked watcher"] = {
            "rps": 0, "p50": 0, "p99": 0, "errors": 0, "non2xx": 0,
            "secs": 0, "bytes": per,
            "note": f"{per / 1024:.1f} KiB each, worker RSS over "
                    f"{N_WATCH} long polls"}
        for name, conns, script in (("GET 1 KiB, 100 hot keys", 32,
                                     "get.lua"),
                                    ("PUT If-Match, own keys, c64", 64,
                                     "cas.lua")):
            row = f"{name}, {N_WATCH} watchers open"
            print(f"  {row} ...", flush=True)
            rows[row] = wrk(base, conns, script, args=["cas32"])
        for s in socks:
            s.close()
        print(f"  wake-up of {N_WAKE} streams, {WAKES} commits ...",
              flush=True)
        since = srv.get("/api/changes?since=999999999").json["last_seq"]
        socks = open_watchers(srv, N_WAKE, f"since={since}&prefix=wake%2F",
                              stream=True)
        sel = selectors.DefaultSelector()
        for s in socks:
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ)
        lat = []
        for w in range(WAKES):
            key = f"wake/k{w}"
            t0 = time.monotonic()
            srv.put(key, w)
            got = 0
            while got < N_WAKE and time.monotonic() - t0 < 10:
                for k, _ in sel.select(timeout=1):
                    try:
                        data = k.fileobj.recv(65536)
                    except BlockingIOError:
                        continue
                    if key.encode() in data:
                        lat.append((time.monotonic() - t0) * 1000)
                        got += 1
        lat.sort()
        rows[f"wake-up, {N_WAKE} streams"] = {
            "rps": 0,
            "p50": lat[len(lat) // 2] if lat else 0,
            "p99": lat[int(len(lat) * 0.99)] if lat else 0,
            "errors": 0, "non2xx": 0, "secs": 0,
            "note": f"{len(lat)} of {N_WAKE * WAKES} events; ms from the "
                    "PUT to the event read"}
        for s in socks:
            s.close()
    finally:
        srv.stop()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def filtered_watcher_rows(rows):
    """Conditional PUTs under auth token with 10,000 long polls open of a
    token that may read only x/ (watching everything it may see) beside
    none: no write concerns them, and none of them may cost it."""
    import hashlib
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    d = tempfile.mkdtemp(prefix="verstore-bench-tokens-")
    os.chmod(d, 0o755)
    path = os.path.join(d, "tokens")
    watcher = "watcher-" + BENCH_TOKEN
    with open(path, "w") as f:
        f.write(f"writer {hashlib.sha256(BENCH_TOKEN.encode()).hexdigest()}"
                f" rw bench/\nwatcher "
                f"{hashlib.sha256(watcher.encode()).hexdigest()} ro x/\n")
    os.chmod(path, 0o644)
    srv = harness.Server(workers=os.cpu_count(), threads=16, nginx_workers=2,
                         conf=f"auth token\ntokens {path}\nmetrics_public on\n"
                         f"max_watchers_per_principal {N_WATCH}\n")
    auth = {"Authorization": "Bearer " + BENCH_TOKEN}
    try:
        srv.start()
        base = f"http://127.0.0.1:{srv.port}"
        kib = "x" * (1024 - 14)
        for s in ("cas", "cas32"):
            load(srv, [f"bench/{s}/t{t}-{i}" for t in (1, 2)
                       for i in range(1, 1001)], kib, auth)
        name = "PUT If-Match, own keys, c64, auth token"
        print(f"  {name}, no watchers ...", flush=True)
        rows[f"{name}, no watchers"] = wrk(base, 64, "cas.lua",
                                           token=BENCH_TOKEN)
        since = srv.get("/api/changes?since=999999999",
                        auth).json["last_seq"]
        print(f"  opening {N_WATCH} watchers of x/ ...", flush=True)
        socks = open_watchers(srv, N_WATCH, f"since={since}&wait=60",
                              headers=f"Authorization: Bearer {watcher}\r\n")
        woken = gauge(srv, "verstore_watcher_wakeups_total")
        row = f"{name}, {N_WATCH} watchers of other keys"
        print(f"  {row} ...", flush=True)
        rows[row] = wrk(base, 64, "cas.lua", args=["cas32"],
                        token=BENCH_TOKEN)
        rows[row]["note"] = (f"{gauge(srv, 'verstore_watcher_wakeups_total') - woken:.0f} "
                             "wake-ups")
        for s in socks:
            s.close()
    finally:
        srv.stop()
        shutil.rmtree(d, ignore_errors=True)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


N_PRESENT = 10000       # presence sessions beside the ordinary load


def presence_rows(rows):
    """GET and conditional PUT with 10,000 sessions present on the keys
    they read and write (25 on each hot key, 3 or 4 on each key written),
    beside none, under enforce_locks bench/ so that every write looks for
    a lock in its transaction (API.md 13.5)."""
    srv = harness.Server(workers=os.cpu_count(), threads=16,
                         conf="enforce_locks bench/\npresence_per_key 100\n"
                         f"presence_per_principal {N_PRESENT}\n"
                         "metrics_public on\n")
    try:
        srv.start()
        base = f"http://127.0.0.1:{srv.port}"
        load_bench_keys(srv)
        keys = cas_keys("cas32")
        for name, script, conns in (("GET 1 KiB, 100 hot keys", "get.lua",
                                     32),
                                    ("PUT If-Match, own keys, c64",
                                     "cas.lua", 64)):
            print(f"  {name}, no sessions present ...", flush=True)
            rows[f"{name}, no sessions present"] = wrk(base, conns, script)
        on = [f"bench/hot/{i}" for i in range(1, 101)] * 25 + keys * 4
        on = on[:N_PRESENT]
        print(f"  joining {len(on)} sessions ...", flush=True)
        chunks = [list(enumerate(on))[i::16] for i in range(16)]

        def join(c):
            for n, key in chunks[c]:
                r = srv.request("PUT", "/api/presence/" + key,
                                '{"session": "s%d", "ttl": 300, '
                                '"state": {"field": "title"}}' % n)
                assert r.status == 200, r
        harness.run_threads(16, join)
        r = srv.get("/api/presence/bench/")
        assert r.status == 200 and len(r.json["present"]) == 1000, r
        for name, script, conns, args in (
                ("GET 1 KiB, 100 hot keys", "get.lua", 32, ()),
                ("PUT If-Match, own keys, c64", "cas.lua", 64, ["cas32"])):
            row = f"{name}, {N_PRESENT} sessions present"
            print(f"  {row} ...", flush=True)
            rows[row] = wrk(base, conns, script, args=args)
        m = srv.get("/api/metrics").body.decode()
        rows[f"PUT If-Match, own keys, c64, {N_PRESENT} sessions present"][
            "note"] = (f"{harness.metric(m, 'verstore_locked_writes_total'):.0f}"
                       " writes locked")
    finally:
        srv.stop()


def auth_rows(rows):
    """The GET and conditional PUT loads under auth none and auth token
    (a token limited to bench/, found among 50, as in a team), each on a
    fresh server with the same settings and data, one after the other."""
    import hashlib
    d = tempfile.mkdtemp(prefix="verstore-bench-tokens-")
    os.chmod(d, 0o755)
    path = os.path.join(d, "tokens")
    with open(path, "w") as f:
        for i in range(50):
            tok = BENCH_TOKEN if i == 49 else f"other-{i}-{BENCH_TOKEN}"
            f.write(f"user{i} {hashlib.sha256(tok.encode()).hexdigest()} "
                    f"rw bench/\n")
    os.chmod(path, 0o644)
    try:
        for mode in ("none", "token"):
            conf = f"auth token\ntokens {path}\n" if mode == "token" else ""
            token = BENCH_TOKEN if mode == "token" else None
            auth = {"Authorization": "Bearer " + BENCH_TOKEN} if token \
                else None
            srv = harness.Server(workers=os.cpu_count(), threads=16,
                                 conf=conf)
            try:
                srv.start()
                base = f"http://127.0.0.1:{srv.port}"
                kib = "x" * (1024 - 14)
                load(srv, [f"bench/hot/{i}" for i in range(1, 101)], kib,
                     auth)
                load(srv, [f"bench/cas/t{t}-{i}" for t in (1, 2)
                           for i in range(1, 1001)], kib, auth)
                for name, conns, script in (
                        ("GET 1 KiB, 100 hot keys", 32, "get.lua"),
                        ("PUT If-Match, own keys, c64", 64, "cas.lua")):
                    row = f"{name}, auth {mode}"
                    print(f"  {row} ...", flush=True)
                    rows[row] = wrk(base, conns, script, token=token)
            finally:
                srv.stop()
    finally:
        shutil.rmtree(d, ignore_errors=True)


PG_BIN = os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin")
PG_KEYS = 2000          # as cas.lua's: 1000 for each of wrk's 2 threads


class PgCluster:
    """A private cluster (tests/pg.sh) that runs as a production one does:
    fsync on, each commit flushed before its answer (PG_DURABLE=1)."""

    def __init__(self):
        p = subprocess.run(["sh", os.path.join(ROOT, "tests", "pg.sh"),
                            "start"], capture_output=True, text=True,
                           env=dict(os.environ, PG_DURABLE="1",
                                    PG_BIN=PG_BIN))
        if p.returncode != 0:
            raise RuntimeError("tests/pg.sh start: " + p.stderr.strip())
        self.conninfo = p.stdout.strip()
        self.dir = re.match(r"host=(\S+)", self.conninfo).group(1)

    def sql(self, *stmts, db="verstore"):
        """Runs each statement on its own (VACUUM wants no transaction);
        returns what the last one printed."""
        cmd = [os.path.join(PG_BIN, "psql"), "-X", "-q", "-At", "-v",
               "ON_ERROR_STOP=1",
               self.conninfo.replace("dbname=verstore", "dbname=" + db)]
        for st in stmts:
            cmd += ["-c", st]
        return subprocess.run(cmd, check=True, capture_output=True,
                              text=True).stdout.strip()

    def stop(self):
        subprocess.run(["sh", os.path.join(ROOT, "tests", "pg.sh"), "stop",
                        self.dir], env=dict(os.environ, PG_BIN=PG_BIN),
                       capture_output=True)


def write_batches(socks):
    """Write transactions and the writes they carried so far, summed over
    the hosts on socks (their metrics, asked on each socket)."""
    n = ops = 0
    for sock in socks:
        _, body = harness.fcgi_request(sock, {"REQUEST_METHOD": "GET",
                                              "REQUEST_URI": "/api/metrics"})
        text = body.decode()
        n += int(re.search(r"^verstore_write_batches_total (\d+)$", text,
                           re.M).group(1))
        ops += int(re.search(r"^verstore_write_batch_ops_sum (\d+)$", text,
                             re.M).group(1))
    return n, ops


def cas_c64(url, socks, keyset):
    """cas.lua at c64 on keyset, with the writes per commit beside it."""
    n0, ops0 = write_batches(socks)
    r = wrk(url, 64, "cas.lua", args=[keyset])
    n1, ops1 = write_batches(socks)
    r["note"] = f"{(ops1 - ops0) / max(1, n1 - n0):.1f} writes per commit"
    return r


def upstream_server(port, socks):
    """nginx text for a server on port whose API goes to every socket in
    turn: the hosts serving one database."""
    hosts = "".join(f"        server unix:{s};\n" for s in socks)
    return (f"\n    upstream verstore_hosts {{\n{hosts}    }}\n"
            f"    server {{\n        listen 127.0.0.1:{port};\n"
            f"        location /api/ {{\n"
            f"            include /etc/nginx/fastcgi_params;\n"
            f"            fastcgi_param HTTP_PROXY \"\";\n"
            f"            fastcgi_pass verstore_hosts;\n"
            f"            fastcgi_keep_conn off;\n"
            f"            fastcgi_read_timeout 75s;\n"
            f"            client_max_body_size 1m;\n"
            f"        }}\n    }}")


def pgbench_cas(pg, clients):
    """pgbench running pg_cas.sql, cas.lua's load as one UPDATE, on a
    table of its own; the versions counted after tell the matches."""
    per = PG_KEYS // clients
    pg.sql("CREATE DATABASE bench")
    pg.sql("CREATE TABLE kv (key text PRIMARY KEY, value text NOT NULL, "
           "version bigint NOT NULL)",
           f"INSERT INTO kv SELECT i::text, repeat('x', {1024 - 14}), 1 "
           f"FROM generate_series(0, {clients * per - 1}) i",
           "VACUUM ANALYZE kv", "CHECKPOINT", db="bench")
    logs = tempfile.mkdtemp(prefix="verstore-bench-pgbench-")
    try:
        out = subprocess.run(
            [os.path.join(PG_BIN, "pgbench"), "-n", "-M", "prepared",
             f"-c{clients}", "-j2", f"-T{SECS}",
             "-f", os.path.join(HERE, "pg_cas.sql"),
             "-D", f"clients={clients}", "-D", f"per={per}", "-D", "n=0",
             "-D", "v=" + "y" * (1024 - 14),
             "-l", "--log-prefix", os.path.join(logs, "tx"),
             "-h", pg.dir, "-U", "postgres", "bench"],
            capture_output=True, text=True, check=True,
            timeout=SECS + 60).stdout
        lat = []
        for name in os.listdir(logs):
            with open(os.path.join(logs, name)) as f:
                lat += [int(line.split()[2]) / 1000 for line in f]
    finally:
        shutil.rmtree(logs, ignore_errors=True)
    lat.sort()
    tps = float(re.search(r"tps = ([\d.]+)", out).group(1))
    n = int(re.search(r"actually processed: (\d+)", out).group(1))
    failed = int(re.search(r"failed transactions: (\d+)", out).group(1))
    ok = int(pg.sql("SELECT sum(version - 1) FROM kv", db="bench"))
    return {"rps": tps, "p50": lat[len(lat) // 2],
            "p99": lat[int(len(lat) * 0.99)], "errors": 0, "non2xx": 0,
            "ok": ok, "conflict": n - ok, "other": failed,
            "secs": n / tps if tps else SECS,
            "note": f"{clients} clients x {per} keys"}


def pg_rows(rows):
    """GET and conditional PUT on backend postgres beside the same loads
    on LMDB, each on a fresh server with the same settings; the
    conditional PUT again with two hosts on the database; and pgbench
    running the same conditional UPDATE at the same concurrency. Returns
    the lines that say what each side did, or why there are no rows."""
    if not all(os.access(os.path.join(PG_BIN, b), os.X_OK)
               for b in ("initdb", "pg_ctl", "psql", "pgbench")):
        return [f"(PostgreSQL not installed in {PG_BIN}: apt-get install "
                "postgresql-15 for the postgres rows)"]
    ncpu = os.cpu_count()
    pg = PgCluster()
    try:
        conf = f"backend postgres\npostgres_conninfo {pg.conninfo}\n"
        srv = harness.Server(conf=conf)
        check = subprocess.run([os.path.join(BUILD, "verstored"), "-t", "-c",
                                srv.conf_path], capture_output=True,
                               text=True)
        srv.stop()
        if check.returncode != 0:
            return ["(no postgres rows: " + "; ".join(
                check.stderr.strip().splitlines()) + ")"]
        kib = "x" * (1024 - 14)
        for backend in ("lmdb", "postgres"):
            on_pg = backend == "postgres"
            srv = harness.Server(workers=ncpu, threads=16,
                                 conf=conf if on_pg else "")
            other = None
            if on_pg:
                # a second host on the database, and nginx on a second
                # port spreading requests over both
                other = harness.Server(workers=ncpu, threads=16, conf=conf)
                two_port = harness.free_port()
                srv.nginx_extra = upstream_server(two_port,
                                                  [srv.sock, other.sock])
            try:
                srv.start()
                base = f"http://127.0.0.1:{srv.port}"
                print(f"  loading keys ({backend}) ...", flush=True)
                load(srv, [f"bench/hot/{i}" for i in range(1, 101)], kib)
                for s in ("cas", "cas2") if on_pg else ("cas",):
                    load(srv, [f"bench/{s}/t{t}-{i}" for t in (1, 2)
                               for i in range(1, 1001)], kib)
                row = f"GET 1 KiB, 100 hot keys, {backend}"
                print(f"  {row} ...", flush=True)
                rows[row] = wrk(base, 32, "get.lua")
                if on_pg:
                    pg.sql("CHECKPOINT")
                row = "PUT If-Match, own keys, c64, " + \
                    ("postgres 1 host" if on_pg else backend)
                print(f"  {row} ...", flush=True)
                rows[row] = cas_c64(base, [srv.sock], "cas")
                if on_pg:
                    other.start_verstored()
                    pg.sql("CHECKPOINT")
                    row = "PUT If-Match, own keys, c64, postgres 2 hosts"
                    print(f"  {row} ...", flush=True)
                    rows[row] = cas_c64(f"http://127.0.0.1:{two_port}",
                                        [srv.sock, other.sock], "cas2")
            finally:
                if other is not None:
                    other.stop()
                srv.stop()
        row = "pgbench conditional UPDATE, own keys, c64"
        print(f"  {row} ...", flush=True)
        rows[row] = pgbench_cas(pg, 64)
        version = pg.sql("SHOW server_version").split()[0]
    finally:
        pg.stop()
    return [
        f"postgres rows: PostgreSQL {version}, a private cluster on this "
        "disk (unix socket, default settings otherwise) with fsync on and "
        "synchronous_commit on: each commit is flushed to disk before its "
        "answer, as LMDB's with durability strict (each commit synced).",
        f"verstore on postgres: {ncpu} workers x 16 threads on each host; "
        "the writers of a worker share one transaction (group commit), and "
        "every write transaction locks the row of the seq counter, so the "
        "hosts' workers write in turn. 2 hosts: two verstored on one "
        "database behind one nginx, which spreads requests over both "
        "sockets.",
        "PUT If-Match: cas.lua, each wrk thread's 32 connections cycling "
        "over its own 1,000 keys (2,000 keys, 1 KiB values) with the "
        "version the last answer gave, so no key is in flight twice and "
        "every PUT matches.",
        f"pgbench: pg_cas.sql, -M prepared -c64 -j2, one UPDATE kv SET "
        "value = :v, version = version + 1 WHERE key = :k AND version = "
        f":ver per transaction (autocommit), each client cycling over its "
        f"own {PG_KEYS // 64} keys ({PG_KEYS // 64 * 64:,} keys, 1 KiB text "
        "values) with the version its last pass wrote; ok/s counts the "
        "versions the table gained. It writes one row where verstore "
        "writes the key's row, a history row, the seq row and reads the "
        "key first.",
    ]


class FcgiMin:
    """The minimal FastCGI responder (fcgi_min.c) on a socket of its own,
    and nginx text for two servers in front of it: a connection per
    request, and kept connections (an upstream with keepalive)."""

    def __init__(self, threads):
        self.dir = tempfile.mkdtemp(prefix="verstore-bench-fcgi-")
        os.chmod(self.dir, 0o755)
        self.sock = os.path.join(self.dir, "fcgi.sock")
        self.proc = subprocess.Popen(
            [os.path.join(BUILD, "bench", "fcgi_min"), self.sock,
             str(threads)])
        deadline = time.monotonic() + 10
        while not os.path.exists(self.sock) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.port, self.kept_port = harness.free_port(), harness.free_port()

    def nginx(self):
        loc = ("        location / {{ include /etc/nginx/fastcgi_params; "
               "{} }}\n")
        return (f"\n    upstream fcgi_min_kept {{ server unix:{self.sock}; "
                f"keepalive 64; }}\n"
                f"    server {{\n        listen 127.0.0.1:{self.port};\n" +
                loc.format(f"fastcgi_pass unix:{self.sock};") +
                f"    }}\n    server {{\n        listen 127.0.0.1:"
                f"{self.kept_port};\n" +
                loc.format("fastcgi_keep_conn on; fastcgi_pass "
                           "fcgi_min_kept;") + "    }")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


def per_request_server(port, sock):
    """nginx text for a server whose API goes to verstored on a new
    connection for each request (fastcgi_keep_conn off)."""
    return (f"\n    server {{\n        listen 127.0.0.1:{port};\n"
            f"        location /api/ {{ include /etc/nginx/fastcgi_params; "
            f"fastcgi_param HTTP_PROXY \"\"; fastcgi_keep_conn off; "
            f"fastcgi_pass unix:{sock}; }}\n    }}")


def main():
    ncpu = os.cpu_count()
    harness.BUILD = BUILD
    if os.environ.get("BENCH_ONLY") == "presence":
        rows = {}
        presence_rows(rows)
        report(rows, ncpu)
        return
    ret_port = harness.free_port()
    extra = (f"\n    server {{\n        listen 127.0.0.1:{ret_port};\n"
             f"        location / {{ default_type application/json; "
             f"return 200 '{{\"ok\":true}}\\n'; }}\n    }}")
    harness.BUILD = BUILD
    srv = harness.Server(workers=ncpu, threads=16, nginx_extra=extra)
    # libfcgi holds a thread for each kept connection: more than wrk's 32
    fmin = FcgiMin(threads=40)
    one_port = harness.free_port()
    srv.nginx_extra += fmin.nginx() + per_request_server(one_port, srv.sock)
    etcd = None
    rows = {}
    try:
        srv.start()
        base = f"http://127.0.0.1:{srv.port}"
        load_bench_keys(srv)
        srv.put("bench/one", {"by": 0})
        srv.put("bench/merged", {})
        print(f"verstore bench: {SECS} s per run, wrk -t2, "
              f"{ncpu} workers x 16 threads, nginx 1 worker", flush=True)

        def run(name, *a, **kw):
            print(f"  {name} ...", flush=True)
            rows[name] = wrk(*a, **kw)

        run("nginx return 200", f"http://127.0.0.1:{ret_port}/", 32)
        run("GET /api/health", base + "/api/health", 32)
        run("minimal FastCGI responder, a connection per request",
            f"http://127.0.0.1:{fmin.port}/", 32)
        run("minimal FastCGI responder, kept connections",
            f"http://127.0.0.1:{fmin.kept_port}/", 32)
        run("GET 1 KiB, 100 hot keys", base, 32, "get.lua")
        run("GET 1 KiB, 100 hot keys, a connection per request",
            f"http://127.0.0.1:{one_port}", 32, "get.lua")
        run("PUT 1 KiB, new keys, c64", base, 64, "put.lua")
        run("PUT If-Match, own keys, c64", base, 64, "cas.lua")
        run("PUT If-Match, own keys, c32", base, 32, "cas.lua",
            args=["cas32"])
        run("CAS one key, c32", base, 32, "onekey.lua")
        run("PATCH merge one key, c30", base, 30, "merge.lua")
        # loaded only now: its writeback would slow the syncs above
        print("  loading an activity set of 100k items ...", flush=True)
        load_set(srv, "bench100k", 100000)
        run("GET set of 100k items, c4", base + "/api/activities/bench100k", 4)
        run("POST 10 items to it, c32", base, 32, "act_post.lua")
        print("  POST 10k items into an empty set ...", flush=True)
        rows["POST 10k items, empty set"] = act_post_10k()
        print("  PUT If-Match, own keys, c64, durability relaxed ...",
              flush=True)
        rows["PUT If-Match c64, durability relaxed"] = relaxed_put_rate()
        auth_rows(rows)
        watcher_rows(rows)
        filtered_watcher_rows(rows)
        presence_rows(rows)
        print("  LMDB 1 put per synced commit ...", flush=True)
        rows["LMDB 1 put/commit"] = lmdb_commit_rate()
        if shutil.which("etcd"):
            etcd = Etcd()
            eb = f"http://127.0.0.1:{etcd.port}"
            run("etcd txn CAS, c64", eb, 64, "etcd_cas.lua")
            run("etcd range (point read), c32", eb, 32, "etcd_get.lua")
    finally:
        if etcd is not None:
            etcd.stop()
        srv.stop()
        fmin.stop()
    print("  postgres beside LMDB and pgbench ...", flush=True)
    try:
        pg_notes = pg_rows(rows)
    except (OSError, RuntimeError, subprocess.SubprocessError) as e:
        # the rows above are measured already: print them all the same
        pg_notes = [f"(the postgres rows failed: {e})"]

    report(rows, ncpu, pg_notes)


def report(rows, ncpu, pg_notes=()):
    def r(name, key="rps"):
        return rows.get(name, {}).get(key)

    def ok_rate(name):
        return rows[name].get("ok", 0) / rows[name].get("secs", SECS)

    print()
    print(f"Machine: {ncpu} cores, {cpu_name()}, Linux {platform.release()}; "
          f"one run, {SECS} s each")
    print()
    print("| load | req/s | p50 ms | p99 ms | notes |")
    print("|---|---:|---:|---:|---|")
    for name, v in rows.items():
        notes = []
        if "ok" in v and v.get("secs"):
            secs = v.get("secs", SECS)
            notes.append(f"{v['ok'] / secs:,.0f} ok/s, "
                         f"{v['conflict'] / secs:,.0f} conflicts/s")
            if v["other"]:
                notes.append(f"{v['other']} other")
        elif v.get("non2xx"):
            notes.append(f"{v['non2xx']} non-2xx")
        if v.get("errors"):
            notes.append(f"{v['errors']} socket errors")
        if name.startswith("LMDB"):
            notes.append("commits/s; latency per commit")
        if name.startswith("GET set"):
            notes.append("each answer about 6 MB")
        if v.get("note"):
            notes.append(v["note"])
        print(f"| {name} | {v['rps']:,.0f} | {v['p50']:.2f} | {v['p99']:.2f} "
              f"| {'; '.join(notes)} |")

    targets = []
    if "GET /api/health" in rows:
        health = r("GET /api/health")
        get = r("GET 1 KiB, 100 hot keys")
        cas_ok = ok_rate("PUT If-Match, own keys, c64")
        lmdb = r("LMDB 1 put/commit")
        targets += [
            ("GET 1 KiB / health", get / health, 0.8),
            ("GET 1 KiB / minimal FastCGI responder, both kept "
             "connections",
             get / r("minimal FastCGI responder, kept connections"), 1.0),
            ("GET 1 KiB / minimal FastCGI responder, both a connection "
             "per request",
             r("GET 1 KiB, 100 hot keys, a connection per request") /
             r("minimal FastCGI responder, a connection per request"),
             None),
            ("conditional PUT c64 (2xx/s) / LMDB 1-put commits/s",
             cas_ok / lmdb, 3.0),
        ]
    if "etcd txn CAS, c64" in rows:
        # every etcd txn is a full compare-and-swap round trip, whether it
        # won or not (its first pass over each key loses by construction)
        targets.append(("GET 1 KiB / etcd point read",
                        get / r("etcd range (point read), c32"), 2.5))
        targets.append(("conditional PUT c64 (2xx/s) / etcd txn CAS c64 (req/s)",
                        cas_ok / r("etcd txn CAS, c64"), 3.0))
    for name in ("GET 1 KiB, 100 hot keys", "PUT If-Match, own keys, c64"):
        if f"{name}, {N_WATCH} watchers open" in rows:
            targets.append((f"{name}: {N_WATCH} watchers open / none",
                            r(f"{name}, {N_WATCH} watchers open") /
                            r(f"{name}, no watchers"), 0.8))
    name = "GET 1 KiB, 100 hot keys"
    if f"{name}, {N_PRESENT} sessions present" in rows:
        targets.append((f"{name}: {N_PRESENT} sessions present / none",
                        r(f"{name}, {N_PRESENT} sessions present") /
                        r(f"{name}, no sessions present"), 0.9))
    name = "PUT If-Match, own keys, c64"
    if f"{name}, {N_PRESENT} sessions present" in rows:
        targets.append((f"{name} (2xx/s), enforce_locks: {N_PRESENT} "
                        "sessions present / none",
                        ok_rate(f"{name}, {N_PRESENT} sessions present") /
                        ok_rate(f"{name}, no sessions present"), 0.9))
    name = "PUT If-Match, own keys, c64, auth token"
    if f"{name}, {N_WATCH} watchers of other keys" in rows:
        targets.append((f"{name}: {N_WATCH} watchers of other keys / none",
                        ok_rate(f"{name}, {N_WATCH} watchers of other keys") /
                        ok_rate(f"{name}, no watchers"), 0.8))
    if "memory per parked watcher" in rows:
        targets.append(("8 KiB / memory per parked watcher",
                        8192 / max(1.0, rows["memory per parked watcher"]
                                   ["bytes"]), 1.0))
    for name in ("GET 1 KiB, 100 hot keys", "PUT If-Match, own keys, c64"):
        if name + ", auth token" in rows:
            targets.append((f"{name}: auth token / auth none",
                            r(name + ", auth token") /
                            r(name + ", auth none"), 0.95))
    pgb = "pgbench conditional UPDATE, own keys, c64"
    if pgb in rows:
        for hosts in ("1 host", "2 hosts"):
            targets.append((f"conditional PUT c64 on postgres, {hosts} "
                            "(2xx/s) / pgbench conditional UPDATE c64 "
                            "(matched/s)",
                            ok_rate(f"PUT If-Match, own keys, c64, postgres "
                                    f"{hosts}") / ok_rate(pgb), 0.7))
        targets.append(("conditional PUT c64 (2xx/s): postgres 1 host / "
                        "lmdb", ok_rate("PUT If-Match, own keys, c64, "
                                        "postgres 1 host") /
                        ok_rate("PUT If-Match, own keys, c64, lmdb"), None))
        targets.append(("GET 1 KiB, 100 hot keys: postgres / lmdb",
                        r("GET 1 KiB, 100 hot keys, postgres") /
                        r("GET 1 KiB, 100 hot keys, lmdb"), None))
    print()
    print("| ratio | measured | target |")
    print("|---|---:|---|")
    for name, val, goal in targets:
        if goal is None:
            print(f"| {name} | {val:.2f}x | (none: measured beside) |")
            continue
        print(f"| {name} | {val:.2f}x | >= {goal}x {'met' if val >= goal else 'MISSED'} |")
    p99 = r("PUT If-Match, own keys, c32", "p99")
    if p99 is not None:
        print(f"| p99 of conditional PUT at c32 | {p99:.2f} ms | < 10 ms "
              f"{'met' if p99 < 10 else 'MISSED'} |")
    if "etcd txn CAS, c64" not in rows and "GET /api/health" in rows:
        print("\n(etcd not installed: apt-get install etcd-server for the peer rows)")
    for line in pg_notes:
        print("\n" + line)


if __name__ == "__main__":
    main()
