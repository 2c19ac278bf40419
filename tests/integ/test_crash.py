"""kill -9 under write load: the pool keeps answering after a worker is
killed, and after the master and every worker are killed at once, every
write that got a 2xx is there after restart; with durability relaxed too,
since a crash of the process (not of the machine) loses nothing."""
import os
import signal
import threading
import time

from harness import running


def test_kill9_worker_then_all():
    kill9_worker_then_all("")


def test_kill9_relaxed_durability():
    kill9_worker_then_all("durability relaxed")


def kill9_worker_then_all(conf):
    with running(workers=2, threads=8, conf=conf) as srv:
        acked = {}                  # key -> (version, value) last acknowledged
        ok_times = []
        lock = threading.Lock()
        stop = threading.Event()

        def writer(i):
            n = 0
            while not stop.is_set():
                key = f"crash/{i}/{n % 40}"
                value = {"writer": i, "n": n}
                try:
                    r = srv.put(key, value, timeout=5)
                except OSError:
                    time.sleep(0.01)
                    continue
                if r.status in (200, 201):
                    with lock:
                        acked[key] = (r.json["version"], value)
                        ok_times.append(time.monotonic())
                else:
                    assert r.status in (502, 503, 504), r
                    time.sleep(0.01)
                n += 1

        threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        try:
            time.sleep(1.0)
            victim = srv.worker_pids()[0]
            os.kill(victim, signal.SIGKILL)
            t_kill = time.monotonic()
            srv.wait_workers(2, gone=[victim])
            time.sleep(1.0)
            with lock:
                after = [t for t in ok_times if t > t_kill]
            assert len(after) > 20, "the pool stopped answering"
            srv.kill_all_verstored()
            time.sleep(0.3)
        finally:
            stop.set()
            for t in threads:
                t.join(30)
        assert len(acked) > 100, len(acked)
        assert "killed by signal 9" in srv.log()

        srv.start_verstored()
        srv.wait_healthy()
        for key, (version, value) in sorted(acked.items()):
            r = srv.get("/api/storage/" + key)
            assert r.status == 200, (key, r)
            got = r.json
            # a write may have committed without its answer getting out
            assert got["version"] >= version, (key, version, got)
            if got["version"] == version:
                assert got["value"] == value, (key, value, got)
        # the store is writable and consistent after the restart
        r = srv.put("crash/after", 1)
        assert r.status == 201, r
        assert srv.stop_verstored() == 0
