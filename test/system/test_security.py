"""What an unprivileged user can do to the daemon, the host and other users
(issue 16, the security review): one test per finding, each asserting the
behaviour the fix must bring.

Non-root clients connect through connect_as(): a child runs as the user
(setpriv, as conftest's as_user()), connects, and passes the connected
sockets back, so the daemon sees that user in SO_PEERCRED while the test
keeps the sockets. Everything runs in the namespaces of the `topo` fixture;
"the host" of the daemon is its namespace, and "outside" is the upstream
namespace on TEST-NET-3.

Each test failed before its fix (they were xfail(strict=True) until then);
docs/design.md, *Who may do what*, says what they protect.
"""
import fcntl
import json
import os
import shlex
import socket
import stat
import struct
import subprocess
import termios
import threading
import time

import pytest

import vmnet_broker
from vmnet_broker import Status
from conftest import (CLI, NOBODY_UID, PYTHON, UPLINK_UPSTREAM, Broker, as_user, run, wait_until)
from test_config import LAB, from_upstream, lab, write

OTHER_UID = 64010  # a user with nothing: not root, not nobody, not dnsmasq's
TUNSETIFF = 0x400454CA
TUNSETPERSIST = 0x400454CB
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000


# ----------------------------------------------------------------- helpers

CONNECTOR = r"""
import socket, sys
path, back, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
out = socket.socket(fileno=back)
socks = []
for _ in range(count):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(path)
    socks.append(s)
for i in range(0, count, 200):
    socket.send_fds(out, [b"x"], [s.fileno() for s in socks[i:i + 200]])
"""


class Theirs(vmnet_broker.Connection):
    """A vmnet_broker.Connection over a socket that another process connected."""

    def __init__(self, sock, path, timeout=10):
        self.path = path
        self._sock = sock
        sock.settimeout(timeout)


def connect_as(broker, uid, count=1):
    """@count connections to @broker made by @uid (the daemon's SO_PEERCRED
    says @uid), handed to the test: a list of sockets, the caller's to close."""
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    got = []
    try:
        run([*as_user(uid), PYTHON, "-B", "-c", CONNECTOR, broker.socket,
             str(theirs.fileno()), str(count)], pass_fds=[theirs.fileno()])
        theirs.close()
        mine.settimeout(10)
        while len(got) < count:
            _, fds, _, _ = socket.recv_fds(mine, 16, 253)
            if not fds:
                break
            got += fds
    finally:
        theirs.close()
        mine.close()
    socks = [Theirs(socket.socket(fileno=fd), broker.socket) for fd in got]
    assert len(socks) == count, "connected %d of %d" % (len(socks), count)
    return socks


def close_all(things):
    for t in things:
        try:
            t.close() if hasattr(t, "close") else os.close(t)
        except OSError:
            pass


def ask(sock, req, fds=()):
    """One request on an open connection: (reply, [fds]); the fds are the caller's."""
    return sock.request(req, fds)


def acquire(sock, network="shared", port="tap", **keys):
    return ask(sock, {"command": "acquire", "network_name": network, "port": port, **keys})


def acquire_as(broker, uid, network="shared", port="tap", **keys):
    """An acquire by @uid on a connection of its own: (reply, fds, sock)."""
    [sock] = connect_as(broker, uid)
    try:
        reply, fds = acquire(sock, network, port, **keys)
    except BaseException:
        sock.close()
        raise
    return reply, fds, sock


def served(broker, uid=None):
    """Whether a status request (as @uid, or as root) gets a status back."""
    try:
        if uid is None:
            reply = broker.request({"command": "status"}, timeout=5)
        else:
            [sock] = connect_as(broker, uid)
            with sock:
                reply, _ = ask(sock, {"command": "status"})
    except vmnet_broker.ConnectionFailure:
        return False
    return "networks" in reply


def settle(socks):
    """Send `status` on each connection and read the answer: the served ones."""
    ok = []
    for s in socks:
        try:
            reply, _ = ask(s, {"command": "status"})
        except vmnet_broker.ConnectionFailure:
            continue
        if "networks" in reply:
            ok.append(s)
        else:
            assert reply.get("error") == Status.LIMIT_EXCEEDED, reply
    return ok


