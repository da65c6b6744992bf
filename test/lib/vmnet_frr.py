"""vmnet_frr - zebra and bgpd of one "host" (a network namespace), for the system tests and the benchmarks.

FRR is started by hand, never through its systemd unit or /etc/frr: every
path is given (-z, --vty_socket, -i, -f, --log, -P 0 for no TCP vty), and
the daemons run in a mount namespace of their own whose /var/tmp (FRR's
crash logs) is a tmpfs, so nothing lands on the machine. They drop to user
frr right after start, so their directory is frr's.
"""
import json
import os
import shutil
import signal

from vmnet_sandbox import pid_alive, run, wait_until

__all__ = ["FRR_DIR", "Frr", "frr_available"]

FRR_DIR = "/usr/lib/frr"


def frr_available():
    return (os.access(os.path.join(FRR_DIR, "bgpd"), os.X_OK)
            and os.access("/usr/bin/vtysh", os.X_OK))


class Frr:
    """zebra and bgpd of one host, in its namespace, every path in @dir."""

    def __init__(self, ns, address, dir):
        self.ns = ns
        self.address = address
        self.dir = dir
        os.makedirs(dir, exist_ok=True)
        # The daemons drop to user frr right after start.
        shutil.chown(dir, "frr", "frr")
        os.chmod(dir, 0o755)
        for d in ("zebra", "bgpd"):
            path = os.path.join(dir, d + ".conf")
            with open(path, "w") as f:
                f.write("hostname %s\n" % ns)
            shutil.chown(path, "frr", "frr")

    def _start(self, daemon, extra):
        d = self.dir
        cmd = ("mount -t tmpfs none /var/tmp && exec %s/%s -d -u frr -g frr -P 0 "
               "--vty_socket %s -z %s/zserv.api -i %s/%s.pid -f %s/%s.conf "
               "--log file:%s/%s.log %s" % (FRR_DIR, daemon, d, d, d, daemon, d, daemon, d,
                                           daemon, extra))
        pid_file = os.path.join(d, daemon + ".pid")
        if os.path.exists(pid_file):
            os.unlink(pid_file)
        run(["ip", "netns", "exec", self.ns, "unshare", "-m", "sh", "-c", cmd], timeout=20)
        wait_until(lambda: self.pid(daemon), 10, what="%s in %s" % (daemon, self.ns))

    def start(self):
        self._start("zebra", "-s 16777216")
        # Its vty socket shows it listens to its clients.
        wait_until(lambda: os.path.exists(os.path.join(self.dir, "zserv.api")), 10,
                   what="zebra's zserv.api")
        self._start("bgpd", "-l %s" % self.address)

    def pid(self, daemon):
        try:
            with open(os.path.join(self.dir, daemon + ".pid")) as f:
                pid = int(f.read().strip() or 0)
        except (OSError, ValueError):
            return None
        return pid if pid and pid_alive(pid) else None

    def kill(self, sig=signal.SIGKILL):
        pids = [p for p in (self.pid("bgpd"), self.pid("zebra")) if p]
        for p in pids:
            os.kill(p, sig)
        wait_until(lambda: not any(pid_alive(p) for p in pids), 10, what="FRR to go")

    def vtysh(self, *commands, daemon=None, check=False):
        cmd = ["vtysh", "-H", "/dev/null", "--vty_socket", self.dir]
        if daemon:
            cmd += ["-d", daemon]
        for c in commands:
            cmd += ["-c", c]
        return run(["ip", "netns", "exec", self.ns, *cmd], check=check)

    def json(self, command):
        p = self.vtysh(command)
        try:
            return json.loads(p.stdout)
        except ValueError:
            return {}

    def established(self):
        """Addresses of the peers whose L2VPN EVPN session is up."""
        peers = self.json("show bgp l2vpn evpn summary json").get("peers", {})
        return sorted(a for a, p in peers.items() if p.get("state") == "Established")

    def running_config(self):
        return self.vtysh("show running-config", daemon="bgpd").stdout
