"""What is behind each port: guests with any MAC, their addresses (DHCP,
the neighbour table, SLAAC) and names, in status and by wait_address."""
import ipaddress
import json
import os
import socket
import subprocess
import time

import pytest

import vmnet_broker
from conftest import AS_NOBODY, CLI, NOBODY_UID, PYTHON, ns_delete, subnet_of, wait_until

# An A (or AAAA) query for argv[2] to the DNS server argv[1]; prints
# {"rcode": N, "addresses": [...]} as JSON ([] for none, NXDOMAIN included),
# or {"timeout": true} when no answer came within 3 s.
DNS_LOOKUP = r"""
import json, socket, struct, sys
server, name = sys.argv[1], sys.argv[2]
qtype = 28 if len(sys.argv) > 3 else 1
q = struct.pack(">HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
q += struct.pack(">HH", qtype, 1)
s = socket.socket(socket.AF_INET6 if ":" in server else socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.sendto(q, (server, 53))
try:
    data = s.recv(4096)
except socket.timeout:
    print(json.dumps({"timeout": True}))
    sys.exit(0)
an = struct.unpack(">H", data[6:8])[0]
off = len(q)
out = []
for _ in range(an):
    while data[off] and data[off] < 0xc0:
        off += data[off] + 1
    off += 2 if data[off] >= 0xc0 else 1
    t, _, _, n = struct.unpack(">HHIH", data[off:off + 10])
    off += 10
    if t == 1:
        out.append(socket.inet_ntop(socket.AF_INET, data[off:off + n]))
    elif t == 28:
        out.append(socket.inet_ntop(socket.AF_INET6, data[off:off + n]))
    off += n
print(json.dumps({"rcode": data[3] & 15, "addresses": out}))
"""


def ask(ns, server, name):
    """What @server answers for @name's A record, asked from namespace @ns (DNS_LOOKUP)."""
    p = subprocess.run(["ip", "netns", "exec", ns, PYTHON, "-B", "-c", DNS_LOOKUP, server, name],
                       capture_output=True, text=True, timeout=30, check=True)
    return json.loads(p.stdout)


def lookup(guest, server, name):
    """The A records of @name at @server, asked from @guest's namespace."""
    got = json.loads(guest.exec(PYTHON, "-B", "-c", DNS_LOOKUP, server, name).stdout)
    assert "timeout" not in got, "%s did not answer for %s" % (server, name)
    return got["addresses"]


def lease_of(broker, ifname):
    for lease in broker.leases():
        if lease.get("ifname") == ifname:
            return lease
    return None


def guest_of(lease, mac):
    for g in lease.get("guests", []):
        if g["mac"] == mac:
            return g
    return None


