"""The Debian packages built from the tree, installed as a user would get them.

The packages are built once per session (`dpkg-buildpackage -us -uc -b` on
a copy of the tree). Two ways of trying them, neither of which installs
anything into the machine's own root:

- extracted (`dpkg-deb -x`) into a temporary root, whose daemon is run as
  vmnet-brokerd.service's ExecStart says, socket-activated the way
  vmnet-brokerd.socket says (mode and group), in a namespace of the test;
- installed with dpkg into a throwaway Debian root (debootstrap, cached
  in /var/tmp) booted by systemd-nspawn with its own network namespace:
  real systemd, sysusers, tmpfiles, the units' hardening, dpkg's
  maintainer scripts, upgrade and removal.

The Go and Python clients' packages are tried both ways too: the Python
module and a program built in GOPATH mode from the Go package's source,
as a member of the group, against the daemon of the tree's packages.

Each part is skipped, saying why, where its tools are missing; `make check`
and `make deb` (VMNET_DEB_DEPS=1 scripts/install-deps.sh) install the
packaging tools, systemd-container and debootstrap.
"""
import glob
import grp
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import BUILD, REPO, RUN, as_user, ns_delete, pid_alive, run, wait_until
import vmbt_shells
from vmbt_activate import Activator

MULTIARCH = "x86_64-linux-gnu"
GO_MODULE = "vmnet-broker.invalid/vmnetbroker"
GO_SRC = "./usr/share/gocode/src/" + GO_MODULE
PY_DIR = "./usr/lib/python3/dist-packages"


def _tracked(prefix):
    p = run(["git", "-C", REPO, "ls-files", "-co", "--exclude-standard", prefix], check=False)
    if p.returncode == 0:
        return [f for f in p.stdout.split() if os.path.exists(os.path.join(REPO, f))]
    out = []
    for d, _, files in os.walk(os.path.join(REPO, prefix)):
        out += [os.path.relpath(os.path.join(d, f), REPO) for f in files
                if "__pycache__" not in d and not f.endswith(".pyc")]
    return out


def _doc(pkg):
    return {"./usr/share/doc/%s/changelog.gz" % pkg, "./usr/share/doc/%s/copyright" % pkg}

# Everything each package may hold, directories aside.
EXPECTED = {
    "vmnet-broker": {
        "./etc/vmnet-broker.d/example.json.sample",
        "./lib/systemd/system/vmnet-brokerd.service",
        "./lib/systemd/system/vmnet-brokerd.socket",
        "./usr/bin/vmnet-broker",
        "./usr/lib/%s/vmnet-broker/dnsmasq-preload.so" % MULTIARCH,
        "./usr/lib/firewalld/zones/vmnet-broker.xml",
        "./usr/lib/sysusers.d/vmnet-broker.conf",
        "./usr/lib/tmpfiles.d/vmnet-broker.conf",
        "./usr/libexec/vmnet-broker-check-leases",
        "./usr/libexec/vmnet-broker-qemu-helper",
        "./usr/sbin/vmnet-brokerd",
        "./usr/share/bash-completion/completions/vmnet-broker",
        "./usr/share/fish/vendor_completions.d/vmnet-broker.fish",
        "./usr/share/zsh/vendor-completions/_vmnet-broker",
        "./usr/share/doc/vmnet-broker/changelog.gz",
        "./usr/share/doc/vmnet-broker/copyright",
        "./usr/share/man/man1/vmnet-broker.1.gz",
        "./usr/share/man/man5/vmnet-broker.d.5.gz",
        "./usr/share/man/man8/vmnet-brokerd.8.gz",
    },
    "libvmnet-broker1": {
        "./usr/lib/%s/libvmnet-broker.so.1" % MULTIARCH,
        "./usr/lib/%s/libvmnet-broker.so.1.0.0" % MULTIARCH,
        "./usr/share/doc/libvmnet-broker1/changelog.gz",
        "./usr/share/doc/libvmnet-broker1/copyright",
    },
    "libvmnet-broker-dev": {
        "./usr/include/vmnet-broker.h",
        "./usr/lib/%s/libvmnet-broker.so" % MULTIARCH,
        "./usr/lib/%s/pkgconfig/vmnet-broker.pc" % MULTIARCH,
        "./usr/share/doc/libvmnet-broker-dev/changelog.gz",
        "./usr/share/doc/libvmnet-broker-dev/copyright",
        "./usr/share/man/man3/vmnet-broker.3.gz",
    },
    # The Go module's source, as go/ has it, for GOPATH builds.
    "golang-vmnet-broker-dev": _doc("golang-vmnet-broker-dev") | {
        GO_SRC + f[len("go"):] for f in _tracked("go") if not f.endswith(".md")},
    "python3-vmnet-broker": _doc("python3-vmnet-broker") | {
        PY_DIR + f[len("python"):] for f in _tracked("python/vmnet_broker")},
}
EXECUTABLES = {"./usr/bin/vmnet-broker", "./usr/sbin/vmnet-brokerd",
               "./usr/libexec/vmnet-broker-qemu-helper", "./usr/libexec/vmnet-broker-check-leases"}


