"""The change feed (API.md 7) through nginx: paging, prefixes, long polls
woken across worker processes, event streams resumed with Last-Event-ID,
and a watcher that stops reading dropped while the others go on."""
import json
import os
import socket
import threading
import time

import harness
from harness import run_threads, sse_events

SERVER = {"workers": 2, "threads": 8}


def changes(srv, query, headers=None, timeout=30):
    r = srv.request("GET", "/api/changes?" + query, headers=headers,
                    timeout=timeout)
    assert r.status == 200, r
    return r.json


def test_paging_never_skips_or_repeats(srv):
    start = changes(srv, "since=0&limit=1000")["last_seq"]
    keys = [f"page/k{i}" for i in range(60)]
    for k in keys:
        assert srv.put(k, 1).status == 201
    for k in keys[::3]:                     # written again: moves to the end
        assert srv.put(k, 2).status == 200
    assert srv.delete(keys[5]).status == 200
    seen, since = [], start
    while True:
        page = changes(srv, f"since={since}&limit=7&prefix=page%2F")
        if not page["results"]:
            break
        seen += page["results"]
        assert page["last_seq"] == page["results"][-1]["seq"]
        since = page["last_seq"]
    got = [c["key"] for c in seen]
    assert sorted(got) == sorted(keys), got
    seqs = [c["seq"] for c in seen]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    by = {c["key"]: c for c in seen}
    assert by[keys[0]]["version"] == 2 and by[keys[1]]["version"] == 1
    assert by[keys[5]]["deleted"] is True
    assert set(seen[0]) == {"seq", "key", "version", "deleted", "updated_at"}


def test_prefix_filter_and_last_seq(srv):
    srv.put("pa/x", 1)
    srv.put("pb/x", 1)
    top = changes(srv, "since=0&limit=1000&prefix=pa%2F")
    assert [c["key"] for c in top["results"]] == ["pa/x"]
    # nothing new: last_seq is the store's, so since=last_seq never skips
    empty = changes(srv, f"since={top['last_seq']}&prefix=pa%2F")
    assert empty["results"] == [] and empty["last_seq"] >= top["last_seq"]
    r = srv.get("/api/changes?limit=0")
    assert r.status == 400 and r.json["parameter"] == "limit"
    r = srv.get("/api/changes?wait=61")
    assert r.status == 400
    assert srv.request("POST", "/api/changes", "{}").status == 405


def test_long_poll_woken_across_workers(srv):
    since = changes(srv, "since=999999999")["last_seq"]
    polls, answers = 8, [None] * 8

    def poll(i):
        t0 = time.monotonic()
        r = srv.request("GET", f"/api/changes?since={since}&wait=20"
                        "&prefix=wake%2F", timeout=30)
        answers[i] = (time.monotonic(), r, time.monotonic() - t0)
    ts = [threading.Thread(target=poll, args=(i,)) for i in range(polls)]
    for t in ts:
        t.start()
    time.sleep(0.5)                 # every poll is parked by now
    srv.put("other/k", 1)           # another prefix wakes nobody
    time.sleep(0.3)
    assert all(a is None for a in answers), answers
    assert srv.put("wake/k", 1).status == 201
    done = time.monotonic()
    for t in ts:
        t.join(30)
    for at, r, took in answers:
        assert r.status == 200, r
        assert [c["key"] for c in r.json["results"]] == ["wake/k"]
        # woken by the commit, not found by the feed's 1 s poll of the
        # seq (a bound that load and sanitizers leave room to)
        assert at - done < 0.5, (at - done)
        assert took > 0.5
    # a poll with nothing to report answers at its time, empty
    t0 = time.monotonic()
    r = changes(srv, f"since={r.json['last_seq']}&wait=1&prefix=none%2F")
    assert r["results"] == [] and 0.9 < time.monotonic() - t0 < 3


