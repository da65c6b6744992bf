"""Shared fixtures for the vmnet-broker system tests.

Every test builds its own little world out of network namespaces and never
touches the machine's own namespace:

    upstream ns (203.0.113.2) --veth-- daemon ns (203.0.113.1, vmnet-brokerd,
                                                  bridges, dnsmasq, nftables)
                                         |  vmveth<N> / vmtap<N>
                                       guest namespaces (eth0 from the broker)

The uplink uses TEST-NET-3 (RFC 5737), so no packet can leave for a real
address. Namespaces are named "vmbt-<pytest pid>-<n>-<role>"; a run first
removes the leftovers of runs whose pytest is gone. Each test's daemon log
is attached to the report when the test fails.
"""
import sys

# Keep the checkout clean: no __pycache__ for the test modules or helpers.
sys.dont_write_bytecode = True

import ipaddress  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import select  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import pytest  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path[:0] = [HERE, os.path.join(REPO, "test", "lib"), os.path.join(REPO, "test", "conformance"),
                os.path.join(REPO, "python")]
import conformance  # noqa: E402
import vmnet_broker  # noqa: E402
from vmnet_sandbox import (DHCP_SCRIPT, ip_json, kill_pids, ns_add, ns_delete,  # noqa: E402,F401
                           ns_exists, ns_list, ns_pids, pid_alive, pid_comm, run, wait_until,
                           write_script)
import vmnet_sandbox  # noqa: E402

BUILD = os.environ.get("VMNET_BUILD") or os.path.join(REPO, "build")
DAEMON = os.path.join(BUILD, "vmnet-brokerd")
CLI = os.path.join(BUILD, "vmnet-broker")
LIBRARY = os.path.join(BUILD, "libvmnet-broker.so")
PYTHON = "/usr/bin/python3"
# The tree's Python package, and an environment in which `python3 -m vmnet_broker` finds it.
PYTHON_SRC = os.path.join(REPO, "python")
PYTHON_ENV = dict(os.environ, PYTHONPATH=PYTHON_SRC, PYTHONDONTWRITEBYTECODE="1")

PREFIX = "vmbt-"
RUN = "%s%d-" % (PREFIX, os.getpid())

NOBODY_UID = 65534
# Run a command as an unprivileged user that need not exist in /etc/passwd.
def as_user(uid):
    return ["setpriv", "--reuid=%d" % uid, "--regid=%d" % uid, "--clear-groups"]


AS_NOBODY = as_user(NOBODY_UID)

UPLINK_DAEMON = "203.0.113.1"
UPLINK_UPSTREAM = "203.0.113.2"
DEFAULT_POOL = "192.168.64.0/18"

# Where every daemon of the tests looks for the system bus: nowhere.
NO_BUS = "unix:path=/nonexistent/vmnet-broker-tests-use-no-system-bus"

_ns_counter = itertools.count()
TOPO_KEY = pytest.StashKey()


# ----------------------------------------------------------------- helpers

def sweep_leftovers():
    """Remove namespaces, daemons and temp dirs of earlier test runs that are gone."""
    vmnet_sandbox.sweep(PREFIX, [tempfile.gettempdir()])


def validate_reply(request, reply):
    """Check a reply of the daemon against the protocol's schema, when the
    request was one the schema knows (not bytes made up to be bad)."""
    if not isinstance(request, dict) or not isinstance(reply, dict):
        return
    command = request.get("command")
    if command not in conformance.REPLY_SCHEMAS or conformance.schemas().errors(
            "request", request):
        if "error" in reply:
            conformance.schemas().validate("error-reply", reply)
        return
    conformance.schemas().validate_reply(command, reply)


# ----------------------------------------------------------------- guests

TCP_LISTENER = r"""
import socket, sys
s = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(16)
print("ready", flush=True)
while True:
    c, a = s.accept()
    try:
        c.sendall((a[0] + "\n").encode())
    finally:
        c.close()
"""

