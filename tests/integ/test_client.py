"""client/: the library and the command-line client with node --test, and
the browser tests with Debian's chromium and playwright-core, against real
nginx + verstored, and a second pair under auth token for the demos'
tokens (each skipped where node, chromium or client/node_modules is
missing)."""
import hashlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time

import harness

ORIGIN_PORT = harness.free_port()       # the cross-origin page's
SERVER = {"workers": 2, "threads": 8,
          "conf": f"cors_origins http://127.0.0.1:{ORIGIN_PORT}\n",
          "www": os.path.join(harness.ROOT, "client")}   # as make run


# The demos under auth token (client/test/demo-auth.test.js): a second
# server, whose tokens the tests get in VERSTORE_AUTH_TOKENS.
AUTH_TOKENS = {                 # name -> (token, prefixes)
    "alice": ("alice-" + secrets.token_hex(20), ["*"]),
    "bob": ("bob-" + secrets.token_hex(20), ["*"]),
    "carol": ("carol-" + secrets.token_hex(20), ["crm/"]),
}


def auth_server():
    """nginx + verstored under auth token, serving client/ as make run."""
    d = tempfile.mkdtemp(prefix="verstore-demo-tok-")
    os.chmod(d, 0o755)
    path = os.path.join(d, "tokens")
    with open(path, "w") as f:
        for name, (tok, prefixes) in AUTH_TOKENS.items():
            digest = hashlib.sha256(tok.encode()).hexdigest()
            f.write(" ".join([name, digest, "rw", *prefixes]) + "\n")
    os.chmod(path, 0o644)
    srv = harness.Server(workers=2, threads=8, www=SERVER["www"],
                         conf=f"auth token\ntokens {path}\n")
    srv.start()
    return srv, d


def test_client_library_cli_and_browser(srv):
    node = shutil.which("node")
    if node is None:
        print("  skipped: no node")
        return
    auth, tokdir = auth_server()
    # kept after the run, for a person to look at: build/screenshots/
    shots = os.path.join(harness.BUILD, "screenshots"
                         + ("" if harness.backend() == "lmdb"
                            else "-" + harness.backend()))
    shutil.rmtree(shots, ignore_errors=True)
    tokens = {name: tok for name, (tok, _) in AUTH_TOKENS.items()}
    try:
        p = subprocess.run(
            [node, "--test", "--test-reporter=spec",
             os.path.join(harness.ROOT, "client", "test")],
            capture_output=True, text=True, timeout=600,
            cwd=os.path.join(harness.ROOT, "client"),
            env=dict(os.environ, VERSTORE_SHOTS=shots,
                     VERSTORE_ORIGIN_PORT=str(ORIGIN_PORT),
                     VERSTORE_URL=f"http://127.0.0.1:{srv.port}",
                     VERSTORE_AUTH_URL=f"http://127.0.0.1:{auth.port}",
                     VERSTORE_AUTH_TOKENS=json.dumps(tokens)))
    finally:
        auth.stop()
        shutil.rmtree(tokdir, ignore_errors=True)
    if p.returncode != 0:
        print(p.stdout[-3000:])
    assert p.returncode == 0, p.stdout[-4000:] + p.stderr[-2000:]
    if os.path.isdir(shots):
        print(f"  screenshots in {os.path.relpath(shots, harness.ROOT)}/:",
              ", ".join(sorted(os.listdir(shots))))


CLI = os.path.join(harness.ROOT, "client", "bin", "verstore")


def cli(srv, *args, token=None, **kw):
    env = dict(os.environ, VERSTORE_URL=f"http://127.0.0.1:{srv.port}",
               VERSTORED=os.path.join(harness.BUILD, "verstored"))
    env.pop("VERSTORE_TOKEN", None)
    if token is not None:
        env["VERSTORE_TOKEN"] = token
    return subprocess.run([shutil.which("node") or "node", CLI, *args],
                          capture_output=True, text=True, timeout=60,
                          env=env, **kw)


class Lines:
    """The stdout lines of a running process, read by a thread."""

    def __init__(self, proc):
        self.proc, self.lines = proc, []
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line)

    def wait(self, n, timeout=15):
        deadline = time.monotonic() + timeout
        while len(self.lines) < n and time.monotonic() < deadline:
            time.sleep(0.02)
        return [json.loads(x) for x in self.lines]


