"""Bytes that no client should send: each gets a 4xx problem+json (or is
refused by nginx), changes nothing, and no worker crashes or hangs: the
worker pids are the same before and after."""
import json
import os
import random
import socket
import time

import harness

SERVER = {"workers": 2, "threads": 4}
RNG = random.Random(20261122)


def problem(status, body):
    assert 400 <= status < 500, (status, body[:200])
    p = json.loads(body)
    assert p["status"] == status and p["code"], p
    return p


def test_random_bodies(srv):
    before = srv.worker_pids()
    srv.put("bad/victim", "intact")
    for i in range(60):
        body = bytes(RNG.randrange(256) for _ in range(RNG.randrange(1, 4096)))
        ct = RNG.choice(["application/json", "text/plain", None,
                         "application/json; charset=utf-8"])
        h = {"Content-Type": ct} if ct else {"Content-Type": ""}
        r = srv.request("PUT", "/api/storage/bad/victim", body, h)
        problem(r.status, r.body)
    r = srv.get("/api/storage/bad/victim")
    assert r.json["value"] == "intact" and r.json["version"] == 1
    assert srv.worker_pids() == before


def raw_request(srv, head_lines, body=b""):
    data = b"\r\n".join(head_lines) + b"\r\n\r\n" + body
    out = srv.raw(data)
    status_line, _, rest = out.partition(b"\r\n")
    status = int(status_line.split()[1])
    body = rest.partition(b"\r\n\r\n")[2]
    return status, body


def test_random_header_values(srv):
    before = srv.worker_pids()
    srv.put("bad/hdr", "intact")
    names = [b"If-Match", b"If-None-Match", b"If-Modified-Since",
             b"If-Unmodified-Since", b"Prefer", b"Content-Type"]
    for i in range(80):
        # any byte but CR, LF and NUL (nginx refuses those in headers itself)
        value = bytes(RNG.choice([b for b in range(1, 256) if b not in (10, 13)])
                      for _ in range(RNG.randrange(1, 3000)))
        name = RNG.choice(names)
        lines = [b"PUT /api/storage/bad/hdr HTTP/1.1", b"Host: x",
                 name + b": " + value, b"Content-Length: 12",
                 b"Connection: close"]
        if name != b"Content-Type":
            lines.insert(2, b"Content-Type: application/json")
        status, body = raw_request(srv, lines, b'{"value": 2}')
        if status >= 300:
            problem(status, body)
        else:
            # Prefer noise and If-Modified-Since (read-only: ignored on PUT)
            assert status == 200 and name in (b"Prefer", b"If-Modified-Since"), \
                (status, name, value[:80])
            srv.put("bad/hdr", "intact")
    assert srv.worker_pids() == before


def test_nginx_refusals_are_problems(srv):
    status, body = raw_request(srv, [
        b"PUT /api/storage/x HTTP/1.1", b"Host: x",
        b"Content-Type: application/json", b"Content-Length: abc"])
    assert problem(status, body)["code"] == "INVALID_REQUEST"
    status, body = raw_request(srv, [b"GET /api/storage/a%zz HTTP/1.1",
                                     b"Host: x", b"Connection: close"])
    assert problem(status, body)["code"] == "INVALID_KEY"
    status, body = raw_request(srv, [b"GET /api/storage/a%00b HTTP/1.1",
                                     b"Host: x", b"Connection: close"])
    assert problem(status, body)["code"] == "INVALID_KEY"


def base_params(srv, **kw):
    p = {"REQUEST_METHOD": "PUT", "REQUEST_URI": "/api/storage/bad/fcgi",
         "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": "12"}
    p.update(kw)
    return {k: v for k, v in p.items() if v is not None}


def test_fastcgi_content_length_garbage(srv):
    before = srv.worker_pids()
    for cl in ("abc", "-1", "1e3", " 12", "12 ", "+12", "0x10",
               "99999999999999999999999", "18446744073709551616"):
        h, body = harness.fcgi_request(srv.sock, base_params(srv, CONTENT_LENGTH=cl),
                                       b'{"value": 1}')
        status = int(h["status"].split()[0])
        problem(status, body)
    assert srv.get("/api/storage/bad/fcgi").status == 404
    assert srv.worker_pids() == before


