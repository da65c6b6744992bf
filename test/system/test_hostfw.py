"""The broker's networks keep working next to the host's other firewalls (issue #15).

Each case is set up in the test's own namespaces with the real tools:
nft (a flush, a restart of nftables.service, one rule removed, a loop that
keeps removing the table), iptables-nft and iptables-legacy (a FORWARD
policy DROP; the exact layouts Docker 20.10 and ufw 0.36 make, from
fixtures/), a real dockerd and a real ufw per backend (which must make the
fixtures' layouts). Traffic is checked before and after each disturbance
(vmbt_hostfw.World). A legacy table, once made, stays for the namespace's
life: legacy cases have a world of their own.
"""
import os
import re
import subprocess
import threading
import time

import pytest

from conftest import run, wait_until
from vmbt_hostfw import (Dockerd, Ufw, World, filter_lines, fixture, ipt, nsrun, reset_iptables,
                         restore, save)

# What restarting Debian's nftables.service does: ExecStop=nft flush ruleset,
# ExecStart=nft -f /etc/nftables.conf, whose first line flushes again.
NFTABLES_CONF = """flush ruleset
table inet filter {
	chain input { type filter hook input priority filter; }
	chain forward { type filter hook forward priority filter; }
	chain output { type filter hook output priority filter; }
}
"""


@pytest.fixture(scope="module")
def nft_world(module_topo):
    """A world whose namespace never gets a legacy iptables table."""
    w = World(module_topo)
    w.check(what="before anything")
    return w


def restores_logged(w):
    return re.findall(r"Table inet vmnet_broker: (.*); restored (\d+) network\(s\) in ([\d.]+) ms, "
                      r"(\d+) ms after the change", w.broker.log())


def wait_table_back(w, timeout=1.0):
    """Seconds until table inet vmnet_broker exists again (it was just removed)."""
    t0 = time.monotonic()
    while not w.table_exists():
        assert time.monotonic() - t0 < timeout, "table not back after %.1f s\n%s" % (
            timeout, w.tail_log())
        time.sleep(0.01)
    return time.monotonic() - t0


# ----------------------------------------------------------------- nftables

def test_flush_ruleset_is_undone_within_a_second(nft_world):
    w = nft_world
    before = len(restores_logged(w))
    nsrun(w.d, "nft", "flush", "ruleset")
    took = wait_table_back(w)
    w.check(what="after nft flush ruleset")
    logged = restores_logged(w)
    assert len(logged) == before + 1, logged
    cause, nets, _, after = logged[-1]
    assert re.match(r"nft\[\d+\] deleted table inet vmnet_broker", cause), cause
    assert nets == "1" and int(after) < 1000, logged[-1]
    host = w.host()["nftables"]
    assert host["table"] and host["restores"] >= 1
    assert host["last_restore"]["cause"] == cause
    print("table back %.0f ms after the flush" % (took * 1000))


def test_nftables_restart_is_one_restore(nft_world):
    w = nft_world
    before = len(restores_logged(w))
    path = os.path.join(w.topo.tmp, "nftables.conf")
    with open(path, "w") as f:
        f.write(NFTABLES_CONF)
    # The stop's flush, then the start's flush and rules, as systemctl restart does.
    nsrun(w.d, "sh", "-c", "nft flush ruleset && nft -f " + path)
    wait_table_back(w)
    w.check(what="after a restart of nftables.service")
    time.sleep(0.6)  # nothing more comes of it
    # One restore, after both (the second flush found nothing of ours).
    logged = restores_logged(w)
    assert len(logged) == before + 1, logged
    assert re.match(r"nft\[\d+\] deleted table inet vmnet_broker", logged[-1][0]), logged[-1]
    # Its table is left alone.
    nsrun(w.d, "nft", "list", "table", "inet", "filter")
    nsrun(w.d, "nft", "delete", "table", "inet", "filter")


def test_one_rule_or_element_removed_is_put_back(nft_world):
    w = nft_world
    out = nsrun(w.d, "nft", "-a", "list", "chain", "inet", "vmnet_broker", "forward").stdout
    handle = re.search(r"iif \. oif @same_bridge accept # handle (\d+)", out).group(1)
    nsrun(w.d, "nft", "delete", "rule", "inet", "vmnet_broker", "forward", "handle", handle)
    wait_until(lambda: "@same_bridge accept" in nsrun(
        w.d, "nft", "list", "chain", "inet", "vmnet_broker", "forward").stdout, 1.0,
        what="the rule to come back")
    assert "deleted 1 rule(s) in chain forward" in restores_logged(w)[-1][0]
    nsrun(w.d, "nft", "delete", "element", "inet", "vmnet_broker", "nat_bridges",
          "{ %s }" % w.bridge)
    wait_until(lambda: w.bridge in nsrun(
        w.d, "nft", "list", "set", "inet", "vmnet_broker", "nat_bridges").stdout, 1.0,
        what="the element to come back")
    w.check(what="after a rule and an element were removed")