def test_guests_behind_ports_with_any_mac_and_their_names(broker, topo):
    g1, g2, g3 = topo.guest("g1"), topo.guest("g2"), topo.guest("g3")
    r1 = broker.acquire_netns(g1, label="alpha")
    r2 = broker.acquire_netns(g2, label="Beta")
    r3 = broker.acquire_netns(g3, label="qemu-helper pid 7")
    net = r1["network"]
    gw, domain = net["subnet"], net["domain"]
    assert domain == "shared.vmnet"
    # g1 keeps its port's MAC; g2 and g3 use MACs of their own.
    mac2, mac3 = "52:54:00:de:ad:02", "52:54:00:de:ad:03"
    g2.exec("ip", "link", "set", "dev", "eth0", "address", mac2)
    g3.exec("ip", "link", "set", "dev", "eth0", "address", mac3)
    a1 = g1.dhcp(hostname="one")["ip"]
    a2 = g2.dhcp(hostname="two")["ip"]
    a3 = g3.dhcp(hostname="bad_name")["ip"]
    assert a1 == r1["network"]["port"]["address"]
    dynamic = ipaddress.IPv4Network("%s/25" % subnet_of(r1)[128])
    assert ipaddress.IPv4Address(a2) in dynamic and ipaddress.IPv4Address(a3) in dynamic
    assert g1.dhcp()["domain"] == domain

    # Status: each port with what is behind it, as virsh domifaddr would say.
    def shown():
        l1, l2 = (lease_of(broker, r["network"]["port"]["ifname"]) for r in (r1, r2))
        return (l1 and guest_of(l1, r1["network"]["port"]["mac"]) and l2
                and guest_of(l2, mac2) and "names" in l2 and len(l1.get("names", [])) == 2
                and (l1, l2))
    l1, l2 = wait_until(shown, timeout=10, what="the guests in status")
    assert guest_of(l1, r1["network"]["port"]["mac"])["ipv4"] == [a1]
    assert guest_of(l1, r1["network"]["port"]["mac"])["hostname"] == "one"
    assert guest_of(l1, r1["network"]["port"]["mac"])["on_bridge"] is True
    assert guest_of(l2, mac2)["ipv4"] == [a2]
    assert l2["address"] == r2["network"]["port"]["address"]  # the reservation stays
    assert sorted(l1["names"]) == ["alpha.shared.vmnet", "one.shared.vmnet"]
    assert sorted(l2["names"]) == ["beta.shared.vmnet", "two.shared.vmnet"]
    text = broker.cli("status").stdout
    assert "guest %s %s" % (mac2, a2) in text, text
    assert "names under shared.vmnet" in text, text

    # Names, asked of the network's DNS by another guest: the label names
    # the address the port's guest uses, its own MAC's or not.
    assert lookup(g1, gw, "two.shared.vmnet") == [a2]
    assert lookup(g1, gw, "beta.shared.vmnet") == [a2]
    assert lookup(g2, gw, "alpha.shared.vmnet") == [a1]
    assert lookup(g2, gw, "ONE.shared.vmnet") == [a1]
    assert lookup(g2, gw, "nosuch.shared.vmnet") == []
    # What is not a DNS name gives no name, and says so once.
    assert lookup(g1, gw, "bad_name.shared.vmnet") == []
    log = broker.log()
    assert "Host name 'bad_name' of %s is no DNS name" % mac3 in log, log
    assert "label is no DNS name" in log and "qemu-helper pid 7" in log

    # SLAAC: the neighbour table learns the guests' addresses in the prefix.
    prefix = ipaddress.IPv6Network("%s/%d" % (net["ipv6_prefix"], net["prefix_len"]))

    def slaac():
        lease = lease_of(broker, r1["network"]["port"]["ifname"])
        g = guest_of(lease, r1["network"]["port"]["mac"]) if lease else None
        return g and [a for a in g["ipv6"] if ipaddress.IPv6Address(a) in prefix]
    six = wait_until(slaac, timeout=30, what="g1's SLAAC address in status")
    assert six[0] in g1.exec("ip", "-6", "addr", "show", "dev", "eth0").stdout


def test_a_name_is_never_taken_from_its_guest(broker, topo):
    g1, g2 = topo.guest("g1"), topo.guest("g2")
    r1 = broker.acquire_netns(g1, label="first")
    broker.acquire_netns(g2, label="second")
    gw = r1["network"]["subnet"]
    a1 = g1.dhcp(hostname="web")["ip"]
    wait_until(lambda: lookup(g1, gw, "web.shared.vmnet") == [a1], timeout=10,
               what="web's name")
    # Behind another port, a guest asks for the same name, and a port's
    # label names it too: both are refused, and said so.
    a2 = g2.dhcp(hostname="web")["ip"]
    broker.acquire_netns(topo.guest("g3"), label="web")
    wait_until(lambda: "Name 'web.shared.vmnet' asked for by a guest's DHCP host name for %s "
               "refused" % a2 in broker.log(), timeout=10, what="the refusal in the log")
    assert lookup(g2, gw, "web.shared.vmnet") == [a1]
    assert "Name 'web.shared.vmnet' asked for by a port's label" in broker.log()
    # Asked again (a renewal), still g1's; said once only.
    g2.dhcp(hostname="web")
    time.sleep(0.5)
    assert lookup(g2, gw, "web.shared.vmnet") == [a1]
    assert broker.log().count("asked for by a guest's DHCP host name for %s" % a2) == 1
    # g1's VM goes: the name is free, and the other guest's.
    ns_delete(g1.ns)
    wait_until(lambda: lookup(g2, gw, "web.shared.vmnet") == [a2], timeout=10,
               what="the name to go to the guest that asked second")


