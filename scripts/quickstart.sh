#!/bin/sh
# README's first command: installs what is needed, builds, and runs
# spirelet on its embedded default (server and agent in one process).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/install-deps.sh"
"$top/scripts/build.sh" "$top/build"
exec "$top/build/spirelet" run "$@"
