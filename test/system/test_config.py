"""Configured networks: every key of /etc/vmnet-broker.d/NAME.json, seen in
the running network, and the errors of broken files as data.

Each test writes its files into the fixture daemon's --config-dir; the
daemon rereads the directory on every acquire, so no restart is needed.
"""
import ipaddress
import json
import os
import select
import signal
import subprocess
import time

import pytest

from conftest import (CLI, PYTHON, UPLINK_DAEMON, UPLINK_UPSTREAM, ns_delete, run, subnet_of,
                      wait_until)
import vmnet_broker
from test_ipv6 import (first_advertisement, gateway6, no_dad, prefix_of, router_advertisements,
                       slaac)

LAB = "10.77.0"  # RFC 1918; the fixture's pool is 192.168.64.0/18
MAC1 = "52:54:00:77:00:01"
MAC2 = "52:54:00:77:00:02"


def write(broker, name, conf):
    """Write NAME.json into the daemon's config dir; @conf a dict or raw text."""
    path = os.path.join(broker.config_dir, name + ".json")
    with open(path + ".tmp", "w") as f:
        f.write(conf if isinstance(conf, str) else json.dumps(conf))
    os.rename(path + ".tmp", path)
    return path


def lab(**keys):
    """A shared network on 10.77.0.0/24, gateway .1, plus @keys."""
    return {"mode": "shared", "subnet": LAB + ".1", "mask": "255.255.255.0", **keys}


def acquire_error(broker, name, **keys):
    reply = broker.request({"command": "acquire", "network_name": name, "port": "none", **keys})
    assert "error" in reply, reply
    return reply