TCP_CLIENT = r"""
import socket, sys
try:
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3]))
    print(s.recv(100).decode().strip())
except OSError as e:
    print("error: %s" % e, file=sys.stderr)
    sys.exit(1)
"""


class Guest:
    """A namespace standing in for a VM: the broker puts a veth end in it."""

    def __init__(self, topo, ns):
        self.topo = topo
        self.ns = ns
        self.path = "/run/netns/" + ns

    def __repr__(self):
        return "Guest(%s)" % self.ns

    def exec(self, *cmd, check=True, timeout=30):
        return run(["ip", "netns", "exec", self.ns, *cmd], check=check, timeout=timeout)

    def link(self, ifname="eth0"):
        links = ip_json(self.ns, "-d", "link", "show", "dev", ifname)
        return links[0] if links else None

    def ipv4(self, ifname="eth0"):
        out = []
        for link in ip_json(self.ns, "-4", "addr", "show", "dev", ifname):
            out += [a["local"] for a in link.get("addr_info", [])]
        return out

    def dhcp(self, ifname="eth0", tries=6, expect=True, hostname=None):
        """Run busybox udhcpc once (sending @hostname); return the lease dict, or None."""
        lease_file = os.path.join(self.topo.tmp, "lease-%s-%s" % (self.ns, ifname))
        if os.path.exists(lease_file):
            os.unlink(lease_file)
        env = dict(os.environ, VMBT_LEASE_FILE=lease_file)
        self.exec("ip", "link", "set", "dev", ifname, "up")
        p = run(["ip", "netns", "exec", self.ns, "udhcpc", "-f", "-q", "-n",
                 "-t", str(tries), "-T", "1", "-i", ifname, "-s", self.topo.dhcp_script]
                + (["-x", "hostname:" + hostname] if hostname else []),
                check=False, timeout=tries * 2 + 10, env=env)
        lease = None
        if os.path.exists(lease_file):
            with open(lease_file) as f:
                lease = json.load(f)
        if expect and (p.returncode != 0 or lease is None):
            raise AssertionError("udhcpc in %s got no lease (rc %d)\n%s%s"
                                 % (self.ns, p.returncode, p.stdout, p.stderr))
        return lease

    def ping(self, addr, timeout=6.0):
        """True once @addr answers a ping, False if it never does in @timeout."""
        deadline = time.monotonic() + timeout
        while True:
            p = self.exec("ping", "-n", "-c", "1", "-W", "1", addr, check=False, timeout=10)
            if p.returncode == 0:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)

    def ping_fails(self, addr):
        """True when three pings to @addr get no answer at all."""
        p = self.exec("ping", "-n", "-c", "3", "-i", "0.2", "-W", "1", addr,
                      check=False, timeout=15)
        return p.returncode != 0

    def default_route(self, gateway, ifname="eth0"):
        self.exec("ip", "route", "replace", "default", "via", gateway, "dev", ifname)

    def tcp_peer(self, addr, port, timeout=3.0):
        """Connect to a TCP_LISTENER: the source address it saw, or None."""
        p = self.exec(PYTHON, "-B", "-c", TCP_CLIENT, addr, str(port), str(timeout),
                      check=False, timeout=timeout + 10)
        return p.stdout.strip() if p.returncode == 0 else None


# ----------------------------------------------------------------- daemon

