"""Presence and soft locks (API.md 13) through nginx: join, renew, list,
leave, expiry within the ttl, lock exclusivity (423), enforce_locks on
writes, a forced leave, the key's ACLs, the bounds, and the presence
events of the feed (long poll and event stream), filtered by the token's
prefixes."""
import json
import os
import socket
import tempfile
import threading
import time

from harness import (backends, create_database, drop_database, metric, psql,
                     running, sse_events, write_tokens)

TOKENS_DIR = tempfile.mkdtemp(prefix="verstore-presence-")
TOKENS = os.path.join(TOKENS_DIR, "tokens")
SECRETS = {                     # name -> (token, mode, prefixes)
    "admin": ("pr-admin-0123456789abcdefghijklmnopqrstuvwxyz", "rw", ["*"]),
    "alice": ("pr-alice-0123456789abcdefghijklmnopqrstuvwxyz", "rw",
              ["j/", "x/"]),
    "bob": ("pr-bob-0123456789abcdefghijklmnopqrstuvwxyz012", "rw",
            ["j/", "x/"]),
    "carol": ("pr-carol-0123456789abcdefghijklmnopqrstuvwxyz", "rw", ["b/"]),
    "reader": ("pr-reader-0123456789abcdefghijklmnopqrstuvwxy", "ro", ["j/"]),
    "outsider": ("pr-outsider-0123456789abcdefghijklmnopqrstuv", "rw",
                 ["z/"]),
}
write_tokens(TOKENS, SECRETS)
os.chmod(TOKENS_DIR, 0o755)
CONF = (f"auth token\ntokens {TOKENS}\nenforce_locks j/locked/\n"
        "presence_per_key 3\npresence_per_principal 4\n")
SERVER = {"workers": 2, "threads": 8, "conf": CONF}


def bearer(name):
    return {"Authorization": "Bearer " + SECRETS[name][0]}


def join(srv, who, key, session, ttl=30, **extra):
    body = {"session": session, "ttl": ttl}
    body.update(extra)
    return srv.request("PUT", "/api/presence/" + key, json.dumps(body),
                       bearer(who))


def leave(srv, who, key, session, query=""):
    return srv.request("DELETE", f"/api/presence/{key}?session={session}"
                       + query, headers=bearer(who))


def present(srv, who, key):
    r = srv.request("GET", "/api/presence/" + key, headers=bearer(who))
    assert r.status == 200, r
    return r.json["present"]


def seq(srv):
    r = srv.request("GET", "/api/changes?since=999999999",
                    headers=bearer("admin"))
    return r.json["last_seq"]


def test_join_renew_list_leave(srv):
    r = join(srv, "alice", "j/doc1", "tab-a", ttl=30, state={"field": "name"})
    assert r.status == 200, r
    a = r.json
    assert set(a) == {"key", "session", "by", "since", "expires_at", "lock"}
    assert (a["key"], a["session"], a["by"], a["lock"]) == \
        ("j/doc1", "tab-a", "alice", False)
    assert a["expires_at"] > a["since"]
    time.sleep(0.05)
    r = join(srv, "alice", "j/doc1", "tab-a", ttl=60,
             state={"field": "notes"})
    assert r.status == 200, r
    assert r.json["since"] == a["since"], r.json   # a renewal keeps since
    assert r.json["expires_at"] > a["expires_at"]
    assert join(srv, "bob", "j/doc1", "tab-b").status == 200
    # every request (whichever worker) sees both, in session order
    for _ in range(6):
        p = present(srv, "bob", "j/doc1")
        assert [(x["session"], x["by"]) for x in p] == \
            [("tab-a", "alice"), ("tab-b", "bob")], p
        assert p[0]["state"] == {"field": "notes"} and p[1]["state"] is None
        assert set(p[0]) == {"session", "by", "state", "since",
                             "expires_at", "lock"}
    # the prefix form names the keys, and not a key beside the prefix
    assert join(srv, "alice", "j/doc2", "tab-a").status == 200
    assert join(srv, "alice", "x/doc1", "tab-a").status == 200
    r = srv.request("GET", "/api/presence/j/", headers=bearer("alice"))
    assert r.status == 200, r
    assert r.json["prefix"] == "j/" and r.json["more"] is False
    assert [(x["key"], x["session"]) for x in r.json["present"]] == \
        [("j/doc1", "tab-a"), ("j/doc1", "tab-b"), ("j/doc2", "tab-a")]
    r = leave(srv, "alice", "j/doc1", "tab-a")
    assert r.status == 200, r
    assert r.json == {"key": "j/doc1", "session": "tab-a", "left": True}
    assert [x["session"] for x in present(srv, "bob", "j/doc1")] == ["tab-b"]
    r = leave(srv, "alice", "j/doc1", "tab-a")
    assert r.status == 404 and r.json["code"] == "NOT_FOUND", r
    for who, key, s in (("bob", "j/doc1", "tab-b"), ("alice", "j/doc2",
                        "tab-a"), ("alice", "x/doc1", "tab-a")):
        assert leave(srv, who, key, s).status == 200
    assert present(srv, "bob", "j/doc1") == []