def test_own_changes_are_not_restores(nft_world):
    """The daemon's own batches (a network, a port forward) come back as events too."""
    w = nft_world
    before = w.host()["nftables"]["restores"]
    g = w.topo.guest("g3")
    w.broker.cli("acquire", "shared", "--port", "netns", "--netns", g.path, "--forward",
                 "tcp:2223:22")
    w.broker.acquire_netns(w.topo.guest("g4"), network="host")
    time.sleep(0.5)
    assert w.host()["nftables"]["restores"] == before


# ----------------------------------------------------------------- iptables-nft

def check_fixed(w, backend, families=(4, 6), jump="FORWARD", input_chain=False, what=""):
    w.check(timeout=5, what=what)
    for fam in families:
        text = save(w.d, backend, fam)
        assert "-A %s -j VMNET-BROKER" % jump in text, text
        assert "-A VMNET-BROKER -i %s -j ACCEPT" % w.bridge in text, text
        assert ("-A INPUT -j VMNET-BROKER-IN" in text) == input_chain, text


def test_forward_policy_drop_nft(nft_world):
    w = nft_world
    t0 = time.monotonic()
    for fam in (4, 6):
        ipt(w.d, "nft", fam, "-P", "FORWARD", "DROP")
    wait_until(lambda: "-A FORWARD -j VMNET-BROKER" in save(w.d, "nft", 6), 3.0,
               what="the accept rules")
    print("iptables-nft FORWARD fixed %.0f ms after the change" % ((time.monotonic() - t0) * 1000))
    check_fixed(w, "nft", what="iptables-nft FORWARD policy DROP")
    e = w.iptables_entry("nft", "ipv4")
    assert e["forward_policy"] == "drop" and e["jump_from"] == "FORWARD" and e["in_place"], e
    assert "table ip filter" in e["last_fix"]["cause"], e
    reset_iptables(w.d, "nft")
    w.check(what="policy back to ACCEPT")


def test_docker_layout_nft(nft_world):
    w = nft_world
    restore(w.d, "nft", 4, fixture("docker-20.10.rules"))
    check_fixed(w, "nft", families=(4,), jump="DOCKER-USER", what="Docker's layout")
    host = w.host()
    assert "docker" in host["detected"]
    assert w.iptables_entry("nft", "ipv4")["jump_from"] == "DOCKER-USER"
    # Docker's own rules and policy are untouched.
    assert filter_lines(save(w.d, "nft")) == filter_lines(fixture("docker-20.10.rules"))
    # What Docker does on restart (delete and insert its FORWARD rules) and a
    # whole reload of its layout, which takes our chain away: both come back.
    ipt(w.d, "nft", 4, "-D", "FORWARD", "-j", "DOCKER-USER")
    ipt(w.d, "nft", 4, "-I", "FORWARD", "1", "-j", "DOCKER-USER")
    restore(w.d, "nft", 4, fixture("docker-20.10.rules"))
    check_fixed(w, "nft", families=(4,), jump="DOCKER-USER", what="Docker's layout reloaded")
    reset_iptables(w.d, "nft")
    w.check(what="Docker's layout gone")


def test_ufw_layout_nft(nft_world):
    w = nft_world
    restore(w.d, "nft", 4, fixture("ufw-0.36.rules"))
    restore(w.d, "nft", 6, fixture("ufw-0.36.rules6"))
    check_fixed(w, "nft", input_chain=True, what="ufw's layout (INPUT and FORWARD drop)")
    assert "ufw" in w.host()["detected"]
    reset_iptables(w.d, "nft")
    w.check(what="ufw's layout gone")


# ----------------------------------------------------------------- iptables-legacy

@pytest.fixture(scope="module")
def legacy_world(module_topo):
    w = World(module_topo)
    w.check(what="before anything")
    return w


def test_forward_policy_drop_legacy(legacy_world):
    w = legacy_world
    t0 = time.monotonic()
    for fam in (4, 6):
        ipt(w.d, "legacy", fam, "-P", "FORWARD", "DROP")
    # No events: the 1 s poll of the legacy table's signature notices.
    wait_until(lambda: "-A FORWARD -j VMNET-BROKER" in save(w.d, "legacy"), 3.0,
               what="the legacy poll to notice")
    print("legacy FORWARD fixed %.0f ms after the change" % ((time.monotonic() - t0) * 1000))
    check_fixed(w, "legacy", what="iptables-legacy FORWARD policy DROP")
    reset_iptables(w.d, "legacy")
    w.check(what="policy back to ACCEPT")


def test_docker_layout_legacy(legacy_world):
    w = legacy_world
    restore(w.d, "legacy", 4, fixture("docker-20.10.rules"))
    check_fixed(w, "legacy", families=(4,), jump="DOCKER-USER", what="Docker's layout")
    assert filter_lines(save(w.d, "legacy")) == filter_lines(fixture("docker-20.10.rules"))
    restore(w.d, "legacy", 4, fixture("docker-20.10.rules"))
    check_fixed(w, "legacy", families=(4,), jump="DOCKER-USER", what="Docker's layout reloaded")
    reset_iptables(w.d, "legacy")
    w.check(what="Docker's layout gone")


