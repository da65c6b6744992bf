"""Ports whose life the user decides: named TAPs with a chosen name,
`persistent` leases that outlive their connection and the daemon, and
`release` of any lease by its owner or root (issue #18, 1).

Every refusal is checked to leave nothing behind: no link, no lease, no
rule, no fd of the daemon's.
"""
import json
import os
import signal

import pytest

import vmnet_broker
from conftest import NOBODY_UID, as_user, run, wait_until

INVALID_REQUEST, NOT_ALLOWED, NOT_FOUND = 4, 3, 5
LIMIT_EXCEEDED, CONFLICT = 8, 9


def acquire(broker, **keys):
    """One acquire over the raw protocol, its connection closed at once."""
    return broker.request({"command": "acquire", "network_name": "shared", **keys})


def persistent_tap(broker, ifname, user=None, network="shared", label=None):
    """`vmnet-broker acquire --port named_tap --ifname IFNAME --persistent`; the reply."""
    args = ["acquire", network, "--port", "named_tap", "--ifname", ifname, "--persistent",
            "--json"]
    if label:
        args += ["--label", label]
    return broker.cli_json(*args, user=user)


def snapshot(broker):
    """What a refused request must leave as it was."""
    return (broker.link_names(), broker.lease_records(), broker.nft_text(), broker.stable_fd_count())


def unchanged(broker, before):
    """Nothing was left behind: what snapshot() saw is back (a closed connection settles)."""
    wait_until(lambda: snapshot(broker) == before, timeout=5, what="nothing left behind: %s, "
               "not %s" % (snapshot(broker), before))


def tap_info(broker, ifname):
    link = broker.link(ifname)
    return link, (link or {}).get("linkinfo", {}).get("info_data", {})


def test_named_tap_with_its_name_outlives_the_connection(broker):
    reply = persistent_tap(broker, "fc-lab0", label="firecracker")
    port = reply["network"]["port"]
    assert port["ifname"] == "fc-lab0" and port["kind"] == "named_tap"
    assert port["persistent"] is True and port["lease_id"] >= 1
    # The CLI has exited: the TAP and its lease stay.
    link, info = tap_info(broker, "fc-lab0")
    assert link["master"] == reply["network"]["bridge"]
    assert info["type"] == "tap" and info["persist"] is True
    [lease] = broker.leases()
    assert (lease["ifname"], lease["lease_id"], lease["persistent"]) == (
        "fc-lab0", port["lease_id"], True)
    assert broker.network("shared")["state"] == "active"
    # The plain-text status shows the lease's id and that it is persistent.
    out = broker.cli("status").stdout
    assert "fc-lab0" in out and "(persistent)" in out and " %d " % port["lease_id"] in out

    p = broker.cli("release", "fc-lab0")
    assert "Released on network shared" in p.stdout and "fc-lab0" in p.stdout
    wait_until(lambda: broker.link("fc-lab0") is None, what="the TAP to go")
    assert broker.leases() == []
    assert broker.network("shared")["state"] == "idle"


def test_named_tap_of_a_user_is_owned_by_it(broker):
    reply = persistent_tap(broker, "vm1-net0", user=NOBODY_UID)
    _, info = tap_info(broker, "vm1-net0")
    assert str(info.get("user")) in (str(NOBODY_UID), "nobody"), info
    [lease] = broker.leases()
    assert lease["uid"] == NOBODY_UID
    # Another user, and root, see it: the owner in full, others hidden.
    status = json.loads(broker.cli("status", "--json", user=NOBODY_UID).stdout)
    assert status["networks"][0]["leases"][0]["lease_id"] == reply["network"]["port"]["lease_id"]
    other = json.loads(broker.cli("status", "--json", user=NOBODY_UID - 1).stdout)
    assert other["networks"][0]["leases"][0] == {"kind": "named_tap", "ifname": "vm1-net0",
                                                 "hidden": True}


@pytest.mark.parametrize("ifname,code,words", [
    ("vmtap7", INVALID_REQUEST, "the broker's own"),
    ("vmbr0x", INVALID_REQUEST, "the broker's own"),
    ("vmveth3", INVALID_REQUEST, "the broker's own"),
    ("all", INVALID_REQUEST, "sysctls of every interface"),
    ("default", INVALID_REQUEST, "sysctls of every interface"),
    ("a/b", INVALID_REQUEST, "not a valid interface name"),
    ("sixteen-chars-xx", INVALID_REQUEST, "not a valid interface name"),
    ("uplink0", CONFLICT, "exists already on the host"),
    ("lo", CONFLICT, "exists already on the host"),
])
def test_named_tap_names_refused(broker, ifname, code, words):
    before = snapshot(broker)
    reply = acquire(broker, port="named_tap", ifname=ifname, persistent=True)
    assert reply.get("error") == code, reply
    assert words in reply["message"], reply
    unchanged(broker, before)


