"""Unit tests of vmnet_broker against a fake daemon (no root, no real daemon).

The golden messages every client shares are tested in test/conformance/;
these cover what is Python's own: exceptions, ownership of fds, timeouts,
the environment, the typed values and the command line.
"""
import io
import json
import os
import socket
import sys
import tempfile
import threading
import time
import unittest
from contextlib import redirect_stderr, redirect_stdout

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import vmnet_broker  # noqa: E402
from vmnet_broker import cli  # noqa: E402

SHARED = {"name": "shared", "mode": "shared", "bridge": "vmbr0", "subnet": "192.168.64.1",
          "mask": "255.255.255.0", "ipv6_prefix": "fd00:1::", "prefix_len": 64, "mtu": 1500}


def tap_reply(**port):
    p = {"kind": "tap", "ifname": "vmtap0", "mac": "52:54:00:12:34:56",
         "address": "192.168.64.2"}
    p.update(port)
    return {"network": dict(SHARED, port=p)}


class Fake:
    """A daemon that answers each request with the next of @replies: (body, n_fds) or None
    (hang up), or "silent" (never answer)."""

    def __init__(self, replies):
        self.dir = tempfile.mkdtemp(prefix="vmnet-py-")
        self.path = os.path.join(self.dir, "sock")
        self.replies = list(replies)
        self.requests = []
        self.conns = []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sock.bind(self.path)
        self.sock.listen(8)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        self.sock.settimeout(0.05)
        while not self.stop.is_set() and self.replies:
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            self.conns.append(c)
            data, anc, _, _ = c.recvmsg(1 << 17, socket.CMSG_SPACE(16 * 4))
            n_in = sum(len(p) // 4 for lv, t, p in anc if t == socket.SCM_RIGHTS)
            for lv, t, p in anc:
                for i in range(0, len(p), 4):
                    os.close(int.from_bytes(p[i:i + 4], "little"))
            try:
                self.requests.append((json.loads(data), n_in))
            except ValueError:
                self.requests.append((data, n_in))
            reply = self.replies.pop(0)
            if reply == "silent":
                continue
            if reply is None:
                c.close()
                continue
            body, n = reply
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            fds = [os.open("/dev/null", os.O_RDONLY) for _ in range(n)]
            anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                    b"".join(f.to_bytes(4, "little") for f in fds))] if fds else []
            c.sendmsg([data], anc)
            for f in fds:
                os.close(f)
            # What was sent stays readable after the close.
            self.conns.remove(c)
            c.close()

    def wait(self):
        """Until every reply is sent (and the fake holds no fd of a client's)."""
        self.thread.join(5)

    def close(self):
        self.stop.set()
        self.thread.join(5)
        for c in self.conns:
            c.close()
        self.sock.close()
        os.unlink(self.path)
        os.rmdir(self.dir)


def fds_open():
    return set(os.listdir("/proc/self/fd"))


class ErrorsTest(unittest.TestCase):
    def test_names_and_numbers_are_the_macos_brokers(self):
        self.assertEqual([s.c_name for s in vmnet_broker.Status], [
            "VMNET_BROKER_SUCCESS", "VMNET_BROKER_CONNECTION_FAILURE",
            "VMNET_BROKER_INVALID_REPLY", "VMNET_BROKER_NOT_ALLOWED",
            "VMNET_BROKER_INVALID_REQUEST", "VMNET_BROKER_NOT_FOUND",
            "VMNET_BROKER_CREATE_FAILURE", "VMNET_BROKER_INTERNAL_ERROR",
            "VMNET_BROKER_LIMIT_EXCEEDED", "VMNET_BROKER_CONFLICT", "VMNET_BROKER_TIMEOUT"])
        self.assertEqual(vmnet_broker.status_name(42), "VMNET_BROKER_UNKNOWN")
        self.assertEqual(vmnet_broker.status_text(5), "no such network")

    def test_each_code_has_its_class(self):
        for code, cls in [(1, vmnet_broker.ConnectionFailure), (2, vmnet_broker.InvalidReply),
                          (3, vmnet_broker.NotAllowed), (4, vmnet_broker.InvalidRequest),
                          (5, vmnet_broker.NotFound), (6, vmnet_broker.CreateFailure),
                          (7, vmnet_broker.InternalError), (8, vmnet_broker.LimitExceeded),
                          (9, vmnet_broker.Conflict), (10, vmnet_broker.Timeout)]:
            e = vmnet_broker.error_for(code, "m")
            self.assertIs(type(e), cls)
            self.assertEqual(e.status, code)
            self.assertIsInstance(e, vmnet_broker.BrokerError)
            self.assertEqual(str(e), "%s: m" % vmnet_broker.Status(code).c_name)
        e = vmnet_broker.error_for(42, "new")
        self.assertIs(type(e), vmnet_broker.BrokerError)
        self.assertEqual((e.status, e.status_name), (42, "VMNET_BROKER_UNKNOWN"))
        self.assertTrue(issubclass(vmnet_broker.ConnectionClosed, vmnet_broker.ConnectionFailure))


