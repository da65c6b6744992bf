"""Soak: 10,000 acquire/release cycles of every port kind, then proof that nothing leaked.

One daemon serves the `shared` and `host` networks. Two `none` holds keep
both networks alive, so the quiet state between phases is always the same:
two bridges, two dnsmasq, one nftables table, two leases. Then:

  warm-up   a few hundred cycles, so lazily made things exist; then the
            baseline: fds, RSS, interfaces, the ruleset, dnsmasq pids
  steady    WORKERS clients cycling at once
  bursts    BURST_CLIENTS clients at once: all acquire, the daemon's status
            is checked while all hold, all release; BURST_ROUNDS times

A cycle is one lease, ended the way its kind ends: `tap` closes its fd,
`netns` deletes its veth from inside the guest namespace (rtnetlink, no
process spawned), `none` and `named_tap` close the connection (a
`named_tap` cycle also asks wait_address about its port, and every other
one leaves it waiting as the connection closes). Every reply
goes into a ledger of live leases: no two may share a network address, a
MAC on one network, or an interface name, at any moment.

Afterwards the daemon must be back at the baseline, exactly for fds,
interfaces, rules and dnsmasq, within MEMORY_SLACK of RSS; and once the
holds close and the idle timeout passes, have no network, interface, rule
or dnsmasq left and its first fd count. The daemon then stops; built with
AddressSanitizer (VMNET_ASAN_BUILD, set by `make system`/`make soak`), its
exit must bring no LeakSanitizer or UBSan report.

VMNET_SOAK_CYCLES scales the run (default 10000, at least 1000; bursts are
a fifth of it). It takes about 2 minutes on 2 cores (docs/soak.md).
"""
import ctypes
import itertools
import os
import socket
import statistics
import struct
import threading
import time

import pytest

import conftest
import vmnet_broker
from conftest import wait_until

