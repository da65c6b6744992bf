"""Lifecycles: leases end when the kernel says so, idle networks go away."""
import fcntl
import ipaddress
import json
import os
import struct
import time

import pytest

from conftest import DEFAULT_POOL, UPLINK_UPSTREAM, ns_delete, pid_alive, run, subnet_of, wait_until

TUNGETIFF = 0x800454D2


def tap_ifname(fd):
    """Name of the TAP behind @fd, as the kernel sees it."""
    ifr = fcntl.ioctl(fd, TUNGETIFF, bytes(40))
    return ifr[:16].split(b"\0", 1)[0].decode()


def tap_flags(fd):
    ifr = fcntl.ioctl(fd, TUNGETIFF, bytes(40))
    return struct.unpack("H", ifr[16:18])[0]


def close_all(fds):
    for fd in fds:
        os.close(fd)


def no_leases(broker):
    return all(not n.get("leases") for n in broker.status()["networks"])


def test_netns_death_ends_the_lease(broker, topo):
    g = topo.guest("g")
    reply = broker.acquire_netns(g, label="dies")
    mac = reply["network"]["port"]["mac"]
    lease = wait_until(lambda: broker.lease_by_mac(mac), what="the lease in status")
    assert lease["kind"] == "netns"
    veth = lease["ifname"]
    assert veth.startswith("vmveth")
    link = broker.link(veth)
    assert link is not None and link["master"] == reply["network"]["bridge"]
    g.dhcp()

    ns_delete(g.ns)  # kills anything inside, then `ip netns del`
    wait_until(lambda: broker.link(veth) is None, what="%s to disappear" % veth)
    wait_until(lambda: broker.lease_by_mac(mac) is None, what="the lease to end")
    assert broker.alive()


def test_tap_lease_lives_while_the_fd_is_open(broker):
    reply, fds = broker.acquire_tap(label="tap-test")
    try:
        assert len(fds) == 1
        port = reply["network"]["port"]
        assert port["kind"] == "tap"
        assert port["ifname"].startswith("vmtap")
        assert tap_ifname(fds[0]) == port["ifname"]
        link = broker.link(port["ifname"])
        assert link is not None
        assert link["master"] == reply["network"]["bridge"]
        assert link["linkinfo"]["info_kind"] == "tun"
        lease = broker.lease_by_mac(port["mac"])
        assert lease is not None
        assert lease["kind"] == "tap"
        assert lease["ifname"] == port["ifname"]
        assert lease["uid"] == 0
        assert lease["pid"] == os.getpid()
        assert lease["label"] == "tap-test"
        assert lease["address"] == port["address"]
    finally:
        close_all(fds)
    wait_until(lambda: broker.link(port["ifname"]) is None, what="the TAP to disappear")
    wait_until(lambda: broker.lease_by_mac(port["mac"]) is None, what="the lease to end")


def test_tap_fd_shared_with_another_process_keeps_the_lease(broker, topo):
    """The VM holds the fd: the lease outlives the launcher's copy."""
    reply, fds = broker.acquire_tap()
    port = reply["network"]["port"]
    holder = topo.spawn(["sleep", "60"], pass_fds=fds)
    close_all(fds)
    time.sleep(0.3)
    assert broker.link(port["ifname"]) is not None
    assert broker.lease_by_mac(port["mac"]) is not None
    holder.kill()
    holder.wait()
    wait_until(lambda: broker.lease_by_mac(port["mac"]) is None, what="the lease to end")


def test_tap_vnet_hdr_and_multi_queue(broker):
    reply, fds = broker.acquire_tap(vnet_hdr=True, multi_queue=2)
    try:
        assert len(fds) == 2
        IFF_VNET_HDR, IFF_MULTI_QUEUE = 0x4000, 0x0100
        for fd in fds:
            assert tap_ifname(fd) == reply["network"]["port"]["ifname"]
            assert tap_flags(fd) & IFF_VNET_HDR
            assert tap_flags(fd) & IFF_MULTI_QUEUE
    finally:
        close_all(fds)


def test_interface_alias_names_network_uid_pid_label(broker):
    reply, fds = broker.acquire_tap(label="vm-one")
    try:
        link = broker.link(reply["network"]["port"]["ifname"])
        assert link.get("ifalias") == \
            'vmnet-broker net=shared uid=0 pid=%d label="vm-one"' % os.getpid()
    finally:
        close_all(fds)


