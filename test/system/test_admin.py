"""Admin commands and errors that say what to do (issue #18, 4 and 5):
`vmnet-broker stop`, subnets in CIDR form in `networks` and in network
files, and the clients' words when the socket refuses them or is not there."""
import json
import os
import subprocess

import pytest

import vmnet_broker
from conftest import CLI, NOBODY_UID, PYTHON, PYTHON_ENV, as_user, run, wait_until
from test_config import LAB, lab, write

NOT_ALLOWED, NOT_FOUND, CONFLICT = 3, 5, 9


def state_files(broker):
    """The files under the state dir (its directories may stay, empty)."""
    return sorted(os.path.relpath(os.path.join(d, f), broker.state_dir)
                  for d, _, files in os.walk(broker.state_dir) for f in files)


def test_stop_refuses_while_leases_exist_then_force_ends_them(broker, topo):
    g = topo.guest("g")
    port = broker.acquire_netns(g, label="vm1")["network"]["port"]
    broker.cli("acquire", "shared", "--port", "named_tap", "--ifname", "nbstop0", "--persistent",
               "--label", "fc", user=NOBODY_UID)
    bridge = broker.network("shared")["bridge"]
    before = (broker.link_names(), broker.lease_records(), broker.nft_text(), state_files(broker))
    # Not root; not running; in use.
    p = broker.cli("stop", "shared", user=NOBODY_UID, check=False)
    assert p.returncode == 1 and "VMNET_BROKER_NOT_ALLOWED" in p.stderr
    assert "only root may stop a network" in p.stderr
    p = broker.cli("stop", "host", check=False)
    assert p.returncode == 1 and "VMNET_BROKER_NOT_FOUND" in p.stderr
    assert "'host' is not running" in p.stderr
    p = broker.cli("stop", "shared", check=False)
    assert p.returncode == 1 and "VMNET_BROKER_CONFLICT" in p.stderr
    assert "has 2 lease(s)" in p.stderr and "label 'vm1'" in p.stderr
    assert "uid %d" % NOBODY_UID in p.stderr and "stop --force shared" in p.stderr
    assert (broker.link_names(), broker.lease_records(), broker.nft_text(),
            state_files(broker)) == before
    # Usage errors.
    for args in (["stop"], ["stop", "a", "b"], ["stop", "--id", "1", "shared"]):
        p = broker.cli(*args, check=False)
        assert p.returncode == 2 and "Try 'vmnet-broker stop --help'" in p.stderr, args

    with broker.connect() as conn:
        conn.request({"command": "acquire", "network_name": "shared", "port": "none"})
        p = broker.cli("stop", "shared", "--force")
        assert "Stopped network shared (bridge %s)." % bridge in p.stdout, p.stdout
        assert "Ended 3 lease(s):" in p.stdout
        assert "label 'vm1': netns %s" % port["ifname"] in p.stdout
        assert "uid %d" % NOBODY_UID in p.stdout and "named_tap nbstop0" in p.stdout
        # The connection whose hold ended serves on.
        reply, _ = conn.request({"command": "status"})
        assert reply["networks"] == []
    # Everything it made is gone: bridge, ports, the guest's end, rules,
    # dnsmasq, records.
    assert broker.link_names() == ["lo", "uplink0"]
    assert g.link("eth0") is None
    assert not broker.nft_table_exists()
    assert broker.dnsmasq_pids() == []
    assert state_files(broker) == []
    assert "Stopping, as uid 0 asked, with its 3 lease(s)" in broker.log()
    # The network comes back at the next acquire.
    broker.acquire_netns(topo.guest("h"))
    assert broker.network("shared")["state"] == "active"


def test_stop_an_idle_network_at_once(broker):
    _, fds = broker.acquire_tap("host")
    for fd in fds:
        os.close(fd)
    wait_until(lambda: broker.network("host")["state"] == "idle", what="host to be idle")
    reply = json.loads(broker.cli("stop", "host", "--json").stdout)
    assert reply["network"]["name"] == "host" and reply["ended_leases"] == []
    assert broker.network("host") is None


def test_stop_through_the_python_client(broker, topo):
    broker.acquire_netns(topo.guest("g"), label="py")
    with pytest.raises(vmnet_broker.Conflict):
        vmnet_broker.stop_network("shared", socket_path=broker.socket)
    r = vmnet_broker.stop_network("shared", force=True, socket_path=broker.socket)
    assert r.network.name == "shared" and [le.label for le in r.ended_leases] == ["py"]


