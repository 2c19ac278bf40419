# verstore - see README.md.
#   make            build build/verstored
#   make run        install what is missing, build, run nginx + verstored
#                   (PORT=, DATA=, CONF=FILE: see conf/run.sh)
#   make test       build and run every test; last line "N passed, M failed"
#                   (where PostgreSQL is installed, the store's and the
#                   contract's tests run again on a private cluster; where
#                   Apache or lighttpd is, the contract's modules of the
#                   front-end run again through each: VERSTORE_FE_PASS=0
#                   leaves them out)
#   make test-asan  the same, built with -fsanitize=address,undefined; the
#                   postgres pass too (a minute or two more):
#                   VERSTORE_PG_PASS=0 leaves its integration tests out;
#                   not the front-end passes, which test configurations

VERSION	 = 0.3.0
BUILD	?= build
CC	?= cc
CFLAGS	?= -O2 -g
WARN	 = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	   -Wpointer-arith -Wformat=2
ifdef WERROR
WARN	+= -Werror
endif
# SAN=1: address and undefined-behaviour sanitizers. They go through
# CPPFLAGS and LDFLAGS with override, so that a CFLAGS given on the command
# line (make test-asan gives one) cannot drop them.
ifdef SAN
override CPPFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer \
	    -fno-sanitize-recover=undefined
override LDFLAGS += -fsanitize=address,undefined
endif
override CPPFLAGS += -std=c11 -D_GNU_SOURCE -MMD -MP -I. -Ifcgi
LDLIBS	 = -llmdb -lpthread

STORE_SRC = store/store.c store/cond.c store/op.c store/commit.c store/name.c \
	    store/quota.c store/lmdb/usage.c \
	    store/presence.c store/lmdb/presence.c \
	    store/lmdb/env.c store/lmdb/db.c store/lmdb/read.c store/lmdb/write.c \
	    store/lmdb/idem.c store/lmdb/feed.c store/lmdb/rec.c
# The postgres backend (store/pg/) is built when libpq's header is there
# (PG=0: never); without it, `backend postgres` answers an error at start.
ifneq ($(PG),0)
PQ_INC	:= $(shell pkg-config --variable=includedir libpq 2>/dev/null || \
	    pg_config --includedir 2>/dev/null)
HAVE_PQ	:= $(if $(wildcard $(PQ_INC)/libpq-fe.h $(PQ_INC)/postgresql/libpq-fe.h),1)
endif
ifeq ($(HAVE_PQ),1)
STORE_SRC += store/pg/conn.c store/pg/schema.c store/pg/read.c \
	    store/pg/presence.c store/pg/write.c store/pg/wmany.c \
	    store/pg/listen.c
override CPPFLAGS += -DSTORE_HAVE_PG $(shell pkg-config --cflags libpq \
	    2>/dev/null || echo -I$(PQ_INC))
LDLIBS	+= -lpq
endif
# Each folder of fcgi/ uses only those listed after it (see doc/hacking.md, Layout).
LIB_SRC   = fcgi/lib/buf.c fcgi/lib/hex.c fcgi/lib/dec.c fcgi/lib/utf8.c \
	    fcgi/lib/hash.c fcgi/lib/sha256.c fcgi/lib/base64url.c \
	    fcgi/lib/log.c fcgi/lib/metrics.c fcgi/lib/notify.c
JSON_SRC  = fcgi/json/json.c fcgi/json/jtree.c fcgi/json/patch.c fcgi/json/merge3.c \
	    fcgi/json/jw.c
HTTP_SRC  = fcgi/http/hdr.c fcgi/http/wire.c fcgi/http/conn.c fcgi/http/http.c
PROC_SRC  = fcgi/proc/conf.c fcgi/proc/pool.c fcgi/proc/tokens.c
MODEL_SRC = fcgi/model/key.c fcgi/model/slug.c fcgi/model/act.c
API_SRC	  = fcgi/api/api.c fcgi/api/auth.c fcgi/api/idem.c fcgi/api/txn.c fcgi/api/sets.c \
	    fcgi/api/presence.c \
	    fcgi/api/storage.c fcgi/api/merge.c fcgi/api/changes.c fcgi/api/metrics.c \
	    fcgi/api/route.c
