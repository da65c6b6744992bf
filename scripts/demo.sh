#!/bin/bash
# demo.sh - show vmnet-broker's main job on this machine, safely.
#
# Usage: demo.sh BUILD_DIR    (as root; `make demo` does this)
#
# Everything happens inside network namespaces made here and removed at the
# end: the daemon's own namespace, an "upstream" one standing in for the
# outside world (joined to the daemon's by a veth on TEST-NET-3,
# 203.0.113.0/24), and three guest namespaces standing in for VMs: g1 and g2
# on the `shared` network (g2 with a MAC of its own, as QEMU or libvirt
# would give it), g3 on `host`. Nothing is added to this machine's
# own network namespace and no packet leaves for a real address.
set -euo pipefail

BUILD=${1:?usage: demo.sh BUILD_DIR}
BUILD=$(cd "$BUILD" && pwd)
DAEMON=$BUILD/vmnet-brokerd
CLI=$BUILD/vmnet-broker

if [ "$(id -u)" != 0 ]; then
	echo "demo.sh: run as root: it makes network namespaces" >&2
	exit 1
fi
for f in "$DAEMON" "$CLI"; do
	[ -x "$f" ] || { echo "demo.sh: $f is missing; run make" >&2; exit 1; }
done
for c in ip udhcpc ping nft dnsmasq; do
	command -v "$c" >/dev/null || { echo "demo.sh: '$c' is missing (make deps)" >&2; exit 1; }
done

PREFIX=vmdemo-
RUN=$PREFIX$$-
UPLINK_DAEMON=203.0.113.1
UPLINK_UPSTREAM=203.0.113.2

NAMESPACES=()
DAEMON_PID=
TMP=

if [ -t 1 ]; then
	BOLD=$(printf '\033[1m') PLAIN=$(printf '\033[0m')
else
	BOLD='' PLAIN=''
fi
heading() {
	printf '\n%s== %s%s\n' "$BOLD" "$*" "$PLAIN"
}

# Kill what runs inside namespace $1 (only what this demo started), delete it.
ns_remove() {
	local pid
	for pid in $(ip netns pids "$1" 2>/dev/null); do
		kill -KILL "$pid" 2>/dev/null || true
	done
	ip netns del "$1" 2>/dev/null || true
}