def test_a_name_another_lease_has_is_a_conflict(broker):
    persistent_tap(broker, "taken0")
    before = snapshot(broker)
    for user in (None, NOBODY_UID):
        p = broker.cli("acquire", "shared", "--port", "named_tap", "--ifname", "taken0",
                       user=user, check=False)
        assert p.returncode == 1 and "VMNET_BROKER_CONFLICT" in p.stderr, p.stderr
        assert "'taken0' exists already" in p.stderr
    unchanged(broker, before)
    # The TAP is still the first lease's, untouched.
    _, info = tap_info(broker, "taken0")
    assert info["persist"] is True and len(broker.leases()) == 1


@pytest.mark.parametrize("keys,words", [
    ({"port": "tap", "ifname": "mytap0"}, "'ifname' applies only"),
    ({"port": "none", "ifname": "mytap0"}, "'ifname' applies only"),
    ({"port": "tap", "persistent": True}, "'persistent' applies only"),
    ({"port": "none", "persistent": True}, "'persistent' applies only"),
    ({"port": "named_tap", "persistent": 1}, "'persistent' must be true or false"),
])
def test_ifname_and_persistent_where_they_do_not_apply(broker, keys, words):
    before = snapshot(broker)
    reply = acquire(broker, **keys)
    assert reply.get("error") == INVALID_REQUEST and words in reply["message"], reply
    unchanged(broker, before)


def test_a_plain_named_tap_still_ends_with_its_connection(broker):
    with broker.connect() as conn:
        reply, _ = conn.request({"command": "acquire", "network_name": "shared",
                                 "port": "named_tap", "ifname": "short0"})
        assert "persistent" not in reply["network"]["port"], reply
        assert broker.link("short0") is not None
    wait_until(lambda: broker.link("short0") is None, what="the TAP to go with the connection")
    wait_until(lambda: broker.leases() == [], what="its lease to end")


def test_persistent_leases_are_not_holds_of_the_connection(broker):
    # Eight holds fill a connection; persistent named TAPs do not count.
    with broker.connect() as conn:
        for i in range(10):
            reply, _ = conn.request({"command": "acquire", "network_name": "shared",
                                     "port": "named_tap", "ifname": "p%d" % i,
                                     "persistent": True})
            assert "error" not in reply, reply
    assert len(broker.leases()) == 10


@pytest.mark.broker(extra_args=["--max-ports-per-user", "2"])
def test_persistent_ports_count_against_the_quota(broker):
    for i in range(2):
        persistent_tap(broker, "q%d" % i, user=NOBODY_UID)
    before = snapshot(broker)
    p = broker.cli("acquire", "shared", "--port", "named_tap", "--ifname", "q2", "--persistent",
                   user=NOBODY_UID, check=False)
    assert p.returncode == 1 and "VMNET_BROKER_LIMIT_EXCEEDED" in p.stderr, p.stderr
    unchanged(broker, before)
    broker.cli("release", "q0", user=NOBODY_UID)
    persistent_tap(broker, "q2", user=NOBODY_UID)


def test_release_is_for_the_owner_and_root(broker):
    mine = persistent_tap(broker, "mine0", user=NOBODY_UID)["network"]["port"]
    root = persistent_tap(broker, "roots0")["network"]["port"]
    before = snapshot(broker)
    # Unknown, by name and by id; someone else's, by name and by id.
    for args, code, words in (
            (["release", "nosuch0"], "NOT_FOUND", "no lease has port 'nosuch0'"),
            (["release", "--id", "999999"], "NOT_FOUND", "no lease has lease 999999"),
            (["release", "roots0"], "NOT_ALLOWED", "another user's lease"),
            (["release", "--id", str(root["lease_id"])], "NOT_ALLOWED", "another user's"),
            (["release", "uplink0"], "NOT_FOUND", "no lease has port 'uplink0'")):
        p = broker.cli(*args, user=NOBODY_UID, check=False)
        assert p.returncode == 1, (args, p.stdout)
        assert "VMNET_BROKER_" + code in p.stderr and words in p.stderr, (args, p.stderr)
    unchanged(broker, before)
    # Usage errors never reach the daemon.
    for args in (["release"], ["release", "--id", "x"], ["release", "--id", "0"],
                 ["release", "a", "b"], ["release", "--force", "a"]):
        p = broker.cli(*args, check=False)
        assert p.returncode == 2 and "Try 'vmnet-broker release --help'" in p.stderr, (args, p)
    # The owner releases by id, root anyone's by name.
    broker.cli("release", "--id", str(mine["lease_id"]), user=NOBODY_UID)
    p = broker.cli("release", "roots0", "--json")
    assert json.loads(p.stdout)["lease"]["lease_id"] == root["lease_id"]
    wait_until(lambda: broker.link("mine0") is None and broker.link("roots0") is None,
               what="both TAPs to go")
    assert broker.leases() == []
    # Released twice: the second finds nothing.
    p = broker.cli("release", "roots0", check=False)
    assert p.returncode == 1 and "VMNET_BROKER_NOT_FOUND" in p.stderr


