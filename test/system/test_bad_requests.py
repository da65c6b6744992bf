"""Bad requests: each gets its exact code, the daemon keeps serving, nothing leaks.

After every case the daemon must still answer `status`, hold exactly the
fds it held before (/proc/PID/fd), have made no interface and run no
dnsmasq. The daemon runs with --idle-timeout 0, so even a network made
for a request that then failed would be gone at once.
"""
import json
import os
import socket
import time

import pytest

import conformance
import vmnet_broker
from conftest import ip_json, wait_until

INVALID = vmnet_broker.Status.INVALID_REQUEST
NOT_FOUND = vmnet_broker.Status.NOT_FOUND
SCHEMAS = conformance.schemas()


class Baseline:
    def __init__(self, broker):
        self.broker = broker
        # Warm up: one full network lifecycle, so lazily opened handles exist.
        _, fds = broker.acquire_tap()
        for fd in fds:
            os.close(fd)
        wait_until(lambda: broker.status()["networks"] == [], timeout=5,
                   what="the warm-up network to be removed")
        self.fds = self.stable_fd_count()
        self.links = broker.link_names()
        assert broker.dnsmasq_pids() == []

    def stable_fd_count(self):
        last = None
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            n = self.broker.fd_count()
            if n == last:
                return n
            last = n
            time.sleep(0.1)
        return last

    def check(self):
        """The daemon serves, and is back where it started."""
        b = self.broker
        assert b.alive(), "vmnet-brokerd died"
        wait_until(lambda: b.status()["networks"] == [], timeout=3,
                   what="no network left")
        wait_until(lambda: b.fd_count() == self.fds, timeout=3,
                   what="the daemon's fd count back at %d (now %d: %s)"
                   % (self.fds, b.fd_count(), fd_targets(b.pid)))
        wait_until(lambda: b.link_names() == self.links, timeout=3,
                   what="no extra interfaces (have %s)" % b.link_names())
        assert b.dnsmasq_pids() == []


def fd_targets(pid):
    out = []
    for fd in sorted(os.listdir("/proc/%d/fd" % pid), key=int):
        try:
            out.append("%s->%s" % (fd, os.readlink("/proc/%d/fd/%s" % (pid, fd))))
        except OSError:
            pass
    return ", ".join(out)


@pytest.fixture
def quiet(topo):
    d = topo.netns("d")
    b = topo.broker(d, idle_timeout=0)
    base = Baseline(b)
    yield b, base
    base.check()


def acquire(**keys):
    return {"command": "acquire", "network_name": "shared", **keys}


