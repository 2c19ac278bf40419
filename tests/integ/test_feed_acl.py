"""The change feed under tokens limited to prefixes (API.md 7, 9),
through nginx: nothing in an answer, nor when it comes, depends on a key
the token may not read; a prefix outside the token's is 403; a watcher is
woken only for changes it may receive; one principal cannot take every
watcher slot."""
import os
import socket
import tempfile
import time

from harness import metric, recv_all, running, write_tokens

TOKENS_DIR = tempfile.mkdtemp(prefix="verstore-feedacl-")
TOKENS = os.path.join(TOKENS_DIR, "tokens")
SECRETS = {                     # name -> (token, mode, prefixes)
    "admin": ("fa-admin-0123456789abcdefghijklmnopqrstuvwxyz", "rw", ["*"]),
    "alice": ("fa-alice-0123456789abcdefghijklmnopqrstuvwxyz", "ro", ["a/"]),
    "mixed": ("fa-mixed-0123456789abcdefghijklmnopqrstuvwxyz", "ro",
              ["x/", "b/pub/"]),
    "greedy": ("fa-greedy-0123456789abcdefghijklmnopqrstuvwxy", "ro", ["*"]),
}
write_tokens(TOKENS, SECRETS)
os.chmod(TOKENS_DIR, 0o755)
AUTH = f"auth token\ntokens {TOKENS}\n"
SERVER = {"workers": 2, "threads": 8, "conf": AUTH}


def bearer(name):
    return {"Authorization": "Bearer " + SECRETS[name][0]}


def feed(srv, query, who):
    return srv.request("GET", "/api/changes?" + query, headers=bearer(who))


def put(srv, key, value=1):
    r = srv.request("PUT", "/api/storage/" + key, {"value": value},
                    bearer("admin"))
    assert r.status in (200, 201), r
    return r


def seq(srv):
    return feed(srv, "since=999999999", "admin").json["last_seq"]


def test_answers_never_depend_on_hidden_keys(srv):
    """The attack: limit=1 and a prefix under a hidden key; last_seq told
    whether a hidden key started with it, and spelled its name out."""
    put(srv, "b/payroll/ceo", 1)
    s0 = seq(srv)
    put(srv, "b/payroll/ceo", 2)             # s0 + 1: hidden from alice
    put(srv, "a/visible", 1)                 # s0 + 2
    r = feed(srv, f"since={s0}&limit=1", "alice")
    assert r.status == 200, r
    assert [c["key"] for c in r.json["results"]] == ["a/visible"], r.json
    assert r.json["last_seq"] == s0 + 2, r.json
    # a prefix that names a hidden key and one that names none answer alike
    for probe in ("b%2Fpayroll", "b%2Fnothing", "b%2F", "c"):
        r = feed(srv, f"since={s0}&limit=1&prefix={probe}", "alice")
        assert r.status == 403 and r.json["code"] == "FORBIDDEN", (probe, r)
        assert "payroll" not in r.body.decode() or "payroll" in probe, r
    # within the token's prefixes a narrower prefix is served
    r = feed(srv, f"since={s0}&prefix=a%2Fv", "alice")
    assert [c["key"] for c in r.json["results"]] == ["a/visible"], r.json
    # a prefix wider than the token's: only what lies under its prefixes
    put(srv, "b/pub/news", 1)
    put(srv, "b/priv/plan", 1)
    last = seq(srv)
    for query in (f"since={s0}&prefix=b%2F", f"since={s0}"):
        r = feed(srv, query + "&limit=1000", "mixed")
        assert r.status == 200, r
        assert [c["key"] for c in r.json["results"]] == ["b/pub/news"], r
    r = feed(srv, f"since={last - 1}&limit=1&prefix=b%2F", "mixed")
    assert r.json["results"] == [] and r.json["last_seq"] == last, r.json
    # the event stream is bound the same way
    r = srv.request("GET", f"/api/changes?since={s0}&prefix=b%2Fpay",
                    headers={**bearer("alice"), "Accept": "text/event-stream"})
    assert r.status == 403, r


def _park(srv, who, query):
    """A long poll left waiting on its own connection."""
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
    s.sendall((f"GET /api/changes?{query} HTTP/1.1\r\nHost: x\r\n"
               f"Authorization: Bearer {SECRETS[who][0]}\r\n"
               "Connection: close\r\n\r\n").encode())
    return s


def test_watchers_woken_only_for_what_they_may_receive(srv):
    """Watchers of b/ whose token reads only b/pub/ under it sleep through
    writes to the rest of b/, and wake for b/pub/."""
    since = seq(srv)
    socks = [_park(srv, "mixed", f"since={since}&wait=30&prefix=b%2F")
             for _ in range(20)]
    try:
        time.sleep(0.5)                         # all parked by now
        text = srv.get("/api/metrics", bearer("admin")).body.decode()
        before = metric(text, "verstore_watcher_wakeups_total")
        assert before is not None, text
        for i in range(30):
            put(srv, f"b/priv/k{i}", i)
        time.sleep(0.5)                         # the feed threads told
        text = srv.get("/api/metrics", bearer("admin")).body.decode()
        woken = metric(text, "verstore_watcher_wakeups_total") - before
        assert woken < 5, woken                 # 20 x 30 before
        put(srv, "b/pub/wake", 1)
        for s in socks:
            body = recv_all(s, 10)
            assert b" 200 " in body.split(b"\r\n")[0], body
            assert b'"b/pub/wake"' in body and b"b/priv" not in body, body
    finally:
        for s in socks:
            s.close()


def test_one_principal_cannot_take_every_watcher_slot():
    conf = AUTH + "max_watchers 12\nmax_watchers_per_principal 4\n"
    with running(workers=1, threads=4, conf=conf) as srv:
        since = seq(srv)
        q = f"since={since}&wait=30&prefix=w%2F"
        mine = [_park(srv, "greedy", q) for _ in range(4)]
        try:
            time.sleep(0.5)
            r = feed(srv, q, "greedy")
            assert r.status == 503 and r.json["code"] == "UNAVAILABLE", r
            assert "max_watchers_per_principal" in r.json["message"], r
            assert r.headers.get("retry-after"), r
            r = srv.request("GET", "/api/changes?" + q, headers={
                **bearer("greedy"), "Accept": "text/event-stream"})
            assert r.status == 503, r
            # the others still get theirs
            other = _park(srv, "admin", q)
            time.sleep(0.3)
            # a watcher whose client went away gives its slot back
            mine.pop().close()
            time.sleep(0.5)
            again = _park(srv, "greedy", q)
            time.sleep(0.3)
            put(srv, "w/k", 1)
            for s in (other, again):
                assert b'"w/k"' in recv_all(s, 10), "a watcher was not served"
            other.close()
            again.close()
        finally:
            for s in mine:
                s.close()


def test_default_share_is_a_quarter_of_max_watchers():
    with running(workers=1, threads=4, conf=AUTH + "max_watchers 8\n") as srv:
        q = f"since={seq(srv)}&wait=30&prefix=d%2F"
        socks = [_park(srv, "greedy", q) for _ in range(2)]
        try:
            time.sleep(0.5)
            assert feed(srv, q, "greedy").status == 503
            assert feed(srv, q.replace("wait=30", "wait=1"),
                        "admin").status == 200
        finally:
            for s in socks:
                s.close()
