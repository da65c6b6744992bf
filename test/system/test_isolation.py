"""Different networks are isolated from each other."""
from conftest import PYTHON, run, subnet_of
from test_dhcp import DNS_QUERY
from test_ipv6 import gateway6, no_dad, prefix_of, slaac


def test_shared_and_host_guests_cannot_reach_each_other(broker, topo):
    g1, g3 = topo.guest("g1"), topo.guest("g3")
    r1 = broker.acquire_netns(g1, network="shared")
    r3 = broker.acquire_netns(g3, network="host")
    assert r1["network"]["bridge"] != r3["network"]["bridge"]
    assert not subnet_of(r1).overlaps(subnet_of(r3))
    a1 = g1.dhcp()["ip"]
    a3 = g3.dhcp()["ip"]
    # Both know the way to the other through their gateway, so only the
    # broker's rules can stop the packets.
    g1.default_route(r1["network"]["subnet"])
    g3.default_route(r3["network"]["subnet"])
    assert g1.ping(r1["network"]["subnet"]), "g1 should reach its gateway"
    assert g3.ping(r3["network"]["subnet"]), "g3 should reach its gateway"
    assert g1.ping_fails(a3), "shared guest reached the host-only guest"
    assert g3.ping_fails(a1), "host-only guest reached the shared guest"


def test_each_network_has_its_own_bridge_and_dnsmasq(broker, topo):
    g1, g3 = topo.guest("g1"), topo.guest("g3")
    broker.acquire_netns(g1, network="shared")
    broker.acquire_netns(g3, network="host")
    nets = {n["name"]: n for n in broker.status()["networks"]}
    assert set(nets) == {"shared", "host"}
    assert nets["shared"]["bridge"] != nets["host"]["bridge"]
    assert len(broker.dnsmasq_pids()) == 2
    for n in nets.values():
        br = broker.link(n["bridge"])
        assert br is not None and br["linkinfo"]["info_kind"] == "bridge"


def test_a_network_dns_answers_only_its_own_guests(broker, topo):
    """dnsmasq binds to its gateway's addresses, and the host takes a packet
    for any of its addresses on any interface: the input rule keeps a
    host-only guest from resolving through the shared network's dnsmasq
    (and so reaching out by DNS), over IPv4 and IPv6, while each network's
    own guests and the host itself are answered."""
    g1, g3 = topo.guest("g1"), topo.guest("g3")
    no_dad(g1)
    no_dad(g3)
    r1 = broker.acquire_netns(g1, network="shared")
    r3 = broker.acquire_netns(g3, network="host")
    gw1, gw3 = r1["network"]["subnet"], r3["network"]["subnet"]  # "subnet": the gateway
    g1.dhcp()
    g3.dhcp()
    g3.default_route(gw3)
    slaac(g3, prefix_of(r3))
    g3.exec("ip", "-6", "route", "replace", "default", "via", gateway6(broker, r3), "dev", "eth0")
    assert g1.exec(PYTHON, "-B", "-c", DNS_QUERY, gw1).stdout.strip() == "True"
    assert g3.exec(PYTHON, "-B", "-c", DNS_QUERY, gw3).stdout.strip() == "True"
    for server in (gw1, gateway6(broker, r1)):
        p = g3.exec(PYTHON, "-B", "-c", DNS_QUERY, server, check=False)
        assert p.returncode != 0 and "True" not in p.stdout, (server, p.stdout, p.stderr)
    host = run(["ip", "netns", "exec", broker.ns, PYTHON, "-B", "-c", DNS_QUERY, gw1])
    assert host.stdout.strip() == "True"
