"""Networks that span hosts (issue 21): three "hosts" on one underlay, both
ways of filling the overlay (a static flood list, BGP EVPN through FRR).

One world per mode, shared by the module's tests (vmbt_span.py builds it):
three daemon namespaces, each with its own broker (and zebra and bgpd),
joined by an underlay bridge; on each, guests of network "lab". The tests
run in order: the host's firewalls next (a flush of the ruleset, the
overlay filter removed, FORWARD DROP with br_netfilter, ufw's layout),
then the last ones kill and restart a host, and let the network go.
"""
import ipaddress
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import PYTHON, RUN, TOPO_KEY, UPLINK_DAEMON, Topology, run, wait_until
import vmbt_hostfw
import vmbt_span
from test_guests import ask, lookup
from vmbt_span import NETWORK, SUBNET, World, ping_loss, slice_of

UPSTREAM_PORT = 8021

# Prints "ready", then each datagram that comes to argv[1] within 3 s.
UDP_ECHO_ONCE = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.settimeout(3)
print("ready", flush=True)
try:
    while True:
        print(s.recv(100).decode(), flush=True)
except socket.timeout:
    pass
"""

# Sends argv[3] to argv[1]:argv[2], three times.
UDP_SEND = r"""
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(3):
    s.sendto(sys.argv[3].encode(), (sys.argv[1], int(sys.argv[2])))
    time.sleep(0.1)
"""

# Answers each connection with its own tag: which host's upstream it reached.
TAG_LISTENER = r"""
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.listen(8)
print("ready", flush=True)
while True:
    c, _ = s.accept()
    c.sendall(sys.argv[2].encode() + b"\n")
    c.close()
