#!/bin/sh
# Installs what spirelet needs to build and test, from Debian 12 packages.
# Run as root. Safe to run again: apt-get skips what is there.
set -eu

build="build-essential autoconf automake libtool pkg-config
	libwolfssl-dev libev-dev libnghttp2-dev liblmdb-dev libtss2-dev
	libjansson-dev nanopb libnanopb-dev protobuf-compiler"
tests="libcmocka-dev clang libclang-rt-14-dev openssl lmdb-utils python3
	postgresql python3-jwt
	python3-pytest python3-grpcio python3-grpc-tools python3-protobuf
	nghttp2-client procps swtpm swtpm-tools tpm2-tools
	python3-cryptography postgresql python3-pip"

what="$build"
[ "${1:-}" = "--tests" ] && what="$build $tests"

export DEBIAN_FRONTEND=noninteractive
missing=""
for p in $what; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	    grep -q 'install ok installed' || missing="$missing $p"
done
# py-spiffe for the agent's interop tests: pinned, into a cache outside
# the repository (tests/system/pyspiffe-requirements.txt).
pyspiffe() {
	[ "${1:-}" = "--tests" ] || return 0
	sh "$(dirname "$0")/install-pyspiffe.sh" >/dev/null
}
[ -z "$missing" ] && { pyspiffe "${1:-}"; exit 0; }
echo "install-deps: installing$missing"
[ "$(id -u)" -eq 0 ] || { echo "install-deps: run as root" >&2; exit 1; }
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
pyspiffe "${1:-}"
