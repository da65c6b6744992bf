"""Port kinds other than netns: `none`, `named_tap`, and a CLI `tap`."""
import json
import os
import select
import signal
import subprocess
import time

import vmnet_broker
from conftest import AS_NOBODY, CLI, NOBODY_UID, wait_until


def hold(topo, broker, *args, user=None):
    """Start `vmnet-broker acquire ... --json --hold`; return (process, reply)."""
    cmd = ([] if user is None else AS_NOBODY) + [CLI, "--socket", broker.socket, "acquire",
                                                 *args, "--json", "--hold"]
    p = topo.spawn(cmd, stdout=subprocess.PIPE)
    text = b""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        r, _, _ = select.select([p.stdout], [], [], 0.2)
        if r:
            chunk = os.read(p.stdout.fileno(), 65536)
            if not chunk:
                break
            text += chunk
            try:
                return p, json.loads(text)
            except ValueError:
                continue
    raise AssertionError("no reply from %s (exit %s): %r" % (cmd, p.poll(), text))


def stop(p):
    p.send_signal(signal.SIGTERM)
    assert p.wait(10) == 0


def test_none_port_lives_with_the_connection(broker):
    with vmnet_broker.Connection(broker.socket, timeout=10) as sock:
        sock.send({"command": "acquire", "network_name": "shared", "port": "none",
                          "label": "holder"})
        reply, fds = sock.receive()
        assert fds == []
        assert "error" not in reply, reply
        assert reply["network"]["port"]["kind"] == "none"
        [lease] = broker.leases("shared")
        assert lease["kind"] == "none"
        assert lease["label"] == "holder"
        assert broker.network("shared")["state"] == "active"
        # The same connection may carry more requests meanwhile.
        sock.send({"command": "status"})
        assert sock.receive()[0]["networks"][0]["leases"]
    wait_until(lambda: broker.leases() == [], what="the none lease to end")


def test_cli_hold_none(broker, topo):
    p, reply = hold(topo, broker, "shared", "--port", "none")
    assert reply["network"]["port"]["kind"] == "none"
    assert [le["kind"] for le in broker.leases()] == ["none"]
    stop(p)
    wait_until(lambda: broker.leases() == [], what="the lease to end with the CLI")


def test_named_tap_for_a_non_root_user(broker, topo):
    p, reply = hold(topo, broker, "shared", "--port", "named_tap", user=NOBODY_UID)
    port = reply["network"]["port"]
    assert port["kind"] == "named_tap"
    link = broker.link(port["ifname"])
    assert link is not None, port
    assert link["master"] == reply["network"]["bridge"]
    info = link["linkinfo"]["info_data"]
    assert info["type"] == "tap"
    assert info["persist"] is True
    assert str(info.get("user")) in (str(NOBODY_UID), "nobody"), info
    [lease] = broker.leases()
    assert lease["uid"] == NOBODY_UID and lease["kind"] == "named_tap"
    stop(p)
    wait_until(lambda: broker.link(port["ifname"]) is None, what="the named TAP to be removed")
    wait_until(lambda: broker.leases() == [], what="the lease to end")


def test_cli_tap_without_hold_ends_at_exit(broker):
    out = broker.cli("acquire", "shared", "--json").stdout
    port = json.loads(out)["network"]["port"]
    assert port["kind"] == "tap"
    wait_until(lambda: broker.link(port["ifname"]) is None, what="the TAP to go with the CLI")
    wait_until(lambda: broker.leases() == [], what="the lease to end")


def test_cli_human_acquire_output(broker, topo):
    g = topo.guest("g")
    out = broker.cli("acquire", "shared", "--netns", g.path, "--mac", "52:54:00:00:00:42").stdout
    assert "shared" in out
    assert "52:54:00:00:00:42" in out
    assert g.link("eth0")["address"] == "52:54:00:00:00:42"