"""


def address(g):
    return g.reply["network"]["port"]["address"]


@pytest.fixture(scope="module", params=["static", "evpn"])
def world(request):
    if request.param == "evpn" and not vmbt_span.frr_available():
        pytest.skip("FRR (bgpd, zebra, vtysh) is not installed")
    tmp = tempfile.mkdtemp(prefix=RUN)
    os.chmod(tmp, 0o755)
    topo = Topology(tmp)
    try:
        w = World(topo, request.param)
        # Two guests on host 3: a local pair for when host 3 fails.
        w.guests = [w.hosts[0].guest("g1"), w.hosts[1].guest("g1"), w.hosts[2].guest("g1"),
                    w.hosts[2].guest("g2")]
        for g in w.guests:
            g.lease = g.dhcp()
        w.wait_sessions()
        yield w
    finally:
        errors = topo.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
        if errors:
            pytest.fail("\n".join(errors), pytrace=False)


@pytest.fixture(autouse=True)
def _daemon_logs(request, world):
    # The daemons' logs go with a failure's report (conftest.py).
    request.node.stash[TOPO_KEY] = world.topo


def test_addresses_come_from_each_hosts_slice(world):
    for g in world.guests:
        got = ipaddress.IPv4Address(g.lease["ip"])
        assert g.lease["ip"] == address(g), "DHCP gave another address than the reply"
        assert got in ipaddress.IPv4Network(slice_of(g.host.i)), \
            "%s on host %d got %s, outside its slice" % (g, g.host.i, got)
        # The gateway, its DNS and router are the same address on every host.
        assert g.lease["router"] == SUBNET + ".1"
    assert len({address(g) for g in world.guests}) == len(world.guests)


def test_guests_reach_each_other_across_hosts(world):
    for a in world.guests:
        for b in world.guests:
            if a is not b:
                assert a.ping(address(b), timeout=10), "%s cannot reach %s" % (a, b)


def test_ipv6_across_hosts(world):
    # SLAAC from each host's own router advertisements, the same prefix everywhere.
    def global6(g):
        out = g.exec("ip", "-6", "-o", "addr", "show", "dev", "eth0", "scope", "global").stdout
        return out.split()[3].split("/")[0] if out.strip() else None

    addrs = {}
    for g in world.guests[:3]:
        addrs[g] = wait_until(lambda g=g: global6(g), 15, what="SLAAC address of %s" % g)
        assert addrs[g].startswith(vmbt_span.PREFIX6[:-1])
    a, b, c = world.guests[:3]
    assert a.ping(addrs[b], timeout=10)
    assert c.ping(addrs[a], timeout=10)


def test_gateway_answers_locally_once(world):
    # Every host has the gateway's address and MAC; only the guest's own answers.
    _gateway_replies_once(world)


def _gateway_replies_once(world):
    procs = [subprocess.Popen(["ip", "netns", "exec", g.ns, "busybox", "arping", "-c", "2",
                               "-w", "3", "-I", "eth0", SUBNET + ".1"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for g in world.guests[:3]]
    for p in procs:
        out, _ = p.communicate(timeout=20)
        replies = [line for line in out.splitlines() if line.startswith("Unicast reply")]
        assert len(replies) == 2, "one reply per request expected:\n" + out
        assert "[02:76:6d:00:00:64]" in replies[0].lower(), out


def test_upstream_through_own_host(world):
    procs = []
    for h in world.hosts:
        p = world.topo.spawn(["ip", "netns", "exec", h.upstream, PYTHON, "-B", "-c",
                              TAG_LISTENER, str(UPSTREAM_PORT), "host%d" % h.i],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        r, _, _ = select.select([p.stdout], [], [], 10)
        assert r and p.stdout.readline().strip() == b"ready"
        procs.append(p)
    for g in world.guests[:3]:
        got = g.tcp_peer("203.0.113.2", UPSTREAM_PORT, timeout=5)
        assert got == "host%d" % g.host.i, "%s went out through %s" % (g, got)


def test_status_shows_the_span(world):
    for h in world.hosts:
        def span():
            return (h.broker.network(NETWORK) or {}).get("span")

        s = span()
        assert s["vni"] == vmbt_span.VNI and s["control"] == world.control
        assert s["local"] == h.address and s["vxlan"] == "vmvx100"
        assert s["slice"] == slice_of(h.i)
        assert s["names_address"] == vmbt_span.names_address(h.i)
        assert s["names_pid"] in h.broker.dnsmasq_pids()
        others = sorted(o.address for o in world.hosts if o is not h)
        assert sorted(p["address"] for p in s["peers"]) == others
        if world.control == "static":
            assert all(p["state"] == "configured" for p in s["peers"])
            continue

        def all_up():
            s = span()
            return s["frr"]["state"] == "configured" and all(
                p["state"] == "established" and p["vtep"] for p in s["peers"])
        wait_until(all_up, 20, interval=0.5, what="status of %s to show its peers up" % h.ns)
    text = world.hosts[0].broker.cli("status").stdout
    assert "198.51.100.2" in text and "198.51.100.3" in text, text
    assert "names at %s" % vmbt_span.names_address(1) in text, text


def _vxlan_drops(host):
    """Packets the inet table's input chain dropped as VXLAN from elsewhere."""
    for o in host.broker.nft_ruleset():
        rule = o.get("rule")
        if rule and rule["chain"] == "input" and "VXLAN" in rule.get("comment", ""):
            return next(e["counter"]["packets"] for e in rule["expr"] if "counter" in e)
    raise AssertionError("no VXLAN rule in %s's table" % host.ns)


def test_vxlan_only_from_the_span_hosts(world):
    # A namespace on the underlay with an address the file does not list
    # and a VXLAN device of the same VNI: its frames must not reach guests.
    topo, ul = world.topo, world.underlay
    before = _vxlan_drops(world.hosts[0])
    rogue = topo.netns("rogue")
    run(["ip", "-n", rogue, "link", "add", "ul", "type", "veth", "peer", "name", "rogue",
         "netns", ul])
    run(["ip", "-n", ul, "link", "set", "rogue", "master", "ul0", "up"])
    run(["ip", "-n", rogue, "addr", "add", "198.51.100.9/24", "dev", "ul"])
    run(["ip", "-n", rogue, "link", "set", "ul", "up"])
    run(["ip", "-n", rogue, "link", "add", "vx", "type", "vxlan", "id", str(vmbt_span.VNI),
         "local", "198.51.100.9", "remote", world.hosts[0].address, "dstport", "4789",
         "dev", "ul"])
    run(["ip", "-n", rogue, "addr", "add", SUBNET + ".250/24", "dev", "vx"])
    run(["ip", "-n", rogue, "link", "set", "vx", "up"])
    p = run(["ip", "netns", "exec", rogue, "ping", "-c", "3", "-i", "0.2", "-W", "1",
             address(world.guests[0])], check=False)
    assert p.returncode != 0, "a host the file does not list reached a guest:\n" + p.stdout
    # Its frames did arrive, and the filter is what stopped them.
    assert _vxlan_drops(world.hosts[0]) > before


