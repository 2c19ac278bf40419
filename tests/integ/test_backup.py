"""verstored backup DIR (API.md 11): a consistent hot copy taken while
eight writers keep writing; restored into a fresh data directory, it holds
every write acknowledged before the backup began."""
import os
import shutil
import subprocess
import tempfile
import threading
import time

import harness
from harness import running

# verstored backup copies LMDB's file; a database is PostgreSQL's to back
# up (API.md 12), which the last test checks.
BACKENDS = ("lmdb",)


def test_backup_under_load_then_restore():
    bk = tempfile.mkdtemp(prefix="verstore-bk-")
    try:
        with running(workers=2, threads=8) as srv:
            acked = {}              # key -> version acknowledged
            lock = threading.Lock()
            stop = threading.Event()

            def writer(i):
                n = 0
                while not stop.is_set():
                    key = f"bk/{i}/{n % 50}"
                    r = srv.put(key, {"w": i, "n": n})
                    if r.status in (200, 201):
                        with lock:
                            acked[key] = r.json["version"]
                    n += 1

            ts = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
            for t in ts:
                t.start()
            time.sleep(1.0)
            with lock:
                before = dict(acked)
            # -c before the command word as after it (both kept working)
            p = subprocess.run([os.path.join(harness.BUILD, "verstored"),
                                "-c", srv.conf_path, "backup", bk],
                               capture_output=True, text=True, timeout=60)
            time.sleep(0.5)         # the writers go on during and after
            stop.set()
            for t in ts:
                t.join(30)
            assert p.returncode == 0, p.stderr
            assert "written to" in p.stderr
            assert len(before) > 50, len(before)
            # a second backup into the same directory is refused
            p2 = subprocess.run([os.path.join(harness.BUILD, "verstored"),
                                 "backup", "-c", srv.conf_path, bk],
                                capture_output=True, text=True, timeout=60)
            assert p2.returncode != 0 and "already holds" in p2.stderr
            # as private as the store itself, whatever the umask
            src = os.path.join(srv.data, "data.mdb")
            assert os.stat(src).st_mode & 0o777 == 0o600
        assert os.stat(os.path.join(bk, "data.mdb")).st_mode & 0o777 == 0o600
        # restore as doc/deploy.md says: a fresh data_dir, 0700, holding
        # the copy, 0600 (install -d -m 0700, install -m 0600)
        restored = harness.Server(workers=1, threads=4)
        try:
            subprocess.run(["install", "-d", "-m", "0700", restored.data],
                           check=True)
            subprocess.run(["install", "-m", "0600",
                            os.path.join(bk, "data.mdb"), restored.data],
                           check=True)
            restored.start()
            assert os.stat(restored.data).st_mode & 0o777 == 0o700
            assert os.stat(os.path.join(restored.data, "data.mdb")) \
                .st_mode & 0o777 == 0o600
            for key, version in before.items():
                r = restored.get("/api/storage/" + key)
                assert r.status == 200, (key, r)
                assert r.json["version"] >= version, (key, version, r.json)
            # and it takes writes again
            assert restored.put("bk/after", 1).status == 201
        finally:
            assert not restored.stop()
    finally:
        shutil.rmtree(bk, ignore_errors=True)


def test_backup_refuses_bad_targets():
    with running(workers=1, threads=2) as srv:
        exe = os.path.join(harness.BUILD, "verstored")
        p = subprocess.run([exe, "backup", "-c", srv.conf_path,
                            "/nonexistent/dir"], capture_output=True,
                           text=True, timeout=30)
        assert p.returncode != 0 and "not a directory" in p.stderr, p.stderr
        p = subprocess.run([exe, "backup"], capture_output=True, text=True,
                           timeout=30)
        assert p.returncode == 2 and "usage" in p.stderr


@harness.backends("postgres")
def test_backup_on_postgres_says_to_use_its_tools():
    bk = tempfile.mkdtemp(prefix="verstore-bk-")
    try:
        with running(workers=1, threads=2) as srv:
            assert srv.put("bk/a", 1).status == 201
            p = subprocess.run([os.path.join(harness.BUILD, "verstored"),
                                "backup", "-c", srv.conf_path, bk],
                               capture_output=True, text=True, timeout=30)
            assert p.returncode == 1 and "pg_dump" in p.stderr, p
            assert os.listdir(bk) == []
            assert srv.get("/api/storage/bk/a").json["value"] == 1
    finally:
        shutil.rmtree(bk, ignore_errors=True)
