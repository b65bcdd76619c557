#!/bin/sh
# Budgets of spirelet's server (issue: RSS under 12 MiB with 10,000
# entries and 100 agents; BatchNewX509SVID at >= 70% of the raw ECDSA
# P-256 signing rate). Starts a server, loads it with bench/server_load,
# prints what it measured; never asserts.
# Usage: bench/server.sh [BUILD_DIR] [ENTRIES] [AGENTS] [SECONDS]
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
entries=${2:-10000}
agents=${3:-100}
secs=${4:-10}
[ -x "$build/bench/server_load" ] || make -C "$build" bench/server_load
work=$(mktemp -d /tmp/spirelet-bench.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$work"' EXIT
cat > "$work/server.conf" <<CONF
server {
	trust_domain = "example.org"
	bind_address = "127.0.0.1"
	bind_port = $port
	data_dir = "$work/data"
	socket_path = "$work/api.sock"
	log_level = "WARN"
}
plugins {
	KeyManager "memory" { plugin_data {} }
	NodeAttestor "join_token" { plugin_data {} }
}
CONF
"$build/spirelet" server run -config "$work/server.conf" 2>"$work/log" &
pid=$!
i=0
while [ ! -S "$work/api.sock" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
"$build/bench/server_load" "$work/api.sock" "127.0.0.1:$port" "$pid" \
    "$entries" "$agents" "$secs"
echo "server peak (VmHWM):     $(awk '/^VmHWM/ {print $2}' /proc/$pid/status) KiB"
echo "datastore file:          $(du -k "$work/data/data.mdb" | cut -f1) KiB"
