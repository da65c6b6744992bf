"""The host resolves its guests' names the way a systemd host resolves
names: systemd-resolved, told by the daemon which DNS server answers for
each network's domain. systemd-resolved runs in the test's namespaces
with a bus of its own (vmbt_resolved.py says how), never on the machine."""
import os
import re

import pytest

import vmbt_resolved
from conftest import wait_until
from test_dns_host import ALT_PORT, host_dnsmasq
from vmbt_hostfw import HOST_DNS_ANSWER


@pytest.fixture
def resolved_broker(topo):
    """A daemon and a systemd-resolved in one namespace, on resolved's bus."""
    try:
        base = vmbt_resolved.build()
    except vmbt_resolved.Unavailable as e:
        pytest.skip("no systemd-resolved to run here: %s" % e)
    d, u = topo.uplinked_pair()
    res = vmbt_resolved.Resolved(topo, d, base)
    b = topo.broker(d, env=dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=res.address))
    b.upstream = u
    return b, res


def test_host_resolves_guest_names_through_systemd_resolved(resolved_broker, topo):
    broker, res = resolved_broker
    g = topo.guest("g")
    r = broker.acquire_netns(g, label="web")
    bridge, gw = r["network"]["bridge"], r["network"]["subnet"]
    a = g.dhcp(hostname="alpha")["ip"]

    # The bridge is a link with the network's dnsmasq as its DNS server and
    # the network's domain as a routing domain: asked there, and only that.
    def told():
        out = res.resolvectl("status", bridge, check=False).stdout
        return "~shared.vmnet" in out and gw in out and out
    out = wait_until(told, timeout=15, what="systemd-resolved to know " + bridge)
    assert "-DefaultRoute" in out, out
    assert re.search(r"-LLMNR", out) and re.search(r"-mDNS", out), out

    # What a program gets: glibc asks the stub, resolved asks dnsmasq.
    def found(name, want):
        p = res.getent(name)
        return p.returncode == 0 and p.stdout.split()[0] == want
    wait_until(lambda: found("alpha.shared.vmnet", a), timeout=15, what="getent alpha")
    assert found("web.shared.vmnet", a)
    out = res.resolvectl("query", "--cache=no", "alpha.shared.vmnet").stdout
    assert a in out and "link: " + bridge in out, out
    # Nothing more than DNS answers: an unknown name is unknown.
    assert res.getent("nosuch.shared.vmnet").returncode != 0


def test_restarted_resolved_is_told_again_and_only_its_own_namespace(resolved_broker, topo):
    broker, res = resolved_broker
    g = topo.guest("g")
    r = broker.acquire_netns(g)
    bridge = r["network"]["bridge"]
    wait_until(lambda: "~shared.vmnet" in res.resolvectl("status", bridge, check=False).stdout,
               timeout=15, what="systemd-resolved to know " + bridge)
    # A daemon in another namespace, on the same bus: its bridge may have the
    # same name and index, but it is not resolved's, and it is not told.
    other_ns = topo.netns("o")
    other = topo.broker(other_ns, env=dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=res.address))
    with open(os.path.join(other.config_dir, "other.json"), "w") as f:
        f.write('{"mode": "host"}')
    other.acquire_netns(topo.guest("h"), network="other")
    wait_until(lambda: "not in our network namespace" in other.log(), timeout=15,
               what="the other daemon to see resolved is not its own")
    assert "other.vmnet" not in res.resolvectl("domain").stdout

    # resolved goes and comes back knowing nothing (its saved state gone
    # with its /run): the daemon tells it again.
    res.restart()
    wait_until(lambda: "~shared.vmnet" in res.resolvectl("status", bridge, check=False).stdout,
               timeout=15, what="the new systemd-resolved to be told of " + bridge)


def test_host_resolves_guest_names_next_to_a_dns_server_of_the_host(topo):
    """A DNS server of the host on the wildcard address (#15; systemd-resolved
    then runs without its stub, asked through nss-resolve): the network's
    dnsmasq answers on port 10053, and systemd-resolved is told that port,
    since the host's own queries to the gateway's port 53 reach the host's
    server, which knows nothing of the guests (it answers HOST_DNS_ANSWER)."""
    try:
        base = vmbt_resolved.build()
    except vmbt_resolved.Unavailable as e:
        pytest.skip("no systemd-resolved to run here: %s" % e)
    d, u = topo.uplinked_pair()
    res = vmbt_resolved.Resolved(topo, d, base, stub=False)
    host_dnsmasq(topo, d)
    broker = topo.broker(d, env=dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=res.address))
    broker.upstream = u
    g = topo.guest("g")
    r = broker.acquire_netns(g, label="web")
    bridge, gw = r["network"]["bridge"], r["network"]["subnet"]
    assert "dnsmasq listens on port %d" % ALT_PORT in broker.log()
    a = g.dhcp(hostname="alpha")["ip"]

    def told():
        out = res.resolvectl("status", bridge, check=False).stdout
        return "~shared.vmnet" in out and "%s:%d" % (gw, ALT_PORT) in out and out
    wait_until(told, timeout=15, what="systemd-resolved to know %s's DNS port" % bridge)

    def query(name):
        return res.resolvectl("query", "--cache=no", name, check=False).stdout
    wait_until(lambda: a in query("alpha.shared.vmnet"), timeout=15,
               what="resolvectl query alpha.shared.vmnet")
    out = query("web.shared.vmnet")
    assert a in out and HOST_DNS_ANSWER not in out, out
