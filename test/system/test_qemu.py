"""Real VMs on broker networks: QEMU guests booted under TCG as an
unprivileged user meet on `shared`: one by QEMU's own bridge line with our
helper and QEMU's default MAC, one through `vmnet-broker run` without
mac= (the guest has a MAC of its own), one with its port's MAC that then
changes it. They get addresses whatever their MACs, reach each other by
name, and status shows each with its addresses. A fourth on `host`, on a
named TAP as libvirt or Firecracker would use it, cannot reach them. Two
more are started by the Go package's example programs (go/examples).

The guest (vmbt_guest.py) is the Debian kernel with a busybox initramfs; it
is built on first use into a cache outside the checkout. QEMU runs as uid
65534 in a namespace of the test: TAP fds work from any namespace, and the
helper reaches the daemon's socket by its path. Only a named TAP must be
opened from the daemon's own namespace, where its name is.
"""
import hashlib
import ipaddress
import os
import re
import shutil
import stat
import subprocess
import threading
import time

import pytest

from conftest import AS_NOBODY, BUILD, CLI, NOBODY_UID, pid_alive, run, wait_until
import vmbt_guest

HELPER = os.path.join(BUILD, "vmnet-broker-qemu-helper")
QEMU = shutil.which("qemu-system-x86_64") or "qemu-system-x86_64"
BOOT_TIMEOUT = 120  # to "ready": about 6 s alone and 9 s three at once, TCG on 2 cores
COMMAND_TIMEOUT = 60


@pytest.fixture(scope="module")
def guest_image():
    """(kernel, initrd), built or taken from the cache; skip where QEMU cannot run."""
    if not shutil.which("qemu-system-x86_64"):
        pytest.skip("qemu-system-x86_64 is not installed (scripts/install-deps.sh installs it)")
    if not os.access(HELPER, os.X_OK):
        pytest.fail("%s is not built (run make)" % HELPER, pytrace=False)
    try:
        return vmbt_guest.build()
    except vmbt_guest.Unavailable as e:
        pytest.skip("cannot build the test guest here: %s" % e)


class Vm:
    """One QEMU process whose serial console is its stdin and stdout."""

    def __init__(self, topo, ns, name, argv, env=None, prefix=()):
        self.name = name
        self.lines = []
        self.cond = threading.Condition()
        self.started = time.monotonic()
        self.ready_after = None  # seconds from start to "VMBT-READY"
        self.proc = subprocess.Popen(["ip", "netns", "exec", ns, *prefix, *AS_NOBODY, *argv],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, env=env)
        topo.procs.append(self.proc)  # killed by the topology's cleanup
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    @property
    def pid(self):
        return self.proc.pid

    def _read(self):
        for raw in self.proc.stdout:
            line = raw.decode(errors="replace").rstrip("\r\n")
            if self.ready_after is None and "VMBT-READY" in line:
                self.ready_after = time.monotonic() - self.started
            with self.cond:
                self.lines.append(line)
                self.cond.notify_all()
        with self.cond:
            self.lines.append(None)  # end of output
            self.cond.notify_all()

    def console(self):
        with self.cond:
            return "\n".join(line for line in self.lines if line is not None)

    def expect(self, pattern, timeout=COMMAND_TIMEOUT, start=0):
        """Wait for a console line matching @pattern; return (match, its index)."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        i = start
        with self.cond:
            while True:
                while i < len(self.lines):
                    line = self.lines[i]
                    if line is None:
                        raise AssertionError("%s: QEMU exited (%s) before /%s/:\n%s"
                                             % (self.name, self.proc.poll(), pattern,
                                                self.console()))
                    m = rx.search(line)
                    if m:
                        return m, i
                    i += 1
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("%s: no /%s/ after %ds:\n%s"
                                         % (self.name, pattern, timeout, self.console()))
                self.cond.wait(left)

    def ready(self):
        """Wait for the guest's DHCP address."""
        m, _ = self.expect(r"VMBT-(READY (\S+)|FAIL .*)", timeout=BOOT_TIMEOUT)
        assert m.group(2), "%s: %s\n%s" % (self.name, m.group(0), self.console())
        self.address = m.group(2)
        return self.address

    def send(self, line):
        with self.cond:
            start = len(self.lines)
        self.proc.stdin.write((line + "\n").encode())
        self.proc.stdin.flush()
        return start

    def command(self, verb, arg):
        """Send "VERB ARG" to the guest; True on its PASS, False on FAIL."""
        return commands((self, verb, arg))[0]

    def wait_exit(self, timeout=COMMAND_TIMEOUT):
        """QEMU's exit status, once it has exited."""
        rc = self.proc.wait(timeout)
        self.reader.join(5)
        return rc