FCGI_LIB  = $(LIB_SRC) $(JSON_SRC) $(HTTP_SRC) $(PROC_SRC) $(MODEL_SRC) \
	    $(API_SRC)
FCGI_SRC  = $(FCGI_LIB) fcgi/main.c
UNIT_SRC  = $(wildcard tests/unit/test_*.c)
FUZZ_SRC  = $(wildcard tests/fuzz/fuzz_*.c)

objs	= $(patsubst %.c,$(BUILD)/%.o,$(1))
UNITS	= $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC)) \
	  $(patsubst tests/fuzz/fuzz_%.c,$(BUILD)/tests/test_fuzz_%,$(FUZZ_SRC))

.PHONY: all run test test-asan unit clean deps bench bench-scale install \
	fuzz fuzz-merge

all: $(BUILD)/verstored

$(BUILD)/verstored: $(call objs,$(FCGI_SRC) $(STORE_SRC))
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/fcgi/main.o: CPPFLAGS += -DVERSTORE_VERSION='"$(VERSION)"'

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(call objs,$(FCGI_LIB) $(STORE_SRC))
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) $(LDFLAGS) -Itests/unit -o $@ $(filter %.c %.o,$^) $(LDLIBS)

# Each fuzz target also runs over its corpus in make test (replay.c).
$(BUILD)/tests/test_fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c \
    $(call objs,$(FCGI_LIB) $(STORE_SRC))
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) $(LDFLAGS) -o $@ $(filter %.c %.o,$^) $(LDLIBS)

unit: $(UNITS)

test: all unit
	@python3 tests/run.py --build $(BUILD)

test-asan:
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	VERSTORE_FE_PASS=0 \
	$(MAKE) BUILD=build-asan SAN=1 CFLAGS="-O1 -g" test

run: conf/run.sh
	@bash conf/run.sh

deps:
	@sh conf/deps.sh

$(BUILD)/bench/lmdb_commit: tests/bench/lmdb_commit.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -o $@ $< -llmdb

# The store uses the one leaf of fcgi/ that it may: lib/hash.c.
$(BUILD)/bench/load: tests/bench/load.c $(call objs,$(STORE_SRC) fcgi/lib/hash.c)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) $(LDFLAGS) -o $@ $(filter %.c %.o,$^) $(LDLIBS)

# Needs wrk (and etcd-server for the peer rows): conf/deps.sh installs them.
# PostgreSQL 15 (postgresql-15), when installed, adds the postgres rows.
# The ceiling of the nginx -> FastCGI path, on libfcgi (libfcgi-dev).
$(BUILD)/bench/fcgi_min: tests/bench/fcgi_min.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) -o $@ $< -lfcgi -lpthread

bench: all $(BUILD)/bench/lmdb_commit
	@sh conf/deps.sh wrk libfcgi-dev
	@$(MAKE) --no-print-directory $(BUILD)/bench/fcgi_min
	@python3 tests/bench/run.py

bench-scale: all $(BUILD)/bench/load
	@sh conf/deps.sh wrk
	@python3 tests/bench/scale.py

# make install [PREFIX=/usr/local] [DESTDIR=]: the binary, the man pages, the
# systemd unit, the example nginx site, the client (PREFIX/share/verstore/
# client, the command linked as PREFIX/bin/verstore), the configuration and
# an empty tokens file, mode 0640 in group verstore when there is one
# (neither over one that is there already). The configuration goes in
# SYSCONFDIR/verstore: /etc for PREFIX /usr/local or /usr, else PREFIX/etc,
# so that make install PREFIX=/tmp/x writes nothing outside /tmp/x.
PREFIX	?= /usr/local
SYSCONFDIR ?= $(if $(filter /usr /usr/local,$(PREFIX)),/etc,$(PREFIX)/etc)
UNITDIR	?= $(PREFIX)/lib/systemd/system
# The client as npm pack makes it (client/package.json "files"): what the
# nginx site serves at /verstore.js, /offline.js and /conflict.js, and the
# command.
CLIENT_FILES = client/verstore.js client/offline.js client/conflict.js \
	       client/package.json \
	       client/README.md