def test_new_guest_is_reachable_from_another_host(world):
    g = world.hosts[1].guest("g9")
    t0 = time.monotonic()
    g.dhcp()
    assert world.guests[0].ping(address(g), timeout=10)
    elapsed = time.monotonic() - t0
    assert elapsed < 10
    world.topo.namespaces.remove(g.ns)
    run(["ip", "netns", "del", g.ns])


def name_of(g):
    return "%s.%s.vmnet" % (g.label, NETWORK)


def test_names_across_hosts(world):
    # Every guest resolves every guest's name (its label here), on its own
    # host and on the others, through its own gateway's dnsmasq: that one
    # asks the other hosts' names servers (span-names.c).
    gw = SUBNET + ".1"
    for a in world.guests:
        for b in world.guests:
            wait_until(lambda a=a, b=b: lookup(a, gw, name_of(b)) == [address(b)], 10,
                       what="%s's name from %s" % (b.label, a.label))
    # And ping by name, through the C library's resolver with the gateway
    # as its server, as DHCP tells a guest (a resolv.conf of the guest's
    # own, bound over the host's in a mount namespace of its own).
    resolv = os.path.join(world.topo.tmp, "guest-resolv.conf")
    with open(resolv, "w") as f:
        f.write("nameserver %s\n" % gw)
    for a, b in ((world.guests[0], world.guests[3]), (world.guests[3], world.guests[1])):
        p = a.exec("unshare", "-m", "sh", "-c",
                   'mount --bind "$1" /etc/resolv.conf && exec ping -n -c 1 -W 5 "$2"',
                   "sh", resolv, name_of(b), check=False)
        assert p.returncode == 0 and address(b) in p.stdout, p.stdout + p.stderr


def test_a_name_nobody_has_is_refused_at_once(world):
    # Each host's names server refuses what it does not know; the asking
    # dnsmasq tries the next, and with all refused, so is the guest. No
    # loop between the hosts: the answer is there at once.
    h1g = world.guests[0]
    t0 = time.monotonic()
    got = ask(h1g.ns, SUBNET + ".1", "nobody.%s.vmnet" % NETWORK)
    assert time.monotonic() - t0 < 2.5
    assert got == {"rcode": 5, "addresses": []}, got


def test_a_silent_host_is_not_waited_for(world):
    # A host whose names server does not answer (here: its questions
    # dropped by a table of someone else's on host 3; in life, a host
    # that does not run the network now) is left out by the others within
    # seconds: a name no host has is refused at once again, names of the
    # hosts that answer still resolve; when it answers again it is asked
    # again.
    h1g, h2g, _, h3g2 = world.guests
    h3 = world.hosts[2]
    gw = SUBNET + ".1"
    run(["ip", "netns", "exec", h3.ns, "nft",
         "add table inet silent; add chain inet silent in { type filter hook input priority -10; };"
         " add rule inet silent in iifname vmns100 udp dport 53 drop"])
    try:
        def refused_at_once():
            t0 = time.monotonic()
            got = ask(h1g.ns, gw, "nobody.%s.vmnet" % NETWORK)
            return got == {"rcode": 5, "addresses": []} and time.monotonic() - t0 < 1.0
        wait_until(refused_at_once, 15, what="host 1 to stop waiting for host 3")
        assert lookup(h1g, gw, name_of(h2g)) == [address(h2g)]
    finally:
        run(["ip", "netns", "exec", h3.ns, "nft", "delete", "table", "inet", "silent"])
    wait_until(lambda: lookup(h1g, gw, name_of(h3g2)) == [address(h3g2)], 15,
               what="host 3's names again from host 1")


def test_a_host_resolves_the_other_hosts_guests(world):
    # The host asks its own dnsmasq (as systemd-resolved does, through the
    # bridge's link DNS), which asks the others.
    h1, h3g2 = world.hosts[0], world.guests[3]
    got = ask(h1.ns, SUBNET + ".1", name_of(h3g2))
    assert got == {"rcode": 0, "addresses": [address(h3g2)]}, got


