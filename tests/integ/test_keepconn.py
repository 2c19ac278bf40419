"""Kept FastCGI connections (FCGI_KEEP_CONN): a front-end that asks for
it (nginx's fastcgi_keep_conn, Apache's enablereuse) sends request after
request on one connection; without the flag the connection is closed
after its answer; an idle kept connection is closed after
request_timeout, counts against max_conns, and never holds up a stop."""
import json
import socket
import time

import struct

from harness import (FCGI_BEGIN, FCGI_PARAMS, FCGI_STDIN, _rec, fcgi_connect,
                     fcgi_params, fcgi_read, fcgi_send_stdin, running)

SERVER = {"workers": 1, "threads": 4}


def req(srv, method, uri, body=b"", s=None, keep=True):
    params = {"REQUEST_METHOD": method, "REQUEST_URI": uri}
    if body:
        params.update(CONTENT_TYPE="application/json",
                      CONTENT_LENGTH=str(len(body)))
    s = fcgi_connect(srv.sock, params, keep=keep, s=s)
    fcgi_send_stdin(s, body)
    head, out = fcgi_read(s, close=False)
    return s, head, out


def closed(s, timeout=5):
    """True when the peer closed s (and sent nothing more) in time."""
    s.settimeout(timeout)
    try:
        return s.recv(1) == b""
    except (socket.timeout, ConnectionResetError):
        return False


def test_many_requests_on_one_kept_connection(srv):
    s = None
    for i in range(1, 51):
        body = json.dumps({"value": i}).encode()
        s, head, out = req(srv, "PUT", "/api/storage/keep/k", body, s)
        assert head.get("status", "200").startswith(("200", "201")), head
        s, head, out = req(srv, "GET", "/api/storage/keep/k", s=s)
        assert json.loads(out)["value"] == i, out
    # the connection is still there for the next one
    s, head, out = req(srv, "GET", "/api/health", s=s)
    assert json.loads(out)["status"] == "ok"
    s.close()


def test_connection_without_the_flag_is_closed(srv):
    s, head, out = req(srv, "GET", "/api/health", keep=False)
    assert json.loads(out)["status"] == "ok"
    assert closed(s)


def test_bytes_after_a_request_are_not_kept(srv):
    """A second request sent before the first was answered is not read
    from the end of the first: the connection is closed after the first
    answer instead."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(srv.sock)
    one = _rec(FCGI_BEGIN, struct.pack(">HB5x", 1, 1)) + \
        _rec(FCGI_PARAMS, fcgi_params({"REQUEST_METHOD": "GET",
                                       "REQUEST_URI": "/api/health"})) + \
        _rec(FCGI_PARAMS, b"") + _rec(FCGI_STDIN, b"")
    s.sendall(one + one)
    head, out = fcgi_read(s, close=False)
    assert json.loads(out)["status"] == "ok"
    assert closed(s)


def test_idle_kept_connection_closed_after_request_timeout():
    with running(workers=1, threads=2, conf="request_timeout 1\n") as srv:
        s, _, _ = req(srv, "GET", "/api/health")
        t0 = time.monotonic()
        assert closed(s, 5)
        assert 0.8 < time.monotonic() - t0 < 4
        # one that goes on in time is served
        s, _, _ = req(srv, "GET", "/api/health")
        time.sleep(0.5)
        s, _, out = req(srv, "GET", "/api/health", s=s)
        assert json.loads(out)["status"] == "ok"
        s.close()


def test_idle_kept_connections_count_against_max_conns():
    with running(workers=1, threads=2, conf="max_conns 16\n") as srv:
        idle = [req(srv, "GET", "/api/health")[0] for _ in range(16)]
        # every new connection is served: the oldest idle ones make room
        for _ in range(8):
            s, _, out = req(srv, "GET", "/api/health", keep=False)
            assert json.loads(out)["status"] == "ok"
        time.sleep(0.3)
        gone = sum(closed(s, 0.05) for s in idle)
        assert 1 <= gone <= 8, gone
        for s in idle:
            s.close()


def test_idle_kept_connections_do_not_hold_up_a_stop():
    with running(workers=1, threads=2, conf="shutdown_timeout 10\n") as srv:
        idle = [req(srv, "GET", "/api/health")[0] for _ in range(8)]
        t0 = time.monotonic()
        assert srv.stop_verstored() == 0
        assert time.monotonic() - t0 < 3
        assert "cut off" not in srv.log()
        for s in idle:
            assert closed(s, 1)
            s.close()


def connected(path):
    """The connected unix sockets bound to path: verstored's ends of its
    connections (/proc/net/unix names an accepted socket by its
    listener's path)."""
    n = 0
    with open("/proc/net/unix") as f:
        next(f)
        for line in f:
            cols = line.split()
            if len(cols) >= 8 and cols[7] == path and cols[5] == "03":
                n += 1
    return n


def test_nginx_keeps_its_connections(srv):
    """The example site's upstream keeps connections: 100 requests one
    after another leave one connection open, not 100 made and closed."""
    for i in range(100):
        assert srv.get("/api/health").status == 200
    n = connected(srv.sock)
    assert 1 <= n <= 2, n
    for i in range(20):
        assert srv.put(f"keep/n{i}", i).status in (200, 201)
    assert connected(srv.sock) <= 2