def commands(*todo):
    """Send each (vm, verb, arg) at once, then wait for every answer: [True on PASS, ...].

    One command per guest at a time: a guest works through its console in order.
    """
    started = [vm.send("%s %s" % (verb, arg)) for vm, verb, arg in todo]
    out = []
    for (vm, verb, arg), start in zip(todo, started):
        m, _ = vm.expect(r"VMBT-(PASS|FAIL) %s %s$" % (verb, re.escape(arg)), start=start)
        out.append(m.group(1) == "PASS")
    return out


def qemu_argv(image, netdev, mac, hostname=None):
    """QEMU booting the test guest; @mac None: QEMU's default, 52:54:00:12:34:56."""
    kernel, initrd = image
    append = "console=ttyS0 quiet panic=-1" + (" vmbt.hostname=" + hostname if hostname else "")
    return [QEMU, "-accel", "tcg", "-m", "256", "-smp", "1",
            "-display", "none", "-nodefaults", "-no-user-config", "-no-reboot",
            "-serial", "stdio",
            "-kernel", kernel, "-initrd", initrd,
            "-append", append,
            "-netdev", netdev,
            # romfile=: no iPXE option ROM, which a -kernel boot never uses.
            "-device", "virtio-net-pci,netdev=n0,romfile=" + (",mac=" + mac if mac else "")]


def helper_vm(topo, ns, broker, image, network, mac, hostname=None):
    """QEMU's own bridge netdev with our helper. With @mac, `helper=` with a
    blank, which QEMU runs via sh -c; without, exactly QEMU's documented line:
    `-netdev bridge,br=NETWORK,helper=PATH`, and QEMU's default MAC."""
    if mac:
        netdev = "bridge,id=n0,br=%s,helper=%s --mac=%s" % (network, HELPER, mac)
    else:
        netdev = "bridge,id=n0,br=%s,helper=%s" % (network, HELPER)
    env = dict(os.environ, VMNET_BROKER_SOCKET=broker.socket)
    return Vm(topo, ns, "helper-vm", qemu_argv(image, netdev, mac, hostname), env=env)


def run_vm(topo, ns, broker, image, network, mac, name, port_mac=True, label=None,
           hostname=None):
    """`vmnet-broker run` hands QEMU the TAP as fd 3; with @port_mac, the port
    has the guest's MAC (mac=), else the daemon makes one up for it."""
    spec = network + (",mac=" + mac if port_mac else "") + (",label=" + label if label else "")
    argv = [CLI, "--socket", broker.socket, "run", "--network", spec,
            "--", *qemu_argv(image, "tap,id=n0,fd=3", mac, hostname)]
    return Vm(topo, ns, name, argv)


def tun_open_to_all(topo):
    """A command prefix under which /dev/net/tun is open to every user.

    Distributions make it 0666 (udev), and a VMM attaching to a named TAP
    by TUNSETIFF needs that; some machines have 0600. Then the command runs
    in a mount namespace of its own with a 0666 node bound over it, and the
    machine's /dev stays as it is.
    """
    if os.stat("/dev/net/tun").st_mode & 0o006 == 0o006:
        return []
    node = os.path.join(topo.tmp, "tun")
    if not os.path.exists(node):
        st = os.stat("/dev/net/tun")
        os.mknod(node, stat.S_IFCHR | 0o666, st.st_rdev)
        os.chmod(node, 0o666)
    return ["unshare", "--mount", "sh", "-c", 'mount --bind "$0" /dev/net/tun && exec "$@"', node]


