"""DHCP: guests get the address reserved for their port, and only that."""
import ipaddress
import os

import pytest

from conftest import PYTHON, ns_delete, subnet_of, wait_until


def test_two_shared_guests_get_reserved_addresses_and_reach_each_other(broker, topo):
    g1, g2 = topo.guest("g1"), topo.guest("g2")
    r1 = broker.acquire_netns(g1, label="g1")
    r2 = broker.acquire_netns(g2, label="g2")
    n1, n2 = r1["network"], r2["network"]
    assert n1["name"] == n2["name"] == "shared"
    assert n1["bridge"] == n2["bridge"]
    a1, a2 = n1["port"]["address"], n2["port"]["address"]
    assert a1 != a2
    net = subnet_of(r1)
    assert ipaddress.IPv4Address(a1) in net and ipaddress.IPv4Address(a2) in net
    assert a1 != n1["subnet"] and a2 != n1["subnet"]

    l1, l2 = g1.dhcp(), g2.dhcp()
    assert l1["ip"] == a1
    assert l2["ip"] == a2
    assert g1.ipv4() == [a1]
    assert g2.ipv4() == [a2]

    gateway = n1["subnet"]
    assert g1.ping(a2), "g1 cannot ping g2"
    assert g2.ping(a1), "g2 cannot ping g1"
    assert g1.ping(gateway), "g1 cannot ping the gateway"
    assert g2.ping(gateway), "g2 cannot ping the gateway"


@pytest.mark.parametrize("network", ["shared", "host"])
def test_first_discover_on_a_new_network_is_answered(broker, topo, network):
    """A guest that asks at once, on a network its acquire created, gets its
    address from its first DHCPDISCOVER: dnsmasq listens and holds the
    reservation before the reply, and the new port forwards already."""
    g = topo.guest("g1")
    r = broker.acquire_netns(g, network=network)
    lease = g.dhcp(tries=1)  # one DISCOVER, no retry: none may be lost
    assert lease["ip"] == r["network"]["port"]["address"]


def test_dhcp_offers_gateway_as_router_and_dns(broker, topo):
    g = topo.guest("g")
    reply = broker.acquire_netns(g)
    lease = g.dhcp()
    gateway = reply["network"]["subnet"]
    assert lease["router"].split()[0] == gateway
    assert gateway in lease["dns"].split()
    assert int(lease["mask"]) == subnet_of(reply).prefixlen


def test_host_guest_gets_address_and_reaches_gateway(broker, topo):
    g = topo.guest("g")
    reply = broker.acquire_netns(g, network="host")
    net = reply["network"]
    assert net["name"] == "host"
    assert net["mode"] == "host"
    lease = g.dhcp()
    assert lease["ip"] == net["port"]["address"]
    assert g.ping(net["subnet"])


def test_requested_mac_is_the_guest_mac_and_gets_the_lease(broker, topo):
    g = topo.guest("g")
    mac = "52:54:00:12:34:56"
    reply = broker.acquire_netns(g, mac=mac)
    port = reply["network"]["port"]
    assert port["mac"] == mac
    assert port["kind"] == "netns"
    assert g.link("eth0")["address"] == mac
    assert g.dhcp()["ip"] == port["address"]


def test_generated_mac_is_locally_administered_unicast(broker, topo):
    g = topo.guest("g")
    port = broker.acquire_netns(g)["network"]["port"]
    first = int(port["mac"].split(":")[0], 16)
    assert first & 0x02, port["mac"]
    assert not first & 0x01, port["mac"]
    assert g.link("eth0")["address"] == port["mac"]


def test_requested_ifname_inside_the_namespace(broker, topo):
    g = topo.guest("g")
    reply = broker.acquire_netns(g, ifname="ens5")
    assert g.link("ens5") is not None
    assert g.link("eth0") is None
    assert g.dhcp("ens5")["ip"] == reply["network"]["port"]["address"]


def rtnetlink_groups(pid):
    """The multicast groups of each rtnetlink socket @pid holds, from
    /proc/PID/net/netlink (the view of its own namespace)."""
    inodes = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        if target.startswith("socket:["):
            inodes.add(target[len("socket:["):-1])
    with open("/proc/%d/net/netlink" % pid) as f:
        rows = [line.split() for line in f.read().splitlines()[1:]]
    return [int(r[3], 16) for r in rows if r[1] == "0" and r[9] in inodes]


