#!/bin/sh
# Configures and builds spirelet out of tree in DIR (default build/) with
# the given configure flags. Prints nothing but errors on success.
#
#   scripts/build.sh [DIR [configure flags...]]
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$top/build}
[ $# -gt 0 ] && shift
cd "$top"
[ -x configure ] && [ configure -nt configure.ac ] || autoreconf -fi >/dev/null 2>&1 ||
    { autoreconf -fi; exit 1; }
mkdir -p "$dir"
cd "$dir"
if [ ! -f Makefile ] || [ "$top/configure" -nt Makefile ]; then
	"$top/configure" "$@" >configure.out 2>&1 ||
	    { tail -20 configure.out; exit 1; }
fi
make -j"$(nproc)" >make.out 2>&1 || { grep -E 'error|warning' make.out ||
    tail -30 make.out; exit 1; }