def test_expiry_within_ttl_is_an_event(srv):
    s0 = seq(srv)
    assert join(srv, "alice", "j/exp", "short", ttl=1).status == 200
    assert join(srv, "bob", "j/exp", "long", ttl=30).status == 200
    assert len(present(srv, "bob", "j/exp")) == 2
    time.sleep(1.1)
    # past its expiry it is not listed, recorded or not yet
    assert [x["session"] for x in present(srv, "bob", "j/exp")] == ["long"]
    deadline = time.monotonic() + 5
    while True:
        r = srv.request("GET", f"/api/changes?since={s0}&presence=1"
                        "&prefix=j%2Fexp", headers=bearer("bob"))
        ev = {c["presence"]["session"]: c["presence"]["left"]
              for c in r.json["results"]}
        if ev.get("short") == "expired" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert ev == {"short": "expired", "long": None}, r.json
    # it is gone: its session may join again, as new
    r = join(srv, "alice", "j/exp", "short", ttl=5)
    assert r.status == 200
    assert leave(srv, "alice", "j/exp", "short").status == 200
    assert leave(srv, "bob", "j/exp", "long").status == 200


def test_lock_is_exclusive_among_sessions(srv):
    r = join(srv, "alice", "j/lk", "a1", lock=True)
    assert r.status == 200 and r.json["lock"] is True, r
    held = r.json
    # another session, of another principal or the same one: 423
    for who, s in (("bob", "b1"), ("alice", "a2")):
        r = join(srv, who, "j/lk", s, lock=True)
        assert r.status == 423 and r.json["code"] == "LOCKED", r
        assert r.json["holder"] == {"session": "a1", "by": "alice",
                                    "since": held["since"],
                                    "expires_at": held["expires_at"]}, r.json
        assert "j/lk" in r.json["message"]
    # refused: nothing changed; being there without the lock is fine
    assert [x["session"] for x in present(srv, "bob", "j/lk")] == ["a1"]
    assert join(srv, "bob", "j/lk", "b1").status == 200
    # the holder lets it go by renewing without it: the lock is free
    assert join(srv, "alice", "j/lk", "a1", lock=False).status == 200
    r = join(srv, "bob", "j/lk", "b1", lock=True)
    assert r.status == 200 and r.json["lock"] is True, r
    assert join(srv, "alice", "j/lk", "a1", lock=True).status == 423
    # the holder renewing keeps its lock
    assert join(srv, "bob", "j/lk", "b1", lock=True).status == 200
    assert leave(srv, "bob", "j/lk", "b1").status == 200
    assert join(srv, "alice", "j/lk", "a1", lock=True).status == 200
    assert leave(srv, "alice", "j/lk", "a1").status == 200