class Broker:
    """One vmnet-brokerd running in a namespace of the test."""

    def __init__(self, topo, ns, idle_timeout=2, subnet_pool=None, extra_args=(), env=None):
        self.topo = topo
        self.ns = ns
        self.dir = tempfile.mkdtemp(prefix="broker-", dir=topo.tmp)
        os.chmod(self.dir, 0o755)
        self.socket = os.path.join(self.dir, "sock")
        self.state_dir = os.path.join(self.dir, "state")
        self.config_dir = os.path.join(self.dir, "config")
        self.resolv = os.path.join(self.dir, "resolv.conf")
        self.log_path = os.path.join(self.dir, "daemon.log")
        os.mkdir(self.state_dir)
        os.mkdir(self.config_dir)
        open(self.resolv, "w").close()
        self.idle_timeout = idle_timeout
        self.subnet_pool = subnet_pool
        self.extra_args = list(extra_args)
        self.env = env  # None: the test's own (no system bus, see _environment())
        self.proc = None
        self.final_log = None
        self.returncode = None

    def argv(self):
        a = [DAEMON, "--socket", self.socket, "--state-dir", self.state_dir,
             "--config-dir", self.config_dir, "--idle-timeout", str(self.idle_timeout),
             "--resolv-file", self.resolv, "--log-level", "debug"]
        if self.subnet_pool:
            a += ["--subnet-pool", self.subnet_pool]
        return a + self.extra_args

    def start(self, timeout=15.0):
        self.final_log = None
        self.returncode = None
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(["ip", "netns", "exec", self.ns, *self.argv()],
                                         stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, env=self.env)

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("vmnet-brokerd exited with %d at start:\n%s"
                                     % (self.proc.returncode, self.log()))
            if not os.path.exists(self.socket):
                return False
            try:
                reply = self.request({"command": "status"}, timeout=2)
            except vmnet_broker.ConnectionFailure:
                return False
            return "networks" in reply
        wait_until(ready, timeout, what="vmnet-brokerd to answer on %s" % self.socket)
        return self

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        """Stop the daemon; return its exit status (negative: killed by a signal)."""
        if self.proc is None:
            return self.returncode
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.returncode = self.proc.returncode
        self.proc = None
        self.final_log = self.log()
        return self.returncode

    def log(self):
        if self.final_log is not None:
            return self.final_log
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return "(no log)"

    def sanitizer_errors(self):
        text = self.log()
        return [line for line in text.splitlines()
                if "ERROR: AddressSanitizer" in line or "ERROR: LeakSanitizer" in line
                or "runtime error:" in line]

    # -- protocol
    def connect(self, timeout=10.0):
        """A connection to the daemon (vmnet_broker.Connection)."""
        return vmnet_broker.Connection(self.socket, timeout)

    def request(self, req, fds=(), timeout=10.0):
        """One request on a fresh connection; fds of the reply are closed."""
        reply, rfds = self.request_fds(req, fds, timeout)
        for fd in rfds:
            os.close(fd)
        return reply

    def request_fds(self, req, fds=(), timeout=10.0):
        """One request on a fresh connection: (reply, [fds]); the fds are the caller's.
        Every reply is checked against the protocol's schema."""
        with self.connect(timeout) as conn:
            reply, rfds = conn.request(req, fds)
        try:
            validate_reply(req, reply)
        except AssertionError:
            for fd in rfds:
                os.close(fd)
            raise
        return reply, rfds

    def status(self):
        reply = self.request({"command": "status"})
        assert "error" not in reply, reply
        return reply

    def network(self, name):
        for n in self.status().get("networks", []):
            if n.get("name") == name:
                return n
        return None

    def leases(self, name=None):
        out = []
        for n in self.status().get("networks", []):
            if name is None or n.get("name") == name:
                out += n.get("leases", [])
        return out

    def lease_records(self, name=None):
        """leases() without each lease's guests and names: those follow what
        the bridge and the neighbour table learn whenever a guest speaks, not
        the requests, so a before/after comparison must leave them out."""
        return [{k: v for k, v in lease.items() if k not in ("guests", "names")}
                for lease in self.leases(name)]

    def lease_by_mac(self, mac):
        for lease in self.leases():
            if lease.get("mac", "").lower() == mac.lower():
                return lease
        return None

    def acquire_tap(self, network="shared", **keys):
        """Acquire a TAP over the raw protocol: (reply, [fds]); the fds are ours."""
        req = {"command": "acquire", "network_name": network, "port": "tap", **keys}
        reply, fds = self.request_fds(req)
        assert "error" not in reply, reply
        return reply, fds

    # -- command line
    def cli(self, *args, user=None, check=True, timeout=30, pass_fds=()):
        cmd = ([] if user is None else as_user(user)) + [CLI, "--socket", self.socket, *args]
        return run(cmd, check=check, timeout=timeout, pass_fds=pass_fds)

    def cli_json(self, *args, user=None):
        p = self.cli(*args, user=user)
        try:
            return json.loads(p.stdout)
        except ValueError:
            raise AssertionError("not JSON from vmnet-broker %s:\n%s" % (" ".join(args), p.stdout))

    def acquire_netns(self, guest, network="shared", mac=None, label=None, ifname=None):
        """Acquire a netns port for @guest with the CLI; return the reply."""
        args = ["acquire", network, "--port", "netns", "--netns", guest.path, "--json"]
        if mac:
            args += ["--mac", mac]
        if label:
            args += ["--label", label]
        if ifname:
            args += ["--ifname", ifname]
        reply = self.cli_json(*args)
        assert "network" in reply, reply
        return reply

    # -- what the daemon made in its namespace
    def fd_count(self):
        return len(os.listdir("/proc/%d/fd" % self.pid))

    def stable_fd_count(self, timeout=3.0):
        """The fd count once it holds still (a client's hang-up is read a moment later)."""
        last = None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            n = self.fd_count()
            if n == last:
                return n
            last = n
            time.sleep(0.1)
        return last

    def dnsmasq_pids(self):
        return sorted(p for p in ns_pids(self.ns) if pid_comm(p) == "dnsmasq")

    def links(self):
        return ip_json(self.ns, "-d", "link", "show")

    def link_names(self):
        return sorted(link["ifname"] for link in self.links())

    def link(self, ifname):
        links = ip_json(self.ns, "-d", "link", "show", "dev", ifname)
        return links[0] if links else None

    def ip(self, *args, check=True):
        return run(["ip", "-n", self.ns, *args], check=check)

    def nft_ruleset(self):
        p = run(["ip", "netns", "exec", self.ns, "nft", "-j", "list", "ruleset"])
        return json.loads(p.stdout)["nftables"] if p.stdout.strip() else []

    def nft_table_exists(self):
        return any("table" in o and o["table"]["name"] == "vmnet_broker"
                   and o["table"]["family"] == "inet" for o in self.nft_ruleset())

    def nft_text(self):
        return run(["ip", "netns", "exec", self.ns, "nft", "list", "ruleset"]).stdout


