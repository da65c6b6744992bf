"""Started by systemd: socket activation, READY=1, --exit-idle, journald priorities.

The daemon is started the way vmnet-brokerd.socket starts it (vmbt_activate
stands in for systemd: it holds the socket, passes it as fd 3, listens on
NOTIFY_SOCKET), always inside a namespace of the test.
"""
import os
import subprocess
import time

import pytest

import vmnet_broker
from conftest import CLI, DAEMON, ns_delete, run, wait_until
from vmbt_activate import Activator


@pytest.fixture
def activated(topo):
    """Factory: a socket-activated daemon in a fresh namespace; closed at teardown."""
    made = []

    def make(*extra, ns=None):
        ns = ns or topo.netns("d")
        d = os.path.join(topo.tmp, "act%d" % len(made))
        os.mkdir(d)
        os.chmod(d, 0o755)
        for sub in ("state", "config"):
            os.mkdir(os.path.join(d, sub))
        open(os.path.join(d, "resolv.conf"), "w").close()
        argv = [DAEMON, "--state-dir", os.path.join(d, "state"),
                "--config-dir", os.path.join(d, "config"),
                "--resolv-file", os.path.join(d, "resolv.conf"), "--log-level", "debug",
                *extra]
        a = Activator(ns, argv, os.path.join(d, "sock"), os.path.join(d, "daemon.log"),
                      os.path.join(d, "notify"))
        a.ns = ns
        made.append(a)
        return a

    yield make
    for a in made:
        a.close()


def status(a):
    try:
        with vmnet_broker.Connection(a.sock_path, timeout=15) as conn:
            reply, fds = conn.request({"command": "status"})
    except vmnet_broker.BrokerError as e:
        raise AssertionError("no status from the activated daemon (%s); started %s, exits %s:\n%s"
                             % (e, a.started, a.exits, a.log()))
    assert "networks" in reply, reply
    return reply


def test_started_on_first_connection_and_ready(activated):
    a = activated("--exit-idle", "30")
    time.sleep(0.3)
    assert a.started == [], "the daemon started before anyone connected"
    status(a)
    assert len(a.started) == 1
    wait_until(lambda: "READY=1" in a.messages, what="READY=1 on NOTIFY_SOCKET")
    assert "serving on the socket from systemd" in a.log()


def test_exit_idle_after_last_network_then_started_again(activated, topo):
    a = activated("--exit-idle", "2", "--idle-timeout", "1")
    guest = topo.guest()
    p = run([CLI, "--socket", a.sock_path, "acquire", "host", "--port", "netns",
             "--netns", guest.path, "--label", "act"])
    assert "port netns" in p.stdout
    first = a.running_pid()
    assert first is not None

    # A network with a lease keeps it up well past --exit-idle.
    time.sleep(4)
    assert a.running_pid() == first, "exited while a network was in use:\n" + a.log()

    # Lease ends -> network idle -> removed after 1 s -> daemon idle -> exits.
    ns_delete(guest.ns)
    wait_until(lambda: a.exits, timeout=20, what="the daemon to exit when idle")
    assert a.exits[0] == (first, 0), a.log()
    assert "No network and no client for" in a.log()
    assert "STOPPING=1" in a.messages

    # The socket stayed: the next client starts a new daemon, which answers.
    assert status(a)["networks"] == []
    assert len(a.started) == 2 and a.started[1] != first


def test_exit_idle_waits_for_connections(activated):
    a = activated("--exit-idle", "1")
    conn = vmnet_broker.Connection(a.sock_path, timeout=10)
    try:
        conn.send({"command": "status"})
        assert "networks" in conn.receive()[0]
        time.sleep(3.5)
        assert a.exits == [], "exited with a client connected:\n" + a.log()
    finally:
        conn.close()
    wait_until(lambda: a.exits, timeout=10, what="the daemon to exit once the client left")
    assert a.exits[0][1] == 0


@pytest.mark.broker(extra_args=["--exit-idle", "1"])
def test_exit_idle_ignored_without_socket_activation(broker):
    """Nothing would start a daemon with its own socket again."""
    time.sleep(3)
    assert broker.alive()
    assert "Ignoring --exit-idle" in broker.log()
    broker.status()


def test_invalid_exit_idle(topo):
    ns = topo.netns("d")
    p = run(["ip", "netns", "exec", ns, DAEMON, "--exit-idle", "soon"], check=False)
    assert p.returncode == 2
    assert "Invalid --exit-idle 'soon'" in p.stderr


def test_journal_priority_prefix(topo):
    """<N> prefixes only when stderr really is the stream $JOURNAL_STREAM names."""
    ns = topo.netns("d")
    path = os.path.join(topo.tmp, "stderr")
    argv = ["ip", "netns", "exec", ns, DAEMON, "--idle-timeout", "never"]
    with open(path, "w+") as f:
        st = os.fstat(f.fileno())
        env = dict(os.environ, JOURNAL_STREAM="%d:%d" % (st.st_dev, st.st_ino))
        assert subprocess.run(argv, stderr=f, env=env).returncode == 2
        f.seek(0)
        assert f.read().startswith("<3>Invalid --idle-timeout 'never'")

    # Inherited from a service, but stderr goes elsewhere: plain lines.
    env = dict(os.environ, JOURNAL_STREAM="%d:%d" % (st.st_dev, st.st_ino + 1))
    p = subprocess.run(argv, capture_output=True, text=True, env=env)
    assert p.stderr.startswith("Invalid --idle-timeout 'never'"), p.stderr
