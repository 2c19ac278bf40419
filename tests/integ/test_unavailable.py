"""A database out of reach (API.md 12): every route that needs the store
answers 503 UNAVAILABLE with Retry-After and writes nothing, while health
and metrics still answer; once the database is back the next request
succeeds, no worker restarted, and a watcher parked through the outage
gets the first change made after it. A request that waits on a locked
table past the lock timeout, or whose session the database ends in the
middle (a failover, an administrator), is the same 503, whatever the
route was doing."""
import contextlib
import os
import subprocess
import threading
import time

import harness
from harness import metric, running

BACKENDS = ("postgres",)

JSON = {"Content-Type": "application/json"}
MERGE = {"Content-Type": "application/merge-patch+json"}

# Every route that reads or writes the store, as (method, path, body,
# headers): reads, each kind of write, an idempotent one, a stale PUT
# merged (a callback in the write), a set's snapshot, the feed.
ROUTES = [
    ("GET", "/api/storage/o/a", None, {}),
    ("HEAD", "/api/storage/o/a", None, {}),
    ("GET", "/api/storage/o/a?version=1", None, {}),
    ("GET", "/api/storage/o/a?history=1", None, {}),
    ("GET", "/api/storage/o/?values=1", None, {}),
    ("PUT", "/api/storage/o/a", '{"value": 3}', JSON),
    ("PUT", "/api/storage/o/a", '{"value": {"n": 9}}',
     dict(JSON, **{"If-Match": '"1"', "Prefer": "merge"})),
    ("DELETE", "/api/storage/o/a", None, {}),
    ("PATCH", "/api/storage/o/a", '{"m": 1}', MERGE),
    ("POST", "/api/storage/o/a?append=/c", "1", JSON),
    ("POST", "/api/storage/o/", '{"value": 1, "slug": "x"}', JSON),
    ("POST", "/api/storage/o/", '{"value": 1}',
     dict(JSON, **{"Idempotency-Key": "k1"})),
    ("POST", "/api/txn", '{"ops": [{"op": "put", "key": "o/b", "value": 1}]}',
     JSON),
    ("POST", "/api/txn", '{"ops": [{"op": "get", "key": "o/a"}]}', JSON),
    ("GET", "/api/activities/s", None, {}),
    ("POST", "/api/activities/s", '{"upsert": [{"id": 2}]}', JSON),
    ("GET", "/api/changes?since=0", None, {}),
    ("GET", "/api/changes?since=0&wait=1", None, {}),
]


def sessions(srv, where, end=False):
    """How many sessions of srv's database match where; with end, the
    database ends them."""
    what = "count(pg_terminate_backend(pid))" if end else "count(*)"
    return int(harness.psql(
        f"SELECT {what} FROM pg_stat_activity WHERE datname = "
        f"'{harness.dbname(srv.pg)}' AND {where}"))


