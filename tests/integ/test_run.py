"""make run (conf/run.sh): ready only once health answers through nginx;
a port in use is said at once, with the way out; Ctrl-C stops both.
CONF=FILE adds FILE's settings after the defaults (auth none), while
PORT and DATA still set the port, the data and the socket."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import harness


def start(port, data, conf=None):
    env = dict(os.environ, PORT=str(port), DATA=data, BUILD=harness.BUILD)
    env.pop("CONF", None)
    if conf is not None:
        env["CONF"] = conf
    return subprocess.Popen(["bash", os.path.join(harness.ROOT, "conf", "run.sh")],
                            cwd=harness.ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


def end(p):
    """Stops run.sh after a failed assertion: SIGTERM first, so that it
    removes what it made (as root, its directory under /tmp)."""
    if p.poll() is None:
        os.killpg(p.pid, signal.SIGTERM)
        try:
            p.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def wait_ready(p):
    """The lines run.sh printed up to "verstore on ...", or to its end."""
    lines = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = p.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("verstore on http://127.0.0.1:"):
            break
    return lines


def test_make_run_ready_busy_port_and_stop():
    data = tempfile.mkdtemp(prefix="verstore-run-")
    port = harness.free_port()
    p = start(port, data)
    try:
        lines = wait_ready(p)
        assert lines and lines[-1].startswith("verstore on"), lines
        # make run asks no credentials, whatever the installed default
        assert "requests are not checked" not in "".join(lines), lines
        # nothing to build, and no alert or warning from nginx at each
        # start (its setrlimit past what this user may have, more
        # connections than descriptors)
        assert "building" not in "".join(lines), lines
        assert not [x for x in lines if "[alert]" in x or "[warn]" in x], \
            lines
        # ready means ready: health answers at once
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health",
                                    timeout=5) as r:
            assert r.status == 200
        # a second one on the same port says so and stops
        q = start(port, data + "-2")
        out, _ = q.communicate(timeout=60)
        assert q.returncode == 1 and f"port {port}" in out and "in use" in out, out
        assert "PORT=" in out
        # Ctrl-C stops nginx and verstored both
        os.killpg(p.pid, signal.SIGINT)
        out, _ = p.communicate(timeout=30)
        assert "verstore stopped." in out, out
        assert p.returncode == 0, p.returncode
    finally:
        end(p)
        shutil.rmtree(data, ignore_errors=True)
        shutil.rmtree(data + "-2", ignore_errors=True)


def refused(data, conf):
    """What make run CONF=conf said as it stopped at once, exit 1."""
    p = start(harness.free_port(), data, conf=conf)
    out, _ = p.communicate(timeout=60)
    assert p.returncode == 1, out
    return out


def test_make_run_conf_file():
    data = tempfile.mkdtemp(prefix="verstore-run-")
    extra = os.path.join(data, "extra.conf")
    tokens = os.path.join(data, "tokens")
    p = None
    try:
        with open(tokens, "w") as f:
            f.write("# none yet\n")
        with open(extra, "w") as f:
            f.write(f"auth token\ntokens {tokens}\n"
                    f"data_dir {data}/elsewhere\nworkers 1\n")
        port = harness.free_port()
        p = start(port, data, conf=extra)
        lines = wait_ready(p)
        assert lines and lines[-1].startswith("verstore on"), lines
        out = "".join(lines)
        conf = open(os.path.join(data, "verstore.conf")).read()
        at = [conf.index(t) for t in ("# make run\nauth none\n",
                                       f"auth token\ntokens {tokens}",
                                       f"data_dir {data}/data")]
        assert at == sorted(at), conf
        # DATA still holds the data; CONF's data_dir is overridden
        assert os.path.exists(os.path.join(data, "data", "data.mdb"))
        assert not os.path.exists(os.path.join(data, "elsewhere"))
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health",
                                    timeout=5) as r:
            assert r.status == 200
        # auth token took effect: the API wants a token
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/storage/x",
                                   timeout=5)
            assert False, "no 401"
        except urllib.error.HTTPError as e:
            assert e.code == 401, e.code
        os.killpg(p.pid, signal.SIGINT)
        p.communicate(timeout=30)
        assert p.returncode == 0, p.returncode
        # a tokens file that does not parse stops it, naming the line
        with open(tokens, "a") as f:
            f.write("alice 00 rw *\n")
        out = refused(data, extra)
        assert f"tokens {tokens}:2: SHA256HEX" in out, out
        # a bad line of CONF is named by CONF's name and line, not the
        # generated file's
        with open(tokens, "w") as f:
            f.write("")
        with open(extra, "a") as f:
            f.write("map_size 1GB\n")
        out = refused(data, extra)
        assert f"{extra}:5: map_size: expected bytes" in out, out
        assert "verstore.conf:" not in out, out
        # and a CONF that is not there is said at once
        out = refused(data, extra + ".none")
        assert "no such readable file" in out, out
    finally:
        if p is not None:
            end(p)
        shutil.rmtree(data, ignore_errors=True)


def test_make_run_says_it_builds_first():
    """With nothing built yet, make run says so before the build's silent
    half minute (stopped here before it ends)."""
    build = tempfile.mkdtemp(prefix="verstore-build-")
    env = dict(os.environ, PORT=str(harness.free_port()), BUILD=build,
               DATA=build + "/var")
    env.pop("CONF", None)
    p = subprocess.Popen(["bash", os.path.join(harness.ROOT, "conf",
                                               "run.sh")],
                         cwd=harness.ROOT, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True,
                         start_new_session=True)
    try:
        line = p.stdout.readline()
        assert line.startswith("make run: building verstored (the first "
                               "time: about 30 s)"), line
        assert not os.path.exists(os.path.join(build, "verstored"))
    finally:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
        shutil.rmtree(build, ignore_errors=True)


# -- a checkout that only its owner may reach ----------------------------------
def private_checkout():
    """A copy of this checkout (its sources, not its builds, data or
    node_modules; times kept, so that make finds BUILD up to date) inside
    a 0700 directory, as a clone in root's home is: (the directory, the
    copy)."""
    top = tempfile.mkdtemp(prefix="verstore-home-")
    os.chmod(top, 0o700)
    skip_top = {".git", "build", "build-asan", "build-fuzz", "var"}

    def ignore(d, names):
        return [n for n in names if n == "node_modules" or
                (d == harness.ROOT and n in skip_top)]

    copy = os.path.join(top, "verstore")
    shutil.copytree(harness.ROOT, copy, ignore=ignore)
    return top, copy


def test_make_run_in_a_private_checkout():
    """As root, nginx's workers run as nobody, who cannot reach a checkout
    in a 0700 home: make run serves the demos, the client and the API all
    the same (from a copy in a directory of their own, gone at the end)."""
    top, copy = private_checkout()
    port = harness.free_port()
    env = dict(os.environ, PORT=str(port), BUILD=harness.BUILD)
    for name in ("CONF", "DATA"):
        env.pop(name, None)
    p = subprocess.Popen(["bash", os.path.join(copy, "conf", "run.sh")],
                         cwd=copy, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True,
                         start_new_session=True)
    try:
        lines = wait_ready(p)
        assert lines and lines[-1].startswith("verstore on"), lines
        base = f"http://127.0.0.1:{port}"
        with urllib.request.urlopen(base + "/", timeout=5) as r:
            assert r.status == 200 and b"demo/" in r.read()
        for name in ("verstore.js", "conflict.js", "demo/notes.js"):
            with urllib.request.urlopen(f"{base}/{name}", timeout=5) as r:
                with open(os.path.join(copy, "client", name), "rb") as f:
                    assert r.read() == f.read(), name
        put = urllib.request.Request(base + "/api/storage/run/a",
                                     data=b'{"value": {"n": 1}}', method="PUT",
                                     headers={"Content-Type":
                                              "application/json"})
        with urllib.request.urlopen(put, timeout=5) as r:
            assert r.status in (200, 201), r.status
        with urllib.request.urlopen(base + "/api/storage/run/a",
                                    timeout=5) as r:
            assert json.loads(r.read())["value"] == {"n": 1}
        # the data stays in the checkout's var/, as ever
        assert os.path.exists(os.path.join(copy, "var", "data", "data.mdb"))
        conf = open(os.path.join(copy, "var", "verstore.conf")).read()
        sock = re.findall(r"(?m)^socket (\S+)$", conf)[-1]
        os.killpg(p.pid, signal.SIGINT)
        out, _ = p.communicate(timeout=30)
        assert "verstore stopped." in out and p.returncode == 0, out
        if not sock.startswith(copy):
            # what nginx's workers were given goes with them
            assert not os.path.exists(os.path.dirname(os.path.dirname(sock)))
    finally:
        end(p)
        shutil.rmtree(top, ignore_errors=True)


def test_tests_as_another_user_in_a_private_checkout():
    """The tests that run verstored as nobody (runuser), and those that
    fetch the client through nginx, pass from a checkout in a 0700 home:
    they copy what the other user runs or reads."""
    top, copy = private_checkout()
    try:
        os.makedirs(os.path.join(copy, "build"))
        shutil.copy2(os.path.join(harness.BUILD, "verstored"),
                     os.path.join(copy, "build", "verstored"))
        env = dict(os.environ, VERSTORE_PG_PASS="0", PG_BIN="/nonexistent")
        env.pop("VERSTORE_PG", None)
        for k in ("test_conf/test_paths_and_group_are_checked",
                  "test_token_cli/test_config_check_reads_the_tokens_file",
                  "test_nginx/test_the_site_serves_the_client_library"):
            r = subprocess.run([sys.executable,
                                os.path.join(copy, "tests", "run.py"),
                                "--build", "build", "-k", k],
                               cwd=copy, env=env, capture_output=True,
                               text=True, timeout=300)
            assert r.returncode == 0 and "1 passed, 0 failed" in r.stdout, \
                r.stdout[-3000:] + r.stderr[-2000:]
    finally:
        shutil.rmtree(top, ignore_errors=True)
