#!/usr/bin/env python3
"""Runs every test: the C unit test binaries, then the integration tests
(tests/integ/test_*.py) against real nginx + verstored. Prints one line per
test and, last, "N passed, M failed". Exit status 0 only when none failed.
Where PostgreSQL is installed and VERSTORE_PG names no database, the store's
tests run a second pass on a private cluster (tests/pg.sh), removed after.

  python3 tests/run.py [--build DIR] [-k SUBSTRING]
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


def run_integration(build, pattern, counts):
    import harness
    harness.BUILD = os.path.join(ROOT, build)
    for path in sorted(glob.glob(os.path.join(HERE, "integ", "test_*.py"))):
        modname = os.path.splitext(os.path.basename(path))[0]
        spec = importlib.util.spec_from_file_location(modname, path)
        mod = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(mod)
        except Exception:
            counts["failed"] += 1
            print(f"FAIL {modname} (import)")
            traceback.print_exc()
            continue
        tests = [(n, f) for n, f in inspect.getmembers(mod, inspect.isfunction)
                 if n.startswith("test_") and f.__module__ == modname]
        tests.sort(key=lambda nf: nf[1].__code__.co_firstlineno)
        tests = [(n, f) for n, f in tests if not pattern or pattern in n
                 or pattern in modname]
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
                    print(f"PASS {modname}/{name} ({time.monotonic() - t0:.1f}s)")
                except Exception:
                    counts["failed"] += 1
                    print(f"FAIL {modname}/{name}")
                    traceback.print_exc(file=sys.stdout)
                    if shared is not None:
                        shared.dump_logs()
                sys.stdout.flush()
        finally:
            if shared is not None and shared.stop():
                counts["failed"] += 1
                print(f"FAIL {modname} (sanitizer report in verstored's log)")


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
            run_integration(a.build, a.k, counts)
    finally:
        if pgdir is not None:
            subprocess.run(["sh", os.path.join(HERE, "pg.sh"), "stop",
                            pgdir], capture_output=True, timeout=120)
    print(f"{counts['passed']} passed, {counts['failed']} failed")
    sys.exit(1 if counts["failed"] or not counts["passed"] else 0)


if __name__ == "__main__":
    main()
