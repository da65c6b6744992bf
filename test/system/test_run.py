"""`vmnet-broker run` and vmnet-broker-qemu-helper, without a VM: which fds
a command is given, what the helper sends down QEMU's socket, and how long
the leases they make live. test_qemu.py boots real guests through both."""
import json
import os
import socket
import subprocess

import pytest

from conftest import AS_NOBODY, BUILD, CLI, NOBODY_UID, PYTHON, run, wait_until

HELPER = os.path.join(BUILD, "vmnet-broker-qemu-helper")

# Run by `vmnet-broker run`: describe fds 3.. and the environment, wait for
# stdin to close, exit.
SHOW_FDS = r"""
import json, os, sys, fcntl
out = {"env": {k: v for k, v in os.environ.items() if k.startswith("VMNET_BROKER_")},
       "pid": os.getpid(), "fds": {}}
for fd in range(3, 12):
    try:
        link = os.readlink("/proc/self/fd/%d" % fd)
    except OSError:
        continue
    info = {"link": link, "cloexec": bool(fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC)}
    with open("/proc/self/fdinfo/%d" % fd) as f:
        for line in f:
            if line.startswith("iff:"):
                info["iff"] = line.split()[1]
    out["fds"][str(fd)] = info
print(json.dumps(out), flush=True)
sys.stdin.read()
"""


@pytest.fixture(autouse=True)
def _built():
    if not os.access(HELPER, os.X_OK):
        pytest.fail("%s is not built (run make)" % HELPER, pytrace=False)


def start_run(broker, *args, user=None, shell_prefix=None):
    """Start `vmnet-broker run ARGS -- python3 SHOW_FDS`; return (proc, what it printed)."""
    cmd = [CLI, "--socket", broker.socket, "run", *args, "--", PYTHON, "-B", "-c", SHOW_FDS]
    if shell_prefix:
        # Let a shell arrange the fds first, then exec run in its place.
        cmd = ["sh", "-c", shell_prefix + ' exec "$@"', "sh", *cmd]
    if user is not None:
        cmd = AS_NOBODY + cmd
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    if not line:
        p.stdin.close()
        p.wait(10)
        raise AssertionError("run printed nothing (rc %s): %s" % (p.returncode, p.stderr.read()))
    return p, json.loads(line)


def finish(p):
    p.stdin.close()
    assert p.wait(10) == 0, p.stderr.read()
    p.stdout.close()
    p.stderr.close()


def test_run_passes_taps_as_fds_3_on_in_order(broker):
    mac = "52:54:00:3a:00:01"
    p, got = start_run(broker, "--network", "shared,mac=%s,label=first" % mac,
                       "--network", "host,queues=2,vnet_hdr=on")
    try:
        fds = got["fds"]
        assert sorted(fds) == ["3", "4", "5"], fds
        assert all(f["link"] == "/dev/net/tun" and not f["cloexec"] for f in fds.values()), fds
        shared, host = broker.network("shared"), broker.network("host")
        (ls,), (lh,) = shared["leases"], host["leases"]
        assert fds["3"]["iff"] == ls["ifname"]
        assert fds["4"]["iff"] == fds["5"]["iff"] == lh["ifname"]
        assert ls["mac"] == mac and ls["label"] == "first"
        assert lh["label"] == "run python3"
        # run execs the command: the lease's pid is the command's.
        assert ls["pid"] == lh["pid"] == got["pid"] == p.pid
        env = got["env"]
        assert env["VMNET_BROKER_FDS"] == "3,4,5"
        assert env["VMNET_BROKER_MACS"] == "%s,%s" % (mac, lh["mac"])
        assert env["VMNET_BROKER_ADDRESSES"] == "%s,%s" % (ls["address"], lh["address"])
        info = broker.link(lh["ifname"])["linkinfo"]["info_data"]
        assert info["vnet_hdr"] and info["multi_queue"], info
        info = broker.link(ls["ifname"])["linkinfo"]["info_data"]
        assert not info["vnet_hdr"] and not info["multi_queue"], info
    finally:
        finish(p)
    # The command held the only TAP fds: its exit ends both leases.
    wait_until(lambda: not broker.leases(), what="the run leases to end")


def test_run_moves_fds_out_of_the_way(broker):
    # fds 3 and 4 already taken (not close-on-exec), stderr closed: the TAPs
    # arrive elsewhere and must still land on 3 and 4, replacing what was there.
    p, got = start_run(broker, "--network", "shared", "--network", "host",
                       shell_prefix="exec 2>&- 3</dev/null 4</dev/null 7</dev/null;")
    try:
        fds = got["fds"]
        assert fds["3"]["link"] == fds["4"]["link"] == "/dev/net/tun", fds
        assert fds["3"]["iff"] == broker.network("shared")["leases"][0]["ifname"]
        assert fds["4"]["iff"] == broker.network("host")["leases"][0]["ifname"]
        # What was not ours to replace is left alone; nothing of ours leaks.
        assert fds["7"]["link"] == "/dev/null"
        assert sorted(fds) == ["3", "4", "7"], fds
    finally:
        finish(p)


def test_run_as_an_unprivileged_user(broker):
    p, got = start_run(broker, "--network", "shared", user=NOBODY_UID)
    try:
        (lease,) = broker.leases("shared")
        assert lease["uid"] == NOBODY_UID
        assert lease["pid"] == got["pid"]
        assert got["fds"]["3"]["iff"] == lease["ifname"]
    finally:
        finish(p)
    wait_until(lambda: not broker.leases(), what="the lease to end")


