"""Stopping or losing the daemon does not cut running guests off, and the
next daemon adopts what is still there (CONTRACT: "If the daemon is killed
or restarted, running guests keep their traffic flowing; the next daemon
adopts the networks and ports that are still there and ends leases whose
ports are gone")."""
import json
import os
import re
import signal
import subprocess
import time

import pytest

from conftest import CLI, ns_delete, run, wait_until


def two_guests(broker, topo):
    g1, g2 = topo.guest("g1"), topo.guest("g2")
    r1 = broker.acquire_netns(g1, label="g1")
    r2 = broker.acquire_netns(g2, label="g2")
    g1.dhcp()
    g2.dhcp()
    return g1, g2, r1, r2


def test_sigterm_exits_cleanly(broker):
    _, fds = broker.acquire_tap()
    for fd in fds:
        os.close(fd)
    assert broker.stop(signal.SIGTERM) == 0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_guests_keep_talking_without_the_daemon(broker, topo, sig):
    g1, g2, r1, r2 = two_guests(broker, topo)
    broker.stop(sig)
    assert g1.link("eth0") is not None, "the daemon took the guest's interface away"
    assert g1.ping(r2["network"]["port"]["address"]), "g1 lost g2 when the daemon stopped"
    assert g1.ping(r1["network"]["subnet"]), "g1 lost its gateway when the daemon stopped"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_restarted_daemon_adopts_networks_and_leases(broker, topo, sig):
    g1, g2, r1, r2 = two_guests(broker, topo)
    net = r1["network"]
    broker.stop(sig)
    broker.start()

    st = broker.network("shared")
    assert st is not None, "the new daemon did not adopt the shared network"
    assert st["bridge"] == net["bridge"]
    assert st["subnet"] == net["subnet"]
    macs = sorted(le["mac"] for le in st["leases"])
    assert macs == sorted([r1["network"]["port"]["mac"], r2["network"]["port"]["mac"]])
    assert g1.ping(r2["network"]["port"]["address"])

    # A new guest joins the same network and gets DHCP from it.
    g3 = topo.guest("g3")
    r3 = broker.acquire_netns(g3)
    assert r3["network"]["bridge"] == net["bridge"]
    assert r3["network"]["port"]["address"] not in (r1["network"]["port"]["address"],
                                                     r2["network"]["port"]["address"])
    assert g3.dhcp()["ip"] == r3["network"]["port"]["address"]
    assert g3.ping(r1["network"]["port"]["address"])

    # Adopted leases still end when their port goes.
    ns_delete(g1.ns)
    wait_until(lambda: broker.lease_by_mac(r1["network"]["port"]["mac"]) is None,
               what="the adopted lease to end")
    assert len(broker.dnsmasq_pids()) == 1


def test_restart_ends_leases_whose_ports_are_gone(broker, topo):
    g1, g2, r1, r2 = two_guests(broker, topo)
    veth = broker.lease_by_mac(r1["network"]["port"]["mac"])["ifname"]
    broker.stop(signal.SIGKILL)
    ns_delete(g1.ns)
    wait_until(lambda: broker.link(veth) is None, what="%s to go with its namespace" % veth)
    broker.start()
    wait_until(lambda: broker.lease_by_mac(r1["network"]["port"]["mac"]) is None,
               what="the lease of the vanished guest to end")
    assert broker.lease_by_mac(r2["network"]["port"]["mac"]) is not None


def test_adopted_lease_keeps_owner_and_label(broker, topo):
    g1 = topo.guest("g1")
    r1 = broker.acquire_netns(g1, label="vm-one")
    before = broker.lease_by_mac(r1["network"]["port"]["mac"])
    broker.stop(signal.SIGKILL)
    broker.start()
    after = broker.lease_by_mac(r1["network"]["port"]["mac"])
    assert after is not None
    for key in ("uid", "pid", "label", "kind", "ifname", "address"):
        assert after[key] == before[key], key
    # The guest renews with the new dnsmasq and keeps its address.
    assert g1.dhcp()["ip"] == r1["network"]["port"]["address"]


