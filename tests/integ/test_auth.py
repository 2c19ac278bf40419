"""Authentication and authorisation (API.md 9), through nginx: bearer
tokens with modes and prefixes, on every route; the principal as
updated_by and as the "by" of stamped appends; the metrics for a token
of every key or a metrics token alone, which reads no key."""
import json
import os
import signal
import tempfile
import time

from harness import run_threads, write_tokens

TOKENS_DIR = tempfile.mkdtemp(prefix="verstore-tokens-")
TOKENS = os.path.join(TOKENS_DIR, "tokens")
SECRETS = {                     # name -> (token, mode, prefixes)
    "admin": ("adm1n-0123456789abcdefghijklmnopqrstuvwxyzABCD", "rw", ["*"]),
    "crm": ("crm-0123456789abcdefghijklmnopqrstuvwxyzABCDEF", "rw",
            ["crm/", "_act/crm-"]),
    "reader": ("rdr-0123456789abcdefghijklmnopqrstuvwxyzABCDEF", "ro",
               ["crm/"]),
    "all-ro": ("allro-0123456789abcdefghijklmnopqrstuvwxyzABC", "ro", ["*"]),
    "prom": ("prom-0123456789abcdefghijklmnopqrstuvwxyzABCDE", "metrics", []),
}
for i in range(30):
    SECRETS[f"user{i}"] = (f"u{i:02d}-tok-0123456789abcdefghijklmnopqrstuv",
                           "rw", ["crm/"])


write_tokens(TOKENS, SECRETS)
os.chmod(TOKENS_DIR, 0o755)
SERVER = {"workers": 2, "threads": 8,
          "conf": f"auth token\ntokens {TOKENS}\n"}


def bearer(name):
    return {"Authorization": "Bearer " + SECRETS[name][0]}


def call(srv, method, path, body=None, who=None, headers=None):
    h = dict(headers or {})
    if who is not None:
        h.update(bearer(who))
    if body is not None and not isinstance(body, (str, bytes)):
        body = json.dumps(body)
    return srv.request(method, path, body, h)


ROUTES = [      # method, path, body: one of each kind the API has
    ("GET", "/api/storage/crm/a", None),
    ("HEAD", "/api/storage/crm/a", None),
    ("PUT", "/api/storage/crm/a", {"value": 1}),
    ("PATCH", "/api/storage/crm/a", None),
    ("DELETE", "/api/storage/crm/a", None),
    ("POST", "/api/storage/crm/a?append=", [1]),
    ("POST", "/api/storage/crm/", {"value": 1}),
    ("GET", "/api/storage/crm/", None),
    ("OPTIONS", "/api/storage/crm/a", None),
    ("POST", "/api/txn", {"ops": [{"op": "get", "key": "crm/a"}]}),
    ("GET", "/api/activities/crm-log", None),
    ("POST", "/api/activities/crm-log", {"upsert": [{"id": 1}]}),
    ("GET", "/api/metrics", None),
    ("GET", "/api/nowhere", None),
]


def test_every_route_needs_a_token(srv):
    for method, path, body in ROUTES:
        for headers, invalid in ((None, False),
                                 ({"Authorization": "Bearer"}, False),
                                 ({"Authorization": "Basic YTpi"}, False),
                                 ({"Authorization": "Bearer  x y"}, False),
                                 ({"Authorization": "Bearer nosuchtoken"}, True),
                                 ({"Authorization": "bearer " +
                                   SECRETS["admin"][0][:-1]}, True)):
            r = call(srv, method, path, body, headers=headers)
            assert r.status == 401, (method, path, headers, r)
            www = r.h("WWW-Authenticate")
            assert www.startswith('Bearer realm="verstore"'), www
            assert ('error="invalid_token"' in www) == invalid, www
            if method != "HEAD":
                assert r.json["code"] == "UNAUTHORIZED", r
    assert call(srv, "GET", "/api/storage/crm/a").status == 401
    assert call(srv, "GET", "/api/storage/crm/a", who="admin").status == 404


def test_health_needs_none(srv):
    assert srv.get("/api/health").status == 200


def test_scheme_is_case_insensitive(srv):
    r = call(srv, "PUT", "/api/storage/crm/ci", {"value": 1},
             headers={"Authorization": "bEaReR " + SECRETS["crm"][0]})
    assert r.status == 201, r