# ----------------------------------------------------------------- building

def _tree_files():
    """The checkout's files: tracked and new ones, not ignored (no build dirs)."""
    p = run(["git", "-C", REPO, "ls-files", "-co", "--exclude-standard", "-z"], check=False)
    if p.returncode == 0:
        return [f for f in p.stdout.split("\0") if f and os.path.lexists(os.path.join(REPO, f))]
    out = []
    for d, dirs, files in os.walk(REPO):
        dirs[:] = [x for x in dirs
                   if not (x.startswith(("build", "obj-", ".")) or x == "__pycache__")]
        out += [os.path.relpath(os.path.join(d, f), REPO) for f in files]
    return out


@pytest.fixture(scope="session")
def debs():
    """{package: .deb path}, built once per session from a copy of the tree."""
    for tool in ("dpkg-buildpackage", "dh", "dpkg-checkbuilddeps"):
        if not shutil.which(tool):
            pytest.skip("%s is not installed (make deb-deps installs the packaging tools)" % tool)
    p = run(["dpkg-checkbuilddeps", "-B", os.path.join(REPO, "debian/control")], check=False)
    if p.returncode != 0:
        pytest.skip("build dependencies missing (make deb-deps): %s" % p.stderr.strip())
    top = tempfile.mkdtemp(prefix=RUN + "deb-")
    src = os.path.join(top, "vmnet-broker")
    for f in _tree_files():
        dst = os.path.join(src, f)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy2(os.path.join(REPO, f), dst, follow_symlinks=False)
    # nocheck: the unit tests are make check's own; this is about packaging.
    env = dict(os.environ, DEB_BUILD_OPTIONS="nocheck")
    started = time.monotonic()
    b = subprocess.run(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=src, env=env,
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=900)
    if b.returncode != 0:
        pytest.fail("dpkg-buildpackage failed (%d):\n%s\n%s"
                    % (b.returncode, b.stdout[-6000:], b.stderr[-3000:]), pytrace=False)
    out = {}
    for path in glob.glob(os.path.join(top, "*.deb")):
        name = os.path.basename(path).split("_")[0]
        if not name.endswith("-dbgsym"):
            out[name] = path
    assert set(out) == set(EXPECTED), out
    out["_build_seconds"] = time.monotonic() - started
    yield out
    shutil.rmtree(top, ignore_errors=True)


def deb_contents(path):
    """{path: (mode string, owner, link target or None)} of a .deb."""
    out = {}
    for line in run(["dpkg-deb", "-c", path]).stdout.splitlines():
        f = line.split(None, 5)
        name = f[5]
        target = None
        if " -> " in name:
            name, target = name.split(" -> ", 1)
        out[name] = (f[0], f[1], target)
    return out


def control_file(deb, name, tmp):
    d = os.path.join(tmp, "control-" + os.path.basename(deb))
    if not os.path.isdir(d):
        run(["dpkg-deb", "-e", deb, d])
    path = os.path.join(d, name)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return f.read()


# ----------------------------------------------------------------- contents

def test_packages_hold_what_they_should(debs):
    for pkg, expected in EXPECTED.items():
        contents = deb_contents(debs[pkg])
        files = {p for p, (mode, _, _) in contents.items() if not mode.startswith("d")}
        assert files == expected, "%s: unexpected %s, missing %s" % (
            pkg, sorted(files - expected), sorted(expected - files))
        for path, (mode, owner, _) in contents.items():
            assert owner == "root/root", (pkg, path, owner)
            assert "s" not in mode and "S" not in mode, "set-id bit on %s" % path
            assert mode.startswith("l") or mode[8] != "w", "world-writable %s" % path
            if path in EXECUTABLES:
                assert mode == "-rwxr-xr-x", (path, mode)
            elif mode.startswith("-"):
                assert mode == "-rw-r--r--", (path, mode)


def test_maintainer_scripts(debs, tmp_path):
    deb = debs["vmnet-broker"]
    for name in ("preinst", "postinst", "prerm", "postrm"):
        text = control_file(deb, name, str(tmp_path))
        assert text is not None, name
        run(["sh", "-n", os.path.join(str(tmp_path), "control-" + os.path.basename(deb), name)])
    postinst = control_file(deb, "postinst", str(tmp_path))
    assert "systemd-sysusers" in postinst and "vmnet-broker.conf" in postinst
    assert "systemd-tmpfiles" in postinst
    assert "deb-systemd-helper enable 'vmnet-brokerd.socket'" in postinst
    # Only the socket is enabled and started; the service comes with it.
    assert "enable 'vmnet-brokerd.service'" not in postinst.split("debian-installed")[0]
    prerm = control_file(deb, "prerm", str(tmp_path))
    check = prerm.index("vmnet-broker-check-leases")
    stop = prerm.index("deb-systemd-invoke stop 'vmnet-brokerd.socket'")
    remove_all = prerm.index("--remove-all")
    assert check < stop < remove_all, "prerm must check leases, then stop, then clean up"
    assert re.search(r'remove\)\s*\n(\s*#.*\n)*\s*/usr/libexec/vmnet-broker-check-leases', prerm)
    postrm = control_file(deb, "postrm", str(tmp_path))
    assert "deb-systemd-helper purge" in postrm
    assert control_file(deb, "conffiles", str(tmp_path)).split() == [
        "/etc/vmnet-broker.d/example.json.sample"]
    control = control_file(deb, "control", str(tmp_path))
    assert "dnsmasq-base" in control


