"""The layout's arrows (README, Layout): each room of fcgi/ includes only
the rooms below it, store/ includes nothing of fcgi/, and LMDB is named
only in store/lmdb/. Reads the sources; runs nothing."""
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
    for path in sources("store/**/*.[ch]"):
        text = open(path).read()
        assert '#include "fcgi' not in text and not re.search(
            r'#include "(lib|json|http|proc|model|api)/', text), path
    for path in sources("fcgi/**/*.[ch]") + sources("store/store.h"):
        text = open(path).read()
        assert "MDB_" not in text and "mdb_" not in text, path
        assert "FCGX_" not in text, path