def test_enforce_locks_refuses_other_principals_writes(srv):
    admin = bearer("admin")
    assert srv.put("j/locked/doc", {"v": 1}, admin).status == 201
    assert srv.put("j/free/doc", {"v": 1}, admin).status == 201
    r = join(srv, "alice", "j/locked/doc", "a1", lock=True)
    assert r.status == 200, r
    assert join(srv, "alice", "j/free/doc", "a1", lock=True).status == 200
    bob = bearer("bob")
    hdr = dict(bob, **{"Content-Type": "application/merge-patch+json"})
    refused = [
        srv.put("j/locked/doc", {"v": 2}, bob),
        srv.request("PATCH", "/api/storage/j/locked/doc", '{"v": 3}', hdr),
        srv.request("POST", "/api/storage/j/locked/doc?append=/l", '4', bob),
        srv.request("DELETE", "/api/storage/j/locked/doc", headers=bob),
        srv.request("POST", "/api/txn", json.dumps({"ops": [
            {"op": "put", "key": "j/free/other", "value": 1},
            {"op": "put", "key": "j/locked/doc", "value": 5}]}), bob),
    ]
    for r in refused:
        assert r.status == 423 and r.json["code"] == "LOCKED", r
        assert r.json["holder"]["session"] == "a1", r.json
        assert r.json["holder"]["by"] == "alice", r.json
    assert refused[-1].json["op_index"] == 1
    # nothing of them was written
    r = srv.get("/api/storage/j/locked/doc", admin)
    assert r.json["value"] == {"v": 1} and r.json["version"] == 1, r
    assert srv.get("/api/storage/j/free/other", admin).status == 404
    # the holder's principal writes; outside enforce_locks a lock is advisory
    assert srv.put("j/locked/doc", {"v": 6}, bearer("alice")).status == 200
    assert srv.put("j/free/doc", {"v": 7}, bob).status == 200
    m = srv.get("/api/metrics", admin).body.decode()
    assert metric(m, "verstore_locked_writes_total") >= 5
    # once the lock is let go, bob writes
    assert leave(srv, "alice", "j/locked/doc", "a1").status == 200
    assert srv.put("j/locked/doc", {"v": 8}, bob).status == 200
    assert leave(srv, "alice", "j/free/doc", "a1").status == 200


def test_admin_breaks_a_lock(srv):
    s0 = seq(srv)
    assert join(srv, "alice", "j/stuck", "a1", lock=True).status == 200
    # bob may not make alice's session leave, nor force it
    r = leave(srv, "bob", "j/stuck", "a1")
    assert r.status == 403 and r.json["code"] == "FORBIDDEN", r
    r = leave(srv, "bob", "j/stuck", "a1", "&force=1")
    assert r.status == 403 and "rw *" in r.json["message"], r
    # nor take over her session id
    r = join(srv, "bob", "j/stuck", "a1")
    assert r.status == 403 and r.json["code"] == "FORBIDDEN", r
    assert present(srv, "bob", "j/stuck")[0]["by"] == "alice"
    r = leave(srv, "admin", "j/stuck", "a1", "&force=1")
    assert r.status == 200, r
    assert present(srv, "bob", "j/stuck") == []
    assert join(srv, "bob", "j/stuck", "b1", lock=True).status == 200
    r = srv.request("GET", f"/api/changes?since={s0}&presence=1"
                    "&prefix=j%2Fstuck", headers=bearer("bob"))
    lefts = [(c["presence"]["session"], c["presence"]["left"])
             for c in r.json["results"]]
    assert lefts == [("a1", "forced"), ("b1", None)], r.json
    assert leave(srv, "bob", "j/stuck", "b1").status == 200
    m = srv.get("/api/metrics", bearer("admin")).body.decode()
    assert metric(m, "verstore_presence_leaves_total", reason="forced") >= 1


def test_same_acls_as_the_key(srv):
    # a read-only token may be present, not lock
    assert join(srv, "reader", "j/acl", "r1").status == 200
    r = join(srv, "reader", "j/acl", "r2", lock=True)
    assert r.status == 403 and "read-only" in r.json["message"], r
    assert [x["session"] for x in present(srv, "alice", "j/acl")] == ["r1"]
    # a token without the key: no presence, no list, no leave
    for r in (join(srv, "outsider", "j/acl", "o1"),
              srv.request("GET", "/api/presence/j/acl",
                          headers=bearer("outsider")),
              srv.request("GET", "/api/presence/j/",
                          headers=bearer("outsider")),
              srv.request("GET", "/api/presence/",
                          headers=bearer("alice")),
              leave(srv, "outsider", "j/acl", "r1", "&force=1")):
        assert r.status == 403 and r.json["code"] == "FORBIDDEN", r
    r = srv.request("GET", "/api/presence/j/acl")
    assert r.status == 401, r
    assert leave(srv, "reader", "j/acl", "r1").status == 200