class AcquireTest(unittest.TestCase):
    def test_tap_port_owns_its_fds_until_closed_or_taken(self):
        fake = Fake([(tap_reply(), 1), (tap_reply(), 1)])
        try:
            before = fds_open()
            with vmnet_broker.acquire("shared", socket_path=fake.path) as port:
                self.assertEqual(port.kind, vmnet_broker.PortKind.TAP)
                self.assertEqual(port.network.bridge, "vmbr0")
                self.assertEqual(port.address, "192.168.64.2")
                self.assertEqual(os.readlink("/proc/self/fd/%d" % port.fd), "/dev/null")
                self.assertEqual(len(port.fds), 1)
            port = vmnet_broker.acquire("shared", socket_path=fake.path)
            self.assertIsNone(port.detach())  # a tap lease needs no connection
            [fd] = port.take_fds()
            port.close()
            os.fstat(fd)  # still open: the caller's now
            os.close(fd)
            self.assertEqual(port.fds, [])
            with self.assertRaises(ValueError):
                port.fd
            fake.wait()
            self.assertEqual(fds_open(), before)
        finally:
            fake.close()

    def test_request_keys(self):
        fake = Fake([(dict(tap_reply()), 2)])
        try:
            with vmnet_broker.acquire(
                    "shared", mac="52:54:00:AB:CD:EF", label="vm", vnet_hdr=True, multi_queue=2,
                    port_forwards=[("tcp", 2222, 22), vmnet_broker.PortForward(
                        protocol="udp", external_port=53, internal_port=53)],
                    socket_path=fake.path) as port:
                self.assertEqual(port.fd_count, 2)
        finally:
            fake.close()
        self.assertEqual(fake.requests, [({
            "command": "acquire", "network_name": "shared", "mac": "52:54:00:ab:cd:ef",
            "label": "vm", "vnet_hdr": True, "multi_queue": 2,
            "port_forwards": [
                {"protocol": "tcp", "external_port": 2222, "internal_port": 22},
                {"protocol": "udp", "external_port": 53, "internal_port": 53}]}, 0)])

    def test_netns_path_is_opened_sent_and_closed(self):
        reply = tap_reply(kind="netns")
        fake = Fake([(reply, 0)])
        try:
            before = fds_open()
            port = vmnet_broker.acquire("shared", netns="/proc/self/ns/net", ifname="eth1",
                                        socket_path=fake.path)
            port.close()
            fake.wait()
            self.assertEqual(fds_open(), before)
        finally:
            fake.close()
        self.assertEqual(fake.requests, [({"command": "acquire", "network_name": "shared",
                                           "port": "netns", "ifname": "eth1"}, 1)])

    def test_bad_values_fail_before_connecting(self):
        for kw in [dict(network="a/b"), dict(network=".."), dict(network="x" * 65),
                   dict(mac="01:00:5e:00:00:01"), dict(mac="00:00:00:00:00:00"),
                   dict(mac="52:54:00:12:34"), dict(label="a\nb"), dict(label="é" * 33),
                   dict(label="a\u009b2J"), dict(label="evil\u202egnp.exe"),
                   dict(ifname="a/b"), dict(ifname="x" * 16), dict(multi_queue=0),
                   dict(multi_queue=17), dict(port="vhost"), dict(port="netns"),
                   dict(port="tap", netns=0), dict(port_forwards=[("sctp", 1, 1)]),
                   dict(port_forwards=[("tcp", 0, 1)]),
                   dict(port_forwards=[("tcp", 1, 1), ("tcp", 1, 2)]),
                   dict(port_forwards=[("tcp", i, 1) for i in range(1, 18)])]:
            args = dict(network="shared")
            args.update(kw)
            with self.subTest(kw=kw), self.assertRaises(vmnet_broker.InvalidRequest):
                vmnet_broker.acquire(args.pop("network"), socket_path="/nonexistent", **args)

    def test_daemon_error_raises_its_class_and_closes_fds(self):
        fake = Fake([({"error": 9, "message": "tcp port 2222 is taken"}, 1)])
        try:
            before = fds_open()
            with self.assertRaises(vmnet_broker.Conflict) as cm:
                vmnet_broker.acquire("shared", socket_path=fake.path)
            self.assertEqual(cm.exception.message, "tcp port 2222 is taken")
            fake.wait()
            self.assertEqual(fds_open(), before)
        finally:
            fake.close()

    def test_connection_failure(self):
        with self.assertRaises(vmnet_broker.ConnectionFailure) as cm:
            vmnet_broker.status(socket_path="/nonexistent/sock")
        self.assertIn("/nonexistent/sock", cm.exception.message)

    def test_hang_up_is_connection_closed(self):
        fake = Fake([None])
        try:
            with self.assertRaises(vmnet_broker.ConnectionClosed):
                vmnet_broker.status(socket_path=fake.path)
        finally:
            fake.close()

    def test_timeout(self):
        fake = Fake(["silent"])
        try:
            t = time.monotonic()
            with self.assertRaises(vmnet_broker.ConnectionFailure) as cm:
                vmnet_broker.status(socket_path=fake.path, timeout=0.3)
            self.assertLess(time.monotonic() - t, 5)
            self.assertIn("timed out", cm.exception.message)
        finally:
            fake.close()

    def test_socket_from_environment(self):
        fake = Fake([({"version": 1, "networks": []}, 0)])
        old = os.environ.get("VMNET_BROKER_SOCKET")
        os.environ["VMNET_BROKER_SOCKET"] = fake.path
        try:
            self.assertEqual(vmnet_broker.socket_path(), fake.path)
            self.assertEqual(vmnet_broker.status().networks, ())
        finally:
            if old is None:
                del os.environ["VMNET_BROKER_SOCKET"]
            else:
                os.environ["VMNET_BROKER_SOCKET"] = old
            fake.close()
        os.environ.pop("VMNET_BROKER_SOCKET", None)
        self.assertEqual(vmnet_broker.socket_path(), "/run/vmnet-broker/broker.sock")
        if old is not None:
            os.environ["VMNET_BROKER_SOCKET"] = old


