"""vmbt_hostfw - the host's other firewalls, real, in a test's namespaces (issue #15).

A World is the daemon's namespace with an upstream one, an upstream DNS
server, two guests on `shared` (g2 forwarding 203.0.113.1:2222 to its port
8081) and TCP listeners, with the traffic that must keep working whatever
the host's firewall does: TCP out through NAT (upstream must see the
uplink's address), guest to guest TCP on one bridge, the port forward from
upstream, DHCP and DNS (UDP and TCP) from the network's dnsmasq, and
nothing unasked coming in. Probes use TCP, never ping alone: ufw accepts
forwarded echo requests, and upstream has a route back to the guests, so
only the source address upstream sees proves NAT.

Real firewalls next to it, never touching the machine's own:
  - Private: a holder process in the daemon's netns and a mount namespace
    of its own, where /etc/alternatives' iptables* point at one backend
    (nft or legacy) and /run is a tmpfs (its own xtables.lock);
  - Dockerd: the real dockerd (docker.io) in such a mount namespace, with
    /etc/docker, /var/lib/docker and /opt on tmpfs and a cgroup2 view;
  - Ufw: the real ufw with --rootdir/--datadir on a copy of its files;
  - Firewalld: the real firewalld on a D-Bus system bus of its own
    (dbus-daemon with a private config), --system-config a copy, /run a
    tmpfs; the daemon is given the bus in $DBUS_SYSTEM_BUS_ADDRESS.
Every process they start runs in the test's namespaces and dies with them.
"""
import os
import shutil
import subprocess
import time

from conftest import (PYTHON, REPO, UPLINK_DAEMON, UPLINK_UPSTREAM, run, wait_until)

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures")
ZONE_FILE = os.path.join(REPO, "firewalld", "vmnet-broker.xml")

UPSTREAM_ANSWER = "203.0.113.99"   # what the upstream DNS server says of *.vmnet
HOST_DNS_ANSWER = "10.0.0.53"      # what a DNS server of the host says
POOL = "192.168.64.0/18"

DNS_QUERY = r"""
import socket, struct, sys
q = struct.pack(">HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0) + b"\x05probe\x05vmnet\x00" \
    + struct.pack(">HH", 1, 1)
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
if sys.argv[2] == "tcp":
    s = socket.create_connection((sys.argv[1], int(sys.argv[3])), timeout=2)
    s.sendall(struct.pack(">H", len(q)) + q)
    r = s.recv(2 + 512)[2:]
else:
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.settimeout(2)
    s.sendto(q, (sys.argv[1], int(sys.argv[3])))
    r = s.recv(512)
if struct.unpack(">H", r[6:8])[0]:
    print(socket.inet_ntoa(r[-4:]))
else:
    print("rcode %d" % (r[3] & 15))
"""


def nsrun(ns, *cmd, check=True, timeout=30, input=None, env=None):
    return run(["ip", "netns", "exec", ns, *cmd], check=check, timeout=timeout, input=input,
               env=env)


def dns_answer(ns, server, proto="udp", port=53):
    """The A record of probe.vmnet that @server answers, asked from @ns; None on no answer."""
    p = nsrun(ns, PYTHON, "-B", "-c", DNS_QUERY, server, proto, str(port), check=False,
              timeout=15)
    return p.stdout.strip() if p.returncode == 0 else None


def restore(ns, backend, family, text):
    """Load @text with ip(6)tables-BACKEND-restore in @ns (a full replace of its tables)."""
    prog = "%stables-%s-restore" % ("ip6" if family == 6 else "ip", backend)
    nsrun(ns, prog, "-w", input=text)


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as f:
        return f.read()


def ipt(ns, backend, family, *args, check=True):
    prog = "%stables-%s" % ("ip6" if family == 6 else "ip", backend)
    return nsrun(ns, prog, "-w", *args, check=check)


def save(ns, backend, family=4):
    prog = "%stables-%s-save" % ("ip6" if family == 6 else "ip", backend)
    return nsrun(ns, prog, "-t", "filter").stdout


def filter_lines(text, ours=False):
    """The filter table's chain and rule lines of an iptables-save, without counters,
    comments, and (unless @ours) the broker's chains and jumps."""
    out = []
    in_filter = False
    for line in text.splitlines():
        if line == "*filter":
            in_filter = True
        elif line == "COMMIT":
            in_filter = False
        elif in_filter and line and not line.startswith("#"):
            if not ours and "VMNET-BROKER" in line:
                continue
            out.append(line.split(" [")[0] if line.startswith(":") else line)
    return out


