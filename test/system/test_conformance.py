"""The conformance suite against the real daemon (protocol/, test/conformance/).

- The same scenarios through every client: the C library, the Go package
  and the Python package (each language's runner), against a daemon in a
  namespace of the test: each port kind, port forwards, a bad request
  refused by the client and one refused by the daemon, an unknown
  network, a refused user, status and networks, and a status of 450
  leases (a reply over 64 KiB). Every success is checked against the
  protocol's schema.
- The daemon against the golden messages: each golden request that says
  how ("daemon"), sent as it is, must get the golden reply: the same code
  and message for an error, the same members and fds for a success.
"""
import json
import os
import subprocess

import pytest

import conformance as cf
from conftest import NOBODY_UID, PYTHON, REPO, as_user, wait_until

LANGS = sorted(cf.RUNNERS)
SCHEMAS = cf.schemas()
PRIVATE = {"mode": "host", "allowed_users": ["root"]}


def run_runner(lang, broker, call, user=None):
    """One call through @lang's client: its outcome (conformance.py says what it holds)."""
    why = cf.runner_missing(lang)
    if why:
        pytest.fail(why, pytrace=False)
    path = os.path.join(broker.topo.tmp, "case-%s.json" % lang)
    with open(path, "w") as f:
        json.dump({"call": call}, f)
    os.chmod(path, 0o644)
    cmd = ([] if user is None else as_user(user)) + cf.RUNNERS[lang] + [broker.socket, path]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=cf.runner_env(),
                       stdin=subprocess.DEVNULL)
    assert p.returncode == 0, "%s runner failed (%d):\n%s\n%s" % (lang, p.returncode, p.stdout,
                                                                   p.stderr)
    out = json.loads(p.stdout)
    assert out.get("leaked_fds") == [], "%s left fds open: %s" % (lang, out["leaked_fds"])
    return out


def acquired(out, kind, fds=0):
    assert out["status"] == 0, out
    SCHEMAS.validate("acquire-reply", {"network": out["value"]})
    port = out["value"]["port"]
    assert port["kind"] == kind, out
    assert out["fds"] == fds, out
    return out["value"]


@pytest.mark.parametrize("lang", LANGS)
def test_each_port_kind(broker, topo, lang):
    # tap, with two queues: both fds are TAPs, in this process's hands.
    out = run_runner(lang, broker, {"command": "acquire", "network": "shared", "options": {
        "port": "tap", "label": lang + "-tap", "vnet_hdr": True, "multi_queue": 2,
        "mac": "52:54:00:c0:00:01"}})
    net = acquired(out, "tap", fds=2)
    assert out["fd_targets"] == ["/dev/net/tun"] * 2, out
    assert net["port"]["mac"] == "52:54:00:c0:00:01" and net["port"]["address"]
    # The runner is gone, and with it the TAP and the lease.
    wait_until(lambda: not broker.leases(), what="the runner's tap lease to end")

    g = topo.guest("g")
    net = acquired(run_runner(lang, broker, {"command": "acquire", "network": "shared",
                                             "options": {"port": "netns", "netns": g.path,
                                                         "ifname": "eth3", "label": lang}}),
                   "netns")
    assert g.link("eth3")["address"] == net["port"]["mac"]
    [lease] = broker.leases()
    assert lease["label"] == lang and lease["ifname"] == net["port"]["ifname"]

    for kind in ("named_tap", "none"):
        acquired(run_runner(lang, broker, {"command": "acquire", "network": "shared",
                                           "options": {"port": kind}}), kind)
    # Their leases were the runners' connections: only the netns one is left.
    wait_until(lambda: [le["kind"] for le in broker.leases()] == ["netns"],
               what="the connection leases to end")


@pytest.mark.parametrize("lang", LANGS)
def test_port_forwards(broker, lang):
    out = run_runner(lang, broker, {"command": "acquire", "network": "shared", "options": {
        "port": "named_tap", "port_forwards": [["tcp", 2322, 22], ["udp", 5353, 53]]}})
    net = acquired(out, "named_tap")
    fw = net["port"]["port_forwards"]
    assert [(f["protocol"], f["external_port"], f["internal_port"]) for f in fw] == [
        ("tcp", 2322, 22), ("udp", 5353, 53)]
    assert {f["internal_address"] for f in fw} == {net["port"]["address"]}