LEASE = {"kind": "named_tap", "ifname": "fc-vm1", "lease_id": 7, "persistent": True, "uid": 0,
         "pid": 1, "label": "", "network_name": "shared",
         "port_forwards": [{"protocol": "tcp", "external_port": 2222,
                            "internal_address": "192.168.64.2", "internal_port": 22,
                            "internal_address6": "fd00::5054:ff:fe12:3456"}]}


class LeaseCallsTest(unittest.TestCase):
    def test_requests_and_typed_replies(self):
        fake = Fake([({"lease": LEASE}, 0), ({"lease": LEASE}, 0), ({"leases": [LEASE]}, 0),
                     ({"lease": LEASE}, 0),
                     ({"network": {"name": "shared"}, "ended_leases": [LEASE]}, 0)])
        try:
            lease = vmnet_broker.forward_add([("tcp", 2222, 22)], ifname="fc-vm1",
                                             socket_path=fake.path)
            self.assertEqual((lease.lease_id, lease.persistent, lease.network_name),
                             (7, True, "shared"))
            self.assertEqual(lease.port_forwards[0].internal_address6, "fd00::5054:ff:fe12:3456")
            vmnet_broker.forward_remove([("tcp", 2222)], lease_id=7, socket_path=fake.path)
            [listed] = vmnet_broker.forward_list(socket_path=fake.path)
            self.assertEqual(listed.to_json(), LEASE)
            vmnet_broker.release(lease_id=7, socket_path=fake.path)
            stopped = vmnet_broker.stop_network("shared", force=True, socket_path=fake.path)
            self.assertEqual(stopped.network.name, "shared")
            self.assertEqual([le.ifname for le in stopped.ended_leases], ["fc-vm1"])
            fake.wait()
        finally:
            fake.close()
        self.assertEqual([r for r, _ in fake.requests], [
            {"command": "forward_add", "ifname": "fc-vm1",
             "port_forwards": [{"protocol": "tcp", "external_port": 2222, "internal_port": 22}]},
            {"command": "forward_remove", "lease_id": 7,
             "port_forwards": [{"protocol": "tcp", "external_port": 2222}]},
            {"command": "forward_list"},
            {"command": "release", "lease_id": 7},
            {"command": "stop", "network_name": "shared", "force": True}])

    def test_refused_before_connecting(self):
        for call in (lambda: vmnet_broker.release(socket_path="/nonexistent"),
                     lambda: vmnet_broker.release(ifname="a", lease_id=1,
                                                  socket_path="/nonexistent"),
                     lambda: vmnet_broker.release(lease_id=0, socket_path="/nonexistent"),
                     lambda: vmnet_broker.release(ifname="a/b", socket_path="/nonexistent"),
                     lambda: vmnet_broker.forward_add([], lease_id=1, socket_path="/nonexistent"),
                     lambda: vmnet_broker.forward_remove([("tcp", 0)], lease_id=1,
                                                         socket_path="/nonexistent"),
                     lambda: vmnet_broker.stop_network("a/b", socket_path="/nonexistent")):
            with self.assertRaises(vmnet_broker.InvalidRequest):
                call()
        with self.assertRaises(vmnet_broker.ConnectionFailure) as cm:
            vmnet_broker.release(lease_id=1, socket_path="/nonexistent/sock")
        self.assertIn("daemon is not running", cm.exception.message)
        self.assertIn("systemctl start vmnet-brokerd.socket", cm.exception.message)


