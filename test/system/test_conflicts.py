"""Conflicts, concurrency and the daemon's watch over what it made."""
import os
import signal
import threading

import vmnet_broker
from conftest import pid_alive, wait_until


def close_all(fds):
    for fd in fds:
        os.close(fd)


def test_second_port_with_the_same_ifname_in_one_namespace_conflicts(broker, topo):
    g = topo.guest("g")
    first = broker.acquire_netns(g)
    links = broker.link_names()
    p = broker.cli("acquire", "shared", "--netns", g.path, check=False)
    assert p.returncode != 0
    assert "VMNET_BROKER_CONFLICT" in p.stderr + p.stdout
    fd = os.open(g.path, os.O_RDONLY)
    try:
        reply = broker.request({"command": "acquire", "network_name": "shared",
                                "port": "netns"}, fds=[fd])
    finally:
        os.close(fd)
    assert reply.get("error") == vmnet_broker.Status.CONFLICT, reply
    assert broker.link_names() == links
    [lease] = broker.leases()
    assert lease["mac"] == first["network"]["port"]["mac"]
    assert g.dhcp()["ip"] == first["network"]["port"]["address"]


def test_second_port_with_another_ifname_in_one_namespace(broker, topo):
    g = topo.guest("g")
    r1 = broker.acquire_netns(g)
    r2 = broker.acquire_netns(g, ifname="eth1")
    assert r1["network"]["port"]["address"] != r2["network"]["port"]["address"]
    assert g.dhcp("eth0")["ip"] == r1["network"]["port"]["address"]
    assert g.dhcp("eth1")["ip"] == r2["network"]["port"]["address"]
    assert len(broker.leases()) == 2


def test_same_mac_conflicts_within_a_network_not_across(broker):
    mac = "52:54:00:ab:cd:ef"
    r1, fds1 = broker.acquire_tap("shared", mac=mac)
    try:
        reply = broker.request({"command": "acquire", "network_name": "shared", "mac": mac})
        assert reply.get("error") == vmnet_broker.Status.CONFLICT, reply
        r2, fds2 = broker.acquire_tap("host", mac=mac)
        close_all(fds2)
        assert r2["network"]["port"]["mac"] == mac
    finally:
        close_all(fds1)
    # Free again once the first lease is over.
    wait_until(lambda: broker.lease_by_mac(mac) is None, what="the lease to end")
    r3, fds3 = broker.acquire_tap("shared", mac=mac)
    close_all(fds3)
    assert r3["network"]["port"]["mac"] == mac


def test_concurrent_acquires_get_distinct_ports(broker):
    results, errors = [], []

    def worker():
        try:
            results.append(broker.request_fds({"command": "acquire", "network_name": "shared"}))
        except Exception as e:  # reported below
            errors.append(e)
    threads = [threading.Thread(target=worker) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    try:
        assert not errors, errors
        replies = [r for r, _ in results]
        assert all("error" not in r for r in replies), replies
        ports = [r["network"]["port"] for r in replies]
        for key in ("ifname", "mac", "address"):
            values = [p[key] for p in ports]
            assert len(set(values)) == len(values), (key, values)
        assert len({r["network"]["bridge"] for r in replies}) == 1
        assert len(broker.leases()) == 12
        assert len(broker.dnsmasq_pids()) == 1
    finally:
        for _, fds in results:
            close_all(fds)
    wait_until(lambda: broker.leases() == [], what="all leases to end")


def test_guest_deleting_its_interface_ends_the_lease(broker, topo):
    g = topo.guest("g")
    reply = broker.acquire_netns(g)
    mac = reply["network"]["port"]["mac"]
    veth = broker.lease_by_mac(mac)["ifname"]
    g.exec("ip", "link", "del", "dev", "eth0")
    wait_until(lambda: broker.lease_by_mac(mac) is None, what="the lease to end")
    assert broker.link(veth) is None


def test_dnsmasq_is_restarted_when_it_dies(broker, topo):
    g = topo.guest("g")
    reply = broker.acquire_netns(g)
    old = broker.network("shared")["dnsmasq_pid"]
    os.kill(old, signal.SIGKILL)
    wait_until(lambda: not pid_alive(old), what="dnsmasq to die")

    def restarted():
        pid = broker.network("shared")["dnsmasq_pid"]
        return pid if pid and pid != old and pid_alive(pid) else None
    new = wait_until(restarted, timeout=5, what="the daemon to start a new dnsmasq")
    assert broker.dnsmasq_pids() == [new]
    assert g.dhcp()["ip"] == reply["network"]["port"]["address"]