@pytest.mark.parametrize("lang", LANGS)
def test_persistent_port_release_forwards_and_stop(broker, lang):
    """The calls of issue #18 through each client: a persistent named TAP
    with its own name, forwards added, listed and removed, released; stop."""
    name = "pt-" + lang
    net = acquired(run_runner(lang, broker, {"command": "acquire", "network": "shared",
                                             "options": {"port": "named_tap", "ifname": name,
                                                         "persistent": True}}), "named_tap")
    port = net["port"]
    assert (port["ifname"], port["persistent"]) == (name, True)
    # The runner is gone; the lease is not.
    assert [le["ifname"] for le in broker.leases()] == [name]

    def call(**c):
        out = run_runner(lang, broker, c)
        assert out["status"] == 0, out
        SCHEMAS.validate_reply(c["command"], out["value"])
        return out["value"]
    lease = call(command="forward_add", ifname=name, port_forwards=[["tcp", 2400, 22],
                                                                    ["udp", 2400, 53]])["lease"]
    assert [(f["protocol"], f["external_port"]) for f in lease["port_forwards"]] == [
        ("tcp", 2400), ("udp", 2400)]
    assert call(command="forward_list")["leases"][0]["lease_id"] == port["lease_id"]
    lease = call(command="forward_remove", lease_id=port["lease_id"],
                 port_forwards=[["tcp", 2400]])["lease"]
    assert [f["protocol"] for f in lease["port_forwards"]] == ["udp"]
    out = run_runner(lang, broker, {"command": "forward_remove", "ifname": name,
                                    "port_forwards": [["tcp", 2400]]})
    assert (out["status"], out["name"]) == (5, "VMNET_BROKER_NOT_FOUND"), out
    out = run_runner(lang, broker, {"command": "release", "ifname": name}, user=NOBODY_UID)
    assert (out["status"], out["name"]) == (3, "VMNET_BROKER_NOT_ALLOWED"), out
    assert call(command="release", ifname=name)["lease"]["ifname"] == name
    assert broker.leases() == [] and broker.link(name) is None
    out = run_runner(lang, broker, {"command": "stop", "network": "shared"}, user=NOBODY_UID)
    assert (out["status"], out["name"]) == (3, "VMNET_BROKER_NOT_ALLOWED"), out
    assert call(command="stop", network="shared")["ended_leases"] == []
    assert broker.network("shared") is None


@pytest.mark.parametrize("lang", LANGS)
def test_refusals(broker, topo, lang):
    with open(os.path.join(broker.config_dir, "private.json"), "w") as f:
        json.dump(PRIVATE, f)
    # A bad request the client refuses before sending anything.
    out = run_runner(lang, broker, {"command": "acquire", "network": "a/b"})
    assert (out["status"], out["name"]) == (4, "VMNET_BROKER_INVALID_REQUEST"), out
    # One only the daemon can refuse: port forwards on a host network.
    out = run_runner(lang, broker, {"command": "acquire", "network": "host", "options": {
        "port_forwards": [["tcp", 2222, 22]]}})
    assert out["status"] == 4 and "host network" in out["message"], out
    out = run_runner(lang, broker, {"command": "acquire", "network": "nosuch"})
    assert (out["status"], out["name"]) == (5, "VMNET_BROKER_NOT_FOUND"), out
    assert "nosuch" in out["message"]
    # A refused user: nobody, on a network for root only.
    out = run_runner(lang, broker, {"command": "acquire", "network": "private"}, user=NOBODY_UID)
    assert (out["status"], out["name"]) == (3, "VMNET_BROKER_NOT_ALLOWED"), out
    assert "uid %d" % NOBODY_UID in out["message"]
    assert broker.leases() == []


@pytest.mark.parametrize("lang", LANGS)
def test_status_and_networks(broker, topo, lang):
    g = topo.guest("g")
    broker.acquire_netns(g, label="seen")

    # What the daemon learns of the guest behind the port (its MAC, its
    # SLAAC address) may change between two status: compare a settled one.
    def same():
        out = run_runner(lang, broker, {"command": "status"})
        assert out["status"] == 0, out
        SCHEMAS.validate("status-reply", out["value"])
        return out["value"] == broker.status()
    wait_until(same, timeout=30, interval=1, what="the client's status to be the daemon's")
    out = run_runner(lang, broker, {"command": "networks"})
    assert out["status"] == 0, out
    SCHEMAS.validate("networks-reply", out["value"])
    assert [n["name"] for n in out["value"]["networks"]] == ["host", "shared"]
    # Another user's view: the lease is hidden.
    out = run_runner(lang, broker, {"command": "status"}, user=NOBODY_UID)
    SCHEMAS.validate("status-reply", out["value"])
    [lease] = out["value"]["networks"][0]["leases"]
    assert lease["hidden"] is True and "mac" not in lease


def test_status_over_64k_through_every_client(broker):
    with open(os.path.join(broker.config_dir, "big.json"), "w") as f:
        json.dump({"mode": "host", "subnet": "10.77.0.1", "mask": "255.255.252.0"}, f)
    held = []
    try:
        for i in range(450):
            _, fds = broker.acquire_tap("big", label="vm-%03d-with-a-longer-label" % i)
            held += fds
        want = broker.status()
        assert len(json.dumps(want)) > 65536
        for lang in LANGS:
            out = run_runner(lang, broker, {"command": "status"})
            assert out["status"] == 0, (lang, out.get("message"))
            assert out["value"] == want, lang
    finally:
        for fd in held:
            os.close(fd)


