"""span.py - bench.py's measurements of networks that span hosts (issue 21).

Two "hosts" (daemon namespaces, each with its own vmnet-brokerd and, for
EVPN, its own zebra and bgpd) on one underlay bridge, one network spanning
them. Measured, each against a competitor in the same run:

  - TCP between a guest on host A and one on host B, over the overlay,
    against the same two guests' traffic on one bridge (both on host A),
    and against two guests on a VXLAN built by hand (bridge, VXLAN device,
    static flood entries: the floor);
  - a guest's DNS lookup of another host's guest's name (its host's dnsmasq
    asks the other host's names server) against one of its own host's;
  - from a new guest's acquire on host A until a guest on host B reaches
    it (the guest asks DHCP, then sends one ping to B, as a booting guest
    talks; B pings A's address every 5 ms from before), against the same
    with B on host A.

Throughput is iperf3's when it is installed, else a Python TCP stream (1 MiB
writes, counted by the receiver); the results say which. Guest subnets are
private (10.250.0.0/24, the span file needs one), underlay addresses from
the benchmarking range; nothing leaves the run's namespaces.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "test", "lib"))
from vmnet_frr import Frr, frr_available  # noqa: E402
from vmnet_sandbox import DHCP_SCRIPT  # noqa: E402

UNDERLAY = "198.19.250"
SUBNET = "10.250.0"
VNI = 4242
MTU = 1450
PORT = 5301

# A TCP stream for when iperf3 is not there: the server prints "BYTES SECONDS"
# of what it received, from its first byte to the end.
STREAM = r"""
import socket, sys, time
if sys.argv[1] == "server":
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", int(sys.argv[2])))
    s.listen(1)
    print("ready", flush=True)
    c, _ = s.accept()
    buf = memoryview(bytearray(1 << 20))
    n, t0 = 0, None
    while True:
        k = c.recv_into(buf)
        if not k:
            break
        if t0 is None:
            t0 = time.monotonic()
        n += k
    print("%d %.6f" % (n, time.monotonic() - t0), flush=True)
    c.close()
else:
    c = socket.create_connection((sys.argv[2], int(sys.argv[3])))
    buf = bytes(1 << 20)
    end = time.monotonic() + float(sys.argv[4])
    while time.monotonic() < end:
        c.sendall(buf)
    c.close()
