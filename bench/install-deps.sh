#!/bin/sh
# Install the Debian packages `make bench` needs on top of the build's,
# only when one of them is missing (scripts/install-deps.sh does the work).
#   iperf3, slirp4netns, passt (pasta): the data-plane competitors
#   qemu-system-common: QEMU's qemu-bridge-helper, the port-latency competitor
#   python3-matplotlib: the plot
set -eu
exec "$(dirname "$0")/../scripts/install-deps.sh" \
	iperf3 slirp4netns passt qemu-system-common python3-matplotlib
