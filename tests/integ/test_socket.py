"""The FastCGI socket against a hostile or broken peer: record lengths that
overflow, connections that send nothing, too little or the wrong records,
clients that trickle. Each is held open while /api/health must still
answer through nginx within a second; verstored closes each such
connection (at once, or at request_timeout); no worker dies. Also the
socket's permissions."""
import grp
import os
import socket
import stat
import struct
import time

import harness
from harness import FCGI_BEGIN, FCGI_PARAMS, FCGI_STDIN, _rec, running

# 8 request threads in all: the tests hold more connections than that.
SERVER = {"workers": 2, "threads": 4, "conf": "request_timeout 2"}
HELD = 12
FCGI_ABORT, FCGI_GET_VALUES = 2, 9


def begin(flags=0, req_id=1):
    return _rec(FCGI_BEGIN, struct.pack(">HB5x", 1, flags), req_id)


def params(p, req_id=1):
    return _rec(FCGI_PARAMS, harness.fcgi_params(p), req_id)


def end_params(req_id=1):
    return _rec(FCGI_PARAMS, b"", req_id)


HEALTH = {"REQUEST_METHOD": "GET", "REQUEST_URI": "/api/health"}
PUT = {"REQUEST_METHOD": "PUT", "REQUEST_URI": "/api/storage/sock/slow",
       "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": "20"}


def raw_conn(srv, data, timeout=10):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(srv.sock)
    if data:
        s.sendall(data)
    return s


def health_answers(srv, times=3):
    """/api/health through nginx, each within 1 s."""
    for _ in range(times):
        t0 = time.monotonic()
        r = srv.request("GET", "/api/health", timeout=1)
        assert r.status == 200, r
        assert time.monotonic() - t0 < 1


def closed_by_server(s, within):
    """True when the peer closes s within `within` seconds (what it sends
    first is read and dropped)."""
    deadline = time.monotonic() + within
    try:
        while time.monotonic() < deadline:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                if s.recv(65536) == b"":
                    return True
            except socket.timeout:
                return False
    except (ConnectionResetError, BrokenPipeError):
        return True
    return False


def close_all(conns):
    for s in conns:
        s.close()


def while_held(srv, data, n, close_within=None, times=3, what=""):
    """Holds n connections that sent data: /api/health answers meanwhile,
    verstored closes each within close_within seconds (when given), and
    no worker dies."""
    before = srv.worker_pids()
    conns = [raw_conn(srv, data) for _ in range(n)]
    try:
        health_answers(srv, times)
        if close_within is not None:
            for s in conns:
                assert closed_by_server(s, close_within), what
    finally:
        close_all(conns)
    assert srv.worker_pids() == before, what


def test_socket_modes(srv):
    st = os.stat(srv.sock)
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o660, oct(st.st_mode)
    dst = os.stat(os.path.dirname(srv.sock))
    assert stat.S_IMODE(dst.st_mode) == 0o750, oct(dst.st_mode)
    if os.geteuid() == 0:
        gid = grp.getgrnam("nogroup").gr_gid
        assert st.st_gid == gid and dst.st_gid == gid, (st, dst)


def test_overflowing_param_lengths(srv):
    """nameLen = valueLen = 0x3fffffff: libfcgi's sum overflows."""
    evil = _rec(FCGI_PARAMS, b"\xbf\xff\xff\xff" * 2 + b"A" * 64)
    while_held(srv, begin() + evil + end_params(), 4, close_within=1)


def test_idle_connections(srv):
    while_held(srv, b"", 200)


def test_params_and_no_body(srv):
    while_held(srv, begin() + params(PUT) + end_params(), 40,
               close_within=3)      # request_timeout 2
    assert srv.get("/api/storage/sock/slow").status == 404


MALFORMED = {
    "unknown type": _rec(20, b"\0" * 8, 0),
    "get values": _rec(FCGI_GET_VALUES, harness.fcgi_params(
        {"FCGI_MAX_CONNS": "", "FCGI_MPXS_CONNS": ""}), 0),
    "abort before params": begin() + _rec(FCGI_ABORT, b""),
    # a header that announces 1000 bytes of params, and 10 of them
    "truncated length": begin() + struct.pack(">BBHHBx", 1, FCGI_PARAMS, 1,
                                              1000, 0) + b"\x0e\x03" + b"x" * 8,
    "unterminated params": begin() + params(HEALTH),
    "second request id": begin() + params(HEALTH, req_id=2),
}


def test_malformed_records(srv):
    for kind, data in MALFORMED.items():
        while_held(srv, data, HELD, close_within=3, times=2, what=kind)


def read_answer(s):
    """Reads one answer's records; returns (status line, rest of the
    bytes received after END_REQUEST)."""
    buf, out = b"", b""
    while True:
        chunk = s.recv(65536)
        assert chunk, "closed before the answer"
        buf += chunk
        while len(buf) >= 8:
            _, kind, _, clen, pad = struct.unpack(">BBHHBx", buf[:8])
            if len(buf) < 8 + clen + pad:
                break
            content, buf = buf[8:8 + clen], buf[8 + clen + pad:]
            if kind == harness.FCGI_STDOUT:
                out += content
            elif kind == harness.FCGI_END:
                return out.split(b"\r\n")[0], buf


def test_keep_conn_answered_then_kept(srv):
    before = srv.worker_pids()
    conns = [raw_conn(srv, begin(flags=1) + params(HEALTH) + end_params() +
                      _rec(FCGI_STDIN, b"")) for _ in range(HELD)]
    try:
        for s in conns:
            status, rest = read_answer(s)
            assert status.startswith(b"Status: 200"), status
            assert rest == b""
        # kept for their next request, until request_timeout (2 s)
        assert not any(closed_by_server(s, 0.05) for s in conns)
        health_answers(srv)
        assert all(closed_by_server(s, 3) for s in conns)
    finally:
        close_all(conns)
    assert srv.worker_pids() == before


def test_slow_request_closed_at_deadline(srv):
    """Params, then a body trickled slower than request_timeout allows."""
    s = raw_conn(srv, begin() + params(PUT) + end_params())
    t0 = time.monotonic()
    closed = False
    try:
        for i in range(20):
            try:
                s.sendall(_rec(FCGI_STDIN, b"x"))
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            if closed_by_server(s, 0.4):
                closed = True
                break
    finally:
        s.close()
    took = time.monotonic() - t0
    assert closed and 1.5 < took < 3.5, (closed, took)
    assert srv.get("/api/storage/sock/slow").status == 404
    health_answers(srv, 1)


def test_max_conns_closes_the_oldest():
    with running(workers=1, threads=2,
                 conf="max_conns 16\nrequest_timeout 30") as srv:
        before = srv.worker_pids()
        conns = [raw_conn(srv, b"") for _ in range(40)]
        try:
            health_answers(srv)
            assert closed_by_server(conns[0], 1)        # made room
            assert not closed_by_server(conns[-1], 0.2)
        finally:
            close_all(conns)
        assert srv.worker_pids() == before
