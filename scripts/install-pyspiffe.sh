#!/bin/sh
# Installs py-spiffe (PyPI "spiffe") with pinned dependencies for the
# agent's interop tests into a cache outside the repository, with
# Debian's python3 and pip, and reuses what is there.
#
#   scripts/install-pyspiffe.sh       prints the directory to put on
#                                     PYTHONPATH
#
# SPIRELET_CACHE overrides the cache (default ~/.cache/spirelet).
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
req=$top/tests/system/pyspiffe-requirements.txt
cache=${SPIRELET_CACHE:-${HOME:-/root}/.cache/spirelet}
sum=$(sha256sum "$req" | cut -c1-12)
dir=$cache/pyspiffe-$sum

if [ -f "$dir/.complete" ]; then
	echo "$dir"
	exit 0
fi
rm -rf "$dir"
mkdir -p "$dir"
/usr/bin/python3 -m pip install --quiet --disable-pip-version-check \
    --no-input --no-warn-script-location --target "$dir" \
    -r "$req" >&2
touch "$dir/.complete"
echo "$dir"
