#!/usr/bin/env bash
# make run: installs what is missing, builds, and runs nginx + verstored in
# the foreground on 127.0.0.1:$PORT (default 8080) with data in $DATA
# (default ./var). With CONF=FILE, FILE's settings come after the defaults
# (auth none among them), so "auth token" and "tokens FILE" in it take
# effect; PORT and DATA still set the port, the data and the socket (as
# root, the socket is in a directory of nginx's below).
# Ctrl-C stops both.
set -eu
CONF=${CONF:-}
if [ -n "$CONF" ]; then
	case "$CONF" in /*) ;; *) CONF="$PWD/$CONF" ;; esac
	if [ ! -r "$CONF" ]; then
		echo "CONF=$CONF: no such readable file" >&2
		exit 1
	fi
fi
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
PORT=${PORT:-8080}
DATA=${DATA:-$here/var}
case "$DATA" in /*) ;; *) DATA="$here/$DATA" ;; esac

sh conf/deps.sh
BUILD=${BUILD:-build}
case "$BUILD" in /*) exe="$BUILD/verstored" ;; *) exe="$here/$BUILD/verstored" ;; esac
# make -s says nothing while it compiles: say what the wait is
if [ ! -x "$exe" ]; then
	echo "make run: building verstored (the first time: about 30 s)"
elif ! make -s -q all BUILD="$BUILD" 2>/dev/null; then
	echo "make run: building verstored (what changed since the last build)"
fi
make -s all BUILD="$BUILD"

nginx=$(command -v nginx || echo /usr/sbin/nginx)
# What nginx's workers use: its temp files, verstored's socket, the web
# root and the client. As root they run as nobody, who may not reach this
# checkout or DATA (a home directory is often 0700, and a clone made under
# umask 077 is readable by its owner alone): those go in a directory of
# their own that everyone may read, the web root and the client copied
# there, removed when make run ends. Running the workers as root instead
# would hand all of root's rights to whatever got the better of nginx,
# which parses every request; as nobody they reach the copy and the
# socket. Otherwise the workers run as this same user, who reaches DATA
# and client/ as they are (edits show at once).
pub=$DATA
www="$here/client"
if [ "$(id -u)" -eq 0 ]; then
	pub=$(mktemp -d /tmp/verstore-run.XXXXXX)
	chmod 755 "$pub"
fi
cleanup() { [ "$pub" = "$DATA" ] || rm -rf "$pub"; }
trap cleanup EXIT
mkdir -p "$DATA" "$pub/nginx/tmp"
# The socket goes in a directory of its own that verstored makes 0750 in
# nginx's group, the socket 0660: as root nginx's workers run as nobody,
# group nogroup; otherwise as this same user, and no group is needed.
group=
[ "$(id -u)" -eq 0 ] && group="socket_group nogroup"
if [ ! -d "$www" ]; then
	www="$pub/www"
	mkdir -p "$www"
	[ -f "$www/index.html" ] || cat > "$www/index.html" <<'HTML'
<!doctype html>
<meta charset="utf-8">
<title>verstore</title>
<p>verstore is running. The API is under <a href="/api/health">/api/</a>.
HTML
elif [ "$pub" != "$DATA" ]; then
	# client/ as make run serves it: not its tests, tools or dependencies
	mkdir "$pub/www"
	tar -C "$www" --exclude=./node_modules --exclude=./test \
	    --exclude=./bin -cf - . | tar -C "$pub/www" -xf -
	www="$pub/www"
fi
[ "$pub" = "$DATA" ] || chmod -R a+rX "$pub"
sock="$pub/run/verstored.sock"

# The documented defaults, then what a local run changes (no credentials
# asked), then CONF's settings, then the paths that PORT and DATA set.
{
	cat conf/verstore.conf
	echo
	echo "# make run"
	echo "auth none"
	if [ -n "$CONF" ]; then
		echo
		echo "# CONF=$CONF"
	fi
} > "$DATA/verstore.conf"
# CONF's lines are first..first+n-1 of the generated file: an error there
# is said with CONF's own name and line
first=$(( $(wc -l < "$DATA/verstore.conf") + 1 )) n=0
{
	if [ -n "$CONF" ]; then
		n=$(awk 'END { print NR }' "$CONF")
		cat "$CONF"
		echo
	fi
	echo "# make run: PORT and DATA"
	echo "data_dir $DATA/data"
	echo "socket $sock"
	echo "socket_mode 0660"
	echo "$group"
} >> "$DATA/verstore.conf"
if ! out=$("$exe" -t -c "$DATA/verstore.conf" 2>&1); then
	printf '%s\n' "$out" | awk -v gen="$DATA/verstore.conf:" \
	    -v conf="$CONF" -v first="$first" -v n="$n" '{
		p = index($0, gen)
		if (p > 0) {
			rest = substr($0, p + length(gen))
			if (match(rest, /^[0-9]+/)) {
				l = substr(rest, 1, RLENGTH) + 0
				if (l >= first && l < first + n)
					$0 = substr($0, 1, p - 1) conf ":" \
					    (l - first + 1) substr(rest, RLENGTH + 1)
			}
		}
		print
	}' >&2
	exit 1
fi
NGINX_CLIENT=$www sh conf/nginx-local.sh "$PORT" "$pub/nginx" "$sock" "$www" \
	stderr > "$pub/nginx/nginx.conf"
"$nginx" -t -q -p "$pub/nginx" -c "$pub/nginx/nginx.conf"

# A port that something else holds: say so before starting anything.
if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
	echo "port $PORT on 127.0.0.1 is in use; choose another: make run PORT=8081" >&2
	exit 1
fi

vpid= npid=
stop() {
	trap - INT TERM EXIT
	[ -n "$npid" ] && kill -TERM "$npid" 2>/dev/null || true
	[ -n "$vpid" ] && kill -TERM "$vpid" 2>/dev/null || true
	wait 2>/dev/null || true
	cleanup
	echo "verstore stopped."
}
trap stop EXIT
trap 'stop; exit 0' INT TERM HUP

"$exe" -c "$DATA/verstore.conf" &
vpid=$!
for _ in $(seq 100); do
	[ -S "$sock" ] && break
	kill -0 "$vpid" 2>/dev/null || exit 1
	sleep 0.05
done
"$nginx" -p "$pub/nginx" -c "$pub/nginx/nginx.conf" &
npid=$!
# Ready when health answers through nginx, not before.
ready=
for _ in $(seq 100); do
	kill -0 "$vpid" 2>/dev/null && kill -0 "$npid" 2>/dev/null || break
	if curl -fsS -o /dev/null "http://127.0.0.1:$PORT/api/health" 2>/dev/null; then
		ready=1
		break
	fi
	sleep 0.1
done
if [ -z "$ready" ]; then
	echo "verstore did not become healthy on port $PORT; see the messages above." >&2
	exit 1
fi
echo "verstore on http://127.0.0.1:$PORT/ (the demos; the API under /api/; data in $DATA); Ctrl-C stops."
# Run until Ctrl-C (the trap runs as soon as wait is interrupted), or until
# either process ends.
wait -n "$vpid" "$npid" || true
echo "a process ended; stopping." >&2
exit 1
