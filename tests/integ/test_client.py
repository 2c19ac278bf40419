"""client/verstore.js against real nginx + verstored, with node --test
(skipped where node is not installed)."""
import os
import shutil
import subprocess

import harness

SERVER = {"workers": 2, "threads": 8}


def test_client_library(srv):
    node = shutil.which("node")
    if node is None:
        print("  skipped: no node")
        return
    p = subprocess.run([node, "--test", "--test-reporter=spec",
                        os.path.join(harness.ROOT, "client", "test")],
                       capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, VERSTORE_URL=
                                f"http://127.0.0.1:{srv.port}"))
    print(p.stdout[-3000:] if p.returncode else "")
    assert p.returncode == 0, p.stdout[-4000:] + p.stderr[-2000:]