# ----------------------------------------------------------------- extracted

def unit_settings(path):
    """Key -> [values] of a systemd unit file (no drop-ins, no specifiers)."""
    out = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#;[" or "=" not in line:
                continue
            k, v = line.split("=", 1)
            out.setdefault(k.strip(), []).append(v.strip())
    return out


@pytest.fixture
def extracted(debs, topo):
    """The daemon package and its library unpacked into a temporary root."""
    root = os.path.join(topo.tmp, "root")
    for pkg in ("vmnet-broker", "libvmnet-broker1"):
        run(["dpkg-deb", "-x", debs[pkg], root])
    os.chmod(root, 0o755)
    return root


def free_gid():
    for gid in range(64000, 64500):
        try:
            grp.getgrgid(gid)
        except KeyError:
            return gid
    pytest.skip("no free gid in 64000-64499")


def test_installed_daemon_runs_as_the_units_say(extracted, topo):
    root = extracted
    service = unit_settings(root + "/lib/systemd/system/vmnet-brokerd.service")
    socket_unit = unit_settings(root + "/lib/systemd/system/vmnet-brokerd.socket")
    assert service["Type"] == ["notify"]
    assert service["KillMode"] == ["process"]
    assert socket_unit["ListenSequentialPacket"] == ["/run/vmnet-broker/broker.sock"]
    assert socket_unit["SocketGroup"] == ["vmnet-broker"]
    with open(root + "/usr/lib/sysusers.d/vmnet-broker.conf") as f:
        assert any(line.split()[:2] == ["g", "vmnet-broker"] for line in f)

    # ExecStart as the unit has it, with the test's own state, config
    # and resolv.conf instead of the machine's.
    exec_start = service["ExecStart"][0].split()
    assert exec_start[0] == "/usr/sbin/vmnet-brokerd"
    state = os.path.join(topo.tmp, "state")
    os.mkdir(state)
    resolv = os.path.join(topo.tmp, "resolv.conf")
    open(resolv, "w").close()
    argv = [root + exec_start[0], *exec_start[1:], "--state-dir", state,
            "--config-dir", root + "/etc/vmnet-broker.d", "--resolv-file", resolv,
            "--idle-timeout", "1"]
    gid = free_gid()  # stands in for group vmnet-broker, without touching /etc/group
    ns = topo.netns("d")
    a = Activator(ns, argv, os.path.join(topo.tmp, "broker.sock"),
                  os.path.join(topo.tmp, "daemon.log"), os.path.join(topo.tmp, "notify"),
                  group=gid, mode=int(socket_unit["SocketMode"][0], 8))
    try:
        _exercise_installed(root, a, topo, gid, state)
    finally:
        a.close()
    assert all(rc == 0 for _, rc in a.exits), a.exits


def _exercise_installed(root, a, topo, gid, state):
    libdir = root + "/usr/lib/" + MULTIARCH
    env = dict(os.environ, LD_LIBRARY_PATH=libdir, VMNET_BROKER_SOCKET=a.sock_path)
    cli = root + "/usr/bin/vmnet-broker"
    check = root + "/usr/libexec/vmnet-broker-check-leases"
    nobody = 65534

    def as_member(*args, check_rc=True):
        cmd = ["setpriv", "--reuid=%d" % nobody, "--regid=%d" % nobody,
               "--groups=%d" % gid, cli, *args]
        return run(cmd, env=env, check=check_rc)

    # A member of the group acquires; the daemon was started for it.
    p = as_member("acquire", "host", "--port", "tap", "--label", "member", "--json")
    assert json.loads(p.stdout)["network"]["port"]["kind"] == "tap"
    wait_until(lambda: "READY=1" in a.messages, what="READY=1")
    # Anyone else cannot even connect.
    p = run(as_user(nobody) + [cli, "status"], env=env, check=False)
    assert p.returncode == 1
    assert "VMNET_BROKER_CONNECTION_FAILURE" in p.stderr and "Permission denied" in p.stderr
    # The example file is not a network (only *.json is read).
    names = [n["name"] for n in json.loads(as_member("networks", "--json").stdout)["networks"]]
    assert sorted(names) == ["host", "shared"], names

    # Uninstall check: refuses while a VM holds a lease, unless forced.
    guest = topo.guest()
    run([cli, "acquire", "shared", "--netns", guest.path, "--label", "vm1"], env=env)
    p = run([check, cli, state], env=env, check=False)
    assert p.returncode == 1 and "refusing to uninstall: 1 lease(s)" in p.stderr, p.stderr
    assert "vm1" in p.stderr
    p = run([check, cli, state], env=dict(env, VMNET_BROKER_FORCE="1"), check=False)
    assert p.returncode == 0

    # Stopped (as `systemctl stop` would), the network stays for the next
    # daemon; the check then reads the daemon's records.
    pid = a.running_pid()
    os.kill(pid, signal.SIGTERM)
    wait_until(lambda: not pid_alive(pid), what="the daemon to stop")
    nosock = dict(env, VMNET_BROKER_SOCKET=os.path.join(topo.tmp, "none.sock"))
    p = run([check, cli, state], env=nosock, check=False)
    assert p.returncode == 1 and "records in" in p.stderr, p.stderr

    # The next connection starts a daemon, which adopts it.
    p = as_member("status", "--json")
    leases = json.loads(p.stdout)["networks"][0]["leases"]
    assert len(leases) == 1 and leases[0].get("hidden"), leases

    # The lease ends with its namespace; the check then lets go.
    ns_delete(guest.ns)
    wait_until(lambda: run([check, cli, state], env=env, check=False).returncode == 0,
               what="the check to pass once the lease ended")


