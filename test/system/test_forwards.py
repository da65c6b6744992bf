"""Port forwards as users expect them (issue #18, 3): from outside, from
the host itself (localhost and the host's own addresses, as QEMU's
hostfwd), over IPv4 and IPv6, and `vmnet-broker forward add|remove|list`
on a lease that lives, by its owner or root. Every refusal leaves the
table, the leases and the daemon's fds as they were."""
import ipaddress
import json
import signal

import pytest

import vmnet_broker
from conftest import (NOBODY_UID, PYTHON, TCP_CLIENT, UPLINK_DAEMON, UPLINK_UPSTREAM, run,
                      wait_until)
from test_config import lab, netns_acquire, write
from test_ipv6 import UP6_DAEMON, UP6_UPSTREAM, gateway6, no_dad, prefix_of, slaac
from test_ipv6 import upstream6  # noqa: F401 (a fixture)

GUEST_PORT = 8080
INVALID_REQUEST, NOT_ALLOWED, NOT_FOUND = 4, 3, 5
LIMIT_EXCEEDED, CONFLICT = 8, 9


def connect(ns, addr, port, timeout=3):
    """A TCP connection from namespace @ns: the source address the guest saw, or None."""
    p = run(["ip", "netns", "exec", ns, PYTHON, "-B", "-c", TCP_CLIENT, addr, str(port),
             str(timeout)], check=False, timeout=timeout + 10)
    return p.stdout.strip() if p.returncode == 0 else None


def guest_with_listener(broker, topo, addr="0.0.0.0", **acquire):
    """A netns guest on shared with its DHCP address and a TCP listener; (guest, port)."""
    g = topo.guest("g")
    no_dad(g)
    port = broker.acquire_netns(g, **acquire)["network"]["port"]
    g.dhcp()
    topo.tcp_listener(g.ns, addr, GUEST_PORT)
    return g, port


def snapshot(broker):
    return broker.nft_text(), broker.lease_records(), broker.stable_fd_count()


def unchanged(broker, before):
    """Nothing was left behind: what snapshot() saw is back (a closed connection settles)."""
    wait_until(lambda: snapshot(broker) == before, timeout=5, what="nothing left behind: %s, "
               "not %s" % (snapshot(broker), before))


def eui64(prefix, mac):
    b = bytes.fromhex(mac.replace(":", ""))
    iid = bytes([b[0] ^ 2]) + b[1:3] + b"\xff\xfe" + b[3:]
    return str(ipaddress.IPv6Address(prefix.network_address.packed[:8] + iid))


def test_forward_from_outside_from_the_host_and_from_localhost(broker, topo):
    g, port = guest_with_listener(broker, topo)
    gateway = broker.network("shared")["subnet"]
    assert connect(broker.upstream, UPLINK_DAEMON, 2280, timeout=1) is None
    p = broker.cli("forward", "add", port["ifname"], "tcp:2280:%d" % GUEST_PORT)
    assert "forward tcp 2280 -> %s:%d" % (port["address"], GUEST_PORT) in p.stdout, p.stdout
    # From outside the guest sees the real client; from the host, the host's
    # own address it connected to; from localhost, the gateway (masqueraded,
    # or the guest could not answer 127.0.0.1).
    assert connect(broker.upstream, UPLINK_DAEMON, 2280) == UPLINK_UPSTREAM
    assert connect(broker.ns, UPLINK_DAEMON, 2280) == UPLINK_DAEMON
    assert connect(broker.ns, "127.0.0.1", 2280) == gateway
    assert connect(broker.ns, gateway, 2280) == gateway
    # A guest of the network does not hairpin through the host.
    h = topo.guest("h")
    broker.acquire_netns(h)
    h.dhcp()
    assert connect(h.ns, gateway, 2280, timeout=1) is None
    # Plain-text status shows it under its lease.
    assert "forward tcp 2280 -> %s:%d" % (port["address"], GUEST_PORT) in \
        broker.cli("status").stdout
    broker.cli("forward", "remove", "--id", str(port["lease_id"]), "tcp:2280")
    for ns, addr in ((broker.upstream, UPLINK_DAEMON), (broker.ns, "127.0.0.1")):
        assert connect(ns, addr, 2280, timeout=1) is None
    assert "2280" not in broker.nft_text()


