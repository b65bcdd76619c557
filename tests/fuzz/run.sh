#!/bin/sh
# Builds every libFuzzer target with clang (the whole library
# instrumented, under ASan and UBSan) and runs each for SECONDS (default
# 20, split evenly) over a scratch copy of its seed corpus, so inputs it
# finds do not land in the repository. A crash leaves its input in the
# build directory's fuzz-artifacts/ and fails the script; add such an
# input to the target's corpus under tests/fuzz/corpus/ once fixed.
#
#   tests/fuzz/run.sh [SECONDS [BUILD-DIR]]
set -eu
secs=${1:-20}
top=$(cd "$(dirname "$0")/../.." && pwd)
dir=${2:-$top/build-fuzz}
targets="hcl x509 pem spiffe_id"

CC=clang CFLAGS="-g -O1 -fsanitize=fuzzer-no-link,address,undefined \
-fno-sanitize-recover=undefined -fno-omit-frame-pointer" \
    sh "$top/scripts/build.sh" "$dir" --enable-fuzzers --disable-unit-tests
each=$((secs / 4))
[ "$each" -ge 1 ] || each=1
mkdir -p "$dir/fuzz-artifacts"
status=0
for t in $targets; do
	fuzzer="$dir/tests/fuzz/fuzz_$t"
	[ -x "$fuzzer" ] || { echo "run.sh: $fuzzer not built" >&2; exit 1; }
	work=$(mktemp -d "${TMPDIR:-/tmp}/spirelet-fuzz.XXXXXX")
	if [ -d "$top/tests/fuzz/corpus/$t" ]; then
		cp "$top/tests/fuzz/corpus/$t"/* "$work/"
	fi
	dict=""
	[ -f "$top/tests/fuzz/$t.dict" ] &&
	    dict="-dict=$top/tests/fuzz/$t.dict"
	# One input may allocate at most 64 MiB: the parsers' caps keep
	# them far below that, so more is a bug. The RSS limit is
	# libFuzzer's default: ASan's quarantine alone takes a few hundred.
	if "$fuzzer" -max_total_time="$each" -timeout=10 \
	    -rss_limit_mb=2048 -malloc_limit_mb=64 -max_len=65536 $dict \
	    -artifact_prefix="$dir/fuzz-artifacts/" \
	    -print_final_stats=1 "$work" 2>"$dir/fuzz_$t.log"; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' \
		    "$dir/fuzz_$t.log")
		echo "fuzz_$t: no crash in ${each}s (${runs:-?} inputs)"
	else
		tail -40 "$dir/fuzz_$t.log" >&2
		echo "run.sh: fuzz_$t found a problem; inputs in" \
		    "$dir/fuzz-artifacts/" >&2
		status=1
	fi
	rm -rf "$work"
done
exit $status
