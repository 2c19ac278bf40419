"""make run (conf/run.sh): ready only once health answers through nginx;
a port in use is said at once, with the way out; Ctrl-C stops both."""
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request

import harness


def start(port, data):
    env = dict(os.environ, PORT=str(port), DATA=data, BUILD=harness.BUILD)
    return subprocess.Popen(["bash", os.path.join(harness.ROOT, "conf", "run.sh")],
                            cwd=harness.ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


def test_make_run_ready_busy_port_and_stop():
    data = tempfile.mkdtemp(prefix="verstore-run-")
    port = harness.free_port()
    p = start(port, data)
    try:
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = p.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("verstore on http://127.0.0.1:"):
                break
        assert lines and lines[-1].startswith("verstore on"), lines
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
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
        shutil.rmtree(data, ignore_errors=True)
        shutil.rmtree(data + "-2", ignore_errors=True)