class WaitTest(unittest.TestCase):
    REPLY = {"address": "192.168.64.130", "network_name": "shared", "lease": {
        "kind": "tap", "ifname": "vmtap0", "mac": "52:54:00:12:34:56", "address": "192.168.64.2",
        "uid": 0, "pid": 1, "label": "vm", "guests": [
            {"mac": "52:54:00:aa:00:01", "on_bridge": True, "ipv4": ["192.168.64.130"],
             "ipv6": [], "hostname": "vm"}], "names": ["vm.shared.vmnet"]}}

    def test_request_and_typed_reply(self):
        fake = Fake([(self.REPLY, 0)])
        try:
            w = vmnet_broker.wait_address(label="vm", network="shared", wait=30,
                                          socket_path=fake.path)
        finally:
            fake.close()
        self.assertEqual(fake.requests, [({"command": "wait_address", "label": "vm",
                                           "network_name": "shared", "timeout": 30}, 0)])
        self.assertEqual(w.address, "192.168.64.130")
        self.assertEqual(w.lease.guests[0].ipv4, ("192.168.64.130",))
        self.assertEqual(w.lease.names, ("vm.shared.vmnet",))
        self.assertEqual(w.to_json(), self.REPLY)

    def test_timeout_is_its_own_class(self):
        fake = Fake([({"error": 10, "message": "no address in 1 s"}, 0)])
        try:
            with self.assertRaises(vmnet_broker.Timeout):
                vmnet_broker.wait_address(ifname="vmtap0", wait=1, socket_path=fake.path)
        finally:
            fake.close()

    def test_bad_values_fail_before_connecting(self):
        for kw in [dict(), dict(ifname="a", label="b"), dict(ifname="a/b"), dict(label=""),
                   dict(label="a\nb"), dict(ifname="a", wait=-1), dict(ifname="a", wait=3601),
                   dict(ifname="a", network="a/b")]:
            with self.subTest(kw=kw), self.assertRaises(vmnet_broker.InvalidRequest):
                vmnet_broker.wait_address(socket_path="/nonexistent", **kw)


