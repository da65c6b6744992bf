#!/bin/sh
# tap-script.sh - the hand-made way onto a bridge, as admins script it
#
#   tap-script.sh add NAME BRIDGE   a persistent TAP NAME, enslaved to BRIDGE, up
#   tap-script.sh del NAME          remove it
#
# vmnet-bench times it as the "script" competitor (QEMU then opens the TAP
# with -netdev tap,ifname=NAME,script=no; vmnet-bench does that TUNSETIFF too).
set -e
case "$1" in
add)
	ip tuntap add dev "$2" mode tap
	ip link set dev "$2" master "$3" up
	;;
del)
	ip link del dev "$2"
	;;
*)
	echo "usage: $0 add NAME BRIDGE | del NAME" >&2
	exit 2
	;;
esac