"""


def network_file(control):
    span = {"vni": VNI, "control": control,
            "hosts": [{"address": "%s.%d" % (UNDERLAY, i), "slice": "%s.%d/26" % (SUBNET, 64 * i)}
                      for i in (1, 2)]}
    if control == "evpn":
        span["evpn"] = {"asn": 65000}
    return {"mode": "host", "subnet": SUBNET + ".1", "mask": "255.255.255.0",
            "ipv6_prefix": "fd00:4242::", "mtu": MTU, "span": span}


def stream(b, server_ns, client_ns, addr, seconds):
    """Gbit/s of one TCP stream from @client_ns to @addr in @server_ns."""
    if shutil.which("iperf3"):
        gbps, _ = b.iperf(server_ns, client_ns, addr, seconds)
        return gbps
    py = sys.executable or "/usr/bin/python3"
    srv = subprocess.Popen(b.nsexec(server_ns, py, "-B", "-c", STREAM, "server", str(PORT)),
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    b._procs.append(srv)
    if srv.stdout.readline().strip() != "ready":
        raise RuntimeError("the TCP stream's server did not start")
    b.run(b.nsexec(client_ns, py, "-B", "-c", STREAM, "client", addr, str(PORT), str(seconds)),
          timeout=seconds + 30)
    n, secs = srv.stdout.readline().split()
    srv.wait(10)
    return int(n) * 8 / float(secs) / 1e9


class Host:
    def __init__(self, b, ctx, underlay, i, control):
        self.address = "%s.%d" % (UNDERLAY, i)
        self.ns = b.netns("h%d" % i)
        b.run(["ip", "-n", self.ns, "link", "add", "ul", "type", "veth", "peer", "name", "h%d" % i,
               "netns", underlay])
        b.run(["ip", "-n", underlay, "link", "set", "h%d" % i, "master", "ul0", "up"])
        b.run(["ip", "-n", self.ns, "addr", "add", self.address + "/24", "dev", "ul"])
        b.run(["ip", "-n", self.ns, "link", "set", "ul", "up"])
        extra = []
        if control == "evpn":
            self.frr = Frr(self.ns, self.address, os.path.join(ctx["tmp"], "frr-%s" % self.ns))
            self.frr.start()
            extra = ["--frr-dir", self.frr.dir]
        self.daemon = b.Daemon(ctx["build"], ctx["tmp"], self.ns, extra=extra)
        with open(os.path.join(self.daemon.config, "span.json"), "w") as f:
            json.dump(network_file(control), f)
        self.daemon.start(ctx["lib"])

    def guest(self, b, ctx, role):
        g = b.netns(role)
        # The label is the guest's name: ROLE.span.vmnet.
        r = ctx["lib"].acquire_netns(self.daemon.socket, "span", "/run/netns/" + g, label=role)
        addr = r["network"]["port"]["address"]
        b.run(["ip", "-n", g, "addr", "add", addr + "/24", "dev", "eth0"])
        return g, addr


def two_hosts(b, ctx, control):
    underlay = b.netns("ul")
    b.run(["ip", "-n", underlay, "link", "add", "ul0", "type", "bridge"])
    b.run(["ip", "-n", underlay, "link", "set", "ul0", "up"])
    return [Host(b, ctx, underlay, i, control) for i in (1, 2)]


def handbuilt(b):
    """Two guests on two hosts joined by a VXLAN of their own, no broker: the floor."""
    underlay = b.netns("hul")
    b.run(["ip", "-n", underlay, "link", "add", "ul0", "type", "bridge"])
    b.run(["ip", "-n", underlay, "link", "set", "ul0", "up"])
    guests = []
    for i in (1, 2):
        h, g = b.netns("hh%d" % i), b.netns("hg%d" % i)
        local, remote = "%s.%d" % (UNDERLAY, 10 + i), "%s.%d" % (UNDERLAY, 13 - i)
        for cmd in (["link", "add", "ul", "type", "veth", "peer", "name", "hh%d" % i, "netns",
                     underlay],
                    ["addr", "add", local + "/24", "dev", "ul"], ["link", "set", "ul", "up"],
                    ["link", "add", "br0", "type", "bridge"],
                    ["link", "add", "vx0", "mtu", str(MTU), "type", "vxlan", "id", str(VNI),
                     "local", local, "dstport", "4789", "dev", "ul"],
                    ["link", "set", "vx0", "master", "br0"],
                    ["link", "set", "vx0", "addrgenmode", "none"],
                    ["link", "set", "vx0", "up"],
                    ["link", "add", "p0", "mtu", str(MTU), "type", "veth", "peer", "name", "eth0",
                     "netns", g],
                    ["link", "set", "p0", "master", "br0"], ["link", "set", "p0", "up"],
                    ["link", "set", "br0", "up"]):
            b.run(["ip", "-n", h, *cmd])
        b.run(["ip", "-n", underlay, "link", "set", "hh%d" % i, "master", "ul0", "up"])
        b.run(["bridge", "-n", h, "fdb", "append", "00:00:00:00:00:00", "dev", "vx0", "dst",
               remote])
        b.run(["ip", "-n", g, "addr", "add", "%s.%d/24" % (SUBNET, 200 + i), "dev", "eth0"])
        b.run(["ip", "-n", g, "link", "set", "eth0", "mtu", str(MTU), "up"])
        guests.append(g)
    return guests, "%s.201" % SUBNET


def reach_time(b, ctx, new_on, prober, prober_addr, reps):
    """Seconds from a new guest's acquire on @new_on until @prober reaches it."""
    out = []
    for r in range(reps):
        g = b.netns("new%d" % r)
        t0 = time.time()
        reply = ctx["lib"].acquire_netns(new_on.daemon.socket, "span", "/run/netns/" + g)
        addr = reply["network"]["port"]["address"]
        # Every 5 ms from now on; the guest has no address yet.
        ping = subprocess.Popen(b.nsexec(prober, "ping", "-D", "-n", "-i", "0.005", "-W", "1",
                                         addr),
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        b._procs.append(ping)
        b.run(b.nsexec(g, "udhcpc", "-f", "-q", "-n", "-t", "5", "-T", "1", "-i", "eth0", "-s",
                       ctx["dhcp_script"]), timeout=30)
        # A booting guest talks: its ARP request tells the prober where it is.
        b.run(b.nsexec(g, "ping", "-c", "1", "-W", "2", prober_addr), check=False)
        first = None
        deadline = time.monotonic() + 5
        while first is None and time.monotonic() < deadline:
            m = re.match(r"\[(\d+\.\d+)\] \d+ bytes from", ping.stdout.readline())
            if m:
                first = float(m.group(1))
        ping.kill()
        ping.wait()
        if first is None:
            raise RuntimeError("the prober never reached the new guest")
        out.append(first - t0)
        b.ns_delete(g)
    return out


# argv[3] A queries for argv[2] to argv[1]:53, one at a time; prints each one's seconds
# (JSON), failing on any answer without an address.
LOOKUPS = r"""
import json, socket, struct, sys, time
server, name, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
out = []
for i in range(n):
    q = struct.pack(">HHHHHH", i, 0x0100, 1, 0, 0, 0)
    q += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    q += struct.pack(">HH", 1, 1)
    t0 = time.monotonic()
    s.sendto(q, (server, 53))
    data = s.recv(4096)
    out.append(time.monotonic() - t0)
    if data[3] & 15 or not struct.unpack(">H", data[6:8])[0]:
        sys.exit("no address for %s (rcode %d)" % (name, data[3] & 15))
print(json.dumps(out))
"""


def lookups(b, guest, name, n):
    """Seconds per lookup of @name at @guest's gateway, @n of them one after another."""
    p = b.run(b.nsexec(guest, sys.executable or "/usr/bin/python3", "-B", "-c", LOOKUPS,
                       SUBNET + ".1", name, str(n)), timeout=60)
    return json.loads(p.stdout)


def bench_span(b, ctx):
    q = ctx["quick"]
    secs, reps, probes = (2, 2, 5) if q else (4, 3, 10)
    lookups_n = 100 if q else 1000
    controls = ["static"] + (["evpn"] if frr_available() else [])
    ctx["dhcp_script"] = b.write_script(os.path.join(ctx["tmp"], "udhcpc-apply"), DHCP_SCRIPT)
    res = {"tool": "iperf3" if shutil.which("iperf3") else "python TCP stream",
           "seconds_per_run": secs, "reps": reps, "mtu": MTU, "modes": {}}
    floor_guests, floor_addr = handbuilt(b)
    for control in controls:
        hosts = two_hosts(b, ctx, control)
        a1, a1addr = hosts[0].guest(b, ctx, "a1")
        a2, _ = hosts[0].guest(b, ctx, "a2")
        b1, b1addr = hosts[1].guest(b, ctx, "b1")
        if control == "evpn":
            b.wait_for(lambda: len(hosts[0].frr.established()) == 1, 30, "BGP sessions")
        for g, addr in ((a2, a1addr), (b1, a1addr)):
            b.wait_for(lambda g=g, addr=addr: b.run(b.nsexec(g, "ping", "-c", "1", "-W", "1",
                                                             addr), check=False).returncode == 0,
                       20, "guests to reach each other")
        log = {"overlay": [], "bridge": [], "floor": []}
        for r in range(reps):  # interleaved, the order rotating
            runs = [("overlay", (a1, b1, a1addr)), ("bridge", (a1, a2, a1addr)),
                    ("floor", (floor_guests[0], floor_guests[1], floor_addr))]
            for name, (srv, cli, addr) in runs[r % 3:] + runs[:r % 3]:
                log[name].append(stream(b, srv, cli, addr, secs))
        # Prober on host B, then on host A itself, for the same new guests on A.
        across = reach_time(b, ctx, hosts[0], b1, b1addr, probes)
        local = reach_time(b, ctx, hosts[0], a2, a1addr, probes)
        # a2 on host A asks its gateway for b1 (host B's guest: asked of B's
        # names server) and for a1 (its own host's, answered at once).
        b.wait_for(lambda: b.run(b.nsexec(a2, sys.executable or "/usr/bin/python3", "-B", "-c",
                                          LOOKUPS, SUBNET + ".1", "b1.span.vmnet", "1"),
                                 check=False).returncode == 0, 20, "b1's name on host A")
        names_across = lookups(b, a2, "b1.span.vmnet", lookups_n)
        names_local = lookups(b, a2, "a1.span.vmnet", lookups_n)
        res["modes"][control] = {"gbps": {k: b.summary(v) for k, v in log.items()},
                                 "raw_gbps": log,
                                 "reach_ms": b.summary(across, 1000.0),
                                 "reach_local_ms": b.summary(local, 1000.0),
                                 "name_ms": b.summary(names_across, 1000.0),
                                 "name_local_ms": b.summary(names_local, 1000.0)}
        b.log("span %s: %s" % (control, json.dumps({k: round(v["p50"], 2) for k, v in
                                                     res["modes"][control]["gbps"].items()})))
        for h in hosts:
            h.daemon.stop()
    return res


def table_rows(r, ratio, fmt_ms):
    rows = []
    s = r.get("span")
    if not s:
        return rows
    tool = "iperf3" if s["tool"] == "iperf3" else "TCP stream"
    for control, m in s["modes"].items():
        g = m["gbps"]
        for key, label in (("bridge", "the same guests on one bridge"),
                           ("floor", "a VXLAN built by hand (floor)")):
            rows.append(("span (%s): %s Gbit/s across two hosts vs %s" % (control, tool, label),
                         "%.2f" % g["overlay"]["p50"], "%.2f" % g[key]["p50"],
                         ratio(g["overlay"]["p50"], g[key]["p50"]), "", "", None))
        a, lo = m["reach_ms"], m["reach_local_ms"]
        rows.append(("span (%s): new guest's acquire on A until B reaches it, vs B on A" % control,
                     "%s / %s ms" % (fmt_ms(a), fmt_ms(a, "p99")),
                     "%s / %s ms" % (fmt_ms(lo), fmt_ms(lo, "p99")),
                     ratio(lo["p50"], a["p50"]), ratio(lo["p99"], a["p99"]), "", None))
        if "name_ms" in m:
            a, lo = m["name_ms"], m["name_local_ms"]
            rows.append(("span (%s): a guest's lookup of B's guest's name on A, vs of A's own"
                         % control,
                         "%s / %s ms" % (fmt_ms(a), fmt_ms(a, "p99")),
                         "%s / %s ms" % (fmt_ms(lo), fmt_ms(lo, "p99")),
                         ratio(lo["p50"], a["p50"]), ratio(lo["p99"], a["p99"]), "", None))
    return rows
