#!/bin/sh
# Footprint budgets of the foundation (issue: binary under 400 KiB
# stripped, idle `spirelet run` under 2 MiB RSS, no wake-ups while idle).
# Measures; never asserts. Usage: bench/footprint.sh [BUILD_DIR] [SECONDS]
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
window=${2:-10}
bin=$build/spirelet
[ -x "$bin" ] || { echo "footprint: build first ($bin missing)" >&2; exit 1; }

work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$work"' EXIT

cp "$bin" "$work/spirelet"
strip "$work/spirelet"
size=$(stat -c %s "$work/spirelet")
echo "binary (stripped):     $size bytes ($((size / 1024)) KiB)"
echo "shared libraries:      $(ldd "$bin" | awk '{print $1}' |
    grep -v -e linux-vdso -e ld-linux | tr '\n' ' ')"

cat > "$work/run.conf" <<CONF
server {
	trust_domain = "example.org"
	bind_address = "127.0.0.1"
	bind_port = 0
	data_dir = "$work/server"
	socket_path = "$work/server.sock"
}
agent {
	trust_domain = "example.org"
	data_dir = "$work/agent"
	socket_path = "$work/agent.sock"
}
CONF
"$work/spirelet" run -config "$work/run.conf" >"$work/log" 2>&1 &
pid=$!
i=0
while [ ! -S "$work/agent.sock" ] && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
[ -S "$work/agent.sock" ] || { cat "$work/log"; exit 1; }
sleep 1
rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
pss=$(awk '/^Pss:/ {print $2}' "/proc/$pid/smaps_rollup")
priv=$(awk '/^Private_(Clean|Dirty):/ {s += $2} END {print s}' \
    "/proc/$pid/smaps_rollup")
echo "idle RSS:              $rss KiB (PSS $pss KiB, private $priv KiB)"
# What the same shared libraries cost an empty program: the part of the
# RSS that is the libraries' mapped pages rather than spirelet's own.
libs=$(ldd "$bin" | awk '$1 ~ /^lib/ {sub(/^lib/, "", $1);
    sub(/\.so.*/, "", $1); printf "-l%s ", $1}')
printf '#include <unistd.h>\nint main(void){for(;;)pause();}\n' \
    > "$work/empty.c"
if cc -o "$work/empty" -x c "$work/empty.c" -Wl,--no-as-needed $libs \
    2>/dev/null; then
	"$work/empty" & epid=$!
	sleep 0.5
	erss=$(awk '/^VmRSS/ {print $2}' "/proc/$epid/status")
	kill "$epid"
	echo "  an empty program with the same libraries: $erss KiB;" \
	    "spirelet's own: $((rss - erss)) KiB"
fi
ctx() { awk '/^(voluntary|nonvoluntary)_ctxt_switches/ {s += $2} END {print s}' \
    /proc/$pid/task/*/status; }
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
c0=$(ctx); t0=$(cpu)
sleep "$window"
c1=$(ctx); t1=$(cpu)
echo "wake-ups in ${window}s:      $((c1 - c0)) context switches, $((t1 - t0)) ticks of CPU"
