"""acquire, status and networks: the client of vmnet-brokerd."""
from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

from .errors import BrokerError, InvalidReply, InvalidRequest, error_for
from .model import (LeaseInfo, NetworkInfo, NetworksReply, PortForward, PortInfo, PortKind,
                    StatusReply, StopReply, WaitReply)
from .wire import MESSAGE_MAX, Connection, Message

__all__ = ["Port", "acquire", "status", "networks", "wait_address", "check_network_name",
           "release", "forward_add", "forward_remove", "forward_list", "stop_network"]

NETWORK_NAME_MAX = 64
LABEL_MAX = 64
QUEUES_MAX = 16
FORWARDS_MAX = 16
WAIT_MAX = 3600  # seconds the daemon waits for an address, at most
IFNAMSIZ = 16

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_MAC = re.compile(r"[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}")


def _close_all(fds: Iterable[int]) -> None:
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


def check_network_name(name: str) -> None:
    """Raise :class:`InvalidRequest` unless @name is a valid network name:
    1-64 of ``A-Za-z0-9._-``, starting with a letter or digit, without ``..``."""
    if (not isinstance(name, str) or len(name) > NETWORK_NAME_MAX or not _NAME.fullmatch(name)
            or ".." in name):
        raise InvalidRequest("invalid network name %r: 1-%d characters of A-Z, a-z, 0-9, "
                             "'.', '-', '_', starting with a letter or digit, without '..'"
                             % (name, NETWORK_NAME_MAX))


def _check_mac(mac: str) -> None:
    if not isinstance(mac, str) or not _MAC.fullmatch(mac):
        raise InvalidRequest("%r is not a unicast MAC address like 52:54:00:12:34:56" % (mac,))
    b = bytes.fromhex(mac.replace(":", ""))
    if not any(b) or b[0] & 1:
        raise InvalidRequest("%r is not a unicast MAC address like 52:54:00:12:34:56" % (mac,))


def _label_char_refused(c: str) -> bool:
    # What the daemon refuses: controls (C0, DEL, C1), line and paragraph
    # separators, and the bidirectional formatting characters.
    o = ord(c)
    return (o < 0x20 or 0x7f <= o <= 0x9f or o in (0x061C, 0x200E, 0x200F)
            or 0x2028 <= o <= 0x202E or 0x2066 <= o <= 0x2069)


def _check_label(label: str) -> None:
    # At most 64 bytes, as the daemon counts them, of printable text.
    if (not isinstance(label, str) or len(label.encode(errors="replace")) > LABEL_MAX
            or any(_label_char_refused(c) for c in label)):
        raise InvalidRequest("a label is at most %d bytes of printable text (no control or "
                             "bidirectional formatting characters)" % LABEL_MAX)


def _check_ifname(ifname: str) -> None:
    b = ifname.encode() if isinstance(ifname, str) else b""
    if (not b or len(b) >= IFNAMSIZ or ifname in (".", "..")
            or any(c <= 0x20 or c >= 0x7f or c in b"/:%" for c in b)):
        raise InvalidRequest("%r is not a valid interface name" % (ifname,))


ForwardSpec = PortForward | tuple[str, int, int] | tuple[str, int] | Mapping[str, Any]


def _forward_fields(f: ForwardSpec) -> tuple[Any, Any, Any]:
    if isinstance(f, PortForward):
        return f.protocol, f.external_port, f.internal_port
    if isinstance(f, Mapping):
        return f.get("protocol"), f.get("external_port"), f.get("internal_port")
    if len(f) == 2:
        return f[0], f[1], None
    return tuple(f)  # type: ignore[return-value]


def _forwards(port_forwards: Iterable[ForwardSpec],
              host_port_only: bool = False) -> list[dict[str, Any]]:
    """The request's "port_forwards"; @host_port_only (forward_remove): the
    protocol and host port of each, which name it."""
    out: list[dict[str, Any]] = []
    seen: set[tuple[str, int]] = set()
    for f in port_forwards:
        proto, ext, internal = _forward_fields(f)
        if proto not in ("tcp", "udp"):
            raise InvalidRequest('the protocol must be "tcp" or "udp"')
        for p in (ext,) if host_port_only else (ext, internal):
            if not isinstance(p, int) or isinstance(p, bool) or not 1 <= p <= 65535:
                raise InvalidRequest("ports must be from 1 to 65535")
        if (proto, ext) in seen:
            raise InvalidRequest("%s port %d is forwarded already" % (proto, ext))
        seen.add((proto, ext))
        out.append({"protocol": proto, "external_port": ext} if host_port_only else
                   {"protocol": proto, "external_port": ext, "internal_port": internal})
    if len(out) > FORWARDS_MAX:
        raise InvalidRequest("at most %d port forwards in one request" % FORWARDS_MAX)
    return out


