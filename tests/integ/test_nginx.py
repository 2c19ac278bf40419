"""nginx's own answers (API.md 10): 405 with the full Allow, 502 when
verstored cannot be reached and 504 when it does not answer in time, each
as problem+json that says a write's outcome is unknown, and no page names
nginx's version; the client library it serves."""
import os
import re
import signal
import time

from harness import ROOT, running

VERSION = re.compile(rb"nginx/\d")


def nginx_workers(srv):
    with open(f"/proc/{srv.ng.pid}/task/{srv.ng.pid}/children") as f:
        return set(f.read().split())


def reload_nginx(srv):
    """SIGHUP, and waits until only workers of the new configuration are
    left (on a loaded machine that takes more than a moment)."""
    old = nginx_workers(srv)
    os.kill(srv.ng.pid, signal.SIGHUP)
    deadline = time.monotonic() + 10
    while nginx_workers(srv) & old or not nginx_workers(srv):
        assert time.monotonic() < deadline, "nginx did not reload"
        time.sleep(0.02)


def outcome_unknown(r):
    """A 502 or 504 cannot know whether verstored applied a write (it may
    have committed, then died or stalled before answering): the message
    says so, and how to settle it."""
    m = r.json["message"]
    assert "nothing was written" not in m, m
    assert "may or may not have been applied" in m, m
    for how in ("read the key", "Idempotency-Key", "If-Match"):
        assert how in m, (how, m)


def no_version(r):
    assert not VERSION.search(r.body), r
    for k, v in r.headers.items():
        assert not VERSION.search(v.encode()), (k, v)


def test_trace_is_405_with_every_method():
    with running(workers=1, threads=2) as srv:
        r = srv.request("TRACE", "/api/storage/a")
        assert r.status == 405 and r.json["code"] == "METHOD_NOT_ALLOWED", r
        allow = {m.strip() for m in r.h("allow").split(",")}
        assert {"GET", "HEAD", "PUT", "PATCH", "POST", "DELETE",
                "OPTIONS"} <= allow, allow
        no_version(r)


def test_verstored_down_is_502_problem():
    with running(workers=1, threads=2) as srv:
        srv.stop_verstored()
        r = srv.get("/api/health")
        assert r.status == 502, r
        assert r.h("content-type").startswith("application/problem+json")
        assert r.json["code"] == "UNAVAILABLE" and r.json["status"] == 502
        outcome_unknown(r)
        no_version(r)
        srv.start_verstored()
        srv.wait_healthy()


def test_verstored_too_slow_is_504_problem():
    with running(workers=1, threads=2) as srv:
        # a short read timeout for this test: rewrite and reload nginx
        path = os.path.join(srv.dir, "nginx", "nginx.conf")
        with open(path) as f:
            conf = f.read()
        assert "fastcgi_read_timeout 75s;" in conf
        with open(path, "w") as f:
            f.write(conf.replace("fastcgi_read_timeout 75s;",
                                 "fastcgi_read_timeout 1s;"))
        reload_nginx(srv)
        pids = [srv.vs.pid] + srv.worker_pids()
        for p in pids:
            os.kill(p, signal.SIGSTOP)
        try:
            r = srv.get("/api/health")
        finally:
            for p in pids:
                os.kill(p, signal.SIGCONT)
        assert r.status == 504, r
        assert r.json["code"] == "TIMEOUT" and r.json["status"] == 504, r
        outcome_unknown(r)
        no_version(r)
        srv.wait_healthy()


def test_the_site_serves_the_client_library():
    """The example site serves client/verstore.js, offline.js and
    conflict.js at the root, whatever the app's own web root holds (here:
    nothing), as JavaScript, so that a page can import them as modules."""
    with running(workers=1, threads=2) as srv:
        for name in ("verstore.js", "offline.js", "conflict.js"):
            r = srv.get("/" + name)
            assert r.status == 200, r
            assert re.match(r"(application|text)/javascript",
                            r.h("content-type")), r.h("content-type")
            with open(os.path.join(ROOT, "client", name), "rb") as f:
                assert r.body == f.read()
        assert srv.get("/verstore").status == 404
