"""The broker's bridges in firewalld's zone vmnet-broker (issue #15).

A real firewalld runs in the daemon's namespace, on a D-Bus system bus of
its own (vmbt_hostfw.Firewalld), with the nftables backend and with the
iptables one. Without the zone, firewalld puts the bridges in its default
zone, which drops forwarded traffic (with br_netfilter, guest to guest
too), DHCP and DNS. The daemon adds the zone when it is missing (with a
notice), puts each bridge in it, and again after every reload and
restart. The zone lets guests reach of the host only DHCP, DNS and ICMP.
"""
import xml.etree.ElementTree as ET

import pytest

from conftest import run, wait_until
from vmbt_hostfw import ZONE_FILE, Firewalld, World, nsrun

HOST_SERVICE = 2200  # a service of the host that the zone does not open


def zone_of(fw, ifname):
    return fw.cmd("--get-zone-of-interface=" + ifname, check=False).stdout.strip()


def shipped_zone():
    z = ET.parse(ZONE_FILE).getroot()
    return {"target": z.get("target"),
            "services": sorted(e.get("name") for e in z.iter("service")),
            "ports": sorted("%s/%s" % (e.get("port"), e.get("protocol")) for e in z.iter("port")),
            "protocols": sorted(e.get("value") for e in z.iter("protocol")),
            "rich rules": ['rule priority="%s" reject' % r.get("priority")
                           for r in z.iter("rule")]}


def info_zone(fw, permanent=False):
    text = fw.cmd(*(["--permanent"] if permanent else []), "--info-zone=vmnet-broker").stdout
    info = {}
    key = None
    for line in text.splitlines()[1:]:
        if line.startswith("\t"):
            info[key].append(line.strip())
            continue
        key, _, value = line.strip().partition(":")
        info[key] = value.split() if key != "rich rules" else []
    return {"target": info["target"][0], "services": sorted(info["services"]),
            "ports": sorted(info["ports"]), "protocols": sorted(info["protocols"]),
            "rich rules": info["rich rules"]}


def with_firewalld(backend="nftables", with_zone=False, start=False):
    def setup(w):
        w.fw = Firewalld(w.topo, w.d, backend=backend, with_zone=with_zone)
        if start:
            w.fw.start()
        return w.fw.env
    return setup


def check_zone(w, what):
    wait_until(lambda: zone_of(w.fw, w.bridge) == "vmnet-broker", 5,
               what="%s to be in zone vmnet-broker (%s)" % (w.bridge, what))
    w.check(what=what)
    # Of the host's own services, the zone opens none but DHCP, DNS and ICMP.
    assert w.g1.tcp_peer(w.gateway, HOST_SERVICE, timeout=1) is None, what
    assert w.g1.ping(w.gateway, timeout=3), what


def test_firewalld_after_the_daemon(topo):
    w = World(topo, before_broker=with_firewalld())
    topo.tcp_listener(w.d, "0.0.0.0", HOST_SERVICE)
    w.check(what="before firewalld")
    assert w.g1.tcp_peer(w.gateway, HOST_SERVICE) is not None  # no firewall yet
    w.fw.start()
    check_zone(w, "firewalld started")
    assert "firewalld had no zone vmnet-broker" in w.broker.log()
    # What the daemon added is the zone the package ships.
    assert info_zone(w.fw, permanent=True) == shipped_zone()
    fw = w.host()["firewalld"]
    assert fw["running"] and fw["zone_present"] and fw["interfaces"] == [w.bridge], fw
    assert "firewalld" in w.host()["detected"]

    w.fw.cmd("--reload")
    check_zone(w, "firewall-cmd --reload")
    w.fw.cmd("--complete-reload")
    check_zone(w, "firewall-cmd --complete-reload")
    w.fw.stop()
    w.fw.start()
    check_zone(w, "firewalld restarted")
    assert w.broker.log().count("firewalld had no zone") == 1

    # A network that goes leaves the zone.
    g = topo.guest("g3")
    bridge = w.broker.acquire_netns(g, network="host")["network"]["bridge"]
    wait_until(lambda: zone_of(w.fw, bridge) == "vmnet-broker", 5, what="the new bridge")
    run(["ip", "netns", "del", g.ns])
    wait_until(lambda: zone_of(w.fw, bridge) != "vmnet-broker", 10,
               what="the bridge of the removed network to leave the zone")


@pytest.mark.parametrize("backend", ["nftables", "iptables"])
def test_firewalld_with_the_shipped_zone(topo, backend):
    w = World(topo, before_broker=with_firewalld(backend, with_zone=True, start=True))
    topo.tcp_listener(w.d, "0.0.0.0", HOST_SERVICE)
    check_zone(w, "firewalld (%s backend) before the daemon" % backend)
    assert "firewalld had no zone" not in w.broker.log()
    assert info_zone(w.fw) == shipped_zone()
    w.fw.cmd("--reload")
    check_zone(w, "firewall-cmd --reload (%s backend)" % backend)
    if backend == "iptables":
        # firewalld's iptables ruleset drops in FORWARD: our accept rules are there too.
        assert "-j VMNET-BROKER" in nsrun(w.d, "iptables-nft-save", "-t", "filter").stdout