def _raise_if_error(body: Any, fds: list[int]) -> None:
    if not isinstance(body, dict):
        _close_all(fds)
        raise InvalidReply("reply is not a JSON object")
    if "error" not in body:
        return
    _close_all(fds)
    code, message = body.get("error"), body.get("message")
    if not isinstance(code, int) or isinstance(code, bool) or not isinstance(message, str):
        raise InvalidReply("malformed error reply")
    # Codes above the known ones pass through: the protocol may add codes.
    if code <= 0 or code > 2**31 - 1:
        raise InvalidReply("error reply with code %d" % code)
    raise error_for(code, message)


class Port:
    """An acquired port: what the daemon said about it and its network, and
    the fds it sent (one TAP per queue for ``tap``, none otherwise).

    Closing it (or leaving its ``with`` block) closes the fds not taken and
    the connection, which ends a ``named_tap`` or ``none`` lease. A ``tap``
    lease lives on while any process holds a TAP fd (give it to the VM, or
    :meth:`take_fds`), a ``netns`` lease while the namespace lives.
    """

    def __init__(self, conn: Connection | None, reply: dict[str, Any], network: NetworkInfo,
                 port: PortInfo, fds: list[int]) -> None:
        self._conn: Connection | None = conn
        self._fds: list[int | None] = list(fds)
        #: The daemon's reply, as it came.
        self.reply: dict[str, Any] = reply
        #: The network the port is on.
        self.network: NetworkInfo = network
        #: The port itself.
        self.port: PortInfo = port

    # The port's members, for short.
    @property
    def kind(self) -> PortKind:
        return self.port.kind

    @property
    def ifname(self) -> str | None:
        return self.port.ifname

    @property
    def mac(self) -> str | None:
        return self.port.mac

    @property
    def address(self) -> str | None:
        return self.port.address

    @property
    def port_forwards(self) -> tuple[PortForward, ...]:
        return self.port.port_forwards

    @property
    def fds(self) -> list[int]:
        """The fds still held (not taken, not closed)."""
        return [fd for fd in self._fds if fd is not None]

    @property
    def fd_count(self) -> int:
        """How many fds the reply carried."""
        return len(self._fds)

    @property
    def fd(self) -> int:
        """The first TAP fd, still owned by the port. ValueError when there is none."""
        if not self._fds or self._fds[0] is None:
            raise ValueError("this port has no TAP fd (kind %s, or taken)" % self.kind)
        return self._fds[0]

    def take_fds(self) -> list[int]:
        """The fds, now the caller's to close; the port closes them no more."""
        out = self.fds
        self._fds = [None] * len(self._fds)
        return out

    def detach(self) -> Connection | None:
        """The connection, now the caller's: closing the port leaves it open
        (it holds a ``none`` or ``named_tap`` lease). None for ``tap`` and
        ``netns`` ports, whose leases do not need it: it is closed as soon
        as their reply is in."""
        conn, self._conn = self._conn, None
        return conn

    def close(self) -> None:
        """Close the fds not taken and the connection."""
        _close_all(self.take_fds())
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> Port:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def __repr__(self) -> str:
        return "<Port %s %s on %s mac %s address %s fds %s>" % (
            self.kind.value, self.ifname, self.network.name, self.mac, self.address, self.fds)


