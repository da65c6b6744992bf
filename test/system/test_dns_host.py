"""A DNS server of the host next to the networks' dnsmasq (issue #15).

A dnsmasq of the host bound to the wildcard address (what Debian's empty
dnsmasq.conf makes) holds TCP port 53 of every address, the gateways'
too: a network's dnsmasq must still start and answer, on port 10053 with
the table redirecting guests' port 53 there. systemd-resolved's stub
(127.0.0.53, 127.0.0.54) is no such server: networks keep port 53.
"""
import os
import subprocess

import pytest

from conftest import wait_until
from vmbt_hostfw import HOST_DNS_ANSWER, UPSTREAM_ANSWER, World, dns_answer, nsrun

ALT_PORT = 10053


def host_dnsmasq(topo, ns, *listen):
    """A DNS server of the host, answering probe.vmnet with HOST_DNS_ANSWER."""
    args = ["--bind-interfaces"] + ["--listen-address=" + a for a in listen] if listen else []
    topo.spawn(["ip", "netns", "exec", ns, "dnsmasq", "--keep-in-foreground",
                "--conf-file=/dev/null", "--no-hosts", "--no-resolv",
                "--address=/vmnet/" + HOST_DNS_ANSWER,
                "--pid-file=" + os.path.join(topo.tmp, "host-dns-%s.pid" % ns), *args],
               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def listening():
        out = nsrun(ns, "ss", "-Hltn", "sport = :53").stdout
        return bool(out.strip())
    wait_until(listening, 10, what="the host's DNS server")


def test_wildcard_dns_server_of_the_host(topo):
    w = World(topo, before_network=lambda w: host_dnsmasq(topo, w.d))
    # DHCP and DNS, UDP and TCP, from the network's dnsmasq (whose upstream says
    # UPSTREAM_ANSWER), not from the host's server.
    w.check(what="with a DNS server on 0.0.0.0:53")
    dns = w.host()["dns"]
    assert dns == {"wildcard_listener": True, "alternate_port": ALT_PORT,
                   "networks": ["shared"]}, dns
    assert "dnsmasq listens on port %d" % ALT_PORT in w.broker.log()
    ss = nsrun(w.d, "ss", "-Hltn", "sport = :%d" % ALT_PORT).stdout
    assert "%s:%d" % (w.gateway, ALT_PORT) in ss, ss
    # The host itself still reaches its own server at the gateway's address.
    assert dns_answer(w.d, w.gateway) == HOST_DNS_ANSWER
    # Only its own network may ask, on either port.
    g = topo.guest("g3")
    reply = w.broker.acquire_netns(g, network="host")
    g.dhcp()
    g.default_route(reply["network"]["subnet"])  # the way to the other gateway: through the host
    assert dns_answer(g.ns, reply["network"]["subnet"]) is not None  # its own dnsmasq
    for port in (53, ALT_PORT):
        assert dns_answer(g.ns, w.gateway, "udp", port) is None, port
    # A TCP query of the guest's, too, after the table is rewritten (a restore).
    nsrun(w.d, "nft", "flush", "ruleset")
    w.check(what="after the table was restored")
    assert dns_answer(w.g1.ns, w.gateway, "tcp") == UPSTREAM_ANSWER


@pytest.mark.parametrize("stub", [("127.0.0.53", "127.0.0.54")], ids=["resolved-stub"])
def test_stub_dns_server_of_the_host(topo, stub):
    w = World(topo, before_network=lambda w: host_dnsmasq(topo, w.d, *stub))
    w.check(what="with a DNS server on %s" % ", ".join(stub))
    dns = w.host()["dns"]
    assert dns["wildcard_listener"] is False and dns["networks"] == [], dns
    ss = nsrun(w.d, "ss", "-Hltn", "sport = :53").stdout
    assert "%s:53" % w.gateway in ss, ss