class ModelTest(unittest.TestCase):
    def test_status_values_are_typed_and_round_trip(self):
        reply = {"version": 1, "networks": [dict(
            SHARED, state="idle", idle_remaining=3, dnsmasq_pid=7, description="d", leases=[
                {"kind": "tap", "ifname": "vmtap0", "mac": "52:54:00:12:34:56", "uid": 0,
                 "pid": 1, "label": "", "port_forwards": [
                     {"protocol": "tcp", "external_port": 1, "internal_address": "1.2.3.4",
                      "internal_port": 2}]},
                {"kind": "none", "hidden": True}])]}
        st = vmnet_broker.StatusReply.from_json(reply)
        self.assertEqual(st.to_json(), reply)
        n = st.network("shared")
        self.assertEqual((n.state, n.idle_remaining, n.leases[0].uid), ("idle", 3, 0))
        self.assertEqual(n.leases[0].port_forwards[0].internal_address, "1.2.3.4")
        self.assertTrue(n.leases[1].hidden)
        self.assertIsNone(st.network("host"))

    def test_wrong_types_are_invalid_replies(self):
        for bad in [{"networks": {}}, {"networks": [5]}, {"networks": [{"name": 1}]},
                    {"networks": [{"leases": [{"kind": "tap", "uid": "0"}]}]},
                    {"networks": [{"leases": [{"kind": "tap", "hidden": 1}]}]},
                    {"networks": [{"mtu": True}]}, {"networks": [{"name": None}]}]:
            with self.subTest(bad=bad), self.assertRaises(vmnet_broker.InvalidReply):
                vmnet_broker.StatusReply.from_json(bad)

    def test_host_status(self):
        host = {"forwarding": {"ipv4": True, "ipv6": False},
                "nftables": {"table": True, "restores": 1, "backoff": 0,
                             "last_restore": {"time": "2026-01-01T00:00:00Z", "cause": "nft[1]",
                                              "duration_ms": 2}},
                "iptables": [{"backend": "legacy", "family": "ipv4", "forward_policy": "drop",
                              "jump_from": "FORWARD", "input_jump": False, "in_place": True}],
                "firewalld": {"running": False, "zone": "vmnet-broker", "zone_present": False,
                              "interfaces": []},
                "foreign_drop_chains": [], "dns": {"wildcard_listener": False,
                                                   "alternate_port": 10053, "networks": []},
                "detected": ["ufw"]}
        st = vmnet_broker.StatusReply.from_json({"version": 1, "networks": [], "host": host})
        self.assertEqual(st.to_json()["host"], host)
        self.assertIsNone(st.host.br_netfilter)
        self.assertEqual(st.host.iptables[0].jump_from, "FORWARD")
        self.assertEqual(st.host.nftables.last_restore.duration_ms, 2)
        self.assertIsNone(vmnet_broker.StatusReply.from_json({"networks": []}).host)
        for bad in [dict(host, detected=[1]), dict(host, nftables={"table": 1}),
                    dict(host, iptables=[{"backend": "nft"}]), {"forwarding": {}}]:
            with self.subTest(bad=bad), self.assertRaises(vmnet_broker.InvalidReply):
                vmnet_broker.StatusReply.from_json({"networks": [], "host": bad})

    def test_networks_entries(self):
        nets = vmnet_broker.NetworksReply.from_json({"networks": [
            {"name": "typo", "source": "/etc/vmnet-broker.d/typo.json", "persistent": False,
             "active": False, "pending_change": False,
             "errors": [{"file": "f", "key": "", "reason": "r"}]}]})
        self.assertFalse(nets.get("typo").valid)
        self.assertIsNone(nets.get("typo").mode)
        self.assertEqual(len(nets), 1)