def tcp(external, internal=None):
    return {"protocol": "tcp", "external_port": external,
            "internal_port": internal or external}


def networks_as(broker, uid=None):
    """The raw `networks` reply, asked by @uid (root by default)."""
    if uid is None:
        return broker.request({"command": "networks"})
    [sock] = connect_as(broker, uid)
    with sock:
        return ask(sock, {"command": "networks"})[0]


def entry(reply, name):
    for n in reply["networks"]:
        if n.get("name") == name:
            return n
    return None


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def soft_nofile(pid):
    with open("/proc/%d/limits" % pid) as f:
        for line in f:
            if line.startswith("Max open files"):
                return int(line.split()[3])
    raise AssertionError("no open files limit for %d" % pid)


TUN_HOLDER = r"""
import fcntl, os, struct, sys, time
# Distributions make /dev/net/tun 0666; where it is 0600 root opens it for
# the user, and the user attaches: TUNSETIFF checks the caller, not the opener.
fd = os.open("/dev/net/tun", os.O_RDWR)
uid = int(sys.argv[2])
os.setgroups([])
os.setresgid(uid, uid, uid)
os.setresuid(uid, uid, uid)
fcntl.ioctl(fd, %d, struct.pack("16sH22x", sys.argv[1].encode(), %d))
print("held", flush=True)
time.sleep(600)
""" % (TUNSETIFF, IFF_TAP | IFF_NO_PI)