def test_run_errors(broker):
    p = broker.cli("run", "--network", "nosuch", "--", "true", check=False)
    assert p.returncode == 1
    assert "VMNET_BROKER_NOT_FOUND" in p.stderr
    # One network fails: the ports already acquired for the others go too.
    p = broker.cli("run", "--network", "shared", "--network", "nosuch", "--", "true",
                   check=False)
    assert p.returncode == 1 and "VMNET_BROKER_NOT_FOUND" in p.stderr
    wait_until(lambda: not broker.leases(), what="the first port to go")

    for spec in ("shared,bogus=1", "shared,queues=0", "shared,queues=x",
                 "shared,vnet_hdr=maybe", "shared,mac=01:00:00:00:00:01", ",mac=52:54:00:00:00:01",
                 "shared,label"):
        p = broker.cli("run", "--network", spec, "--", "true", check=False)
        assert p.returncode == 2, (spec, p.stderr)
        assert "--help" in p.stderr
    assert broker.cli("run", "--", "true", check=False).returncode == 2
    assert broker.cli("run", "--network", "shared", check=False).returncode == 2

    p = broker.cli("run", "--network", "shared", "--", "/nonexistent/cmd", check=False)
    assert p.returncode == 127 and "/nonexistent/cmd" in p.stderr
    wait_until(lambda: not broker.leases(), what="the lease of a command that never ran to end")


def test_run_label_with_a_comma(broker):
    p, _ = start_run(broker, "--network", "shared,label=a,,b")
    try:
        assert broker.leases("shared")[0]["label"] == "a,b"
    finally:
        finish(p)


def test_run_help():
    p = run([CLI, "run", "--help"])
    for word in ("--network", "VMNET_BROKER_FDS", "VMNET_BROKER_MACS", "VMNET_BROKER_ADDRESSES",
                 "vnet_hdr", "queues"):
        assert word in p.stdout


# ------------------------------------------------------------------ helper

def run_helper(broker, *args, user=None):
    """Run the helper as QEMU does, on a socketpair; return (rc, stderr, fd or None)."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    cmd = [HELPER, "--fd=%d" % theirs.fileno(), *args]
    if user is not None:
        cmd = AS_NOBODY + cmd
    env = dict(os.environ, VMNET_BROKER_SOCKET=broker.socket)
    p = subprocess.Popen(cmd, pass_fds=(theirs.fileno(),), env=env, stdin=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    theirs.close()
    ours.settimeout(10)
    # What QEMU's recv_fd() does: one byte, one SCM_RIGHTS fd.
    msg, fds, _, _ = socket.recv_fds(ours, 1, 1)
    ours.close()
    rc = p.wait(10)
    err = p.stderr.read()
    p.stderr.close()
    if fds:
        assert msg == b"\0" and len(fds) == 1
    else:
        assert msg == b"", msg
    return rc, err, fds[0] if fds else None


def tap_name(fd):
    with open("/proc/self/fdinfo/%d" % fd) as f:
        for line in f:
            if line.startswith("iff:"):
                return line.split()[1]
    return None


def test_helper_sends_a_tap_fd_as_qemu_expects(broker):
    rc, err, fd = run_helper(broker, "--use-vnet", "--br=shared")
    try:
        assert rc == 0, err
        assert err == ""
        assert fd is not None and os.readlink("/proc/self/fd/%d" % fd) == "/dev/net/tun"
        (lease,) = broker.leases("shared")
        assert lease["kind"] == "tap" and lease["ifname"] == tap_name(fd)
        # QEMU is the helper's parent; here that is this test.
        assert lease["label"] == "qemu-helper pid %d" % os.getpid()
        info = broker.link(lease["ifname"])["linkinfo"]["info_data"]
        assert info["vnet_hdr"] is True
        assert info["multi_queue"] is False
    finally:
        if fd is not None:
            os.close(fd)
    # The helper kept nothing: the lease was the fd's alone.
    wait_until(lambda: not broker.leases(), what="the helper's lease to end")


def test_helper_without_use_vnet_and_with_our_options(broker):
    mac = "52:54:00:3a:00:02"
    rc, err, fd = run_helper(broker, "--br=host", "--mac=" + mac, "--label=vm7", "--verbose",
                             user=NOBODY_UID)
    try:
        assert rc == 0, err
        (lease,) = broker.leases("host")
        assert lease["mac"] == mac and lease["label"] == "vm7" and lease["uid"] == NOBODY_UID
        assert "port tap %s mac %s address %s" % (lease["ifname"], mac, lease["address"]) in err
        assert broker.link(lease["ifname"])["linkinfo"]["info_data"]["vnet_hdr"] is False
    finally:
        os.close(fd)


def test_helper_errors(broker):
    rc, err, fd = run_helper(broker, "--use-vnet", "--br=nosuch")
    assert fd is None
    assert rc == 1 and "VMNET_BROKER_NOT_FOUND" in err and "nosuch" in err

    rc, err, fd = run_helper(broker, "--use-vnet")
    assert fd is None and rc == 2 and "--br" in err

    rc, err, fd = run_helper(broker, "--br=shared", "--mac=nonsense")
    assert fd is None and rc == 2 and "--mac" in err

    p = run([HELPER, "--br=shared"], check=False)
    assert p.returncode == 2 and "--fd" in p.stderr
    # An fd that is no socket costs no port.
    p = run([HELPER, "--br=shared", "--fd=0", "--socket", broker.socket], check=False)
    assert p.returncode == 1 and "not an open unix socket" in p.stderr
    assert broker.network("shared") is None

    p = run([HELPER, "--help"])
    assert "--use-vnet" in p.stdout and "--br=" in p.stdout
