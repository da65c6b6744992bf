"""vmbt_span - three "hosts" on one underlay, each with its own broker (and FRR), one spanning network.

    underlay ns: bridge ul0 (the switch between the hosts)
       |  veth "ul" 198.51.100.N/24 (TEST-NET-2)
    host N = daemon ns (vmnet-brokerd with its own socket, state and
             config dirs; for EVPN its own zebra and bgpd) + its own
             upstream ns (TEST-NET-3, as every test's daemon has)
       |  vmvethX
    guests of host N

Every host has the same network file; each broker finds its own entry
by the underlay address its namespace holds. FRR runs as vmnet_frr.py
starts it: every path given, nothing of the machine's touched.
"""
import json
import os
import time

from vmnet_frr import Frr, frr_available  # noqa: F401 (the tests' too)
from vmnet_sandbox import run, wait_until

UNDERLAY_NET = "198.51.100"
VNI = 100
NETWORK = "lab"
SUBNET = "192.168.100"
PREFIX6 = "fd00:100:100:100::"
ASN = 65000
MTU = 1450


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
        """A guest on this host, named by its label: h<host><role> unless told."""
        g = self.world.topo.guest("h%d%s" % (self.i, role))
        g.label = label or "h%d%s" % (self.i, role)
        reply = self.broker.acquire_netns(g, network=NETWORK, label=g.label)
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


def names_address(i):
    """Where host i answers the others for its guests' names: the first address of its
    slice that no port or DHCP range has (the slice's .64, .128, .192)."""
    return "%s.%d" % (SUBNET, 64 * i)


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