def test_fastcgi_body_without_length(srv):
    """No CONTENT_LENGTH (or an empty one), as Apache sends a chunked body:
    the body is STDIN to its empty record, in records that come apart in
    time; past max_body (1 MiB) 413, read and dropped, nothing written."""
    before = srv.worker_pids()
    for cl, key in ((None, "bad/open1"), ("", "bad/open2")):
        s = harness.fcgi_connect(srv.sock, base_params(
            srv, CONTENT_LENGTH=cl, REQUEST_URI="/api/storage/" + key))
        for part in (b'{"val', b'ue": ', b'"open"}'):
            harness.fcgi_send_stdin(s, part, end=False)
            time.sleep(0.1)
        harness.fcgi_send_stdin(s, b"")
        h, out = harness.fcgi_read(s)
        assert h["status"].startswith("201"), (h, out)
        assert srv.get("/api/storage/" + key).json["value"] == "open"
    body = b'{"value": "' + b"x" * (1 << 20) + b'"}'
    h, out = harness.fcgi_request(
        srv.sock, base_params(srv, CONTENT_LENGTH=None), body)
    assert problem(int(h["status"].split()[0]), out)["code"] == "TOO_LARGE"
    h, out = harness.fcgi_request(
        srv.sock, base_params(srv, CONTENT_LENGTH=None), b"")
    assert problem(int(h["status"].split()[0]), out)["code"] == "INVALID_JSON"
    assert srv.get("/api/storage/bad/fcgi").status == 404
    assert srv.worker_pids() == before


def test_fastcgi_target_not_origin_form(srv):
    """A REQUEST_URI that is not origin-form (lighttpd passes a raw space
    on): 400, INVALID_KEY on a key or a set, INVALID_REQUEST elsewhere,
    nothing written; the key spelt right is written."""
    for uri, code in (("/api/storage/tgt/sp ace", "INVALID_KEY"),
                      ("/api/storage/tgt/a\"b", "INVALID_KEY"),
                      (b"/api/storage/tgt/caf\xc3\xa9", "INVALID_KEY"),
                      ("/api/activities/s p", "INVALID_KEY"),
                      ("/api/storage/tgt/x?a=b c", "INVALID_KEY"),
                      ("/api/txn?x y", "INVALID_REQUEST"),
                      ("/api/no where", "INVALID_REQUEST")):
        h, out = harness.fcgi_request(
            srv.sock, base_params(srv, REQUEST_URI=uri), b'{"value": 1}')
        assert problem(int(h["status"].split()[0]), out)["code"] == code, uri
    assert srv.get("/api/storage/tgt/").json["items"] == []
    h, out = harness.fcgi_request(srv.sock, base_params(
        srv, REQUEST_URI="/api/storage/tgt/sp%20ace"), b'{"value": 1}')
    assert h["status"].startswith("201"), out
    assert srv.get("/api/storage/tgt/sp%20ace").json["value"] == 1
    assert srv.delete("tgt/sp%20ace").status == 200


def test_fastcgi_without_request_uri(srv):
    """No REQUEST_URI (cgi-fcgi, some front-ends): the target is SCRIPT_NAME
    + PATH_INFO, which the front-end has decoded, encoded again, and
    '?' QUERY_STRING; a key with a space, a '%' and UTF-8 in it is the key
    that the same request through nginx names."""
    key = "nouri/a b%c\u00e9"
    for script, info in (("/api/storage", "/" + key), ("", "/api/storage/" + key)):
        h, out = harness.fcgi_request(srv.sock, base_params(
            srv, REQUEST_URI=None, SCRIPT_NAME=script,
            PATH_INFO=info.encode()), b'{"value": 1}')
        assert h["status"][:3] == ("201" if script else "200"), (h, out)
        assert json.loads(out)["key"] == key, out
    r = srv.get("/api/storage/nouri/a%20b%25c%C3%A9")
    assert r.status == 200 and r.json["version"] == 2, r
    h, out = harness.fcgi_request(srv.sock, base_params(
        srv, REQUEST_METHOD="GET", REQUEST_URI=None, CONTENT_LENGTH=None,
        SCRIPT_NAME="/api/storage/nouri/", QUERY_STRING="limit=1&values=1"))
    assert h["status"].startswith("200"), out
    assert [i["value"] for i in json.loads(out)["items"]] == [1], out
    # none of the three: no target, 400 (not a 404 for "")
    h, out = harness.fcgi_request(
        srv.sock, base_params(srv, REQUEST_URI=None), b'{"value": 1}')
    assert problem(int(h["status"].split()[0]), out)["code"] == \
        "INVALID_REQUEST"


