"""verstored token add, list and revoke on the file that conf "tokens"
names, run as the real binary: the token is printed once, on stdout
alone, and only its SHA-256 is kept; verstored -t names a bad line of
the tokens file; no token ever reaches a log line."""
import hashlib
import os
import pwd
import re
import shutil
import subprocess
import tempfile

import harness

TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")


def verstored(*args, user=None, exe=None):
    """exe: a copy another user can run (harness.public_copy), for user."""
    cmd = [exe or os.path.join(harness.BUILD, "verstored"), *args]
    if user is not None:
        cmd = ["runuser", "-u", user, "--"] + cmd
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30)


def setup(d, extra=""):
    conf = os.path.join(d, "v.conf")
    tokens = os.path.join(d, "tokens")
    with open(conf, "w") as f:
        f.write(f"data_dir {d}/data\nsocket {d}/run/v.sock\n"
                f"auth token\ntokens {tokens}\n{extra}")
    return conf, tokens


def lines(path):
    with open(path) as f:
        return f.read().splitlines()


def test_add_list_revoke():
    with tempfile.TemporaryDirectory() as d:
        conf, tokens = setup(d)
        r = verstored("token", "add", "alice", "--prefix", "crm/",
                      "--prefix", "notes/", "-c", conf)
        assert r.returncode == 0, r.stderr
        # stdout is the token and a newline, nothing else
        alice = r.stdout[:-1]
        assert r.stdout.endswith("\n") and TOKEN.match(alice), r.stdout
        assert alice not in r.stderr
        assert os.stat(tokens).st_mode & 0o777 == 0o640
        digest = hashlib.sha256(alice.encode()).hexdigest()
        assert lines(tokens) == [f"alice {digest} rw crm/ notes/"]

        r = verstored("token", "add", "-c", conf, "--read-only", "bob")
        assert r.returncode == 0, r.stderr
        bob = r.stdout.strip()
        assert TOKEN.match(bob) and bob != alice
        assert lines(tokens)[1] == \
            f"bob {hashlib.sha256(bob.encode()).hexdigest()} ro *"
        # a prefix that is not a folder is taken, with a warning
        r = verstored("token", "add", "carol", "--prefix", "crm", "-c", conf)
        assert r.returncode == 0 and "warning" in r.stderr, r.stderr
        assert "end it with /" in r.stderr
        carol = r.stdout.strip()

        r = verstored("token", "list", "-c", conf)
        assert r.returncode == 0, r.stderr
        assert r.stdout.splitlines() == ["alice rw crm/ notes/", "bob ro *",
                                         "carol rw crm"], r.stdout
        for secret in (alice, bob, carol, digest):
            assert secret not in r.stdout + r.stderr

        # a name twice: refused, naming the line that has it
        r = verstored("token", "add", "bob", "-c", conf)
        assert r.returncode == 1 and r.stdout == "", r
        assert 'the name "bob" is on line 2 already' in r.stderr, r.stderr
        assert len(lines(tokens)) == 3

        # revoke: that line goes, the others stay as they were
        with open(tokens, "a") as f:
            f.write("# a comment stays\n")
        before = lines(tokens)
        r = verstored("token", "revoke", "bob", "-c", conf)
        assert r.returncode == 0, r.stderr
        assert lines(tokens) == [before[0], before[2], before[3]]
        assert os.stat(tokens).st_mode & 0o777 == 0o640
        r = verstored("token", "revoke", "bob", "-c", conf)
        assert r.returncode == 1 and 'no token is named "bob"' in r.stderr
        r = verstored("token", "list", "-c", conf)
        assert r.stdout.splitlines() == ["alice rw crm/ notes/",
                                         "carol rw crm"]
        assert not [f for f in os.listdir(d) if f.startswith("tokens.")]