def test_read_only_token_cannot_write(srv):
    assert call(srv, "PUT", "/api/storage/crm/ro", {"value": 1},
                who="crm").status == 201
    assert call(srv, "GET", "/api/storage/crm/ro", who="reader").status == 200
    assert call(srv, "GET", "/api/storage/crm/", who="reader").status == 200
    for method, path, body in (
            ("PUT", "/api/storage/crm/ro", {"value": 2}),
            ("DELETE", "/api/storage/crm/ro", None),
            ("POST", "/api/storage/crm/ro?append=", [1]),
            ("POST", "/api/storage/crm/", {"value": 1}),
            ("POST", "/api/txn", {"ops": [{"op": "get", "key": "crm/ro"},
                                          {"op": "delete", "key": "crm/ro"}]})):
        r = call(srv, method, path, body, who="reader")
        assert r.status == 403, (method, path, r)
        assert r.json["code"] == "FORBIDDEN" and "read-only" in r.json["message"]
    r = srv.request("PATCH", "/api/storage/crm/ro", '{"x":1}',
                    dict(bearer("reader"), **{
                        "Content-Type": "application/merge-patch+json"}))
    assert r.status == 403, r
    assert call(srv, "GET", "/api/storage/crm/ro", who="admin").json[
        "version"] == 1


def test_prefixes_bound_every_route(srv):
    assert call(srv, "PUT", "/api/storage/hr/x", {"value": 1},
                who="admin").status == 201
    for method, path, body in (
            ("GET", "/api/storage/hr/x", None),
            ("PUT", "/api/storage/hr/x", {"value": 2}),
            ("DELETE", "/api/storage/hr/x", None),
            ("POST", "/api/storage/hr/", {"value": 1}),
            ("GET", "/api/storage/hr/", None),
            ("GET", "/api/storage/", None),          # wider than crm/
            ("GET", "/api/storage/cr/", None),
            ("GET", "/api/activities/hr-log", None),
            ("POST", "/api/activities/hr-log", {"upsert": [{"id": 1}]})):
        r = call(srv, method, path, body, who="crm")
        assert r.status == 403, (method, path, r)
        assert r.json["code"] == "FORBIDDEN", r
    # a transaction with one op outside: 403 naming that op, nothing written
    r = call(srv, "POST", "/api/txn", {"ops": [
        {"op": "put", "key": "crm/t1", "value": 1},
        {"op": "get", "key": "crm/t1"},
        {"op": "put", "key": "hr/x", "value": 3}]}, who="crm")
    assert r.status == 403 and r.json["op_index"] == 2, r
    assert call(srv, "GET", "/api/storage/crm/t1", who="crm").status == 404
    assert call(srv, "GET", "/api/storage/hr/x", who="admin").json[
        "version"] == 1
    # inside its prefixes the same token may do all of it
    assert call(srv, "POST", "/api/activities/crm-log",
                {"upsert": [{"id": 1}]}, who="crm").status == 200
    assert call(srv, "GET", "/api/activities/crm-log", who="crm").status == 200
    assert call(srv, "GET", "/api/storage/crm/", who="crm").status == 200
    assert call(srv, "GET", "/api/storage/crm/sub/", who="crm").status == 200


def test_principal_is_updated_by(srv):
    assert call(srv, "PUT", "/api/storage/crm/who", {"value": 1},
                who="crm").status == 201
    r = call(srv, "GET", "/api/storage/crm/who", who="admin")
    assert r.json["updated_by"] == "crm", r
    # a body cannot name another principal
    r = call(srv, "PUT", "/api/storage/crm/who",
             {"value": 2, "updated_by": "admin"}, who="crm")
    assert r.status == 400, r


def test_a_refusal_names_who_wrote_the_current_state(srv):
    """412, 409 VERSION_CONFLICT and 409 MERGE_CONFLICT carry updated_by
    of the state they hold, so that a client can say whose change clashed
    with the person's."""
    assert call(srv, "PUT", "/api/storage/crm/clash", {"value": {"a": 1}},
                who="user1").status == 201
    assert call(srv, "PUT", "/api/storage/crm/clash", {"value": {"a": 2}},
                who="user2", headers={"If-Match": '"1"'}).status == 200
    stale = [({"value": {"a": 3}}, {"If-Match": '"1"'}, 412),
             ({"value": {"a": 3}, "version": 1}, {}, 409),
             ({"value": {"a": 3}}, {"If-Match": '"1"', "Prefer": "merge"},
              409)]
    for body, headers, status in stale:
        r = call(srv, "PUT", "/api/storage/crm/clash", body, who="crm",
                 headers=headers)
        assert r.status == status, r
        assert r.json["updated_by"] == "user2" and r.json["version"] == 2, r
    r = call(srv, "PUT", "/api/storage/crm/clash", {"value": 1, "version": 0},
             who="crm")
    assert r.status == 409 and r.json["updated_by"] == "user2", r


