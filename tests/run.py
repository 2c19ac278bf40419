#!/usr/bin/env python3
"""Runs every test: the C unit test binaries, then the integration tests
(tests/integ/test_*.py) against real nginx + verstored. Prints one line per
test and, last, "N passed, M failed". Exit status 0 only when none failed.

Where PostgreSQL is installed and VERSTORE_PG names no database, a private
cluster is started (tests/pg.sh) and removed after; with a cluster, given
or started, the store's unit tests run a second pass on it, and so do the
integration modules: VERSTORE_BACKEND=postgres makes each harness.Server
use a database of its own there, and their lines read pg/MODULE/TEST.
VERSTORE_PG_PASS=0 leaves that integration pass out, when time is short.

Where Apache (apache2) or lighttpd is installed, FRONTEND_MODULES run
again through each, on LMDB, as VERSTORE_FRONTEND tells harness.Server
(conf/frontend-local.sh builds its configuration from
conf/apache.conf.example or conf/lighttpd.conf.example); their lines read
apache/MODULE/TEST and lighttpd/MODULE/TEST. A test that holds through
some front-ends only says so with FRONTENDS (harness.frontends).
VERSTORE_FE_PASS=0 leaves those passes out (make test-asan does: they test
the front-ends' configurations, not verstored's memory).

On postgres run the modules of the HTTP contract and of the store beneath
it: API semantics, preconditions, merges, patches, transactions,
idempotency, activity sets, history, the change feed, auth, bad input,
limits, metrics, concurrency, group commit, kill -9 durability, the
watchers, the process model and reload (every module not in PG_SKIP).
A module or a test that only makes sense on one backend says so with
BACKENDS (harness.backends): LMDB's map_size and its backup. PG_SKIP
lists the modules that never reach the store, or whose store is not the
harness's (test_scaleout sets postgres up itself), so that a second pass
would only repeat them; and test_client, for time: its minute and more
goes to the client's own logic, and what it asks of the server the
conformance modules ask on both backends.

  python3 tests/run.py [--build DIR] [-k SUBSTRING] [--unit-only]

-k matches a test's name as printed (MODULE/TEST, pg/MODULE/TEST: "pg/"
runs the postgres pass alone, "apache/" Apache's) and a unit test's name.
"""
import argparse
import glob
import importlib.util
import inspect
import os
import subprocess
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, "integ"))


def run_units(build, pattern, counts):
    for exe in sorted(glob.glob(os.path.join(build, "tests", "test_*"))):
        if exe.endswith(".d") or not os.access(exe, os.X_OK):
            continue
        name = os.path.basename(exe)
        try:
            p = subprocess.run([exe], cwd=ROOT, capture_output=True,
                               text=True, timeout=300)
            out, err, rc = p.stdout, p.stderr, p.returncode
        except subprocess.TimeoutExpired:
            out, err, rc = "", "timed out", -1
        seen = 0
        for line in out.splitlines():
            word, _, test = line.partition(" ")
            if word not in ("PASS", "FAIL") or (pattern and pattern not in test):
                continue
            seen += 1
            counts[word == "PASS" and "passed" or "failed"] += 1
            print(f"{word} unit/{name}/{test}")
        if rc != 0 and (rc < 0 or seen == 0 or "FAIL" not in out):
            counts["failed"] += 1
            print(f"FAIL unit/{name} (exit {rc})")
        if err.strip() and (rc != 0 or "FAIL" in out):
            print(err.rstrip())


PG_SKIP = {
    "test_alerts": "Prometheus rules, no server",
    "test_client": "the client's own tests (node, a browser), 70 s; the "
                   "server's side of them is the conformance modules'",
    "test_conf": "configuration checks on files of its own",
    "test_docs": "README.md and doc/*.md: their blocks and links; the "
                 "curl examples' server is on LMDB",
    "test_failover": "its hosts are on postgres already, on a cluster of "
                     "its own (Patroni): the first pass runs it",
    "test_install": "make install, no server",
    "test_layout": "reads the sources",
    "test_manual": "verstored's manual against its help, no server",
    "test_nginx": "nginx's own answers",
    "test_remote_user": "nginx's auth blocks in front of verstored",
    "test_run": "make run, with a data directory of its own",
    "test_scaleout": "its hosts are on postgres already, on databases of "
                     "its own: the first pass runs it",
    "test_socket": "the FastCGI socket against broken peers",
    "test_token_cli": "the tokens file and its command",
}


# The front-end passes (apache/, lighttpd/ lines): the modules of the
# contract where the front-end stands between client and verstored, a
# minute or so each: the storage API and its preconditions, the feed's
# long polls and streams, credentials, limits, idempotency and the
# front-end's own refusals (test_frontend). The rest (bad bytes straight
# on the socket, the store, the process model) is the front-end's no more
# than it is nginx's, and runs in the first pass.
FRONTEND_MODULES = ("test_api", "test_auth", "test_changes",
                    "test_frontend", "test_idempotency", "test_limits")