def test_installed_docs_match_the_programs(extracted, tmp_path):
    """Every option of --help is in the man page; pages render cleanly."""
    root = extracted
    env = dict(os.environ, LD_LIBRARY_PATH=root + "/usr/lib/" + MULTIARCH)
    if not shutil.which("man"):
        pytest.skip("man is not installed")

    def page(section, name):
        path = "%s/usr/share/man/man%s/%s.%s.gz" % (root, section, name, section)
        p = subprocess.run(["man", "--warnings", "-l", path], capture_output=True, text=True,
                           env=dict(env, MANWIDTH="80", MAN_KEEP_FORMATTING="0"))
        assert p.returncode == 0 and not p.stderr.strip(), (path, p.stderr)
        return re.sub(r".\x08", "", p.stdout)

    daemon_help = run([root + "/usr/sbin/vmnet-brokerd", "--help"], env=env).stdout
    man8 = page(8, "vmnet-brokerd")
    for opt in sorted(set(re.findall(r"--[a-z][a-z-]+", daemon_help))):
        assert opt in man8, "vmnet-brokerd(8) does not mention %s" % opt

    cli = root + "/usr/bin/vmnet-broker"
    man1 = page(1, "vmnet-broker")
    commands = re.findall(r"^  ([a-z][a-z-]+)  ", run([cli, "--help"], env=env).stdout, re.M)
    assert "acquire" in commands
    for c in commands:
        assert c in man1, "vmnet-broker(1) does not mention %s" % c
        p = run([cli, c, "--help"], env=env, check=False)
        for opt in set(re.findall(r"--[a-z][a-z_-]+", p.stdout)):
            assert opt in man1, "vmnet-broker(1) does not mention %s %s" % (c, opt)
    page(5, "vmnet-broker.d")


def test_library_man_page_covers_the_header(debs, tmp_path):
    root = str(tmp_path / "dev")
    run(["dpkg-deb", "-x", debs["libvmnet-broker-dev"], root])
    with open(root + "/usr/include/vmnet-broker.h") as f:
        functions = re.findall(r"\b(vmnet_broker_[a-z0-9_]+)\(", f.read())
    p = subprocess.run(["zcat", root + "/usr/share/man/man3/vmnet-broker.3.gz"],
                       capture_output=True, text=True, check=True)
    text = p.stdout.replace("\\_", "_").replace("\\(ru", "_")
    missing = sorted({fn for fn in functions
                      if fn not in text and fn.replace("vmnet_broker_network", "") not in text})
    assert not missing, "vmnet-broker(3) does not mention %s" % missing