@pytest.mark.broker(idle_timeout=2)
def test_idle_network_and_everything_it_made_is_removed(broker):
    reply, fds = broker.acquire_tap()
    bridge = reply["network"]["bridge"]
    net = broker.network("shared")
    dnsmasq = net["dnsmasq_pid"]
    assert net["state"] == "active"
    assert broker.dnsmasq_pids() == [dnsmasq]
    assert broker.nft_table_exists()
    assert bridge in broker.nft_text()

    close_all(fds)
    wait_until(lambda: no_leases(broker), what="the lease to end")
    released = time.monotonic()
    net = broker.network("shared")
    if net is not None:  # still within the idle window
        assert net["state"] == "idle"
        assert broker.link(bridge) is not None

    wait_until(lambda: broker.network("shared") is None, timeout=8,
               what="the idle network to be removed")
    assert time.monotonic() - released > 1.0, "removed before the idle timeout"
    wait_until(lambda: broker.link(bridge) is None, timeout=3, what="the bridge to go")
    wait_until(lambda: not broker.dnsmasq_pids(), timeout=3, what="dnsmasq to exit")
    assert not pid_alive(dnsmasq)
    # Nothing of the broker's left: no table at all once no network is left.
    assert not broker.nft_table_exists(), broker.nft_text()
    assert broker.link_names() == ["lo", "uplink0"]


@pytest.mark.broker(idle_timeout=2)
def test_removal_of_one_network_keeps_the_other(broker, topo):
    g1, g3 = topo.guest("g1"), topo.guest("g3")
    r1 = broker.acquire_netns(g1, network="shared")
    r3 = broker.acquire_netns(g3, network="host")
    g1.dhcp()
    ns_delete(g3.ns)
    wait_until(lambda: broker.network("host") is None, timeout=10,
               what="the host network to be removed")
    assert broker.link(r3["network"]["bridge"]) is None
    assert broker.link(r1["network"]["bridge"]) is not None
    assert r3["network"]["bridge"] not in broker.nft_text()
    assert r1["network"]["bridge"] in broker.nft_text()
    assert len(broker.dnsmasq_pids()) == 1
    assert g1.ping(r1["network"]["subnet"])


@pytest.mark.broker(idle_timeout=0)
def test_idle_timeout_zero_removes_at_once(broker):
    reply, fds = broker.acquire_tap()
    close_all(fds)
    wait_until(lambda: broker.network("shared") is None, timeout=3,
               what="the network to be removed")
    assert broker.link(reply["network"]["bridge"]) is None
    assert not broker.dnsmasq_pids()


@pytest.mark.broker(idle_timeout=3)
def test_acquire_in_idle_window_reuses_network_and_cancels_removal(broker):
    first, fds = broker.acquire_tap()
    dnsmasq = broker.network("shared")["dnsmasq_pid"]
    close_all(fds)
    wait_until(lambda: (broker.network("shared") or {}).get("state") == "idle",
               timeout=5, what="the network to become idle")
    idle_since = time.monotonic()

    second, fds = broker.acquire_tap()
    try:
        assert second["network"]["bridge"] == first["network"]["bridge"]
        assert second["network"]["subnet"] == first["network"]["subnet"]
        assert second["network"]["ipv6_prefix"] == first["network"]["ipv6_prefix"]
        assert broker.network("shared")["state"] == "active"
        # Past the moment the first removal was due, it is all still there.
        time.sleep(max(0, idle_since + 3 + 1 - time.monotonic()))
        net = broker.network("shared")
        assert net is not None and net["state"] == "active"
        assert net["dnsmasq_pid"] == dnsmasq
        assert broker.link(first["network"]["bridge"]) is not None
        assert broker.link(second["network"]["port"]["ifname"]) is not None
    finally:
        close_all(fds)


def test_unknown_network_is_not_found(broker):
    reply = broker.request({"command": "acquire", "network_name": "nosuchnet"})
    assert reply["error"] == 5, reply
    assert reply.get("message")
    p = broker.cli("acquire", "nosuchnet", check=False)
    assert p.returncode != 0
    assert "VMNET_BROKER_NOT_FOUND" in p.stdout + p.stderr
    assert broker.status()["networks"] == []


@pytest.mark.parametrize("how", ["address", "route"])
def test_pool_skips_a_subnet_already_in_use(broker, how):
    if how == "address":
        # 192.168.64.0/24 on an interface of the daemon's namespace (a veth
        # pair: this kernel may lack the dummy driver).
        broker.ip("link", "add", "used0", "type", "veth", "peer", "name", "used1")
        broker.ip("addr", "add", "192.168.64.254/24", "dev", "used0")
        broker.ip("link", "set", "used0", "up")
    else:
        broker.ip("route", "add", "192.168.64.0/24", "via", UPLINK_UPSTREAM)
    reply, fds = broker.acquire_tap()
    close_all(fds)
    assert reply["network"]["subnet"] == "192.168.65.1"
    assert reply["network"]["mask"] == "255.255.255.0"


