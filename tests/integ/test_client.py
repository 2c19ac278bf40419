"""client/: the library and the command-line client with node --test, and
the browser tests with Debian's chromium and playwright-core, against real
nginx + verstored (each skipped where node, chromium or client/node_modules
is missing)."""
import os
import shutil
import subprocess

import harness

ORIGIN_PORT = harness.free_port()       # the cross-origin page's
SERVER = {"workers": 2, "threads": 8,
          "conf": f"cors_origins http://127.0.0.1:{ORIGIN_PORT}\n",
          "www": os.path.join(harness.ROOT, "client")}   # as make run


def test_client_library_cli_and_browser(srv):
    node = shutil.which("node")
    if node is None:
        print("  skipped: no node")
        return
    shots = os.path.join(srv.dir, "screenshots")
    p = subprocess.run([node, "--test", "--test-reporter=spec",
                        os.path.join(harness.ROOT, "client", "test")],
                       capture_output=True, text=True, timeout=600,
                       cwd=os.path.join(harness.ROOT, "client"),
                       env=dict(os.environ, VERSTORE_SHOTS=shots,
                                VERSTORE_ORIGIN_PORT=str(ORIGIN_PORT),
                                VERSTORE_URL=f"http://127.0.0.1:{srv.port}"))
    if p.returncode != 0:
        print(p.stdout[-3000:])
    assert p.returncode == 0, p.stdout[-4000:] + p.stderr[-2000:]
    if os.path.isdir(shots):
        print("  screenshots:", ", ".join(sorted(os.listdir(shots))))
