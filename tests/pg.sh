#!/bin/sh
# tests/pg.sh - a private PostgreSQL cluster for the tests of the postgres
# backend: on a unix socket in a temporary directory, no TCP, run as the
# postgres user (initdb and postgres refuse root).
#
#   tests/pg.sh start        prints the conninfo (VERSTORE_PG=...) of a new
#                            cluster in /tmp/pg-XXXXXX, with database verstore
#   tests/pg.sh stop DIR     stops the cluster in DIR and removes DIR
#
# The cluster runs with fsync off: the tests want speed, not durability.
# PG_DURABLE=1 starts it as a production one runs (fsync on, every commit
# flushed to disk before its answer: synchronous_commit on), as make bench
# measures it.
#
#   export VERSTORE_PG="$(tests/pg.sh start)"; make unit; ...
#   tests/pg.sh stop "$(echo "$VERSTORE_PG" | sed 's/^host=\([^ ]*\).*/\1/')"
set -eu

BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

case "${1:-}" in
start)
	if [ ! -x "$BIN/initdb" ]; then
		echo "tests/pg.sh: no PostgreSQL in $BIN" \
		    "(apt-get install postgresql-15)" >&2
		exit 2
	fi
	dir=$(mktemp -d /tmp/pg-XXXXXX)
	chmod 755 "$dir"
	[ "$(id -u)" -eq 0 ] && chown postgres "$dir"
	as_pg "$BIN/initdb" -D "$dir/data" -U postgres --auth=trust \
	    -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || {
		cat "$dir/initdb.log" >&2; rm -rf "$dir"; exit 1; }
	sync="-c fsync=off"
	[ "${PG_DURABLE:-0}" = 1 ] && sync="-c fsync=on -c synchronous_commit=on"
	as_pg "$BIN/pg_ctl" -D "$dir/data" -l "$dir/log" -w -o \
	    "-c listen_addresses='' -c unix_socket_directories='$dir' \
	    $sync -c max_connections=200" start >/dev/null 2>&1 || {
		cat "$dir/log" >&2; rm -rf "$dir"; exit 1; }
	as_pg "$BIN/createdb" -h "$dir" -U postgres verstore
	echo "host=$dir dbname=verstore user=postgres"
	;;
stop)
	dir=${2:?usage: tests/pg.sh stop DIR}
	case "$dir" in
	/tmp/pg-*) ;;
	*) echo "tests/pg.sh: $dir is not a cluster of mine" >&2; exit 2 ;;
	esac
	[ -d "$dir/data" ] && as_pg "$BIN/pg_ctl" -D "$dir/data" -m fast \
	    -w stop >/dev/null 2>&1 || true
	rm -rf "$dir"
	;;
*)
	echo "usage: tests/pg.sh start | stop DIR" >&2
	exit 2
	;;
esac
