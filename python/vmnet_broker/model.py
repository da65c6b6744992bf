"""Typed values of the daemon's replies.

Every reply is checked as it is decoded: a member of the wrong type is an
:class:`~vmnet_broker.errors.InvalidReply`. Members a reply leaves out are
None (the daemon leaves ``address`` out when a network has no DHCP, and a
hidden lease has no ``mac``), and members this version does not know are
ignored, so a newer daemon's additions break nothing; ``raw`` keeps the
reply's JSON as it came. ``to_json()`` gives the members back, without
the ones that were left out.
"""
from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from typing import Any, TypeVar

from .errors import InvalidReply

__all__ = ["PortKind", "PortForward", "NetworkInfo", "PortInfo", "GuestInfo", "LeaseInfo",
           "NetworkStatus", "StatusReply", "ConfigError", "NetworkEntry", "NetworksReply",
           "StopReply", "WaitReply", "HostStatus", "PerFamily", "HostEvent", "NFTablesStatus",
           "IPTablesStatus", "FirewalldStatus", "NFTChain", "DNSStatus"]


class PortKind(str, enum.Enum):
    """What an acquire gives the client."""

    TAP = "tap"              # a TAP fd (one per queue) attached to the bridge
    NETNS = "netns"          # a veth end put into the client's network namespace
    NAMED_TAP = "named_tap"  # a persistent TAP owned by the client's uid, by name
    NONE = "none"            # no port: only a hold on the network

    def __str__(self) -> str:
        return self.value


_T = TypeVar("_T")


def _where(path: str, key: str) -> str:
    return "%s.%s" % (path, key) if path else key


def _get(obj: Mapping[str, Any], key: str, kind: type, path: str) -> Any:
    """@obj[@key] checked to be a @kind, None when absent."""
    v = obj.get(key)
    if v is None:
        if key in obj:
            raise InvalidReply("'%s' in the reply is null" % _where(path, key))
        return None
    if kind is int:
        ok = isinstance(v, int) and not isinstance(v, bool)
    else:
        ok = isinstance(v, kind)
    if not ok:
        raise InvalidReply("'%s' in the reply is not %s" % (
            _where(path, key), {str: "a string", int: "an integer", bool: "true or false",
                                list: "an array", dict: "an object"}[kind]))
    return v


def _need(obj: Mapping[str, Any], key: str, kind: type, path: str) -> Any:
    v = _get(obj, key, kind, path)
    if v is None:
        raise InvalidReply("the reply has no '%s'" % _where(path, key))
    return v