# ----------------------------------------------------------------- topology

class Topology:
    """Namespaces, processes and daemons of one test; cleanup() removes all."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.namespaces = []
        self.procs = []
        self.brokers = []
        self.dhcp_script = write_script(os.path.join(tmp, "udhcpc.script"), DHCP_SCRIPT)

    def netns(self, role):
        name = ns_add("%s%d-%s" % (RUN, next(_ns_counter), role))
        self.namespaces.append(name)
        return name

    def uplinked_pair(self):
        """A daemon namespace and an upstream one joined by a TEST-NET-3 veth."""
        d = self.netns("d")
        u = self.netns("u")
        # Created inside d; the peer goes straight into u. Nothing in the host's namespace.
        run(["ip", "-n", d, "link", "add", "uplink0", "type", "veth",
             "peer", "name", "uplink0", "netns", u])
        run(["ip", "-n", d, "addr", "add", UPLINK_DAEMON + "/24", "dev", "uplink0"])
        run(["ip", "-n", u, "addr", "add", UPLINK_UPSTREAM + "/24", "dev", "uplink0"])
        run(["ip", "-n", d, "link", "set", "uplink0", "up"])
        run(["ip", "-n", u, "link", "set", "uplink0", "up"])
        run(["ip", "-n", d, "route", "add", "default", "via", UPLINK_UPSTREAM])
        return d, u

    def guest(self, role="g"):
        return Guest(self, self.netns(role))

    def broker(self, ns, start=True, **opts):
        b = Broker(self, ns, **opts)
        self.brokers.append(b)
        if start:
            b.start()
        return b

    def spawn(self, cmd, **kw):
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, **kw)
        self.procs.append(p)
        return p

    def tcp_listener(self, ns, addr, port):
        """A TCP server in @ns that tells each client the source address it saw."""
        p = self.spawn(["ip", "netns", "exec", ns, PYTHON, "-B", "-c", TCP_LISTENER,
                        addr, str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        r, _, _ = select.select([p.stdout], [], [], 10)
        line = p.stdout.readline() if r else b""
        if line.strip() != b"ready":
            raise AssertionError("TCP listener in %s did not start: %s %s"
                                 % (ns, line, p.stderr.read() if p.poll() is not None else ""))
        return p

    def cleanup(self):
        errors = []
        for b in self.brokers:
            b.stop()
            bad = b.sanitizer_errors()
            if bad:
                errors.append("sanitizer errors in vmnet-brokerd:\n" + "\n".join(bad))
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait()
            for s in (p.stdout, p.stderr):
                if s:
                    s.close()
        for ns in reversed(self.namespaces):
            ns_delete(ns)
        return errors


# ----------------------------------------------------------------- pytest glue

def pytest_configure(config):
    config.addinivalue_line(
        "markers", "broker(**opts): options of the `broker` fixture's daemon "
        "(idle_timeout, subnet_pool, extra_args)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if not rep.failed:
        return
    topo = item.stash.get(TOPO_KEY, None) or getattr(item, "funcargs", {}).get("module_topo")
    if topo is None:
        return
    for b in topo.brokers:
        lines = b.log().splitlines()
        if len(lines) > 400:
            lines = ["... (%d lines cut)" % (len(lines) - 400)] + lines[-400:]
        rep.sections.append(("vmnet-brokerd log (%s, %s)" % (b.ns, rep.when), "\n".join(lines)))


@pytest.fixture(scope="session", autouse=True)
def _environment():
    if os.geteuid() != 0:
        pytest.skip("the system tests need root to make network namespaces")
    for path in (DAEMON, CLI):
        if not os.access(path, os.X_OK):
            pytest.fail("%s is not built (run make)" % path, pytrace=False)
    sweep_leftovers()
    # The daemon talks to firewalld on the system bus: never this machine's.
    # A test that wants firewalld gives the daemon a bus of its own.
    os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = NO_BUS
    yield


@pytest.fixture
def topo(request):
    tmp = tempfile.mkdtemp(prefix=RUN)
    os.chmod(tmp, 0o755)  # unprivileged clients must reach the socket in it
    t = Topology(tmp)
    request.node.stash[TOPO_KEY] = t
    try:
        yield t
    finally:
        errors = t.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
        if errors:
            pytest.fail("\n".join(errors), pytrace=False)


@pytest.fixture(scope="module")
def module_topo():
    """A topology shared by a module's tests: for what takes seconds to set up (a real
    dockerd, firewalld). Its daemons' logs are attached to failures as topo's are."""
    tmp = tempfile.mkdtemp(prefix=RUN)
    os.chmod(tmp, 0o755)
    t = Topology(tmp)
    try:
        yield t
    finally:
        errors = t.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
        if errors:
            pytest.fail("\n".join(errors), pytrace=False)


@pytest.fixture
def broker(request, topo):
    """A daemon in a fresh namespace with an uplink to an upstream namespace."""
    opts = {}
    marker = request.node.get_closest_marker("broker")
    if marker:
        opts.update(marker.kwargs)
    d, u = topo.uplinked_pair()
    b = topo.broker(d, **opts)
    b.upstream = u
    return b


def subnet_of(reply_or_network):
    """The IPv4 network of an acquire reply or a status entry."""
    n = reply_or_network.get("network", reply_or_network)
    return ipaddress.IPv4Network("%s/%s" % (n["subnet"], n["mask"]), strict=False)