def named_tap_vm(topo, broker, image, network, mac):
    """What libvirt's <interface type='ethernet'> and Firecracker do: open the
    broker's persistent TAP by name. The name is looked up in the caller's
    network namespace, so this QEMU runs in the daemon's."""
    hold = subprocess.Popen(AS_NOBODY + [CLI, "--socket", broker.socket, "acquire", network,
                                         "--port", "named_tap", "--mac", mac, "--hold"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    topo.procs.append(hold)
    line = hold.stdout.readline()
    m = re.match(r"network \S+: port named_tap (\S+) ", line)
    assert m, "acquire --port named_tap said %r %s" % (line, hold.stderr.read())
    netdev = "tap,id=n0,ifname=%s,script=no,downscript=no" % m.group(1)
    vm = Vm(topo, broker.ns, "named-tap-vm", qemu_argv(image, netdev, mac),
            prefix=tun_open_to_all(topo))
    vm.hold = hold
    vm.tap = m.group(1)
    return vm


def guest_in_status(broker, port_ifname, mac):
    """The guest @mac behind port @port_ifname in status, or None."""
    for lease in broker.leases():
        if lease.get("ifname") == port_ifname:
            for g in lease.get("guests", []):
                if g["mac"] == mac:
                    return g
    return None


def test_guests_with_any_mac_meet_on_shared_by_name(broker, topo, guest_image, record_property):
    ns = topo.netns("qemu")
    qemu_default = "52:54:00:12:34:56"
    mac_b, mac_c, mac_c2, mac_d = ("52:54:00:51:00:0b", "52:54:00:51:00:0c",
                                   "52:54:00:51:00:c2", "52:54:00:51:00:0d")
    # All four boot at once: TCG is slow, the wait is what costs.
    # a: QEMU's documented bridge line, QEMU's default MAC; its host name vma.
    a = helper_vm(topo, ns, broker, guest_image, "shared", None, hostname="vma")
    # b: `run` without mac=: the guest has a MAC the port does not; named by its label.
    b = run_vm(topo, ns, broker, guest_image, "shared", mac_b, "run-vm", port_mac=False,
               label="vmb")
    # c: the port's MAC, as recommended; it changes its MAC after boot.
    c = run_vm(topo, ns, broker, guest_image, "shared", mac_c, "remac-vm", label="vmc",
               hostname="vmc")
    # d: on host, through a named TAP, as libvirt or Firecracker would.
    d = named_tap_vm(topo, broker, guest_image, "host", mac_d)
    vms = (a, b, c, d)
    addr = {vm: vm.ready() for vm in vms}
    for vm in vms:
        record_property("boot_seconds_" + vm.name, round(vm.ready_after, 1))
    print("boot to DHCP lease: " + ", ".join("%s %.1fs" % (vm.name, vm.ready_after) for vm in vms))

    shared, host = broker.network("shared"), broker.network("host")
    net = ipaddress.IPv4Network("%s/%s" % (shared["subnet"], shared["mask"]), strict=False)
    leases = {le["label"]: le for le in broker.leases("shared")}
    la = leases["qemu-helper pid %d" % a.pid]
    lb, lc = leases["vmb"], leases["vmc"]
    assert la["kind"] == lb["kind"] == lc["kind"] == "tap"
    assert la["uid"] == lb["uid"] == lc["uid"] == NOBODY_UID
    # a and b use MACs their ports do not have: addresses of the dynamic range,
    # not their ports' reservations. c has its port's reserved address.
    for vm, lease in ((a, la), (b, lb)):
        assert lease["mac"] not in (qemu_default, mac_b)
        assert addr[vm] != lease["address"] and ipaddress.IPv4Address(addr[vm]) in net
    assert addr[c] == lc["address"]
    ld = broker.lease_by_mac(mac_d)
    assert ld["kind"] == "named_tap" and ld["ifname"] == d.tap and addr[d] == ld["address"]
    assert shared["bridge"] != host["bridge"]

    # c changes its MAC and asks DHCP again: an address of the range, its own MAC's.
    start = c.send("remac " + mac_c2)
    m, _ = c.expect(r"VMBT-ADDRESS (\S+)", start=start)
    c_new = m.group(1)
    c.expect(r"VMBT-PASS remac", start=start)
    assert c_new != addr[c] and ipaddress.IPv4Address(c_new) in net

    # Each is in status with its address, behind its port, as virsh domifaddr would say.
    def all_shown():
        return (guest_in_status(broker, la["ifname"], qemu_default)
                and guest_in_status(broker, lb["ifname"], mac_b)
                and guest_in_status(broker, lc["ifname"], mac_c2))
    wait_until(all_shown, timeout=20, what="every guest in status")
    assert addr[a] in guest_in_status(broker, la["ifname"], qemu_default)["ipv4"]
    assert guest_in_status(broker, la["ifname"], qemu_default)["hostname"] == "vma"
    assert addr[b] in guest_in_status(broker, lb["ifname"], mac_b)["ipv4"]
    assert c_new in guest_in_status(broker, lc["ifname"], mac_c2)["ipv4"]
    text = broker.cli("status").stdout
    for mac, address in ((qemu_default, addr[a]), (mac_b, addr[b]), (mac_c2, c_new)):
        assert "guest %s %s" % (mac, address) in text, text
    # wait-address knows them, c's new address included.
    assert broker.cli("wait-address", "--timeout", "10", "vmc").stdout.strip() == c_new
    assert broker.cli("wait-address", "--timeout", "10", la["ifname"]).stdout.strip() == addr[a]

    # By name, through the network's DNS: a by the host name it sent, b by
    # its port's label, c by both, at its new address.
    got = commands((a, "ping", "vmb"), (b, "ping", "vma.shared.vmnet"), (c, "ping", "vma"),
                   (d, "route", host["subnet"]))
    assert got == [True] * 4, "\n\n".join(vm.console() for vm in vms)
    got = commands((a, "ping", "vmc.shared.vmnet"), (b, "ping", "vmc"), (c, "ping", "vmb"))
    assert got == [True] * 3, "\n\n".join(vm.console() for vm in vms)
    assert "vmc.shared.vmnet" in broker.cli("status").stdout
    # d reaches its gateway, and through it (by a route of its own making)
    # still not the others; nor do they reach it.
    got = commands((a, "ping", shared["subnet"]), (d, "ping", host["subnet"]))
    assert got == [True] * 2, "\n\n".join(vm.console() for vm in vms)
    got = commands((a, "noping", addr[d]), (b, "noping", addr[d]), (d, "noping", addr[a]))
    got += commands((d, "noping", c_new))
    assert got == [True] * 4, "\n\n".join(vm.console() for vm in vms)

    for vm in vms:
        vm.send("poweroff")
    for vm in vms:
        assert vm.wait_exit() == 0, vm.console()
    # QEMU held the only fds of the helper's and run's TAPs: with it gone
    # their leases end. The named TAP's lease is the connection's: it stays
    # until `acquire --hold` is told to let go.
    wait_until(lambda: [lease["kind"] for lease in broker.leases()] == ["named_tap"],
               timeout=10, what="the tap leases to end")
    assert broker.link(d.tap) is not None
    d.hold.terminate()
    assert d.hold.wait(10) == 0
    wait_until(lambda: not broker.leases(), timeout=10, what="the named_tap lease to end")
    assert broker.link(d.tap) is None
    # And the networks go after the idle timeout.
    bridges = (shared["bridge"], host["bridge"])
    wait_until(lambda: broker.network("shared") is None and broker.network("host") is None,
               timeout=broker.idle_timeout + 15, what="the idle networks to be removed")
    assert all(broker.link(br) is None for br in bridges)
    assert not broker.dnsmasq_pids()


@pytest.mark.parametrize("netdev", ["bridge", "tap"])
def test_helper_plain_path_and_lease_lifetime(broker, topo, guest_image, netdev):
    """`helper=PATH` exactly as QEMU's docs have it, on -netdev bridge and
    -netdev tap: the VM's lease lasts as long as QEMU."""
    ns = topo.netns("qemu")
    env = dict(os.environ, VMNET_BROKER_SOCKET=broker.socket)
    # -S: QEMU sets up its devices (and so runs the helper) and waits, no boot.
    argv = [QEMU, "-accel", "tcg", "-S", "-display", "none", "-nodefaults", "-no-user-config",
            "-netdev", "%s,id=n0,br=shared,helper=%s" % (netdev, HELPER),
            "-device", "virtio-net-pci,netdev=n0,romfile="]
    vm = Vm(topo, ns, "paused", argv, env=env)
    lease = wait_until(lambda: broker.leases("shared"), timeout=30,
                       what="QEMU's helper to acquire a port")[0]
    assert lease["kind"] == "tap" and lease["uid"] == NOBODY_UID
    assert lease["label"] == "qemu-helper pid %d" % vm.pid
    # QEMU passes --use-vnet, and keeps the TAP it got: the port stays.
    info = broker.link(lease["ifname"])["linkinfo"]["info_data"]
    assert info["vnet_hdr"] is True
    time.sleep(0.5)
    assert pid_alive(vm.pid) and broker.leases("shared"), vm.console()

    vm.proc.kill()
    vm.proc.wait(10)
    wait_until(lambda: not broker.leases(), what="the lease to end with QEMU")
    assert broker.link(lease["ifname"]) is None


def test_helper_failure_stops_qemu_with_the_reason(broker, topo, guest_image):
    ns = topo.netns("qemu")
    env = dict(os.environ, VMNET_BROKER_SOCKET=broker.socket)
    p = run(["ip", "netns", "exec", ns, *AS_NOBODY, QEMU, "-accel", "tcg", "-S", "-display",
             "none", "-nodefaults", "-no-user-config",
             "-netdev", "bridge,id=n0,br=nosuch,helper=" + HELPER,
             "-device", "virtio-net-pci,netdev=n0,romfile="], check=False, env=env)
    assert p.returncode != 0
    assert "VMNET_BROKER_NOT_FOUND" in p.stderr, p.stderr
    assert not broker.leases()


def test_run_multi_queue_tap_with_qemu(broker, topo, guest_image):
    """queues=2 gives QEMU fds 3 and 4, which it takes as one multi-queue TAP."""
    ns = topo.netns("qemu")
    argv = [CLI, "--socket", broker.socket, "run", "--network", "shared,queues=2,vnet_hdr=on",
            "--", QEMU, "-accel", "tcg", "-S", "-display", "none", "-nodefaults",
            "-no-user-config", "-netdev", "tap,id=n0,fds=3:4",
            "-device", "virtio-net-pci,netdev=n0,mq=on,vectors=6,romfile="]
    vm = Vm(topo, ns, "mq", argv)
    lease = wait_until(lambda: broker.leases("shared"), timeout=30,
                       what="run to acquire a port")[0]
    info = broker.link(lease["ifname"])["linkinfo"]["info_data"]
    assert info["multi_queue"] is True and info["vnet_hdr"] is True
    # QEMU accepted both queues: it is still there, holding them.
    time.sleep(1)
    assert pid_alive(vm.pid), vm.console()
    assert broker.leases("shared")
    vm.proc.terminate()
    vm.proc.wait(10)
    wait_until(lambda: not broker.leases(), what="the lease to end with QEMU")


GO_BIN = os.path.join(BUILD, "go")


def go_mac(name, index):
    """The MAC go/examples/vmtool derives for NIC @index of instance @name."""
    h = hashlib.sha256(("%s/%d" % (name, index)).encode()).digest()
    return "52:54:%02x:%02x:%02x:%02x" % tuple(h[:4])


def test_go_examples_boot_guests_on_shared(broker, topo, guest_image):
    """go/examples: qemu-shared and vmtool (a VM tool's launcher, as
    docs/integrations.md has it for lima and podman machine) start QEMU
    guests on shared through the Go package, as uid 65534."""
    for exe in ("qemu-shared", "vmtool"):
        if not os.access(os.path.join(GO_BIN, exe), os.X_OK):
            pytest.fail("%s/%s is not built (make go)" % (GO_BIN, exe), pytrace=False)
    kernel, initrd = guest_image
    ns = topo.netns("qemu")
    env = dict(os.environ, VMNET_BROKER_SOCKET=broker.socket)
    mac_a = "52:54:00:60:00:0a"
    base = [QEMU, "-accel", "tcg", "-m", "256", "-smp", "1", "-display", "none", "-nodefaults",
            "-no-user-config", "-no-reboot", "-serial", "stdio", "-kernel", kernel, "-initrd",
            initrd, "-append", "console=ttyS0 quiet panic=-1"]
    a = Vm(topo, ns, "qemu-shared", [os.path.join(GO_BIN, "qemu-shared"), "-mac", mac_a,
                                     "-label", "go-a", "--", *base], env=env)
    b = Vm(topo, ns, "vmtool", [os.path.join(GO_BIN, "vmtool"), "-name", "go-b", "-qemu", QEMU,
                                "-memory", "256", "-kernel", kernel, "-initrd", initrd,
                                "-append", "console=ttyS0 quiet panic=-1"], env=env)
    addr = {vm: vm.ready() for vm in (a, b)}
    la, lb = broker.lease_by_mac(mac_a), broker.lease_by_mac(go_mac("go-b", 0))
    assert la and lb, broker.status()
    assert (la["address"], lb["address"]) == (addr[a], addr[b])
    assert (la["label"], lb["label"]) == ("go-a", "go-b")
    assert la["uid"] == lb["uid"] == NOBODY_UID
    assert la["kind"] == lb["kind"] == "tap"
    got = commands((a, "ping", addr[b]), (b, "ping", addr[a]))
    assert got == [True, True], a.console() + "\n\n" + b.console()
    for vm in (a, b):
        vm.send("poweroff")
    for vm in (a, b):
        assert vm.wait_exit() == 0, vm.console()
    # QEMU held the only copies of the TAPs: the leases ended with it.
    wait_until(lambda: not broker.leases(), timeout=10, what="the leases to end with QEMU")