def sse_open(srv, query, last_id=None):
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    h = f"GET /api/changes?{query} HTTP/1.0\r\nHost: x\r\n" \
        "Accept: text/event-stream\r\n"
    if last_id is not None:
        h += f"Last-Event-ID: {last_id}\r\n"
    s.sendall((h + "\r\n").encode())
    return s


def test_stream_resumes_with_last_event_id(srv):
    since = changes(srv, "since=999999999")["last_seq"]
    s = sse_open(srv, f"since={since}&prefix=ev%2F")
    for i in range(5):
        srv.put(f"ev/a{i}", i)
    got = sse_events(s, 5)
    s.close()
    assert [e["data"]["key"] for e in got] == [f"ev/a{i}" for i in range(5)]
    for i in range(5):                      # while nobody watches
        srv.put(f"ev/b{i}", i)
    s = sse_open(srv, f"since={since}&prefix=ev%2F", last_id=got[-1]["id"])
    more = sse_events(s, 5)
    assert [e["data"]["key"] for e in more] == [f"ev/b{i}" for i in range(5)]
    srv.put("ev/c", 1)                      # and it goes on live
    assert [e["data"]["key"] for e in sse_events(s, 1)] == ["ev/c"]
    s.close()
    r = srv.request("GET", "/api/changes", headers={
        "Accept": "text/event-stream", "Last-Event-ID": "x"})
    assert r.status == 400


def test_watcher_that_stops_reading_is_dropped(srv):
    """Straight on the socket, so that nothing buffers for the watcher
    that never reads: verstored closes it; a reading one gets it all."""
    since = changes(srv, "since=999999999")["last_seq"]
    params = {"REQUEST_METHOD": "GET", "REQUEST_URI":
              f"/api/changes?since={since}&prefix=slow%2F",
              "HTTP_ACCEPT": "text/event-stream"}
    lazy = harness.fcgi_connect(srv.sock, params)
    lazy.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    harness.fcgi_send_stdin(lazy, b"")
    reader = sse_open(srv, f"since={since}&prefix=slow%2F")
    got = []
    stop = threading.Event()

    def read():
        while not stop.is_set() and len(got) < 2000:
            got.extend(sse_events(reader, 2000 - len(got), timeout=1))
    rt = threading.Thread(target=read)
    rt.start()
    key = "slow/" + "k" * 400
    run_threads(8, lambda t: [srv.put(f"{key}{t}-{i}", i)
                              for i in range(250)])
    rt.join(60)
    stop.set()
    assert len(got) == 2000, len(got)
    # the lazy one was closed: what it holds ends without END_REQUEST
    lazy.settimeout(10)
    data = b""
    while True:
        chunk = lazy.recv(1 << 20)
        if not chunk:
            break
        data += chunk
    assert b"event: change" in data
    assert len(data) < 2000 * 450
    lazy.close()
    reader.close()
    assert srv.get("/api/health").status == 200


def test_long_poll_answered_as_the_worker_stops():
    """SIGTERM while long polls wait: each is answered 200 with what
    there is (no results, last_seq), as when its time comes, so that its
    client polls again; it was a 500 with no body."""
    with harness.running(workers=1, threads=4) as srv:
        assert srv.put("stop/a", 1).status == 201
        got = []

        def poll(_):
            got.append(srv.request("GET", "/api/changes?prefix=stop/b&"
                                   "since=1&wait=30", timeout=20))
        threads = [threading.Thread(target=poll, args=(i,))
                   for i in range(3)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 10
        while harness.metric(srv.get("/api/metrics").body.decode(),
                             "verstore_watchers") != 3:
            assert time.monotonic() < deadline, "the polls never waited"
            time.sleep(0.05)
        t0 = time.monotonic()
        srv.vs.send_signal(15)
        for t in threads:
            t.join(20)
        assert time.monotonic() - t0 < 10
        assert [r.status for r in got] == [200] * 3, got
        assert all(r.json == {"results": [], "last_seq": 1} for r in got), got