def _acquire_request(network: str, port: PortKind | str | None, mac: str | None,
                     label: str | None, ifname: str | None, vnet_hdr: bool,
                     multi_queue: int | None, port_forwards: list[dict[str, Any]],
                     has_netns: bool, persistent: bool = False) -> tuple[dict[str, Any], PortKind]:
    check_network_name(network)
    req: dict[str, Any] = {"command": "acquire", "network_name": network}
    kind = PortKind.TAP
    if port is not None:
        try:
            kind = PortKind(port)
        except ValueError:
            raise InvalidRequest("unknown port kind %r (want tap, netns, named_tap or none)"
                                 % (port,)) from None
        req["port"] = kind.value
    if kind == PortKind.NETNS and not has_netns:
        raise InvalidRequest("port 'netns' needs a network namespace fd")
    if kind != PortKind.NETNS and has_netns:
        raise InvalidRequest("a network namespace fd applies only to port 'netns'")
    if mac is not None:
        _check_mac(mac)
        req["mac"] = mac.lower()
    if label is not None:
        _check_label(label)
        req["label"] = label
    if ifname is not None:
        _check_ifname(ifname)
        req["ifname"] = ifname
    if vnet_hdr:
        req["vnet_hdr"] = True
    if multi_queue is not None:
        if (not isinstance(multi_queue, int) or isinstance(multi_queue, bool)
                or not 1 <= multi_queue <= QUEUES_MAX):
            raise InvalidRequest("the queue count must be from 1 to %d" % QUEUES_MAX)
        req["multi_queue"] = multi_queue
    if persistent:
        req["persistent"] = True
    if port_forwards:
        req["port_forwards"] = port_forwards
    return req, kind


def _check_acquire_reply(msg: Message, kind: PortKind,
                         queues: int) -> tuple[NetworkInfo, PortInfo]:
    body, fds = msg
    _raise_if_error(body, fds)
    try:
        network = body.get("network")
        if not isinstance(network, dict):
            raise InvalidReply("reply has neither 'error' nor a valid 'network'")
        port = network.get("port")
        if not isinstance(port, dict):
            raise InvalidReply("reply has no 'port'")
        # Decoded here so that a malformed reply fails before the Port owns anything.
        info = NetworkInfo.from_json(network)
        got = PortInfo.from_json(port)
        if got.kind != kind:
            raise InvalidReply("asked for a '%s' port, the reply has '%s'" % (kind.value,
                                                                              got.kind.value))
        want = queues if kind == PortKind.TAP else 0
        if len(fds) != want:
            raise InvalidReply("the reply carries %d fd(s), expected %d" % (len(fds), want))
    except BrokerError:
        _close_all(fds)
        raise
    return info, got


def acquire(network: str, *, port: PortKind | str | None = None, mac: str | None = None,
            label: str | None = None, netns: int | str | os.PathLike[str] | None = None,
            ifname: str | None = None, vnet_hdr: bool = False, multi_queue: int | None = None,
            port_forwards: Iterable[ForwardSpec] = (), persistent: bool = False,
            socket_path: str | os.PathLike[str] | None = None,
            timeout: float | None = 30.0) -> Port:
    """Acquire a port on @network; the network is created on first use.

    @port is ``tap`` (the default), ``netns``, ``named_tap`` or ``none``.
    @netns (for ``netns``; implies it when @port is None) is a network
    namespace's fd (borrowed) or path (``/run/netns/NAME``,
    ``/proc/PID/ns/net``): the broker puts a veth end named @ifname
    (default ``eth0``) into it; for ``named_tap``, @ifname is the TAP's
    name on the host (default ``vmtapN``). @mac (default: one the daemon
    makes up), @label (shown in status), @vnet_hdr and @multi_queue (TAP
    queues, each its own fd) and @port_forwards (``("tcp", 2222, 22)``:
    host port to the port's address, while the lease lives) are the
    request's other keys. @persistent (``named_tap``, ``netns``): the
    lease outlives the connection, until :func:`release`, its network is
    stopped, or its owner is over quota; ``port.lease_id`` names it.

    Raises the :class:`~vmnet_broker.errors.BrokerError` subclass of the
    failure's status code. The returned :class:`Port` is a context manager.
    """
    if port is None and netns is not None:
        port = PortKind.NETNS
    forwards = _forwards(port_forwards)
    req, kind = _acquire_request(network, port, mac, label, ifname, vnet_hdr, multi_queue,
                                 forwards, netns is not None, persistent)
    if len(Connection.encode(req)) > MESSAGE_MAX:
        raise InvalidRequest("request larger than %d bytes" % MESSAGE_MAX)
    netns_fd, opened = -1, False
    if netns is not None:
        if isinstance(netns, int) and not isinstance(netns, bool):
            netns_fd = netns
        else:
            try:
                netns_fd = os.open(netns, os.O_RDONLY | os.O_CLOEXEC)
            except OSError as e:
                raise InvalidRequest("open %s: %s" % (os.fspath(netns), e.strerror)) from None
            opened = True
    try:
        conn: Connection | None = Connection(socket_path, timeout)
        assert conn is not None
        try:
            msg = conn.request(req, [netns_fd] if netns_fd >= 0 else [])
            if kind in (PortKind.TAP, PortKind.NETNS):
                # Their leases do not need the connection: let it go at once,
                # before the decoding (which, done first, measurably delays
                # the end of the daemon's exchange: see bench/README.md).
                conn.close()
                conn = None
            network, port_info = _check_acquire_reply(msg, kind, multi_queue or 1)
            return Port(conn, msg.body, network, port_info, msg.fds)
        except BaseException:
            if conn is not None:
                conn.close()
            raise
    finally:
        if opened:
            os.close(netns_fd)