def test_clients_from_their_packages(debs, extracted, topo):
    """python3 -m vmnet_broker from python3-vmnet-broker, and a program built
    in GOPATH mode from golang-vmnet-broker-dev, as a member of the group,
    against the packaged daemon socket-activated as its units say."""
    root = extracted
    for pkg in ("python3-vmnet-broker", "golang-vmnet-broker-dev"):
        run(["dpkg-deb", "-x", debs[pkg], root])
    service = unit_settings(root + "/lib/systemd/system/vmnet-brokerd.service")
    exec_start = service["ExecStart"][0].split()
    state = os.path.join(topo.tmp, "state")
    os.mkdir(state)
    resolv = os.path.join(topo.tmp, "resolv.conf")
    open(resolv, "w").close()
    argv = [root + exec_start[0], *exec_start[1:], "--state-dir", state,
            "--config-dir", root + "/etc/vmnet-broker.d", "--resolv-file", resolv]
    gid = free_gid()
    a = Activator(topo.netns("d"), argv, os.path.join(topo.tmp, "broker.sock"),
                  os.path.join(topo.tmp, "daemon.log"), os.path.join(topo.tmp, "notify"),
                  group=gid, mode=0o660)
    member = ["setpriv", "--reuid=65534", "--regid=65534", "--groups=%d" % gid]
    env = dict(os.environ, VMNET_BROKER_SOCKET=a.sock_path, PYTHONDONTWRITEBYTECODE="1",
               PYTHONPATH=root + "/usr/lib/python3/dist-packages")
    try:
        p = run(member + ["/usr/bin/python3", "-m", "vmnet_broker", "acquire", "host",
                          "--label", "py-member", "--json"], env=env)
        assert json.loads(p.stdout)["network"]["port"]["kind"] == "tap"
        p = run(member + ["/usr/bin/python3", "-m", "vmnet_broker", "networks"], env=env)
        assert "shared" in p.stdout and "builtin" in p.stdout, p.stdout

        # The Go package, as a GOPATH build of another program would use it.
        gopath = root + "/usr/share/gocode"
        exe = os.path.join(topo.tmp, "go-status")
        run(["go", "build", "-o", exe, GO_MODULE + "/examples/status"], timeout=300,
            env=dict(os.environ, GO111MODULE="off", GOPATH=gopath, GOENV="off", GOFLAGS="",
                     GOPROXY="off", GOCACHE=os.path.join(BUILD, "go", "cache")))
        os.chmod(topo.tmp, 0o755)
        p = run(member + [exe, "-networks"], env=env)
        assert re.search(r"^shared\s+shared\s+\S+\s+builtin$", p.stdout, re.M), p.stdout
        p = run(member + [exe], env=env)
        assert "No network is up." in p.stdout or "host" in p.stdout, p.stdout
    finally:
        a.close()
    assert all(rc == 0 for _, rc in a.exits), (a.exits, a.log())


COMPLETIONS = {
    "bash": "/usr/share/bash-completion/completions/vmnet-broker",
    "zsh": "/usr/share/zsh/vendor-completions/_vmnet-broker",
    "fish": "/usr/share/fish/vendor_completions.d/vmnet-broker.fish",
}


@pytest.mark.parametrize("shell", sorted(COMPLETIONS))
def test_completion(extracted, broker, topo, shell):
    """Each shell's completion as the package installs it: commands,
    options, and names the daemon gives (networks a file of the daemon's
    own directory makes, the running ones, the caller's leases), asked
    through the socket of $VMNET_BROKER_SOCKET or of --socket on the line."""
    why = vmbt_shells.available(shell)
    if why:
        pytest.skip(why)
    with open(os.path.join(broker.config_dir, "lab.json"), "w") as f:
        json.dump({"mode": "host"}, f)
    broker.cli("acquire", "shared", "--port", "named_tap", "--ifname", "cmpl0", "--persistent")
    env = dict(os.environ, PATH=extracted + "/usr/bin:" + os.environ["PATH"],
               LD_LIBRARY_PATH=extracted + "/usr/lib/" + MULTIARCH,
               VMNET_BROKER_SOCKET=broker.socket)
    script = extracted + COMPLETIONS[shell]

    def complete(line, e=env):
        return vmbt_shells.complete(shell, script, line, e)

    def names(line, e=env):
        # zsh offers the options too where no name fits.
        return [c for c in complete(line, e) if not c.startswith("-")]

    assert complete("vmnet-broker ac") == ["acquire"]
    assert complete("vmnet-broker sto") == ["stop"]
    assert complete("vmnet-broker do") == ["doctor"]
    assert complete("vmnet-broker wa") == ["wait-address"]
    assert complete("vmnet-broker acquire --port n") == ["named_tap", "netns", "none"]
    assert names("vmnet-broker acquire ") == ["host", "lab", "shared"]
    assert names("vmnet-broker stop ") == ["shared"]
    assert "--force" in complete("vmnet-broker stop --")
    assert names("vmnet-broker release ") == ["cmpl0"]
    assert names("vmnet-broker forward ") == ["add", "list", "remove"]
    assert names("vmnet-broker forward add ") == ["cmpl0"]
    assert names("vmnet-broker wait-address ") == ["cmpl0"]
    assert "--names" in complete("vmnet-broker status --")
    assert "--persistent" in complete("vmnet-broker acquire --")
    if shell == "bash":
        assert "shared" in complete("vmnet-broker run --network ")
    # --socket on the line, and no daemon where the environment points.
    nowhere = dict(env, VMNET_BROKER_SOCKET=os.path.join(topo.tmp, "none.sock"))
    assert names("vmnet-broker stop ", nowhere) == []
    assert names("vmnet-broker --socket %s stop " % broker.socket, nowhere) == ["shared"]
    assert names("vmnet-broker --socket=%s release " % broker.socket, nowhere) == ["cmpl0"]
    broker.cli("release", "cmpl0")


# ----------------------------------------------------------------- real systemd

