"""IPv6: each network's ULA /64, router advertisements, isolation and NAT66."""
import ipaddress
import json

import pytest

from conftest import PYTHON, run, wait_until
from test_dhcp import DNS_QUERY

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
                # iproute2 6.1 lists each address the scope filter left out as {}
                if "local" not in a:
                    continue
                if ipaddress.IPv6Address(a["local"]) in prefix and not a.get("tentative"):
                    return a["local"]
        return None
    return wait_until(addr, timeout=15, what="a SLAAC address in %s in %s" % (prefix, guest.ns))


# Sends router solicitations (or, with "junk", malformed ones first) from
# inside a guest and prints each router advertisement that comes back as a
# JSON line, for as long as asked.
RA_PROBE = r"""
import ipaddress, json, socket, struct, sys, time
ifname, seconds, mode, most = sys.argv[1], float(sys.argv[2]), sys.argv[3], int(sys.argv[4])
idx = socket.if_nametoindex(ifname)
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, ifname.encode())
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, idx)
def solicit(body, hops=255):
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, hops)
    s.sendto(body, ("ff02::2", 0, 0, idx))
RS = bytes([133, 0, 0, 0, 0, 0, 0, 0])
if mode == "junk":
    solicit(RS, hops=64)                      # not from a neighbour
    solicit(RS + bytes([1, 0, 0, 0, 0, 0, 0, 0]))  # option of length 0
    solicit(RS + bytes([1, 2, 0, 0, 0, 0, 0, 0]))  # option past the end
    solicit(bytes([133, 1, 0, 0, 0, 0, 0, 0]))     # code 1
    solicit(bytes([133, 0, 0, 0]))                 # too short
if mode == "flood":
    for _ in range(100):
        solicit(RS)
elif mode != "none":
    solicit(RS)
deadline = time.monotonic() + seconds
while most > 0:
    left = deadline - time.monotonic()
    if left <= 0:
        break
    s.settimeout(left)
    try:
        pkt, src = s.recvfrom(2000)
    except socket.timeout:
        break
    if pkt[0] != 134:
        continue
    hop, flags, lifetime = struct.unpack("!BBH", pkt[4:8])
    ra = {"from": src[0].split("%")[0], "hop_limit": hop, "flags": flags,
          "router_lifetime": lifetime, "prefixes": [], "rdnss": [], "mtu": None, "mac": None}
    off = 16
    while off + 2 <= len(pkt) and pkt[off + 1]:
        t, n = pkt[off], pkt[off + 1] * 8
        o = pkt[off:off + n]
        if t == 1:
            ra["mac"] = ":".join("%02x" % b for b in o[2:8])
        elif t == 5:
            ra["mtu"] = struct.unpack("!I", o[4:8])[0]
        elif t == 3:
            plen, pflags, valid, pref = struct.unpack("!BBII", o[2:12])
            ra["prefixes"].append({"prefix": "%s/%d" % (ipaddress.IPv6Address(o[16:32]), plen),
                                   "flags": pflags, "valid": valid, "preferred": pref})
        elif t == 25:
            ra["rdnss"].append({"lifetime": struct.unpack("!I", o[4:8])[0],
                                "addresses": [str(ipaddress.IPv6Address(o[i:i + 16]))
                                              for i in range(8, n, 16)]})
        off += n
    print(json.dumps(ra), flush=True)
    most -= 1
"""


def router_advertisements(guest, seconds=5, mode="solicit", most=1000, ifname="eth0"):
    """The router advertisements @guest receives in @seconds after
    soliciting (@mode "none": not), at most @most of them."""
    guest.exec("ip", "link", "set", "dev", ifname, "up")
    p = guest.exec(PYTHON, "-B", "-c", RA_PROBE, ifname, str(seconds), mode, str(most),
                   timeout=seconds + 20)
    return [json.loads(line) for line in p.stdout.splitlines()]


def first_advertisement(guest, seconds=10):
    ras = router_advertisements(guest, seconds, most=1)
    assert ras, "no router advertisement in %s within %d s" % (guest.ns, seconds)
    return ras[0]


def link_local(mac):
    """fe80::/64 with the EUI-64 of @mac ("52:54:...")."""
    b = bytes.fromhex(mac.replace(":", ""))
    return ipaddress.IPv6Address(b"\xfe\x80" + bytes(6) + bytes([b[0] ^ 2]) + b[1:3]
                                 + b"\xff\xfe" + b[3:])