def hold_tap(topo, broker, ifname, uid):
    """A process of @uid in the daemon's namespace with TAP @ifname open."""
    p = topo.spawn(["ip", "netns", "exec", broker.ns, PYTHON, "-B", "-c", TUN_HOLDER, ifname,
                    str(uid)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    line = p.stdout.readline()
    assert line.strip() == b"held", (line, p.stderr.read() if p.poll() is not None else b"")
    return p


def release(p):
    p.kill()
    p.wait(5)


# ----------------------------------------------------------------- 16.1 forwards

def test_member_cannot_forward_a_privileged_port(broker, topo):
    topo.tcp_listener(broker.ns, "0.0.0.0", 22)  # the host's "sshd"
    assert from_upstream(broker, 22) == UPLINK_UPSTREAM
    reply, fds, sock = acquire_as(broker, NOBODY_UID, port_forwards=[tcp(22)])
    try:
        # From outside, port 22 must still be the host's.
        assert from_upstream(broker, 22) == UPLINK_UPSTREAM, \
            "port 22 of the host answers the guest: %s" % reply
        assert reply.get("error") == Status.NOT_ALLOWED, reply
        assert "22" in reply["message"], reply
    finally:
        close_all(fds + [sock])
    # Root keeps full control.
    reply, fds = broker.request_fds({"command": "acquire", "network_name": "shared",
                                     "port_forwards": [tcp(22)]})
    close_all(fds)
    assert "error" not in reply, reply


def test_member_cannot_forward_a_port_the_host_listens_on(broker, topo):
    topo.tcp_listener(broker.ns, "0.0.0.0", 8080)
    reply, fds, sock = acquire_as(broker, NOBODY_UID, port_forwards=[tcp(8080, 80)])
    try:
        assert from_upstream(broker, 8080) == UPLINK_UPSTREAM, \
            "port 8080 of the host answers the guest: %s" % reply
        assert reply.get("error") == Status.CONFLICT, reply
        assert "8080" in reply["message"], reply
    finally:
        close_all(fds + [sock])
    # A free unprivileged port is fine.
    reply, fds, sock = acquire_as(broker, NOBODY_UID, port_forwards=[tcp(8081, 80)])
    close_all(fds + [sock])
    assert "error" not in reply, reply


def test_host_service_binding_a_forwarded_port_later_is_reported(broker, topo):
    reply, fds, sock = acquire_as(broker, NOBODY_UID, port_forwards=[tcp(8090)])
    try:
        assert "error" not in reply, reply
        topo.tcp_listener(broker.ns, "0.0.0.0", 8090)

        def flagged():
            for lease in broker.leases("shared"):
                for f in lease.get("port_forwards", []):
                    if f["external_port"] == 8090 and f.get("host_listener") is True:
                        return True
            return False
        wait_until(flagged, timeout=5, what="status to flag forward 8090 as shadowing a "
                   "host service (\"host_listener\": true)")
        assert [line for line in broker.log().splitlines()
                if "8090" in line and "listen" in line.lower()], "nothing logged about 8090"
        text = broker.cli("status").stdout
        assert [line for line in text.splitlines()
                if "forward tcp 8090" in line and "host service listens" in line], text
    finally:
        close_all(fds + [sock])


def test_network_file_policy_for_acquire_forwards(broker):
    write(broker, "ranged", lab(lease_port_forwards={
        "port_range": "20000-20099", "allowed_users": [str(NOBODY_UID)]}))
    write(broker, "closed", {"mode": "shared", "subnet": "10.78.0.1", "mask": "255.255.255.0",
                             "lease_port_forwards": {"allowed": False}})
    results = {}
    for net, uid, port in (("ranged", NOBODY_UID, 20050), ("ranged", NOBODY_UID, 30000),
                           ("ranged", OTHER_UID, 20051), ("closed", NOBODY_UID, 20052)):
        reply, fds, sock = acquire_as(broker, uid, net, port_forwards=[tcp(port)])
        close_all(fds + [sock])
        results[(net, uid, port)] = reply.get("error", 0), reply
    assert results[("ranged", NOBODY_UID, 20050)][0] == 0, results
    assert results[("ranged", NOBODY_UID, 30000)][0] == Status.NOT_ALLOWED, results
    assert results[("ranged", OTHER_UID, 20051)][0] == Status.NOT_ALLOWED, results
    assert results[("closed", NOBODY_UID, 20052)][0] == Status.NOT_ALLOWED, results
    # Root is not bound by the file's policy.
    reply, fds = broker.request_fds({"command": "acquire", "network_name": "closed",
                                     "port_forwards": [tcp(20053)]})
    close_all(fds)
    assert "error" not in reply, reply


# ----------------------------------------------------------------- 16.2 connections

def test_one_user_cannot_take_every_connection(topo):
    b = topo.broker(topo.netns("d"), extra_args=["--max-connections", "40",
                                                 "--client-timeout", "60"])
    socks = []
    try:
        socks += connect_as(b, NOBODY_UID, 40)
        held = settle(socks)
        assert len(held) < 40, "one uid holds all 40 connections"
        assert served(b, OTHER_UID), "another user is locked out"
        assert served(b), "root is locked out"
        # Many users together still leave root a reserve.
        for uid in range(OTHER_UID + 1, OTHER_UID + 7):
            more = connect_as(b, uid, 10)
            socks += more
            settle(more)
        assert served(b), "root is locked out by several users together"
    finally:
        close_all(socks)
    wait_until(lambda: served(b, NOBODY_UID), what="the daemon to serve again")


def test_idle_connections_holding_nothing_are_dropped(topo):
    b = topo.broker(topo.netns("d"), extra_args=["--client-timeout", "2"])
    idle, holder = connect_as(b, NOBODY_UID, 2)
    with idle, holder:
        assert "networks" in ask(idle, {"command": "status"})[0]
        reply, _ = acquire(holder, port="none")
        assert "error" not in reply, reply
        t0 = time.monotonic()
        try:
            data = idle.socket.recv(100)
        except socket.timeout:
            data = None
        assert data == b"", "an idle connection that holds nothing stayed open %.0f s" \
            % (time.monotonic() - t0)
        # One that holds a lease is its owner's business.
        assert "networks" in ask(holder, {"command": "status"})[0]
        assert [le["kind"] for le in b.leases()] == ["none"]


# ----------------------------------------------------------------- 16.3 TAPs that stay

@pytest.mark.broker(extra_args=["--max-ports-per-user", "1"])
def test_named_tap_held_open_is_removed_later_and_counted_meanwhile(broker, topo):
    reply, _, conn = acquire_as(broker, NOBODY_UID, port="named_tap")
    holder = None
    try:
        assert "error" not in reply, reply
        ifname = reply["network"]["port"]["ifname"]
        holder = hold_tap(topo, broker, ifname, NOBODY_UID)
        conn.close()
        time.sleep(0.5)  # for the daemon to see the close
        if broker.link(ifname) is not None:
            # Still there while its holder has it: it is still the user's port.
            again, fds, sock = acquire_as(broker, NOBODY_UID)
            close_all(fds + [sock])
            assert again.get("error") == Status.LIMIT_EXCEEDED, \
                "TAP %s outlives its lease uncounted: %s" % (ifname, again)
        release(holder)
        wait_until(lambda: broker.link(ifname) is None, timeout=5,
                   what="the named TAP to go once its holder closed it")
        again, fds, sock = acquire_as(broker, NOBODY_UID)
        close_all(fds + [sock])
        assert "error" not in again, again
    finally:
        conn.close()
        if holder:
            release(holder)
        for link in broker.links():
            if link["ifname"].startswith("vmtap"):
                broker.ip("link", "del", link["ifname"], check=False)


PERSIST = r"""
import fcntl, sys
fcntl.ioctl(int(sys.argv[1]), %d, 1)
""" % TUNSETPERSIST


def test_tap_made_persistent_by_its_holder_is_removed(broker):
    reply, fds, sock = acquire_as(broker, NOBODY_UID)
    ifname = None
    try:
        assert "error" not in reply, reply
        ifname = reply["network"]["port"]["ifname"]
        run([*as_user(NOBODY_UID), PYTHON, "-B", "-c", PERSIST, str(fds[0])], pass_fds=fds)
        # Checked while the test still holds it: once it lets go, the daemon may be quick.
        assert broker.link(ifname)["linkinfo"]["info_data"]["persist"] is True
        close_all(fds + [sock])
        wait_until(lambda: broker.link(ifname) is None, timeout=5,
                   what="the TAP its holder made persistent to go once the holder left")
        wait_until(lambda: broker.leases() == [], what="its lease to end")
    finally:
        close_all(fds + [sock])
        if ifname:
            broker.ip("link", "del", ifname, check=False)


# ----------------------------------------------------------------- 16.4 reserved ports

def test_ports_of_network_files_are_reserved(broker):
    write(broker, "lab", lab(port_forwards=[
        {"protocol": "tcp", "external_port": 2222, "internal_address": LAB + ".10",
         "internal_port": 22}]))
    reply, fds = broker.request_fds({"command": "acquire", "network_name": "shared",
                                     "port_forwards": [tcp(2222)]})
    try:
        assert reply.get("error") == Status.CONFLICT, reply
        assert "'lab'" in reply["message"], reply
        made = broker.request({"command": "acquire", "network_name": "lab", "port": "none"})
        assert "error" not in made, made
    finally:
        close_all(fds)


# ----------------------------------------------------------------- 16.5 out of fds

def test_out_of_fds_does_not_spin_and_recovers(broker):
    limit = broker.fd_count() + 6
    run(["prlimit", "--pid", str(broker.pid), "--nofile=%d:%d" % (limit, limit)])
    socks = []
    try:
        for _ in range(30):
            socks.append(broker.connect())
        time.sleep(0.3)
        log0 = os.path.getsize(broker.log_path)
        cpu0 = cpu_seconds(broker.pid)
        time.sleep(1.5)
        cpu = cpu_seconds(broker.pid) - cpu0
        grown = os.path.getsize(broker.log_path) - log0
        log = broker.log()
        assert cpu < 0.3 and grown < 64 * 1024, \
            "out of fds: %.2f s of CPU and %d bytes of log in 1.5 s" % (cpu, grown)
        assert "Too many open files" in log and "accept connection: Success" not in log
    finally:
        close_all(socks)
    wait_until(lambda: served(broker), timeout=10, what="the daemon to serve again")


def test_soft_fd_limit_is_raised_for_max_connections(topo):
    b = Broker(topo, topo.netns("d"))
    topo.brokers.append(b)
    plain = b.argv
    b.argv = lambda: ["prlimit", "--nofile=256:4096", "--", *plain()]
    b.start()
    assert soft_nofile(b.pid) >= 1024 + 64, "soft limit %d for 1024 connections" \
        % soft_nofile(b.pid)


# ----------------------------------------------------------------- 16.6 file owners

GOOD = {"mode": "host", "subnet": "10.79.0.1", "mask": "255.255.255.0"}


def reasons(reply, name):
    e = entry(reply, name)
    return " | ".join(x["reason"] for x in e["errors"]) if e else None


def test_network_files_others_can_write_are_refused(broker):
    owned = write(broker, "owned", GOOD)
    os.chown(owned, NOBODY_UID, NOBODY_UID)
    loose = write(broker, "loose", dict(GOOD, subnet="10.79.1.1"))
    os.chmod(loose, 0o666)
    for name in ("owned", "loose"):
        reply = broker.request({"command": "acquire", "network_name": name, "port": "none"})
        assert reply.get("error") == Status.NOT_FOUND, (name, reply)
    nets = networks_as(broker)
    assert "uid %d" % NOBODY_UID in (reasons(nets, "owned") or ""), entry(nets, "owned")
    assert "writable" in (reasons(nets, "loose") or ""), entry(nets, "loose")
    p = run([CLI, "check-config", broker.config_dir], check=False)
    assert p.returncode == 1 and "owned.json" in p.stdout and "loose.json" in p.stdout, p.stdout


def test_network_files_in_a_directory_others_can_write_are_refused(topo):
    d = topo.netns("d")
    loose = topo.broker(d, start=False)
    os.chmod(loose.config_dir, 0o777)
    owned = topo.broker(d, start=False)
    os.chown(owned.config_dir, NOBODY_UID, NOBODY_UID)
    for b in (loose, owned):
        write(b, "lab", GOOD)
        b.start()
        reply = b.request({"command": "acquire", "network_name": "lab", "port": "none"})
        assert reply.get("error") == Status.NOT_FOUND, (b.config_dir, reply)
        assert reasons(networks_as(b), "lab"), "no reason given for %s" % b.config_dir
        b.stop()


# ----------------------------------------------------------------- 16.7 links, special files

SECRET = "SecretTokenXyzzy"  # letters only: jansson quotes a whole word


def test_errors_never_quote_a_file_members_cannot_read(broker, topo):
    secret = os.path.join(topo.tmp, "secret")
    with open(secret, "w") as f:
        f.write(SECRET + " is root's only\n")
    os.chmod(secret, 0o600)
    os.symlink(secret, os.path.join(broker.config_dir, "leak.json"))
    plain = write(broker, "plain", SECRET + " also\n")
    os.chmod(plain, 0o600)
    valued = write(broker, "valued", {"mode": SECRET})  # valid JSON, a bad value
    os.chmod(valued, 0o600)
    reply = networks_as(broker, NOBODY_UID)
    text = json.dumps(reply)
    assert entry(reply, "leak") and entry(reply, "plain") and entry(reply, "valued"), text
    assert SECRET not in text, "a member reads root-only content: %s" % text
    err = acquire_as(broker, NOBODY_UID, "leak", port="none")
    close_all([err[2]])
    assert err[0].get("error") == Status.NOT_FOUND and SECRET not in err[0]["message"], err[0]


def test_symlink_to_a_file_not_owned_by_root_is_refused(broker, topo):
    theirs = os.path.join(topo.tmp, "theirs.json")
    with open(theirs, "w") as f:
        json.dump(GOOD, f)
    os.chown(theirs, NOBODY_UID, NOBODY_UID)
    os.symlink(theirs, os.path.join(broker.config_dir, "theirs.json"))
    reply = broker.request({"command": "acquire", "network_name": "theirs", "port": "none"})
    assert reply.get("error") == Status.NOT_FOUND, reply
    assert reasons(networks_as(broker), "theirs")


def test_special_files_are_not_opened_and_broken_files_keep_their_name(broker, topo):
    cdir = broker.config_dir
    fifo = os.path.join(cdir, "pipe.json")
    os.mkfifo(fifo, 0o644)
    outside = os.path.join(topo.tmp, "fifo")
    os.mkfifo(outside, 0o644)
    os.symlink(outside, os.path.join(cdir, "linked-pipe.json"))
    os.mknod(os.path.join(cdir, "dev.json"), 0o644 | stat.S_IFCHR, os.makedev(1, 3))
    unreadable = write(broker, "unreadable", GOOD)
    os.chmod(unreadable, 0)
    opened = []

    def writer(path):
        fd = os.open(path, os.O_WRONLY)  # blocks until someone opens it to read
        opened.append(path)
        os.close(fd)
    threads = [threading.Thread(target=writer, args=(p,), daemon=True) for p in (fifo, outside)]
    for t in threads:
        t.start()
    try:
        reply = networks_as(broker)
        time.sleep(0.3)
        assert opened == [], "the daemon opened %s" % opened
        names = {n["name"]: n for n in reply["networks"]}
        for name in ("pipe", "linked-pipe", "dev", "unreadable"):
            n = names.get(name)
            assert n and n["errors"] and n["source"] == os.path.join(cdir, name + ".json"), \
                (name, reply)
        assert "" not in names, names[""]
    finally:
        for p in (fifo, outside):  # let the writers go
            try:
                fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK)
                time.sleep(0.05)
                os.close(fd)
            except OSError:
                pass
        for t in threads:
            t.join(2)


def test_file_with_a_non_utf8_name_is_reported(broker):
    path = os.path.join(os.fsencode(broker.config_dir), b"caf\xe9.json")
    with open(path, "w") as f:
        json.dump(GOOD, f)
    reply = networks_as(broker)
    found = [n for n in reply["networks"] if "caf" in n.get("source", "")]
    assert found and found[0]["errors"], reply


# ----------------------------------------------------------------- 16.8 state dir

READ_ALL = r"""
import json, os, sys
out = {}
for root, dirs, files in os.walk(sys.argv[1]):
    for name in files:
        p = os.path.join(root, name)
        try:
            with open(p, "rb") as f:
                out[p] = f.read().decode(errors="replace")
        except OSError:
            pass
print(json.dumps(out))
"""


def test_other_users_cannot_read_lease_details_in_the_state_dir(broker, topo):
    g = topo.guest("g")
    r = broker.acquire_netns(g)
    port = r["network"]["port"]
    assert g.dhcp()["ip"] == port["address"]
    def leased():
        for root, _, files in os.walk(broker.state_dir):
            for f in files:
                if f.endswith(".leases") and port["mac"] in open(os.path.join(root, f)).read():
                    return True
        return False
    wait_until(leased, what="dnsmasq to write its lease file")
    p = run([*as_user(OTHER_UID), PYTHON, "-B", "-c", READ_ALL, broker.state_dir])
    readable = json.loads(p.stdout)
    leaks = sorted(path for path, text in readable.items()
                   if port["mac"] in text or port["address"] in text)
    assert leaks == [], "uid %d reads another user's lease in %s" % (OTHER_UID, leaks)
    # dnsmasq still reads what it must: a second reservation is served.
    g2 = topo.guest("g2")
    r2 = broker.acquire_netns(g2)
    assert g2.dhcp()["ip"] == r2["network"]["port"]["address"]


# ----------------------------------------------------------------- 16.9 cut messages

def test_long_error_message_cut_inside_a_character_is_still_answered(topo):
    # The NOT_FOUND message quotes the config dir; make byte 509 the start
    # of a 3-byte character, so the 511-byte cut splits it.
    name = "nosuch"
    head = "no network named '%s' (no built-in network and no file " % name
    for pad in range(1, 4):
        cdir = os.path.join(topo.tmp, "c" * pad, "\u20ac" * 80, "\u20ac" * 80)
        if (head + cdir).encode()[509] == 0xE2:
            break
    else:
        raise AssertionError("no padding puts a character on the cut")
    os.makedirs(cdir)
    b = topo.broker(topo.netns("d"), extra_args=["--config-dir", cdir])
    try:
        reply = b.request({"command": "acquire", "network_name": name, "port": "none"},
                          timeout=5)
    except vmnet_broker.ConnectionFailure:
        raise AssertionError("no reply to an acquire whose error message is cut in a character")
    assert reply.get("error") == Status.NOT_FOUND, reply
    assert len(reply["message"].encode()) <= 511


# ----------------------------------------------------------------- 16.10 wrong fds

def test_unusable_netns_fds_are_invalid_requests(broker, topo):
    g = topo.guest("g")
    links = broker.link_names()
    codes = {}
    for what, fd in (("O_PATH netns", os.open(g.path, os.O_PATH | os.O_CLOEXEC)),
                     ("/dev/net/tun", os.open("/dev/net/tun", os.O_RDWR | os.O_CLOEXEC))):
        try:
            reply = broker.request({"command": "acquire", "network_name": "shared",
                                    "port": "netns"}, fds=[fd])
        finally:
            os.close(fd)
        codes[what] = reply.get("error"), reply.get("message")
    assert all(c == Status.INVALID_REQUEST for c, _ in codes.values()), codes
    assert "Failed to create netns port" not in broker.log()
    assert broker.link_names() == links


# ----------------------------------------------------------------- 16.11 labels, memory

def test_labels_refuse_c1_controls_and_bidi_overrides(broker):
    for label in ("a\u009b2J", "evil\u202egnp.exe", "x\u2067y", "z\u200fw"):
        reply = broker.request({"command": "acquire", "network_name": "shared",
                                "port": "none", "label": label})
        assert reply.get("error") == Status.INVALID_REQUEST, (ascii(label), reply)
    reply = broker.request({"command": "acquire", "network_name": "shared", "port": "none",
                            "label": "café vm #1"})
    assert "error" not in reply, reply


def test_label_cannot_forge_the_alias_fields(broker):
    label = 'x uid=0 pid=1 "q"'
    reply, fds, sock = acquire_as(broker, NOBODY_UID, label=label)
    try:
        assert "error" not in reply, reply
        alias = broker.link(reply["network"]["port"]["ifname"])["ifalias"]
        fields = shlex.split(alias)
        assert [f for f in fields if f.startswith("uid=")] == ["uid=%d" % NOBODY_UID], alias
        assert len([f for f in fields if f.startswith("pid=")]) == 1, alias
        assert "label=" + label in fields, alias
    finally:
        close_all(fds + [sock])


def queued(sock):
    """Bytes of replies waiting unread on @sock (SIOCINQ sums a SEQPACKET queue)."""
    return struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.FIONREAD, b"\0" * 4))[0]


def test_memory_pinned_by_one_user_is_bounded(broker):
    socks = connect_as(broker, NOBODY_UID, 24)
    try:
        holders = []
        for i, s in enumerate(socks):
            for j in range(8):
                reply, _ = acquire(s, port="none", label=("%02d-%d-" % (i, j)).ljust(64, "x"))
                if "error" in reply:
                    assert reply["error"] == Status.LIMIT_EXCEEDED, reply
                    break
            else:
                holders.append(s)
        # Ask again and again, never reading: the replies wait in the kernel.
        for s in holders:
            s.settimeout(0)
            for _ in range(60):
                try:
                    s.send({"command": "status"})
                except vmnet_broker.ConnectionFailure:  # would block, or closed
                    break
        time.sleep(1)
        pinned = sum(queued(s) for s in holders)
        assert pinned <= 2 * 1024 * 1024, \
            "uid %d pins %.1f MB of replies on %d connections" \
            % (NOBODY_UID, pinned / 1e6, len(holders))
    finally:
        close_all(socks)
    assert served(broker, OTHER_UID) and served(broker)