def wait_cli(broker, *args, user=None):
    cmd = ([] if user is None else AS_NOBODY) + [CLI, "--socket", broker.socket,
                                                 "wait-address", *args]
    return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_wait_address_answers_when_the_guest_has_one(broker, topo):
    g = topo.guest("g")
    r = broker.acquire_netns(g, label="waiter")
    ifname = r["network"]["port"]["ifname"]
    by_label = wait_cli(broker, "--timeout", "30", "waiter")
    by_ifname = wait_cli(broker, "--timeout", "30", "--json", ifname)
    time.sleep(1)
    assert by_label.poll() is None and by_ifname.poll() is None
    # The daemon serves everyone meanwhile.
    assert broker.network("shared")["state"] == "active"
    # The guest takes an address of its own MAC's: that is the one.
    g.exec("ip", "link", "set", "dev", "eth0", "address", "52:54:00:de:ad:11")
    t0 = time.monotonic()
    address = g.dhcp()["ip"]
    out, err = by_label.communicate(timeout=10)
    assert by_label.returncode == 0, err
    assert out.strip() == address
    assert time.monotonic() - t0 < 5
    out, err = by_ifname.communicate(timeout=10)
    reply = json.loads(out)
    assert reply["address"] == address and reply["network_name"] == "shared"
    assert reply["lease"]["ifname"] == ifname
    assert guest_of(reply["lease"], "52:54:00:de:ad:11")["ipv4"] == [address]
    # Known already: at once.
    assert broker.cli("wait-address", "--timeout", "0", ifname).stdout.strip() == address


def test_wait_address_timeout_and_errors(broker, topo):
    g = topo.guest("g")
    r = broker.acquire_netns(g, label="quiet")
    ifname = r["network"]["port"]["ifname"]
    t0 = time.monotonic()
    p = broker.cli("wait-address", "--timeout", "1", "quiet", check=False)
    took = time.monotonic() - t0
    assert p.returncode == 1 and "VMNET_BROKER_TIMEOUT" in p.stderr, p.stderr
    assert 0.9 < took < 5, took
    p = broker.cli("wait-address", "--timeout", "0", ifname, check=False)
    assert p.returncode == 1 and "VMNET_BROKER_TIMEOUT" in p.stderr
    p = broker.cli("wait-address", "--timeout", "0", "vmtap99", check=False)
    assert p.returncode == 1 and "VMNET_BROKER_NOT_FOUND" in p.stderr
    p = broker.cli("wait-address", "--timeout", "5000", "quiet", check=False)
    assert p.returncode == 2
    # Another user's port: that it exists (status shows that), not its address.
    p = broker.cli("wait-address", "--timeout", "0", ifname, user=NOBODY_UID, check=False)
    assert "VMNET_BROKER_NOT_ALLOWED" in p.stderr, p.stderr
    p = broker.cli("wait-address", "--timeout", "0", "quiet", user=NOBODY_UID, check=False)
    assert "VMNET_BROKER_NOT_FOUND" in p.stderr, p.stderr
    # A label on two ports names neither.
    broker.acquire_netns(topo.guest("g2"), label="quiet")
    err = broker.request({"command": "wait_address", "label": "quiet", "timeout": 0})
    assert err["error"] == vmnet_broker.Status.INVALID_REQUEST
    err = broker.request({"command": "wait_address", "ifname": ifname, "label": "x"})
    assert err["error"] == vmnet_broker.Status.INVALID_REQUEST


def test_wait_address_keeps_the_order_of_replies_and_ends_with_its_port(broker, topo):
    g = topo.guest("g")
    r = broker.acquire_netns(g)
    ifname = r["network"]["port"]["ifname"]
    baseline = broker.fd_count()
    # Pipelined: the status asked after the wait is answered after it.
    with broker.connect(timeout=20) as conn:
        conn.send(json.dumps({"command": "wait_address", "ifname": ifname,
                              "timeout": 20}).encode())
        conn.send(b'{"command": "status"}')
        time.sleep(0.5)
        address = g.dhcp()["ip"]
        first, _ = conn.receive()
        second, _ = conn.receive()
    assert first["address"] == address, first
    assert "networks" in second
    # The port goes while someone waits on it: the wait ends with NOT_FOUND.
    h = topo.guest("h")
    rh = broker.acquire_netns(h)
    with broker.connect(timeout=20) as conn:
        conn.send(json.dumps({"command": "wait_address",
                              "ifname": rh["network"]["port"]["ifname"]}).encode())
        time.sleep(0.3)
        ns_delete(h.ns)
        t0 = time.monotonic()
        reply, _ = conn.receive()
    assert reply["error"] == vmnet_broker.Status.NOT_FOUND, reply
    assert "went away" in reply["message"]
    assert time.monotonic() - t0 < 5
    # A client that hangs up while it waits leaves nothing behind.
    lease = broker.acquire_netns(topo.guest("k"), label="k")["network"]["port"]["ifname"]
    for _ in range(20):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.connect(broker.socket)
        s.send(json.dumps({"command": "wait_address", "ifname": lease}).encode())
        time.sleep(0.01)
        s.close()
    wait_until(lambda: broker.fd_count() <= baseline + 2, timeout=10,
               what="the daemon's fds back to where they were")
    assert broker.network("shared")


