"""vmnet_sandbox - namespaces, processes and cleanup shared by the system tests and the benchmarks.

Both test/system (pytest) and bench/bench.py build their worlds out of
network namespaces they create and name "<prefix><pid>-<n>-<role>", where
<pid> is the creating process: a later run removes whatever a run that is
gone left behind (sweep()), and nothing is ever made in the machine's own
namespace. Also here: the udhcpc event scripts their guests run.
"""
import json
import os
import shutil
import signal
import subprocess
import time

__all__ = ["CommandFailed", "run", "wait_until", "pid_alive", "pid_comm", "kill_pids",
           "children", "ns_list", "ns_pids", "ns_add", "ns_delete", "ns_exists", "nsexec",
           "ip_json", "sweep", "DHCP_SCRIPT", "DHCP_NOOP_SCRIPT", "write_script"]


class CommandFailed(AssertionError):
    """A command run with check=True exited non-zero; the message has its output."""


def run(cmd, check=True, timeout=30, input=None, env=None, pass_fds=()):
    """Run @cmd, capture text output; on failure with @check raise CommandFailed with it."""
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL if input is None else None,
                       input=input, capture_output=True, text=True, timeout=timeout,
                       env=env, pass_fds=pass_fds)
    if check and p.returncode != 0:
        raise CommandFailed("command failed (%d): %s\nstdout: %s\nstderr: %s"
                            % (p.returncode, " ".join(cmd), p.stdout, p.stderr))
    return p


def wait_until(pred, timeout=10.0, interval=0.05, what="condition"):
    """Poll @pred until it returns something true; return that, or fail."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


def pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def pid_comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return None


def kill_pids(pids, timeout=3.0, signals=(signal.SIGTERM, signal.SIGKILL)):
    """Send each of @signals to the given pids in turn until none is left."""
    pids = [p for p in pids if p != os.getpid()]
    for sig in signals:
        for p in pids:
            try:
                os.kill(p, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(pid_alive(p) for p in pids):
            time.sleep(0.02)
        pids = [p for p in pids if pid_alive(p)]
        if not pids:
            return


def children(pid, comm=None):
    """The pids whose parent is @pid (and whose name is @comm, if given)."""
    out = []
    for e in os.listdir("/proc"):
        if not e.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % e) as f:
                s = f.read()
        except OSError:
            continue
        name = s[s.find("(") + 1:s.rfind(")")]
        if int(s.rsplit(")", 1)[1].split()[1]) == pid and (comm is None or name == comm):
            out.append(int(e))
    return out


def ns_list():
    out = run(["ip", "netns", "list"], check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def ns_pids(ns):
    out = run(["ip", "netns", "pids", ns], check=False).stdout
    return [int(x) for x in out.split()]


def ns_add(name):
    """Create network namespace @name with its loopback up."""
    run(["ip", "netns", "add", name])
    run(["ip", "-n", name, "link", "set", "lo", "up"])
    return name


def ns_delete(ns):
    """Kill everything inside @ns (only processes we started live there), delete it."""
    kill_pids(ns_pids(ns))
    run(["ip", "netns", "del", ns], check=False)


def ns_exists(ns):
    return os.path.exists("/run/netns/" + ns)


def nsexec(ns, *cmd):
    return ["ip", "netns", "exec", ns, *cmd]


def ip_json(ns, *args):
    out = run(["ip", "-n", ns, "-j", *args], check=False)
    if out.returncode != 0 or not out.stdout.strip():
        return []
    return json.loads(out.stdout)


def _owner(name, prefix):
    """The pid in "<prefix><pid>-...", or None."""
    try:
        return int(name[len(prefix):].split("-")[0])
    except ValueError:
        return None


def _owner_is_live(pid):
    # Any live process counts (a reused pid only delays the sweep), so a
    # script driving these helpers outside pytest is not swept from under.
    return pid == os.getpid() or pid_alive(pid)


# What the tests and benchmarks start, by /proc/PID/comm (15 bytes at most):
# the daemon, dnsmasq, and the real firewalld, D-Bus, FRR, Docker,
# systemd-resolved, libvirt and QEMU that some of them run.
SWEPT_COMMS = ("vmnet-brokerd", "dnsmasq", "dbus-daemon", "firewalld", "zebra", "bgpd",
               "mgmtd", "staticd", "dockerd", "containerd", "systemd-resolve", "libvirtd",
               "virtqemud", "qemu-system-x86")


def sweep(prefix, dirs, comms=SWEPT_COMMS, log=None):
    """Remove what runs that are gone left behind.

    Namespaces named @prefix<pid>-..., entries of each directory of @dirs
    named so, and processes called one of @comms that still name such a
    path on their command line (daemons whose namespace went first), when
    <pid> is no live process.
    """
    for ns in ns_list():
        if ns.startswith(prefix):
            owner = _owner(ns, prefix)
            if owner is None or not _owner_is_live(owner):
                if log:
                    log("removing leftover namespace " + ns)
                ns_delete(ns)
    stray = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or pid_comm(int(entry)) not in comms:
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                args = f.read().decode(errors="replace").split("\0")
        except OSError:
            continue
        for arg in args:
            for d in dirs:
                i = arg.find(os.path.join(d, prefix))
                if i < 0:
                    continue
                owner = _owner(arg[i + len(d) + 1:], prefix)
                if owner is not None and not _owner_is_live(owner):
                    stray.append(int(entry))
                break
    kill_pids(stray)
    for d in dirs:
        for name in os.listdir(d):
            if name.startswith(prefix):
                owner = _owner(name, prefix)
                if owner is not None and not _owner_is_live(owner):
                    shutil.rmtree(os.path.join(d, name), ignore_errors=True)


# ----------------------------------------------------------------- udhcpc

# The guests' udhcpc event script: apply the lease and, when $VMBT_LEASE_FILE
# is set, record it there as JSON.
DHCP_SCRIPT = r"""#!/bin/sh
# udhcpc event script of the tests: apply the lease, record it.
case "$1" in
deconfig)
	ip link set dev "$interface" up
	ip -4 addr flush dev "$interface"
	;;
bound|renew)
	ip -4 addr flush dev "$interface"
	ip addr add "$ip/${mask:-24}" dev "$interface"
	if [ -n "$router" ]; then
		set -- $router
		ip route replace default via "$1" dev "$interface"
	fi
	if [ -n "$VMBT_LEASE_FILE" ]; then
		printf '{"ip": "%s", "mask": "%s", "router": "%s", "dns": "%s", "domain": "%s"}\n' \
			"$ip" "$mask" "$router" "$dns" "$domain" > "$VMBT_LEASE_FILE"
	fi
	;;
esac
exit 0
"""

# For timing a DHCP exchange alone (the benchmarks): apply nothing.
DHCP_NOOP_SCRIPT = "#!/bin/sh\nexit 0\n"


def write_script(path, text):
    """Write an executable script; return @path."""
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o755)
    return path