def test_fastcgi_length_mismatch(srv):
    before = srv.worker_pids()
    # says 100, sends 12: refused, nothing written
    h, body = harness.fcgi_request(srv.sock, base_params(srv, CONTENT_LENGTH="100"),
                                   b'{"value": 1}')
    problem(int(h["status"].split()[0]), body)
    # says 5, sends 12: only 5 bytes are the body -> not JSON
    h, body = harness.fcgi_request(srv.sock, base_params(srv, CONTENT_LENGTH="5"),
                                   b'{"value": 1}')
    problem(int(h["status"].split()[0]), body)
    assert srv.get("/api/storage/bad/fcgi").status == 404
    assert srv.worker_pids() == before


def test_fastcgi_body_over_max_body(srv):
    """Straight to the socket, past nginx's client_max_body_size: 413, and
    the body is read and dropped, not kept."""
    before = srv.worker_pids()
    body = b'{"value": "' + b"x" * (2 << 20) + b'"}'
    h, out = harness.fcgi_request(
        srv.sock, base_params(srv, CONTENT_LENGTH=str(len(body))), body)
    assert problem(int(h["status"].split()[0]), out)["code"] == "TOO_LARGE"
    assert srv.get("/api/storage/bad/fcgi").status == 404
    assert srv.worker_pids() == before


def test_fastcgi_missing_and_odd_params(srv):
    before = srv.worker_pids()
    cases = [
        base_params(srv, REQUEST_METHOD=None),
        base_params(srv, REQUEST_URI=None),
        base_params(srv, REQUEST_URI=""),
        base_params(srv, REQUEST_URI="/api/storage/\x01\x02"),
        base_params(srv, REQUEST_URI="/api/storage/" + "x" * 60000),
        base_params(srv, REQUEST_URI=b"/api/storage/\xff\xfe"),
        base_params(srv, REQUEST_METHOD="P" * 5000),
        base_params(srv, HTTP_IF_MATCH="\"" * 10000),
        base_params(srv, HTTP_IF_UNMODIFIED_SINCE="\x00" * 50),
    ]
    for params in cases:
        h, body = harness.fcgi_request(srv.sock, params, b'{"value": 1}')
        problem(int(h["status"].split()[0]), body)
    # A NUL inside a param ends it (libfcgi hands out C strings): nginx never
    # sends one, and it must not crash anything.
    h, body = harness.fcgi_request(
        srv.sock, base_params(srv, REQUEST_URI="/api/storage/nul\x00/../x"),
        b'{"value": 1}')
    assert int(h["status"].split()[0]) < 500
    assert srv.worker_pids() == before


def test_fastcgi_random_stdin_and_truncation(srv):
    before = srv.worker_pids()
    for i in range(30):
        n = RNG.randrange(0, 5000)
        body = bytes(RNG.randrange(256) for _ in range(n))
        h, out = harness.fcgi_request(
            srv.sock, base_params(srv, CONTENT_LENGTH=str(n)), body)
        problem(int(h["status"].split()[0]), out)
    # connections dropped at every stage of a request
    for cut in range(0, 60, 7):
        s = socket.socket(socket.AF_UNIX)
        s.connect(srv.sock)
        blob = (harness._rec(harness.FCGI_BEGIN, b"\0\1\0\0\0\0\0\0") +
                harness._rec(harness.FCGI_PARAMS, harness.fcgi_params(
                    base_params(srv))))
        s.sendall(blob[:cut])
        s.close()
    # random bytes instead of FastCGI records
    for i in range(10):
        s = socket.socket(socket.AF_UNIX)
        s.connect(srv.sock)
        s.sendall(os.urandom(RNG.randrange(1, 2000)))
        s.close()
    assert srv.get("/api/health").status == 200
    assert srv.worker_pids() == before


def test_all_threads_still_serve(srv):
    """After all of the above, every thread of every worker still answers:
    more concurrent requests than threads all complete."""
    rs = harness.run_threads(24, lambda i: srv.put(f"bad/after/{i}", i))
    assert all(r.status == 201 for r in rs), [r.status for r in rs]


MAX = 2**63 - 1
RANGE = "9223372036854775807"


def range_problem(r, name, low):
    p = problem(r.status, r.body)
    assert r.status == 400 and p["code"] == "INVALID_REQUEST", r
    assert f"{low} to {RANGE}" in p["message"], p
    if name is not None:
        assert p["parameter"] == name, p
    return p