ROOTFS_PACKAGES = ("systemd,systemd-sysv,dbus,iproute2,nftables,dnsmasq-base,libnl-3-200,"
                   "libnl-route-3-200,libnftables1,libjansson4,libsystemd0,libcap-ng0,libmnl0,"
                   "procps,util-linux,python3,iptables")
# One cache per package list: runs of trees that want different roots (say,
# two branches on one machine) each keep theirs instead of remaking it.
ROOTFS_CACHE = "/var/tmp/vmnet-broker-test-rootfs-" + hashlib.sha256(
    ROOTFS_PACKAGES.encode()).hexdigest()[:12]


def _base_rootfs():
    """A minimal Debian 12 root with the packages' dependencies, made once per machine."""
    stamp = os.path.join(ROOTFS_CACHE, ".complete")
    if os.path.exists(stamp):
        with open(stamp) as f:
            if f.read().strip() == ROOTFS_PACKAGES:
                return os.path.join(ROOTFS_CACHE, "root")
    shutil.rmtree(ROOTFS_CACHE, ignore_errors=True)
    os.makedirs(ROOTFS_CACHE)
    root = os.path.join(ROOTFS_CACHE, "root")
    p = subprocess.run(["debootstrap", "--variant=minbase", "--include=" + ROOTFS_PACKAGES,
                        "bookworm", root, "http://deb.debian.org/debian"],
                       capture_output=True, text=True, timeout=1200)
    if p.returncode != 0:
        shutil.rmtree(ROOTFS_CACHE, ignore_errors=True)
        pytest.skip("debootstrap failed (%d): %s" % (p.returncode, p.stderr[-500:]))
    with open(stamp, "w") as f:
        f.write(ROOTFS_PACKAGES)
    return root


def _kill_stale_containers():
    tmp = tempfile.gettempdir()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                args = f.read().decode(errors="replace").split("\0")
        except OSError:
            continue
        if not args or os.path.basename(args[0]) != "systemd-nspawn":
            continue
        m = re.search(re.escape(os.path.join(tmp, "vmbt-")) + r"(\d+)-", " ".join(args))
        if m and not pid_alive(int(m.group(1))):
            os.kill(int(entry), signal.SIGKILL)