class ConnectionTest(unittest.TestCase):
    def test_reply_over_64k(self):
        big = {"version": 1, "networks": [dict(SHARED, state="active", leases=[
            {"kind": "tap", "ifname": "vmtap%d" % i, "uid": 0, "pid": i, "label": "x" * 60}
            for i in range(1500)])]}
        self.assertGreater(len(json.dumps(big)), 3 * 65536)
        fake = Fake([(big, 0)])
        fake.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        try:
            st = vmnet_broker.status(socket_path=fake.path)
            self.assertEqual(len(st.networks[0].leases), 1500)
        finally:
            fake.close()

    def test_raw_bytes_and_many_requests(self):
        fake = Fake([({"error": 4, "message": "not valid JSON"}, 0)])
        try:
            with vmnet_broker.Connection(fake.path, timeout=5) as conn:
                body, fds = conn.request(b"hello")
            self.assertEqual((body["error"], fds), (4, []))
        finally:
            fake.close()


class CliTest(unittest.TestCase):
    def run_cli(self, *argv):
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            rc = cli.main(list(argv))
        return rc, out.getvalue(), err.getvalue()

    def test_acquire_prints_the_port(self):
        fake = Fake([(tap_reply(), 1)])
        try:
            rc, out, _ = self.run_cli("--socket", fake.path, "acquire", "shared", "--label", "x",
                                      "--forward", "tcp:2222:22")
        finally:
            fake.close()
        self.assertEqual(rc, 0)
        self.assertEqual(out, "network shared: port tap vmtap0 mac 52:54:00:12:34:56 "
                              "address 192.168.64.2\n")
        self.assertEqual(fake.requests[0][0]["port_forwards"],
                         [{"protocol": "tcp", "external_port": 2222, "internal_port": 22}])

    def test_errors_name_the_code_and_exit_1(self):
        fake = Fake([({"error": 5, "message": "no network named 'x'"}, 0)])
        try:
            rc, _, err = self.run_cli("acquire", "x", "--socket", fake.path)
        finally:
            fake.close()
        self.assertEqual(rc, 1)
        self.assertEqual(err, "python3 -m vmnet_broker: VMNET_BROKER_NOT_FOUND: "
                              "no network named 'x'\n")

    def test_status_table(self):
        reply = {"version": 1, "networks": [dict(SHARED, state="active", leases=[
            {"kind": "netns", "ifname": "vmveth0", "mac": "52:54:00:12:34:56",
             "address": "192.168.64.2", "uid": 0, "pid": 42, "label": "vm1"},
            {"kind": "tap", "ifname": "vmtap1", "hidden": True}])]}
        fake = Fake([(reply, 0), (reply, 0)])
        try:
            rc, out, _ = self.run_cli("--socket", fake.path, "status")
            rc2, js, _ = self.run_cli("--socket", fake.path, "status", "--json")
        finally:
            fake.close()
        self.assertEqual((rc, rc2), (0, 0))
        lines = out.splitlines()
        self.assertTrue(lines[0].startswith("NETWORK"))
        self.assertIn("vmbr0", lines[1])
        self.assertIn("vm1", out)
        self.assertIn("(another user's)", out)
        self.assertEqual(json.loads(js), reply)

    def test_usage_errors_exit_2(self):
        with self.assertRaises(SystemExit) as cm, redirect_stderr(io.StringIO()):
            cli.main(["frobnicate"])
        self.assertEqual(cm.exception.code, 2)


if __name__ == "__main__":
    unittest.main()