def wanted(mod, fn, backend, frontend="nginx"):
    """Whether a test runs on backend and through frontend: its own
    BACKENDS and FRONTENDS (set by harness.backends and .frontends), else
    its module's, else every one's."""
    return backend in getattr(fn, "BACKENDS", getattr(
        mod, "BACKENDS", (backend,))) and frontend in getattr(
        fn, "FRONTENDS", getattr(mod, "FRONTENDS", (frontend,)))


def run_integration(build, pattern, counts, backend, frontend="nginx"):
    """Every module's tests on backend ("lmdb" or "postgres", whose lines
    read pg/MODULE/TEST); through a frontend other than nginx,
    FRONTEND_MODULES' on LMDB, their lines apache/... or lighttpd/...."""
    import harness
    harness.BUILD = os.path.join(ROOT, build)
    os.environ["VERSTORE_BACKEND"] = backend
    os.environ["VERSTORE_FRONTEND"] = frontend
    tag = "pg/" if backend == "postgres" else ""
    if frontend != "nginx":
        tag = frontend + "/"
    for path in sorted(glob.glob(os.path.join(HERE, "integ", "test_*.py"))):
        modname = os.path.splitext(os.path.basename(path))[0]
        if backend == "postgres" and modname in PG_SKIP:
            continue
        if frontend != "nginx" and modname not in FRONTEND_MODULES:
            continue
        spec = importlib.util.spec_from_file_location(modname, path)
        mod = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(mod)
        except Exception:
            counts["failed"] += 1
            print(f"FAIL {tag}{modname} (import)")
            traceback.print_exc()
            continue
        tests = [(n, f) for n, f in inspect.getmembers(mod, inspect.isfunction)
                 if n.startswith("test_") and f.__module__ == modname]
        tests.sort(key=lambda nf: nf[1].__code__.co_firstlineno)
        tests = [(n, f) for n, f in tests if wanted(
            mod, f, backend, frontend) and (
            not pattern or pattern in f"{tag}{modname}/{n}")]
        if not tests:
            continue
        shared = None
        try:
            for name, fn in tests:
                t0 = time.monotonic()
                try:
                    if "srv" in inspect.signature(fn).parameters:
                        if shared is None:
                            shared = harness.Server(
                                **getattr(mod, "SERVER", {}))
                            shared.start()
                        fn(shared)
                    else:
                        fn()
                    counts["passed"] += 1
                    print(f"PASS {tag}{modname}/{name} "
                          f"({time.monotonic() - t0:.1f}s)")
                except Exception:
                    counts["failed"] += 1
                    print(f"FAIL {tag}{modname}/{name}")
                    traceback.print_exc(file=sys.stdout)
                    if shared is not None:
                        shared.dump_logs()
                sys.stdout.flush()
        finally:
            reports = shared.stop() if shared is not None else []
            if reports:
                counts["failed"] += 1
                print(f"FAIL {tag}{modname} (on stopping: {reports[0]})")


def harness_frontend_installed(name):
    import harness
    return harness.frontend_installed(name)


def postgres():
    """A private cluster for the postgres passes: its directory, or None
    when VERSTORE_PG is given already or PostgreSQL is not installed."""
    if os.environ.get("VERSTORE_PG"):
        return None
    bindir = os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin")
    if not os.access(os.path.join(bindir, "initdb"), os.X_OK):
        print("postgres: not installed, its passes are skipped")
        return None
    p = subprocess.run(["sh", os.path.join(HERE, "pg.sh"), "start"],
                       capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        print("postgres: a private cluster did not start:\n" + p.stderr)
        return None
    conninfo = p.stdout.strip()
    os.environ["VERSTORE_PG"] = conninfo
    print(f"postgres: {conninfo}")
    return conninfo.split()[0].split("=", 1)[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("-k", default="")
    ap.add_argument("--unit-only", action="store_true")
    a = ap.parse_args()
    counts = {"passed": 0, "failed": 0}
    pgdir = postgres()
    try:
        run_units(a.build, a.k, counts)
        if not a.unit_only:
            run_integration(a.build, a.k, counts, "lmdb")
        if not a.unit_only and os.environ.get("VERSTORE_PG") and \
                os.environ.get("VERSTORE_PG_PASS") != "0":
            run_integration(a.build, a.k, counts, "postgres")
        if not a.unit_only and os.environ.get("VERSTORE_FE_PASS") != "0":
            for fe in ("apache", "lighttpd"):
                if harness_frontend_installed(fe):
                    run_integration(a.build, a.k, counts, "lmdb", fe)
                elif not a.k or a.k.startswith(fe + "/"):
                    print(f"{fe}: not installed, its pass is skipped")
        os.environ.pop("VERSTORE_FRONTEND", None)
    finally:
        if pgdir is not None:
            subprocess.run(["sh", os.path.join(HERE, "pg.sh"), "stop",
                            pgdir], capture_output=True, timeout=120)
    print(f"{counts['passed']} passed, {counts['failed']} failed")
    sys.exit(1 if counts["failed"] or not counts["passed"] else 0)


if __name__ == "__main__":
    main()
