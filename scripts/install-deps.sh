#!/bin/sh
# Install the Debian packages that building, testing and the demo need,
# and any named as arguments, only when one of them is missing (so a ready
# machine makes no apt call). Usage: install-deps.sh [PACKAGE...]
set -eu

# qemu-system-x86 and cpio: test_qemu.py boots guests, whose kernel and
# busybox-static it fetches itself with `apt-get download` (busybox-static
# would replace the busybox package if installed). scdoc: the man pages.
# clang-format, clang-tidy: `make lint` (scripts/lint.sh), part of `make check`.
# golang-go: the Go client (go/); python3-jsonschema: the protocol's schema
# (protocol/schema), checked against the daemon's replies.
# libvirt-daemon-system, libvirt-clients: test_libvirt.py boots a libvirt
# domain on a broker network, with a libvirtd of its own in the test's
# namespaces (their services are never started here: see policy-rc.d below).
# iptables (both backends), docker.io, ufw, firewalld, dbus: test_hostfw.py and
# test_firewalld.py run the real ones in test namespaces, next to the broker
# (their services are never started here either).
# frr: zebra, bgpd and vtysh for the EVPN spans of test_span.py, which starts
# its own in its namespaces (its service is never started here either).
PKGS="meson ninja-build pkg-config gcc
libsystemd-dev libnl-3-dev libnl-route-3-dev libnftables-dev libjansson-dev libmnl-dev
libcmocka-dev libcap-ng-dev dnsmasq-base nftables iproute2 iputils-ping busybox udhcpc
python3 python3-pytest python3-jsonschema golang-go procps util-linux qemu-system-x86 cpio
scdoc clang-format clang-tidy libvirt-daemon-system libvirt-clients iptables docker.io ufw
firewalld dbus frr"
# `make deb` and `make check` (VMNET_DEB_DEPS=1) also need the Debian
# packaging tools and what debian/control's Build-Depends adds: systemd.pc
# for the unit directory, bash-completion.pc for the completions
# directory, dh-python for python3-vmnet-broker. With systemd-container and
# debootstrap, test_package.py also boots the packages under a real systemd
# (in a throwaway root made in /var/tmp, never this one).
if [ "${VMNET_DEB_DEPS:-0}" = 1 ]; then
	PKGS="$PKGS dpkg-dev debhelper dh-python systemd bash-completion systemd-container
debootstrap"
fi
# Further packages a caller needs on top (bench/install-deps.sh, fuzz).
PKGS="$PKGS $*"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done

# Each network's dnsmasq drops to this account, which alone may read its
# hosts and lease files (vmnet-brokerd: dnsmasq-env.c). The package makes
# it with sysusers.d; the tests run the daemon from the tree. Only the
# account: the group vmnet-broker, which the package also makes, would
# close the tests' sockets to their unprivileged clients.
DNSMASQ_USER=vmnet-broker-dnsmasq
if ! getent passwd "$DNSMASQ_USER" >/dev/null; then
	if [ "$(id -u)" = 0 ]; then
		echo "install-deps: adding system account $DNSMASQ_USER" >&2
		useradd --system --user-group --no-create-home --home-dir /nonexistent \
			--shell /usr/sbin/nologin --comment "vmnet-broker dnsmasq" "$DNSMASQ_USER"
	else
		echo "install-deps: no account $DNSMASQ_USER (run as root to add it); dnsmasq" \
			"falls back to another" >&2
	fi
fi

[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "install-deps: missing packages:$missing (run as root to install them)" >&2
	exit 1
fi
echo "install-deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# Some packages ship services (libvirt-daemon-system: libvirtd, virtlogd;
# docker.io, firewalld, dbus; frr: zebra, bgpd, watchfrr).
# The tests run what they need themselves, in namespaces of their own;
# nothing may start on this machine. A policy-rc.d that exits 101 tells
# invoke-rc.d and deb-systemd-invoke not to start anything; one the
# machine has already is left as it is.
POLICY=/usr/sbin/policy-rc.d
if [ ! -e "$POLICY" ]; then
	printf '#!/bin/sh\n# install-deps.sh of vmnet-broker: start no service while installing\nexit 101\n' >"$POLICY"
	chmod 755 "$POLICY"
	trap 'rm -f "$POLICY"' EXIT
	trap 'exit 130' INT TERM
fi
# Another apt or dpkg at work (a parallel make, unattended-upgrades): wait
# for its lock rather than fail.
LOCK="-o DPkg::Lock::Timeout=600"
# shellcheck disable=SC2086
apt-get $LOCK update -q
# shellcheck disable=SC2086
apt-get $LOCK install -y -q --no-install-recommends $missing