def test_pool_gives_each_network_its_own_subnet(broker, topo):
    shared, fds1 = broker.acquire_tap("shared")
    host, fds2 = broker.acquire_tap("host")
    close_all(fds1 + fds2)
    pool = ipaddress.IPv4Network(DEFAULT_POOL)
    for r in (shared, host):
        net = subnet_of(r)
        assert net.prefixlen == 24
        assert net.subnet_of(pool)
        assert r["network"]["subnet"] == str(net.network_address + 1)
    assert subnet_of(shared) != subnet_of(host)


@pytest.mark.broker(subnet_pool="198.18.0.0/20")
def test_subnet_pool_option(broker):
    reply, fds = broker.acquire_tap()
    close_all(fds)
    assert subnet_of(reply).subnet_of(ipaddress.IPv4Network("198.18.0.0/20"))


def test_bridge_has_gateway_and_ula(broker):
    reply, fds = broker.acquire_tap()
    close_all(fds)
    net = reply["network"]
    addrs = broker.ip("-j", "addr", "show", "dev", net["bridge"]).stdout
    info = json.loads(addrs)[0]["addr_info"]
    v4 = [(a["local"], a["prefixlen"]) for a in info if a["family"] == "inet"]
    assert v4 == [(net["subnet"], 24)]
    prefix = ipaddress.IPv6Network("%s/%d" % (net["ipv6_prefix"], net["prefix_len"]))
    assert prefix.subnet_of(ipaddress.IPv6Network("fd00::/8"))
    v6 = [ipaddress.IPv6Address(a["local"]) for a in info
          if a["family"] == "inet6" and a.get("scope") == "global"]
    assert any(a in prefix for a in v6), info


def test_ip_forward_enabled_only_in_the_daemon_namespace(broker):
    with open("/proc/sys/net/ipv4/ip_forward") as f:
        ours = f.read()
    _, fds = broker.acquire_tap()
    close_all(fds)
    out = run(["ip", "netns", "exec", broker.ns, "sysctl", "-n", "net.ipv4.ip_forward"]).stdout
    assert out.strip() == "1"
    with open("/proc/sys/net/ipv4/ip_forward") as f:
        assert f.read() == ours


def table_contents(broker):
    """The broker's table as `nft -j` shows it, without handles: each set's
    elements (sorted) and each chain's rules (in order). What the table
    holds, not how it got there."""
    sets, chains = {}, {}
    for o in broker.nft_ruleset():
        for kind in ("set", "map"):
            if kind in o:
                body = {k: v for k, v in o[kind].items() if k not in ("handle", "elem")}
                elems = sorted(json.dumps(e, sort_keys=True) for e in o[kind].get("elem", []))
                sets[o[kind]["name"]] = (json.dumps(body, sort_keys=True), elems)
        if "chain" in o:
            c = o["chain"]
            chains.setdefault(c["name"], [])
            chains[c["name"]].insert(0, json.dumps({k: v for k, v in c.items() if k != "handle"},
                                                   sort_keys=True))
        if "rule" in o:
            r = o["rule"]
            chains.setdefault(r["chain"], []).append(json.dumps(r["expr"], sort_keys=True))
    return sets, chains


@pytest.mark.broker(idle_timeout=0)
def test_networks_added_to_the_table_equal_the_table_rewritten(broker, topo):
    """A new network only adds its chains and elements (nft_add_network());
    a removal rewrites the whole table (nft_apply()). Both must give the
    same table, for every kind of network."""
    with open(os.path.join(broker.config_dir, "routed.json"), "w") as f:
        json.dump({"mode": "shared", "subnet": "10.77.0.1", "mask": "255.255.255.0",
                   "nat44": False, "nat66": False, "external_interface": "uplink0"}, f)
    with open(os.path.join(broker.config_dir, "third.json"), "w") as f:
        json.dump({"mode": "shared", "subnet": "10.78.0.1", "mask": "255.255.255.0"}, f)
    g1, g3, g4 = topo.guest("g1"), topo.guest("g3"), topo.guest("g4")
    broker.acquire_netns(g1, network="shared")  # the first: the table written whole
    broker.acquire_netns(g3, network="host")    # then added, network by network
    broker.acquire_netns(g4, network="routed")
    added = table_contents(broker)
    assert set(added[1]) >= {"raw_" + b for b in ("vmbr0", "vmbr1", "vmbr2")}, added[1]
    assert "fwd_vmbr2" in added[1] and "post_vmbr0" in added[1], added[1]

    reply, fds = broker.acquire_tap(network="third")
    assert reply["network"]["bridge"] not in added[1]
    close_all(fds)
    wait_until(lambda: broker.network("third") is None, timeout=5,
               what="the third network to be removed")
    assert table_contents(broker) == added
