#!/bin/sh
# Builds the HCL/config libFuzzer target with clang and runs it for N
# seconds (default 20) over a scratch copy of the seed corpus, so new
# inputs it finds do not land in the repository. A crash leaves its input
# in the build directory's fuzz-artifacts/ and fails the script; add such
# an input to tests/fuzz/corpus/hcl/ once it is fixed.
#
#   tests/fuzz/run.sh [SECONDS [BUILD-DIR]]
set -eu
secs=${1:-20}
top=$(cd "$(dirname "$0")/../.." && pwd)
dir=${2:-$top/build-fuzz}

sh "$top/scripts/build.sh" "$dir" --enable-fuzzers --disable-unit-tests \
    --enable-werror
fuzzer="$dir/tests/fuzz/fuzz_hcl"
[ -x "$fuzzer" ] || { echo "run.sh: $fuzzer was not built" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/spirelet-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
mkdir -p "$dir/fuzz-artifacts"
cp "$top"/tests/fuzz/corpus/hcl/* "$work/"

# One input may allocate at most 64 MiB: the parser's caps keep it far
# below that, so more is a bug. The RSS limit is libFuzzer's default;
# AddressSanitizer's quarantine alone takes a few hundred MiB.
"$fuzzer" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -malloc_limit_mb=64 -max_len=65536 -dict="$top/tests/fuzz/hcl.dict" \
    -artifact_prefix="$dir/fuzz-artifacts/" -print_final_stats=1 \
    "$work" 2>"$dir/fuzz.log" || {
	tail -40 "$dir/fuzz.log" >&2
	echo "run.sh: the fuzzer found a problem; inputs in" \
	    "$dir/fuzz-artifacts/" >&2
	exit 1
}
grep -E '^stat::(number_of_executed_units|new_units_added)' \
    "$dir/fuzz.log" || true
echo "fuzz_hcl: no crash in ${secs}s"
