"""A failover of the database under load (API.md 12, doc/scaling.md): two
verstored hosts on a cluster of a primary and a synchronous standby run
by Patroni on etcd (tests/integ/pg_ha.py), their conninfo naming both
nodes with target_session_attrs=read-write. The primary's postmaster is
killed (kill -9) under 8 writers; Patroni promotes the standby, and the
hosts find it by themselves: every write answered 2xx before, during and
after is on the new primary with its value and version, every other
answer is 503 UNAVAILABLE (the outcome unknown for those in flight: a
key there that was not answered 2xx was answered 503), service returns
within a bound, and a feed followed through the failover has no gap and
no seq twice. The old primary comes back as the synchronous standby,
with every write. A third host whose conninfo names the old primary
alone finds it a standby when it is back: its writes are 503, not 500.

The cluster is the test's own, on 127.0.0.1 at free ports, removed
after. Without patroni, etcd or PostgreSQL the module defines no tests
(tests/run.py runs it once, not in its postgres pass)."""
import collections
import json
import re
import threading
import time

import pg_ha
from harness import Server
from test_scaleout import listing

# The bound, measured here at 3-5 s, that doc/scaling.md promises: from
# the kill to a host's first write answered 2xx.
SERVICE_BOUND = 15


class Answer(collections.namedtuple(
        "Answer", "t0 t1 host key status code retry_after json")):
    @property
    def ok(self):
        return self.status is not None and 200 <= self.status < 300


def call(h, host, key, fn):
    t0 = time.monotonic()
    try:
        r = fn()
    except OSError as e:
        return Answer(t0, time.monotonic(), host, key, None, repr(e), None,
                      None)
    body = None
    if "json" in (r.h("content-type") or ""):
        try:
            body = r.json
        except ValueError:
            body = None
    return Answer(t0, time.monotonic(), host, key, r.status,
                  body.get("code") if isinstance(body, dict) and
                  r.status >= 400 else None, r.h("retry-after"), body)


def rows(node, where="true"):
    """key -> version of the store's keys, read on node with psql."""
    out = node.sql("SELECT convert_from(key, 'UTF8') || ' ' || version "
                   f"FROM verstore_kv WHERE {where}", db="verstore")
    return {k: int(v) for k, v in (ln.rsplit(" ", 1)
                                   for ln in out.splitlines() if ln)}


def test_failover_under_writes():
    with pg_ha.Cluster() as c:
        first = c.primary()
        standby = c.sync_standby()
        assert first is not None and standby not in (None, first)
        a = Server(workers=2, threads=8, pg=c.conninfo)
        b = Server(workers=2, threads=8, pg=c.conninfo)
        # a host that names the first primary alone, as any server will do
        only = (f"host=127.0.0.1 port={first.port} dbname={c.dbname} "
                "user=postgres")
        h3 = Server(workers=1, threads=2, pg=only)
        servers = [a, b, h3]
        try:
            for s in servers:
                s.start()
            run(c, first, standby, a, b, h3)
        except BaseException:
            for name, s in zip("ab3", servers):
                print(f"---- host {name} ----")
                s.dump_logs()
            raise
        finally:
            reports = [r for s in servers for r in s.stop()]
        assert not reports, "sanitizer report: " + reports[0]