def test_guests_cannot_reach_the_hosts_localhost(broker, topo):
    """The bridge routes 127.0.0.0/8 (route_localnet) for forwards from
    localhost; a guest still cannot send to or from it."""
    g, port = guest_with_listener(broker, topo)
    bridge = broker.network("shared")["bridge"]
    out = run(["ip", "netns", "exec", broker.ns, "cat",
               "/proc/sys/net/ipv4/conf/%s/route_localnet" % bridge]).stdout
    assert out.strip() == "1"
    topo.tcp_listener(broker.ns, "0.0.0.0", 2281)
    assert connect(broker.ns, "127.0.0.2", 2281) == "127.0.0.1"
    gateway = broker.network("shared")["subnet"]
    # The guest's own kernel would not send to 127.0.0.1 out of eth0 either,
    # unless told to: a guest that wants to, can.
    g.exec("sysctl", "-qw", "net.ipv4.conf.all.route_localnet=1",
           "net.ipv4.conf.eth0.route_localnet=1")
    g.exec("ip", "route", "add", "127.0.0.2/32", "via", gateway, "dev", "eth0")
    assert connect(g.ns, "127.0.0.2", 2281, timeout=1) is None
    assert "localhost is the host's" in broker.nft_text()


def test_forward_over_ipv6_to_the_guests_eui64_address(broker, topo, upstream6):  # noqa: F811
    g = topo.guest("g")
    no_dad(g)
    reply = broker.acquire_netns(g)
    port = reply["network"]["port"]
    addr6 = slaac(g, prefix_of(reply))
    g.exec("ip", "-6", "route", "replace", "default", "via", gateway6(broker, reply), "dev",
           "eth0")
    g.dhcp()
    topo.tcp_listener(g.ns, "::", GUEST_PORT)
    p = broker.cli("forward", "add", port["ifname"], "tcp:2286:%d" % GUEST_PORT, "--json")
    [fw] = json.loads(p.stdout)["lease"]["port_forwards"]
    # The target is the EUI-64 SLAAC address, which is the one this guest made.
    assert fw["internal_address6"] == eui64(prefix_of(reply), port["mac"]) == addr6
    assert connect(broker.upstream, UP6_DAEMON, 2286) == UP6_UPSTREAM
    assert connect(broker.ns, UP6_DAEMON, 2286) == UP6_DAEMON
    # And over IPv4, the same forward.
    assert connect(broker.upstream, UPLINK_DAEMON, 2286) == "::ffff:" + UPLINK_UPSTREAM
    # [::1] is never routed off the host: it stays the host's own.
    assert connect(broker.ns, "::1", 2286, timeout=1) is None
    assert "ip6 daddr != ::1" in broker.nft_text()


