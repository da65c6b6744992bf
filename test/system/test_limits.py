"""Every resource a client can make the daemon create has a limit, and
hitting it answers LIMIT_EXCEEDED (8) with a message, leaving the daemon
serving and nothing behind."""
import os
import subprocess
import time

import pytest

import vmnet_broker
from conftest import AS_NOBODY, CLI, wait_until

LIMIT_EXCEEDED = 8


def acquire(sock, **keys):
    sock.send({"command": "acquire", "network_name": "shared", **keys})
    reply, fds = sock.receive()
    for fd in fds:
        os.close(fd)
    return reply


def hold_tap_as_nobody(broker, topo):
    """A non-root client that keeps its TAP open; returns (process, first line)."""
    p = topo.spawn([*AS_NOBODY, CLI, "--socket", broker.socket, "acquire", "shared",
                    "--port", "tap", "--hold"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                   text=True)
    line = p.stdout.readline()
    return p, line


@pytest.mark.broker(extra_args=["--max-ports-per-user", "2"])
def test_ports_per_user(broker, topo):
    holders = [hold_tap_as_nobody(broker, topo) for _ in range(2)]
    for p, line in holders:
        assert line.startswith("network shared"), line
    p = subprocess.run([*AS_NOBODY, CLI, "--socket", broker.socket, "acquire", "shared",
                        "--port", "tap"], capture_output=True, text=True, timeout=10)
    assert p.returncode != 0
    assert "VMNET_BROKER_LIMIT_EXCEEDED" in p.stderr and "uid 65534" in p.stderr
    # Root is not counted against a user's limit, and others are unaffected.
    _, fds = broker.acquire_tap()
    for fd in fds:
        os.close(fd)
    # Ending one port frees a slot.
    holders[0][0].terminate()
    holders[0][0].wait(5)
    wait_until(lambda: len([le for le in broker.leases("shared") if le.get("uid") == 65534]) == 1,
               what="the first port to end")
    p, line = hold_tap_as_nobody(broker, topo)
    assert line.startswith("network shared"), line


@pytest.mark.broker(extra_args=["--max-networks", "1"])
def test_networks_in_total(broker):
    _, fds = broker.acquire_tap("shared")
    reply = broker.request({"command": "acquire", "network_name": "host", "port": "none"})
    assert reply.get('error') == LIMIT_EXCEEDED, reply
    assert "networks" in reply["message"]
    assert broker.network("host") is None
    for fd in fds:
        os.close(fd)


def test_holds_per_connection(broker):
    with vmnet_broker.Connection(broker.socket, timeout=10) as sock:
        for i in range(8):
            reply = acquire(sock, port="none")
            assert "network" in reply, (i, reply)
        reply = acquire(sock, port="none")
        assert reply.get('error') == LIMIT_EXCEEDED, reply
        # Ports that do not hang on the connection are not held by it.
        reply = acquire(sock, port="tap")
        assert "network" in reply, reply
        # Another connection has its own allowance.
        with vmnet_broker.Connection(broker.socket, timeout=10) as other:
            assert "network" in acquire(other, port="none")
    wait_until(lambda: broker.network("shared")["leases"] == [], what="the holds to end")


@pytest.mark.broker(extra_args=["--max-connections", "3"])
def test_connections_in_total(broker):
    socks = [vmnet_broker.Connection(broker.socket, timeout=10) for _ in range(3)]
    try:
        extra = vmnet_broker.Connection(broker.socket, timeout=10)
        with extra:
            reply, _ = extra.receive()
            assert reply.get('error') == LIMIT_EXCEEDED, reply
    finally:
        for s in socks:
            s.close()

    def serves():
        # Until the daemon has seen the three close, a new client may still
        # be turned away (and find the socket closed under its request).
        try:
            return "networks" in broker.status()
        except vmnet_broker.ConnectionFailure:
            return False
    wait_until(serves, what="the daemon to serve again")


def test_fds_per_message(broker, topo):
    g = topo.guest("g")
    fds = [os.open(g.path, os.O_RDONLY) for _ in range(20)]
    try:
        reply = broker.request({"command": "acquire", "network_name": "shared",
                                "port": "netns"}, fds=fds)
    finally:
        for fd in fds:
            os.close(fd)
    assert reply.get('error') == 4, reply
    assert "status" not in reply
    assert broker.link_names() == sorted(n for n in broker.link_names()
                                         if not n.startswith("vmveth"))


@pytest.mark.broker(extra_args=["--client-timeout", "2"])
def test_silent_connection_is_closed(broker):
    """A peer that never sends is dropped after --client-timeout; others are
    served meanwhile."""
    with vmnet_broker.Connection(broker.socket, timeout=10) as quiet:
        t0 = time.monotonic()
        assert "networks" in broker.status()
        quiet.settimeout(10)
        assert quiet.socket.recv(100) == b"", "the daemon sent something to a silent peer"
        assert 1.5 < time.monotonic() - t0 < 8
    assert "sent nothing for 2 s, closing" in broker.log()
