"""`status` and `networks`, for people and for scripts."""
import json
import os
import stat

from conftest import AS_NOBODY, NOBODY_UID, PYTHON, PYTHON_SRC, run, wait_until

# Run as nobody: hold a TAP of our own on `shared`, then ask for status.
NOBODY_TAP_STATUS = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
import vmnet_broker
with vmnet_broker.Connection(sys.argv[2], timeout=10) as c:
    reply, fds = c.request({"command": "acquire", "network_name": "shared", "port": "tap",
                            "label": "nobodys"})
with vmnet_broker.Connection(sys.argv[2], timeout=10) as c:
    status, _ = c.request({"command": "status"})
print(json.dumps({"acquire": reply, "fds": len(fds), "status": status}))
"""


def test_socket_is_usable_by_everyone(broker):
    mode = stat.S_IMODE(os.stat(broker.socket).st_mode)
    assert mode & 0o006 == 0o006, "socket mode %o" % mode
    st = json.loads(broker.cli("status", "--json", user=NOBODY_UID).stdout)
    assert st["networks"] == []


def test_status_json_parses(broker, topo):
    g = topo.guest("g")
    reply = broker.acquire_netns(g, label="json-vm")
    st = broker.cli_json("status", "--json")
    assert st["version"] == 1
    [net] = st["networks"]
    assert net["name"] == "shared"
    assert net["mode"] == "shared"
    assert net["bridge"] == reply["network"]["bridge"]
    assert net["subnet"] == reply["network"]["subnet"]
    assert net["mask"] == "255.255.255.0"
    assert net["state"] == "active"
    assert isinstance(net["dnsmasq_pid"], int)
    [lease] = net["leases"]
    port = reply["network"]["port"]
    assert lease["uid"] == 0
    assert isinstance(lease["pid"], int)
    assert lease["kind"] == "netns"
    assert lease["mac"] == port["mac"]
    assert lease["address"] == port["address"]
    assert lease["label"] == "json-vm"
    assert lease["ifname"].startswith("vmveth")


def test_status_for_a_person_names_networks_and_leases(broker, topo):
    g = topo.guest("g")
    reply = broker.acquire_netns(g, label="person-vm")
    text = broker.cli("status").stdout
    assert "shared" in text
    assert reply["network"]["bridge"] in text
    assert reply["network"]["port"]["address"] in text
    assert "person-vm" in text


def test_networks_lists_shared_and_host(broker):
    out = broker.cli_json("networks", "--json")
    nets = {n["name"]: n for n in out["networks"]}
    assert nets["shared"]["mode"] == "shared"
    assert nets["host"]["mode"] == "host"
    for name in ("shared", "host"):
        assert nets[name]["source"] == "builtin"
        assert nets[name]["errors"] == []
        assert nets[name]["active"] is False
    text = broker.cli("networks").stdout
    assert "shared" in text and "host" in text


def test_networks_shows_active(broker):
    _, fds = broker.acquire_tap("host")
    try:
        nets = {n["name"]: n for n in broker.cli_json("networks", "--json")["networks"]}
        assert nets["host"]["active"] is True
        assert nets["shared"]["active"] is False
    finally:
        for fd in fds:
            os.close(fd)


def test_non_root_sees_other_users_leases_hidden(broker):
    reply, fds = broker.acquire_tap(label="roots-secret")
    try:
        st = json.loads(broker.cli("status", "--json", user=NOBODY_UID).stdout)
        [lease] = st["networks"][0]["leases"]
        assert lease.get("hidden") is True
        assert lease["kind"] == "tap"
        assert lease["ifname"] == reply["network"]["port"]["ifname"]
        for key in ("mac", "address", "label", "pid", "uid"):
            assert key not in lease, lease
        text = broker.cli("status", user=NOBODY_UID).stdout
        assert "roots-secret" not in text
        assert reply["network"]["port"]["mac"] not in text
        # Root still sees it in full.
        full = broker.lease_by_mac(reply["network"]["port"]["mac"])
        assert full["label"] == "roots-secret"
    finally:
        for fd in fds:
            os.close(fd)


def test_non_root_sees_own_lease_in_full(broker):
    root_reply, fds = broker.acquire_tap(label="roots")
    try:
        p = run(AS_NOBODY + [PYTHON, "-B", "-c", NOBODY_TAP_STATUS, PYTHON_SRC, broker.socket])
        out = json.loads(p.stdout)
        assert "error" not in out["acquire"], out
        assert out["fds"] == 1
        leases = out["status"]["networks"][0]["leases"]
        mine = [le for le in leases if not le.get("hidden")]
        hidden = [le for le in leases if le.get("hidden")]
        assert len(mine) == 1 and len(hidden) == 1, leases
        assert mine[0]["uid"] == NOBODY_UID
        assert mine[0]["label"] == "nobodys"
        assert mine[0]["mac"] == out["acquire"]["network"]["port"]["mac"]
        assert hidden[0]["ifname"] == root_reply["network"]["port"]["ifname"]
    finally:
        for fd in fds:
            os.close(fd)


def test_status_idle_network(broker):
    _, fds = broker.acquire_tap()
    for fd in fds:
        os.close(fd)

    def idle():
        n = broker.network("shared")
        return n if n and n["state"] == "idle" else None
    net = wait_until(idle, timeout=5, what="the network to turn idle")
    assert net["leases"] == []
    assert 0 <= net["idle_remaining"] <= broker.idle_timeout


def test_status_of_a_busy_daemon_exceeds_64k_and_still_arrives(broker):
    """Requests are at most 64 KiB; a status reply of hundreds of leases is
    longer, and the library reads it whole."""
    with open(os.path.join(broker.config_dir, "big.json"), "w") as f:
        json.dump({"mode": "host", "subnet": "10.99.0.1", "mask": "255.255.252.0"}, f)
    held = []
    try:
        for i in range(450):
            _, fds = broker.acquire_tap("big", label="vm-%03d-with-a-longer-label" % i)
            held += fds
        p = broker.cli("status", "--json")
        assert len(p.stdout) > 65536
        st = json.loads(p.stdout)
        (big,) = [n for n in st["networks"] if n["name"] == "big"]
        assert len(big["leases"]) == 450
        assert len({le["address"] for le in big["leases"]}) == 450
    finally:
        for fd in held:
            os.close(fd)
