"""Different networks are isolated from each other."""
from conftest import subnet_of


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
