#!/bin/sh
# make fuzz: runs each libFuzzer target for $1 seconds on a copy of its
# corpus (new inputs stay in the copy; `make fuzz-merge` keeps them). A
# crash leaves its input in build-fuzz/ and fails the run.
# Usage: tests/fuzz/run.sh SECONDS BUILD_DIR TARGET...
set -u
secs=$1 out=$2
shift 2
failed=""
for bin in "$@"; do
	name=${bin##*/fuzz_}
	work="$out/corpus/$name"
	rm -rf "$work"
	mkdir -p "$work"
	cp tests/fuzz/corpus/"$name"/* "$work"/ 2>/dev/null
	printf '== fuzz %s for %ss: ' "$name" "$secs"
	if "$bin" -max_total_time="$secs" -max_len=65536 -timeout=10 \
	    -rss_limit_mb=2048 -artifact_prefix="$out/crash-$name-" \
	    "$work" >"$out/$name.log" 2>&1; then
		grep -o 'Done [0-9]* runs' "$out/$name.log" | tail -n 1
	else
		echo "FAILED"
		tail -n 30 "$out/$name.log"
		for f in "$out"/crash-"$name"-* "$out"/timeout-"$name"-* \
		    "$out"/oom-"$name"-*; do
			[ -f "$f" ] || continue
			echo "input: $f"
			echo "keep it: cp $f tests/fuzz/corpus/$name/ (then make"
			echo "test replays it), and add a test of the fix."
		done
		failed="$failed $name"
	fi
done
if [ -n "$failed" ]; then
	echo "fuzz: failed:$failed"
	exit 1
fi
echo "fuzz: every target ran ${secs}s without a failure"
