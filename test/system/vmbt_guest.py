"""vmbt_guest - a tiny Linux guest for the QEMU system tests, built from Debian packages.

Nothing binary lives in the repository: the first run downloads the
distribution kernel (the linux-image-*-amd64 package that linux-image-amd64
depends on) and busybox-static with `apt-get download`, unpacks them with
dpkg-deb (nothing is installed on the machine) and keeps what the guest
needs in a cache outside the checkout, reused by later runs:

    /var/tmp/vmnet-broker-guest/<kernel package>/
        vmlinuz             the kernel
        modules/*.ko        virtio_net, virtio_pci and what they depend on
        modules.order       the order to insmod them in
        busybox             statically linked
        initrd-<hash>.img   busybox + modules + INIT, one per version of INIT

The guest's /init brings up eth0 with DHCP (sending the host name
vmbt.hostname=NAME of the kernel command line, if any), prints
"VMBT-READY <address>" on the serial console and then obeys one command
per console line:

    ping ADDR     -> "VMBT-PASS ping ADDR" or "VMBT-FAIL ping ADDR"; ADDR may
                     be a name, looked up in DNS (the DHCP server's, the
                     DHCP domain searched)
    noping ADDR   -> "VMBT-PASS noping ADDR" when ADDR never answers
    route ADDR    -> a default route via ADDR, "VMBT-PASS route ADDR"
    remac MAC     -> eth0 takes MAC and asks DHCP again: "VMBT-ADDRESS <address>",
                     then "VMBT-PASS remac MAC"
    poweroff      -> powers the guest off (QEMU exits)

so a test can first learn every guest's address and then tell each whom to
ping. When anything is missing it says "VMBT-FAIL <why>" and powers off.
"""
import fcntl
import glob
import hashlib
import os
import re
import shutil
import subprocess
import tempfile

CACHE = os.environ.get("VMBT_GUEST_CACHE", "/var/tmp/vmnet-broker-guest")
# The modules the guest loads; their dependencies are found from .modinfo.
WANTED_MODULES = ("virtio_pci", "virtio_net")

INIT = r"""#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /tmp /usr/bin /usr/sbin /sbin /etc
/bin/busybox --install -s
echo "hosts: files dns" > /etc/nsswitch.conf
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
exec 0</dev/console 1>/dev/console 2>&1
# The kernel's chatter would cut our lines in two.
echo 1 > /proc/sys/kernel/printk

fail() {
	echo "VMBT-FAIL $*"
	poweroff -f
}

for m in $(cat /modules.order); do
	insmod "/modules/$m.ko" || fail "insmod $m"
done
ip link set lo up
i=0
while [ ! -e /sys/class/net/eth0 ]; do
	i=$((i + 1))
	[ $i -gt 100 ] && fail "no eth0"
	sleep 0.1
done
echo "VMBT-MAC $(cat /sys/class/net/eth0/address)"
name=$(sed -n 's/.*vmbt\.hostname=\([^ ]*\).*/\1/p' /proc/cmdline)
dhcp() {
	udhcpc -i eth0 -f -q -n -t 20 -T 1 -s /udhcpc.script ${name:+-x hostname:$name} \
		>/dev/null 2>&1
}
dhcp || fail "no DHCP lease"
addr=$(cat /tmp/address)
echo "VMBT-READY $addr"

while read -r cmd arg; do
	case "$cmd" in
	ping)
		# A few tries: the peer may still be coming up.
		ok=FAIL
		for i in 1 2 3 4 5 6 7 8 9 10; do
			if ping -c 1 -W 1 "$arg" >/dev/null 2>&1; then
				ok=PASS
				break
			fi
		done
		echo "VMBT-$ok ping $arg"
		;;
	noping)
		if ping -c 3 -W 1 "$arg" >/dev/null 2>&1; then
			echo "VMBT-FAIL noping $arg"
		else
			echo "VMBT-PASS noping $arg"
		fi
		;;
	route)
		ip route replace default via "$arg" dev eth0 && echo "VMBT-PASS route $arg" \
			|| echo "VMBT-FAIL route $arg"
		;;
	remac)
		ip link set eth0 down && ip link set eth0 address "$arg" && ip link set eth0 up
		if dhcp; then
			echo "VMBT-ADDRESS $(cat /tmp/address)"
			echo "VMBT-PASS remac $arg"
		else
			echo "VMBT-FAIL remac $arg"
		fi
		;;
	poweroff)
		echo "VMBT-POWEROFF"
		poweroff -f
		;;
	esac
done
fail "console closed"
"""