def reset_iptables(ns, backend):
    """Empty filter and nat of both families, policies ACCEPT (what a test set up goes).
    Legacy tables are touched only where they exist: asking creates them."""
    for fam in (4, 6):
        if backend == "legacy":
            names = "/proc/net/%s_tables_names" % ("ip" if fam == 4 else "ip6")
            if "filter" not in nsrun(ns, "cat", names, check=False).stdout.split():
                continue
        text = ("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
                "COMMIT\n")
        restore(ns, backend, fam, text)


class World:
    """The daemon's namespace, upstream, two guests on `shared`, and the traffic checks."""

    def __init__(self, topo, before_broker=None, before_network=None, **broker_opts):
        """@before_broker(self): after the namespaces are made; returns the daemon's
        environment or None. @before_network(self): once the daemon runs."""
        self.topo = topo
        self.d, self.u = topo.uplinked_pair()
        env = before_broker(self) if before_broker else None
        self.dns = topo.spawn(
            ["ip", "netns", "exec", self.u, "dnsmasq", "--keep-in-foreground",
             "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--bind-interfaces",
             "--listen-address=" + UPLINK_UPSTREAM, "--address=/vmnet/" + UPSTREAM_ANSWER,
             "--pid-file=" + os.path.join(topo.tmp, "upstream-dns.pid"), "--log-facility=-"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.broker = topo.broker(self.d, start=False, env=env, **broker_opts)
        with open(self.broker.resolv, "w") as f:
            f.write("nameserver %s\n" % UPLINK_UPSTREAM)
        self.broker.start()
        self.broker.upstream = self.u
        if before_network:
            before_network(self)
        self.g1 = topo.guest("g1")
        self.broker.acquire_netns(self.g1)
        self.g1.dhcp()
        self.g2 = topo.guest("g2")
        reply = self.broker.cli_json("acquire", "shared", "--port", "netns", "--netns",
                                     self.g2.path, "--forward", "tcp:2222:8081", "--json")
        self.bridge = reply["network"]["bridge"]
        self.gateway = reply["network"]["subnet"]
        self.g2.dhcp()
        self.a2 = self.g2.ipv4()[0]
        topo.tcp_listener(self.u, UPLINK_UPSTREAM, 8080)
        topo.tcp_listener(self.g2.ns, "0.0.0.0", 8081)
        # A route back: un-NATed packets would be answered too, and
        # something unasked could try to come in.
        run(["ip", "-n", self.u, "route", "add", POOL, "via", UPLINK_DAEMON])
        self.upstream = _Ns(topo, self.u)

    # -- probes: each True when it works as it must
    def probes(self):
        return {
            "NAT tcp g1 -> upstream (seen from the uplink)":
                lambda: self.g1.tcp_peer(UPLINK_UPSTREAM, 8080, timeout=2) == UPLINK_DAEMON,
            "g1 -> g2 tcp on one bridge":
                lambda: self.g1.tcp_peer(self.a2, 8081, timeout=2) is not None,
            "upstream -> 203.0.113.1:2222 port forward to g2":
                lambda: self.upstream.tcp_peer(UPLINK_DAEMON, 2222, timeout=2) is not None,
            "g1 DHCP":
                lambda: self.g1.exec("udhcpc", "-f", "-q", "-n", "-t", "2", "-T", "1", "-i",
                                     "eth0", "-s", "/bin/true", check=False,
                                     timeout=20).returncode == 0,
            "g1 DNS udp to its gateway":
                lambda: dns_answer(self.g1.ns, self.gateway, "udp") == UPSTREAM_ANSWER,
            "g1 DNS tcp to its gateway":
                lambda: dns_answer(self.g1.ns, self.gateway, "tcp") == UPSTREAM_ANSWER,
            "nothing unasked comes in (upstream -> g2:8081 directly)":
                lambda: self.upstream.tcp_peer(self.a2, 8081, timeout=1) is None,
        }

    def failing(self, names=None):
        return [n for n, p in self.probes().items() if (names is None or n in names) and not p()]

    def check(self, timeout=5.0, what=""):
        """Every probe passes within @timeout (probes that failed are tried again)."""
        deadline = time.monotonic() + timeout
        bad = self.failing()
        while bad and time.monotonic() < deadline:
            time.sleep(0.2)
            bad = self.failing(bad)
        assert not bad, "%s: failing: %s\n%s" % (what, bad, self.tail_log())

    def tail_log(self, n=30):
        return "\n".join(self.broker.log().splitlines()[-n:])

    # -- the daemon's view
    def host(self):
        return self.broker.status()["host"]

    def iptables_entry(self, backend, family):
        for e in self.host()["iptables"]:
            if e["backend"] == backend and e["family"] == family:
                return e
        return None

    def table_exists(self):
        return nsrun(self.d, "nft", "list", "table", "inet", "vmnet_broker",
                     check=False).returncode == 0


class _Ns:
    """A namespace that can run the TCP client (the upstream's side of the probes)."""

    def __init__(self, topo, ns):
        from conftest import Guest
        self.g = Guest(topo, ns)

    def tcp_peer(self, addr, port, timeout=3.0):
        return self.g.tcp_peer(addr, port, timeout)


class Private:
    """A mount namespace of its own in netns @ns, where /etc/alternatives' iptables*
    point at @backend and the directories @tmpfs are tmpfs; held by a sleeping process."""

    def __init__(self, topo, ns, backend, tmpfs=("/run",), cgroup=False):
        self.topo = topo
        alt = os.path.join(topo.tmp, "alternatives-%s-%d" % (backend, len(topo.procs)))
        shutil.copytree("/etc/alternatives", alt, symlinks=True)
        for t in ("iptables", "iptables-restore", "iptables-save", "ip6tables",
                  "ip6tables-restore", "ip6tables-save"):
            link = os.path.join(alt, t)
            if os.path.lexists(link):
                os.unlink(link)
            os.symlink("/usr/sbin/" + t.replace("tables", "tables-" + backend, 1), link)
        script = ('mount --bind "$1" /etc/alternatives || exit 1; shift; '
                  'for d in "$@"; do [ -d "$d" ] && mount -t tmpfs tmpfs "$d"; done; %s'
                  'echo ready; exec sleep infinity'
                  % ("mount -t cgroup2 cgroup2 /sys/fs/cgroup; " if cgroup else ""))
        self.proc = topo.spawn(["ip", "netns", "exec", ns, "unshare", "-m", "--propagation",
                                "private", "sh", "-c", script, "sh", alt, *tmpfs],
                               stdout=subprocess.PIPE)
        line = self.proc.stdout.readline()
        assert line.strip() == b"ready", "private mount namespace: %r" % line

    def cmd(self, *args):
        return ["nsenter", "-t", str(self.proc.pid), "-m", "-n", *args]


class Dockerd:
    """The real dockerd in netns @ns, using iptables-@backend, in a mount namespace of its own."""

    def __init__(self, topo, ns, backend):
        self.topo = topo
        self.dir = os.path.join(topo.tmp, "docker-" + backend)
        os.makedirs(self.dir)
        self.log_path = os.path.join(self.dir, "dockerd.log")
        # dockerd writes /etc/docker/key.json, containerd /opt/containerd; ip netns
        # exec's /sys has no cgroups, and dockerd wants a devices cgroup or cgroup2.
        self.priv = Private(topo, ns, backend,
                            tmpfs=("/run", "/etc/docker", "/var/lib/docker", "/opt"),
                            cgroup=True)
        self.proc = None

    def start(self, timeout=60):
        with open(self.log_path, "a") as log:
            log.write("---- start\n")
            log.flush()
            start = log.tell()
            env = {k: v for k, v in os.environ.items() if k != "DBUS_SYSTEM_BUS_ADDRESS"}
            self.proc = self.topo.spawn(self.priv.cmd(
                "dockerd", "--data-root", os.path.join(self.dir, "root"),
                "--exec-root", os.path.join(self.dir, "exec"),
                "-H", "unix://" + os.path.join(self.dir, "docker.sock"),
                "--pidfile", os.path.join(self.dir, "docker.pid"),
                "--storage-driver", "vfs", "--log-level", "info"),
                stdout=log, stderr=subprocess.STDOUT, env=env)

        def up():
            if self.proc.poll() is not None:
                raise AssertionError("dockerd exited:\n" + self.log()[-3000:])
            with open(self.log_path) as f:
                f.seek(start)
                return "API listen on" in f.read()
        wait_until(up, timeout, interval=0.1, what="dockerd to start")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def restart(self):
        self.stop()
        self.start()

    def log(self):
        with open(self.log_path) as f:
            return f.read()


class Ufw:
    """The real ufw in netns @ns, using iptables-@backend, its files copied (--rootdir)."""

    def __init__(self, topo, ns, backend):
        self.root = os.path.join(topo.tmp, "ufw-" + backend)
        for src, dst in (("/etc/ufw", "etc/ufw"), ("/etc/default/ufw", "etc/default/ufw"),
                         ("/lib/ufw", "lib/ufw"), ("/usr/share/ufw", "usr/share/ufw")):
            dst = os.path.join(self.root, dst)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            (shutil.copytree if os.path.isdir(src) else shutil.copy)(src, dst)
        # Not the host's sysctls: an empty file of its own.
        empty = os.path.join(self.root, "etc/ufw/sysctl.conf.empty")
        open(empty, "w").close()
        default = os.path.join(self.root, "etc/default/ufw")
        with open(default) as f:
            text = f.read()
        with open(default, "w") as f:
            f.write("\n".join("IPT_SYSCTL=" + empty if line.startswith("IPT_SYSCTL=") else line
                              for line in text.splitlines()) + "\n")
        self.priv = Private(topo, ns, backend)

    def __call__(self, *args):
        return run(self.priv.cmd("ufw", "--rootdir=" + self.root, "--datadir=" + self.root,
                                 *args), timeout=60)


class Firewalld:
    """The real firewalld in netns @ns on a D-Bus system bus of its own."""

    def __init__(self, topo, ns, backend="nftables", with_zone=False):
        self.topo = topo
        self.ns = ns
        self.dir = os.path.join(topo.tmp, "firewalld")
        os.makedirs(self.dir)
        sock = os.path.join(self.dir, "bus.sock")
        with open(os.path.join(self.dir, "bus.conf"), "w") as f:
            f.write('<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration '
                    '1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">\n'
                    "<busconfig><type>system</type><listen>unix:path=%s</listen>"
                    "<auth>EXTERNAL</auth><policy context=\"default\"><allow user=\"root\"/>"
                    "<allow own=\"*\"/><allow send_destination=\"*\" eavesdrop=\"true\"/>"
                    "<allow eavesdrop=\"true\"/></policy></busconfig>\n" % sock)
        # Without polkit on this bus firewalld lets uid 0 alone call it: the daemon.
        self.bus = topo.spawn(["ip", "netns", "exec", ns, "dbus-daemon", "--config-file=" +
                               os.path.join(self.dir, "bus.conf"), "--nofork", "--nopidfile",
                               "--nosyslog"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
        wait_until(lambda: os.path.exists(sock), 10, what="the private D-Bus")
        self.address = "unix:path=" + sock
        self.env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.address)
        self.etc = os.path.join(self.dir, "etc")
        shutil.copytree("/etc/firewalld", self.etc)
        conf = os.path.join(self.etc, "firewalld.conf")
        with open(conf) as f:
            text = f.read()
        with open(conf, "w") as f:
            f.write("\n".join("FirewallBackend=" + backend
                              if line.startswith("FirewallBackend=") else line
                              for line in text.splitlines()) + "\n")
        if with_zone:
            os.makedirs(os.path.join(self.etc, "zones"), exist_ok=True)
            shutil.copy(ZONE_FILE, os.path.join(self.etc, "zones"))
        self.proc = None
        self.log_path = os.path.join(self.dir, "firewalld.log")

    def start(self, timeout=60):
        with open(self.log_path, "a") as log:
            self.proc = self.topo.spawn(
                ["ip", "netns", "exec", self.ns, "unshare", "-m", "--propagation", "private",
                 "sh", "-c", 'mount -t tmpfs tmpfs /run && exec firewalld --nofork --nopid '
                 '--log-target console --system-config "$1" --default-config /usr/lib/firewalld',
                 "sh", self.etc], stdout=log, stderr=subprocess.STDOUT, env=self.env)

        def up():
            if self.proc.poll() is not None:
                raise AssertionError("firewalld exited:\n" + self.log()[-3000:])
            return self.cmd("--state", check=False).stdout.strip() == "running"
        wait_until(up, timeout, interval=0.2, what="firewalld to start")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)

    def cmd(self, *args, check=True):
        return run(["firewall-cmd", *args], check=check, env=self.env, timeout=60)

    def log(self):
        with open(self.log_path) as f:
            return f.read()