def sse_status(srv, last_id):
    """The status of a stream opened with Last-Event-ID, and its body when
    it is not a stream."""
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    s.sendall(("GET /api/changes?since=0&prefix=int%2F HTTP/1.0\r\n"
               "Host: x\r\nAccept: text/event-stream\r\n"
               f"Last-Event-ID: {last_id}\r\n\r\n").encode())
    got = b""
    while b"\r\n\r\n" not in got:
        chunk = s.recv(4096)
        if not chunk:
            break
        got += chunk
    status = int(got.split(b" ", 2)[1])
    if status != 200:
        while chunk:
            chunk = s.recv(4096)
            got += chunk
    s.close()
    return status, got.split(b"\r\n\r\n", 1)[1]


def test_integers_reach_2_63_minus_1(srv):
    """Every integer a request names (query parameters, versions in bodies
    and If-Match, Last-Event-ID) takes 0 to 2^63-1, any number of digits
    with leading zeros, and beyond that is 400 naming the range."""
    before = srv.worker_pids()
    assert srv.put("int/a", 1).status == 201
    top = srv.get("/api/changes?since=0&limit=1000").json["last_seq"]
    for since in ("10000000000", RANGE, "0" * 30 + RANGE):
        r = srv.get(f"/api/changes?since={since}")
        assert r.status == 200 and r.json["results"] == [], (since, r)
        assert r.json["last_seq"] == top, r
    r = srv.get("/api/changes?since=0000000000000&limit=00000000000001")
    assert r.status == 200 and len(r.json["results"]) == 1, r
    for since in (str(MAX + 1), str(2**64), "99999999999999999999",
                  "18446744073709551617", "-1", "1e3", ""):
        range_problem(srv.get(f"/api/changes?since={since}"), "since", 0)
    for limit in ("0", "1001", "10000000001", "99999999999999999999"):
        r = srv.get(f"/api/changes?limit={limit}")
        assert "(1 to 1000)" in problem(r.status, r.body)["message"], r

    # a version that no key has is not one, nor malformed
    for v in ("10000000000", RANGE):
        r = srv.get(f"/api/storage/int/a?version={v}")
        assert r.status == 404, (v, r)
        assert r.json["code"] in ("NOT_FOUND", "VERSION_GONE"), r
    for v in (str(MAX + 1), "99999999999999999999"):
        range_problem(srv.get(f"/api/storage/int/a?version={v}"), "version",
                      1)
    # as a body token: a conflict, never a 400 below the bound
    for v in ("10000000000", RANGE):
        r = srv.delete("int/a", query=f"?version={v}")
        assert r.status == 409 and r.json["code"] == "VERSION_CONFLICT", r
        r = srv.request("PUT", "/api/storage/int/a",
                        '{"value": 2, "version": %s}' % v,
                        {"Content-Type": "application/json"})
        assert r.status == 409 and r.json["code"] == "VERSION_CONFLICT", r
        r = srv.request("POST", "/api/txn", '{"ops": [{"op": "check", '
                        '"key": "int/a", "version": %s}]}' % v,
                        {"Content-Type": "application/json"})
        assert r.status == 409 and r.json["op_index"] == 0, r
        r = srv.request("PUT", "/api/storage/int/a", '{"value": 2}',
                        {"Content-Type": "application/json", "If-Match": v})
        assert r.status == 412, (v, r)
    for v in (str(MAX + 1), "99999999999999999999"):
        range_problem(srv.delete("int/a", query=f"?version={v}"), "version",
                      0)
        range_problem(srv.request("PUT", "/api/storage/int/a",
                                  '{"value": 2, "version": %s}' % v,
                                  {"Content-Type": "application/json"}),
                      None, 0)
        range_problem(srv.request("POST", "/api/txn",
                                  '{"ops": [{"op": "check", "key": "int/a", '
                                  '"version": %s}]}' % v,
                                  {"Content-Type": "application/json"}),
                      None, 0)
        r = srv.request("PUT", "/api/storage/int/a", '{"value": 2}',
                        {"Content-Type": "application/json", "If-Match": v})
        assert problem(r.status, r.body)["code"] == "INVALID_REQUEST", r

    # Last-Event-ID: the same bounds
    for last in (RANGE, "10000000000", "0" * 25 + "7"):
        status, body = sse_status(srv, last)
        assert status == 200, (last, status, body)
    for last in (str(MAX + 1), "9999999999999999999", "99999999999999999999",
                 "-1"):
        status, body = sse_status(srv, last)
        p = problem(status, body)
        assert p["code"] == "INVALID_REQUEST", p
        assert f"0 to {RANGE}" in p["message"], p

    r = srv.get("/api/storage/int/a")
    assert r.json["version"] == 1 and r.json["value"] == 1, r
    assert srv.worker_pids() == before