def test_dnsmasq_joins_no_rtnetlink_groups_and_still_serves(broker, topo):
    """Each network's dnsmasq gets dnsmasq-preload.so: its rtnetlink socket
    joins no groups, so the kernel does not wake it for every address and
    route event in the namespace (a new network's bridge alone makes
    eleven); it still answers DHCP, on an older network as on a newer."""
    g1, g2 = topo.guest("g1"), topo.guest("g2")
    r1 = broker.acquire_netns(g1)
    r2 = broker.acquire_netns(g2, network="host")
    pids = broker.dnsmasq_pids()
    assert len(pids) == 2
    for pid in pids:
        assert rtnetlink_groups(pid) == [0], "dnsmasq %d" % pid
    assert g1.dhcp()["ip"] == r1["network"]["port"]["address"]
    assert g2.dhcp()["ip"] == r2["network"]["port"]["address"]


def test_any_mac_gets_an_address_of_the_dynamic_range(broker, topo):
    """A guest that does not use its port's MAC gets an address all the same,
    from the dynamic range: the upper half of the /24, never a port's."""
    g = topo.guest("g")
    r = broker.acquire_netns(g)
    reserved = r["network"]["port"]["address"]
    g.exec("ip", "link", "set", "dev", "eth0", "address", "52:54:00:de:ad:01")
    lease = g.dhcp()
    net = subnet_of(r)
    assert ipaddress.IPv4Address(lease["ip"]) in net
    assert int(lease["ip"].split(".")[3]) >= 128, lease
    assert lease["ip"] != reserved
    # The port's own MAC still gets its reserved address, the lower half's.
    assert int(reserved.split(".")[3]) < 128


# A DNS query for "gateway." (id 0x1234, recursion desired), sent to the
# gateway (IPv4 or IPv6); any well-formed answer with our id shows dnsmasq serves DNS there.
DNS_QUERY = r"""
import socket, struct, sys
q = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + b"\x07gateway\x00" + struct.pack(">HH", 1, 1)
s = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.sendto(q, (sys.argv[1], 53))
data, peer = s.recvfrom(512)
print(struct.unpack(">H", data[:2])[0] == 0x1234 and data[2] & 0x80 and peer[0] == sys.argv[1])
"""


def test_dns_answers_on_the_gateway(broker, topo):
    g = topo.guest("g")
    reply = broker.acquire_netns(g)
    g.dhcp()
    out = g.exec(PYTHON, "-B", "-c", DNS_QUERY, reply["network"]["subnet"]).stdout
    assert out.strip() == "True"


@pytest.mark.broker(idle_timeout=600)
def test_address_still_leased_by_dnsmasq_is_not_reused_for_another_mac(broker, topo):
    """dnsmasq keeps a gone guest's lease until it expires and will not hand
    that address to another MAC; the broker must not reserve it for one."""
    g1 = topo.guest("g1")
    r1 = broker.acquire_netns(g1, mac="52:54:00:00:01:01")
    first = r1["network"]["port"]["address"]
    assert g1.dhcp()["ip"] == first
    ns_delete(g1.ns)
    wait_until(lambda: not broker.leases("shared"), what="g1's lease to end")
    # Wrap the next-fit cursor all the way round the ports' half of the /24.
    for _ in range(126):
        _, fds = broker.acquire_tap("shared")
        for fd in fds:
            os.close(fd)
    g2 = topo.guest("g2")
    r2 = broker.acquire_netns(g2, mac="52:54:00:00:01:02")
    assert r2["network"]["port"]["address"] != first
    assert g2.dhcp()["ip"] == r2["network"]["port"]["address"]


@pytest.mark.broker(idle_timeout=600)
def test_returning_mac_gets_its_address_back(broker, topo):
    g1 = topo.guest("g1")
    mac = "52:54:00:00:02:01"
    first = broker.acquire_netns(g1, mac=mac)["network"]["port"]["address"]
    assert g1.dhcp()["ip"] == first
    ns_delete(g1.ns)
    wait_until(lambda: not broker.leases("shared"), what="g1's lease to end")
    _, fds = broker.acquire_tap("shared")  # moves the next-fit cursor past it
    for fd in fds:
        os.close(fd)
    g2 = topo.guest("g2")
    again = broker.acquire_netns(g2, mac=mac)["network"]["port"]["address"]
    assert again == first
    assert g2.dhcp()["ip"] == first