class _Nowhere:
    def __init__(self, topo):
        self.topo = topo
        self.socket = os.path.join(topo.tmp, "no-daemon.sock")


@pytest.mark.parametrize("lang", LANGS)
def test_no_daemon(topo, lang):
    out = run_runner(lang, _Nowhere(topo), {"command": "status"})
    assert (out["status"], out["name"]) == (1, "VMNET_BROKER_CONNECTION_FAILURE"), out
    # Each client says what to do about it, in the same words.
    assert "the vmnet-broker daemon is not running; start it with: sudo systemctl start " \
        "vmnet-brokerd.socket" in out["message"], out


@pytest.mark.parametrize("lang", LANGS)
def test_socket_refuses_the_user(broker, lang):
    os.chmod(broker.socket, 0o600)
    try:
        out = run_runner(lang, broker, {"command": "status"}, user=NOBODY_UID)
    finally:
        os.chmod(broker.socket, 0o666)
    assert (out["status"], out["name"]) == (1, "VMNET_BROKER_CONNECTION_FAILURE"), out
    assert "only root and the members of group 'vmnet-broker' may use the broker; to join " \
        "it: sudo usermod -aG vmnet-broker nobody, then log in again (or run: newgrp " \
        "vmnet-broker)" in out["message"], out


# ----------------------------------------------------------------- golden replies

REPLAY = [(n, c) for n, c in cf.golden_cases() if "daemon" in c]


def shape(v):
    """The members and types of a JSON value, not its values."""
    if isinstance(v, dict):
        return {k: shape(x) for k, x in v.items()}
    if isinstance(v, list):
        return [shape(v[0])] if v else []
    return type(v).__name__


def raw_request(broker, request, fds, uid):
    """Send @request as it is, as @uid: (reply, number of fds)."""
    if uid is None:
        reply, rfds = broker.request_fds(request, fds)
        for fd in rfds:
            os.close(fd)
        return reply, len(rfds)
    p = subprocess.run(as_user(uid) + [PYTHON, "-B", os.path.join(REPO, "test", "conformance",
                                                                  "runner.py"),
                                       broker.socket, "--raw", json.dumps(request),
                                       *map(str, fds)],
                       capture_output=True, text=True, timeout=60, pass_fds=fds,
                       env=cf.runner_env())
    out = json.loads(p.stdout)
    assert "reply" in out, out
    return out["reply"], out["fds"]


@pytest.mark.parametrize("name,case", REPLAY, ids=[n for n, _ in REPLAY])
def test_daemon_gives_the_golden_reply(topo, name, case):
    d = case["daemon"]
    broker = topo.broker(topo.netns("d"), extra_args=d.get("args", []))
    for fname, content in d.get("files", {}).items():
        with open(os.path.join(broker.config_dir, fname), "w") as f:
            json.dump(content, f)
    if "block_hosts_file" in d:
        os.mkdir(os.path.join(broker.state_dir, "dnsmasq", d["block_hosts_file"] + ".hosts.tmp"))
    holds = []
    fds = []
    try:
        for req in d.get("hold", []):
            conn = broker.connect()
            holds.append(conn)
            reply, hfds = conn.request(req)
            fds += hfds
            assert "error" not in reply, reply
        if d.get("netns"):
            g = topo.guest("g")
            fds.append(os.open(g.path, os.O_RDONLY | os.O_CLOEXEC))
            send_fds = [fds[-1]]
        else:
            send_fds = []
        reply, n = raw_request(broker, case["request"], send_fds, d.get("as_uid"))
    finally:
        for c in holds:
            c.close()
        for fd in fds:
            os.close(fd)
    want = case["reply"]
    if "error" in want:
        # The test's directories stand where a real daemon's are.
        msg = reply.get("message", "").replace(broker.config_dir, "/etc/vmnet-broker.d")
        assert (reply.get("error"), msg) == (want["error"], want["message"]), reply
    else:
        SCHEMAS.validate_reply(case["request"]["command"], reply)
        # status' "host" is what this machine has (br_netfilter loaded or
        # not, say): the schema checks it; status-host.json has one whole.
        reply.pop("host", None)
        assert shape(reply) == shape(want), "\n%s\n%s" % (json.dumps(reply), json.dumps(want))
    assert n == case["reply_fds"]


def test_every_daemon_code_is_replayed():
    codes = {c["reply"].get("error", 0) for _, c in REPLAY}
    # INTERNAL_ERROR (7) is out of memory: not to be had on demand.
    assert codes == {0, 3, 4, 5, 6, 8, 9, 10}, sorted(codes)