def test_bad_input_is_refused():
    with tempfile.TemporaryDirectory() as d:
        conf, tokens = setup(d)
        for args, want in (
                (["add", "a b"], 'NAME: expected 1 to 64 of'),
                (["add", "x", "--prefix", "/crm/"], 'got "/crm/"'),
                (["add", "x", "--prefix", "crm/*"], 'no * at its end'),
                (["add", "x", "--prefix", "*", "--prefix", "a/"],
                 'or * alone, got "*"')):
            r = verstored("token", *args, "-c", conf)
            assert r.returncode == 1 and want in r.stderr, (args, r.stderr)
            assert r.stdout == "" and not os.path.exists(tokens)
        for args in (["add"], ["list", "x"], ["revoke"], ["list", "--read-only"],
                     ["add", "x", "--bogus"], ["add", "x", "--prefix"],
                     ["frobnicate"], []):
            r = verstored("token", *args, "-c", conf)
            assert r.returncode == 2 and "usage:" in r.stderr, (args, r)
        # a configuration without a tokens file
        plain = os.path.join(d, "plain.conf")
        with open(plain, "w") as f:
            f.write("workers 1\n")
        r = verstored("token", "list", "-c", plain)
        assert r.returncode == 1 and "names no tokens file" in r.stderr
        # a broken file is neither listed, added to nor rewritten
        with open(tokens, "w") as f:
            f.write("# ok\nalice 00 rw *\n")
        for args in (["list"], ["add", "bob"], ["revoke", "alice"]):
            r = verstored("token", *args, "-c", conf)
            assert r.returncode == 1, r
            assert f"{tokens}:2: SHA256HEX: expected" in r.stderr, r.stderr
            assert r.stdout == ""
        assert lines(tokens) == ["# ok", "alice 00 rw *"]


