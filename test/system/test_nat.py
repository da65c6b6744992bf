"""NAT: `shared` reaches the outside only masqueraded; `host` never does."""
from conftest import DEFAULT_POOL, UPLINK_DAEMON, UPLINK_UPSTREAM, run

PORT = 8080


def upstream_with_route_back(broker, topo):
    """A listener upstream that *could* answer guests directly.

    The route back to the pool means un-NATed packets would get answers too,
    so a success proves nothing by accident and a failure comes from the
    daemon's rules, not from a missing route.
    """
    run(["ip", "-n", broker.upstream, "route", "add", DEFAULT_POOL, "via", UPLINK_DAEMON])
    topo.tcp_listener(broker.upstream, UPLINK_UPSTREAM, PORT)


def test_shared_guest_reaches_upstream_through_nat(broker, topo):
    upstream_with_route_back(broker, topo)
    g = topo.guest("g")
    reply = broker.acquire_netns(g)
    lease = g.dhcp()
    assert lease["ip"] == reply["network"]["port"]["address"]
    seen = g.tcp_peer(UPLINK_UPSTREAM, PORT)
    assert seen == UPLINK_DAEMON, "upstream saw %r, want the uplink address" % seen
    assert g.ping(UPLINK_UPSTREAM)


def test_host_guest_cannot_reach_upstream(broker, topo):
    upstream_with_route_back(broker, topo)
    g = topo.guest("g")
    reply = broker.acquire_netns(g, network="host")
    g.dhcp()
    # Whether or not DHCP gave a router, try the way out through the gateway.
    g.default_route(reply["network"]["subnet"])
    assert g.ping(reply["network"]["subnet"]), "the host guest should reach its gateway"
    assert g.tcp_peer(UPLINK_UPSTREAM, PORT) is None
    assert g.ping_fails(UPLINK_UPSTREAM)


def test_nat_rules_live_in_the_broker_table(broker, topo):
    g = topo.guest("g")
    broker.acquire_netns(g)
    text = broker.nft_text()
    assert "table inet vmnet_broker" in text
    assert "masquerade" in text
    tables = [o["table"] for o in broker.nft_ruleset() if "table" in o]
    assert [(t["family"], t["name"]) for t in tables] == [("inet", "vmnet_broker")]