def _query(command: str, socket_path: str | os.PathLike[str] | None,
           timeout: float | None) -> dict[str, Any]:
    with Connection(socket_path, timeout) as conn:
        body, fds = conn.request({"command": command})
    _raise_if_error(body, fds)
    if fds:
        _close_all(fds)
        raise InvalidReply("a '%s' reply carries fds" % command)
    if not isinstance(body.get("networks"), list):
        raise InvalidReply("reply has neither 'error' nor a valid 'networks'")
    return body


def status(*, socket_path: str | os.PathLike[str] | None = None,
           timeout: float | None = 30.0) -> StatusReply:
    """Every running network and its leases. A caller that is not root sees
    other users' leases hidden."""
    return StatusReply.from_json(_query("status", socket_path, timeout))


def networks(*, socket_path: str | os.PathLike[str] | None = None,
             timeout: float | None = 30.0) -> NetworksReply:
    """Every network the daemon knows how to create, with each file's errors."""
    return NetworksReply.from_json(_query("networks", socket_path, timeout))




def _wait_request(ifname: str | None, label: str | None, network: str | None,
                  wait: int | None) -> dict[str, Any]:
    if (ifname is None) == (label is None):
        raise InvalidRequest("name the port by ifname or by label")
    req: dict[str, Any] = {"command": "wait_address"}
    if ifname is not None:
        _check_ifname(ifname)
        req["ifname"] = ifname
    if label is not None:
        _check_label(label)
        if not label:
            raise InvalidRequest("a label is 1-%d printable characters" % LABEL_MAX)
        req["label"] = label
    if network is not None:
        check_network_name(network)
        req["network_name"] = network
    if wait is not None:
        if not isinstance(wait, int) or isinstance(wait, bool) or not 0 <= wait <= WAIT_MAX:
            raise InvalidRequest("the wait is 0 to %d seconds" % WAIT_MAX)
        req["timeout"] = wait
    return req


def wait_address(*, ifname: str | None = None, label: str | None = None,
                 network: str | None = None, wait: int | None = None,
                 socket_path: str | os.PathLike[str] | None = None,
                 timeout: float | None = None) -> WaitReply:
    """Wait until the guest behind a port has an IPv4 address; its
    :class:`WaitReply` has it as ``address``, and the lease with every guest.

    The port is named by @ifname (its interface on the host, as status shows
    it) or @label (one of the caller's ports). The daemon waits @wait
    seconds (None: its default, 60; 0: answers at once) and raises
    :class:`~vmnet_broker.errors.Timeout` when no address came; @network
    looks at that network's ports only. @timeout bounds the exchange on
    this side: None, the default, is @wait plus 10 s.
    """
    req = _wait_request(ifname, label, network, wait)
    if timeout is None:
        timeout = (60 if wait is None else wait) + 10.0
    with Connection(socket_path, timeout) as conn:
        body, fds = conn.request(req)
    _raise_if_error(body, fds)
    if fds:
        _close_all(fds)
        raise InvalidReply("a 'wait_address' reply carries fds")
    return WaitReply.from_json(body)


def _call(req: dict[str, Any], key: str, kind: type, socket_path: str | os.PathLike[str] | None,
          timeout: float | None) -> dict[str, Any]:
    """Send @req; the reply, which must have member @key of type @kind and no fds."""
    with Connection(socket_path, timeout) as conn:
        body, fds = conn.request(req)
    _raise_if_error(body, fds)
    if fds:
        _close_all(fds)
        raise InvalidReply("a '%s' reply carries fds" % req["command"])
    if not isinstance(body.get(key), kind):
        raise InvalidReply("reply has neither 'error' nor a valid '%s'" % key)
    return body