def gateway6(broker, reply):
    prefix = prefix_of(reply)
    p = broker.ip("-6", "-j", "addr", "show", "dev", reply["network"]["bridge"], "scope", "global")
    for link in json.loads(p.stdout):
        for a in link["addr_info"]:
            if "local" in a and ipaddress.IPv6Address(a["local"]) in prefix:  # {}: see slaac()
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
    ll = link_local(broker.link(n["bridge"])["address"])
    addrs = json.loads(broker.ip("-j", "addr", "show", "dev", n["bridge"]).stdout)[0]["addr_info"]
    got = {(a["family"], a["local"], a["prefixlen"]) for a in addrs}
    assert got == {("inet", n["subnet"], 24), ("inet6", gateway6(broker, r), 64),
                   ("inet6", str(ll), 64)}, addrs
    assert not any(a.get("tentative") for a in addrs), addrs
    mode = run(["ip", "netns", "exec", broker.ns, "cat",
                "/proc/sys/net/ipv6/conf/%s/addr_gen_mode" % n["bridge"]]).stdout
    assert mode.strip() == "1"
    port = json.loads(broker.ip("-j", "-6", "addr", "show", "dev", n["port"]["ifname"]).stdout)
    assert not port or not port[0].get("addr_info"), port


# ------------------------------------------------------ router advertisements

def test_router_advertisement_says_what_the_network_is(broker, topo):
    """The daemon advertises (ra.c): from the bridge's link-local address,
    the /64 for SLAAC, the MTU, the gateway as default router and DNS server."""
    g = topo.guest("g")
    no_dad(g)
    r = broker.acquire_netns(g)
    mac = broker.link(r["network"]["bridge"])["address"]
    ra = first_advertisement(g)
    assert (ra["from"], ra["mac"]) == (str(link_local(mac)), mac)
    assert (ra["hop_limit"], ra["flags"], ra["router_lifetime"], ra["mtu"]) == (64, 0, 9000, 1500)
    # On-link and autonomous; a day valid, four hours preferred.
    assert ra["prefixes"] == [{"prefix": str(prefix_of(r)), "flags": 0xc0,
                               "valid": 86400, "preferred": 14400}]
    assert ra["rdnss"] == [{"lifetime": 9000, "addresses": [gateway6(broker, r)]}]


def test_dns_answers_on_the_advertised_ipv6_server(broker, topo):
    g = topo.guest("g")
    no_dad(g)
    broker.acquire_netns(g)
    server = first_advertisement(g)["rdnss"][0]["addresses"][0]
    out = g.exec(PYTHON, "-B", "-c", DNS_QUERY, server).stdout
    assert out.strip() == "True"


def test_host_network_is_not_advertised_as_default_router(broker, topo):
    g = topo.guest("g")
    no_dad(g)
    r = broker.acquire_netns(g, network="host")
    ra = first_advertisement(g)
    assert ra["router_lifetime"] == 0
    assert [p["prefix"] for p in ra["prefixes"]] == [str(prefix_of(r))]
    slaac(g, prefix_of(r))
    assert "default" not in g.exec("ip", "-6", "route", "show").stdout


def test_bad_solicitations_leave_the_daemon_serving_and_a_flood_is_answered_sparingly(
        broker, topo):
    """Malformed solicitations (wrong hop limit, bad options, short) leave
    the daemon serving (which ones it answers: test/unit/test-ra.c); a
    flood gets at most one answer per 3 s (RFC 4861's
    MIN_DELAY_BETWEEN_RAS), and the daemon keeps answering."""
    g = topo.guest("g")
    no_dad(g)
    broker.acquire_netns(g)
    first_advertisement(g)  # the ones of the first seconds are out of the way
    fds = broker.fd_count()
    ras = router_advertisements(g, seconds=2, mode="junk")
    # A junk round ends with a good solicitation, answered within the 3 s window.
    assert len(ras) <= 1, ras
    ras = router_advertisements(g, seconds=2, mode="flood")
    assert len(ras) <= 1, ras
    assert first_advertisement(g)["router_lifetime"] == 9000
    assert broker.fd_count() == fds
    assert broker.cli_json("status", "--json")["networks"]
