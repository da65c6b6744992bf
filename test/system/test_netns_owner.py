"""A `netns` port goes only into a namespace the caller owns."""
import json
import os

from conftest import (AS_NOBODY, CLI, NOBODY_UID, PYTHON, PYTHON_ENV, REPO, as_user, ip_json, run,
                      wait_until)

OTHER_UID = 1000  # need not exist in /etc/passwd
# Sends a request as it is, through the vmnet_broker package.
RAW_RUNNER = os.path.join(REPO, "test", "conformance", "runner.py")


def raw_as(uid, broker, request, fds):
    """One raw request as @uid, sending the inherited @fds."""
    p = run(as_user(uid) + [PYTHON, "-B", RAW_RUNNER, broker.socket, "--raw",
                            json.dumps(request), *map(str, fds)], pass_fds=fds, env=PYTHON_ENV)
    out = json.loads(p.stdout)
    assert "reply" in out, out
    return out["reply"]


NETNS_ACQUIRE = {"command": "acquire", "network_name": "shared", "port": "netns"}


def user_namespace(topo, uid):
    """A process of @uid sitting in a user+network namespace of its own."""
    p = topo.spawn(as_user(uid) + ["unshare", "-Urn", "sleep", "120"])
    mine = os.readlink("/proc/self/ns/net")
    wait_until(lambda: os.path.exists("/proc/%d/ns/net" % p.pid)
               and os.readlink("/proc/%d/ns/net" % p.pid) != mine,
               what="the unshared namespace")
    return p


def links_in(pid):
    p = run(["nsenter", "--net=/proc/%d/ns/net" % pid, "ip", "-j", "link", "show"])
    return [link["ifname"] for link in json.loads(p.stdout)]


def test_non_root_cannot_use_a_root_namespace_cli(broker, topo):
    g = topo.guest("g")
    p = broker.cli("acquire", "shared", "--port", "netns", "--netns", g.path,
                   user=NOBODY_UID, check=False)
    assert p.returncode != 0
    assert "VMNET_BROKER_NOT_ALLOWED" in p.stdout + p.stderr, p.stdout + p.stderr
    assert [link["ifname"] for link in ip_json(g.ns, "link", "show")] == ["lo"]
    assert broker.leases() == []


def test_non_root_cannot_use_a_root_namespace_raw(broker, topo):
    g = topo.guest("g")
    fd = os.open(g.path, os.O_RDONLY)
    try:
        reply = raw_as(NOBODY_UID, broker, NETNS_ACQUIRE, [fd])
    finally:
        os.close(fd)
    assert reply.get("error") == 3, reply
    assert [link["ifname"] for link in ip_json(g.ns, "link", "show")] == ["lo"]


def test_non_root_cannot_use_another_users_namespace(broker, topo):
    """Holding an fd is not owning: uid 1000's namespace, passed by nobody."""
    holder = user_namespace(topo, OTHER_UID)
    fd = os.open("/proc/%d/ns/net" % holder.pid, os.O_RDONLY)
    try:
        reply = raw_as(NOBODY_UID, broker, NETNS_ACQUIRE, [fd])
        assert reply.get("error") == 3, reply
        assert links_in(holder.pid) == ["lo"]
        # Its owner may.
        reply = raw_as(OTHER_UID, broker, NETNS_ACQUIRE, [fd])
        assert "error" not in reply, reply
        assert "eth0" in links_in(holder.pid)
    finally:
        os.close(fd)
    [lease] = broker.leases()
    assert lease["uid"] == OTHER_UID
    holder.kill()
    holder.wait()
    wait_until(lambda: broker.leases() == [], what="the lease to end with the namespace")


def test_root_may_use_any_namespace(broker, topo):
    holder = user_namespace(topo, OTHER_UID)
    fd = os.open("/proc/%d/ns/net" % holder.pid, os.O_RDONLY)
    try:
        reply = broker.request(NETNS_ACQUIRE, fds=[fd])
    finally:
        os.close(fd)
    assert "error" not in reply, reply
    assert "eth0" in links_in(holder.pid)


def test_non_root_in_own_namespace_succeeds(broker):
    script = ('"$0" --socket "$1" acquire shared --port netns --netns /proc/self/ns/net '
              '--label own --json && echo ===== && ip -j link show dev eth0')
    p = run(AS_NOBODY + ["unshare", "-Urn", "sh", "-c", script, CLI, broker.socket])
    acquired, link = p.stdout.split("=====")
    reply = json.loads(acquired)
    port = reply["network"]["port"]
    assert port["kind"] == "netns"
    [eth0] = json.loads(link)
    assert eth0["address"] == port["mac"]
    # The namespace died with the shell, and with it the lease.
    wait_until(lambda: broker.leases() == [], what="the lease to end")