def _lease_request(command: str, ifname: str | None, lease_id: int | None,
                   optional: bool = False) -> dict[str, Any]:
    req: dict[str, Any] = {"command": command}
    if ifname is not None and lease_id is not None:
        raise InvalidRequest("name the lease by its interface or by its id, not both")
    if ifname is not None:
        _check_ifname(ifname)
        req["ifname"] = ifname
    elif lease_id is not None:
        if not isinstance(lease_id, int) or isinstance(lease_id, bool) or lease_id < 1:
            raise InvalidRequest("a lease id is an integer from 1")
        req["lease_id"] = lease_id
    elif not optional:
        raise InvalidRequest("name the lease by its interface or by its id")
    return req


def _lease_reply(body: dict[str, Any]) -> LeaseInfo:
    return LeaseInfo.from_json(body["lease"], "lease")


def release(*, ifname: str | None = None, lease_id: int | None = None,
            socket_path: str | os.PathLike[str] | None = None,
            timeout: float | None = 30.0) -> LeaseInfo:
    """End a lease of the caller's (root: anyone's) now, named by its port
    @ifname (as status shows it: the host end) or by @lease_id. Returns the
    lease as it was. A plain TAP still held by a VM is only taken off the
    network; every other port goes."""
    req = _lease_request("release", ifname, lease_id)
    return _lease_reply(_call(req, "lease", dict, socket_path, timeout))


def forward_add(port_forwards: Iterable[ForwardSpec], *, ifname: str | None = None,
                lease_id: int | None = None, socket_path: str | os.PathLike[str] | None = None,
                timeout: float | None = 30.0) -> LeaseInfo:
    """Forward more host ports (``("tcp", 2222, 22)``) to a lease's address
    while it lives, all or none. Returns the lease with all its forwards."""
    req = _lease_request("forward_add", ifname, lease_id)
    req["port_forwards"] = _forwards(port_forwards)
    if not req["port_forwards"]:
        raise InvalidRequest("give at least one port forward")
    return _lease_reply(_call(req, "lease", dict, socket_path, timeout))


def forward_remove(port_forwards: Iterable[ForwardSpec], *, ifname: str | None = None,
                   lease_id: int | None = None,
                   socket_path: str | os.PathLike[str] | None = None,
                   timeout: float | None = 30.0) -> LeaseInfo:
    """Stop forwarding host ports (``("tcp", 2222)``: protocol and host
    port) to a lease, all or none (:class:`NotFound` when one is not its)."""
    req = _lease_request("forward_remove", ifname, lease_id)
    req["port_forwards"] = _forwards(port_forwards, host_port_only=True)
    if not req["port_forwards"]:
        raise InvalidRequest("give at least one port forward")
    return _lease_reply(_call(req, "lease", dict, socket_path, timeout))


def forward_list(*, ifname: str | None = None, lease_id: int | None = None,
                 socket_path: str | os.PathLike[str] | None = None,
                 timeout: float | None = 30.0) -> tuple[LeaseInfo, ...]:
    """The lease named, or every lease of the caller's (root: of everyone's)
    that forwards ports, each with its forwards."""
    req = _lease_request("forward_list", ifname, lease_id, optional=True)
    body = _call(req, "leases", list, socket_path, timeout)
    out = []
    for i, o in enumerate(body["leases"]):
        if not isinstance(o, dict):
            raise InvalidReply("'leases[%d]' in the reply is not an object" % i)
        out.append(LeaseInfo.from_json(o, "leases[%d]" % i))
    return tuple(out)


def stop_network(name: str, *, force: bool = False,
                 socket_path: str | os.PathLike[str] | None = None,
                 timeout: float | None = 30.0) -> StopReply:
    """Remove running network @name now (root only). With leases it is
    refused (:class:`Conflict`, naming them) unless @force, which ends them."""
    check_network_name(name)
    req: dict[str, Any] = {"command": "stop", "network_name": name}
    if force:
        req["force"] = True
    return StopReply.from_json(_call(req, "network", dict, socket_path, timeout))