def run(c, first, standby, a, b, h3):
    log = []                    # Answers of the 8 writers
    log3 = []                   # of host 3
    lock = threading.Lock()
    stop = threading.Event()

    def writer(i):
        h, name = ((a, "a"), (b, "b"))[i % 2]
        n = 0
        while not stop.is_set():
            key, value = f"fo/w{i}/{n:06d}", {"w": i, "n": n}
            n += 1                  # a key is tried once
            e = call(h, name, key, lambda: h.put(key, value, timeout=20))
            with lock:
                log.append(e)
            if not e.ok:
                time.sleep(0.05)

    followed = []               # the feed's results, as a client reads it
    feed_errors = []

    def follower():
        since = 0
        while True:
            done = stop.is_set()
            e = call(a, "a", None, lambda: a.request(
                "GET", f"/api/changes?since={since}&limit=1000",
                timeout=20))
            if e.ok:
                followed.extend(e.json["results"])
                since = e.json["last_seq"]
                if done and not e.json["results"]:
                    return
            else:
                feed_errors.append(e)
                time.sleep(0.1)
            time.sleep(0.02)

    def writer3():
        n = 0
        while not stop.is_set():
            key = f"h3/{n:06d}"
            n += 1
            e = call(h3, "3", key, lambda: h3.put(key, n, timeout=20))
            log3.append(e)
            time.sleep(0.05)

    def oks(since, host=None):
        with lock:
            return [e for e in log if e.ok and e.t0 > since and
                    (host is None or e.host == host)]

    workers = {h: sorted(h.worker_pids()) for h in (a, b)}
    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    threads += [threading.Thread(target=follower),
                threading.Thread(target=writer3)]
    for t in threads:
        t.start()
    try:
        pg_ha.wait_for(lambda: len(oks(0)) >= 160 and log3, 30,
                       "writes before the kill")
        killed_pid = c.kill_postmaster(first)
        killed = time.monotonic()
        promoted = pg_ha.wait_for(
            lambda: c.primary() is standby and time.monotonic(), 30,
            "Patroni to promote the standby")
        # each host serves again, within the bound
        back = {}
        for host in "ab":
            back[host] = pg_ha.wait_for(
                lambda: [e.t1 for e in oks(killed, host)
                         if e.t0 > promoted - 1][:1], SERVICE_BOUND + 5,
                f"host {host} to write again")[0] - killed
        pg_ha.wait_for(lambda: len(oks(promoted)) >= 160, 30,
                       "writes on the new primary")
        # the old primary comes back as the synchronous standby
        rejoin = c.wait_sync(60)
        assert rejoin is first, rejoin
        rejoined = time.monotonic()
        pg_ha.wait_for(lambda: len(oks(rejoined)) >= 80, 30,
                       "writes with the old primary a standby again")
        # host 3 reaches the old primary again: a standby
        pg_ha.wait_for(lambda: any(e.t0 > rejoined and e.status is not None
                                   for e in log3[-5:]), 20,
                       "host 3 answers with its server back")
        time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    new = c.primary()
    assert new is standby, new
    # the same workers served throughout
    assert all(sorted(h.worker_pids()) == w for h, w in workers.items()), \
        workers

    print(f"  promoted {promoted - killed:.1f}s after the kill; "
          f"writes 2xx again {back['a']:.1f}s (a), {back['b']:.1f}s (b) "
          f"after it; the old primary a sync standby "
          f"{rejoined - killed:.1f}s after it")
    assert max(back.values()) < SERVICE_BOUND, back

    # every answer is a 2xx or 503 UNAVAILABLE with Retry-After
    bad = [e for e in log if not (e.ok or e.status == 503)]
    assert not bad, bad[:10]
    unavail = [e for e in log if e.status == 503]
    assert all(e.code == "UNAVAILABLE" and e.retry_after for e in unavail), \
        unavail[:5]
    assert unavail, "no write was refused during the failover"
    # every 2xx is on the new primary, with its version and value
    acked = {e.key: e for e in log if e.ok}
    on_new = rows(new, "key >= 'fo/'::bytea AND key < 'fo0'::bytea")
    missing = [k for k in acked if k not in on_new]
    assert not missing, ("acknowledged, missing", len(missing), missing[:5])
    for k, e in acked.items():
        assert e.json["version"] == on_new[k] == 1, (k, e.json, on_new[k])
    stored = listing(a, "fo/")
    for k, e in acked.items():
        w, n = re.match(r"fo/w(\d+)/(\d+)$", k).groups()
        assert stored[k]["value"] == {"w": int(w), "n": int(n)}, stored[k]
        assert stored[k]["version"] == 1, stored[k]
    # a key there that was not answered 2xx was answered 503: its commit
    # was in flight when the primary died
    answered = {e.key: e for e in log}
    unknown = [k for k in on_new if k not in acked]
    assert all(answered[k].status == 503 for k in unknown), \
        [answered[k] for k in unknown][:5]
    in_flight = [e for e in log if e.t0 < killed < e.t1]
    print(f"  {len(acked)} writes 2xx, {len(unavail)} 503 "
          f"({len(in_flight)} in flight at the kill, {len(unknown)} of the "
          "503s committed all the same)")

    # the feed: every seq once, in order, none lost, the new primary's
    seqs = [r["seq"] for r in followed]
    assert seqs == sorted(set(seqs)), "a seq twice or out of order"
    final = feed_all(b)
    assert [(r["seq"], r["key"], r["version"]) for r in followed] == \
        [(r["seq"], r["key"], r["version"]) for r in final], \
        "the feed followed differs from the store's"
    last = max(seqs)
    assert seqs == list(range(1, last + 1)), "a gap in the seqs"
    assert {r["key"] for r in final} == set(on_new) | \
        {k for k in rows(new) if k.startswith("h3/")}
    assert all(e.status == 503 for e in feed_errors), feed_errors[:5]

    # the old primary, a standby now, holds every write too
    def caught_up():
        try:
            got = rows(first, "key >= 'fo/'::bytea AND key < 'fo0'::bytea")
        except RuntimeError:
            return False
        return got == on_new
    pg_ha.wait_for(caught_up, 15, "the standby to hold every write")
    assert first.postmaster_pid() != killed_pid

    # host 3, on the old primary alone: down, then a standby; never 500
    assert any(e.ok for e in log3 if e.t1 < killed), log3[:3]
    bad3 = [e for e in log3 if not (e.ok or e.status == 503 and
                                    e.code == "UNAVAILABLE")]
    assert not bad3, bad3[:5]
    late3 = [e for e in log3 if e.t0 > rejoined]
    assert late3 and all(e.status == 503 for e in late3), late3[:5]
    assert "read-only" in h3.log(), "host 3 never reached the standby"
    r = h3.get("/api/storage/fo/w0/000000")
    assert r.status == 200 and r.json["value"] == {"w": 0, "n": 0}, r


def feed_all(srv):
    out, since = [], 0
    while True:
        r = srv.get(f"/api/changes?since={since}&limit=1000")
        assert r.status == 200, r
        if not r.json["results"]:
            return out
        out += r.json["results"]
        since = r.json["last_seq"]


MISSING = pg_ha.missing()
if MISSING:
    print(f"test_failover: not installed: {MISSING} (apt-get install "
          f"{MISSING.replace(',', '')}): no tests")
    del test_failover_under_writes