def test_bounds(srv):
    for i in range(3):
        assert join(srv, "alice" if i < 2 else "bob", "j/full",
                    f"s{i}").status == 200
    r = join(srv, "bob", "j/full", "s3")
    assert r.status == 429 and r.json["code"] == "TOO_MANY_SESSIONS", r
    assert "presence_per_key (3)" in r.json["message"], r
    # a renewal is never refused for the bound
    assert join(srv, "bob", "j/full", "s2", state=[1]).status == 200
    # per principal, over every key: alice has 2, may have 4
    assert join(srv, "alice", "j/p1", "s").status == 200
    assert join(srv, "alice", "j/p2", "s").status == 200
    r = join(srv, "alice", "j/p3", "s")
    assert r.status == 429 and "presence_per_principal (4)" in \
        r.json["message"], r
    assert leave(srv, "alice", "j/p1", "s").status == 200
    assert join(srv, "alice", "j/p3", "s").status == 200
    m = srv.get("/api/metrics", bearer("admin")).body.decode()
    assert metric(m, "verstore_presence_refused_total",
                  code="TOO_MANY_SESSIONS") >= 2
    for who, key, s in (("alice", "j/full", "s0"), ("alice", "j/full", "s1"),
                        ("bob", "j/full", "s2"), ("alice", "j/p2", "s"),
                        ("alice", "j/p3", "s")):
        assert leave(srv, who, key, s).status == 200
    # bad input: a clear 4xx, and nothing joins
    big = {"pad": "x" * 1020}
    cases = [
        ({"session": "s", "ttl": 10, "state": big}, 413, "TOO_LARGE"),
        ({"session": "s", "ttl": 0}, 400, "INVALID_REQUEST"),
        ({"session": "s", "ttl": 301}, 400, "INVALID_REQUEST"),
        ({"session": "s", "ttl": 1.5}, 400, "INVALID_REQUEST"),
        ({"session": "s"}, 400, "INVALID_REQUEST"),
        ({"ttl": 10}, 400, "INVALID_REQUEST"),
        ({"session": "a b", "ttl": 10}, 400, "INVALID_REQUEST"),
        ({"session": "s" * 65, "ttl": 10}, 400, "INVALID_REQUEST"),
        ({"session": "s", "ttl": 10, "lock": "yes"}, 400, "INVALID_REQUEST"),
        ({"session": "s", "ttl": 10, "other": 1}, 400, "INVALID_REQUEST"),
        ([1], 400, "INVALID_REQUEST"),
    ]
    for body, status, code in cases:
        r = srv.request("PUT", "/api/presence/j/bad", json.dumps(body),
                        bearer("alice"))
        assert r.status == status and r.json["code"] == code, (body, r)
    assert join(srv, "alice", "j/ok", "s", state={"pad": "x" * 1000}) \
        .status == 200
    assert leave(srv, "alice", "j/ok", "s").status == 200
    r = join(srv, "admin", "j/" + "k" * 399, "s")
    assert r.status == 400 and r.json["code"] == "INVALID_KEY", r
    r = srv.request("DELETE", "/api/presence/j/bad", headers=bearer("alice"))
    assert r.status == 400 and "session" in r.json["message"], r
    r = srv.request("PUT", "/api/presence/j/", json.dumps(
        {"session": "s", "ttl": 1}), bearer("alice"))
    assert r.status == 405 and r.h("allow") == "GET, HEAD", r
    r = srv.request("POST", "/api/presence/j/x", "{}", bearer("alice"))
    assert r.status == 405, r
    assert present(srv, "alice", "j/bad") == []


def sse_open(srv, who, query):
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    s.sendall((f"GET /api/changes?{query} HTTP/1.0\r\nHost: x\r\n"
               "Accept: text/event-stream\r\n"
               f"Authorization: Bearer {SECRETS[who][0]}\r\n\r\n").encode())
    return s


def sse_read(s, want):
    """(event, data) of the next want events."""
    return [(e["event"], e["data"]) for e in sse_events(s, want)]