def test_ufw_layout_legacy(legacy_world):
    w = legacy_world
    restore(w.d, "legacy", 4, fixture("ufw-0.36.rules"))
    restore(w.d, "legacy", 6, fixture("ufw-0.36.rules6"))
    check_fixed(w, "legacy", input_chain=True, what="ufw's layout")
    reset_iptables(w.d, "legacy")
    w.check(what="ufw's layout gone")


# ----------------------------------------------------------------- the real ones

@pytest.mark.parametrize("backend", ["nft", "legacy"])
def test_real_dockerd(topo, backend):
    w = World(topo)
    w.check(what="before dockerd")
    # As at boot: dockerd finds forwarding off, turns it on and sets FORWARD
    # to DROP (started after the broker turned it on, it leaves it ACCEPT).
    nsrun(w.d, "sysctl", "-qw", "net.ipv4.ip_forward=0")
    docker = Dockerd(topo, w.d, backend)
    docker.start()
    check_fixed(w, backend, families=(4,), jump="DOCKER-USER", what="dockerd started")
    # The fixture is what the real dockerd makes.
    assert filter_lines(save(w.d, backend)) == filter_lines(fixture("docker-20.10.rules"))
    docker.restart()
    check_fixed(w, backend, families=(4,), jump="DOCKER-USER", what="dockerd restarted")
    if backend == "nft":
        # Docker's tables go with the flush (its problem); ours comes back.
        nsrun(w.d, "nft", "flush", "ruleset")
        wait_table_back(w)
        w.check(what="nft flush ruleset next to Docker")
    docker.stop()


@pytest.mark.parametrize("backend", ["nft", "legacy"])
def test_real_ufw(topo, backend):
    w = World(topo)
    w.check(what="before ufw")
    ufw = Ufw(topo, w.d, backend)
    ufw("--force", "enable")
    check_fixed(w, backend, input_chain=True, what="ufw enabled")
    assert filter_lines(save(w.d, backend, 4)) == filter_lines(fixture("ufw-0.36.rules"))
    assert filter_lines(save(w.d, backend, 6)) == filter_lines(fixture("ufw-0.36.rules6"))
    ufw("reload")
    ufw("allow", "22/tcp")
    check_fixed(w, backend, input_chain=True, what="ufw reloaded, a rule added")
    ufw("disable")
    w.check(what="ufw disabled")


# ----------------------------------------------------------------- backoff, removal

def test_keeps_being_removed_backs_off(topo):
    w = World(topo)
    stop = threading.Event()

    def remove():
        while not stop.is_set():
            subprocess.run(["ip", "netns", "exec", w.d, "nft", "delete", "table", "inet",
                            "vmnet_broker"], capture_output=True)
            time.sleep(0.1)
    t = threading.Thread(target=remove)
    t.start()
    try:
        time.sleep(10)
    finally:
        stop.set()
        t.join()
    n = len(restores_logged(w))
    # Without a backoff: one every ~0.5 s (a burst's longest wait), 20 in 10 s;
    # with it, five, then 1, 2, 4 s later.
    assert 5 <= n <= 8, "%d restores in 10 s\n%s" % (n, w.tail_log())
    assert "keeps being changed" in w.broker.log()
    wait_until(w.table_exists, 10, what="the table after the backoff")
    w.check(what="after the loop stopped")


def test_rules_go_with_the_last_network_and_remove_all(topo):
    w = World(topo)
    restore(w.d, "nft", 4, fixture("docker-20.10.rules"))
    check_fixed(w, "nft", families=(4,), jump="DOCKER-USER", what="Docker's layout")
    # The daemon stops with the guests' leases: their rules stay.
    w.broker.stop()
    assert "-A DOCKER-USER -j VMNET-BROKER" in save(w.d, "nft")
    w.broker.start()
    # --remove-all takes the networks, and the rules, away.
    w.broker.stop()
    run(["ip", "netns", "exec", w.d, *w.broker.argv(), "--remove-all"], timeout=60)
    text = save(w.d, "nft")
    assert "VMNET-BROKER" not in text, text
    assert filter_lines(text) == filter_lines(fixture("docker-20.10.rules"))
    # Again, with the last network going idle.
    w.broker.start()
    g = topo.guest("g5")
    w.broker.acquire_netns(g, network="host")
    wait_until(lambda: "-A DOCKER-USER -j VMNET-BROKER" in save(w.d, "nft"), 3,
               what="the rules for the new network")
    run(["ip", "netns", "del", g.ns])
    wait_until(lambda: "VMNET-BROKER" not in save(w.d, "nft"), 10,
               what="the rules to go with the last network")