def _object(v: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(v, dict):
        raise InvalidReply("'%s' in the reply is not an object" % path)
    return v


def _strings(obj: Mapping[str, Any], key: str, path: str) -> tuple[str, ...]:
    items = _get(obj, key, list, path) or []
    for i, x in enumerate(items):
        if not isinstance(x, str):
            raise InvalidReply("'%s[%d]' in the reply is not a string" % (_where(path, key), i))
    return tuple(items)


def _list(obj: Mapping[str, Any], key: str, path: str, parse: Any) -> tuple[Any, ...]:
    items = _get(obj, key, list, path) or []
    return tuple(parse(_object(x, "%s[%d]" % (_where(path, key), i)),
                       "%s[%d]" % (_where(path, key), i)) for i, x in enumerate(items))


def _to_json(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        out = {}
        for f in dataclasses.fields(value):
            if f.name == "raw" or not f.metadata.get("json", True):
                continue
            v = getattr(value, f.name)
            if v is None or (f.metadata.get("omit_empty") and not v):
                continue
            out[f.name] = _to_json(v)
        return out
    if isinstance(value, (list, tuple)):
        return [_to_json(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    return value


class _Value:
    def to_json(self) -> dict[str, Any]:
        """The members, as the daemon sent them, minus those it left out."""
        out = _to_json(self)
        assert isinstance(out, dict)
        return out


def _raw() -> Any:
    return dataclasses.field(default_factory=dict, repr=False, compare=False,
                             metadata={"json": False})


def _many() -> Any:
    return dataclasses.field(default=(), metadata={"omit_empty": True})


@dataclasses.dataclass(frozen=True, kw_only=True)
class PortForward(_Value):
    """A host port forwarded to a port's address while its lease lives."""

    protocol: str  # "tcp" or "udp"
    external_port: int
    internal_port: int
    #: In replies: the port's own address. Not sent in requests.
    internal_address: str | None = None
    #: In replies: the guest's SLAAC address (EUI-64 of its MAC) the IPv6
    #: forward goes to; None where the network advertises no /64.
    internal_address6: str | None = None
    #: In status: a service of the host listens on external_port, so outside
    #: traffic for it reaches the guest, not the service (root forwarded it
    #: anyway, or the service came later).
    host_listener: bool = dataclasses.field(default=False, metadata={"omit_empty": True})

    @classmethod
    def from_json(cls, o: Mapping[str, Any], path: str = "port_forwards") -> PortForward:
        return cls(protocol=_need(o, "protocol", str, path),
                   external_port=_need(o, "external_port", int, path),
                   internal_port=_need(o, "internal_port", int, path),
                   internal_address=_get(o, "internal_address", str, path),
                   internal_address6=_get(o, "internal_address6", str, path),
                   host_listener=_get(o, "host_listener", bool, path) or False)

    def request_json(self) -> dict[str, Any]:
        return {"protocol": self.protocol, "external_port": self.external_port,
                "internal_port": self.internal_port}


def _network_members(o: Mapping[str, Any], path: str) -> dict[str, Any]:
    return {"name": _get(o, "name", str, path), "mode": _get(o, "mode", str, path),
            "bridge": _get(o, "bridge", str, path), "subnet": _get(o, "subnet", str, path),
            "mask": _get(o, "mask", str, path), "ipv6_prefix": _get(o, "ipv6_prefix", str, path),
            "prefix_len": _get(o, "prefix_len", int, path), "mtu": _get(o, "mtu", int, path),
            "description": _get(o, "description", str, path),
            "domain": _get(o, "domain", str, path)}


@dataclasses.dataclass(frozen=True, kw_only=True)
class NetworkInfo(_Value):
    """A running network: what an acquire reply says about it."""

    name: str | None = None
    mode: str | None = None         # "shared" or "host"
    bridge: str | None = None       # the kernel bridge, e.g. "vmbr0"
    subnet: str | None = None       # the gateway (host) address
    mask: str | None = None
    ipv6_prefix: str | None = None
    prefix_len: int | None = None
    mtu: int | None = None
    description: str | None = None  # the network file's, when it has one
    domain: str | None = None       # its guests' names are NAME.domain; None: it serves none
    raw: dict[str, Any] = _raw()

    @classmethod
    def from_json(cls, o: Mapping[str, Any], path: str = "network") -> NetworkInfo:
        return cls(**_network_members(o, path), raw=dict(o))


@dataclasses.dataclass(frozen=True, kw_only=True)
class PortInfo(_Value):
    """The port an acquire made."""

    kind: PortKind
    ifname: str | None = None   # the TAP, the veth's host end, or the named TAP
    mac: str | None = None
    address: str | None = None  # reserved for the MAC in DHCP; None without DHCP
    port_forwards: tuple[PortForward, ...] = _many()
    lease_id: int | None = None  # for release() and the forward_*() calls
    persistent: bool | None = None  # True: the lease outlives its connection
    raw: dict[str, Any] = _raw()

    @classmethod
    def from_json(cls, o: Mapping[str, Any], path: str = "network.port") -> PortInfo:
        kind = _need(o, "kind", str, path)
        try:
            k = PortKind(kind)
        except ValueError:
            raise InvalidReply("'%s.kind' in the reply is '%s', not a port kind"
                               % (path, kind)) from None
        return cls(kind=k, ifname=_get(o, "ifname", str, path), mac=_get(o, "mac", str, path),
                   address=_get(o, "address", str, path),
                   port_forwards=_list(o, "port_forwards", path, PortForward.from_json),
                   lease_id=_get(o, "lease_id", int, path),
                   persistent=_get(o, "persistent", bool, path), raw=dict(o))


@dataclasses.dataclass(frozen=True, kw_only=True)
class GuestInfo(_Value):
    """A MAC seen behind a port, whatever it is (the VM with the port's MAC or
    its own, a container or VM inside it), and the addresses it uses, as
    ``virsh domifaddr`` shows them."""

    mac: str
    on_bridge: bool = False          # the bridge has it now; False: quiet a while
    ipv4: tuple[str, ...] = ()       # its DHCP lease first, then the neighbour table's
    ipv6: tuple[str, ...] = ()       # the neighbour table's (SLAAC)
    hostname: str | None = None      # the host name it sent in DHCP
    raw: dict[str, Any] = _raw()

    @classmethod
    def from_json(cls, o: Mapping[str, Any], path: str = "guests") -> GuestInfo:
        return cls(mac=_need(o, "mac", str, path), on_bridge=_need(o, "on_bridge", bool, path),
                   ipv4=_strings(o, "ipv4", path), ipv6=_strings(o, "ipv6", path),
                   hostname=_get(o, "hostname", str, path), raw=dict(o))


@dataclasses.dataclass(frozen=True, kw_only=True)
class LeaseInfo(_Value):
    """One lease in ``status`` (and the lease :func:`release` and the
    ``forward_*()`` calls answer with, which names its ``network_name``).
    Another user's lease, seen by a non-root caller, is ``hidden``: only
    its kind and interface are shown."""

    kind: str
    ifname: str | None = None
    mac: str | None = None
    address: str | None = None
    port_forwards: tuple[PortForward, ...] = _many()
    lease_id: int | None = None
    persistent: bool | None = None
    uid: int | None = None
    pid: int | None = None
    label: str | None = None
    hidden: bool | None = None
    network_name: str | None = None
    guests: tuple[GuestInfo, ...] = _many()  # what is behind the port
    names: tuple[str, ...] = _many()         # its guests' DNS names, NAME.DOMAIN
    raw: dict[str, Any] = _raw()

    @classmethod
    def from_json(cls, o: Mapping[str, Any], path: str = "leases") -> LeaseInfo:
        return cls(kind=_need(o, "kind", str, path), ifname=_get(o, "ifname", str, path),
                   mac=_get(o, "mac", str, path), address=_get(o, "address", str, path),
                   port_forwards=_list(o, "port_forwards", path, PortForward.from_json),
                   lease_id=_get(o, "lease_id", int, path),
                   persistent=_get(o, "persistent", bool, path),
                   uid=_get(o, "uid", int, path), pid=_get(o, "pid", int, path),
                   label=_get(o, "label", str, path), hidden=_get(o, "hidden", bool, path),
                   network_name=_get(o, "network_name", str, path),
                   guests=_list(o, "guests", path, GuestInfo.from_json),
                   names=_strings(o, "names", path), raw=dict(o))


@dataclasses.dataclass(frozen=True, kw_only=True)
class SpanPeer(_Value):
    """Another host of a span, as this host sees it."""

    address: str  # its underlay address
    #: "configured" (static), or for EVPN the BGP session's state as FRR
    #: names it, lower case ("established", "active", "connect", "idle", ...),
    #: "unknown" before FRR answered, "via-reflector" for a host not peered with.
    state: str
    uptime: str | None = None    # EVPN: how long the session is up, FRR's words
    prefixes: int | None = None  # EVPN: routes received from it
    vtep: bool | None = None     # EVPN: FRR floods to it for this VNI
    raw: dict[str, Any] = _raw()

    @classmethod
    def from_json(cls, o: Mapping[str, Any], path: str = "span.peers") -> SpanPeer:
        return cls(address=_need(o, "address", str, path), state=_need(o, "state", str, path),
                   uptime=_get(o, "uptime", str, path), prefixes=_get(o, "prefixes", int, path),
                   vtep=_get(o, "vtep", bool, path), raw=dict(o))


@dataclasses.dataclass(frozen=True, kw_only=True)
class SpanFrr(_Value):
    """The state of the broker's part of FRR, for an EVPN span."""

    state: str                   # "pending", "configured", "unreachable" or "refused"
    message: str | None = None   # why, for a person
    raw: dict[str, Any] = _raw()

    @classmethod
    def from_json(cls, o: Mapping[str, Any], path: str = "span.frr") -> SpanFrr:
        return cls(state=_need(o, "state", str, path), message=_get(o, "message", str, path),
                   raw=dict(o))


@dataclasses.dataclass(frozen=True, kw_only=True)
class Span(_Value):
    """This host's side of a network that spans hosts."""

    vni: int
    control: str           # "static" or "evpn"
    vxlan: str             # the VXLAN device on the bridge
    local: str             # this host's underlay address
    port: int              # UDP port of the underlay
    slice: str | None = None  # the part of the subnet this host hands out
    #: where this host answers the other hosts for its guests' names, and
    #: the dnsmasq answering there (0 while it is being restarted)
    names_address: str | None = None
    names_pid: int | None = None
    peers: tuple[SpanPeer, ...] = ()
    frr: SpanFrr | None = None
    raw: dict[str, Any] = _raw()

    @classmethod
    def from_json(cls, o: Mapping[str, Any], path: str = "span") -> Span:
        frr = _get(o, "frr", dict, path)
        return cls(vni=_need(o, "vni", int, path), control=_need(o, "control", str, path),
                   vxlan=_need(o, "vxlan", str, path), local=_need(o, "local", str, path),
                   port=_need(o, "port", int, path), slice=_get(o, "slice", str, path),
                   names_address=_get(o, "names_address", str, path),
                   names_pid=_get(o, "names_pid", int, path),
                   peers=_list(o, "peers", path, SpanPeer.from_json),
                   frr=SpanFrr.from_json(frr, path + ".frr") if frr is not None else None,
                   raw=dict(o))


@dataclasses.dataclass(frozen=True, kw_only=True)
class NetworkStatus(NetworkInfo):
    """A running network in ``status``, with its leases."""

    state: str | None = None           # "active", or "idle": no lease, removal pending
    idle_remaining: int | None = None  # seconds until an idle network is removed
    dnsmasq_pid: int | None = None
    leases: tuple[LeaseInfo, ...] = ()
    span: Span | None = None           # when the network spans hosts

    @classmethod
    def from_json(cls, o: Mapping[str, Any], path: str = "networks") -> NetworkStatus:
        span = _get(o, "span", dict, path)
        return cls(**_network_members(o, path), state=_get(o, "state", str, path),
                   idle_remaining=_get(o, "idle_remaining", int, path),
                   dnsmasq_pid=_get(o, "dnsmasq_pid", int, path),
                   leases=_list(o, "leases", path, LeaseInfo.from_json),
                   span=Span.from_json(span, _where(path, "span")) if span is not None else None,
                   raw=dict(o))


def _sub(obj: Mapping[str, Any], key: str, path: str, parse: Any) -> Any:
    v = _get(obj, key, dict, path)
    return None if v is None else parse(v, _where(path, key))


@dataclasses.dataclass(frozen=True, kw_only=True)
class PerFamily(_Value):
    """A setting for IPv4 and IPv6; None where the host has none."""

    ipv4: bool | None = None
    ipv6: bool | None = None

    @classmethod
    def from_json(cls, o: Mapping[str, Any], path: str) -> PerFamily:
        return cls(ipv4=_get(o, "ipv4", bool, path), ipv6=_get(o, "ipv6", bool, path))


@dataclasses.dataclass(frozen=True, kw_only=True)
class HostEvent(_Value):
    """One thing the daemon did about the host's firewall: when (UTC, RFC 3339), why, what."""

    time: str
    cause: str
    what: str | None = None
    duration_ms: int | None = None

    @classmethod
    def from_json(cls, o: Mapping[str, Any], path: str) -> HostEvent:
        return cls(time=_need(o, "time", str, path), cause=_need(o, "cause", str, path),
                   what=_get(o, "what", str, path), duration_ms=_get(o, "duration_ms", int, path))


@dataclasses.dataclass(frozen=True, kw_only=True)
class NFTablesStatus(_Value):
    """The broker's table inet vmnet_broker."""

    table: bool          # it exists
    restores: int        # times restored after someone else changed it
    backoff: int         # seconds a pending restore waits; 0 when none
    last_restore: HostEvent | None = None

    @classmethod
    def from_json(cls, o: Mapping[str, Any], path: str) -> NFTablesStatus:
        return cls(table=_need(o, "table", bool, path), restores=_need(o, "restores", int, path),
                   backoff=_need(o, "backoff", int, path),
                   last_restore=_sub(o, "last_restore", path, HostEvent.from_json))


@dataclasses.dataclass(frozen=True, kw_only=True)
class IPTablesStatus(_Value):
    """One iptables backend ("nft", "legacy") and family ("ipv4", "ipv6"), and the
    broker's accept rules in it."""

    backend: str
    family: str
    forward_policy: str | None = None  # "accept" or "drop"
    input_policy: str | None = None
    jump_from: str | None = None       # "DOCKER-USER" or "FORWARD"; None when not needed
    input_jump: bool = False
    in_place: bool = False
    error: str | None = None
    last_fix: HostEvent | None = None

    @classmethod
    def from_json(cls, o: Mapping[str, Any], path: str = "host.iptables") -> IPTablesStatus:
        return cls(backend=_need(o, "backend", str, path), family=_need(o, "family", str, path),
                   forward_policy=_get(o, "forward_policy", str, path),
                   input_policy=_get(o, "input_policy", str, path),
                   jump_from=_get(o, "jump_from", str, path),
                   input_jump=_need(o, "input_jump", bool, path),
                   in_place=_need(o, "in_place", bool, path), error=_get(o, "error", str, path),
                   last_fix=_sub(o, "last_fix", path, HostEvent.from_json))


@dataclasses.dataclass(frozen=True, kw_only=True)
class FirewalldStatus(_Value):
    """firewalld, and the broker's zone in it."""

    running: bool
    zone: str
    zone_present: bool
    interfaces: tuple[str, ...] = ()   # bridges firewalld confirmed in the zone
    last_apply: HostEvent | None = None
    error: str | None = None

    @classmethod
    def from_json(cls, o: Mapping[str, Any], path: str) -> FirewalldStatus:
        return cls(running=_need(o, "running", bool, path), zone=_need(o, "zone", str, path),
                   zone_present=_need(o, "zone_present", bool, path),
                   interfaces=_strings(o, "interfaces", path),
                   last_apply=_sub(o, "last_apply", path, HostEvent.from_json),
                   error=_get(o, "error", str, path))


@dataclasses.dataclass(frozen=True, kw_only=True)
class NFTChain(_Value):
    """A base chain of another nftables table."""

    family: str
    table: str
    chain: str
    hook: str  # "forward" or "input"

    @classmethod
    def from_json(cls, o: Mapping[str, Any], path: str = "host.foreign_drop_chains") -> NFTChain:
        return cls(family=_need(o, "family", str, path), table=_need(o, "table", str, path),
                   chain=_need(o, "chain", str, path), hook=_need(o, "hook", str, path))


@dataclasses.dataclass(frozen=True, kw_only=True)
class DNSStatus(_Value):
    """Whether a DNS server of the host holds port 53 of every address, and which
    networks' dnsmasq listen on ``alternate_port`` instead."""

    wildcard_listener: bool
    alternate_port: int
    networks: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, o: Mapping[str, Any], path: str) -> DNSStatus:
        return cls(wildcard_listener=_need(o, "wildcard_listener", bool, path),
                   alternate_port=_need(o, "alternate_port", int, path),
                   networks=_strings(o, "networks", path))


@dataclasses.dataclass(frozen=True, kw_only=True)
class HostStatus(_Value):
    """What the daemon found of the host's other firewalls and what it did about
    them: its table restored after someone removed it, accept rules kept in
    iptables where Docker, ufw or a policy would drop guests' traffic, the
    bridges in firewalld's zone, a DNS server of the host on port 53."""

    forwarding: PerFamily
    nftables: NFTablesStatus
    firewalld: FirewalldStatus
    dns: DNSStatus
    br_netfilter: PerFamily | None = None  # None when the module is not loaded
    iptables: tuple[IPTablesStatus, ...] = ()
    foreign_drop_chains: tuple[NFTChain, ...] = ()
    detected: tuple[str, ...] = ()         # "docker", "ufw", "firewalld"
    raw: dict[str, Any] = _raw()

    @classmethod
    def from_json(cls, o: Mapping[str, Any], path: str = "host") -> HostStatus:
        def need_obj(key: str) -> Mapping[str, Any]:
            return _need(o, key, dict, path)
        return cls(forwarding=PerFamily.from_json(need_obj("forwarding"), path + ".forwarding"),
                   nftables=NFTablesStatus.from_json(need_obj("nftables"), path + ".nftables"),
                   firewalld=FirewalldStatus.from_json(need_obj("firewalld"),
                                                       path + ".firewalld"),
                   dns=DNSStatus.from_json(need_obj("dns"), path + ".dns"),
                   br_netfilter=_sub(o, "br_netfilter", path, PerFamily.from_json),
                   iptables=_list(o, "iptables", path, IPTablesStatus.from_json),
                   foreign_drop_chains=_list(o, "foreign_drop_chains", path, NFTChain.from_json),
                   detected=_strings(o, "detected", path), raw=dict(o))


@dataclasses.dataclass(frozen=True, kw_only=True)
class StatusReply(_Value):
    """The reply of ``status``: every running network and its leases, and what
    the daemon found of the host's firewalls (None from a daemon before it)."""

    version: int | None = None
    networks: tuple[NetworkStatus, ...] = ()
    host: HostStatus | None = None
    raw: dict[str, Any] = _raw()

    @classmethod
    def from_json(cls, o: Mapping[str, Any]) -> StatusReply:
        _need(o, "networks", list, "")
        return cls(version=_get(o, "version", int, ""),
                   networks=_list(o, "networks", "", NetworkStatus.from_json),
                   host=_sub(o, "host", "", HostStatus.from_json), raw=dict(o))

    def network(self, name: str) -> NetworkStatus | None:
        """The running network @name, or None."""
        for n in self.networks:
            if n.name == name:
                return n
        return None


@dataclasses.dataclass(frozen=True, kw_only=True)
class ConfigError(_Value):
    """A problem of a network file; ``key`` is "" for the file as a whole."""

    file: str
    key: str
    reason: str

    @classmethod
    def from_json(cls, o: Mapping[str, Any], path: str = "errors") -> ConfigError:
        return cls(file=_need(o, "file", str, path), key=_need(o, "key", str, path),
                   reason=_need(o, "reason", str, path))


@dataclasses.dataclass(frozen=True, kw_only=True)
class NetworkEntry(_Value):
    """A network the daemon knows how to create, from ``networks``."""

    name: str
    source: str | None = None        # "builtin", or the file's path
    mode: str | None = None          # None when a broken file does not say
    description: str | None = None
    cidr: str | None = None          # "192.168.64.0/24": running, or the file's; None: from the pool
    ipv6_cidr: str | None = None     # the same for the IPv6 prefix
    persistent: bool | None = None   # created at start, never removed for idleness
    active: bool | None = None       # it runs now
    pending_change: bool | None = None  # it runs, and its file changed since
    errors: tuple[ConfigError, ...] = ()
    raw: dict[str, Any] = _raw()

    @classmethod
    def from_json(cls, o: Mapping[str, Any], path: str = "networks") -> NetworkEntry:
        return cls(name=_need(o, "name", str, path), source=_get(o, "source", str, path),
                   mode=_get(o, "mode", str, path),
                   description=_get(o, "description", str, path),
                   cidr=_get(o, "cidr", str, path), ipv6_cidr=_get(o, "ipv6_cidr", str, path),
                   persistent=_get(o, "persistent", bool, path),
                   active=_get(o, "active", bool, path),
                   pending_change=_get(o, "pending_change", bool, path),
                   errors=_list(o, "errors", path, ConfigError.from_json), raw=dict(o))

    @property
    def valid(self) -> bool:
        """Whether it can be acquired (its file has no errors)."""
        return not self.errors


@dataclasses.dataclass(frozen=True, kw_only=True)
class NetworksReply(_Value):
    """The reply of ``networks``: built-ins, then files in name order, then
    running networks whose file is gone."""

    networks: tuple[NetworkEntry, ...] = ()
    raw: dict[str, Any] = _raw()

    @classmethod
    def from_json(cls, o: Mapping[str, Any]) -> NetworksReply:
        _need(o, "networks", list, "")
        return cls(networks=_list(o, "networks", "", NetworkEntry.from_json), raw=dict(o))

    def __iter__(self) -> Any:
        return iter(self.networks)

    def __len__(self) -> int:
        return len(self.networks)

    def get(self, name: str) -> NetworkEntry | None:
        for n in self.networks:
            if n.name == name:
                return n
        return None


@dataclasses.dataclass(frozen=True, kw_only=True)
class StopReply(_Value):
    """The reply of ``stop``: the network as it ran, and the leases that ended with it."""

    network: NetworkInfo
    ended_leases: tuple[LeaseInfo, ...] = ()
    raw: dict[str, Any] = _raw()

    @classmethod
    def from_json(cls, o: Mapping[str, Any]) -> StopReply:
        return cls(network=NetworkInfo.from_json(_object(_need(o, "network", dict, ""), "network")),
                   ended_leases=_list(o, "ended_leases", "", LeaseInfo.from_json), raw=dict(o))


@dataclasses.dataclass(frozen=True, kw_only=True)
class WaitReply(_Value):
    """The reply of ``wait_address``: the address the guest behind the port
    uses, and the lease as ``status`` shows it."""

    address: str
    network_name: str
    lease: LeaseInfo
    raw: dict[str, Any] = _raw()

    @classmethod
    def from_json(cls, o: Mapping[str, Any]) -> WaitReply:
        return cls(address=_need(o, "address", str, ""),
                   network_name=_need(o, "network_name", str, ""),
                   lease=LeaseInfo.from_json(_object(_need(o, "lease", dict, ""), "lease"),
                                             "lease"),
                   raw=dict(o))