def test_networks_shows_subnets_in_cidr_form(broker):
    write(broker, "lab", lab())
    write(broker, "cidr", {"mode": "host", "subnet": "10.78.0.254/23"})
    nets = {n["name"]: n for n in broker.cli_json("networks", "--json")["networks"]}
    assert "cidr" not in nets["shared"]  # from the pool, when created
    assert nets["lab"]["cidr"] == LAB + ".0/24"
    assert nets["cidr"]["cidr"] == "10.78.0.0/23"
    _, fds = broker.acquire_tap("shared")
    for fd in fds:
        os.close(fd)
    reply = broker.request({"command": "acquire", "network_name": "cidr", "port": "none"})
    assert (reply["network"]["subnet"], reply["network"]["mask"]) == (
        "10.78.0.254", "255.255.254.0")
    nets = {n["name"]: n for n in broker.cli_json("networks", "--json")["networks"]}
    assert nets["shared"]["cidr"] == "192.168.64.0/24"
    assert nets["shared"]["ipv6_cidr"].endswith("/64")
    out = broker.cli("networks").stdout
    assert "192.168.64.0/24" in out and "10.78.0.0/23" in out and "(from the pool)" in out
    out = broker.cli("status").stdout
    assert "192.168.64.0/24" in out and "10.78.0.0/23 gw 10.78.0.254" in out
    assert nets["shared"]["ipv6_cidr"] in out
    assert broker.cli("networks", "--names").stdout.split() == ["host", "shared", "cidr", "lab"]
    assert sorted(broker.cli("status", "--names").stdout.split()) == ["cidr", "shared"]


@pytest.mark.parametrize("conf,key,words", [
    ({"subnet": "10.79.0.1/33"}, "subnet", "a network's prefix must be /16 to /30"),
    ({"subnet": "10.79.0.1/8"}, "subnet", "a network's prefix must be /16 to /30"),
    ({"subnet": "10.79.0.1/"}, "subnet", "no prefix length"),
    ({"subnet": "10.79.0.1/24x"}, "subnet", "no prefix length"),
    ({"subnet": "10.79.0.999/24"}, "subnet", "is not an IPv4 address"),
    ({"subnet": "10.79.0.0/24"}, "subnet", "network or broadcast address"),
    ({"subnet": "10.79.0.1/24", "mask": "255.255.255.0"}, "mask", "not both"),
    ({"subnet": "10.79.0.1"}, "mask", "unless 'subnet' has a prefix length"),
])
def test_cidr_subnet_in_files_is_checked(topo, conf, key, words):
    d = os.path.join(topo.tmp, "conf")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "bad.json"), "w") as f:
        json.dump({"mode": "shared", **conf}, f)
    p = run([CLI, "check-config", d], check=False)
    assert p.returncode == 1, p.stdout
    assert ": %s: " % key in p.stdout and words in p.stdout, p.stdout


def test_connection_errors_say_what_to_do(broker, topo):
    # The daemon is not running: the clients say so, and how to start it.
    gone = os.path.join(topo.tmp, "gone.sock")
    p = run([CLI, "--socket", gone, "status"], check=False)
    assert p.returncode == 1 and "VMNET_BROKER_CONNECTION_FAILURE" in p.stderr
    assert "No such file or directory" in p.stderr
    assert "daemon is not running" in p.stderr
    assert "systemctl start vmnet-brokerd.socket" in p.stderr
    p = run([PYTHON, "-B", "-m", "vmnet_broker", "--socket", gone, "status"], env=PYTHON_ENV,
            check=False)
    assert "daemon is not running" in p.stderr, p.stderr
    # The socket refuses the user: it names the group and how to join it.
    os.chmod(broker.socket, 0o660)
    try:
        p = run(as_user(NOBODY_UID) + [CLI, "--socket", broker.socket, "status"], check=False)
        assert p.returncode == 1 and "Permission denied" in p.stderr, p.stderr
        assert "group 'vmnet-broker'" in p.stderr
        assert "sudo usermod -aG vmnet-broker nobody" in p.stderr
        assert "newgrp vmnet-broker" in p.stderr
        p = run(as_user(NOBODY_UID) + [PYTHON, "-B", "-m", "vmnet_broker", "--socket",
                                       broker.socket, "status"], env=PYTHON_ENV, check=False)
        assert "usermod -aG vmnet-broker" in p.stderr, p.stderr
    finally:
        os.chmod(broker.socket, 0o666)


def test_every_command_has_help():
    for cmd in ("status", "networks", "acquire", "run", "release", "forward", "stop",
                "check-config"):
        p = subprocess.run([CLI, cmd, "--help"], capture_output=True, text=True)
        assert p.returncode == 0 and p.stdout.startswith("Usage: vmnet-broker"), (cmd, p)
    p = subprocess.run([CLI, "--help"], capture_output=True, text=True)
    for cmd in ("release", "forward", "stop"):
        assert "\n  %s " % cmd in p.stdout, p.stdout
