#!/usr/bin/env bash
# make run: installs what is missing, builds, and runs nginx + verstored in
# the foreground on 127.0.0.1:$PORT (default 8080) with data in $DATA
# (default ./var). With CONF=FILE, FILE's settings come after the defaults
# (auth none among them), so "auth token" and "tokens FILE" in it take
# effect; PORT and DATA still set the port, the data and the socket.
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
make -s all BUILD="$BUILD"

nginx=$(command -v nginx || echo /usr/sbin/nginx)
mkdir -p "$DATA/nginx/tmp"
# nginx's workers may run as another user (nobody, as root): let them in.
chmod 755 "$DATA" "$DATA/nginx"
# The socket goes in a directory of its own that verstored makes 0750 in
# nginx's group, the socket 0660: as root nginx's workers run as nobody,
# group nogroup; otherwise as this same user, and no group is needed.
group=
[ "$(id -u)" -eq 0 ] && group="socket_group nogroup"
www="$here/client"
if [ ! -d "$www" ]; then
	www="$DATA/www"
	mkdir -p "$www"
	[ -f "$www/index.html" ] || cat > "$www/index.html" <<'HTML'
<!doctype html>
<meta charset="utf-8">
<title>verstore</title>
<p>verstore is running. The API is under <a href="/api/health">/api/</a>.
HTML
fi

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
		cat "$CONF"
		echo
	fi
	echo "# make run: PORT and DATA"
	echo "data_dir $DATA/data"
	echo "socket $DATA/run/verstored.sock"
	echo "socket_mode 0660"
	echo "$group"
} > "$DATA/verstore.conf"
sh conf/nginx-local.sh "$PORT" "$DATA/nginx" "$DATA/run/verstored.sock" "$www" \
	stderr > "$DATA/nginx/nginx.conf"
"$nginx" -t -q -p "$DATA/nginx" -c "$DATA/nginx/nginx.conf"

vpid= npid=
stop() {
	trap - INT TERM EXIT
	[ -n "$npid" ] && kill -TERM "$npid" 2>/dev/null || true
	[ -n "$vpid" ] && kill -TERM "$vpid" 2>/dev/null || true
	wait 2>/dev/null || true
	echo "verstore stopped."
}
trap stop EXIT
trap 'stop; exit 0' INT TERM HUP

# A port that something else holds: say so before starting anything.
if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
	echo "port $PORT on 127.0.0.1 is in use; choose another: make run PORT=8081" >&2
	trap - EXIT
	exit 1
fi

case "$BUILD" in /*) exe="$BUILD/verstored" ;; *) exe="$here/$BUILD/verstored" ;; esac
"$exe" -c "$DATA/verstore.conf" &
vpid=$!
for _ in $(seq 100); do
	[ -S "$DATA/run/verstored.sock" ] && break
	kill -0 "$vpid" 2>/dev/null || exit 1
	sleep 0.05
done
"$nginx" -p "$DATA/nginx" -c "$DATA/nginx/nginx.conf" &
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
