#!/bin/sh
# The README's first command (Debian 12, as root). Installs what is
# needed, builds, and starts spirelet on its built-in default: a server
# with a self-signed root and an agent in one process, on loopback, state
# under /var/lib/spirelet. Then, as an operator would, it registers the
# calling user (SUDO_USER, else the user running this) as a demo workload
# with `spirelet server entry create`, shows the SVID that user receives
# from the Workload API with `spirelet agent api fetch x509`, and leaves
# spirelet running in the foreground: Ctrl-C stops it. `spirelet run`
# itself has no demo behaviour; this script is only its first user.
#
#   sh scripts/quickstart.sh [spirelet run flags...]
#
# The demo steps assume the built-in default (no -config).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/install-deps.sh"
"$top/scripts/build.sh" "$top/build"

bin=$top/build/spirelet
admin=/tmp/spire-server/private/api.sock
wl=/tmp/spire-agent/public/api.sock
td=example.org
user=${SUDO_USER:-$(id -un)}
uid=$(id -u "$user")
gid=$(id -g "$user")
id=spiffe://$td/demo/$user

"$bin" run "$@" &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null || :; wait "$pid" || :; exit 0' INT TERM

fail() {
	echo "quickstart: $*" >&2
	kill -TERM "$pid" 2>/dev/null || :
	wait "$pid" || :
	exit 1
}

# Wait for the server's admin API (the built-in agent attests by itself).
i=0
until "$bin" server healthcheck -socketPath "$admin" >/dev/null 2>&1; do
	kill -0 "$pid" 2>/dev/null || fail "spirelet exited; see its log above"
	i=$((i + 1))
	[ "$i" -lt 300 ] || fail "the server did not become healthy"
	sleep 0.1
done

# The demo workload: processes of $user on this host. The parent is the
# node alias of spirelet's own agent (doc/gateway.md).
if ! "$bin" server entry show -socketPath "$admin" -spiffeID "$id" |
    grep -q "Entry ID"; then
	"$bin" server entry create -socketPath "$admin" \
	    -parentID "spiffe://$td/spirelet/agent" -spiffeID "$id" \
	    -selector "unix:uid:$uid" >/dev/null ||
	    fail "cannot register $id"
fi

# Fetch as $user: the agent attests the caller, not this script.
as=""
[ "$uid" = "$(id -u)" ] || as="setpriv --reuid=$uid --regid=$gid --init-groups"
i=0
while :; do
	if out=$($as "$bin" agent api fetch x509 -socketPath "$wl" 2>&1) &&
	    printf '%s\n' "$out" | grep -q "SPIFFE ID:.*$id"; then
		break
	fi
	kill -0 "$pid" 2>/dev/null || fail "spirelet exited; see its log above"
	i=$((i + 1))
	[ "$i" -lt 120 ] || fail "no SVID for $user: $out"
	sleep 0.5
done
cat <<EOF

================================================================
$user (uid $uid) is registered as $id
and gets this X509-SVID from the Workload API at $wl:
$out
Try it yourself:  $bin agent api fetch x509 -socketPath $wl
spirelet keeps running here; press Ctrl-C to stop it.
================================================================

EOF
wait "$pid"