class Container:
    """A booted systemd-nspawn container with its own network namespace."""

    def __init__(self, root):
        self.root = root
        self.log = open(root + ".console", "wb")
        self.proc = subprocess.Popen(
            ["systemd-nspawn", "--quiet", "--register=no", "--keep-unit", "-D", root, "-b",
             "--private-network", "--console=pipe"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)
        self.leader = wait_until(self._leader, timeout=30, what="the container's systemd")

        def booted():
            # "offline" until systemd has its private bus up.
            p = self.sh("systemctl is-system-running --wait", check=False, timeout=90)
            return p.stdout.strip() in ("running", "degraded")
        wait_until(booted, timeout=90, interval=0.5, what="the container to boot")

    def _leader(self):
        if self.proc.poll() is not None:
            raise AssertionError("systemd-nspawn exited: " + self.console())
        try:
            with open("/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)) as f:
                kids = f.read().split()
            # nspawn's child execs systemd: enter only once it has.
            if kids and os.readlink("/proc/%s/exe" % kids[0]).endswith("/systemd"):
                return int(kids[0])
        except OSError:
            pass
        return None

    def console(self):
        with open(self.root + ".console", "rb") as f:
            return f.read().decode(errors="replace")[-3000:]

    def sh(self, script, check=True, timeout=60, env=None):
        t0 = time.monotonic()
        try:
            return self._sh(script, check, timeout, env)
        finally:
            print("[%6.1fs] %s" % (time.monotonic() - t0, script[:70]))

    def _sh(self, script, check, timeout, env):
        e = " ".join("%s=%s" % kv for kv in (env or {}).items())
        cmd = ["nsenter", "-t", str(self.leader), "-m", "-u", "-i", "-n", "-p", "-C", "--",
               "/usr/bin/env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8",
               *e.split(), "/bin/sh", "-c", script]
        return run(cmd, check=check, timeout=timeout)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # nspawn powers the container off
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@pytest.fixture
def container(debs, topo):
    for tool in ("systemd-nspawn", "debootstrap", "nsenter"):
        if not shutil.which(tool):
            pytest.skip("%s is not installed (apt-get install systemd-container debootstrap)"
                        % tool)
    if os.environ.get("VMNET_TEST_NSPAWN") == "0":
        pytest.skip("VMNET_TEST_NSPAWN=0")
    _kill_stale_containers()
    base = _base_rootfs()
    root = os.path.join(topo.tmp, "container")
    run(["cp", "-a", base, root], timeout=300)
    os.makedirs(root + "/root/debs")
    for pkg in ("vmnet-broker", "libvmnet-broker1", "python3-vmnet-broker"):
        shutil.copy(debs[pkg], root + "/root/debs/%s.deb" % pkg)
    # A program of the Go package, static (CGO_ENABLED=0): the root has no Go.
    gopath = os.path.join(topo.tmp, "gopath")
    run(["dpkg-deb", "-x", debs["golang-vmnet-broker-dev"], gopath])
    run(["go", "build", "-o", root + "/usr/local/bin/go-status", GO_MODULE + "/examples/status"],
        timeout=300, env=dict(os.environ, GO111MODULE="off", CGO_ENABLED="0", GOENV="off",
                              GOFLAGS="", GOPROXY="off", GOPATH=gopath + "/usr/share/gocode",
                              GOCACHE=os.path.join(BUILD, "go", "cache")))
    # A DHCP client for the guest (make check installs busybox here; it
    # needs only libc and libresolv, which the root has).
    if os.path.exists("/bin/busybox"):
        shutil.copy("/bin/busybox", root + "/usr/local/bin/busybox")
        with open(root + "/root/udhcpc.sh", "w") as f:
            f.write('#!/bin/sh\n[ "$1" = bound ] && echo "$ip" > /root/lease\nexit 0\n')
        os.chmod(root + "/root/udhcpc.sh", 0o755)
    c = Container(root)
    try:
        yield c
    finally:
        c.stop()
        shutil.rmtree(root, ignore_errors=True)


def journal(c):
    return c.sh("journalctl -u vmnet-brokerd.service -o cat --no-pager").stdout


def test_installed_with_systemd(container):
    c = container
    p = c.sh("dpkg -i /root/debs/libvmnet-broker1.deb /root/debs/vmnet-broker.deb")
    assert "Creating group 'vmnet-broker'" in p.stdout + p.stderr

    # Socket up, with the group; the daemon not yet.
    assert c.sh("systemctl is-active vmnet-brokerd.socket").stdout.strip() == "active"
    assert c.sh("systemctl is-active vmnet-brokerd.service", check=False).stdout.strip() \
        == "inactive"
    assert c.sh("stat -c '%a %U %G' /run/vmnet-broker/broker.sock").stdout.split() == \
        ["660", "root", "vmnet-broker"]

    # A member acquires (the socket starts the daemon); others cannot connect.
    c.sh("useradd -m -G vmnet-broker alice && useradd -m bob")
    p = c.sh("setpriv --reuid=alice --regid=alice --init-groups "
             "vmnet-broker acquire host --port tap --label alice --json")
    assert json.loads(p.stdout)["network"]["port"]["kind"] == "tap"
    p = c.sh("setpriv --reuid=bob --regid=bob --init-groups vmnet-broker status", check=False)
    assert p.returncode == 1 and "Permission denied" in p.stderr
    # The clients' packages: Python's (byte-compiled by dpkg), and a Go program.
    c.sh("dpkg -i /root/debs/python3-vmnet-broker.deb")
    p = c.sh("setpriv --reuid=alice --regid=alice --init-groups "
             "python3 -m vmnet_broker acquire host --port none --json")
    assert json.loads(p.stdout)["network"]["port"]["kind"] == "none"
    assert c.sh("ls /usr/lib/python3/dist-packages/vmnet_broker/__pycache__").stdout.strip()
    p = c.sh("setpriv --reuid=alice --regid=alice --init-groups /usr/local/bin/go-status -networks")
    assert re.search(r"^shared\s+shared\s+\S+\s+builtin$", p.stdout, re.M), p.stdout
    p = c.sh("setpriv --reuid=bob --regid=bob --init-groups python3 -m vmnet_broker status",
             check=False)
    assert p.returncode == 1 and "VMNET_BROKER_CONNECTION_FAILURE" in p.stderr, p.stderr

    # Root puts a namespace on shared, through the hardened service:
    # bridge, nftables, dnsmasq, setns into the namespace, /proc/sys/net.
    c.sh("ip netns add g1")
    p = c.sh("vmnet-broker acquire shared --netns /run/netns/g1 --label g1 --json")
    port = json.loads(p.stdout)["network"]["port"]
    assert c.sh("ip netns exec g1 ip -j link show eth0").stdout.count(port["mac"]) == 1
    assert "vmnet_broker" in c.sh("nft list tables").stdout
    assert c.sh("cat /proc/sys/net/ipv4/ip_forward").stdout.strip() == "1"
    dnsmasq = c.sh("pgrep -x dnsmasq").stdout.split()
    assert dnsmasq
    # With the installed dnsmasq-preload.so, which keeps it out of rtnetlink's groups.
    assert "/vmnet-broker/dnsmasq-preload.so" in c.sh("cat /proc/%s/maps" % dnsmasq[0]).stdout
    # dnsmasq, started by the hardened service, serves the reserved address.
    if os.path.exists(c.root + "/usr/local/bin/busybox"):
        c.sh("ip netns exec g1 /usr/local/bin/busybox udhcpc -f -q -n -t 5 -T 1 -i eth0 "
             "-s /root/udhcpc.sh",
             timeout=30)
        assert c.sh("cat /root/lease").stdout.strip() == port["address"]

    # iptables of both backends under the hardened unit (its /run/xtables.lock,
    # the capabilities iptables gets back): a FORWARD policy DROP gets the
    # broker's accept rules within a second or two.
    # No lock file yet, as where the daemon's iptables is the first to lock it:
    # the unit made it, writable, as it started.
    c.sh("iptables-legacy -w -P FORWARD DROP && iptables-nft -w -P FORWARD DROP && "
         "rm -f /run/xtables.lock")

    def fixed():
        return all("-A FORWARD -j VMNET-BROKER" in c.sh("%s-save -t filter" % prog).stdout
                   for prog in ("iptables-legacy", "iptables-nft"))
    wait_until(fixed, timeout=15, what="the accept rules in both iptables backends")
    assert "can't open lock file" not in journal(c)
    assert "iptables-restore failed" not in journal(c)

    # journald: priorities through the <N> prefix, one line per event.
    text = journal(c)
    assert "[network shared] Created" in text
    assert re.search(r"\[network shared\] uid 0 pid \d+ label 'g1'", text), text
    prio = c.sh("journalctl -u vmnet-brokerd.service -o json --no-pager").stdout
    lines = [json.loads(x) for x in prio.splitlines()]
    created = [x for x in lines if "[network shared] Created" in x.get("MESSAGE", "")]
    assert created and created[0]["PRIORITY"] == "6", created
    assert not any(x.get("MESSAGE", "").startswith("<") for x in lines)

    # Removal is refused while the lease is held.
    p = c.sh("dpkg -r vmnet-broker", check=False)
    assert p.returncode != 0 and "refusing to uninstall: 1 lease(s)" in p.stderr, p.stderr
    assert c.sh("systemctl is-active vmnet-brokerd.socket").stdout.strip() == "active"

    # A restart (and an upgrade, which restarts) cuts nothing: the next daemon adopts.
    c.sh("systemctl restart vmnet-brokerd.service")
    st = json.loads(c.sh("vmnet-broker status --json").stdout)
    shared = [n for n in st["networks"] if n["name"] == "shared"][0]
    assert [le["label"] for le in shared["leases"]] == ["g1"]
    c.sh("dpkg -i /root/debs/vmnet-broker.deb")
    assert c.sh("systemctl is-active vmnet-brokerd.service").stdout.strip() == "active", \
        "postinst did not bring the daemon back for the networks in use"
    assert "Adopted" in journal(c)
    assert c.sh("ip netns exec g1 ip -j link show eth0").stdout.count(port["mac"]) == 1

    # --exit-idle under systemd: gone when idle, back on the next connection.
    c.sh("mkdir -p /etc/systemd/system/vmnet-brokerd.service.d && printf '[Service]\\n"
         "ExecStart=\\nExecStart=/usr/sbin/vmnet-brokerd --exit-idle 2 --idle-timeout 1\\n' "
         "> /etc/systemd/system/vmnet-brokerd.service.d/test.conf && systemctl daemon-reload "
         "&& systemctl restart vmnet-brokerd.service")
    c.sh("ip netns del g1")
    wait_until(lambda: c.sh("systemctl is-active vmnet-brokerd.service",
                            check=False).stdout.strip() == "inactive",
               timeout=30, what="the daemon to exit when idle")
    assert "No network and no client for" in journal(c)
    assert json.loads(c.sh("vmnet-broker status --json").stdout)["networks"] == []
    assert c.sh("systemctl is-active vmnet-brokerd.service").stdout.strip() == "active"
    c.sh("rm -r /etc/systemd/system/vmnet-brokerd.service.d && systemctl daemon-reload")

    # Forced removal with a lease held, then purge: nothing left behind
    # (the group stays, as Debian keeps system groups).
    c.sh("ip netns add g2 && vmnet-broker acquire shared --netns /run/netns/g2")
    c.sh("dpkg -r vmnet-broker", env={"VMNET_BROKER_FORCE": "1"})
    c.sh("dpkg -P vmnet-broker")
    c.sh("dpkg -P python3-vmnet-broker")
    assert c.sh("ls -d /usr/lib/python3/dist-packages/vmnet_broker 2>/dev/null || true"
                ).stdout.strip() == ""
    assert c.sh("ip -br link").stdout.split()[0] == "lo"
    assert len(c.sh("ip -br link").stdout.splitlines()) == 1
    assert "vmnet_broker" not in c.sh("nft list tables").stdout
    assert "VMNET-BROKER" not in c.sh("iptables-legacy-save; iptables-nft-save").stdout
    assert c.sh("pgrep -x dnsmasq || true").stdout.strip() == ""
    assert c.sh("ls -d /run/vmnet-broker /etc/vmnet-broker.d /lib/systemd/system/vmnet-brokerd*"
                " 2>/dev/null || true").stdout.strip() == ""
    wants = c.sh("ls /etc/systemd/system/sockets.target.wants/ 2>/dev/null || true").stdout
    assert "vmnet" not in wants