def test_thirty_users_stamp_their_own_comments(srv):
    assert call(srv, "PUT", "/api/storage/crm/customer/7",
                {"value": {"comments": []}}, who="admin").status == 201

    def one(i):
        r = call(srv, "POST", "/api/storage/crm/customer/7?append=/comments"
                 "&stamp=1", {"text": f"note {i}"}, who=f"user{i}")
        assert r.status == 200, r
    run_threads(30, one)
    doc = call(srv, "GET", "/api/storage/crm/customer/7", who="admin").json
    by = sorted(c["by"] for c in doc["value"]["comments"])
    assert by == sorted(f"user{i}" for i in range(30)), by
    for c in doc["value"]["comments"]:
        assert c["text"] == "note " + c["by"][4:]
    assert doc["version"] == 31


def test_idempotency_is_per_principal(srv):
    h = {"Idempotency-Key": "same-key"}
    a = call(srv, "POST", "/api/storage/crm/", {"value": "a"}, who="user1",
             headers=h)
    b = call(srv, "POST", "/api/storage/crm/", {"value": "a"}, who="user2",
             headers=h)
    assert a.status == 201 and b.status == 201, (a, b)
    assert a.json["key"] != b.json["key"]
    assert b.h("Idempotent-Replayed") is None


def test_metrics_need_every_key_or_a_metrics_token(srv):
    # the counters name every prefix (conflicts) and the store's seq
    assert call(srv, "PUT", "/api/storage/hr/m", {"value": 1},
                who="admin").status == 201
    assert call(srv, "PUT", "/api/storage/hr/m", {"value": 2, "version": 9},
                who="admin").status == 409
    for who in ("admin", "all-ro", "prom"):
        r = call(srv, "GET", "/api/metrics", who=who)
        assert r.status == 200, (who, r)
        assert 'verstore_conflicts_total{code="VERSION_CONFLICT",' \
            'prefix="hr"}' in r.body.decode(), r.body[:2000]
        assert call(srv, "HEAD", "/api/metrics", who=who).status == 200
    for who in ("crm", "reader", "user1"):
        for method in ("GET", "HEAD"):
            r = call(srv, method, "/api/metrics", who=who)
            assert r.status == 403, (who, method, r)
            assert b"verstore_" not in r.body, r
        r = call(srv, "GET", "/api/metrics", who=who)
        assert r.json["code"] == "FORBIDDEN", r
        msg = r.json["message"]
        assert f'"{who}"' in msg and "(*)" in msg and "--metrics" in msg, msg


def test_a_metrics_token_reads_no_key(srv):
    assert call(srv, "PUT", "/api/storage/crm/mt", {"value": 1},
                who="admin").status == 201
    routes = [rt for rt in ROUTES
              if rt[1] not in ("/api/metrics", "/api/nowhere")
              and rt[0] != "OPTIONS"]
    routes += [("GET", "/api/changes?since=0", None),
               ("GET", "/api/changes?since=0&prefix=crm%2F", None),
               ("GET", "/api/storage/", None),
               ("PUT", "/api/storage/crm/mt", {"value": 2}),
               ("DELETE", "/api/storage/crm/mt", None),
               ("POST", "/api/txn", {"ops": [{"op": "put", "key": "crm/mt",
                                              "value": 3}]})]
    for method, path, body in routes:
        r = call(srv, method, path, body, who="prom")
        assert r.status == 403, (method, path, r)
        if method != "HEAD":
            assert r.json["code"] == "FORBIDDEN", r
            assert '"prom" is for metrics' in r.json["message"], r
    r = srv.request("GET", "/api/changes?since=0",
                    headers=dict(bearer("prom"),
                                 Accept="text/event-stream"))
    assert r.status == 403, r
    r = call(srv, "GET", "/api/storage/crm/mt", who="admin")
    assert r.json["version"] == 1 and r.json["value"] == 1, r
    # the same token goes on reading the metrics
    assert call(srv, "GET", "/api/metrics", who="prom").status == 200


def test_a_metrics_token_survives_a_reload(srv):
    more = dict(SECRETS, prom2=(
        "prom2-0123456789abcdefghijklmnopqrstuvwxyzABCD", "metrics", []))
    try:
        write_tokens(TOKENS, more)
        os.kill(srv.vs.pid, signal.SIGHUP)
        deadline = time.monotonic() + 10
        h = {"Authorization": "Bearer " + more["prom2"][0]}
        ok = 0
        while ok < 20:          # in a row: both workers have the new file
            ok = ok + 1 if srv.get("/api/metrics",
                                   headers=h).status == 200 else 0
            assert time.monotonic() < deadline, srv.log()[-2000:]
        for _ in range(10):
            assert srv.get("/api/metrics", headers=h).status == 200
            assert call(srv, "GET", "/api/metrics", who="prom").status == 200
            assert call(srv, "GET", "/api/metrics", who="crm").status == 403
            assert srv.get("/api/storage/crm/a", headers=h).status == 403
    finally:
        write_tokens(TOKENS, SECRETS)
        os.kill(srv.vs.pid, signal.SIGHUP)