def test_forward_commands_refuse_cleanly(broker, topo):
    write(broker, "lab", lab(port_forwards=[
        {"protocol": "tcp", "external_port": 2222, "internal_address": "10.77.0.200",
         "internal_port": 22}]))
    g = topo.guest("g")
    mine = broker.acquire_netns(g, network="lab")["network"]["port"]
    broker.cli("forward", "add", mine["ifname"], "tcp:3000:80", "udp:3000:53")
    other = broker.cli_json("acquire", "shared", "--port", "named_tap", "--ifname", "nb0",
                            "--persistent", "--json", user=NOBODY_UID)["network"]["port"]
    with broker.connect() as conn:
        hold, _ = conn.request({"command": "acquire", "network_name": "shared", "port": "none"})
        hostnet = broker.acquire_netns(topo.guest("h"), network="host")["network"]["port"]
        before = snapshot(broker)
        none_id = hold["network"]["port"]["lease_id"]
        for ref, fws, code, words in (
                ({"lease_id": 999999}, [("tcp", 4444, 1)], NOT_FOUND, "no lease has lease 999999"),
                ({"ifname": "nosuch0"}, [("tcp", 4444, 1)], NOT_FOUND,
                 "no lease has port 'nosuch0'"),
                ({"ifname": mine["ifname"]}, [("tcp", 4444, 1), ("tcp", 3000, 1)], CONFLICT,
                 "tcp port 3000 is already forwarded, by network 'lab'"),
                ({"ifname": "nb0"}, [("tcp", 2222, 1)], CONFLICT,
                 "tcp port 2222 is reserved by network file 'lab'"),
                ({"lease_id": none_id}, [("tcp", 4444, 1)], INVALID_REQUEST, "'none' hold"),
                ({"ifname": hostnet["ifname"]}, [("tcp", 4444, 1)], INVALID_REQUEST,
                 "host network"),
                ({"ifname": "nb0"}, [("tcp", 4000, 1), ("tcp", 4000, 2)], INVALID_REQUEST,
                 "twice")):
            r = broker.request({"command": "forward_add", **ref, "port_forwards": [
                {"protocol": p, "external_port": e, "internal_port": i} for p, e, i in fws]})
            assert r.get("error") == code and words in r["message"], (ref, r)
        # Someone else's lease, as nobody; not forwarded, on remove.
        p = broker.cli("forward", "add", mine["ifname"], "tcp:4445:1", user=NOBODY_UID,
                       check=False)
        assert p.returncode == 1 and "VMNET_BROKER_NOT_ALLOWED" in p.stderr, p.stderr
        p = broker.cli("forward", "remove", mine["ifname"], "tcp:4446", check=False)
        assert p.returncode == 1 and "VMNET_BROKER_NOT_FOUND" in p.stderr, p.stderr
        assert "forwards no tcp port 4446" in p.stderr
        # All or nothing: one unknown of two removes neither.
        p = broker.cli("forward", "remove", mine["ifname"], "tcp:3000", "tcp:4446", check=False)
        assert p.returncode == 1
        # 16 at most on one lease.
        specs = ["tcp:%d:1" % (5000 + i) for i in range(15)]
        p = broker.cli("forward", "add", mine["ifname"], *specs, check=False)
        assert p.returncode == 1 and "VMNET_BROKER_LIMIT_EXCEEDED" in p.stderr, p.stderr
        # Usage errors never reach the daemon.
        for args in (["forward"], ["forward", "move", "x"], ["forward", "add", "x"],
                     ["forward", "add", "x", "tcp:1"], ["forward", "remove", "x", "tcp:1:2"],
                     ["forward", "add", "x", "icmp:1:1"], ["forward", "add", "x", "tcp:0:1"],
                     ["forward", "add", "--id", "0", "tcp:1:1"], ["forward", "list", "a", "b"]):
            p = broker.cli(*args, check=False)
            assert p.returncode == 2 and "Try 'vmnet-broker forward --help'" in p.stderr, \
                (args, p.stderr)
        unchanged(broker, before)
    broker.cli("release", "nb0")
    del other


def test_forward_add_follows_the_forward_policy(broker, topo):
    """forward_add is held to what an acquire's port_forwards is: the file's
    lease_port_forwards, the unprivileged port floor, host services' ports;
    root is bound by none of it but the ports others forward."""
    write(broker, "ranged", lab(lease_port_forwards={
        "port_range": "20000-20099", "allowed_users": [str(NOBODY_UID)]}))
    topo.tcp_listener(broker.ns, "0.0.0.0", 20060)
    ranged = broker.cli_json("acquire", "ranged", "--port", "named_tap", "--ifname", "rg0",
                             "--persistent", "--json", user=NOBODY_UID)["network"]["port"]
    shared = broker.cli_json("acquire", "shared", "--port", "named_tap", "--ifname", "sh0",
                             "--persistent", "--json", user=NOBODY_UID)["network"]["port"]
    before = snapshot(broker)
    for ifname, spec, code, words in (
            ("sh0", "tcp:80:80", "VMNET_BROKER_NOT_ALLOWED", "80"),
            ("rg0", "tcp:30000:80", "VMNET_BROKER_NOT_ALLOWED", "30000"),
            ("rg0", "tcp:20060:80", "VMNET_BROKER_CONFLICT", "20060")):
        p = broker.cli("forward", "add", ifname, spec, user=NOBODY_UID, check=False)
        assert p.returncode == 1 and code in p.stderr and words in p.stderr, (spec, p.stderr)
    unchanged(broker, before)
    # Within the range, by its owner; outside it and on a host service's port, by root.
    broker.cli("forward", "add", "rg0", "tcp:20050:80", user=NOBODY_UID)
    broker.cli("forward", "add", "--id", str(ranged["lease_id"]), "tcp:30000:80",
               "tcp:20060:81")
    broker.cli("forward", "add", "sh0", "tcp:80:80")
    fws = {le["ifname"]: sorted(f["external_port"] for f in le.get("port_forwards", []))
           for le in broker.leases("ranged") + broker.leases("shared") if "ifname" in le}
    assert fws["rg0"] == [20050, 20060, 30000] and fws["sh0"] == [80], fws
    # Root's forward of a host service's port is flagged as shadowing it.
    wait_until(lambda: [f for le in broker.leases("ranged") for f in le.get("port_forwards", [])
                        if f["external_port"] == 20060 and f.get("host_listener")],
               timeout=5, what="forward 20060 flagged host_listener")
    broker.cli("release", "rg0")
    broker.cli("release", "--id", str(shared["lease_id"]))