def test_wait_address_ends_when_its_lease_is_released_or_its_network_stopped(broker, topo):
    """release and stop --force end a lease someone waits on: the wait is
    answered NOT_FOUND at once, nothing is left behind, the daemon serves on."""
    baseline = broker.fd_count()
    for end in (("release",), ("stop", "--force", "shared")):
        g = topo.guest("w" + end[0])
        ifname = broker.acquire_netns(g)["network"]["port"]["ifname"]
        with broker.connect(timeout=20) as conn:
            conn.send(json.dumps({"command": "wait_address", "ifname": ifname,
                                  "timeout": 20}).encode())
            time.sleep(0.3)
            broker.cli(*(end + (ifname,) if end[0] == "release" else end))
            t0 = time.monotonic()
            reply, _ = conn.receive()
        assert reply["error"] == vmnet_broker.Status.NOT_FOUND, (end, reply)
        assert "went away" in reply["message"], reply
        assert time.monotonic() - t0 < 5
    assert broker.status()["networks"] == []
    wait_until(lambda: broker.fd_count() <= baseline + 2, timeout=10,
               what="the daemon's fds back to where they were")
    # And the network comes back for the next one, its guests followed anew.
    g = topo.guest("again")
    r = broker.acquire_netns(g)
    address = g.dhcp()["ip"]
    assert broker.cli("wait-address", "--timeout", "10",
                      r["network"]["port"]["ifname"]).stdout.strip() == address


@pytest.mark.broker(idle_timeout=600)
def test_a_port_follows_sixteen_macs(broker, topo):
    g = topo.guest("g")
    r = broker.acquire_netns(g)
    ifname = r["network"]["port"]["ifname"]
    # Seventeen MACs behind one port: macvlans, each sending as it comes up.
    for i in range(17):
        name = "mv%d" % i
        g.exec("ip", "link", "add", "link", "eth0", "name", name, "address",
               "52:54:00:aa:00:%02x" % i, "type", "macvlan", "mode", "bridge")
        g.exec("ip", "link", "set", name, "up")
    g.exec("ip", "link", "set", "eth0", "up")

    def followed():
        lease = lease_of(broker, ifname)
        return len(lease.get("guests", [])) == 16 and lease
    wait_until(followed, timeout=20, what="16 MACs behind the port")
    time.sleep(1)
    assert len(lease_of(broker, ifname)["guests"]) == 16
    assert broker.log().count("more than 16 MACs behind port %s" % ifname) == 1


def write(broker, name, obj):
    with open(os.path.join(broker.config_dir, name + ".json"), "w") as f:
        json.dump(obj, f)


def test_dhcp_range_of_a_file_and_a_full_range(broker, topo):
    # A /28 with a two-address range: .8-.9 for any MAC, the rest for ports.
    write(broker, "tiny", {"mode": "host", "subnet": "10.66.0.1", "mask": "255.255.255.240",
                           "dhcp_range": {"start": "10.66.0.8", "end": "10.66.0.9"},
                           "domain": "tiny.test"})
    got = []
    for i in range(3):
        g = topo.guest("g%d" % i)
        r = broker.acquire_netns(g, network="tiny")
        port = r["network"]["port"]["address"]
        assert not 8 <= int(port.split(".")[3]) <= 9, port
        assert r["network"]["domain"] == "tiny.test"
        g.exec("ip", "link", "set", "dev", "eth0", "address", "52:54:00:66:00:%02x" % i)
        got.append(g.dhcp(tries=3, expect=False))
    # The range is full: dnsmasq offers the third nothing.
    assert sorted(lease["ip"] for lease in got[:2]) == ["10.66.0.8", "10.66.0.9"]
    assert got[2] is None
    # The file's mistakes are said, not followed.
    write(broker, "bad", {"mode": "host", "subnet": "10.67.0.1", "mask": "255.255.255.0",
                          "dhcp_range": {"start": "10.67.0.1", "end": "10.67.0.9"}})
    err = broker.request({"command": "acquire", "network_name": "bad", "port": "none"})
    assert err["error"] == vmnet_broker.Status.NOT_FOUND
    assert "dhcp_range.start" in err["message"] and "gateway" in err["message"], err


