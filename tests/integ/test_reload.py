"""SIGHUP (API.md 9, 11): the configuration and the tokens file are read
again in every worker while clients write; no request in flight fails, no
worker restarts, and a file that does not load changes nothing."""
import hashlib
import os
import signal
import tempfile
import threading
import time

import harness


def line(name, token, mode="rw", prefixes="*"):
    return f"{name} {hashlib.sha256(token.encode()).hexdigest()} {mode} " \
        f"{prefixes}\n"


def write(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.chmod(path + ".tmp", 0o644)
    os.rename(path + ".tmp", path)


def bearer(token):
    return {"Authorization": "Bearer " + token}


def wait_for(fn, timeout=5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if fn():
            return True
        time.sleep(0.05)
    return False


def test_sighup_under_load():
    d = tempfile.mkdtemp(prefix="verstore-reload-")
    os.chmod(d, 0o755)
    tokens = os.path.join(d, "tokens")
    writers = {f"w{i}": f"writer-{i}-0123456789abcdefghijklmnopqrstuv"
               for i in range(8)}
    base = "".join(line(n, t) for n, t in writers.items())
    write(tokens, base + line("old", "old-token-0123456789abcdefghijklmnopq"))
    with harness.running(workers=2, threads=8,
                         conf=f"auth token\ntokens {tokens}\n") as srv:
        pids = srv.worker_pids()
        stop = threading.Event()
        failures, counts = [], [0] * 8

        def writer(i):
            n = 0
            while not stop.is_set():
                r = srv.put(f"load/w{i}/{n % 50}", n,
                            headers=bearer(writers[f"w{i}"]))
                if r.status not in (200, 201):
                    failures.append((i, r.status, r.body[:200]))
                n += 1
            counts[i] = n
        ts = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
        for t in ts:
            t.start()
        try:
            old = bearer("old-token-0123456789abcdefghijklmnopq")
            new = bearer("new-token-0123456789abcdefghijklmnopq")
            assert srv.get("/api/storage/load/x", headers=old).status == 404
            assert srv.get("/api/storage/load/x", headers=new).status == 401
            time.sleep(0.5)
            write(tokens, base + line("new",
                  "new-token-0123456789abcdefghijklmnopq", "ro", "load/"))
            os.kill(srv.vs.pid, signal.SIGHUP)
            assert wait_for(lambda: srv.get("/api/storage/load/x",
                                            headers=new).status == 404)
            assert wait_for(lambda: srv.get("/api/storage/load/x",
                                            headers=old).status == 401)
            # the new token's mode came with it
            assert srv.put("load/x", 1, headers=new).status == 403
            # a tokens file that does not load changes nothing
            write(tokens, base + "broken line\n")
            os.kill(srv.vs.pid, signal.SIGHUP)
            assert wait_for(lambda: "broken" in srv.log() or
                            "tokens " + tokens + ":9" in srv.log())
            time.sleep(0.3)
            assert srv.get("/api/storage/load/x", headers=new).status == 404
            time.sleep(0.5)
        finally:
            stop.set()
            for t in ts:
                t.join(30)
        assert not failures, failures[:5]
        assert all(c > 0 for c in counts), counts
        assert srv.worker_pids() == pids
        assert "configuration in force stays" in srv.log()


def test_sighup_applies_settings_and_says_what_needs_a_restart():
    with harness.running(workers=2, conf="") as srv:
        pids = srv.worker_pids()
        with open(srv.conf_path) as f:
            text = f.read()
        assert srv.put("r/a", 1).status == 201
        with open(srv.conf_path, "w") as f:
            f.write(text + "require_preconditions r/\nmax_conns 64\n")
        os.kill(srv.vs.pid, signal.SIGHUP)
        assert wait_for(lambda: srv.put("r/a", 2).status == 428)
        assert wait_for(lambda: "max_conns: changed, applied at the next "
                        "restart" in srv.log())
        # a replaced worker starts with what the master reloaded
        os.kill(pids[0], signal.SIGKILL)
        srv.wait_workers(2, gone=pids[:1])
        srv.wait_healthy()
        for _ in range(10):
            assert srv.put("r/a", 3).status == 428
        with open(srv.conf_path, "w") as f:
            f.write(text + "no_such_setting 1\n")
        os.kill(srv.vs.pid, signal.SIGHUP)
        assert wait_for(lambda: "unknown setting" in srv.log())
        for _ in range(10):
            assert srv.put("r/a", 3).status == 428
