"""Conditional writes raced by many clients at once through nginx against
several worker processes: exactly one wins each round, nothing is lost."""
import threading

from harness import run_threads, running

SERVER = {"workers": 2, "threads": 16}


def race_if_match(srv, key, loser_status, loser_code):
    srv.put(key, {"n": 0})
    n = 30
    barrier = threading.Barrier(n)

    def client(i):
        r = srv.get("/api/storage/" + key)
        etag = r.h("etag")
        barrier.wait(30)
        return srv.put(key, {"n": i}, {"If-Match": etag})

    rs = run_threads(n, client)
    won = [r for r in rs if 200 <= r.status < 300]
    lost = [r for r in rs if r.status == loser_status]
    assert len(won) == 1, [r.status for r in rs]
    assert len(lost) == n - 1, [r.status for r in rs]
    assert all(r.json["code"] == loser_code for r in lost)
    # every loser was told the winner's state
    final = srv.get("/api/storage/" + key).json
    assert final["version"] == 2
    assert all(r.json["version"] == 2 and r.json["value"] == final["value"]
               for r in lost)
    assert won[0].json["version"] == 2


def test_if_match_race_412(srv):
    race_if_match(srv, "race/412", 412, "PRECONDITION_FAILED")


def test_if_match_race_409_when_configured():
    with running(workers=2, threads=16,
                 conf="precondition_failed_status 409") as srv:
        race_if_match(srv, "race/409", 409, "VERSION_CONFLICT")


def test_cas_counter(srv):
    """20 clients x 10 read-CAS-retry increments: exactly 200."""
    key = "race/counter"
    srv.put(key, 0)
    statuses = []
    lock = threading.Lock()

    def client(i):
        done = 0
        attempts = 0
        while done < 10:
            attempts += 1
            assert attempts < 2000, "no progress"
            r = srv.get("/api/storage/" + key)
            assert r.status == 200, r
            r2 = srv.put(key, r.json["value"] + 1,
                         {"If-Match": r.h("etag")})
            with lock:
                statuses.append(r2.status)
            if r2.status == 200:
                done += 1
            else:
                assert r2.status == 412, r2
        return attempts

    run_threads(20, client)
    final = srv.get("/api/storage/" + key).json
    assert final["value"] == 200, final
    assert final["version"] == 201
    assert not [s for s in statuses if s >= 500]


def test_body_token_race(srv):
    """The same race through the body token: one 200, the rest 409."""
    key = "race/token"
    srv.put(key, "start")
    n = 30
    barrier = threading.Barrier(n)

    def client(i):
        v = srv.get("/api/storage/" + key).json["version"]
        barrier.wait(30)
        return srv.put(key, i, version=v)

    rs = run_threads(n, client)
    assert sorted(r.status for r in rs) == [200] + [409] * (n - 1)


def test_create_only_race(srv):
    """If-None-Match: * raced: exactly one creator."""
    n = 30
    barrier = threading.Barrier(n)

    def client(i):
        barrier.wait(30)
        return srv.put("race/create", i, {"If-None-Match": "*"})

    rs = run_threads(n, client)
    assert sorted(r.status for r in rs) == [201] + [412] * (n - 1)