@contextlib.contextmanager
def outage(srv):
    """The server's database refuses connections and ends those it has,
    until the block ends."""
    name = harness.dbname(srv.pg)
    harness.psql(f"ALTER DATABASE {name} ALLOW_CONNECTIONS false")
    try:
        sessions(srv, "true", end=True)
        time.sleep(0.3)             # the backends end on their signal
        yield
    finally:
        harness.psql(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true")


WAITING = "wait_event_type = 'Lock'"
LOCKER = "verstore-test-locker"


@contextlib.contextmanager
def table_held(srv, table):
    """A session holds table exclusively (as VACUUM FULL or an ALTER TABLE
    would) until the block ends."""
    p = subprocess.Popen(
        [harness.PSQL, "-X", "-q", "-d", srv.pg, "-c",
         f"BEGIN; LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE; "
         "SELECT pg_sleep(120)"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env=dict(os.environ, PGAPPNAME=LOCKER))
    try:
        deadline = time.monotonic() + 10
        while not int(harness.psql(
                "SELECT count(*) FROM pg_locks WHERE granted AND mode = "
                f"'AccessExclusiveLock' AND relation = '{table}'::regclass",
                srv.pg)):
            assert time.monotonic() < deadline, "the lock was not taken"
            time.sleep(0.05)
        yield
    finally:
        sessions(srv, f"application_name = '{LOCKER}'", end=True)
        p.wait(30)


def ask_all(srv, routes, end=False):
    """Sends routes one after the other, each once the ones before wait
    for a lock, so that each takes its own connection in turn; with
    end, the database then ends the sessions that wait. Returns the
    answers."""
    answers = [None] * len(routes)

    def ask(i):
        answers[i] = srv.request(*routes[i], timeout=40)
    ts = [threading.Thread(target=ask, args=(i,)) for i in range(len(routes))]
    for i, t in enumerate(ts):
        t.start()
        deadline = time.monotonic() + 10
        while sessions(srv, WAITING) <= i:
            assert time.monotonic() < deadline, routes[i]
            time.sleep(0.02)
    if end:
        sessions(srv, WAITING, end=True)
    for t in ts:
        t.join(40)
    return answers


def test_every_route_is_503_and_writes_nothing_until_it_is_back():
    with running(workers=2, threads=4) as srv:
        assert srv.put("o/a", {"n": 1}).status == 201
        assert srv.put("o/a", {"n": 2}).status == 200
        r = srv.request("POST", "/api/activities/s", '{"upsert": [{"id": 1}]}')
        assert r.status == 200, r
        etag = srv.get("/api/activities/s").h("etag")
        seq = srv.get("/api/changes?since=0").json["last_seq"]
        pids = srv.worker_pids()
        with outage(srv):
            for method, path, body, headers in ROUTES:
                r = srv.request(method, path, body, headers)
                assert r.status == 503, (method, path, r)
                assert r.h("retry-after") == "1", (method, path, r)
                if method != "HEAD":
                    assert r.json["code"] == "UNAVAILABLE", (method, path, r)
            assert srv.get("/api/health").status == 200
            # the counters are the processes' own: they still answer,
            # without the gauges that only the database can give
            r = srv.get("/api/metrics")
            assert r.status == 200, r
            text = r.body.decode()
            assert metric(text, "verstore_requests_total", method="PUT",
                          code="503") == 2, text
            assert metric(text, "verstore_store_used_bytes") is None, text
        # back: the very next request succeeds, and nothing was written
        r = srv.get("/api/storage/o/a")
        assert r.status == 200 and r.json["value"] == {"n": 2}, r
        assert r.json["version"] == 2, r
        assert srv.get("/api/storage/o/b").status == 404
        assert [i["key"] for i in srv.get("/api/storage/o/").json["items"]] \
            == ["o/a"]
        assert srv.get("/api/activities/s").h("etag") == etag
        assert srv.get(f"/api/changes?since={seq}").json["results"] == []
        for method, path, body, headers in ROUTES:
            r = srv.request(method, path, body, headers)
            assert r.status < 500, (method, path, r)
        assert metric(srv.get("/api/metrics").body.decode(),
                      "verstore_store_used_bytes") > 0
        assert srv.worker_pids() == pids


def test_a_watcher_parked_through_an_outage_gets_the_next_change():
    with running(workers=2, threads=4) as srv:
        assert srv.put("w/0", 0).status == 201
        since = srv.get("/api/changes?since=0").json["last_seq"]
        got = {}

        def poll():
            got["r"] = srv.request(
                "GET", f"/api/changes?since={since}&wait=30&prefix=w%2F",
                timeout=40)
            got["at"] = time.monotonic()
        t = threading.Thread(target=poll)
        t.start()
        time.sleep(0.5)             # parked by now
        with outage(srv):
            time.sleep(1.5)
        assert srv.put("w/1", 1).status == 201
        put_at = time.monotonic()
        t.join(40)
        r = got["r"]
        assert r.status == 200, r
        assert [c["key"] for c in r.json["results"]] == ["w/1"], r
        assert got["at"] - put_at < 5, got["at"] - put_at

def test_a_feed_that_cannot_be_read_is_logged_once_and_its_end_too():
    """Another host's change announced while this host's workers cannot
    reach the database (their pool's sessions ended, new ones refused;
    the feed's listener, a session of its own, still up): each worker
    says once that the feed cannot be read, not once a second while it
    lasts, and once that it is read again. The sessions are named in
    pg_stat_activity: "verstored", and "verstored feed" for listeners."""
    with running(workers=2, threads=4) as srv:
        assert srv.put("f/0", 0).status == 201
        assert sessions(srv, "application_name = 'verstored feed'") == 2
        assert sessions(srv, "application_name = 'verstored'") >= 2
        name = harness.dbname(srv.pg)
        other = subprocess.Popen(        # "another host", connected before
            [harness.PSQL, "-X", "-q", "-d", srv.pg],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, text=True,
            env=dict(os.environ, PGAPPNAME=LOCKER))
        try:
            deadline = time.monotonic() + 10
            while sessions(srv, f"application_name = '{LOCKER}'") == 0:
                assert time.monotonic() < deadline, "psql did not connect"
                time.sleep(0.05)
            harness.psql(f"ALTER DATABASE {name} ALLOW_CONNECTIONS false")
            sessions(srv, "application_name = 'verstored'", end=True)
            time.sleep(0.3)
            other.stdin.write("UPDATE verstore_meta SET value = value + 1 "
                              "WHERE name = 'seq'; NOTIFY verstore;\n")
            other.stdin.flush()
            time.sleep(3.5)             # three retries each, and more
            down = srv.log().count("the feed cannot be read")
            assert down in (1, 2), srv.log()[-3000:]
        finally:
            harness.psql(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true")
            other.stdin.close()
            other.wait(30)
        deadline = time.monotonic() + 10
        while srv.log().count("the feed is read again") < down:
            assert time.monotonic() < deadline, srv.log()[-3000:]
            time.sleep(0.05)
        assert srv.log().count("the feed cannot be read") == down
        assert srv.put("f/1", 1).status == 201


def test_a_table_held_by_maintenance_is_503_on_every_route():
    """Requests wait, inside their transaction, on the table a maintenance
    job holds (as VACUUM FULL or ALTER TABLE would): past the lock timeout
    each is 503 (10 s: the reads wait together, the set's snapshot on the
    one connection its worker has idle, the others on new ones); so is a
    session that the database ends meanwhile (each write alone: group
    commit would put writes sent together into one transaction)."""
    with running(workers=1, threads=16) as srv:
        assert srv.put("o/a", {"n": 1}).status == 201
        r = srv.request("POST", "/api/activities/s", '{"upsert": [{"id": 1}]}')
        assert r.status == 200, r
        sets = [q for q in ROUTES if q[:2] == ("GET", "/api/activities/s")]
        reads = sets + [q for q in ROUTES if q[0] in ("GET", "HEAD") and
                        q not in sets]
        writes = [q for q in ROUTES if q not in reads]
        with table_held(srv, "verstore_kv"):
            answers = ask_all(srv, reads)
            answers += ask_all(srv, reads, end=True)
            for q in writes:
                answers += ask_all(srv, [q], end=True)
        for (method, path, _, _), r in zip(reads + reads + writes, answers):
            assert r.status == 503, (method, path, r)
            assert r.h("retry-after") == "1", (method, path, r)
        r = srv.get("/api/storage/o/a")
        assert r.status == 200 and r.json["version"] == 1, r
        assert srv.get("/api/storage/o/b").status == 404