def test_no_gap_in_traffic_across_a_kill_and_restart(broker, topo):
    """A ping flood between two guests over SIGKILL + restart loses nothing."""
    g1, g2, r1, r2 = two_guests(broker, topo)
    flood = topo.spawn(["ip", "netns", "exec", g1.ns, "ping", "-q", "-i", "0.005", "-c", "600",
                        "-W", "1", r2["network"]["port"]["address"]],
                       stdout=subprocess.PIPE, text=True)
    time.sleep(0.5)
    broker.stop(signal.SIGKILL)
    broker.start()
    out, _ = flood.communicate(timeout=30)
    m = re.search(r"(\d+) packets transmitted, (\d+) received", out)
    assert m, out
    sent, got = int(m.group(1)), int(m.group(2))
    assert sent == 600 and got == sent, out


def test_sigterm_keeps_a_named_tap(broker, topo):
    hold = topo.spawn([CLI, "--socket", broker.socket, "acquire", "shared", "--port", "named_tap",
                       "--json", "--hold"], stdout=subprocess.PIPE, text=True)
    text = ""
    while True:  # the CLI pretty-prints: read up to the closing brace
        line = hold.stdout.readline()
        assert line, "acquire --hold printed no reply"
        text += line
        if line.startswith("}"):
            break
    reply = json.loads(text)
    tap = reply["network"]["port"]["ifname"]
    broker.stop(signal.SIGTERM)
    link = broker.link(tap)
    assert link is not None and link.get("master") == reply["network"]["bridge"]
    hold.terminate()
    hold.wait(5)
    broker.start()
    lease = broker.lease_by_mac(reply["network"]["port"]["mac"])
    assert lease is not None and lease["kind"] == "named_tap"
    # With no connection to end it, it ends when the TAP is deleted.
    broker.ip("link", "del", tap)
    wait_until(lambda: broker.lease_by_mac(reply["network"]["port"]["mac"]) is None,
               what="the adopted named_tap lease to end with its TAP")


def test_unused_networks_go_at_sigterm(broker, topo):
    _, fds = broker.acquire_tap("host")
    for fd in fds:
        os.close(fd)
    wait_until(lambda: broker.network("host")["leases"] == [], what="the tap lease to end")
    broker.stop(signal.SIGTERM)
    assert not [n for n in broker.link_names() if n.startswith("vmbr")]
    assert not broker.nft_table_exists()
    assert broker.dnsmasq_pids() == []


def test_orphans_without_a_record_are_removed(broker, topo):
    """Ports and bridges carrying the broker's alias that no record claims
    belong to no one: the next daemon removes them."""
    g1, g2, r1, r2 = two_guests(broker, topo)
    broker.stop(signal.SIGKILL)
    for f in os.listdir(broker.state_dir):
        if f.endswith(".state"):
            os.unlink(os.path.join(broker.state_dir, f))
    broker.start()
    assert not [n for n in broker.link_names() if n.startswith(("vmbr", "vmveth"))]
    assert not broker.nft_table_exists()
    assert broker.status()["networks"] == []


def test_remove_all_removes_networks_in_use(broker, topo):
    g1, g2, r1, r2 = two_guests(broker, topo)
    broker.stop(signal.SIGTERM)
    run(["ip", "netns", "exec", broker.ns, *broker.argv(), "--remove-all"])
    assert not [n for n in broker.link_names() if n.startswith(("vmbr", "vmveth"))]
    assert not broker.nft_table_exists()
    wait_until(lambda: broker.dnsmasq_pids() == [], what="dnsmasq to go")
    assert g1.link("eth0") is None
    assert not [f for f in os.listdir(broker.state_dir) if f.endswith(".state")]


def test_second_daemon_on_the_same_socket_refuses(broker, topo):
    g1 = topo.guest("g1")
    r1 = broker.acquire_netns(g1)
    p = run(["ip", "netns", "exec", broker.ns, *broker.argv()], check=False, timeout=10)
    assert p.returncode != 0
    assert "already serving" in p.stdout + p.stderr
    # The first daemon and its network are untouched.
    assert broker.alive()
    assert broker.lease_by_mac(r1["network"]["port"]["mac"]) is not None
    assert len(broker.dnsmasq_pids()) == 1
