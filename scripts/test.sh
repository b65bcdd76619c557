#!/bin/sh
# README's second command, and all that .ci/run does: installs what is
# needed, builds with warnings as errors, and runs every test: the style
# check, unit and system tests, the fuzzer for a short while, then the
# unit tests again under AddressSanitizer and UBSan.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

echo "== installing dependencies"
scripts/install-deps.sh --tests

echo "== build (warnings are errors)"
scripts/build.sh "$top/build" --enable-werror
echo "== style"
scripts/checkstyle.sh
echo "== unit and system tests"
make -C build check || { cat build/test-suite.log 2>/dev/null; exit 1; }
echo "== bench, quick" && bench/run.py --quick --build-dir build

echo "== fuzzing the configuration parser (${SPIRELET_FUZZ_SECONDS:-20}s)"
tests/fuzz/run.sh "${SPIRELET_FUZZ_SECONDS:-20}" "$top/build-fuzz"

echo "== unit tests under AddressSanitizer and UBSan"
scripts/build.sh "$top/build-san" --enable-werror --enable-sanitizers
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    make -C build-san check SPIRELET_SYSTEM_TESTS=no ||
    { cat build-san/test-suite.log 2>/dev/null; exit 1; }
echo "== all tests passed"