def dnsmasq_argv(pid):
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        return f.read().decode().split("\0")


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGKILL"])
def test_restart_keeps_the_range_the_guests_and_their_names(broker, topo, sig):
    import signal
    write(broker, "lab", {"mode": "shared", "subnet": "10.68.0.1", "mask": "255.255.255.0",
                          "dhcp_range": {"start": "10.68.0.200", "end": "10.68.0.210"}})
    g = topo.guest("g")
    r = broker.acquire_netns(g, network="lab", label="lab1")
    ifname = r["network"]["port"]["ifname"]
    g.exec("ip", "link", "set", "dev", "eth0", "address", "52:54:00:68:00:01")
    address = g.dhcp(hostname="alpha")["ip"]
    assert 200 <= int(address.split(".")[3]) <= 210, address
    gw = r["network"]["subnet"]
    wait_until(lambda: lookup(g, gw, "alpha.lab.vmnet") == [address], timeout=10,
               what="alpha's name")
    # The file changes while the network runs: it keeps what it has.
    write(broker, "lab", {"mode": "shared", "subnet": "10.68.0.1", "mask": "255.255.255.0",
                          "dhcp_range": {"start": "10.68.0.10", "end": "10.68.0.20"},
                          "domain": "other.test"})
    broker.stop(getattr(signal, sig))
    broker.start()
    net = broker.network("lab")
    assert net and net["domain"] == "lab.vmnet", net
    argv = dnsmasq_argv(net["dnsmasq_pid"])
    assert "--dhcp-range=10.68.0.200,10.68.0.210,255.255.255.0,1h" in argv, argv
    # The guest is known again (the bridge and dnsmasq still have it), and so is its name.
    lease = wait_until(lambda: (guest_of(lease_of(broker, ifname) or {}, "52:54:00:68:00:01")
                                and lease_of(broker, ifname)), timeout=10,
                       what="the guest after the restart")
    assert guest_of(lease, "52:54:00:68:00:01")["ipv4"] == [address]
    assert sorted(lease["names"]) == ["alpha.lab.vmnet", "lab1.lab.vmnet"]
    assert lookup(g, gw, "alpha.lab.vmnet") == [address]
    assert broker.cli("wait-address", "--timeout", "0", "lab1").stdout.strip() == address
    # A new port never gets an address of the range; a new guest of its
    # own MAC gets one of the range, not the one dnsmasq has leased.
    h = topo.guest("h")
    rh = broker.acquire_netns(h, network="lab")
    assert not 200 <= int(rh["network"]["port"]["address"].split(".")[3]) <= 210
    h.exec("ip", "link", "set", "dev", "eth0", "address", "52:54:00:68:00:02")
    other = h.dhcp()["ip"]
    assert 200 <= int(other.split(".")[3]) <= 210 and other != address


def test_bash_completion_of_wait_address(broker, topo):
    lib = "/usr/share/bash-completion/bash_completion"
    if not os.path.exists(lib):
        pytest.skip("bash-completion is not installed")
    from conftest import REPO, BUILD, run
    script = os.path.join(REPO, "completion", "vmnet-broker")
    r = broker.acquire_netns(topo.guest("g"), label="web")

    def complete(line):
        words = line.split(" ")
        prog = ('PATH=%s:$PATH; source %s; source %s; COMP_WORDS=(%s); COMP_CWORD=%d; '
                'COMP_LINE="%s"; COMP_POINT=${#COMP_LINE}; _vmnet_broker; '
                'printf "%%s\\n" "${COMPREPLY[@]}"'
                % (BUILD, lib, script, " ".join("'%s'" % w for w in words), len(words) - 1,
                   line))
        return run(["bash", "-c", prog]).stdout.split()

    assert complete("vmnet-broker wa") == ["wait-address"]
    got = complete("vmnet-broker --socket %s wait-address " % broker.socket)
    assert sorted(got) == sorted([r["network"]["port"]["ifname"], "web"]), got
    assert complete("vmnet-broker wait-address --t") == ["--timeout"]