BAD = [
    # bytes that are not a JSON object
    ("not-json", b"hello"),
    ("binary", b"\xff\xfe\x00\x01"),
    ("nul-only", b"\0"),
    ("truncated-json", b'{"command": "status"'),
    ("trailing-garbage", b'{"command": "status"} x'),
    ("array", b'["status"]'),
    ("string", b'"status"'),
    ("number", b"42"),
    ("null", b"null"),
    ("deep-nesting", b"[" * 30000 + b"]" * 30000),
    ("oversized-65KiB", b'{"command": "status"}' + b" " * (65 * 1024 - 21)),
    ("oversized-by-one", b'{"command": "status"}' + b" " * (64 * 1024 - 21 + 1)),
    ("duplicate-key", b'{"command": "status", "command": "status"}'),
    ("nul-in-string", b'{"command": "acquire", "network_name": "sha\\u0000red"}'),
    # command
    ("missing-command", {"network_name": "shared"}),
    ("empty-object", {}),
    ("command-number", {"command": 1}),
    ("command-null", {"command": None}),
    ("command-object", {"command": {"name": "status"}}),
    ("unknown-command", {"command": "explode"}),
    ("command-case", {"command": "STATUS"}),
    ("unknown-key-status", {"command": "status", "verbose": True}),
    ("unknown-key-acquire", acquire(colour="blue")),
    ("network-name-on-status", {"command": "status", "network_name": "shared"}),
    # network_name
    ("missing-network-name", {"command": "acquire"}),
    ("network-name-number", {"command": "acquire", "network_name": 5}),
    ("network-name-null", {"command": "acquire", "network_name": None}),
    ("network-name-list", {"command": "acquire", "network_name": ["shared"]}),
    ("name-empty", acquire(network_name="")),
    ("name-slash", acquire(network_name="a/b")),
    ("name-leading-slash", acquire(network_name="/shared")),
    ("name-dotdot", acquire(network_name="..")),
    ("name-dotdot-path", acquire(network_name="../shared")),
    ("name-inner-dotdot", acquire(network_name="a..b")),
    ("name-leading-dot", acquire(network_name=".shared")),
    ("name-leading-dash", acquire(network_name="-shared")),
    ("name-newline", acquire(network_name="sha\nred")),
    ("name-control", acquire(network_name="sha\x01red")),
    ("name-del", acquire(network_name="shared\x7f")),
    ("name-space", acquire(network_name="sha red")),
    ("name-non-ascii", acquire(network_name="shar\u00e9d")),
    ("name-65-bytes", acquire(network_name="a" * 65)),
    ("name-4096-bytes", acquire(network_name="a" * 4096)),
    # port
    ("port-unknown", acquire(port="bogus")),
    ("port-case", acquire(port="TAP")),
    ("port-number", acquire(port=1)),
    ("port-null", acquire(port=None)),
    # mac
    ("mac-short", acquire(mac="52:54:00:12:34")),
    ("mac-long", acquire(mac="52:54:00:12:34:56:78")),
    ("mac-dashes", acquire(mac="52-54-00-12-34-56")),
    ("mac-not-hex", acquire(mac="52:54:00:12:34:5g")),
    ("mac-multicast", acquire(mac="01:00:5e:00:00:01")),
    ("mac-broadcast", acquire(mac="ff:ff:ff:ff:ff:ff")),
    ("mac-zero", acquire(mac="00:00:00:00:00:00")),
    ("mac-number", acquire(mac=525400123456)),
    ("mac-empty", acquire(mac="")),
    # other keys
    ("label-too-long", acquire(label="x" * 65)),
    ("label-control", acquire(label="vm\n1")),
    ("label-number", acquire(label=1)),
    ("ifname-on-tap", acquire(port="tap", ifname="eth0")),
    ("ifname-too-long", acquire(port="netns", ifname="a" * 16)),
    ("ifname-slash", acquire(port="netns", ifname="a/b")),
    ("ifname-empty", acquire(port="netns", ifname="")),
    ("vnet-hdr-string", acquire(vnet_hdr="yes")),
    ("vnet-hdr-on-none", acquire(port="none", vnet_hdr=True)),
    ("multi-queue-zero", acquire(multi_queue=0)),
    ("multi-queue-17", acquire(multi_queue=17)),
    ("multi-queue-string", acquire(multi_queue="2")),
    # port_forwards: as in the network file, minus internal_address
    ("forwards-object", acquire(port_forwards={"protocol": "tcp"})),
    ("forwards-internal-address", acquire(port_forwards=[
        {"protocol": "tcp", "external_port": 2222, "internal_port": 22,
         "internal_address": "192.168.64.2"}])),
    ("forwards-unknown-key", acquire(port_forwards=[
        {"protocol": "tcp", "external_port": 2222, "internal_port": 22, "x": 1}])),
    ("forwards-sctp", acquire(port_forwards=[
        {"protocol": "sctp", "external_port": 2222, "internal_port": 22}])),
    ("forwards-port-zero", acquire(port_forwards=[
        {"protocol": "tcp", "external_port": 0, "internal_port": 22}])),
    ("forwards-port-65536", acquire(port_forwards=[
        {"protocol": "udp", "external_port": 2222, "internal_port": 65536}])),
    ("forwards-missing-port", acquire(port_forwards=[{"protocol": "tcp", "external_port": 1}])),
    ("forwards-twice", acquire(port_forwards=[
        {"protocol": "tcp", "external_port": 2222, "internal_port": 22},
        {"protocol": "tcp", "external_port": 2222, "internal_port": 23}])),
    ("forwards-17", acquire(port_forwards=[
        {"protocol": "tcp", "external_port": 2000 + i, "internal_port": 22} for i in range(17)])),
    ("forwards-on-none", acquire(port="none", port_forwards=[
        {"protocol": "tcp", "external_port": 2222, "internal_port": 22}])),
]


