"""vmbt_resolved - systemd-resolved for the tests, never installed on the machine.

Installing the systemd-resolved package would make it the host's resolver
(its postinst rewrites /etc/resolv.conf). Instead the first run downloads
it with `apt-get download` and unpacks it with dpkg-deb into a cache
outside the checkout, as vmbt_guest.py does for the guest's kernel:

    /var/tmp/vmnet-broker-resolved/<version>/
        lib/systemd/systemd-resolved   (it uses the installed systemd's libsystemd-shared)
        usr/bin/resolvectl

start() runs it in a test's network namespace and a mount namespace of
its own, where /etc/passwd knows its user, /etc/systemd/resolved.conf is
the test's (no fallback servers: nothing is asked beyond the test's
namespaces), /etc/resolv.conf points to its stub, and /run is a fresh
tmpfs; with a dbus-daemon of its own as the system bus. The machine's
/etc, /run and resolver stay as they are.
"""
import fcntl
import glob
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

CACHE = os.environ.get("VMBT_RESOLVED_CACHE", "/var/tmp/vmnet-broker-resolved")
USER = "systemd-resolve:x:64990:64990:systemd Resolver:/:/usr/sbin/nologin"
GROUP = "systemd-resolve:x:64990:"

RESOLVED_CONF = """[Resolve]
DNS=
FallbackDNS=
Domains=
LLMNR=no
MulticastDNS=no
DNSSEC=no
DNSStubListener=%s
"""

BUS_CONF = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=%s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
"""


class Unavailable(Exception):
    """systemd-resolved cannot be had here."""


def _run(cmd, cwd=None):
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600,
                       stdin=subprocess.DEVNULL)
    if p.returncode != 0:
        raise Unavailable("%s failed (%d): %s" % (" ".join(cmd), p.returncode,
                                                  (p.stderr or p.stdout).strip()[-400:]))
    return p.stdout


def _installed_systemd():
    """The installed systemd's version: its systemd-resolved must be the same."""
    out = _run(["dpkg-query", "-W", "-f", "${Version}", "systemd"])
    if not out.strip():
        raise Unavailable("systemd is not installed")
    return out.strip()