install: all
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/share/man/man8 \
	    $(DESTDIR)$(PREFIX)/share/man/man1 \
	    $(DESTDIR)$(UNITDIR) $(DESTDIR)$(PREFIX)/share/verstore/client/bin \
	    $(DESTDIR)$(PREFIX)/share/verstore/client/types \
	    $(DESTDIR)$(PREFIX)/share/verstore/errors \
	    $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(SYSCONFDIR)/verstore
	install -m 755 $(BUILD)/verstored $(DESTDIR)$(PREFIX)/sbin/verstored
	install -m 644 doc/verstored.8 $(DESTDIR)$(PREFIX)/share/man/man8/verstored.8
	install -m 644 doc/verstore.1 $(DESTDIR)$(PREFIX)/share/man/man1/verstore.1
	sed -e 's|/usr/local/bin/verstored|$(PREFIX)/sbin/verstored|g' \
	    -e 's|/etc/verstore/|$(SYSCONFDIR)/verstore/|g' \
	    conf/verstored.service > $(DESTDIR)$(UNITDIR)/verstored.service
	chmod 644 $(DESTDIR)$(UNITDIR)/verstored.service
	for f in nginx.conf.example conf/apache.conf.example \
	    conf/lighttpd.conf.example; do \
	    sed -e 's|/usr/local/share/verstore/|$(PREFIX)/share/verstore/|g' \
	    $$f > $(DESTDIR)$(PREFIX)/share/verstore/$${f##*/} && \
	    chmod 644 $(DESTDIR)$(PREFIX)/share/verstore/$${f##*/} || exit 1; done
	install -m 644 conf/errors/*.html $(DESTDIR)$(PREFIX)/share/verstore/errors/
	install -m 644 doc/API.md conf/alerts.yml $(DESTDIR)$(PREFIX)/share/verstore/
	install -m 644 $(CLIENT_FILES) $(DESTDIR)$(PREFIX)/share/verstore/client/
	install -m 755 client/bin/verstore $(DESTDIR)$(PREFIX)/share/verstore/client/bin/
	install -m 644 client/types/*.d.ts $(DESTDIR)$(PREFIX)/share/verstore/client/types/
	ln -sf ../share/verstore/client/bin/verstore $(DESTDIR)$(PREFIX)/bin/verstore
	[ -e $(DESTDIR)$(SYSCONFDIR)/verstore/verstore.conf ] || { \
	    sed -e 's|/etc/verstore/|$(SYSCONFDIR)/verstore/|g' conf/verstore.conf \
	    > $(DESTDIR)$(SYSCONFDIR)/verstore/verstore.conf && \
	    chmod 644 $(DESTDIR)$(SYSCONFDIR)/verstore/verstore.conf; }
	[ -e $(DESTDIR)$(SYSCONFDIR)/verstore/tokens ] || { \
	    install -m 640 /dev/null $(DESTDIR)$(SYSCONFDIR)/verstore/tokens && \
	    if [ "$$(id -u)" -eq 0 ] && getent group verstore >/dev/null; then \
	    chgrp verstore $(DESTDIR)$(SYSCONFDIR)/verstore/tokens; fi; }

# make fuzz [FUZZ_SECONDS=30]: every tests/fuzz/fuzz_*.c under libFuzzer
# (clang), with address and undefined-behaviour sanitizers.
FUZZ_SECONDS ?= 30
FUZZ_BUILD = build-fuzz
FUZZ_CC	 = clang
FUZZ_SAN = -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_OBJS = $(patsubst %.c,$(FUZZ_BUILD)/obj/%.o,$(FCGI_LIB) $(STORE_SRC))
FUZZ_BINS = $(patsubst tests/fuzz/%.c,$(FUZZ_BUILD)/%,$(FUZZ_SRC))

$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OBJS)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

fuzz: $(FUZZ_BINS)
	@sh tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_BUILD) $(FUZZ_BINS)

# Keeps what the last make fuzz found new, minimised, in the repo's corpus.
fuzz-merge: $(FUZZ_BINS)
	@for b in $(FUZZ_BINS); do n=$${b##*/fuzz_}; \
	    [ -d $(FUZZ_BUILD)/corpus/$$n ] || continue; \
	    $$b -merge=1 tests/fuzz/corpus/$$n $(FUZZ_BUILD)/corpus/$$n \
	    >/dev/null 2>&1 && echo "merged $$n"; done

clean:
	rm -rf build build-asan build-fuzz

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
