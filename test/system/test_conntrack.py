"""Guest to guest on one network skips conntrack; what leaves it does not.

With br_netfilter loaded (Docker loads it) bridged frames pass the IP hooks,
and conntrack would track every connection between two guests. The
broker's raw chain untracks them (docs/performance.md, 4); traffic to the
host and everything NATed or routed must stay tracked.

The tests read the daemon namespace's conntrack table from
/proc/net/nf_conntrack, and count what the IP forward hook sees with a
probe table of their own in that namespace (the daemon owns only
`inet vmnet_broker`).
"""
import ipaddress
import os

import pytest

from conftest import UPLINK_DAEMON, UPLINK_UPSTREAM, run, subnet_of, wait_until
from test_ipv6 import gateway6, no_dad, prefix_of, slaac

PORT = 8089
PROBE = """table inet vmbt_probe {
  chain forward {
    type filter hook forward priority filter - 10; policy accept;
    iifname "%(br)s" oifname "%(br)s" meta nfproto %(fam)s ct state untracked counter
    iifname "%(br)s" oifname "%(br)s" meta nfproto %(fam)s counter
  }
}
"""


def br_netfilter_on(broker, family):
    """Let bridged frames reach the IP hooks in the daemon's namespace, or skip."""
    key = "bridge-nf-call-iptables" if family == "ipv4" else "bridge-nf-call-ip6tables"
    if not os.path.exists("/proc/sys/net/bridge/" + key):
        pytest.skip("br_netfilter is not loaded: bridged frames never reach conntrack")
    # The test's own namespace: the machine's setting is not touched.
    run(["ip", "netns", "exec", broker.ns, "sysctl", "-qw", "net.bridge.%s=1" % key])


def conntrack(broker):
    """Entries of the daemon namespace's conntrack table, one line each."""
    p = run(["ip", "netns", "exec", broker.ns, "cat", "/proc/net/nf_conntrack"], check=False)
    if p.returncode != 0:
        pytest.skip("no /proc/net/nf_conntrack (CONFIG_NF_CONNTRACK_PROCFS)")
    return p.stdout.splitlines()


def tracked(broker, dst, port):
    """Entries of connections to @dst, @port (the original direction's)."""
    out = []
    for e in conntrack(broker):
        kv = {}
        for w in e.split():  # the first of each key: the original direction
            k, _, v = w.partition("=")
            if v:
                kv.setdefault(k, v)
        if (kv.get("dst") and ipaddress.ip_address(kv["dst"]) == ipaddress.ip_address(dst)
                and kv.get("dport") == str(port)):
            out.append(e)
    return out


def probe(broker, bridge, family):
    """Packets bridge to same bridge at the IP forward hook: (untracked, all)."""
    run(["ip", "netns", "exec", broker.ns, "nft", "-f", "-"],
        input="add table inet vmbt_probe\ndelete table inet vmbt_probe\n"
              + PROBE % {"br": bridge, "fam": family})

    def counts():
        p = run(["ip", "netns", "exec", broker.ns, "nft", "list", "table", "inet", "vmbt_probe"])
        return [int(line.split("packets ")[1].split()[0])
                for line in p.stdout.splitlines() if "counter packets" in line]
    return counts


def test_guest_to_guest_is_not_tracked_but_nat_is(broker, topo):
    g1, g2 = topo.guest("g1"), topo.guest("g2")
    r1 = broker.acquire_netns(g1)
    broker.acquire_netns(g2)
    br_netfilter_on(broker, "ipv4")
    bridge, gw = r1["network"]["bridge"], r1["network"]["subnet"]  # "subnet": the gateway
    text = broker.nft_text()
    assert "chain raw" in text and "notrack" in text, text
    a1, a2 = g1.dhcp()["ip"], g2.dhcp()["ip"]
    counts = probe(broker, bridge, "ipv4")

    topo.tcp_listener(g2.ns, a2, PORT)
    assert g1.tcp_peer(a2, PORT) == a1
    untracked, seen = counts()
    # br_netfilter passed the connection through the IP hooks, untracked.
    assert seen >= 3 and untracked == seen, (untracked, seen)
    assert tracked(broker, a2, PORT) == [], conntrack(broker)

    # To the host: tracked, as the host's own firewall may expect.
    topo.tcp_listener(broker.ns, gw, PORT)
    assert g1.tcp_peer(gw, PORT) == a1
    assert tracked(broker, gw, PORT), conntrack(broker)

    # Out to the world: tracked and masqueraded.
    # A route back, so only the masquerade can make upstream see the uplink address.
    run(["ip", "-n", broker.upstream, "route", "add", str(subnet_of(r1)), "via", UPLINK_DAEMON])
    topo.tcp_listener(broker.upstream, UPLINK_UPSTREAM, PORT)
    assert g1.tcp_peer(UPLINK_UPSTREAM, PORT) == UPLINK_DAEMON
    assert tracked(broker, UPLINK_UPSTREAM, PORT), conntrack(broker)


def test_guest_to_guest_over_ipv6_is_not_tracked(broker, topo):
    g1, g2 = topo.guest("g1"), topo.guest("g2")
    no_dad(g1)
    no_dad(g2)
    r1 = broker.acquire_netns(g1)
    broker.acquire_netns(g2)
    br_netfilter_on(broker, "ipv6")
    prefix = prefix_of(r1)
    a1, a2 = slaac(g1, prefix), slaac(g2, prefix)
    counts = probe(broker, r1["network"]["bridge"], "ipv6")

    topo.tcp_listener(g2.ns, a2, PORT)
    assert g1.tcp_peer(a2, PORT) == a1
    untracked, seen = counts()
    assert seen >= 3 and untracked == seen, (untracked, seen)
    assert tracked(broker, a2, PORT) == [], conntrack(broker)

    gw = gateway6(broker, r1)
    topo.tcp_listener(broker.ns, gw, PORT)
    assert g1.tcp_peer(gw, PORT) == a1
    wait_until(lambda: tracked(broker, gw, PORT), timeout=2, what="the connection to the host in conntrack")
