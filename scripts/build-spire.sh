#!/bin/sh
# Builds the real SPIRE v1.13.3 server and agent from the Go module proxy,
# for interop tests and benchmarks, into a cache outside the repository,
# and reuses what is there. Nothing of SPIRE is ever committed.
#
#   scripts/build-spire.sh            prints the bin directory
#
# SPIRELET_CACHE overrides the cache (default ~/.cache/spirelet).
set -eu

version=v1.13.3
cache=${SPIRELET_CACHE:-${HOME:-/root}/.cache/spirelet}
dir=$cache/spire-$version
bin=$dir/bin

if [ -x "$bin/spire-server" ] && [ -x "$bin/spire-agent" ]; then
	echo "$bin"
	exit 0
fi
command -v go >/dev/null 2>&1 || { echo "build-spire: go not found" >&2; exit 1; }
mkdir -p "$dir/mod"
cd "$dir/mod"
[ -f go.mod ] || go mod init spirelet.local/spire-peers >/dev/null 2>&1
export GOFLAGS=-mod=mod
go get -tool "github.com/spiffe/spire/cmd/spire-server@$version" >&2
go get -tool "github.com/spiffe/spire/cmd/spire-agent@$version" >&2
GOBIN=$bin go install github.com/spiffe/spire/cmd/spire-server \
    github.com/spiffe/spire/cmd/spire-agent >&2
echo "$bin"