def test_feed_events_filtered_by_token(srv):
    s0 = seq(srv)
    polls = {}

    def poll(who, query):
        r = srv.request("GET", f"/api/changes?since={s0}&wait=8&{query}",
                        headers=bearer(who), timeout=20)
        polls[(who, query)] = (time.monotonic(), r)
    watchers = [("bob", "presence=1"), ("bob", ""),
                ("outsider", "presence=1")]
    ts = [threading.Thread(target=poll, args=w) for w in watchers]
    for t in ts:
        t.start()
    stream = sse_open(srv, "bob", f"since={s0}&presence=1&prefix=j%2Ffeed")
    plain = sse_open(srv, "bob", f"since={s0}&prefix=j%2Ffeed")
    time.sleep(0.5)                 # all parked by now
    assert polls == {}
    t_join = time.monotonic()
    assert join(srv, "alice", "j/feed", "a1", state={"f": 1}).status == 200
    for t in ts[:1]:
        t.join(10)
    at, r = polls[("bob", "presence=1")]
    assert at - t_join < 1, at - t_join
    assert r.status == 200, r
    [ev] = r.json["results"]
    assert ev["key"] == "j/feed" and "version" not in ev, ev
    assert ev["presence"] == {
        "session": "a1", "by": "alice", "state": {"f": 1},
        "since": ev["presence"]["since"],
        "expires_at": ev["presence"]["expires_at"], "lock": False,
        "left": None}, ev
    # a renewal that changes nothing is no event; a change of state is
    # (each read before the next: the feed holds a session's latest)
    got = sse_read(stream, 1)
    assert join(srv, "alice", "j/feed", "a1", state={"f": 1}).status == 200
    assert join(srv, "alice", "j/feed", "a1", state={"f": 2}).status == 200
    got += sse_read(stream, 1)
    assert leave(srv, "alice", "j/feed", "a1").status == 200
    got += sse_read(stream, 1)
    assert [(e, d["presence"]["state"], d["presence"]["left"])
            for e, d in got] == [("presence", {"f": 1}, None),
                                 ("presence", {"f": 2}, None),
                                 ("presence", {"f": 2}, "leave")], got
    assert got[0][1]["seq"] < got[1][1]["seq"] < got[2][1]["seq"]
    # without presence=1 the feed is as it was: the key's write alone
    assert srv.put("j/feed", 1, bearer("bob")).status == 201
    got = sse_read(plain, 1)
    assert [(e, d["key"], d["version"]) for e, d in got] == \
        [("change", "j/feed", 1)], got
    for t in ts:
        t.join(15)
    r = polls[("bob", "")][1]
    assert [c["key"] for c in r.json["results"]] == ["j/feed"], r.json
    assert "presence" not in r.json["results"][0]
    # a token without j/ never sees j/'s presence, nor wakes for it
    at, r = polls[("outsider", "presence=1")]
    assert r.status == 200 and r.json["results"] == [], r.json
    assert at - t_join > 6, at - t_join
    stream.close()
    plain.close()


def wait_gone(srv, key, session, timeout=5):
    deadline = time.monotonic() + timeout
    while any(x["session"] == session for x in present(srv, "bob", key)):
        assert time.monotonic() < deadline, (key, session, "still there")
        time.sleep(0.05)
    return time.monotonic()


def test_session_leaves_when_its_feed_closes(srv):
    """?session=S&presence_key=K on an event stream or a long poll: its
    connection closing makes S leave K (reason closed); answering (a long
    poll's end) does not."""
    s0 = seq(srv)
    far = "session=ed1&presence_key=j%2Fbye"
    assert join(srv, "alice", "j/bye", "ed1", lock=True).status == 200
    # an event stream closed by its client
    s = sse_open(srv, "alice", f"since={seq(srv)}&presence=1&prefix=j%2F"
                 f"bye&{far}")
    assert join(srv, "bob", "j/bye", "other").status == 200
    assert [e["presence"]["session"] for _, e in sse_read(s, 1)] == \
        ["other"]
    assert len(present(srv, "bob", "j/bye")) == 2
    closed = time.monotonic()
    s.close()
    took = wait_gone(srv, "j/bye", "ed1") - closed
    assert took < 2, took
    r = srv.request("GET", f"/api/changes?since={s0}&presence=1"
                    "&prefix=j%2Fbye", headers=bearer("bob"))
    assert [(c["presence"]["session"], c["presence"]["left"])
            for c in r.json["results"]] == [("other", None),
                                           ("ed1", "closed")], r.json
    # its lock went with it
    assert join(srv, "bob", "j/bye", "other", lock=True).status == 200
    assert join(srv, "bob", "j/bye", "other").status == 200
    # a long poll that answers leaves the session be
    assert join(srv, "alice", "j/bye", "ed1").status == 200
    r = srv.request("GET", f"/api/changes?since={seq(srv)}&wait=1&prefix="
                    f"j%2Fquiet&{far}", headers=bearer("alice"))
    assert r.status == 200 and r.json["results"] == [], r
    time.sleep(0.3)
    assert "ed1" in [x["session"] for x in present(srv, "bob", "j/bye")]
    # one whose client goes away while it waits makes it leave
    c = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    c.sendall((f"GET /api/changes?since={seq(srv)}&wait=30&prefix=j%2F"
               f"quiet&{far} HTTP/1.1\r\nHost: x\r\nAuthorization: "
               f"Bearer {SECRETS['alice'][0]}\r\n\r\n").encode())
    time.sleep(0.5)
    assert "ed1" in [x["session"] for x in present(srv, "bob", "j/bye")]
    closed = time.monotonic()
    c.close()
    took = wait_gone(srv, "j/bye", "ed1") - closed
    assert took < 2, took
    m = srv.get("/api/metrics", bearer("admin")).body.decode()
    assert metric(m, "verstore_presence_leaves_total", reason="closed") >= 2
    assert leave(srv, "bob", "j/bye", "other").status == 200
    # both or neither; a key it may read; a session id
    for query, status in (("session=ed1", 400),
                          ("presence_key=j%2Fbye", 400),
                          ("session=a%20b&presence_key=j%2Fbye", 400),
                          ("session=ed1&presence_key=j%2F", 400),
                          ("session=ed1&presence_key=z%2Fk", 403)):
        r = srv.request("GET", f"/api/changes?{query}",
                        headers=bearer("alice"))
        assert r.status == status, (query, r)


