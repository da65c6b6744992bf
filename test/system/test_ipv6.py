"""IPv6: each network's ULA /64, router advertisements, isolation and NAT66."""
import ipaddress
import json

import pytest

from conftest import run, wait_until

# Documentation prefix (RFC 3849) for the uplink: nothing real is ever reached.
UP6_DAEMON = "2001:db8:1::1"
UP6_UPSTREAM = "2001:db8:1::2"
PORT = 8086


def prefix_of(reply):
    n = reply["network"]
    return ipaddress.IPv6Network("%s/%d" % (n["ipv6_prefix"], n["prefix_len"]))


def no_dad(guest):
    """Guest-side IPv6 settings for speed, inside the guest's own namespace:
    addresses usable at once, and router solicitations every second rather
    than every four (the first may come before the bridge's address is ready)."""
    guest.exec("sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0",
               "net.ipv6.conf.default.accept_dad=0",
               "net.ipv6.conf.default.router_solicitation_delay=0",
               "net.ipv6.conf.default.router_solicitation_interval=1")


def slaac(guest, prefix, ifname="eth0"):
    """The guest's global address in @prefix, once router advertisements gave it one."""
    guest.exec("ip", "link", "set", "dev", ifname, "up")

    def addr():
        p = guest.exec("ip", "-6", "-j", "addr", "show", "dev", ifname, "scope", "global")
        for link in json.loads(p.stdout or "[]"):
            for a in link.get("addr_info", []):
                if ipaddress.IPv6Address(a["local"]) in prefix and not a.get("tentative"):
                    return a["local"]
        return None
    return wait_until(addr, timeout=15, what="a SLAAC address in %s in %s" % (prefix, guest.ns))


def gateway6(broker, reply):
    prefix = prefix_of(reply)
    p = broker.ip("-6", "-j", "addr", "show", "dev", reply["network"]["bridge"], "scope", "global")
    for link in json.loads(p.stdout):
        for a in link["addr_info"]:
            if ipaddress.IPv6Address(a["local"]) in prefix:
                return a["local"]
    raise AssertionError("bridge %s has no address in %s" % (reply["network"]["bridge"], prefix))


def test_guests_get_slaac_addresses_and_talk(broker, topo):
    g1, g2 = topo.guest("g1"), topo.guest("g2")
    no_dad(g1)
    no_dad(g2)
    r1 = broker.acquire_netns(g1)
    broker.acquire_netns(g2)
    prefix = prefix_of(r1)
    assert prefix.prefixlen == 64
    assert prefix.subnet_of(ipaddress.IPv6Network("fd00::/8"))
    a1, a2 = slaac(g1, prefix), slaac(g2, prefix)
    assert g1.ping(a2)
    assert g2.ping(gateway6(broker, r1))


def test_ipv6_networks_are_isolated(broker, topo):
    g1, g3 = topo.guest("g1"), topo.guest("g3")
    no_dad(g1)
    no_dad(g3)
    r1 = broker.acquire_netns(g1, network="shared")
    r3 = broker.acquire_netns(g3, network="host")
    assert not prefix_of(r1).overlaps(prefix_of(r3))
    a1, a3 = slaac(g1, prefix_of(r1)), slaac(g3, prefix_of(r3))
    gw1, gw3 = gateway6(broker, r1), gateway6(broker, r3)
    g1.exec("ip", "-6", "route", "replace", "default", "via", gw1, "dev", "eth0")
    g3.exec("ip", "-6", "route", "replace", "default", "via", gw3, "dev", "eth0")
    assert g1.ping(gw1) and g3.ping(gw3)
    assert g1.ping_fails(a3)
    assert g3.ping_fails(a1)


@pytest.fixture
def upstream6(broker, topo):
    for ns, addr in ((broker.ns, UP6_DAEMON), (broker.upstream, UP6_UPSTREAM)):
        run(["ip", "-n", ns, "addr", "add", addr + "/64", "dev", "uplink0", "nodad"])
    run(["ip", "-n", broker.ns, "-6", "route", "add", "default", "via", UP6_UPSTREAM])
    # Upstream could answer the guests directly: only NAT66 makes it see UP6_DAEMON.
    run(["ip", "-n", broker.upstream, "-6", "route", "add", "fd00::/8", "via", UP6_DAEMON])
    topo.tcp_listener(broker.upstream, UP6_UPSTREAM, PORT)


def test_shared_guest_reaches_upstream_through_nat66(broker, topo, upstream6):
    g = topo.guest("g")
    no_dad(g)
    r = broker.acquire_netns(g)
    slaac(g, prefix_of(r))
    g.exec("ip", "-6", "route", "replace", "default", "via", gateway6(broker, r), "dev", "eth0")
    assert g.tcp_peer(UP6_UPSTREAM, PORT) == UP6_DAEMON


def test_host_guest_cannot_reach_upstream_over_ipv6(broker, topo, upstream6):
    g = topo.guest("g")
    no_dad(g)
    r = broker.acquire_netns(g, network="host")
    slaac(g, prefix_of(r))
    g.exec("ip", "-6", "route", "replace", "default", "via", gateway6(broker, r), "dev", "eth0")
    assert g.tcp_peer(UP6_UPSTREAM, PORT) is None
    assert g.ping_fails(UP6_UPSTREAM)


def test_bridge_addresses_are_in_place_before_the_first_port(broker, topo):
    """The bridge's three addresses come together, in one request, when it
    is made (every address event sends each network's dnsmasq to re-read
    all interfaces): the gateway, its ULA twin and the link-local address
    from the bridge's MAC, none waiting for duplicate address detection.
    The kernel makes no link-local address of its own, and ports have no
    IPv6 at all."""
    r = broker.acquire_netns(topo.guest("g1"))
    n = r["network"]
    mac = bytes.fromhex(broker.link(n["bridge"])["address"].replace(":", ""))
    eui = bytes([mac[0] ^ 2]) + mac[1:3] + b"\xff\xfe" + mac[3:]
    link_local = ipaddress.IPv6Address(b"\xfe\x80" + bytes(6) + eui)
    addrs = json.loads(broker.ip("-j", "addr", "show", "dev", n["bridge"]).stdout)[0]["addr_info"]
    got = {(a["family"], a["local"], a["prefixlen"]) for a in addrs}
    assert got == {("inet", n["subnet"], 24), ("inet6", gateway6(broker, r), 64),
                   ("inet6", str(link_local), 64)}, addrs
    assert not any(a.get("tentative") for a in addrs), addrs
    mode = run(["ip", "netns", "exec", broker.ns, "cat",
                "/proc/sys/net/ipv6/conf/%s/addr_gen_mode" % n["bridge"]]).stdout
    assert mode.strip() == "1"
    port = json.loads(broker.ip("-j", "-6", "addr", "show", "dev", n["port"]["ifname"]).stdout)
    assert not port or not port[0].get("addr_info"), port