DHCP_SCRIPT = r"""#!/bin/sh
case "$1" in
deconfig)
	ip link set dev "$interface" up
	ip -4 addr flush dev "$interface"
	;;
bound|renew)
	ip -4 addr flush dev "$interface"
	ip addr add "$ip/${mask:-24}" dev "$interface"
	if [ -n "$router" ]; then
		set -- $router
		ip route replace default via "$1" dev "$interface"
	fi
	echo "$ip" > /tmp/address
	: > /etc/resolv.conf
	[ -n "$domain" ] && echo "search $domain" >> /etc/resolv.conf
	for d in $dns; do echo "nameserver $d" >> /etc/resolv.conf; done
	;;
esac
exit 0
"""


class Unavailable(Exception):
    """The guest cannot be built here (no package source, no tools)."""


def _run(cmd, cwd=None, timeout=600):
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    if p.returncode != 0:
        raise Unavailable("%s failed (%d): %s" % (" ".join(cmd), p.returncode,
                                                  (p.stderr or p.stdout).strip()[-500:]))
    return p.stdout


def _apt_update():
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "update", "-q"], capture_output=True,
                       stdin=subprocess.DEVNULL, timeout=300)


def _kernel_package():
    """linux-image-<abi>-amd64: what linux-image-amd64 depends on, per the apt lists."""
    if not shutil.which("apt-cache"):
        return None
    p = subprocess.run(["apt-cache", "depends", "linux-image-amd64"], capture_output=True,
                       text=True, stdin=subprocess.DEVNULL)
    m = re.search(r"Depends:\s*(linux-image-\S+-amd64)\b", p.stdout)
    return m.group(1) if m else None


def _modinfo_depends(path):
    """The depends= field of a module's .modinfo (what `modinfo -F depends` prints)."""
    with open(path, "rb") as f:
        data = f.read()
    m = re.search(rb"(?:^|\0)depends=([^\0]*)\0", data)
    if not m:
        return []
    return [d for d in m.group(1).decode().split(",") if d]


def _module_order(modules_root):
    """The .ko paths to insmod, dependencies first."""
    by_name = {}
    for path in glob.glob(os.path.join(modules_root, "**", "*.ko"), recursive=True):
        by_name[os.path.basename(path)[:-3].replace("-", "_")] = path
    order, seen = [], set()

    def visit(name):
        key = name.replace("-", "_")
        if key in seen:
            return
        if key not in by_name:
            raise Unavailable("module %s is not in the kernel package" % name)
        seen.add(key)
        for dep in _modinfo_depends(by_name[key]):
            visit(dep)
        order.append(by_name[key])
    for name in WANTED_MODULES:
        visit(name)
    return order


