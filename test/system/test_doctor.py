"""vmnet-broker doctor, and the host's firewall in status (issue #15).

doctor looks at the daemon's socket itself, and reads the rest from the
daemon's status ("host"): one line per finding, ok/info/warn/fail, what to
do after "--", exit 1 on any fail.
"""
import os
import re
import socket

from conftest import CLI, NOBODY_UID, as_user, run, wait_until
from vmbt_hostfw import fixture, nsrun, restore


def doctor(sock, user=None):
    p = run(([] if user is None else as_user(user)) + [CLI, "--socket", sock, "doctor"],
            check=False)
    assert p.returncode in (0, 1), p
    for line in p.stdout.splitlines():
        assert re.match(r"(ok   |info |warn |fail ) \S", line), line
    return p.returncode, p.stdout


def test_doctor_without_a_daemon(topo):
    rc, out = doctor(os.path.join(topo.tmp, "nothing.sock"))
    assert rc == 1
    assert re.search(r"^fail  no socket at \S+ -- start the daemon: systemctl enable --now "
                     r"vmnet-brokerd.socket", out, re.M), out
    # A socket left by a daemon that is gone.
    stale = os.path.join(topo.tmp, "stale.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.bind(stale)
    s.close()
    rc, out = doctor(stale)
    assert rc == 1 and re.search(r"^fail  nothing listens on \S+ .* -- systemctl restart", out,
                                 re.M), out


def test_doctor_not_allowed(broker):
    os.chmod(broker.socket, 0o600)
    rc, out = doctor(broker.socket, user=NOBODY_UID)
    assert rc == 1
    assert re.search(r"^fail  not allowed to connect to \S+ -- be root or a member of group",
                     out, re.M), out


def test_doctor_reads_the_host(broker, topo):
    g = topo.guest("g")
    broker.acquire_netns(g)
    rc, out = doctor(broker.socket)
    assert rc == 0, out
    assert re.search(r"^ok    the daemon answers on ", out, re.M), out
    assert re.search(r"^ok    table inet vmnet_broker is in place$", out, re.M), out
    assert re.search(r"^ok    IPv4 forwarding is on$", out, re.M), out

    # ufw's layout (iptables-nft), a table of the admin's that drops, a flush.
    d = broker.ns
    restore(d, "nft", 4, fixture("ufw-0.36.rules"))
    restore(d, "nft", 6, fixture("ufw-0.36.rules6"))
    nsrun(d, "nft", "add table inet mine; add chain inet mine forward "
          "{ type filter hook forward priority 0; policy drop; }")
    nsrun(d, "nft", "delete", "table", "inet", "vmnet_broker")

    def settled():
        h = broker.status()["host"]
        return h["nftables"]["restores"] == 1 and len(h["iptables"]) == 2 and \
            all(e["in_place"] for e in h["iptables"])
    wait_until(settled, 5, what="the daemon to restore its table and fix iptables")
    for user in (None, NOBODY_UID):  # status names no user: anyone may ask
        rc, out = doctor(broker.socket, user=user)
        assert rc == 1, out
        assert re.search(r"^ok    iptables-nft \(ipv4\): FORWARD policy drop, INPUT drop; the "
                         r"broker's accept rules are in place, from FORWARD and INPUT$",
                         out, re.M), out
        assert re.search(r"^ok    ip6tables-nft \(ipv6\): ", out, re.M), out
        assert re.search(r"^fail  nftables table inet mine, chain forward: hook forward, policy "
                         r"drop; .* -- add there: iifname \"vmbr\*\" accept; oifname \"vmbr\*\" "
                         r"accept$", out, re.M), out
        assert re.search(r"^info  table inet vmnet_broker was restored 1 time\(s\); last at "
                         r"\S+: nft\[\d+\] deleted table inet vmnet_broker$", out, re.M), out
        assert re.search(r"^info  found on the host: ufw ", out, re.M), out
    text = broker.cli("status").stdout
    assert "\nHost firewall:\n" in text, text
    assert re.search(r"^  iptables-nft \(ipv4\): FORWARD policy drop, INPUT drop; accept rules "
                     r"in place, from FORWARD and INPUT$", text, re.M), text
    assert re.search(r"^  nftables inet mine chain forward drops on forward", text, re.M), text
    assert re.search(r"^  found: ufw$", text, re.M), text

    # Forwarding turned off under a shared network.
    nsrun(d, "nft", "delete", "table", "inet", "mine")
    nsrun(d, "sysctl", "-qw", "net.ipv4.ip_forward=0")
    rc, out = doctor(broker.socket)
    assert rc == 1 and re.search(r"^fail  net.ipv4.ip_forward is 0 while shared networks are up",
                                 out, re.M), out
    nsrun(d, "sysctl", "-qw", "net.ipv4.ip_forward=1")
    assert doctor(broker.socket)[0] == 0
