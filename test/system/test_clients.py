"""The Go and Python clients against the real daemon, in namespaces of the test.

`go test ./...` of go/ runs its daemon tests (daemon_test.go) against the
test's daemon; the Python package's command line, python3 -m vmnet_broker,
runs as an unprivileged user. (Every other system test speaks to the
daemon through the Python package too, and test_conformance.py holds all
three clients to the same scenarios.)
"""
import json
import os
import re
import signal
import subprocess

import vmnet_broker
from conftest import AS_NOBODY, BUILD, NOBODY_UID, PYTHON, PYTHON_ENV, REPO, run, wait_until

GO_DIR = os.path.join(REPO, "go")


def go_env(**extra):
    """As the Makefile's GO_ENV: caches in the build directory, never the network."""
    env = dict(os.environ, GOFLAGS="-mod=mod", GOPROXY="off", GOENV="off",
               GOTOOLCHAIN="local", GOCACHE=os.path.join(BUILD, "go", "cache"),
               GOPATH=os.path.join(BUILD, "go", "path"))
    env.update(extra)
    return env


def test_go_package_against_the_daemon(broker, topo):
    g = topo.guest("g")
    p = subprocess.run(["go", "test", "-count=1", "-v", "./..."], cwd=GO_DIR, timeout=600,
                       env=go_env(VMNET_BROKER_TEST_SOCKET=broker.socket,
                                  VMNET_BROKER_TEST_NETNS=g.path),
                       stdin=subprocess.DEVNULL, capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    passed = set(re.findall(r"^--- PASS: (TestDaemon\w+)", p.stdout, re.M))
    assert passed == {"TestDaemonTAP", "TestDaemonNoneAndNamedTAP", "TestDaemonNetns",
                      "TestDaemonRefusals", "TestDaemonNetworks"}, p.stdout
    # The netns lease outlived `go test`: it lasts as long as the namespace.
    [lease] = broker.leases()
    assert lease["label"] == "go-netns" and lease["kind"] == "netns"
    assert g.link("eth7")["address"] == lease["mac"]


def test_python_package_leases(broker, topo):
    """What each port kind's lease hangs on, through the package's Port."""
    with vmnet_broker.acquire("shared", port="none", label="py-none",
                              socket_path=broker.socket) as held:
        assert held.kind == vmnet_broker.PortKind.NONE and held.fds == []
        assert [le["label"] for le in broker.leases()] == ["py-none"]
    wait_until(lambda: not broker.leases(), what="the none lease to end with its connection")
    port = vmnet_broker.acquire("shared", port="named_tap", socket_path=broker.socket)
    conn = port.detach()
    port.close()
    assert [le["kind"] for le in broker.leases()] == ["named_tap"], "detach() kept it"
    conn.close()
    wait_until(lambda: not broker.leases(), what="the named_tap lease to end")
    # A tap lease hangs on the fd only.
    port = vmnet_broker.acquire("shared", socket_path=broker.socket, multi_queue=2)
    fds = port.take_fds()
    port.close()
    assert len(fds) == 2 and [le["kind"] for le in broker.leases()] == ["tap"]
    for fd in fds:
        os.close(fd)
    wait_until(lambda: not broker.leases(), what="the tap lease to end with its fds")
    st = vmnet_broker.status(socket_path=broker.socket)
    assert st.version == 1 and st.network("shared").state == "idle"


def py(*args, user=None, check=True, **kw):
    cmd = ([] if user is None else AS_NOBODY) + [PYTHON, "-m", "vmnet_broker", *args]
    return run(cmd, env=PYTHON_ENV, check=check, **kw)


def test_python_command_line(broker, topo):
    s = ["--socket", broker.socket]
    out = json.loads(py(*s, "networks", "--json", user=NOBODY_UID).stdout)
    assert [n["name"] for n in out["networks"]] == ["host", "shared"]

    # acquire --hold keeps a TAP and its lease until SIGTERM.
    hold = topo.spawn(AS_NOBODY + [PYTHON, "-m", "vmnet_broker", *s, "acquire", "shared",
                                   "--mac", "52:54:00:70:00:01", "--label", "py-hold",
                                   "--vnet-hdr", "--queues", "2", "--hold"],
                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=PYTHON_ENV)
    line = hold.stdout.readline()
    m = re.match(r"network shared: port tap (vmtap\d+) mac 52:54:00:70:00:01 address (\S+)$",
                 line.strip())
    assert m, (line, hold.stderr.read() if hold.poll() is not None else "")
    lease = broker.lease_by_mac("52:54:00:70:00:01")
    assert lease["uid"] == NOBODY_UID and lease["label"] == "py-hold"
    assert lease["ifname"] == m.group(1) and lease["address"] == m.group(2)
    info = broker.link(m.group(1))["linkinfo"]["info_data"]
    assert info["multi_queue"] is True and info["vnet_hdr"] is True
    text = py(*s, "status", user=NOBODY_UID).stdout
    assert "py-hold" in text and m.group(2) in text, text
    hold.send_signal(signal.SIGTERM)
    assert hold.wait(10) == 0
    wait_until(lambda: not broker.leases(), what="the held lease to end")

    # A netns port, forwarded, as nobody in a namespace of its own.
    script = ('"$0" -m vmnet_broker --socket "$1" acquire shared --netns /proc/self/ns/net '
              '--forward tcp:2422:22 --json')
    p = run(AS_NOBODY + ["unshare", "-Urn", "sh", "-c", script, PYTHON, broker.socket],
            env=PYTHON_ENV)
    port = json.loads(p.stdout)["network"]["port"]
    assert port["kind"] == "netns"
    assert port["port_forwards"][0]["internal_address"] == port["address"]

    # Errors: the code's name and the daemon's message, exit 1; usage: exit 2.
    p = py(*s, "acquire", "nosuch", check=False)
    assert p.returncode == 1
    assert p.stderr.startswith("python3 -m vmnet_broker: VMNET_BROKER_NOT_FOUND: no network "
                               "named 'nosuch'"), p.stderr
    p = py(*s, "acquire", "shared", "--forward", "tcp:22", check=False)
    assert p.returncode == 2 and "PROTOCOL:HOST:GUEST" in p.stderr
    p = py("--socket", os.path.join(topo.tmp, "none"), "status", check=False)
    assert p.returncode == 1 and "VMNET_BROKER_CONNECTION_FAILURE" in p.stderr


def test_integrations_doc_shows_vmtool_as_it_is():
    """docs/integrations.md quotes BrokerNetworks: the code that boots in test_qemu.py."""
    def function(text):
        i = text.index("func BrokerNetworks(")
        return text[i:text.index("\n}\n", i) + 3]
    with open(os.path.join(REPO, "docs", "integrations.md")) as f:
        doc = f.read()
    with open(os.path.join(GO_DIR, "examples", "vmtool", "main.go")) as f:
        code = f.read()
    assert function(doc) == function(code)


def readme_block(lang, after):
    with open(os.path.join(REPO, "README.md")) as f:
        text = f.read()
    i = text.index("```" + lang + "\n", text.index(after)) + len(lang) + 4
    return text[i:text.index("```", i)]


def test_readme_examples_build(topo):
    """The README's Go and Python examples are code that compiles."""
    compile(readme_block("python", "Python, `vmnet_broker`"), "README.md", "exec")
    body = readme_block("go", "Go, package")
    d = os.path.join(topo.tmp, "readme")
    os.makedirs(d)
    with open(os.path.join(d, "main.go"), "w") as f:
        f.write("package main\n\nimport (\n\t\"context\"\n\t\"errors\"\n\t\"log\"\n\t\"os\"\n"
                "\t\"os/exec\"\n\n\t\"vmnet-broker.invalid/vmnetbroker\"\n)\n\n"
                "func main() {\n\tctx := context.Background()\n"
                "\tmac := \"52:54:00:12:34:56\"\n" + body + "}\n")
    with open(os.path.join(d, "go.mod"), "w") as f:
        f.write("module readme\n\ngo 1.19\n\nrequire vmnet-broker.invalid/vmnetbroker v0.0.0\n"
                "replace vmnet-broker.invalid/vmnetbroker => %s\n" % GO_DIR)
    p = subprocess.run(["go", "vet", "."], cwd=d, env=go_env(), capture_output=True, text=True,
                       timeout=300, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stderr
