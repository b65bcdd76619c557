#!/bin/sh
# make check runs this: the system tests (pytest) against the binaries of
# the build directory it is run from. SPIRELET_SYSTEM_TESTS=no skips them
# (the sanitizer build runs only the unit tests).
set -eu
if [ "${SPIRELET_SYSTEM_TESTS:-yes}" = no ]; then
	echo "system tests skipped (SPIRELET_SYSTEM_TESTS=no)"
	exit 77
fi
srcdir=${srcdir:-.}
SPIRELET_BUILD=$(pwd)
SPIRELET_SRC=$(cd "$srcdir" && pwd)
export SPIRELET_BUILD SPIRELET_SRC
# Debian's interpreter: python3-grpcio and python3-pytest live there, and
# a python3 earlier on PATH (pyenv, a venv) would not have them.
py=${SPIRELET_PYTHON:-/usr/bin/python3}
exec "$py" -m pytest -p no:cacheprovider -q -rs \
    ${SPIRELET_PYTEST_ARGS:-} "$SPIRELET_SRC/tests/system"
