"""A real libvirt guest on a broker network (issue #18, 2).

libvirtd (Debian 12's monolithic daemon) runs as a child of the test in
the daemon's network namespace and a mount namespace of its own, with a
tmpfs over every directory a privileged libvirtd writes (/run,
/etc/libvirt, /var/lib/libvirt, /var/log/libvirt, /var/cache/libvirt:
its paths are compiled in), and a configuration that needs neither
polkit, cgroups, AppArmor nor virtlogd. Nothing of the machine's own
libvirt is used or touched; the namespaces and everything in them go
with the test.

The domain is the one docs/integrations.md shows: an unmanaged
`<interface type='ethernet'>` on a persistent named TAP that the broker
made with the name the XML gives, booted under TCG (vmbt_guest.py's
kernel and busybox initramfs). It must get its reserved address by DHCP
and reach a guest of the same network, and the TAP must outlive the
domain until `vmnet-broker release`.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import time

import pytest

from conftest import NOBODY_UID, run, wait_until
import vmbt_guest

LIBVIRTD = shutil.which("libvirtd") or "/usr/sbin/libvirtd"
BOOT_TIMEOUT = 120
MAC = "52:54:00:1b:00:07"

LIBVIRTD_CONF = """\
# No polkit, no TCP; the socket is root's only; logs in the test's directory.
auth_unix_ro = "none"
auth_unix_rw = "none"
unix_sock_rw_perms = "0700"
log_outputs = "3:file:{dir}/libvirtd.log"
"""

# QEMU as root, no AppArmor, no cgroups (nothing under the machine's
# /sys/fs/cgroup), no private /dev for QEMU, console output to files (no
# virtlogd), nothing chowned.
QEMU_CONF = """\
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
cgroup_controllers = [ ]
namespaces = [ ]
stdio_handler = "file"
"""

# tmpfs over what libvirtd writes, in its own mount namespace; its
# configuration copied in; libvirtd exec'd (its pid is the Popen's).
START = """\
mount -t tmpfs -o mode=0755 none /run || exit 1
mkdir /run/libvirt
for d in /etc/libvirt /var/lib/libvirt /var/log/libvirt /var/cache/libvirt; do
    mount -t tmpfs -o mode=0755 none "$d" || exit 1
done
cp "$1/libvirtd.conf" "$1/qemu.conf" /etc/libvirt/
exec {libvirtd} -f /etc/libvirt/libvirtd.conf -p /run/libvirt/libvirtd.pid
"""

DOMAIN = """\
<domain type='qemu'>
  <name>{name}</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>{kernel}</kernel>
    <initrd>{initrd}</initrd>
    <cmdline>console=ttyS0 quiet panic=-1</cmdline>
  </os>
  <on_reboot>destroy</on_reboot>
  <devices>
    <emulator>{qemu}</emulator>
    <interface type='ethernet'>
      <mac address='{mac}'/>
      <target dev='{tap}' managed='no'/>
      <model type='virtio'/>
      <rom enabled='no'/>
    </interface>
    <serial type='unix'>
      <source mode='bind' path='{console}'/>
      <target port='0'/>
    </serial>
    <memballoon model='none'/>
    <controller type='usb' model='none'/>
  </devices>
</domain>
"""


@pytest.fixture(scope="module")
def guest_image():
    if not shutil.which("qemu-system-x86_64"):
        pytest.skip("qemu-system-x86_64 is not installed (scripts/install-deps.sh installs it)")
    try:
        return vmbt_guest.build()
    except vmbt_guest.Unavailable as e:
        pytest.skip("cannot build the test guest here: %s" % e)


def domain_xml(dir_, name, tap, image):
    return DOMAIN.format(name=name, kernel=image[0], initrd=image[1], tap=tap, mac=MAC,
                         console=os.path.join(dir_, "console.sock"),
                         qemu=shutil.which("qemu-system-x86_64"))


class Libvirtd:
    """libvirtd in namespace @ns and a mount namespace of its own."""

    def __init__(self, topo, ns):
        self.dir = os.path.join(topo.tmp, "libvirt")
        os.mkdir(self.dir)
        os.chmod(self.dir, 0o755)
        with open(os.path.join(self.dir, "libvirtd.conf"), "w") as f:
            f.write(LIBVIRTD_CONF.format(dir=self.dir))
        with open(os.path.join(self.dir, "qemu.conf"), "w") as f:
            f.write(QEMU_CONF)
        self.out = open(os.path.join(self.dir, "libvirtd.out"), "wb")
        self.proc = topo.spawn(["ip", "netns", "exec", ns, "unshare", "-m", "--propagation",
                                "private", "sh", "-c", START.format(libvirtd=LIBVIRTD), "sh",
                                self.dir], stdout=self.out, stderr=subprocess.STDOUT)

        def answers():
            if self.proc.poll() is not None:
                return "exited"
            return self.virsh("version", check=False).returncode == 0 or None
        why = wait_until(answers, timeout=30, what="libvirtd to answer")
        if why == "exited":
            pytest.skip("libvirtd cannot run here (exit %s): %s" % (self.proc.returncode,
                                                                  self.log()[-800:]))

    def log(self):
        text = ""
        for name in ("libvirtd.out", "libvirtd.log"):
            try:
                with open(os.path.join(self.dir, name), errors="replace") as f:
                    text += f.read()
            except OSError:
                pass
        return text

    def virsh(self, *args, check=True, timeout=60):
        """virsh in libvirtd's network and mount namespaces, on its qemu:///system."""
        return run(["nsenter", "-t", str(self.proc.pid), "-m", "-n", "virsh", "-c",
                    "qemu:///system", *args], check=check, timeout=timeout)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.out.close()