def netns_acquire(broker, guest, name, **keys):
    """A netns acquire over the raw protocol (for keys the CLI has no option for)."""
    fd = os.open(guest.path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return broker.request({"command": "acquire", "network_name": name, "port": "netns",
                               **keys}, fds=[fd])
    finally:
        os.close(fd)


def networks(broker):
    return {n["name"]: n for n in broker.cli_json("networks", "--json")["networks"]}


def route_back(broker, prefix):
    """Upstream may answer @prefix directly: only NAT would hide the guests."""
    run(["ip", "-n", broker.upstream, "route", "add", prefix, "via", UPLINK_DAEMON])


# ----------------------------------------------------------------- files and errors

def test_check_config_prints_every_problem(topo):
    d = os.path.join(topo.tmp, "conf.d")
    os.mkdir(d)
    files = {
        "good": lab(description="fine"),
        "typo": {"mode": "shared", "dhcpp": True},
        "mask": {"mode": "shared", "subnet": "10.9.0.1", "mask": "255.0.255.0"},
        "public": {"mode": "shared", "subnet": "8.8.8.1", "mask": "255.255.255.0"},
        "res": lab(dhcp_reservations=[{"mac": "52:54:00:00:00:01", "address": "10.99.0.5"},
                                      {"mac": "52:54:00:00:00:02", "address": LAB + ".1"}]),
        "dup": {"mode": "shared", "subnet": "10.8.0.1", "mask": "255.255.255.0",
                "port_forwards": [
                    {"protocol": "tcp", "external_port": 80, "internal_address": "10.8.0.2",
                     "internal_port": 80},
                    {"protocol": "tcp", "external_port": 80, "internal_address": "10.8.0.3",
                     "internal_port": 8080}]},
        "types": {"mode": 1, "mtu": "1500", "nat44": "yes"},
        "shared": {"mode": "shared"},
    }
    for name, conf in files.items():
        with open(os.path.join(d, name + ".json"), "w") as f:
            json.dump(conf, f)
    with open(os.path.join(d, "syntax.json"), "w") as f:
        f.write('{"mode": "shared",')
    with open(os.path.join(d, "README"), "w") as f:
        f.write("not a network file")
    p = run([CLI, "check-config", d], check=False)
    assert p.returncode == 1, p.stdout + p.stderr
    lines = p.stdout.splitlines()

    def has(name, key, words):
        want = "%s/%s.json: %s: " % (d, name, key)
        hits = [ln for ln in lines if ln.startswith(want) and words in ln]
        assert hits, "no '%s...%s' in:\n%s" % (want, words, p.stdout)
    has("typo", "dhcpp", "unknown key")
    has("mask", "mask", "not contiguous")
    has("public", "subnet", "private range")
    has("res", "dhcp_reservations[0].address", "outside the subnet")
    has("res", "dhcp_reservations[1].address", "gateway")
    has("dup", "port_forwards[1].external_port", "already forwarded")
    has("types", "mode", "string")
    has("types", "mtu", "integer")
    has("types", "nat44", "true or false")
    has("shared", "-", "built-in")
    has("syntax", "-", "not valid JSON")
    assert not any(ln.startswith(d + "/good.json") for ln in lines)
    assert "README" not in p.stdout
    for name in files:
        if name != "good":
            os.unlink(os.path.join(d, name + ".json"))
    os.unlink(os.path.join(d, "syntax.json"))
    p = run([CLI, "check-config", d])
    assert p.stdout.strip() == "1 network OK"


def test_overlapping_files_are_refused_with_the_reason(broker):
    a = write(broker, "lab-a", lab())
    b = write(broker, "lab-b", {"mode": "host", "subnet": LAB + ".129",
                                "mask": "255.255.255.128"})
    for name, other in (("lab-a", b), ("lab-b", a)):
        reply = acquire_error(broker, name)
        assert reply["error"] == vmnet_broker.Status.NOT_FOUND
        assert "overlaps" in reply["message"] and other in reply["message"], reply
    nets = networks(broker)
    assert nets["lab-a"]["errors"][0]["key"] == "subnet"
    assert nets["lab-a"]["errors"][0]["file"] == a
    assert "lab-b" in nets["lab-a"]["errors"][0]["reason"]
    p = broker.cli("check-config", broker.config_dir, check=False)
    assert p.returncode == 1 and "overlaps" in p.stdout
    # Fix one file: both work, no restart.
    write(broker, "lab-b", {"mode": "host", "subnet": "10.78.0.1", "mask": "255.255.255.0"})
    assert broker.acquire_tap("lab-a")[0]["network"]["subnet"] == LAB + ".1"
    assert broker.acquire_tap("lab-b")[0]["network"]["subnet"] == "10.78.0.1"


def test_broken_file_is_not_found_and_harms_no_other_network(broker, topo):
    path = write(broker, "broken", {"mode": "shared", "mtu": 10})
    write(broker, "fine", lab())
    reply = acquire_error(broker, "broken")
    assert reply["error"] == vmnet_broker.Status.NOT_FOUND
    assert path in reply["message"] and "mtu" in reply["message"], reply
    assert acquire_error(broker, "nothing-here")["error"] == vmnet_broker.Status.NOT_FOUND
    g = topo.guest("g")
    r = broker.acquire_netns(g, network="fine")
    assert g.dhcp()["ip"] == r["network"]["port"]["address"]
    r2 = broker.acquire_netns(topo.guest("g2"), network="shared")
    assert r2["network"]["name"] == "shared"
    nets = networks(broker)
    assert nets["broken"]["source"] == path
    assert nets["broken"]["active"] is False
    assert [e["key"] for e in nets["broken"]["errors"]] == ["mtu"]
    assert nets["fine"]["errors"] == [] and nets["fine"]["active"] is True
    text = broker.cli("networks").stdout
    assert "error: mtu: must be an integer" in text
    assert broker.alive()


def test_networks_shows_source_description_and_pending_change(broker, topo):
    path = write(broker, "lab", lab(description="Lab network"))
    g = topo.guest("g")
    broker.acquire_netns(g, network="lab")
    n = networks(broker)["lab"]
    assert n["source"] == path and n["description"] == "Lab network"
    assert n["active"] is True and n["pending_change"] is False
    assert n["mode"] == "shared"
    time.sleep(0.01)
    write(broker, "lab", lab(description="Lab network, renamed", mtu=1400))
    n = networks(broker)["lab"]
    assert n["pending_change"] is True and n["description"] == "Lab network, renamed"
    assert "changed, applies when next created" in broker.cli("networks").stdout
    # The running network is unchanged until it is next created.
    st = broker.network("lab")
    assert st["mtu"] == 1500 and st["description"] == "Lab network"


def test_edits_count_at_once_also_in_place_and_through_symlinks(broker, tmp_path):
    """The daemon skips rescanning its config dir while inotify reports
    nothing; edits in place, new files, removals and edits of a symlink's
    target (which inotify on the dir cannot see) all still count at the
    next request."""
    path = write(broker, "lab", lab(description="one"))
    assert networks(broker)["lab"]["description"] == "one"
    with open(path, "w") as f:  # in place, no rename
        f.write(json.dumps(lab(description="two")))
    assert networks(broker)["lab"]["description"] == "two"
    os.unlink(path)
    assert "lab" not in networks(broker)
    target = tmp_path / "elsewhere.json"
    target.write_text(json.dumps(lab(description="three")))
    os.symlink(str(target), os.path.join(broker.config_dir, "lab.json"))
    assert networks(broker)["lab"]["description"] == "three"
    target.write_text(json.dumps(lab(description="four!")))
    assert networks(broker)["lab"]["description"] == "four!"


def test_file_subnet_gateway_and_mask(broker, topo):
    # The gateway need not be .1, and the mask need not be /24.
    write(broker, "lab", {"mode": "shared", "subnet": "10.77.3.254", "mask": "255.255.252.0",
                          "description": "wide"})
    g = topo.guest("g")
    r = broker.acquire_netns(g, network="lab")
    n = r["network"]
    assert (n["subnet"], n["mask"]) == ("10.77.3.254", "255.255.252.0")
    assert n["description"] == "wide"
    links = json.loads(broker.ip("-j", "-4", "addr", "show", "dev", n["bridge"]).stdout)
    addrs = [(a["local"], a["prefixlen"]) for link in links for a in link["addr_info"]]
    assert addrs == [("10.77.3.254", 22)]
    lease = g.dhcp()
    assert lease["ip"] == n["port"]["address"]
    assert ipaddress.IPv4Address(lease["ip"]) in ipaddress.IPv4Network("10.77.0.0/22")
    assert lease["router"] == "10.77.3.254" and int(lease["mask"]) == 22
    assert g.ping("10.77.3.254")


def test_file_subnet_overlapping_a_host_route_is_a_conflict(broker):
    broker.ip("route", "add", "10.77.0.0/16", "via", UPLINK_UPSTREAM)
    write(broker, "lab", lab())
    reply = acquire_error(broker, "lab")
    assert reply["error"] == vmnet_broker.Status.CONFLICT
    assert "10.77.0.0/24" in reply["message"] and "route" in reply["message"], reply
    assert broker.network("lab") is None


def test_file_subnet_overlapping_a_running_network_is_a_conflict(broker):
    reply, fds = broker.acquire_tap("shared")
    for fd in fds:
        os.close(fd)
    net = subnet_of(reply)
    # Written after `shared` took its /24, so no file check could see it.
    write(broker, "late", {"mode": "host", "subnet": str(net.network_address + 9),
                           "mask": "255.255.255.128"})
    err = acquire_error(broker, "late")
    assert err["error"] == vmnet_broker.Status.CONFLICT and "'shared'" in err["message"], err


@pytest.mark.broker(subnet_pool="192.168.64.0/22")
def test_pool_skips_routed_subnets_and_file_subnets(broker):
    broker.ip("route", "add", "192.168.64.0/24", "via", UPLINK_UPSTREAM)
    write(broker, "fixed", {"mode": "host", "subnet": "192.168.65.1", "mask": "255.255.255.0"})
    r1, fds = broker.acquire_tap("shared")
    assert str(subnet_of(r1)) == "192.168.66.0/24"
    r2, fds2 = broker.acquire_tap("host")
    assert str(subnet_of(r2)) == "192.168.67.0/24"
    # The file's network still gets its subnet: the pool kept it free.
    r3, fds3 = broker.acquire_tap("fixed")
    assert str(subnet_of(r3)) == "192.168.65.0/24"
    write(broker, "more", {"mode": "shared"})
    err = acquire_error(broker, "more")
    assert err["error"] == vmnet_broker.Status.LIMIT_EXCEEDED
    assert "192.168.64.0/22" in err["message"] and "pool" in err["message"], err
    for fd in fds + fds2 + fds3:
        os.close(fd)


# ----------------------------------------------------------------- addresses

def test_reserved_mac_gets_its_address_and_no_one_else_does(broker, topo):
    # A /28: gateway .1, .2 reserved, .3 a forward's target, .8-.14 DHCP's
    # dynamic range, so ports get .4-.7.
    write(broker, "small", {
        "mode": "shared", "subnet": LAB + ".1", "mask": "255.255.255.240",
        "dhcp_reservations": [{"mac": MAC1, "address": LAB + ".2"}],
        "port_forwards": [{"protocol": "tcp", "external_port": 2200,
                           "internal_address": LAB + ".3", "internal_port": 22}]})
    fds = []
    got = []
    for _ in range(4):
        reply, f = broker.acquire_tap("small")
        fds += f
        got.append(reply["network"]["port"]["address"])
    assert sorted(got) == [LAB + ".4", LAB + ".5", LAB + ".6", LAB + ".7"]
    err = acquire_error(broker, "small", port="tap")
    assert err["error"] == vmnet_broker.Status.LIMIT_EXCEEDED
    g = topo.guest("g")
    r = broker.acquire_netns(g, network="small", mac=MAC1)
    assert r["network"]["port"]["address"] == LAB + ".2"
    assert g.dhcp()["ip"] == LAB + ".2"
    # The reservation is the MAC's: a second port with it is a conflict.
    err = acquire_error(broker, "small", port="tap", mac=MAC1)
    assert err["error"] == vmnet_broker.Status.CONFLICT
    for fd in fds:
        os.close(fd)


def test_reservation_is_served_to_a_guest_on_any_port(broker, topo):
    """dnsmasq has the file's reservations even for a MAC no lease names."""
    write(broker, "lab", lab(dhcp_reservations=[{"mac": MAC2, "address": LAB + ".20"}]))
    g = topo.guest("g")
    broker.acquire_netns(g, network="lab")
    g.exec("ip", "link", "set", "dev", "eth0", "address", MAC2)
    assert g.dhcp()["ip"] == LAB + ".20"


def test_dhcp_off_gives_no_address(broker, topo):
    write(broker, "nodhcp", lab(dhcp=False))
    g = topo.guest("g")
    r = broker.acquire_netns(g, network="nodhcp")
    assert "address" not in r["network"]["port"]
    assert g.dhcp(tries=2, expect=False) is None
    # The network itself works: a static address reaches the gateway.
    g.exec("ip", "addr", "add", LAB + ".50/24", "dev", "eth0")
    assert g.ping(LAB + ".1")


DNS_QUERY = r"""
import socket, struct, sys
q = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + b"\x07gateway\x00" + struct.pack(">HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
s.sendto(q, (sys.argv[1], 53))
try:
    data = s.recv(512)
    print("answer" if data[:2] == b"\x12\x34" else "garbage")
except OSError:
    print("none")
"""


def test_dns_proxy_off_serves_dhcp_but_no_dns(broker, topo):
    write(broker, "nodns", lab(dns_proxy=False))
    write(broker, "dns", {"mode": "shared", "subnet": "10.78.0.1", "mask": "255.255.255.0"})
    g, h = topo.guest("g"), topo.guest("h")
    broker.acquire_netns(g, network="nodns")
    broker.acquire_netns(h, network="dns")
    lease = g.dhcp()
    assert lease["dns"] == ""
    assert g.exec(PYTHON, "-B", "-c", DNS_QUERY, LAB + ".1").stdout.strip() == "none"
    assert h.dhcp()["dns"] == "10.78.0.1"
    assert h.exec(PYTHON, "-B", "-c", DNS_QUERY, "10.78.0.1").stdout.strip() == "answer"


MTU_SCRIPT = r"""#!/bin/sh
[ "$1" = bound ] && echo "$mtu" > "$VMBT_MTU_FILE"
exit 0
"""


def test_mtu_on_bridge_ports_and_dhcp(broker, topo):
    write(broker, "jumbo", lab(mtu=9000))
    g = topo.guest("g")
    r = broker.acquire_netns(g, network="jumbo")
    assert r["network"]["mtu"] == 9000
    reply, fds = broker.acquire_tap("jumbo")
    assert g.link("eth0")["mtu"] == 9000
    assert broker.link(r["network"]["port"]["ifname"])["mtu"] == 9000
    assert broker.link(reply["network"]["port"]["ifname"])["mtu"] == 9000
    assert broker.link(r["network"]["bridge"])["mtu"] == 9000
    # DHCP option 26 says so too.
    script = os.path.join(topo.tmp, "mtu.sh")
    out = os.path.join(topo.tmp, "mtu.out")
    with open(script, "w") as f:
        f.write(MTU_SCRIPT)
    os.chmod(script, 0o755)
    g.exec("ip", "link", "set", "eth0", "up")
    run(["ip", "netns", "exec", g.ns, "udhcpc", "-f", "-q", "-n", "-t", "5", "-T", "1", "-O",
         "mtu", "-i", "eth0", "-s", script], env=dict(os.environ, VMBT_MTU_FILE=out), timeout=30)
    with open(out) as f:
        assert f.read().strip() == "9000"
    # A full-size frame crosses the bridge unfragmented.
    g.exec("ip", "addr", "add", LAB + ".77/24", "dev", "eth0")
    p = g.exec("ping", "-c", "1", "-W", "2", "-M", "do", "-s", "8972", LAB + ".1", check=False)
    assert p.returncode == 0, p.stdout + p.stderr
    for fd in fds:
        os.close(fd)


# ----------------------------------------------------------------- IPv6

def test_ipv6_prefix_slaac_and_guest_to_guest(broker, topo):
    write(broker, "six", lab(ipv6_prefix="fd42:42:42:42::", prefix_len=64))
    g1, g2 = topo.guest("g1"), topo.guest("g2")
    no_dad(g1)
    no_dad(g2)
    r = broker.acquire_netns(g1, network="six")
    broker.acquire_netns(g2, network="six")
    assert (r["network"]["ipv6_prefix"], r["network"]["prefix_len"]) == ("fd42:42:42:42::", 64)
    prefix = prefix_of(r)
    a1, a2 = slaac(g1, prefix), slaac(g2, prefix)
    assert g1.ping(a2) and g2.ping(a1)
    assert gateway6(broker, r) == "fd42:42:42:42::1"


def test_router_advertisement_off_gives_no_slaac_address(broker, topo):
    write(broker, "quiet", lab(ipv6_prefix="fd42:42:42:43::", router_advertisement=False))
    g = topo.guest("g")
    no_dad(g)
    broker.acquire_netns(g, network="quiet")
    g.exec("ip", "link", "set", "eth0", "up")
    time.sleep(3)
    p = g.exec("ip", "-6", "-j", "addr", "show", "dev", "eth0", "scope", "global")
    # {} is an address the scope filter left out (iproute2 6.1)
    assert [a for link in json.loads(p.stdout or "[]") for a in link["addr_info"] if a] == []
    assert router_advertisements(g, seconds=2) == []


def test_router_advertisement_follows_mtu_and_dns_proxy(broker, topo):
    """No DNS server on the network: none advertised either."""
    write(broker, "jumbo", lab(ipv6_prefix="fd42:42:42:46::", mtu=9000, dns_proxy=False))
    g = topo.guest("g")
    no_dad(g)
    broker.acquire_netns(g, network="jumbo")
    ra = first_advertisement(g)
    assert (ra["mtu"], ra["rdnss"], ra["router_lifetime"]) == (9000, [], 9000)
    assert [p["prefix"] for p in ra["prefixes"]] == ["fd42:42:42:46::/64"]


UP6_DAEMON = "2001:db8:1::1"
UP6_UPSTREAM = "2001:db8:1::2"


def upstream6(broker):
    for ns, addr in ((broker.ns, UP6_DAEMON), (broker.upstream, UP6_UPSTREAM)):
        run(["ip", "-n", ns, "addr", "add", addr + "/64", "dev", "uplink0", "nodad"])
    run(["ip", "-n", broker.ns, "-6", "route", "add", "default", "via", UP6_UPSTREAM])
    run(["ip", "-n", broker.upstream, "-6", "route", "add", "fd00::/8", "via", UP6_DAEMON])


def test_nat66_off_routes_ipv6_and_nat44_still_masquerades(broker, topo):
    upstream6(broker)
    route_back(broker, LAB + ".0/24")
    topo.tcp_listener(broker.upstream, "::", 8066)
    write(broker, "r6", lab(ipv6_prefix="fd42:42:42:44::", nat66=False))
    g = topo.guest("g")
    no_dad(g)
    r = broker.acquire_netns(g, network="r6")
    g.dhcp()
    a = slaac(g, prefix_of(r))
    g.exec("ip", "-6", "route", "replace", "default", "via", gateway6(broker, r), "dev", "eth0")
    assert g.tcp_peer(UP6_UPSTREAM, 8066) == a
    assert g.tcp_peer(UPLINK_UPSTREAM, 8066) == "::ffff:" + UPLINK_DAEMON


# ----------------------------------------------------------------- the way out

def test_nat44_off_is_a_routed_network(broker, topo):
    route_back(broker, LAB + ".0/24")
    topo.tcp_listener(broker.upstream, UPLINK_UPSTREAM, 8044)
    write(broker, "routed", lab(nat44=False))
    g = topo.guest("g")
    broker.acquire_netns(g, network="routed")
    addr = g.dhcp()["ip"]
    assert g.tcp_peer(UPLINK_UPSTREAM, 8044) == addr  # not masqueraded
    # And the outside may come in, as to any routed subnet.
    topo.tcp_listener(g.ns, "0.0.0.0", 8045)
    p = run(["ip", "netns", "exec", broker.upstream, PYTHON, "-B", "-c",
             "import socket; s = socket.create_connection(('%s', 8045), 3); "
             "print(s.recv(100).decode().strip())" % addr])
    assert p.stdout.strip() == UPLINK_UPSTREAM
    rules = broker.nft_text().splitlines()
    assert not [ln for ln in rules if "masquerade" in ln and LAB + ".0/24" in ln], rules


def test_host_mode_file_network_has_no_way_out(broker, topo):
    route_back(broker, LAB + ".0/24")
    topo.tcp_listener(broker.upstream, UPLINK_UPSTREAM, 8046)
    write(broker, "island", {"mode": "host", "subnet": LAB + ".1", "mask": "255.255.255.0"})
    g = topo.guest("g")
    r = broker.acquire_netns(g, network="island")
    assert r["network"]["mode"] == "host"
    lease = g.dhcp()
    assert lease["router"] == ""
    g.default_route(LAB + ".1")
    assert g.ping(LAB + ".1")
    assert g.tcp_peer(UPLINK_UPSTREAM, 8046) is None
    assert g.ping_fails(UPLINK_UPSTREAM)


def second_uplink(broker, topo):
    """uplink1 from the daemon to a second upstream namespace on 198.51.100.0/24."""
    u2 = topo.netns("u2")
    run(["ip", "-n", broker.ns, "link", "add", "uplink1", "type", "veth", "peer", "name",
         "uplink1", "netns", u2])
    run(["ip", "-n", broker.ns, "addr", "add", "198.51.100.1/24", "dev", "uplink1"])
    run(["ip", "-n", u2, "addr", "add", "198.51.100.2/24", "dev", "uplink1"])
    run(["ip", "-n", broker.ns, "link", "set", "uplink1", "up"])
    run(["ip", "-n", u2, "link", "set", "uplink1", "up"])
    run(["ip", "-n", u2, "route", "add", "default", "via", "198.51.100.1"])
    return u2


def test_external_interface_limits_the_way_out(broker, topo):
    u2 = second_uplink(broker, topo)
    topo.tcp_listener(broker.upstream, UPLINK_UPSTREAM, 8047)
    topo.tcp_listener(u2, "198.51.100.2", 8047)
    write(broker, "via0", lab(external_interface="uplink0"))
    g = topo.guest("g")
    broker.acquire_netns(g, network="via0")
    g.dhcp()
    assert g.tcp_peer(UPLINK_UPSTREAM, 8047) == UPLINK_DAEMON
    assert g.tcp_peer("198.51.100.2", 8047, timeout=2) is None
    # The built-in `shared` still goes out of both.
    h = topo.guest("h")
    broker.acquire_netns(h, network="shared")
    h.dhcp()
    assert h.tcp_peer("198.51.100.2", 8047) == "198.51.100.1"


# ----------------------------------------------------------------- port forwards

UDP_ECHO = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", int(sys.argv[1])))
print("ready", flush=True)
while True:
    data, peer = s.recvfrom(100)
    s.sendto(b"echo " + data + b" from " + peer[0].encode(), peer)
"""

UDP_CLIENT = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.sendto(b"hello", (sys.argv[1], int(sys.argv[2])))
print(s.recv(100).decode())
"""


def udp_echo(topo, ns, port):
    p = topo.spawn(["ip", "netns", "exec", ns, PYTHON, "-B", "-c", UDP_ECHO, str(port)],
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    r, _, _ = select.select([p.stdout], [], [], 10)
    assert r and p.stdout.readline().strip() == b"ready"


def from_upstream(broker, port, timeout=3):
    """Connect from upstream to the daemon's uplink address: what answered, or None."""
    p = run(["ip", "netns", "exec", broker.upstream, PYTHON, "-B", "-c",
             "import socket; s = socket.create_connection(('%s', %d), %d); "
             "print(s.recv(100).decode().strip())" % (UPLINK_DAEMON, port, timeout)],
            check=False)
    return p.stdout.strip() if p.returncode == 0 else None


def test_file_port_forwards_tcp_and_udp_reach_the_guest(broker, topo):
    write(broker, "srv", lab(
        dhcp_reservations=[{"mac": MAC1, "address": LAB + ".10"}],
        port_forwards=[
            {"protocol": "tcp", "external_port": 2222, "internal_address": LAB + ".10",
             "internal_port": 8022},
            {"protocol": "udp", "external_port": 5353, "internal_address": LAB + ".10",
             "internal_port": 9053}]))
    g = topo.guest("g")
    broker.acquire_netns(g, network="srv", mac=MAC1)
    assert g.dhcp()["ip"] == LAB + ".10"
    topo.tcp_listener(g.ns, "0.0.0.0", 8022)
    udp_echo(topo, g.ns, 9053)
    # The guest sees the real client: forwards are not masqueraded.
    assert from_upstream(broker, 2222) == UPLINK_UPSTREAM
    p = run(["ip", "netns", "exec", broker.upstream, PYTHON, "-B", "-c", UDP_CLIENT,
             UPLINK_DAEMON, "5353"])
    assert p.stdout.strip() == "echo hello from " + UPLINK_UPSTREAM
    # Ports not forwarded stay closed.
    assert from_upstream(broker, 8022, timeout=1) is None


def test_acquire_port_forwards_live_and_die_with_the_lease(broker, topo):
    write(broker, "lab", lab(port_forwards=[
        {"protocol": "tcp", "external_port": 2222, "internal_address": LAB + ".200",
         "internal_port": 22}]))
    g = topo.guest("g")
    fw = [{"protocol": "tcp", "external_port": 3333, "internal_port": 8080}]
    reply = netns_acquire(broker, g, "lab", port_forwards=fw)
    assert "error" not in reply, reply
    addr = reply["network"]["port"]["address"]
    [got] = reply["network"]["port"]["port_forwards"]
    # And the IPv6 twin, to the guest's EUI-64 SLAAC address (test_forwards.py).
    assert got.pop("internal_address6").startswith(reply["network"]["ipv6_prefix"].rstrip(":"))
    assert got == {"protocol": "tcp", "external_port": 3333, "internal_address": addr,
                  "internal_port": 8080}
    g.dhcp()
    topo.tcp_listener(g.ns, "0.0.0.0", 8080)
    assert from_upstream(broker, 3333) == UPLINK_UPSTREAM
    lease = broker.lease_by_mac(reply["network"]["port"]["mac"])
    assert lease["port_forwards"][0]["external_port"] == 3333
    # Taken: by this lease, by the file, or asked twice in one request.
    h = topo.guest("h")
    for fwd, code in (([{"protocol": "tcp", "external_port": 3333, "internal_port": 1}],
                       vmnet_broker.Status.CONFLICT),
                      ([{"protocol": "tcp", "external_port": 2222, "internal_port": 1}],
                       vmnet_broker.Status.CONFLICT),
                      ([{"protocol": "tcp", "external_port": 4444, "internal_port": 1,
                         "internal_address": "10.77.0.9"}], vmnet_broker.Status.INVALID_REQUEST)):
        err = netns_acquire(broker, h, "lab", port_forwards=fwd)
        assert err.get("error") == code, err
    err = netns_acquire(broker, h, "lab", port_forwards=fw)
    assert "3333" in err["message"] and "'lab'" in err["message"], err
    # UDP on the same number is another port.
    ok = netns_acquire(broker, h, "lab", port_forwards=[
        {"protocol": "udp", "external_port": 3333, "internal_port": 1}])
    assert "error" not in ok, ok
    # The lease goes, and its forward with it.
    ns_delete(g.ns)
    wait_until(lambda: "tcp dport 3333 dnat" not in broker.nft_text()
               and "udp dport 3333 dnat" in broker.nft_text(), what="the forward to go")
    assert from_upstream(broker, 3333, timeout=1) is None


def test_cli_forward_option(broker, topo):
    write(broker, "lab", lab())
    g = topo.guest("g")
    reply = broker.cli_json("acquire", "lab", "--netns", g.path, "--forward", "tcp:3335:8080",
                            "--forward", "udp:3335:53", "--json")
    fw = reply["network"]["port"]["port_forwards"]
    assert [(f["protocol"], f["external_port"], f["internal_port"]) for f in fw] == \
        [("tcp", 3335, 8080), ("udp", 3335, 53)]
    assert all(f["internal_address"] == reply["network"]["port"]["address"] for f in fw)
    for bad in ("tcp:0:1", "icmp:1:1", "tcp:1", "tcp:1:70000"):
        p = broker.cli("acquire", "lab", "--forward", bad, check=False)
        assert p.returncode == 2 and "--forward" in p.stderr, (bad, p.stderr)
    p = broker.cli("acquire", "lab", "--netns", topo.guest("h").path, "--forward",
                   "tcp:3335:1", check=False)
    assert p.returncode == 1 and "VMNET_BROKER_CONFLICT" in p.stderr, p.stderr


def test_acquire_port_forwards_need_a_shared_network_with_dhcp(broker, topo):
    write(broker, "nodhcp", lab(dhcp=False))
    fw = [{"protocol": "tcp", "external_port": 3334, "internal_port": 22}]
    for name in ("host", "nodhcp"):
        err = netns_acquire(broker, topo.guest("g"), name, port_forwards=fw)
        assert err.get("error") == vmnet_broker.Status.INVALID_REQUEST, err


# ----------------------------------------------------------------- access

USER, GROUP, OTHER_GROUP = 64000, 64001, 64002


def as_ids(uid, gid, groups):
    return ["setpriv", "--reuid=%d" % uid, "--regid=%d" % gid,
            "--groups=" + ",".join(str(x) for x in groups) if groups else "--clear-groups"]


def cli_acquire(broker, name, prefix):
    return run(prefix + [CLI, "--socket", broker.socket, "acquire", name, "--port", "none"],
               check=False)


def test_allowed_users_and_groups(broker):
    write(broker, "team", lab(allowed_users=[str(USER + 10), "root"],
                              allowed_groups=[str(GROUP)]))
    # Not listed, in no listed group.
    p = cli_acquire(broker, "team", as_ids(USER, OTHER_GROUP, [OTHER_GROUP]))
    assert p.returncode == 1 and "VMNET_BROKER_NOT_ALLOWED" in p.stderr, p.stderr
    assert "allowed_users" in p.stderr
    # A supplementary group that is listed.
    p = cli_acquire(broker, "team", as_ids(USER, OTHER_GROUP, [OTHER_GROUP, GROUP]))
    assert p.returncode == 0, p.stderr
    # The primary group counts too, and so does a listed uid.
    assert cli_acquire(broker, "team", as_ids(USER, GROUP, [])).returncode == 0
    assert cli_acquire(broker, "team", as_ids(USER + 10, OTHER_GROUP, [])).returncode == 0
    # Root always may; unrestricted networks are for everyone.
    assert cli_acquire(broker, "team", []).returncode == 0
    assert cli_acquire(broker, "shared", as_ids(USER, OTHER_GROUP, [])).returncode == 0
    # Taking someone off the list counts at once, even while the network runs.
    write(broker, "team", lab(allowed_users=["root"]))
    p = cli_acquire(broker, "team", as_ids(USER, GROUP, []))
    assert "VMNET_BROKER_NOT_ALLOWED" in p.stderr, p.stderr


# ----------------------------------------------------------------- persistent

def test_persistent_network_starts_with_the_daemon_and_stays(topo):
    d, u = topo.uplinked_pair()
    b = topo.broker(d, start=False, idle_timeout=1)
    write(b, "always", lab(persistent=True, description="always on"))
    write(b, "sometimes", {"mode": "shared", "subnet": "10.78.0.1", "mask": "255.255.255.0"})
    b.start()
    n = wait_until(lambda: b.network("always"), what="the persistent network")
    assert n["subnet"] == LAB + ".1" and n["leases"] == []
    assert b.network("sometimes") is None
    assert networks(b)["always"]["persistent"] is True
    # Used and let go, it stays, unlike any other network.
    _, fds = b.acquire_tap("always")
    _, fds2 = b.acquire_tap("sometimes")
    for fd in fds + fds2:
        os.close(fd)
    wait_until(lambda: b.network("sometimes") is None, what="the other network to go")
    time.sleep(1.5)
    n = b.network("always")
    assert n is not None and n["state"] == "idle" and "idle_remaining" not in n


# ----------------------------------------------------------------- restart

def test_restart_adopts_a_file_network_with_its_own_gateway_and_forwards(broker, topo):
    write(broker, "wide", {
        "mode": "shared", "subnet": "10.77.3.254", "mask": "255.255.252.0",
        "ipv6_prefix": "fd42:42:42:45::",
        "dhcp_reservations": [{"mac": MAC1, "address": "10.77.2.10"}],
        "port_forwards": [{"protocol": "tcp", "external_port": 2223,
                           "internal_address": "10.77.2.10", "internal_port": 8023}]})
    g1 = topo.guest("g1")
    r1 = broker.acquire_netns(g1, network="wide", mac=MAC1)
    assert g1.dhcp()["ip"] == "10.77.2.10"
    topo.tcp_listener(g1.ns, "0.0.0.0", 8023)
    broker.stop(signal.SIGKILL)
    broker.start()
    st = broker.network("wide")
    assert (st["subnet"], st["mask"], st["bridge"]) == \
        ("10.77.3.254", "255.255.252.0", r1["network"]["bridge"])
    assert st["prefix_len"] == 64
    assert [le["address"] for le in st["leases"]] == ["10.77.2.10"]
    # The file's forward is in the rewritten table, and a new guest joins.
    assert from_upstream(broker, 2223) == UPLINK_UPSTREAM
    g2 = topo.guest("g2")
    r2 = broker.acquire_netns(g2, network="wide")
    a2 = r2["network"]["port"]["address"]
    assert ipaddress.IPv4Address(a2) in ipaddress.IPv4Network("10.77.0.0/22")
    assert a2 not in ("10.77.2.10", "10.77.3.254")
    assert g2.dhcp()["ip"] == a2
    assert g2.ping("10.77.2.10")
