#!/bin/sh
# vmnet-broker-check-leases - refuse (exit 1) to uninstall while VMs hold leases
#
# Run by `make uninstall` and the Debian package's prerm before the daemon
# is stopped and removed. Asks the running daemon (`vmnet-broker status
# --json`; with socket activation this starts it, and it adopts what an
# earlier daemon left); when no daemon answers, reads the records the
# daemon keeps for the next one in its state directory. Any lease, of any
# port kind, is a VM or a tool still using a network: removing the broker
# under it would leave that VM without DHCP, and its network without an
# owner. VMNET_BROKER_FORCE=1 skips the check.
#
# Usage: vmnet-broker-check-leases [CLI [STATE_DIR]]
#   CLI        the vmnet-broker command (default: vmnet-broker from PATH)
#   STATE_DIR  the daemon's --state-dir (default /run/vmnet-broker)
# The socket is the CLI's default, or $VMNET_BROKER_SOCKET.
set -u

cli=${1:-vmnet-broker}
state_dir=${2:-/run/vmnet-broker}

if [ "${VMNET_BROKER_FORCE:-0}" = 1 ]; then
	echo "vmnet-broker: VMNET_BROKER_FORCE=1: not checking for leases" >&2
	exit 0
fi

# Every lease in `status --json` has one "kind".
count_leases() {
	grep -o '"kind"' | wc -l
}

# The live leases of one record (state.c): those of the snapshot NAME.state
# (one line), with the lease changes of NAME.journal replayed over them by
# id. A snapshot lease without an id (an older daemon's) counts by its
# "kind". A line cut short may count a lease too many: never one too few.
count_record() {
	journal="${1%.state}.journal"
	{ cat "$1"; echo; [ ! -f "$journal" ] || cat "$journal"; } | awk '
	NR == 1 {
		anonymous = gsub(/"kind"/, "&")
		s = $0
		while (match(s, /"id":[0-9]+/)) {
			live[substr(s, RSTART + 5, RLENGTH - 5)] = 1
			anonymous--
			s = substr(s, RSTART + RLENGTH)
		}
		next
	}
	/^\{"add":/ {
		if (match($0, /"id":[0-9]+/))
			live[substr($0, RSTART + 5, RLENGTH - 5)] = 1
		next
	}
	/^\{"del":[0-9]+\}$/ { delete live[substr($0, 8, length($0) - 8)] }
	END {
		n = anonymous
		for (id in live)
			n++
		print n
	}'
}

# A socket whose service cannot start would keep the client waiting.
if out=$(timeout 20 "$cli" status --json 2>/dev/null); then
	n=$(printf '%s\n' "$out" | count_leases)
	where="the running daemon"
else
	n=0
	for f in "$state_dir"/*.state; do
		[ -f "$f" ] || continue
		n=$((n + $(count_record "$f")))
	done
	where="the records in $state_dir (no daemon answered)"
fi

if [ "$n" -gt 0 ]; then
	cat >&2 <<MSG
vmnet-broker: refusing to uninstall: $n lease(s) in use, says $where.
Stop the VMs that hold them (\`vmnet-broker status\` shows which), or set
VMNET_BROKER_FORCE=1 to uninstall anyway: their networks are then removed.
MSG
	timeout 20 "$cli" status >&2 2>/dev/null || true
	exit 1
fi
exit 0
