"""Thousands of watchers (API.md 7) through nginx: 2,000 long polls and
2,000 event streams stay open while 16 clients read and write; those
clients keep being answered, one write wakes every watcher of its prefix,
and no worker grows a thread for them."""
import os
import re
import resource
import selectors
import socket
import time

from harness import run_threads

SERVER = {"workers": 2, "threads": 8}
N_POLL, N_SSE = 2000, 2000


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, 65536)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def threads_of(pids):
    return {p: len(os.listdir(f"/proc/{p}/task")) for p in pids}


def watchers(srv):
    r = srv.get("/api/metrics")
    m = re.search(r"^verstore_watchers (\S+)$", r.body.decode(), re.M)
    return float(m.group(1)) if m else 0


def test_thousands_of_watchers(srv):
    if raise_nofile() < N_POLL + N_SSE + 512:
        print("  skipped: too few file descriptors")
        return
    since = srv.get("/api/changes?since=999999999").json["last_seq"]
    pids = srv.worker_pids()
    before = threads_of(pids)
    sel = selectors.DefaultSelector()
    socks = []
    for i in range(N_POLL + N_SSE):
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        sse = i >= N_POLL
        req = (f"GET /api/changes?since={since}&prefix=scale%2F"
               f"{'' if sse else '&wait=60'} HTTP/1.1\r\nHost: x\r\n"
               f"{'Accept: text/event-stream' + chr(13) + chr(10) if sse else ''}"
               "\r\n")
        s.sendall(req.encode())
        s.setblocking(False)
        socks.append(s)
        sel.register(s, selectors.EVENT_READ, i)
    deadline = time.monotonic() + 60
    while watchers(srv) < N_POLL + N_SSE and time.monotonic() < deadline:
        time.sleep(0.2)
    assert watchers(srv) == N_POLL + N_SSE, watchers(srv)

    # the ordinary clients go on as if nobody watched
    lat = []

    def client(t):
        end = time.monotonic() + 3
        n = 0
        while time.monotonic() < end:
            t0 = time.monotonic()
            assert srv.put(f"busy/{t}/{n % 20}", n).status in (200, 201)
            assert srv.get(f"/api/storage/busy/{t}/{n % 20}").status == 200
            lat.append(time.monotonic() - t0)
            n += 1
        return n
    counts = run_threads(16, client)
    assert min(counts) > 0, counts
    lat.sort()
    assert lat[len(lat) // 2] < 0.5, lat[len(lat) // 2]

    # one write under the prefix wakes every one of them
    assert srv.put("scale/wake", 1).status == 201
    woken, bufs = set(), {}
    deadline = time.monotonic() + 60
    while len(woken) < len(socks) and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=1):
            i = key.data
            try:
                chunk = key.fileobj.recv(65536)
            except BlockingIOError:
                continue
            bufs[i] = bufs.get(i, b"") + chunk
            if b"scale/wake" in bufs[i]:
                woken.add(i)
                sel.unregister(key.fileobj)
            elif not chunk:
                sel.unregister(key.fileobj)
    assert len(woken) == len(socks), (len(woken), len(socks))
    assert threads_of(pids) == before, (threads_of(pids), before)
    for s in socks:
        s.close()
    deadline = time.monotonic() + 30
    while watchers(srv) > 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert watchers(srv) == 0
