"""Least privilege: what the daemon keeps after setup, and what dnsmasq runs as."""
import os

from conftest import ns_delete, wait_until

CAP = {"CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_KILL": 5, "CAP_SETGID": 6, "CAP_SETUID": 7,
       "CAP_NET_BIND_SERVICE": 10, "CAP_NET_ADMIN": 12, "CAP_NET_RAW": 13, "CAP_SYS_ADMIN": 21}


def caps(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                mask = int(line.split()[1], 16)
                return {name for name, bit in CAP.items() if mask & (1 << bit)}, mask
    raise AssertionError("no %s for %d" % (field, pid))


def bits(*names):
    return sum(1 << CAP[n] for n in names)


def test_daemon_keeps_only_what_serving_needs(broker):
    _, eff = caps(broker.pid, "CapEff")
    _, prm = caps(broker.pid, "CapPrm")
    _, bnd = caps(broker.pid, "CapBnd")
    _, amb = caps(broker.pid, "CapAmb")
    assert eff == prm == bits("CAP_NET_ADMIN", "CAP_SYS_ADMIN", "CAP_KILL")
    assert bnd == bits("CAP_NET_ADMIN", "CAP_SYS_ADMIN", "CAP_KILL", "CAP_NET_RAW",
                       "CAP_NET_BIND_SERVICE", "CAP_SETUID", "CAP_SETGID")
    assert amb == 0


def test_dnsmasq_runs_unprivileged_and_the_daemon_can_still_work(broker, topo):
    g = topo.guest("g")
    r = broker.acquire_netns(g)
    assert g.dhcp()["ip"] == r["network"]["port"]["address"]
    (pid,) = broker.dnsmasq_pids()
    st = os.stat("/proc/%d" % pid)
    assert st.st_uid != 0, "dnsmasq still runs as root"
    # Reservations reach it (SIGHUP across users needs CAP_KILL) ...
    g2 = topo.guest("g2")
    r2 = broker.acquire_netns(g2)
    assert g2.dhcp()["ip"] == r2["network"]["port"]["address"]
    # ... and removal stops it.
    ns_delete(g.ns)
    ns_delete(g2.ns)
    wait_until(lambda: broker.dnsmasq_pids() == [], timeout=15,
                        what="dnsmasq to be stopped with the idle network")
