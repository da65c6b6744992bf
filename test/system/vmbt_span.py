"""vmbt_span - three "hosts" on one underlay, each with its own broker (and FRR), one spanning network.

    underlay ns: bridge ul0 (the switch between the hosts)
       |  veth "ul" 198.51.100.N/24 (TEST-NET-2)
    host N = daemon ns (vmnet-brokerd with its own socket, state and
             config dirs; for EVPN its own zebra and bgpd) + its own
             upstream ns (TEST-NET-3, as every test's daemon has)
       |  vmvethX
    guests of host N

Every host has the same network file; each broker finds its own entry
by the underlay address its namespace holds. FRR runs as the research
into issue 21 ran it by hand: zebra and bgpd with every path given (-z,
--vty_socket, -i, -f, --log), in a mount namespace of their own whose
/var/tmp (FRR's crash logs) is a tmpfs, so nothing lands on the machine.
"""
import json
import os
import shutil
import signal
import time

from vmnet_sandbox import pid_alive, run, wait_until

UNDERLAY_NET = "198.51.100"
VNI = 100
NETWORK = "lab"
SUBNET = "192.168.100"
PREFIX6 = "fd00:100:100:100::"
ASN = 65000
MTU = 1450
FRR_DIR = "/usr/lib/frr"


def host_address(i):
    return "%s.%d" % (UNDERLAY_NET, i)


def slice_of(i):
    """Host i's slice: .64/26, .128/26, .192/26."""
    return "%s.%d/26" % (SUBNET, 64 * i)


def network_file(control, hosts=3, **extra):
    span = {
        "vni": VNI,
        "control": control,
        "hosts": [{"address": host_address(i), "slice": slice_of(i)} for i in range(1, hosts + 1)],
    }
    if control == "evpn":
        span["evpn"] = {"asn": ASN}
    f = {"mode": "shared", "subnet": SUBNET + ".1", "mask": "255.255.255.0",
         "ipv6_prefix": PREFIX6, "mtu": MTU, "span": span}
    f.update(extra)
    return f


def frr_available():
    return (os.access(os.path.join(FRR_DIR, "bgpd"), os.X_OK)
            and os.access("/usr/bin/vtysh", os.X_OK))


class Frr:
    """zebra and bgpd of one host, in its namespace, every path in @dir."""

    def __init__(self, ns, address, dir):
        self.ns = ns
        self.address = address
        self.dir = dir
        os.makedirs(dir, exist_ok=True)
        # The daemons drop to user frr right after start.
        shutil.chown(dir, "frr", "frr")
        os.chmod(dir, 0o755)
        for d in ("zebra", "bgpd"):
            path = os.path.join(dir, d + ".conf")
            with open(path, "w") as f:
                f.write("hostname %s\n" % ns)
            shutil.chown(path, "frr", "frr")

    def _start(self, daemon, extra):
        d = self.dir
        cmd = ("mount -t tmpfs none /var/tmp && exec %s/%s -d -u frr -g frr -P 0 "
               "--vty_socket %s -z %s/zserv.api -i %s/%s.pid -f %s/%s.conf "
               "--log file:%s/%s.log %s" % (FRR_DIR, daemon, d, d, d, daemon, d, daemon, d,
                                           daemon, extra))
        pid_file = os.path.join(d, daemon + ".pid")
        if os.path.exists(pid_file):
            os.unlink(pid_file)
        run(["ip", "netns", "exec", self.ns, "unshare", "-m", "sh", "-c", cmd], timeout=20)
        wait_until(lambda: self.pid(daemon), 10, what="%s in %s" % (daemon, self.ns))

    def start(self):
        self._start("zebra", "-s 16777216")
        # Its vty socket shows it listens to its clients.
        wait_until(lambda: os.path.exists(os.path.join(self.dir, "zserv.api")), 10,
                   what="zebra's zserv.api")
        self._start("bgpd", "-l %s" % self.address)

    def pid(self, daemon):
        try:
            with open(os.path.join(self.dir, daemon + ".pid")) as f:
                pid = int(f.read().strip() or 0)
        except (OSError, ValueError):
            return None
        return pid if pid and pid_alive(pid) else None

    def kill(self, sig=signal.SIGKILL):
        pids = [p for p in (self.pid("bgpd"), self.pid("zebra")) if p]
        for p in pids:
            os.kill(p, sig)
        wait_until(lambda: not any(pid_alive(p) for p in pids), 10, what="FRR to go")

    def vtysh(self, *commands, daemon=None, check=False):
        cmd = ["vtysh", "-H", "/dev/null", "--vty_socket", self.dir]
        if daemon:
            cmd += ["-d", daemon]
        for c in commands:
            cmd += ["-c", c]
        return run(["ip", "netns", "exec", self.ns, *cmd], check=check)

    def json(self, command):
        p = self.vtysh(command)
        try:
            return json.loads(p.stdout)
        except ValueError:
            return {}

    def established(self):
        """Addresses of the peers whose L2VPN EVPN session is up."""
        peers = self.json("show bgp l2vpn evpn summary json").get("peers", {})
        return sorted(a for a, p in peers.items() if p.get("state") == "Established")

    def running_config(self):
        return self.vtysh("show running-config", daemon="bgpd").stdout