CYCLES = int(os.environ.get("VMNET_SOAK_CYCLES", "10000"))
WARMUP = min(400, CYCLES // 10)
BURST_CLIENTS = 200
BURST_ROUNDS = max(1, CYCLES // 5 // BURST_CLIENTS)
WORKERS = 16
GUESTS = 4
NETWORKS = ("shared", "host")
KINDS = ("tap", "netns", "none", "named_tap")
# RSS may grow this much from the baseline: glibc's malloc stays flat (measured:
# not one KiB over 10,000 cycles); ASan's allocator and quarantine wander by ~2 MiB.
MEMORY_SLACK = {False: 1 << 20, True: 8 << 20}
ASAN_BUILD = os.environ.get("VMNET_ASAN_BUILD")
# Daemon's sanitizer settings: leaks reported at exit, a bounded quarantine so
# RSS settles, and every report makes the exit status non-zero.
ASAN_OPTIONS = "detect_leaks=1:quarantine_size_mb=1:exitcode=66:abort_on_error=0"
UBSAN_OPTIONS = "print_stacktrace=1:halt_on_error=0"

# ---------------------------------------------------------------- rtnetlink

CLONE_NEWNET = 0x40000000
NETLINK_ROUTE = 0
RTM_DELLINK = 17
NLMSG_ERROR = 2
NLM_F_REQUEST = 1
NLM_F_ACK = 4
IFLA_IFNAME = 3
_libc = ctypes.CDLL(None, use_errno=True)


class GuestLinks:
    """An rtnetlink socket inside a guest namespace: delete links there by name."""

    def __init__(self, guest):
        self.guest = guest
        self.fd = os.open(guest.path, os.O_RDONLY | os.O_CLOEXEC)
        self.lock = threading.Lock()
        self.seq = itertools.count(1)
        self.sock = self._socket_in(self.fd)

    @staticmethod
    def _socket_in(ns_fd):
        """A netlink socket of namespace @ns_fd: the thread visits it, opens, returns."""
        home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            if _libc.setns(ns_fd, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns into the guest")
            try:
                return socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC,
                                     NETLINK_ROUTE)
            finally:
                if _libc.setns(home, CLONE_NEWNET) != 0:
                    os.abort()  # never go on in the guest's namespace
        finally:
            os.close(home)

    def delete(self, ifname):
        name = ifname.encode() + b"\0"
        attr = struct.pack("HH", 4 + len(name), IFLA_IFNAME) + name
        attr += b"\0" * (-len(attr) % 4)
        body = struct.pack("BxHiII", socket.AF_UNSPEC, 0, 0, 0, 0) + attr
        with self.lock:
            seq = next(self.seq)
            self.sock.send(struct.pack("IHHII", 16 + len(body), RTM_DELLINK,
                                       NLM_F_REQUEST | NLM_F_ACK, seq, 0) + body)
            reply = self.sock.recv(65536)
        _, kind, _, rseq, _ = struct.unpack_from("IHHII", reply)
        err = struct.unpack_from("i", reply, 16)[0] if kind == NLMSG_ERROR else 0
        assert rseq == seq, "netlink reply out of order"
        if err:
            raise OSError(-err, "delete %s in %s: %s" % (ifname, self.guest.ns, os.strerror(-err)))

    def close(self):
        self.sock.close()
        os.close(self.fd)


# ---------------------------------------------------------------- the ledger

class Ledger:
    """Leases live right now, by what must be unique among them; and what went wrong."""

    def __init__(self):
        self.lock = threading.Lock()
        self.live = {}  # key -> owner token
        self.errors = []
        self.failures = []
        self.latencies = []
        self.cycles = 0
        self.kinds = dict.fromkeys(KINDS, 0)
        self.peak = 0

    @staticmethod
    def keys(reply):
        n = reply["network"]
        port = n["port"]
        keys = []
        if port.get("address"):
            keys.append(("address", port["address"]))  # networks' subnets differ too
        if port.get("mac"):
            keys.append(("mac", n["name"], port["mac"].lower()))
        if port.get("ifname"):
            keys.append(("ifname", port["ifname"]))
        return keys

    def acquired(self, reply, token, seconds):
        keys = self.keys(reply)
        with self.lock:
            self.latencies.append(seconds)
            for k in keys:
                if k in self.live:
                    self.errors.append("%s handed out twice at once (%s and %s)"
                                       % (k, self.live[k], token))
                else:
                    self.live[k] = token
            self.peak = max(self.peak, len(self.live))
        return keys

    def released(self, keys, token, kind):
        """Before the release itself: once it is done, the daemon may hand them out again."""
        with self.lock:
            for k in keys:
                if self.live.get(k) == token:
                    del self.live[k]
            self.cycles += 1
            self.kinds[kind] += 1

    def failed(self, what):
        with self.lock:
            self.failures.append(what)


class Client:
    """One lease of one kind on one network, acquired and released as a VM tool would."""

    def __init__(self, broker, ledger, guests, kind, network, ident):
        self.broker = broker
        self.ledger = ledger
        self.kind = kind
        self.network = network
        self.token = "%s/%s/%s" % (kind, network, ident)
        self.guest = guests[ident % len(guests)] if kind == "netns" else None
        self.ifname = "s%d" % ident
        self.sock = None
        self.fds = []
        self.keys = None

    def acquire(self):
        req = {"command": "acquire", "network_name": self.network, "port": self.kind,
               "label": self.token}
        pass_fds = []
        if self.kind == "netns":
            req["ifname"] = self.ifname
            pass_fds = [self.guest.fd]
        t0 = time.monotonic()
        sock = vmnet_broker.Connection(self.broker.socket, timeout=60)
        try:
            sock.send(req, pass_fds)
            reply, self.fds = sock.receive()
        except BaseException:
            sock.close()
            raise
        if self.kind in ("none", "named_tap"):
            self.sock = sock  # the lease lives as long as this connection
        else:
            sock.close()
        if "error" in reply:
            self.release_fds()
            if self.sock:
                self.sock.close()
            self.ledger.failed("%s: %s" % (self.token, reply))
            return False
        want = 1 if self.kind == "tap" else 0
        if len(self.fds) != want or reply["network"]["port"]["kind"] != self.kind:
            self.ledger.failed("%s: %d fds, reply %s" % (self.token, len(self.fds), reply))
        self.keys = self.ledger.acquired(reply, self.token, time.monotonic() - t0)
        if self.kind == "named_tap":
            self.wait(reply["network"]["port"]["ifname"])
        return True

    def wait(self, ifname):
        """Nothing is behind a named TAP nobody opened: a wait_address answered
        TIMEOUT at once, or (every other one) one left waiting as the
        connection closes: its waiter goes untold."""
        if self.ifname.endswith(("0", "2", "4", "6", "8")):
            self.sock.send({"command": "wait_address", "ifname": ifname, "timeout": 30})
            return
        reply, fds = self.sock.request({"command": "wait_address", "ifname": ifname,
                                        "timeout": 0})
        if fds or reply.get("error") != vmnet_broker.Status.TIMEOUT:
            self.ledger.failed("%s: wait_address gave %s" % (self.token, reply))

    def release_fds(self):
        for fd in self.fds:
            os.close(fd)
        self.fds = []

    def release(self):
        self.ledger.released(self.keys, self.token, self.kind)
        if self.kind == "tap":
            self.release_fds()  # the kernel destroys the TAP
        elif self.kind == "netns":
            self.guest.delete(self.ifname)  # the pair dies with its guest end
        else:
            self.sock.close()

    def cycle(self):
        if self.acquire():
            self.release()


def kind_and_network(i):
    return KINDS[i % len(KINDS)], NETWORKS[(i // len(KINDS)) % len(NETWORKS)]


def run_threads(n, target):
    errors = []

    def wrap(k):
        try:
            target(k)
        except BaseException as e:  # noqa: B902 - reported below, with the thread
            errors.append("thread %d: %r" % (k, e))

    threads = [threading.Thread(target=wrap, args=(k,), daemon=True) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    assert not any(t.is_alive() for t in threads), "clients hang"
    assert not errors, "\n".join(errors[:20])


def steady(broker, ledger, guests, cycles):
    """WORKERS clients, each running cycles back to back until @cycles are done."""
    counter = itertools.count()

    def worker(w):
        while True:
            i = next(counter)
            if i >= cycles:
                return
            kind, network = kind_and_network(i)
            Client(broker, ledger, guests, kind, network, w).cycle()

    run_threads(WORKERS, worker)


def burst(broker, ledger, guests):
    """BURST_CLIENTS clients acquire at once; all hold while the daemon is checked."""
    barrier = threading.Barrier(BURST_CLIENTS + 1, timeout=300)
    clients = [Client(broker, ledger, guests, *kind_and_network(k), 1000 + k)
               for k in range(BURST_CLIENTS)]
    held = {}

    def client(k):
        ok = clients[k].acquire()
        barrier.wait()  # all acquired
        barrier.wait()  # the daemon checked
        if ok:
            clients[k].release()

    def check_daemon():
        barrier.wait()
        try:
            for n in broker.status()["networks"]:
                leases = n.get("leases", [])
                held[n["name"]] = len(leases)
                for key in ("address", "mac", "ifname"):
                    seen = {}
                    for lease in leases:
                        if lease.get(key):
                            seen.setdefault(lease[key].lower(), []).append(lease.get("label"))
                    dup = {v: who for v, who in seen.items() if len(who) > 1}
                    if dup:
                        ledger.errors.append("status of %s shows %s twice: %s"
                                             % (n["name"], key, dup))
        finally:
            barrier.wait()

    checker = threading.Thread(target=check_daemon, daemon=True)
    checker.start()
    run_threads(BURST_CLIENTS, client)
    checker.join(60)
    return sum(held.values())


# ---------------------------------------------------------------- the daemon's footprint

def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def children(pid):
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append((int(entry), conftest.pid_comm(int(entry)), fields[0]))
    return sorted(out)


def nft_rules(broker):
    """The broker's table as comparable text (no handles), or None."""
    if not broker.nft_table_exists():
        return None
    return conftest.run(["ip", "netns", "exec", broker.ns, "nft", "list", "table", "inet",
                         "vmnet_broker"]).stdout


def stable(fn, settle=0.3, timeout=10.0):
    """@fn's value once two readings @settle apart agree."""
    last = fn()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(settle)
        now = fn()
        if now == last:
            return now
        last = now
    return last


def footprint(broker):
    return {
        "fds": stable(broker.fd_count),
        "links": broker.link_names(),
        "nft": nft_rules(broker),
        "dnsmasq": broker.dnsmasq_pids(),
        "children": children(broker.pid),
    }


def quiet(broker, holds):
    """Wait until only the holds' leases are left and no port interface remains."""
    def done():
        leases = broker.leases()
        return len(leases) == holds and all(lease["kind"] == "none" for lease in leases)
    wait_until(done, timeout=60, interval=0.2, what="every soak lease to end")
    wait_until(lambda: not [n for n in broker.link_names() if n.startswith("vmtap")
                            or n.startswith("vmveth")],
               timeout=30, interval=0.2, what="every port interface to go")


def is_asan(pid):
    with open("/proc/%d/maps" % pid) as f:
        return "libasan" in f.read()


@pytest.fixture
def soak_daemon(monkeypatch):
    """Run the AddressSanitizer build of the daemon when there is one."""
    if ASAN_BUILD:
        daemon = os.path.join(ASAN_BUILD, "vmnet-brokerd")
        if not os.access(daemon, os.X_OK):
            pytest.fail("%s is not built (make asan)" % daemon, pytrace=False)
        monkeypatch.setattr(conftest, "DAEMON", daemon)
        monkeypatch.setenv("ASAN_OPTIONS", ASAN_OPTIONS)
        monkeypatch.setenv("UBSAN_OPTIONS", UBSAN_OPTIONS)
    return ASAN_BUILD is not None


@pytest.mark.broker(idle_timeout=2)
def test_soak(soak_daemon, broker, topo):
    t_start = time.monotonic()
    assert is_asan(broker.pid) == soak_daemon
    guests = [GuestLinks(topo.guest("s%d" % k)) for k in range(GUESTS)]
    ledger = Ledger()
    holds = []
    try:
        # An empty daemon after one full network lifecycle: the final baseline.
        _, fds = broker.acquire_tap()
        for fd in fds:
            os.close(fd)
        wait_until(lambda: broker.status()["networks"] == [], timeout=15,
                   what="the first network to go idle and away")
        empty = footprint(broker)

        for network in NETWORKS:
            s = vmnet_broker.Connection(broker.socket, timeout=10)
            s.send({"command": "acquire", "network_name": network, "port": "none",
                           "label": "soak-hold"})
            reply, _ = s.receive()
            assert "error" not in reply, reply
            holds.append(s)

        steady(broker, ledger, guests, WARMUP)
        peaks = [burst(broker, ledger, guests)]  # the heap's high-water mark, early
        quiet(broker, len(holds))
        base = footprint(broker)
        base_rss = stable(lambda: rss_kib(broker.pid), settle=0.5)
        assert len(base["dnsmasq"]) == len(NETWORKS), base
        assert base["nft"] is not None
        t_warm = time.monotonic()

        bursts = BURST_ROUNDS * BURST_CLIENTS
        steady(broker, ledger, guests, CYCLES - WARMUP - bursts)
        t_steady = time.monotonic()
        quiet(broker, len(holds))
        mid_rss = stable(lambda: rss_kib(broker.pid), settle=0.5)
        peaks += [burst(broker, ledger, guests) for _ in range(BURST_ROUNDS - 1)]
        t_bursts = time.monotonic()

        quiet(broker, len(holds))
        end = footprint(broker)
        end_rss = stable(lambda: rss_kib(broker.pid), settle=0.5)
        lat = sorted(ledger.latencies)
        report = ("soak: %d cycles (%s) in %.1fs: warm-up %.1fs, steady %.1fs (%d clients), "
                  "bursts %.1fs (%d x %d clients, %s leases at the peak); acquire p50 %.1f ms, "
                  "p99 %.1f ms, max %.1f ms; RSS %d -> %d -> %d KiB; fds %d; %s"
                  % (ledger.cycles, ", ".join("%s %d" % kv for kv in ledger.kinds.items()),
                     t_bursts - t_start, t_warm - t_start, t_steady - t_warm, WORKERS,
                     t_bursts - t_steady, BURST_ROUNDS, BURST_CLIENTS,
                     "/".join(map(str, peaks)), 1000 * statistics.median(lat),
                     1000 * lat[int(len(lat) * 0.99)], 1000 * lat[-1], base_rss, mid_rss, end_rss,
                     end["fds"], "AddressSanitizer" if soak_daemon else "no sanitizer"))
        print(report)

        assert not ledger.failures, "%d acquires failed:\n%s" % (
            len(ledger.failures), "\n".join(ledger.failures[:20]))
        assert not ledger.errors, "\n".join(ledger.errors[:20])
        assert ledger.cycles == CYCLES and not ledger.live, (ledger.cycles, ledger.live)
        assert all(p >= BURST_CLIENTS + len(holds) for p in peaks), peaks
        assert broker.alive()
        # Exactly where it was: nothing left behind by 10,000 leases.
        for key in ("links", "nft", "dnsmasq", "children", "fds"):
            assert end[key] == base[key], "%s: baseline %s, after the soak %s" % (
                key, base[key], end[key])
        assert end_rss - base_rss < MEMORY_SLACK[soak_daemon] >> 10, report

        # Idle: the holds go, then the networks with everything they made.
        for s in holds:
            s.close()
        wait_until(lambda: broker.status()["networks"] == [], timeout=30,
                   what="both networks to go idle and away")
        gone = footprint(broker)
        wait_until(lambda: broker.link_names() == empty["links"], timeout=10,
                   what="only %s left (have %s)" % (empty["links"], broker.link_names()))
        assert gone["nft"] is None and gone["dnsmasq"] == [] and gone["children"] == [], gone
        assert gone["fds"] == empty["fds"], (empty, gone)
    finally:
        for s in holds:
            s.close()
        for g in guests:
            g.close()

    status = broker.stop()
    log = broker.log()
    bad = [line for line in log.splitlines()
           if "Sanitizer" in line or "runtime error:" in line]
    assert not bad, "\n".join(bad[:40])
    assert status == 0, "vmnet-brokerd exited with %s" % status