def test_forward_list_shows_whose_to_whom(broker, topo):
    g = topo.guest("g")
    root_port = broker.acquire_netns(g)["network"]["port"]
    broker.cli("forward", "add", root_port["ifname"], "tcp:3100:80")
    mine = broker.cli_json("acquire", "shared", "--port", "named_tap", "--ifname", "nl0",
                           "--persistent", "--forward", "tcp:3101:80", "--json",
                           user=NOBODY_UID)["network"]["port"]
    # Root sees both, nobody its own, another user none.
    everyone = json.loads(broker.cli("forward", "list", "--json").stdout)["leases"]
    assert sorted(le["lease_id"] for le in everyone) == sorted(
        [root_port["lease_id"], mine["lease_id"]])
    own = json.loads(broker.cli("forward", "list", "--json", user=NOBODY_UID).stdout)["leases"]
    assert [le["lease_id"] for le in own] == [mine["lease_id"]]
    assert own[0]["network_name"] == "shared" and own[0]["uid"] == NOBODY_UID
    out = broker.cli("forward", "list", user=NOBODY_UID - 1).stdout
    assert "No lease of yours forwards a port." in out
    out = broker.cli("forward", "list", "nl0").stdout
    assert "lease %d" % mine["lease_id"] in out and "forward tcp 3101 ->" in out
    # The owner adds and removes; root removes any.
    broker.cli("forward", "add", "nl0", "udp:3102:53", user=NOBODY_UID)
    broker.cli("forward", "remove", "nl0", "tcp:3101")
    [fw] = json.loads(broker.cli("forward", "list", "--id", str(mine["lease_id"]),
                                 "--json").stdout)["leases"][0]["port_forwards"]
    assert (fw["protocol"], fw["external_port"]) == ("udp", 3102)
    broker.cli("release", "nl0")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_runtime_forwards_survive_a_restart(broker, topo, sig):
    g, port = guest_with_listener(broker, topo)
    broker.cli("forward", "add", port["ifname"], "tcp:2290:%d" % GUEST_PORT)
    broker.cli("forward", "add", port["ifname"], "tcp:2291:%d" % GUEST_PORT)
    broker.cli("forward", "remove", port["ifname"], "tcp:2290")
    broker.stop(sig)
    broker.start()
    [lease] = broker.leases()
    assert [f["external_port"] for f in lease["port_forwards"]] == [2291]
    assert connect(broker.upstream, UPLINK_DAEMON, 2291) == UPLINK_UPSTREAM
    assert connect(broker.ns, "127.0.0.1", 2291) == broker.network("shared")["subnet"]
    assert connect(broker.upstream, UPLINK_DAEMON, 2290, timeout=1) is None


def test_forwards_through_every_client(broker, topo):
    """The Python package's typed calls (the Go and C ones: test_conformance.py)."""
    g = topo.guest("g")
    port = broker.acquire_netns(g)["network"]["port"]
    lease = vmnet_broker.forward_add([("tcp", 3200, 22)], ifname=port["ifname"],
                                     socket_path=broker.socket)
    assert [f.external_port for f in lease.port_forwards] == [3200]
    assert lease.network_name == "shared" and lease.lease_id == port["lease_id"]
    [listed] = vmnet_broker.forward_list(socket_path=broker.socket)
    assert listed.lease_id == port["lease_id"]
    with pytest.raises(vmnet_broker.NotFound):
        vmnet_broker.forward_remove([("tcp", 3201)], lease_id=port["lease_id"],
                                    socket_path=broker.socket)
    lease = vmnet_broker.forward_remove([("tcp", 3200)], lease_id=port["lease_id"],
                                        socket_path=broker.socket)
    assert lease.port_forwards == ()
    released = vmnet_broker.release(lease_id=port["lease_id"], socket_path=broker.socket)
    assert released.ifname == port["ifname"]
    wait_until(lambda: g.link("eth0") is None, what="the veth to go")