def watcher(srv, *args):
    env = dict(os.environ, VERSTORE_URL=f"http://127.0.0.1:{srv.port}")
    return subprocess.Popen([shutil.which("node"), CLI, "watch", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)


def test_watch_resumes_after_the_server_restarts():
    """Both ways of watching (the SSE stream and long polls) lose nothing
    and repeat nothing across a restart of verstored behind nginx: the
    watchers are stopped (SIGSTOP) while it restarts and a change is
    written, so that they reconnect only after it: they must resume from
    their last seq, not from "now"."""
    if shutil.which("node") is None:
        print("  skipped: no node")
        return
    with harness.running(workers=2) as srv:
        assert srv.put("w/0", 0).status == 201
        procs = [watcher(srv, "w/"), watcher(srv, "w/", "--poll")]
        outs = [Lines(p) for p in procs]

        def upto(o, key):
            """The changes o printed, once it printed key's."""
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                got = o.wait(0)
                if any(c["key"] == key for c in got):
                    time.sleep(0.3)         # a late repeat would show
                    return o.wait(0)
                time.sleep(0.02)
            raise AssertionError(f"{key} never came: {o.wait(0)}")
        try:
            # watching from now: write until both have seen a write
            for i in range(1, 200):
                assert srv.put("w/1", i).status in (200, 201)
                if all(o.wait(1, timeout=0.2) for o in outs):
                    break
            assert srv.put("w/start", 1).status == 201
            first = [next(c["seq"] for c in upto(o, "w/start")
                          if c["key"] == "w/start") for o in outs]
            for p in procs:
                os.kill(p.pid, signal.SIGSTOP)
            srv.stop_verstored()
            srv.start_verstored()
            srv.wait_healthy()
            assert srv.put("w/2", 2).status == 201     # while they sleep
            assert srv.put("x/other", 1).status == 201
            for p in procs:
                os.kill(p.pid, signal.SIGCONT)
            assert srv.put("w/3", 3).status == 201
            for o, seq in zip(outs, first):
                got = upto(o, "w/3")
                after = [c["key"] for c in got if c["seq"] > seq]
                assert after == ["w/2", "w/3"], got
                seqs = [c["seq"] for c in got]
                assert seqs == sorted(set(seqs)), got
        finally:
            for p in procs:
                p.kill()
                p.wait()


def test_cli_tokens_and_exit_codes_under_auth_token():
    """verstore token add|list|revoke run verstored token on this host;
    token check asks the server; a refused token is exit 4, for watch
    too, which ends instead of retrying."""
    if shutil.which("node") is None:
        print("  skipped: no node")
        return
    tokdir = tempfile.mkdtemp(prefix="verstore-tok-")
    tokens = os.path.join(tokdir, "tokens")
    srv = harness.Server(conf=f"auth token\ntokens {tokens}\n")
    try:
        r = cli(srv, "token", "add", "alice", "--prefix", "t/",
                "-c", srv.conf_path)
        assert r.returncode == 0, r.stderr
        alice = r.stdout.strip()
        srv.start()
        assert "alice" in cli(srv, "token", "list", "-c",
                              srv.conf_path).stdout
        ok = cli(srv, "token", "check", token=alice)
        assert ok.returncode == 0 and json.loads(ok.stdout)["ok"], ok
        for bad in (None, "nope"):
            r = cli(srv, "token", "check", token=bad)
            assert r.returncode == 4 and "401 UNAUTHORIZED" in r.stderr, r
        assert cli(srv, "put", "t/x", "1", token=alice).returncode == 0
        r = cli(srv, "put", "u/x", "1", token=alice)
        assert r.returncode == 4 and "403 FORBIDDEN" in r.stderr, r
        # --token, which wins over VERSTORE_TOKEN
        ok = cli(srv, "token", "check", "--token", alice)
        assert ok.returncode == 0 and json.loads(ok.stdout)["ok"], ok
        r = cli(srv, "put", "t/y", "1", "--token", "nope", token=alice)
        assert r.returncode == 4 and "401 UNAUTHORIZED" in r.stderr, r
        assert cli(srv, "get", "t/y", token=alice).returncode == 3
        r = cli(srv, "put", "t/y", "2", "--token", alice, token="nope")
        assert r.returncode == 0, r
        # verstored's options, read strictly before it runs
        r = cli(srv, "token", "add", "bob", "--prefx", "t/", "-c",
                srv.conf_path)
        assert r.returncode == 64 and "--prefx" in r.stderr, r
        r = cli(srv, "token", "add", "bob", "--read-only", "--prefix", "t/",
                "--prefix", "v/", "-c", srv.conf_path)
        assert r.returncode == 0, r.stderr
        listed = cli(srv, "token", "list", "-c", srv.conf_path).stdout
        assert any(line.split() == ["bob", "ro", "t/", "v/"]
                   for line in listed.splitlines()), listed
        r = cli(srv, "token", "add", "bob", "-c", srv.conf_path)
        assert r.returncode == 1 and "already" in r.stderr, r
        r = cli(srv, "watch", "t/", token="nope")
        assert r.returncode == 4, r
        r = cli(srv, "token", "revoke", "alice", "-c", srv.conf_path)
        assert r.returncode == 0, r.stderr
        os.kill(srv.vs.pid, signal.SIGHUP)
        deadline = time.monotonic() + 10
        while cli(srv, "token", "check", token=alice).returncode != 4:
            assert time.monotonic() < deadline, "revoked token still let in"
            time.sleep(0.1)
        r = cli(srv, "token", "frob")
        assert r.returncode == 64 and "usage" in r.stderr
    finally:
        srv.stop()
        shutil.rmtree(tokdir, ignore_errors=True)
