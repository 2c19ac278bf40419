"""What the front-end stands for between the client and verstored, through
each of them (nginx in the first pass, Apache and lighttpd in theirs, their
sites built from conf/*.conf.example): the site and the client library, a
chunked body sent in pieces, the front-end's own refusals as problem+json
with the codes of API.md, events streamed as they come, a closed stream
that frees what held it, and verstored out of reach."""
import email.utils
import http.client
import json
import re
import socket
import time

import harness

SERVER = {"workers": 2, "threads": 4}
VERSION = re.compile(r"(nginx|Apache|lighttpd)/\d")


def raw(srv, data, timeout=10):
    """A request as bytes (ending with Connection: close); the answer
    parsed: (status, headers, body)."""
    out = srv.raw(data, timeout=timeout)
    head, _, body = out.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:              # repeated: one, comma-joined
        k, _, v = line.partition(":")
        k, v = k.strip().lower(), v.strip()
        headers[k] = f"{headers[k]}, {v}" if k in headers else v
    if headers.get("transfer-encoding") == "chunked":
        plain = b""
        while body:
            size, _, rest = body.partition(b"\r\n")
            n = int(size, 16)
            if n == 0:
                break
            plain, body = plain + rest[:n], rest[n + 2:]
        body = plain
    return int(lines[0].split()[1]), headers, body


def problem(status, headers, body, want_status, code):
    assert status == want_status, (status, headers, body[:300])
    assert headers.get("content-type") == "application/problem+json", \
        (headers, body[:300])
    p = json.loads(body)
    assert p["status"] == want_status and p["code"] == code, p
    assert p["message"], p
    for v in list(headers.values()) + [body.decode("latin-1")]:
        assert not VERSION.search(v), v
    return p


def test_site_and_client_library(srv):
    r = srv.get("/")
    assert r.status == 200 and b"<title>app" in r.body, r
    r = srv.get("/verstore.js")
    assert r.status == 200 and b"export class Verstore" in r.body, r
    assert "javascript" in r.h("content-type"), r
    assert srv.get("/conflict.js").status == 200
    assert srv.get("/offline.js").status == 200
    r = srv.get("/api/health")
    assert r.status == 200 and r.json == {"status": "ok"}, r