class Console:
    """The guest's serial port, a unix socket QEMU listens on (vmbt_guest.py's protocol)."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        wait_until(lambda: self._connect(path), timeout=20, what="the console socket")
        self.sock.settimeout(1)
        self.buf = b""

    def _connect(self, path):
        try:
            self.sock.connect(path)
            return True
        except OSError:
            return False

    def expect(self, pattern, timeout=60):
        rx = re.compile(pattern.encode())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = rx.search(self.buf)
            if m:
                self.buf = self.buf[m.end():]
                return m
            try:
                chunk = self.sock.recv(4096)
            except socket.timeout:
                continue
            if not chunk:
                break
            self.buf += chunk
        raise AssertionError("no /%s/ on the console: %r" % (pattern, self.buf[-1000:]))

    def command(self, line):
        self.sock.sendall(line.encode() + b"\n")
        return self.expect(r"VMBT-(PASS|FAIL) %s" % re.escape(line)).group(1) == b"PASS"

    def close(self):
        self.sock.close()


def qemu_pids(ns):
    return [p for p in run(["ip", "netns", "pids", ns]).stdout.split()
            if "qemu-system" in open("/proc/%s/comm" % p).read()]


def test_libvirt_domain_on_a_persistent_named_tap(broker, topo, guest_image):
    tap = "vmlv%d" % (os.getpid() % 100000)
    g = topo.guest("g")
    broker.acquire_netns(g, label="peer")
    peer = g.dhcp()["ip"]
    lv = Libvirtd(topo, broker.ns)
    try:
        xml = os.path.join(lv.dir, "domain.xml")
        with open(xml, "w") as f:
            f.write(domain_xml(lv.dir, "vmbt-lv", tap, guest_image))
        lv.virsh("define", xml)
        # Without the TAP, libvirt refuses to start the domain (managed='no'):
        # the broker's port must be made first, and nothing is left of the try.
        p = lv.virsh("start", "vmbt-lv", check=False)
        assert p.returncode != 0 and "doesn't exist" in p.stderr, p.stderr
        assert qemu_pids(broker.ns) == [] and broker.link(tap) is None

        # The TAP, by the name the XML gives, persistent, as a user's.
        port = broker.cli_json("acquire", "shared", "--port", "named_tap", "--ifname", tap,
                               "--mac", MAC, "--persistent", "--label", "vmbt-lv", "--json",
                               user=NOBODY_UID)["network"]["port"]
        assert port["ifname"] == tap and port["persistent"] is True
        # libvirt opens the TAP itself and hands QEMU the fd.
        argv = lv.virsh("domxml-to-native", "qemu-argv", xml).stdout
        assert re.search(r"""-netdev '?(\{"type":"tap","fd"|tap,fd=)""", argv), argv

        lv.virsh("start", "vmbt-lv")
        console = Console(os.path.join(lv.dir, "console.sock"))
        try:
            m = console.expect(r"VMBT-(READY (\S+)|FAIL .*)\r?\n", timeout=BOOT_TIMEOUT)
            assert m.group(2) and m.group(2).decode() == port["address"], m.group(0)
            assert console.command("ping %s" % peer), "the libvirt guest cannot reach the peer"
            assert g.ping(port["address"]), "the peer cannot reach the libvirt guest"
        finally:
            console.close()
        [lease] = [le for le in broker.leases() if le["ifname"] == tap]
        assert lease["uid"] == NOBODY_UID and lease["label"] == "vmbt-lv"

        lv.virsh("destroy", "vmbt-lv")
        wait_until(lambda: qemu_pids(broker.ns) == [], what="QEMU to go with the domain")
        # managed='no': libvirt leaves the TAP, and the lease is persistent.
        link = broker.link(tap)
        assert link is not None and link["master"] == broker.network("shared")["bridge"]
        lv.virsh("undefine", "vmbt-lv")
        broker.cli("release", tap, user=NOBODY_UID)
        wait_until(lambda: broker.link(tap) is None, what="the TAP to go when released")
    finally:
        lv.stop()
    assert qemu_pids(broker.ns) == []