def test_names_server_is_its_networks_only(world):
    # Host 3's names server answers host 1 (from host 1's names address,
    # over the overlay); from outside the network (host 1's upstream,
    # routed through host 1) it is not there.
    h1, h3g2 = world.hosts[0], world.guests[3]
    got = ask(h1.ns, vmbt_span.names_address(3), name_of(h3g2))
    assert got == {"rcode": 0, "addresses": [address(h3g2)]}, got
    run(["ip", "-n", h1.upstream, "route", "replace", SUBNET + ".0/24", "via", UPLINK_DAEMON])
    try:
        got = ask(h1.upstream, vmbt_span.names_address(1), name_of(h3g2))
    finally:
        run(["ip", "-n", h1.upstream, "route", "del", SUBNET + ".0/24"])
    assert got == {"timeout": True}, got
    # Another host's guest reaches no service of host 1 through the names
    # link (a UDP listener on every address of host 1; a datagram needs no
    # answer to do harm). Host 1's own guest reaches it, through its
    # gateway (the bridge answers ARP for any address of the host), as it
    # reaches any of the host's addresses; the host's own datagram shows
    # the listener works.
    listener = subprocess.Popen(
        ["ip", "netns", "exec", h1.ns, PYTHON, "-B", "-c", UDP_ECHO_ONCE, "5555"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert listener.stdout.readline().strip() == "ready"
        for g in (world.guests[1], world.guests[0]):
            g.exec(PYTHON, "-B", "-c", UDP_SEND, vmbt_span.names_address(1), "5555",
                   g.label)
        run(["ip", "netns", "exec", h1.ns, PYTHON, "-B", "-c", UDP_SEND, "127.0.0.1", "5555",
             "control"])
        got = listener.communicate(timeout=10)[0].split()
    finally:
        listener.kill()
    assert sorted(set(got)) == ["control", world.guests[0].label], got
    # Nor does it become anyone's way through the host: it forwards nothing.
    p = run(["ip", "netns", "exec", h1.ns, "sysctl", "-n", "net.ipv4.conf.vmns100.forwarding"])
    assert p.stdout.strip() == "0"


def dynamic_of(i):
    """Host i's dynamic range: the upper half of its slice (no gateway in it), a /27."""
    return "%s.%d/27" % (SUBNET, 64 * i + 32)


def _dhcp_drops(host):
    """Packets the overlay filter dropped as DHCP (either way, any address)."""
    for o in host.broker.nft_ruleset():
        rule = o.get("rule")
        if (rule and rule["family"] == "bridge" and rule["chain"] == "overlay_vmvx100"
                and "DHCP" in rule.get("comment", "")):
            return next(e["counter"]["packets"] for e in rule["expr"] if "counter" in e)
    raise AssertionError("no DHCP rule in %s's overlay filter" % host.ns)


def _guest_macs(host):
    """MAC -> its guest entry, under every lease of the network on @host."""
    return {x["mac"]: x for lease in host.broker.leases(NETWORK) for x in lease.get("guests", [])}


def test_guests_with_their_own_macs_get_their_hosts_dynamic_range(world):
    # DHCP for any MAC (issue 17) on a span: what libvirt or a plain QEMU
    # line gives a guest. Each host's dnsmasq serves only its own guests,
    # from the dynamic range inside its own slice.
    hosts = world.hosts[:2]
    before = [_dhcp_drops(h) for h in hosts]
    own = []
    for h in hosts:
        g = h.guest("own")
        g.mac = "52:54:00:21:00:%02x" % h.i
        g.exec("ip", "link", "set", "dev", "eth0", "address", g.mac)
        g.lease = g.dhcp()
        own.append(g)
    for g in own:
        got = ipaddress.IPv4Address(g.lease["ip"])
        assert got in ipaddress.IPv4Network(dynamic_of(g.host.i)), \
            "%s on host %d got %s, outside its dynamic range %s" % (g, g.host.i, got,
                                                                    dynamic_of(g.host.i))
        assert g.lease["ip"] != address(g)
    a, b = own
    assert a.ping(b.lease["ip"], timeout=10) and b.ping(a.lease["ip"], timeout=10)
    # Their DISCOVERs were flooded towards the overlay too; the filter kept them home.
    for h, n in zip(hosts, before):
        assert _dhcp_drops(h) > n, "no DHCP stopped at %s's overlay port" % h.ns
    # Each host shows its own guest under its port, and never another host's,
    # whose MAC its bridge learned on the VXLAN device.
    for g in own:
        wait_until(lambda g=g: (_guest_macs(g.host).get(g.mac) or {}).get("ipv4") == [g.lease["ip"]],
                   10, what="%s's guest in status on its host" % g)
        for h in world.hosts:
            if h is not g.host:
                assert g.mac not in _guest_macs(h), "%s shows %s's guest" % (h.ns, g.host.ns)
    # Across a restart of its broker, host 1 hands out neither address again.
    h1 = hosts[0]
    h1.broker.stop(signal.SIGKILL)
    h1.broker.start()
    c = h1.guest("own2")
    c.exec("ip", "link", "set", "dev", "eth0", "address", "52:54:00:21:00:11")
    got = c.dhcp()["ip"]
    assert ipaddress.IPv4Address(got) in ipaddress.IPv4Network(dynamic_of(1))
    assert got not in (a.lease["ip"], address(a), address(world.guests[0]))
    assert a.dhcp()["ip"] == a.lease["ip"], "host 1's guest lost its address across the restart"
    # Guest a moves to host 2 (a migrated VM): host 1's bridge learns its
    # MAC on the VXLAN device, and host 1 no longer shows it on its bridge.
    # Silent, its port up (a port going down flushes what its bridge learned there).
    a.exec("sysctl", "-q", "-w", "net.ipv6.conf.eth0.disable_ipv6=1")
    a.exec("ip", "addr", "flush", "dev", "eth0")
    m = hosts[1].guest("moved")
    m.exec("ip", "link", "set", "dev", "eth0", "address", a.mac)
    m.exec("ip", "addr", "add", a.lease["ip"] + "/24", "dev", "eth0")
    m.exec("ip", "link", "set", "dev", "eth0", "up")
    assert m.ping(b.lease["ip"], timeout=10)
    wait_until(lambda: (_guest_macs(h1).get(a.mac) or {}).get("on_bridge") is not True, 10,
               what="host 1 to see %s gone to host 2" % a.mac)
    for g in own + [c, m]:
        world.topo.namespaces.remove(g.ns)
        run(["ip", "netns", "del", g.ns])


# ----------------------------------------------------------------- the host's firewalls

def _tables_whole(host):
    """Both tables of the broker's are there with the span's rules (nft.c)."""
    text = host.broker.nft_text()
    return ("table bridge vmnet_broker" in text and "chain overlay_vmvx100" in text
            and "VXLAN needs no conntrack" in text and "VXLAN only from a span's hosts" in text)


def _reach_across(world):
    a, b, c = world.guests[:3]
    for x, y in ((a, b), (b, c), (c, a)):
        assert x.ping(address(y), timeout=10), "%s cannot reach %s" % (x, y)


def test_flush_ruleset_everywhere_brings_the_overlay_back(world):
    # What restarting nftables.service does, on every host at once: with
    # no filter left anywhere, every host would answer for the gateway.
    for h in world.hosts:
        run(["ip", "netns", "exec", h.ns, "nft", "flush", "ruleset"])
    for h in world.hosts:
        wait_until(lambda h=h: _tables_whole(h), 2, interval=0.05,
                   what="both tables back on %s" % h.ns)
        assert ("deleted table inet vmnet_broker and table bridge vmnet_broker"
                in h.broker.log()), h.broker.log()[-2000:]
    _gateway_replies_once(world)
    _reach_across(world)


def test_overlay_filter_alone_removed_is_put_back(world):
    h = world.hosts[0]
    run(["ip", "netns", "exec", h.ns, "nft", "delete", "table", "bridge", "vmnet_broker"])
    wait_until(lambda: _tables_whole(h), 2, interval=0.05, what="table bridge back")
    assert "deleted table bridge vmnet_broker; restored" in h.broker.log()
    _gateway_replies_once(world)


def _iptables(host, *args, family=4):
    return run(["ip", "netns", "exec", host.ns, "iptables-nft" if family == 4 else
                "ip6tables-nft", "-w", *args])


def _reset_iptables(world):
    """iptables-nft's tables empty again, policies ACCEPT (vmbt_hostfw's)."""
    for h in world.hosts:
        vmbt_hostfw.reset_iptables(h.ns, "nft")


def _chain_packets(host, chain):
    out = _iptables(host, "-L", chain, "-v", "-n", "-x").stdout
    return sum(int(line.split()[0]) for line in out.splitlines()[2:] if line.strip())


def test_forward_drop_with_br_netfilter(world):
    # Docker's and ufw's FORWARD policy, with bridged frames passing
    # iptables (br_netfilter, on by default in every namespace once loaded):
    # frames from and to the VXLAN port are bridged through the same hook.
    if not os.path.exists("/proc/sys/net/bridge/bridge-nf-call-iptables"):
        pytest.skip("br_netfilter is not loaded")
    try:
        for h in world.hosts:
            run(["ip", "netns", "exec", h.ns, "sysctl", "-qw",
                 "net.bridge.bridge-nf-call-iptables=1", "net.bridge.bridge-nf-call-ip6tables=1"])
            for fam in (4, 6):
                _iptables(h, "-P", "FORWARD", "DROP", family=fam)
        for h in world.hosts:
            wait_until(lambda h=h: "-A FORWARD -j VMNET-BROKER" in _iptables(h, "-S").stdout,
                       3, what="the broker's FORWARD rules on %s" % h.ns)
        before = _chain_packets(world.hosts[0], "VMNET-BROKER")
        _reach_across(world)
        # TCP from host 1's guest to host 2's, through both FORWARD hooks.
        a, b = world.guests[0], world.guests[1]
        listener = world.topo.tcp_listener(b.ns, address(b), 8093)
        try:
            assert a.tcp_peer(address(b), 8093, timeout=5) == address(a)
        finally:
            # A process left in the guest's namespace would keep its port up.
            listener.kill()
            listener.wait()
        # The frames did pass iptables' FORWARD, and were let through there.
        assert _chain_packets(world.hosts[0], "VMNET-BROKER") > before
    finally:
        _reset_iptables(world)


def test_ufw_layout_lets_the_other_hosts_in(world):
    # ufw's INPUT drops what no rule allows, untracked VXLAN too, and a
    # new BGP session: the broker's INPUT chain lets the span's hosts in.
    try:
        for h in world.hosts:
            vmbt_hostfw.restore(h.ns, "nft", 4, vmbt_hostfw.fixture("ufw-0.36.rules"))
            vmbt_hostfw.restore(h.ns, "nft", 6, vmbt_hostfw.fixture("ufw-0.36.rules6"))
        for h in world.hosts:
            others = [o.address for o in world.hosts if o is not h]

            def opened(h=h, others=others):
                rules = _iptables(h, "-S").stdout
                return all("-A VMNET-BROKER-IN -s %s/32 -p udp -m udp --dport 4789 -j ACCEPT"
                           % o in rules for o in others) and "-A INPUT -j VMNET-BROKER-IN" in rules
            wait_until(opened, 3, what="the span's hosts let in on %s" % h.ns)
            rules = _iptables(h, "-S").stdout
            assert all(("-s %s/32 -p tcp -m tcp --dport 179 -j ACCEPT" % o in rules)
                       == (world.control == "evpn") for o in others), rules
            # The other hosts' questions for names come in at the names link.
            assert "-A VMNET-BROKER-IN -i vmns100 -p udp -m udp --dport 53 -j ACCEPT" in rules
        _reach_across(world)
        h1g, h3g2 = world.guests[0], world.guests[3]
        assert lookup(h1g, SUBNET + ".1", name_of(h3g2)) == [address(h3g2)]
        if world.control == "evpn":
            # A session made anew: BGP from the others gets in too.
            h2 = world.hosts[1]
            h2.frr.kill(signal.SIGTERM)
            h2.frr.start()
            world.wait_sessions()
            _reach_across(world)
    finally:
        _reset_iptables(world)


def _pings(pairs, count, interval=0.05):
    """Start @count pings for each (from, to) pair; return the processes."""
    procs = []
    for a, b in pairs:
        procs.append(subprocess.Popen(
            ["ip", "netns", "exec", a.ns, "ping", "-n", "-q", "-c", str(count), "-i",
             str(interval), "-W", "1", address(b)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    return procs


def _lost(p):
    out, _ = p.communicate(timeout=120)
    for line in out.splitlines():
        if "packets transmitted" in line:
            sent, got = (int(x.split()[0]) for x in line.split(",")[:2])
            return sent - got
    raise AssertionError("no ping summary: " + out)


def test_host_failure_spares_the_others_and_heals(world):
    h1g, h2g, h3g, h3g2 = world.guests
    h3 = world.hosts[2]
    # 9 s of pings: the other two hosts, and the failed host's own pair.
    others, local = _pings([(h1g, h2g), (h3g, h3g2)], 180)
    time.sleep(1)
    h3.broker.stop(signal.SIGKILL)
    if h3.frr:
        h3.frr.kill(signal.SIGKILL)
    time.sleep(2)
    if world.control == "static":
        # Nothing on the data path was the broker's.
        assert ping_loss(h1g, address(h3g), 10) == 0
        # Host 3's names server outlives its broker, as its dnsmasq does.
        assert lookup(h1g, SUBNET + ".1", name_of(h3g2)) == [address(h3g2)]
    # (EVPN: with host 3's bgpd gone, the others withdraw its routes.)
    if h3.frr:
        h3.frr.start()
    h3.broker.start()
    t0 = time.monotonic()
    assert h1g.ping(address(h3g), timeout=30), "host 3 never came back to host 1"
    assert h3g.ping(address(h2g), timeout=10)
    healed = time.monotonic() - t0
    assert _lost(others) == 0, "the other hosts lost packets while host 3 was down"
    assert _lost(local) == 0, "host 3's own guests lost each other"
    print("host 3 reached again %.1f s after its broker (and FRR) restarted" % healed)
    assert healed < 20
    # The restarted broker adopted its network and its leases.
    st = h3.broker.network(NETWORK)
    assert st and len(st["leases"]) == 2 and st["span"]["vxlan"] == "vmvx100"
    world.wait_sessions()
    # Its names server was replaced, as its dnsmasq was: one of each, both answering.
    assert len(h3.broker.dnsmasq_pids()) == 2
    for a, b in ((h1g, h3g2), (h3g, h2g)):
        wait_until(lambda a=a, b=b: lookup(a, SUBNET + ".1", name_of(b)) == [address(b)], 10,
                   what="%s's name from %s after the restart" % (b.label, a.label))


def test_frr_restart_gets_the_brokers_part_again(world):
    if world.control != "evpn":
        pytest.skip("FRR only in EVPN mode")
    h2 = world.hosts[1]
    h2.frr.kill(signal.SIGTERM)
    h2.frr.start()
    # bgpd came back with its file's configuration alone; the broker adds its part.
    wait_until(lambda: "neighbor vmnet-broker peer-group" in h2.frr.running_config(), 15,
               what="the broker's part back in bgpd")
    world.wait_sessions()
    assert world.guests[1].ping(address(world.guests[0]), timeout=20)


def test_remove_all_takes_the_brokers_part_of_frr_too(world):
    h1 = world.hosts[0]
    h1.broker.stop()
    run(["ip", "netns", "exec", h1.ns, *h1.broker.argv(), "--remove-all"], timeout=60)
    assert h1.broker.link("vmvx100") is None
    assert h1.broker.link("vmns100") is None and h1.broker.link("vmns100p") is None
    assert h1.broker.dnsmasq_pids() == []
    assert "table bridge vmnet_broker" not in h1.broker.nft_text()
    if h1.frr:
        cfg = h1.frr.running_config()
        assert "vmnet-broker" not in cfg and "vni 100" not in cfg, cfg
    h1.broker.start()
    assert h1.broker.network(NETWORK) is None


def test_the_network_goes_with_its_last_lease(world):
    for g in world.guests:
        world.topo.namespaces.remove(g.ns)
        run(["ip", "netns", "del", g.ns])
    for h in world.hosts:
        wait_until(lambda h=h: h.broker.network(NETWORK) is None, 20,
                   what="network lab to go on %s" % h.ns)
        assert h.broker.link("vmvx100") is None
        assert h.broker.link("vmns100") is None and h.broker.dnsmasq_pids() == []
        assert "table bridge vmnet_broker" not in h.broker.nft_text()
        if h.frr:
            wait_until(lambda h=h: "vmnet-broker" not in h.frr.running_config(), 15,
                       what="the broker's part to leave bgpd on %s" % h.ns)
            cfg = h.frr.running_config()
            assert "advertise-all-vni" not in cfg and "vni 100" not in cfg, cfg
