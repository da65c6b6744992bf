#!/bin/sh
# Install the Debian packages `make bench` needs on top of the build's
# (scripts/install-deps.sh), only when one of them is missing.
#   iperf3, slirp4netns, passt (pasta): the data-plane competitors
#   qemu-system-common: QEMU's qemu-bridge-helper, the port-latency competitor
#   python3-matplotlib: the plot
set -eu

PKGS="iperf3 slirp4netns passt qemu-system-common python3-matplotlib
iproute2 nftables dnsmasq-base udhcpc util-linux procps"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "bench/install-deps: missing packages:$missing (run as root to install them)" >&2
	exit 1
fi
echo "bench/install-deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