def test_release_works_for_every_kind(broker, topo):
    g = topo.guest("g")
    netns = broker.acquire_netns(g, label="ns")["network"]["port"]
    reply, fds = broker.acquire_tap(label="tap")
    tap = reply["network"]["port"]
    with broker.connect() as conn:
        hold, _ = conn.request({"command": "acquire", "network_name": "shared", "port": "none"})
        named, _ = conn.request({"command": "acquire", "network_name": "shared",
                                 "port": "named_tap"})
        # netns: the veth pair goes, the guest's end with it.
        broker.cli("release", netns["ifname"])
        wait_until(lambda: g.link("eth0") is None, what="the guest's eth0 to go")
        # tap: off the network; its holder keeps the fd, which still works.
        broker.cli("release", tap["ifname"])
        link = broker.link(tap["ifname"])
        assert link is not None and "master" not in link, link
        # named_tap held by this connection, and a none hold by its id.
        broker.cli("release", named["network"]["port"]["ifname"])
        broker.cli("release", "--id", str(hold["network"]["port"]["lease_id"]))
        assert broker.leases() == []
        # The connection still serves.
        reply, _ = conn.request({"command": "status"})
        assert reply["networks"][0]["leases"] == []
    for fd in fds:
        os.close(fd)
    wait_until(lambda: broker.link(tap["ifname"]) is None, what="the TAP to go with its fd")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_persistent_lease_survives_a_restart(broker, sig):
    port = persistent_tap(broker, "keep0", user=NOBODY_UID)["network"]["port"]
    broker.stop(sig)
    broker.start()
    [lease] = broker.leases()
    assert (lease["ifname"], lease["lease_id"], lease["persistent"], lease["uid"]) == (
        "keep0", port["lease_id"], True, NOBODY_UID)
    assert broker.link("keep0")["master"] == broker.network("shared")["bridge"]
    # Lease ids go on above the ones on record.
    fresh = persistent_tap(broker, "keep1")["network"]["port"]
    assert fresh["lease_id"] > port["lease_id"]
    broker.cli("release", "keep0", user=NOBODY_UID)
    broker.cli("release", "--id", str(fresh["lease_id"]))
    wait_until(lambda: broker.link("keep0") is None and broker.link("keep1") is None,
               what="the TAPs to go")


def test_lowered_quota_releases_the_newest_persistent_ports(broker):
    ids = [persistent_tap(broker, "over%d" % i, user=NOBODY_UID)["network"]["port"]["lease_id"]
           for i in range(3)]
    persistent_tap(broker, "rootq0")  # root is never over quota
    broker.stop(signal.SIGTERM)
    broker.extra_args += ["--max-ports-per-user", "1"]
    broker.start()
    left = sorted(le["ifname"] for le in broker.leases())
    assert left == ["over0", "rootq0"], left
    assert [le["lease_id"] for le in broker.leases() if le["uid"] == NOBODY_UID] == [ids[0]]
    assert broker.link("over1") is None and broker.link("over2") is None
    assert "over its owner's quota" in broker.log()


def test_persistent_netns_port_lives_with_its_namespace(broker, topo):
    g = topo.guest("g")
    p = broker.cli("acquire", "shared", "--netns", g.path, "--persistent", "--json")
    port = json.loads(p.stdout)["network"]["port"]
    assert port["kind"] == "netns" and port["persistent"] is True
    [lease] = broker.leases()
    assert lease["persistent"] is True
    broker.cli("release", "--id", str(port["lease_id"]))
    wait_until(lambda: g.link("eth0") is None, what="the guest's end to go")


def test_library_release(broker):
    """The C library's calls, through the Python ctypes binding of test_library.py."""
    import ctypes
    from conftest import LIBRARY
    lib = ctypes.CDLL(LIBRARY)
    lib.vmnet_broker_release.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_longlong,
                                         ctypes.POINTER(ctypes.c_char_p)]
    lib.vmnet_broker_last_error_message.restype = ctypes.c_char_p
    persistent_tap(broker, "lib0")
    out = ctypes.c_char_p()
    assert lib.vmnet_broker_release(broker.socket.encode(), b"lib0", 0, ctypes.byref(out)) == 0
    assert json.loads(out.value)["lease"]["ifname"] == "lib0"
    assert lib.vmnet_broker_release(broker.socket.encode(), b"lib0", 0, None) == NOT_FOUND
    assert b"no lease has port 'lib0'" in lib.vmnet_broker_last_error_message()
    # Both or neither way of naming the lease: refused before sending anything.
    assert lib.vmnet_broker_release(broker.socket.encode(), b"x", 5, None) == INVALID_REQUEST
    assert lib.vmnet_broker_release(broker.socket.encode(), None, 0, None) == INVALID_REQUEST