def test_metrics_count_presence(srv):
    def m():
        return srv.get("/api/metrics", bearer("admin")).body.decode()
    before = m()
    assert join(srv, "alice", "j/m", "a1", lock=True).status == 200
    assert join(srv, "alice", "j/m", "a1", lock=True).status == 200
    assert join(srv, "bob", "j/m", "b1", lock=True).status == 423
    assert leave(srv, "alice", "j/m", "a1").status == 200
    after = m()

    def delta(name, **labels):
        return metric(after, name, **labels) - metric(before, name, **labels)
    assert delta("verstore_presence_joins_total") == 1
    assert delta("verstore_presence_refused_total", code="LOCKED") == 1
    assert delta("verstore_presence_leaves_total", reason="leave") == 1


def test_auth_none_and_conf():
    """Under auth none everyone is nobody: one principal, whose sessions
    still exclude each other's locks; conf checks the new settings."""
    with running(workers=1, threads=4,
                 conf="enforce_locks d/\npresence_per_key 1\n") as srv:
        r = srv.request("PUT", "/api/presence/d/k", json.dumps(
            {"session": "s1", "ttl": 5, "lock": True}))
        assert r.status == 200 and r.json["by"] is None, r
        r = srv.request("PUT", "/api/presence/d/k", json.dumps(
            {"session": "s2", "ttl": 5}))
        assert r.status == 429, r
        # the same (no) principal writes its own locked key
        assert srv.put("d/k", 1).status == 201
        r = srv.request("DELETE", "/api/presence/d/k?session=s1&force=1")
        assert r.status == 200, r
    for bad in ("presence_per_key 0", "presence_per_key 1001",
                "presence_per_principal 0"):
        with open(os.path.join(TOKENS_DIR, "bad.conf"), "w") as f:
            f.write(bad + "\n")
        import subprocess
        from harness import BUILD
        p = subprocess.run([os.path.join(BUILD, "verstored"), "-t", "-c",
                            os.path.join(TOKENS_DIR, "bad.conf")],
                           capture_output=True, text=True)
        assert p.returncode != 0 and bad.split()[0] in p.stderr, (bad, p)


@backends("postgres")
def test_schema_1_is_migrated():
    """A database of the schema before presence gets its table when a
    verstored that knows presence opens it; its keys stay."""
    db = create_database()
    try:
        with running(workers=1, threads=2, pg=db) as srv:
            assert srv.put("old/k", {"v": 1}).status == 201
        psql("DROP TABLE verstore_presence; UPDATE verstore_meta "
             "SET value = 1 WHERE name = 'schema'", db)
        with running(workers=2, threads=2, pg=db) as srv:
            assert psql("SELECT value FROM verstore_meta WHERE "
                        "name = 'schema'", db).strip() == "2"
            assert srv.get("/api/storage/old/k").json["value"] == {"v": 1}
            r = srv.request("PUT", "/api/presence/old/k", json.dumps(
                {"session": "s", "ttl": 5}))
            assert r.status == 200, r
    finally:
        drop_database(db)
