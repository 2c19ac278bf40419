"""The layout's arrows (doc/hacking.md, Layout): each room of fcgi/ includes only
the rooms below it, store/ includes nothing of fcgi/ but the leaf
lib/hash.h, and LMDB is named only in store/lmdb/. Reads the sources;
runs nothing."""
import glob
import os
import re

import harness

ALLOWED = {             # room -> the rooms it may include, itself aside
    "lib": set(),
    "json": {"lib"},
    "http": {"lib"},
    "proc": {"lib"},
    "model": {"lib", "json", "store"},
    "api": {"lib", "json", "http", "proc", "model", "store"},
}
INCLUDE = re.compile(r'^#include "([a-z_]+)/', re.M)
ANY_INCLUDE = re.compile(r'^#include "([^"]+)"', re.M)
STORE_USES = {"lib/hash.h"}     # of fcgi/, the one leaf store/ may use


def sources(pattern):
    return glob.glob(os.path.join(harness.ROOT, pattern), recursive=True)


def test_rooms_include_only_rooms_below():
    wrong = []
    for room, allowed in ALLOWED.items():
        for path in sources(f"fcgi/{room}/*.[ch]"):
            for used in INCLUDE.findall(open(path).read()):
                if used != room and used not in allowed:
                    wrong.append(f"{os.path.relpath(path, harness.ROOT)} -> {used}")
    assert not wrong, wrong


def test_store_stands_alone_and_keeps_lmdb():
    wrong = []
    for path in sources("store/**/*.[ch]"):
        here = os.path.dirname(path)
        for used in ANY_INCLUDE.findall(open(path).read()):
            sibling = "/" not in used and os.path.exists(os.path.join(here, used))
            if not (used.startswith("store/") or used in STORE_USES or sibling):
                wrong.append(f"{os.path.relpath(path, harness.ROOT)} -> {used}")
    assert not wrong, wrong
    backend = os.path.join(harness.ROOT, "store", "lmdb", "")
    neutral = [p for p in sources("store/**/*.[ch]") if not p.startswith(backend)]
    for path in sources("fcgi/**/*.[ch]") + neutral:
        text = open(path).read()
        assert "MDB_" not in text and "mdb_" not in text, path
        assert "<lmdb.h>" not in text, path
        assert "FCGX_" not in text, path


def test_error_text_only_in_the_catalogue():
    """Every problem names an entry of fcgi/api/problem.h; no other file
    spells a problem code or writes a message."""
    call = re.compile(r'\bapi_(?:problem|problem_open|err)\(([^;]*?)\);', re.S)
    code = re.compile(r'"(?:INVALID_[A-Z_]+|NOT_FOUND|DELETED|[A-Z]+_CONFLICT'
                      r'|PRECONDITION_[A-Z]+|TOO_LARGE|INTERNAL|STORAGE_FULL'
                      r'|METHOD_NOT_ALLOWED|UNSUPPORTED_MEDIA_TYPE'
                      r'|IDEMPOTENCY_KEY_REUSED|UNAUTHORIZED|FORBIDDEN)"')
    wrong = []
    for path in sources("fcgi/**/*.[ch]"):
        rel = os.path.relpath(path, harness.ROOT)
        if rel == "fcgi/api/problem.h":
            continue
        text = open(path).read()
        if not rel.startswith("fcgi/lib/"):     # metrics name codes as labels
            wrong += [f"{rel}: {c}" for c in code.findall(text)]
        for args in call.findall(text):
            if "P_" not in args and "..." not in args:
                wrong.append(f"{rel}: api_problem({args.strip()})")
    assert not wrong, wrong
