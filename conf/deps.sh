#!/bin/sh
# Installs what verstore needs to build, run and test, when it is missing.
# As root it uses apt-get; otherwise it says what to install.
# Usage: conf/deps.sh [extra Debian packages...]
set -e
need="gcc make libc6-dev liblmdb-dev python3 curl $*"
missing=""
for p in $need; do
	dpkg-query -W -f '${Status}\n' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing="$missing $p"
done
# Any nginx flavour will do.
if ! command -v nginx >/dev/null 2>&1 && ! [ -x /usr/sbin/nginx ]; then
	missing="$missing nginx-light"
fi
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "verstore needs:$missing" >&2
	echo "install them with: sudo apt-get install$missing" >&2
	exit 1
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
