# verstore - see README.md.
#   make            build build/verstored
#   make run        install what is missing, build, run nginx + verstored
#   make test       build and run every test; last line "N passed, M failed"
#   make test-asan  the same, built with -fsanitize=address,undefined

BUILD	?= build
CC	?= cc
CFLAGS	?= -O2 -g
WARN	 = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	   -Wpointer-arith -Wformat=2
ifdef WERROR
WARN	+= -Werror
endif
ifdef SAN
CFLAGS	+= -fsanitize=address,undefined -fno-omit-frame-pointer
LDFLAGS	+= -fsanitize=address,undefined
endif
CPPFLAGS += -std=c11 -D_GNU_SOURCE -MMD -MP
LDLIBS	 = -llmdb -lfcgi -lcjson -lpthread

STORE_SRC = store/store.c store/rec.c
FCGI_LIB  = fcgi/buf.c fcgi/utf8.c fcgi/json.c fcgi/jtree.c fcgi/hdr.c fcgi/key.c fcgi/patch.c fcgi/slug.c fcgi/act.c \
	    fcgi/idem.c fcgi/txn.c fcgi/sets.c \
	    fcgi/log.c fcgi/conf.c fcgi/api.c fcgi/http.c fcgi/pool.c
FCGI_SRC  = $(FCGI_LIB) fcgi/main.c
UNIT_SRC  = $(wildcard tests/unit/test_*.c)

objs	= $(patsubst %.c,$(BUILD)/%.o,$(1))
UNITS	= $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))

.PHONY: all run test test-asan unit clean deps bench bench-scale

all: $(BUILD)/verstored

$(BUILD)/verstored: $(call objs,$(FCGI_SRC) $(STORE_SRC))
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(call objs,$(FCGI_LIB) $(STORE_SRC))
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) $(LDFLAGS) -Itests/unit -o $@ $^ $(LDLIBS)

unit: $(UNITS)

test: all unit
	@python3 tests/run.py --build $(BUILD)

test-asan:
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	$(MAKE) BUILD=build-asan SAN=1 CFLAGS="-O1 -g" test

run: conf/run.sh
	@bash conf/run.sh

deps:
	@sh conf/deps.sh

$(BUILD)/bench/lmdb_commit: tests/bench/lmdb_commit.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -o $@ $< -llmdb

$(BUILD)/bench/load: tests/bench/load.c $(call objs,$(STORE_SRC))
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Needs wrk (and etcd-server for the peer rows): conf/deps.sh installs them.
bench: all $(BUILD)/bench/lmdb_commit
	@sh conf/deps.sh wrk
	@python3 tests/bench/run.py

bench-scale: all $(BUILD)/bench/load
	@sh conf/deps.sh wrk
	@python3 tests/bench/scale.py

clean:
	rm -rf build build-asan

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