def build():
    """The cache directory holding lib/systemd/systemd-resolved and usr/bin/resolvectl."""
    for tool in ("apt-get", "dpkg-deb", "dpkg-query", "dbus-daemon", "unshare"):
        if not shutil.which(tool):
            raise Unavailable("%s is not installed" % tool)
    version = _installed_systemd()
    base = os.path.join(CACHE, re.sub(r"[^A-Za-z0-9.+~-]", "_", version))
    os.makedirs(CACHE, exist_ok=True)
    with open(os.path.join(CACHE, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(os.path.join(base, "lib/systemd/systemd-resolved")):
            return base
        work = tempfile.mkdtemp(prefix=".build-", dir=CACHE)
        try:
            # As root, apt would drop to _apt to download and warn that it cannot write here.
            _run(["apt-get", "download", "-q", "-o", "APT::Sandbox::User=root",
                  "systemd-resolved=" + version], cwd=work)
            debs = glob.glob(os.path.join(work, "systemd-resolved_*.deb"))
            if len(debs) != 1:
                raise Unavailable("apt-get download gave %s" % debs)
            tree = os.path.join(work, "tree")
            _run(["dpkg-deb", "-x", debs[0], tree])
            os.rename(tree, base)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return base


class _Group(subprocess.Popen):
    """A process whose kill() ends its whole process group (the shell, dbus-daemon, resolved)."""

    def kill(self):
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


class Resolved:
    """systemd-resolved and its bus, running in network namespace @ns; with
    @stub False, without its stub listener on 127.0.0.53 (where programs ask
    it through nss-resolve, and a DNS server of the host may have port 53)."""

    def __init__(self, topo, ns, base, stub=True):
        self.ns = ns
        self.base = base
        self.dir = tempfile.mkdtemp(prefix="resolved-", dir=topo.tmp)
        os.chmod(self.dir, 0o755)  # resolved, once its own user, reaches the bus in it
        self.bus = os.path.join(self.dir, "bus")
        self.address = "unix:path=" + self.bus
        self.log_path = os.path.join(self.dir, "resolved.log")
        files = {"passwd": open("/etc/passwd").read().rstrip("\n") + "\n" + USER + "\n",
                 "group": open("/etc/group").read().rstrip("\n") + "\n" + GROUP + "\n",
                 "resolved.conf": RESOLVED_CONF % ("yes" if stub else "no"), "bus.conf": BUS_CONF % self.bus,
                 "resolv.conf": "nameserver 127.0.0.53\noptions edns0\n"}
        for name, text in files.items():
            with open(os.path.join(self.dir, name), "w") as f:
                f.write(text)
        self.topo = topo
        self._spawn(with_bus=True)

    def _spawn(self, with_bus):
        d = self.dir
        script = " && ".join([
            "mount --bind %s/passwd /etc/passwd" % d,
            "mount --bind %s/group /etc/group" % d,
            "mount --bind %s/resolv.conf /etc/resolv.conf" % d,
            "mount -t tmpfs tmpfs /etc/systemd",
            "cp %s/resolved.conf /etc/systemd/resolved.conf" % d,
            "mount -t tmpfs tmpfs /run",
            "mkdir -p /run/systemd",
            # Its bus, in this mount namespace: it must know resolved's user too.
            "{ dbus-daemon --config-file=%s/bus.conf --nofork & }" % d if with_bus else "true",
            "while [ ! -S %s ]; do sleep 0.05; done" % self.bus,
            "exec %s/lib/systemd/systemd-resolved" % self.base,
        ])
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.address,
                   SYSTEMD_LOG_TARGET="console", SYSTEMD_LOG_LEVEL="debug")
        with open(self.log_path, "ab") as log:
            self.proc = _Group(["ip", "netns", "exec", self.ns, "unshare", "--mount",
                                "--propagation", "private", "sh", "-c", script],
                               stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                               env=env, start_new_session=True)
        self.topo.procs.append(self.proc)
        deadline = time.monotonic() + 20
        while self.resolvectl("status", check=False).returncode != 0:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("systemd-resolved did not come up:\n" + self.log())
            time.sleep(0.1)

    def restart(self):
        """systemd-resolved alone goes (its bus stays) and a new one comes, knowing nothing."""
        os.kill(self.proc.pid, signal.SIGKILL)  # resolved itself: the shell exec'd it
        self.proc.wait()
        self._spawn(with_bus=False)

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def resolvectl(self, *args, check=True):
        """resolvectl in the namespace, on resolved's bus."""
        p = subprocess.run(["ip", "netns", "exec", self.ns, os.path.join(self.base, "usr/bin/resolvectl"),
                            "--no-pager", *args], capture_output=True, text=True, timeout=30,
                           stdin=subprocess.DEVNULL,
                           env=dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.address))
        if check and p.returncode != 0:
            raise AssertionError("resolvectl %s failed (%d): %s%s" % (" ".join(args), p.returncode,
                                                                    p.stdout, p.stderr))
        return p

    def getent(self, name):
        """What a program of the host gets for @name: glibc, /etc/resolv.conf, the stub."""
        return subprocess.run(["ip", "netns", "exec", self.ns, "unshare", "--mount", "sh", "-c",
                               'mount --bind "$0/resolv.conf" /etc/resolv.conf && '
                               'exec getent ahostsv4 "$1"', self.dir, name],
                              capture_output=True, text=True, timeout=30,
                              stdin=subprocess.DEVNULL)


def start(topo, ns):
    """systemd-resolved in @ns: a Resolved (skip the caller's test on Unavailable)."""
    return Resolved(topo, ns, build())