class Host:
    def __init__(self, world, i):
        self.world = world
        self.i = i
        self.address = host_address(i)
        topo = world.topo
        self.ns, self.upstream = topo.uplinked_pair()
        run(["ip", "-n", self.ns, "link", "add", "ul", "type", "veth", "peer", "name",
             "h%d" % i, "netns", world.underlay])
        run(["ip", "-n", world.underlay, "link", "set", "h%d" % i, "master", "ul0", "up"])
        run(["ip", "-n", self.ns, "addr", "add", self.address + "/24", "dev", "ul"])
        run(["ip", "-n", self.ns, "link", "set", "ul", "up"])
        self.frr = None
        extra = []
        if world.control == "evpn":
            self.frr = Frr(self.ns, self.address, os.path.join(topo.tmp, "frr-h%d" % i))
            self.frr.start()
            extra = ["--frr-dir", self.frr.dir]
        self.broker = topo.broker(self.ns, start=False, idle_timeout=world.idle_timeout,
                                  extra_args=extra)
        self.broker.upstream = self.upstream
        world.write_file(self.broker)
        self.broker.start()

    def guest(self, role, label=None):
        g = self.world.topo.guest("h%d%s" % (self.i, role))
        reply = self.broker.acquire_netns(g, network=NETWORK, label=label or role)
        g.reply = reply
        g.host = self
        return g


class World:
    """The underlay and three hosts; cleanup() is the topology's."""

    def __init__(self, topo, control, hosts=3, idle_timeout=2, file=None):
        self.topo = topo
        self.control = control
        self.idle_timeout = idle_timeout
        self.file = file or network_file(control, hosts)
        self.underlay = topo.netns("ul")
        run(["ip", "-n", self.underlay, "link", "add", "ul0", "type", "bridge"])
        run(["ip", "-n", self.underlay, "link", "set", "ul0", "up"])
        self.hosts = [Host(self, i) for i in range(1, hosts + 1)]

    def write_file(self, broker, name=NETWORK):
        with open(os.path.join(broker.config_dir, name + ".json"), "w") as f:
            json.dump(self.file, f)

    def wait_sessions(self, timeout=30):
        """EVPN: every host has a session with each other one."""
        if self.control != "evpn":
            return
        n = len(self.hosts)
        for h in self.hosts:
            wait_until(lambda h=h: len(h.frr.established()) == n - 1, timeout,
                       what="BGP sessions of %s" % h.ns)


def ping_loss(guest, addr, count, interval=0.05):
    """Send @count pings (never -w: ping gives up early after errors); the number lost."""
    p = guest.exec("ping", "-n", "-q", "-c", str(count), "-i", str(interval), "-W", "1", addr,
                   check=False, timeout=count * interval + 30)
    for line in p.stdout.splitlines():
        if "packets transmitted" in line:
            parts = line.split(",")
            sent = int(parts[0].split()[0])
            got = int(parts[1].split()[0])
            return sent - got
    raise AssertionError("no ping summary:\n%s%s" % (p.stdout, p.stderr))


def wait_ping(guest, addr, timeout=20.0):
    """Seconds until @addr answers (fails after @timeout)."""
    t0 = time.monotonic()
    assert guest.ping(addr, timeout=timeout), "%s never reached %s" % (guest, addr)
    return time.monotonic() - t0