def test_chunked_body_in_pieces(srv):
    """Transfer-Encoding: chunked, the chunks 0.2 s apart (Apache passes
    them on as they come, without a length): the whole body is the value."""
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    s.sendall(b"PUT /api/storage/fe/chunked HTTP/1.1\r\nHost: x\r\n"
              b"Content-Type: application/json\r\n"
              b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
    for part in (b'{"value":', b' "in ', b'pieces"}'):
        s.sendall(b"%x\r\n%s\r\n" % (len(part), part))
        time.sleep(0.2)
    s.sendall(b"0\r\n\r\n")
    out = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        out += chunk
    s.close()
    assert out.startswith(b"HTTP/1.1 201"), out
    assert srv.get("/api/storage/fe/chunked").json["value"] == "in pieces"


def test_bodies_over_max_body(srv):
    """Over max_body (1 MiB), with a length or chunked: 413 TOO_LARGE as
    problem+json, whether the front-end or verstored refuses it."""
    big = json.dumps({"value": "x" * (1 << 20)}).encode()
    for chunked in (False, True):
        c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
        h = {"Content-Type": "application/json"}
        if chunked:
            c.putrequest("PUT", "/api/storage/fe/big")
            for k, v in dict(h, **{"Transfer-Encoding": "chunked"}).items():
                c.putheader(k, v)
            c.endheaders()
            try:
                for i in range(0, len(big), 65536):
                    part = big[i:i + 65536]
                    c.send(b"%x\r\n%s\r\n" % (len(part), part))
                c.send(b"0\r\n\r\n")
            except OSError:
                pass        # refused before the end: the answer is there
        else:
            c.request("PUT", "/api/storage/fe/big", body=big, headers=h)
        r = c.getresponse()
        body = r.read()
        headers = {k.lower(): v for k, v in r.getheaders()}
        c.close()
        problem(r.status, headers, body, 413, "TOO_LARGE")
    assert srv.get("/api/storage/fe/big").status == 404


def test_refusals_are_problems(srv):
    """Targets the front-end or verstored refuses: the codes of API.md 2
    and 10, as problem+json, nothing written. A NUL is a bad key; a bad
    escape is INVALID_KEY in a key, INVALID_REQUEST elsewhere; so are raw
    UTF-8 and the other characters RFC 3986 does not allow, and a raw
    space (Apache, which cannot read that request line at all, says
    INVALID_REQUEST); TRACE is 405 with Allow."""
    def get(target):
        return raw(srv, b"GET " + target + b" HTTP/1.1\r\nHost: localhost"
                   b"\r\nConnection: close\r\n\r\n")
    problem(*get(b"/api/storage/fe-ref/a%00b"), 400, "INVALID_KEY")
    problem(*get(b"/api/storage/fe-ref/a%zz"), 400, "INVALID_KEY")
    problem(*get(b"/api/activities/a%zz"), 400, "INVALID_KEY")
    problem(*get(b"/api/a%zz"), 400, "INVALID_REQUEST")
    problem(*get(b"/api/storage/fe-ref/a/../b"), 400, "INVALID_KEY")
    for t in (b"caf\xc3\xa9", b'a"b', b"a{b}"):     # not RFC 3986's
        problem(*get(b"/api/storage/fe-ref/" + t), 400, "INVALID_KEY")
    space = "INVALID_REQUEST" if srv.frontend == "apache" else "INVALID_KEY"
    problem(*get(b"/api/storage/fe-ref/sp ace"), 400, space)
    st, h, body = raw(srv, b"TRACE /api/storage/fe/t HTTP/1.1\r\n"
                      b"Host: localhost\r\nConnection: close\r\n\r\n")
    problem(st, h, body, 405, "METHOD_NOT_ALLOWED")
    assert "PUT" in h["allow"] and "GET" in h["allow"], h
    # an encoded '/' reaches verstored: the key x/y (API.md 2)
    assert srv.put("fe-ref/x%2Fy", 1).status == 201
    assert srv.get("/api/storage/fe-ref/x/y").json["value"] == 1
    assert [i["key"] for i in srv.get("/api/storage/fe-ref/").json["items"]] \
        == ["fe-ref/x/y"]


def watchers(srv):
    return harness.metric(srv.get("/api/metrics").body.decode(),
                          "verstore_watchers")


def sse_open(srv, prefix):
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    s.sendall(f"GET /api/changes?since=999999999&prefix={prefix} HTTP/1.1"
              "\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n".encode())
    return s


def recv_until(s, pattern, timeout):
    """Reads until pattern (bytes) came; returns what came, or fails."""
    got, deadline = b"", time.monotonic() + timeout
    while pattern not in got:
        left = deadline - time.monotonic()
        assert left > 0, f"{pattern!r} not within {timeout} s: {got[-300:]!r}"
        s.settimeout(left)
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            continue
        assert chunk, f"closed before {pattern!r}: {got[-300:]!r}"
        got += chunk
    return got


def test_events_stream_as_they_come(srv):
    """The stream's head comes at once, before any change, and each change
    within a second or two, not when some buffer fills or the stream
    ends."""
    s = sse_open(srv, "fe-ev%2F")
    head = recv_until(s, b"\r\n\r\n", 3)
    assert head.startswith(b"HTTP/1.1 200") and b"text/event-stream" in head
    for i in range(3):
        assert srv.put(f"fe-ev/k{i}", i).status == 201
        recv_until(s, f'"key":"fe-ev/k{i}"'.encode(), 3)
    s.close()


def wait_watchers(srv, n, prefix, timeout):
    """Waits until n watchers are left, writing a key under prefix every
    0.3 s: an event for each stream to pass on."""
    deadline, i = time.monotonic() + timeout, 0
    while watchers(srv) != n:
        assert time.monotonic() < deadline, \
            f"{watchers(srv)} watchers, not {n}, after {timeout} s"
        srv.put(f"{prefix}/k{i}", i)
        i += 1
        time.sleep(0.3)


def test_closed_stream_holds_nothing(srv):
    """A client that closes its event stream: the front-end notices at the
    next event it passes on and lets go of verstored's connection, so the
    watcher is gone (no Apache thread, no lighttpd connection stays)."""
    wait_watchers(srv, 0, "fe-ev", 15)      # the stream the test above closed
    streams = [sse_open(srv, "fe-close%2F") for _ in range(3)]
    for s in streams:
        recv_until(s, b"\r\n\r\n", 3)
    deadline = time.monotonic() + 3
    while watchers(srv) != 3:
        assert time.monotonic() < deadline, watchers(srv)
        time.sleep(0.05)
    for s in streams:
        s.close()
    wait_watchers(srv, 0, "fe-close", 15)


@harness.frontends("apache")
def test_last_modified_through_apache(srv):
    """Apache never sends a Last-Modified ahead of its clock: a key written
    twice within a second shows the same one twice (API.md 1 through
    Apache). If-Unmodified-Since with it is refused, never let through;
    If-Match is the precondition that works."""
    r1 = srv.put("fe/lm", 1)
    r2 = srv.put("fe/lm", 2)
    lm1 = email.utils.parsedate_to_datetime(r1.h("last-modified"))
    lm2 = email.utils.parsedate_to_datetime(r2.h("last-modified"))
    now = email.utils.parsedate_to_datetime(r2.h("date"))
    assert lm1 <= lm2 <= now, (r1, r2)
    if lm2 == lm1:      # the same second: verstored's is a second ahead
        r = srv.put("fe/lm", 3, {"If-Unmodified-Since": r2.h("last-modified")})
        assert r.status == 412, r
    assert srv.put("fe/lm", 4, {"If-Match": r2.h("etag")}).status == 200


def test_verstored_out_of_reach(srv):
    """verstored stopped: the front-end's own 502 or 503, UNAVAILABLE, as
    problem+json; once it is back, the next request is answered (Apache
    does not hold the failure for a minute: retry=0)."""
    srv.stop_verstored()
    try:
        st, h, body = raw(srv, b"GET /api/storage/fe/x HTTP/1.1\r\n"
                          b"Host: localhost\r\nConnection: close\r\n\r\n")
        assert st in (502, 503), (st, body)
        problem(st, h, body, st, "UNAVAILABLE")
        # the front-end cannot know whether a write was applied
        assert b"nothing was written" not in body, body
        assert b"may or may not have been applied" in body, body
    finally:
        srv.start_verstored()
    deadline = time.monotonic() + 10     # lighttpd waits 1 s to retry
    while srv.get("/api/health").status != 200:
        assert time.monotonic() < deadline, "not answered after the restart"
        time.sleep(0.1)