@pytest.mark.parametrize("message", [m for _, m in BAD], ids=[i for i, _ in BAD])
def test_bad_request_is_invalid(quiet, message):
    broker, base = quiet
    with vmnet_broker.Connection(broker.socket, timeout=10) as sock:
        sock.send(message)
        reply, fds = sock.receive()
    assert fds == []
    assert reply.get("error") == INVALID, reply
    assert isinstance(reply.get("message"), str) and reply["message"], reply
    base.check()


# What JSON Schema cannot say: a protocol and external port once per request.
SCHEMA_BLIND = {"forwards-twice"}


@pytest.mark.parametrize("message", [m for i, m in BAD if isinstance(m, dict)
                                     and i not in SCHEMA_BLIND],
                         ids=[i for i, m in BAD if isinstance(m, dict) and i not in SCHEMA_BLIND])
def test_schema_refuses_every_bad_request(message):
    """protocol/schema/request.schema.json refuses what the daemon refuses."""
    assert SCHEMAS.errors("request", message), "the schema takes %r" % message


GOOD_EDGES = [
    ("name-64-bytes", acquire(network_name="a" * 64), NOT_FOUND),
    ("name-all-characters", acquire(network_name="A.b-c_9"), NOT_FOUND),
    ("message-of-64KiB", b'{"command": "status"}' + b" " * (64 * 1024 - 21), None),
]


@pytest.mark.parametrize("message,code", [(m, c) for _, m, c in GOOD_EDGES],
                         ids=[i for i, _, _ in GOOD_EDGES])
def test_edge_of_valid(quiet, message, code):
    broker, base = quiet
    reply = broker.request(message)
    if code is None:
        assert "error" not in reply and "networks" in reply, reply
    else:
        assert reply.get("error") == code, reply
    base.check()


def test_connection_carries_many_requests_after_an_error(quiet):
    broker, base = quiet
    with vmnet_broker.Connection(broker.socket, timeout=10) as sock:
        sock.send(acquire(network_name="a/b"))
        assert sock.receive()[0]["error"] == INVALID
        sock.send({"command": "status"})
        assert "networks" in sock.receive()[0]
        sock.send({"command": "networks"})
        assert "networks" in sock.receive()[0]
    base.check()


# ---------------------------------------------------------------- fds

def test_netns_without_fd(quiet):
    broker, base = quiet
    reply = broker.request(acquire(port="netns"))
    assert reply.get("error") == INVALID, reply
    base.check()


def test_netns_with_regular_file_fd(quiet, topo):
    broker, base = quiet
    path = os.path.join(topo.tmp, "regular")
    with open(path, "w") as f:
        f.write("not a namespace")
    fd = os.open(path, os.O_RDONLY)
    try:
        reply = broker.request(acquire(port="netns"), fds=[fd])
    finally:
        os.close(fd)
    assert reply.get("error") == INVALID, reply
    base.check()


def test_netns_with_other_namespace_type_fd(quiet):
    broker, base = quiet
    fd = os.open("/proc/self/ns/uts", os.O_RDONLY)
    try:
        reply = broker.request(acquire(port="netns"), fds=[fd])
    finally:
        os.close(fd)
    assert reply.get("error") == INVALID, reply
    base.check()


def test_netns_with_several_fds(quiet, topo):
    broker, base = quiet
    g = topo.guest("g")
    fds = [os.open(g.path, os.O_RDONLY), os.open(g.path, os.O_RDONLY)]
    try:
        reply = broker.request(acquire(port="netns"), fds=fds)
    finally:
        for fd in fds:
            os.close(fd)
    assert reply.get("error") == INVALID, reply
    assert [link["ifname"] for link in ip_json(g.ns, "link", "show")] == ["lo"]
    base.check()