def _build_base(pkg, dest):
    """Download and unpack the kernel and busybox into @dest (made atomically)."""
    for tool in ("apt-get", "dpkg-deb"):
        if not shutil.which(tool):
            raise Unavailable("%s is not installed" % tool)
    os.makedirs(CACHE, exist_ok=True)
    work = tempfile.mkdtemp(prefix=".build-", dir=CACHE)
    try:
        # As root, apt would drop to _apt to download and warn that it cannot write here.
        _run(["apt-get", "download", "-q", "-o", "APT::Sandbox::User=root", pkg,
              "busybox-static"], cwd=work)
        debs = {os.path.basename(p).split("_")[0]: p for p in glob.glob(work + "/*.deb")}
        if pkg not in debs or "busybox-static" not in debs:
            raise Unavailable("apt-get download gave %s" % sorted(debs))
        tree = os.path.join(work, "tree")
        _run(["dpkg-deb", "-x", debs[pkg], tree])
        _run(["dpkg-deb", "-x", debs["busybox-static"], tree])

        out = os.path.join(work, "out")
        os.makedirs(os.path.join(out, "modules"))
        vmlinuz = glob.glob(os.path.join(tree, "boot", "vmlinuz-*"))
        if len(vmlinuz) != 1:
            raise Unavailable("no single kernel in %s: %s" % (pkg, vmlinuz))
        shutil.copy(vmlinuz[0], os.path.join(out, "vmlinuz"))
        names = []
        for path in _module_order(os.path.join(tree, "lib", "modules")):
            name = os.path.basename(path)[:-3]
            shutil.copy(path, os.path.join(out, "modules", name + ".ko"))
            names.append(name)
        with open(os.path.join(out, "modules.order"), "w") as f:
            f.write("\n".join(names) + "\n")
        shutil.copy(os.path.join(tree, "bin", "busybox"), os.path.join(out, "busybox"))
        for dirpath, _, files in os.walk(out):
            os.chmod(dirpath, 0o755)
            for name in files:
                os.chmod(os.path.join(dirpath, name), 0o644)
        os.chmod(os.path.join(out, "busybox"), 0o755)
        os.rename(out, dest)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _build_initrd(base, path):
    if not shutil.which("cpio"):
        raise Unavailable("cpio is not installed")
    work = tempfile.mkdtemp(prefix=".initrd-", dir=base)
    try:
        root = os.path.join(work, "root")
        for d in ("bin", "modules", "proc", "sys", "dev", "tmp"):
            os.makedirs(os.path.join(root, d))
        shutil.copy(os.path.join(base, "busybox"), os.path.join(root, "bin", "busybox"))
        for ko in glob.glob(os.path.join(base, "modules", "*.ko")):
            shutil.copy(ko, os.path.join(root, "modules"))
        shutil.copy(os.path.join(base, "modules.order"), os.path.join(root, "modules.order"))
        for name, text in (("init", INIT), ("udhcpc.script", DHCP_SCRIPT)):
            with open(os.path.join(root, name), "w") as f:
                f.write(text)
            os.chmod(os.path.join(root, name), 0o755)
        os.chmod(os.path.join(root, "bin", "busybox"), 0o755)
        files = _run(["find", ".", "-mindepth", "1"], cwd=root)
        tmp = os.path.join(work, "initrd.img")
        with open(tmp, "wb") as out:
            cpio = subprocess.Popen(["cpio", "-o", "-H", "newc", "--quiet", "-R", "0:0"],
                                    cwd=root, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            gz = subprocess.Popen(["gzip", "-1"], stdin=cpio.stdout, stdout=out)
            cpio.stdout.close()
            cpio.communicate(files.encode())
            gz.wait()
            if cpio.returncode != 0 or gz.returncode != 0:
                raise Unavailable("cpio | gzip failed")
        os.chmod(tmp, 0o644)
        os.rename(tmp, path)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _base():
    """The cache directory of the current kernel package, built if need be."""
    error = None
    for attempt in range(2):
        if attempt:
            # No lists yet (a fresh machine), or old ones naming a package
            # the archive has replaced since.
            _apt_update()
        pkg = _kernel_package()
        if pkg is None:
            error = Unavailable("apt knows no linux-image-amd64 package to build a guest from")
            continue
        base = os.path.join(CACHE, pkg)
        if os.path.exists(os.path.join(base, "vmlinuz")):
            return base
        try:
            _build_base(pkg, base)
            return base
        except Unavailable as e:
            error = e
    # Offline: any kernel built before will do.
    have = sorted(glob.glob(os.path.join(CACHE, "linux-image-*", "vmlinuz")))
    if have:
        return os.path.dirname(have[-1])
    raise error


def build():
    """Return (kernel, initrd) paths, building them first where needed.

    Raises Unavailable with the reason when the guest cannot be had here.
    """
    os.makedirs(CACHE, exist_ok=True)
    os.chmod(CACHE, 0o755)
    with open(os.path.join(CACHE, ".lock"), "w") as lock:
        # Two test runs at once build it once.
        fcntl.flock(lock, fcntl.LOCK_EX)
        base = _base()
        digest = hashlib.sha256((INIT + DHCP_SCRIPT).encode()).hexdigest()[:16]
        initrd = os.path.join(base, "initrd-%s.img" % digest)
        if not os.path.exists(initrd):
            _build_initrd(base, initrd)
        return os.path.join(base, "vmlinuz"), initrd


if __name__ == "__main__":
    print("%s %s" % build())