cleanup() {
	local rc=$? i
	set +e
	trap - EXIT INT TERM
	heading "Cleaning up"
	if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
		kill -TERM "$DAEMON_PID"
		wait "$DAEMON_PID" 2>/dev/null
	fi
	for ((i = ${#NAMESPACES[@]} - 1; i >= 0; i--)); do
		ns_remove "${NAMESPACES[i]}"
	done
	if [ "$rc" != 0 ] && [ -n "$TMP" ] && [ -s "$TMP/daemon.log" ]; then
		echo "demo failed (exit $rc); the daemon's log ends with:"
		tail -n 30 "$TMP/daemon.log"
	fi
	[ -n "$TMP" ] && rm -rf "$TMP"
	echo "removed the daemon, ${#NAMESPACES[@]} namespaces and the temp dir"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Leftovers of an earlier demo that was killed before it could clean up.
for ns in $(ip netns list | awk '{print $1}'); do
	case "$ns" in
	"$PREFIX"*)
		owner=${ns#"$PREFIX"}
		owner=${owner%%-*}
		if ! kill -0 "$owner" 2>/dev/null; then
			ns_remove "$ns"
		fi
		;;
	esac
done
for d in /tmp/"$PREFIX"*; do
	[ -d "$d" ] || continue
	owner=${d#/tmp/"$PREFIX"}
	owner=${owner%%-*}
	kill -0 "$owner" 2>/dev/null || rm -rf "$d"
done

TMP=$(mktemp -d "/tmp/${RUN}XXXXXX")
chmod 755 "$TMP"
SOCK=$TMP/broker.sock
mkdir "$TMP/state" "$TMP/config"
: >"$TMP/resolv.conf" # dnsmasq gets no upstream DNS: it never forwards a query

D=${RUN}broker
UP=${RUN}upstream
G1=${RUN}g1
G2=${RUN}g2
G3=${RUN}g3

heading "Namespaces: broker, upstream, guests g1 g2 (shared) and g3 (host)"
for ns in "$D" "$UP" "$G1" "$G2" "$G3"; do
	ip netns add "$ns"
	NAMESPACES+=("$ns")
	ip -n "$ns" link set lo up
done
# The uplink is made inside the broker's namespace; its peer goes straight upstream.
ip -n "$D" link add uplink0 type veth peer name uplink0 netns "$UP"
ip -n "$D" addr add "$UPLINK_DAEMON/24" dev uplink0
ip -n "$UP" addr add "$UPLINK_UPSTREAM/24" dev uplink0
ip -n "$D" link set uplink0 up
ip -n "$UP" link set uplink0 up
ip -n "$D" route add default via "$UPLINK_UPSTREAM"
printf '  %s\n' "${NAMESPACES[@]}"

heading "Starting vmnet-brokerd in $D"
# It would tell firewalld about its bridges on the system bus: not this machine's.
DBUS_SYSTEM_BUS_ADDRESS=unix:path=/nonexistent/vmnet-demo-uses-no-bus \
ip netns exec "$D" "$DAEMON" --socket "$SOCK" --state-dir "$TMP/state" \
	--config-dir "$TMP/config" --resolv-file "$TMP/resolv.conf" \
	--idle-timeout 5 --log-level info 2>"$TMP/daemon.log" &
DAEMON_PID=$!
for _ in $(seq 100); do
	"$CLI" --socket "$SOCK" status >/dev/null 2>&1 && break
	kill -0 "$DAEMON_PID" 2>/dev/null || { echo "vmnet-brokerd exited" >&2; exit 1; }
	sleep 0.1
done
"$CLI" --socket "$SOCK" status >/dev/null
echo "listening on $SOCK (pid $DAEMON_PID)"

broker() {
	"$CLI" --socket "$SOCK" "$@"
}

heading "Acquiring a port for each guest (vmnet-broker acquire NAME --netns PATH)"
acquire() { # GUEST NAMESPACE NETWORK
	printf '%s: ' "$1"
	broker acquire "$3" --port netns --netns "/run/netns/$2" --label "demo-$1"
}
acquire g1 "$G1" shared
acquire g2 "$G2" shared
acquire g3 "$G3" host

# udhcpc event script: apply the lease and say what it got.
cat >"$TMP/udhcpc.script" <<'EOF'
#!/bin/sh
case "$1" in
deconfig)
	ip link set dev "$interface" up
	ip -4 addr flush dev "$interface"
	;;
bound|renew)
	ip addr add "$ip/${mask:-24}" dev "$interface"
	[ -n "$router" ] && ip route replace default via "${router%% *}" dev "$interface"
	echo "  got $ip/${mask:-24}, router ${router:-none}, dns ${dns:-none}"
	;;
esac
exit 0
EOF
chmod 755 "$TMP/udhcpc.script"

heading "g2 picks a MAC of its own, as QEMU and libvirt do"
ip -n "$G2" link set eth0 address 52:54:00:12:34:56
echo "g2: eth0 is now 52:54:00:12:34:56, not the MAC of its port"

heading "DHCP in each guest (busybox udhcpc, sending its name)"
dhcp() { # GUEST NAMESPACE
	echo "$1:"
	ip netns exec "$2" udhcpc -f -q -n -t 6 -T 1 -i eth0 -x "hostname:$1" \
		-s "$TMP/udhcpc.script" 2>/dev/null
}
dhcp g1 "$G1"
dhcp g2 "$G2"
dhcp g3 "$G3"

heading "What a script that started a VM asks (vmnet-broker wait-address LABEL)"
printf 'demo-g2: '
broker wait-address --timeout 10 demo-g2

addr_of() {
	ip -n "$1" -4 -o addr show dev eth0 | awk '{split($4, a, "/"); print a[1]; exit}'
}
A1=$(addr_of "$G1")
A2=$(addr_of "$G2")
A3=$(addr_of "$G3")

heading "Leases (vmnet-broker status)"
broker status

heading "g1 ($A1) pings g2 ($A2) on shared"
ip netns exec "$G1" ping -n -c 3 -i 0.3 "$A2"

heading "g1 reaches g2 by name, from the network's DNS (g2.shared.vmnet)"
# The guest's resolver is the gateway, as DHCP said; /etc/resolv.conf only
# in a mount namespace of this command's own.
echo "nameserver ${A1%.*}.1" >"$TMP/resolv.conf"
ip netns exec "$G1" unshare -m sh -c \
	'mount --bind "$1" /etc/resolv.conf && ping -n -c 2 -i 0.3 g2.shared.vmnet' sh "$TMP/resolv.conf"

heading "g3 ($A3, host) cannot reach g1 ($A1, shared)"
# Give g3 a route through its gateway, so only the broker's rules stand in the way.
ip netns exec "$G3" ip route replace default via "${A3%.*}.1" dev eth0
if ip netns exec "$G3" ping -n -c 2 -i 0.3 -W 1 "$A1" >/dev/null 2>&1; then
	echo "UNEXPECTED: g3 reached g1" >&2
	exit 1
fi
echo "no reply: the networks are isolated"

heading "g1 reaches upstream ($UPLINK_UPSTREAM) through NAT; g3 does not"
# Upstream has no route to the guests' subnets: only a masqueraded ping gets an answer.
ip netns exec "$G1" ping -n -c 1 -W 2 "$UPLINK_UPSTREAM" | sed -n 2p
if ip netns exec "$G3" ping -n -c 1 -W 1 "$UPLINK_UPSTREAM" >/dev/null 2>&1; then
	echo "UNEXPECTED: host-only g3 reached upstream" >&2
	exit 1
fi
echo "g3: no reply (host-only network)"

heading "vmnet-broker networks"
broker networks

heading "g2's namespace goes away (the VM exited): its lease ends"
ns_remove "$G2"
for _ in $(seq 50); do
	broker status | grep -q demo-g2 || break
	sleep 0.1
done
broker status
