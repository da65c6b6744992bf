"""vmnet_broker - client of vmnet-brokerd, the daemon that shares virtual networks between VM tools.

A VM tool asks the broker for a network by name (``shared``, ``host``, or
one configured in ``/etc/vmnet-broker.d``) and gets back a port on it: by
default a TAP fd attached to the network's bridge::

    import subprocess
    import vmnet_broker

    with vmnet_broker.acquire("shared", mac="52:54:00:12:34:56") as port:
        print(port.network.subnet, port.address)
        fd = port.fd
        subprocess.run(["qemu-system-x86_64", "-netdev", "tap,id=n0,fd=%d" % fd,
                        "-device", "virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56", ...],
                       pass_fds=[fd])

Failures raise a :class:`BrokerError` subclass named after the status code
(:class:`NotFound`, :class:`NotAllowed`, ...), the same codes as the C
library and the macOS broker. The socket is ``$VMNET_BROKER_SOCKET`` or
``/run/vmnet-broker/broker.sock``. :func:`release`, :func:`forward_add`,
:func:`forward_remove` and :func:`forward_list` act on a lease that lives
(its owner's or root's), :func:`stop_network` removes a running network
(root), :func:`wait_address` waits until the guest behind a port has an
IPv4 address. ``python3 -m vmnet_broker`` is a small command line:
``status``, ``networks``, ``acquire``, ``wait-address``.
Standard library only; protocol version 1 (docs/protocol.md).
"""
from .client import (Port, acquire, check_network_name, forward_add, forward_list, forward_remove,
                     networks, release, status, stop_network, wait_address)
from .errors import (BrokerError, Conflict, ConnectionClosed, ConnectionFailure, CreateFailure,
                     InternalError, InvalidReply, InvalidRequest, LimitExceeded, NotAllowed,
                     NotFound, Status, Timeout, error_for, status_name, status_text)
from .model import (ConfigError, DNSStatus, FirewalldStatus, GuestInfo, HostEvent, HostStatus,
                    IPTablesStatus, LeaseInfo, NetworkEntry, NetworkInfo, NetworksReply,
                    NetworkStatus, NFTablesStatus, NFTChain, PerFamily, PortForward, PortInfo,
                    PortKind, Span, SpanFrr, SpanPeer, StatusReply, StopReply, WaitReply)
from .wire import (DEFAULT_SOCKET, FDS_MAX, MESSAGE_MAX, REPLY_MAX, SOCKET_ENV, Connection,
                   Message, socket_path)

__version__ = "0.1.0"
PROTOCOL_VERSION = 1

__all__ = [
    "acquire", "status", "networks", "wait_address", "Port", "check_network_name", "release",
    "forward_add", "forward_remove", "forward_list", "stop_network", "StopReply",
    "Status", "status_name", "status_text", "error_for",
    "BrokerError", "ConnectionFailure", "ConnectionClosed", "InvalidReply", "NotAllowed",
    "InvalidRequest", "NotFound", "CreateFailure", "InternalError", "LimitExceeded", "Conflict",
    "Timeout", "PortKind", "PortForward", "NetworkInfo", "PortInfo", "GuestInfo", "LeaseInfo",
    "NetworkStatus", "StatusReply", "NetworkEntry", "NetworksReply", "ConfigError", "WaitReply",
    "HostStatus", "PerFamily", "HostEvent", "NFTablesStatus", "IPTablesStatus", "FirewalldStatus",
    "NFTChain", "DNSStatus",
    "Span", "SpanPeer", "SpanFrr",
    "Connection", "Message", "socket_path", "DEFAULT_SOCKET", "SOCKET_ENV", "MESSAGE_MAX",
    "REPLY_MAX", "FDS_MAX", "PROTOCOL_VERSION",
]