def test_a_metrics_token():
    d = tempfile.mkdtemp(prefix="verstore-tok-")
    try:
        os.chmod(d, 0o755)
        conf, tokens = setup(d)
        r = verstored("token", "add", "prom", "--metrics", "-c", conf)
        assert r.returncode == 0, r.stderr
        prom = r.stdout[:-1]
        assert r.stdout.endswith("\n") and TOKEN.match(prom), r.stdout
        assert "(metrics)" in r.stderr, r.stderr
        digest = hashlib.sha256(prom.encode()).hexdigest()
        assert lines(tokens) == [f"prom {digest} metrics"]
        r = verstored("token", "add", "app", "-c", conf)
        assert r.returncode == 0, r.stderr
        app = r.stdout.strip()
        r = verstored("token", "list", "-c", conf)
        assert r.stdout.splitlines() == ["prom metrics", "app rw *"], r.stdout
        # it reads no key, so it takes no prefix and no read-only
        for args in (["--prefix", "crm/"], ["--read-only"],
                     ["--prefix", "*"]):
            r = verstored("token", "add", "x", "--metrics", *args, "-c", conf)
            assert r.returncode == 1 and r.stdout == "", (args, r)
            assert "--metrics makes a token that reads /api/metrics and " \
                "no key" in r.stderr, r.stderr
        r = verstored("token", "list", "--metrics", "-c", conf)
        assert r.returncode == 2 and "usage:" in r.stderr, r
        assert len(lines(tokens)) == 2
        r = verstored("-t", "-c", conf)
        assert r.returncode == 0, r.stderr
        with harness.running(conf=f"auth token\ntokens {tokens}\n",
                             workers=1) as srv:
            auth = {"Authorization": "Bearer " + prom}
            assert srv.get("/api/metrics", headers=auth).status == 200
            assert srv.get("/api/storage/a", headers=auth).status == 403
            r = srv.get("/api/storage/a",
                        headers={"Authorization": "Bearer " + app})
            assert r.status == 404, r
        # a prefix written after metrics by hand: -t names the line
        with open(tokens, "a") as f:
            f.write(f"prom2 {'0' * 64} metrics crm/\n")
        r = verstored("-t", "-c", conf)
        assert r.returncode == 1, r
        assert f"tokens {tokens}:3: a metrics token reads /api/metrics " \
            'and no key, so it takes no PREFIX, got "crm/"' in r.stderr, \
            r.stderr
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_config_check_reads_the_tokens_file():
    d = tempfile.mkdtemp(prefix="verstore-tok-")
    try:
        os.chmod(d, 0o755)
        conf, tokens = setup(d)
        r = verstored("-t", "-c", conf)
        assert r.returncode == 1, r
        assert f"tokens {tokens}: No such file or directory" in r.stderr
        r = verstored("token", "add", "alice", "-c", conf)
        assert r.returncode == 0, r.stderr
        token = r.stdout.strip()
        r = verstored("-t", "-c", conf)
        assert r.returncode == 0 and "successful" in r.stderr, r.stderr
        # a line that does not parse: -t names it, start-up refuses
        with open(tokens, "a") as f:
            f.write("\nbob " + "0" * 64 + " rx *\n")
        r = verstored("-t", "-c", conf)
        assert r.returncode == 1 and "test failed" in r.stderr, r
        assert f'tokens {tokens}:3: expected ro, rw or metrics, got "rx"' \
            in r.stderr
        r = verstored("-c", conf)
        assert r.returncode == 1 and f"{tokens}:3:" in r.stderr, r
        # a token pasted where its digest goes is not repeated
        with open(tokens, "w") as f:
            f.write(f"alice {token} rw *\n")
        r = verstored("-t", "-c", conf)
        assert r.returncode == 1 and f"{tokens}:1: SHA256HEX" in r.stderr
        assert token not in r.stderr
        # read as the user that runs it
        if os.geteuid() == 0 and shutil.which("runuser"):
            nobody = pwd.getpwnam("nobody")
            exe = harness.public_copy(os.path.join(harness.BUILD,
                                                   "verstored"),
                                      os.path.join(d, "verstored"))
            for sub in ("data", "run"):
                os.makedirs(os.path.join(d, sub))
                os.chown(os.path.join(d, sub), nobody.pw_uid, nobody.pw_gid)
            with open(tokens, "w") as f:
                f.write("")
            os.chmod(tokens, 0o600)
            os.chmod(conf, 0o644)
            r = verstored("-t", "-c", conf, user="nobody", exe=exe)
            assert r.returncode == 1, r
            assert f"tokens {tokens}: Permission denied for uid " \
                f"{nobody.pw_uid}" in r.stderr, r.stderr
            os.chmod(tokens, 0o644)
            r = verstored("-t", "-c", conf, user="nobody", exe=exe)
            assert r.returncode == 0, r.stderr
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_no_token_in_the_log():
    d = tempfile.mkdtemp(prefix="verstore-tok-")
    try:
        tokens = os.path.join(d, "tokens")
        conf = os.path.join(d, "v.conf")
        with open(conf, "w") as f:
            f.write(f"tokens {tokens}\n")
        r = verstored("token", "add", "alice", "-c", conf)
        assert r.returncode == 0, r.stderr
        token = r.stdout.strip()
        with harness.running(conf=f"auth token\ntokens {tokens}\n"
                                  "log_level debug\n", workers=1) as srv:
            auth = {"Authorization": "Bearer " + token}
            for path in ("/api/health", "/api/storage/crm/a", "/api/nosuch"):
                srv.get(path, headers=auth)
            srv.put("crm/b", {"t": 1}, headers=auth)
            srv.request("POST", "/api/txn", "{", headers=auth)
            srv.stop_verstored()
            log = srv.log()
        assert "stopped" in log, log[-500:]
        assert token not in log
        assert hashlib.sha256(token.encode()).hexdigest() not in log
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_options_go_anywhere():
    """-c FILE before the command word, between its words or after them:
    the same command on the same file; -t with a command is refused."""
    with tempfile.TemporaryDirectory() as d:
        conf, tokens = setup(d)
        for argv in (
                ["-c", conf, "token", "add", "a0"],
                ["token", "-c", conf, "add", "a1"],
                ["token", "add", "-c", conf, "a2", "--read-only"],
                ["token", "add", "a3", "-c", conf],
                ["-c", "/nonexistent", "token", "add", "a4", "-c", conf]):
            r = verstored(*argv)
            assert r.returncode == 0, (argv, r.stderr)
            assert TOKEN.match(r.stdout.strip()), (argv, r.stdout)
        names = [line.split()[0] for line in lines(tokens)]
        assert names == ["a0", "a1", "a2", "a3", "a4"], names
        for argv in (["-c", conf, "token", "list"],
                     ["token", "list", "-c", conf]):
            r = verstored(*argv)
            assert r.returncode == 0 and r.stdout.startswith("a0 rw *\n"), r
        for argv in (["-c", conf, "-t"], ["-t", "-c", conf]):
            r = verstored(*argv)
            assert r.returncode == 0 and "successful" in r.stderr, r
        for argv in (["-c", conf, "--help"], ["--version"]):
            r = verstored(*argv)
            assert r.returncode == 0 and r.stdout.startswith("verstored "), r
        for argv in (["-t", "-c", conf, "token", "list"],
                     ["-c", conf, "token", "add"],
                     ["-c", conf, "token", "add", "x", "y"],
                     ["-c", conf, "token", "--read-only", "list"],
                     ["-c", conf, "nosuch"]):
            r = verstored(*argv)
            assert r.returncode == 2 and "usage:" in r.stderr, (argv, r)