@pytest.mark.parametrize("count", [2, 16, 40])
def test_netns_with_too_many_fds(quiet, count):
    """More fds than a request may carry; past 16 the daemon's cmsg buffer is
    truncated (MSG_CTRUNC) and it must still close the ones it got."""
    broker, base = quiet
    fds = [os.open("/dev/null", os.O_RDONLY) for _ in range(count)]
    try:
        reply = broker.request(acquire(port="netns"), fds=fds)
    finally:
        for fd in fds:
            os.close(fd)
    assert reply.get("error") == INVALID, reply
    base.check()


def test_fds_on_a_message_that_is_not_json(quiet):
    broker, base = quiet
    fds = [os.open("/dev/null", os.O_RDONLY) for _ in range(3)]
    try:
        reply = broker.request(b"garbage", fds=fds)
    finally:
        for fd in fds:
            os.close(fd)
    assert reply.get("error") == INVALID, reply
    base.check()


@pytest.mark.parametrize("req", [{"command": "status"}, {"command": "networks"},
                                 acquire(port="tap"), acquire(port="none")],
                         ids=["status", "networks", "tap", "none"])
def test_fd_on_a_request_that_takes_none(quiet, topo, req):
    broker, base = quiet
    g = topo.guest("g")
    fd = os.open(g.path, os.O_RDONLY)
    try:
        reply = broker.request(req, fds=[fd])
    finally:
        os.close(fd)
    assert reply.get("error") == INVALID, reply
    base.check()


# ---------------------------------------------------------------- misbehaving clients

def test_silent_client_does_not_block_others(quiet):
    broker, base = quiet
    silent = [vmnet_broker.Connection(broker.socket, timeout=10) for _ in range(3)]
    try:
        t = time.monotonic()
        assert "networks" in broker.request({"command": "status"}, timeout=5)
        assert time.monotonic() - t < 2
        reply, fds = broker.acquire_tap()
        for fd in fds:
            os.close(fd)
    finally:
        for s in silent:
            s.close()
    base.check()


def test_client_that_sent_half_then_hung_up(quiet):
    """SEQPACKET has no half message: a client that sends and shuts down its write side."""
    broker, base = quiet
    with vmnet_broker.Connection(broker.socket, timeout=10) as sock:
        sock.send({"command": "status"})
        sock.socket.shutdown(socket.SHUT_WR)
        reply, _ = sock.receive()
        assert "networks" in reply
    base.check()


@pytest.mark.parametrize("port", ["tap", "none"])
def test_client_closes_before_reading_the_reply(quiet, port):
    broker, base = quiet
    for _ in range(3):
        sock = vmnet_broker.Connection(broker.socket, timeout=10)
        sock.send(acquire(port=port))
        sock.close()
    wait_until(lambda: not [n for n in broker.links() if n["ifname"].startswith("vmtap")],
               timeout=5, what="the TAPs to disappear")
    wait_until(lambda: all(not n.get("leases") for n in broker.status()["networks"]),
               timeout=5, what="no lease left")
    base.check()


def test_many_bad_requests_on_one_connection(quiet):
    broker, base = quiet
    with vmnet_broker.Connection(broker.socket, timeout=10) as sock:
        for _ in range(200):
            sock.send(b"nope")
            assert sock.receive()[0]["error"] == INVALID
    base.check()


def test_pipelined_requests_are_answered_in_order(quiet):
    broker, base = quiet
    reqs = [{"command": "status"}, acquire(network_name="nosuch"), b"x",
            {"command": "networks"}]
    with vmnet_broker.Connection(broker.socket, timeout=10) as sock:
        for r in reqs:
            sock.send(r)
        replies = [sock.receive()[0] for _ in reqs]
    assert "networks" in replies[0] and "version" in replies[0]
    assert replies[1]["error"] == NOT_FOUND
    assert replies[2]["error"] == INVALID
    assert "networks" in replies[3] and any(n["name"] == "host" for n in replies[3]["networks"])
    base.check()


def test_error_reply_shape(quiet):
    broker, base = quiet
    reply = broker.request(b"{")
    assert set(reply) == {"error", "message"}
    assert isinstance(reply["error"], int)
    json.dumps(reply)
    base.check()
