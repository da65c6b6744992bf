"""python3 -m vmnet_broker: status, networks, acquire and wait-address from the command line.

Errors print the status code's name and the message and exit with 1;
usage errors exit with 2, as the C command line vmnet-broker does.
"""
from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Sequence
from typing import Any

from . import client
from .errors import BrokerError
from .model import LeaseInfo, PortKind
from .wire import DEFAULT_SOCKET, SOCKET_ENV

PROGRAM = "python3 -m vmnet_broker"


def _dash(v: Any) -> str:
    return "-" if v is None or v == "" else str(v)


def _table(rows: list[list[str]], indent: str = "") -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(indent + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()
                     for r in rows)


def _lease_row(le: LeaseInfo) -> list[str]:
    if le.hidden:
        return [le.kind, _dash(le.ifname), "(another user's)", "", "", "", ""]
    return [le.kind, _dash(le.ifname), _dash(le.mac), _dash(le.address), _dash(le.uid),
            _dash(le.pid), _dash(le.label)]


def cmd_status(a: argparse.Namespace) -> int:
    st = client.status(socket_path=a.socket, timeout=a.timeout)
    if a.json:
        print(json.dumps(st.raw, indent=2))
        return 0
    if not st.networks:
        print("No network is up.")
        return 0
    rows = [["NETWORK", "MODE", "BRIDGE", "SUBNET", "STATE"]]
    for n in st.networks:
        state = _dash(n.state)
        if n.state == "idle" and n.idle_remaining is not None:
            state = "idle (removal in %ds)" % n.idle_remaining
        rows.append([_dash(n.name), _dash(n.mode), _dash(n.bridge),
                     "%s/%s" % (_dash(n.subnet), _dash(n.mask)), state])
    lines = _table(rows).split("\n")
    print(lines[0])
    for n, line in zip(st.networks, lines[1:]):
        print(line)
        if n.leases:
            print(_table([["KIND", "IFNAME", "MAC", "ADDRESS", "UID", "PID", "LABEL"]]
                         + [_lease_row(le) for le in n.leases], "    "))
        for le in n.leases:
            for g in le.guests:
                print("        %s guest %s  %s  %s%s" % (
                    _dash(le.ifname), g.mac, ", ".join(g.ipv4) or "-",
                    ", ".join(g.ipv6) or "-", "  host '%s'" % g.hostname if g.hostname else ""))
            if le.names:
                print("        %s names %s" % (_dash(le.ifname), ", ".join(le.names)))
    return 0


def cmd_networks(a: argparse.Namespace) -> int:
    nets = client.networks(socket_path=a.socket, timeout=a.timeout)
    if a.json:
        print(json.dumps(nets.raw, indent=2))
        return 0
    rows = [["NETWORK", "MODE", "SOURCE", "STATE"]]
    for n in nets:
        state = "active" if n.active else "inactive"
        if n.pending_change:
            state += ", change pending"
        if n.errors:
            state = "invalid"
        rows.append([n.name, _dash(n.mode), _dash(n.source), state])
    lines = _table(rows).split("\n")
    print(lines[0])
    for n, line in zip(nets, lines[1:]):
        print(line)
        if n.description:
            print("    " + n.description)
        for e in n.errors:
            print("    error: %s%s" % (e.key + ": " if e.key else "", e.reason))
    return 0


def _forward(text: str) -> tuple[str, int, int]:
    try:
        proto, ext, internal = text.split(":")
        return proto, int(ext), int(internal)
    except ValueError:
        raise argparse.ArgumentTypeError("want PROTOCOL:HOST:GUEST, e.g. tcp:2222:22, not %r"
                                         % text) from None


def cmd_acquire(a: argparse.Namespace) -> int:
    netns: int | str | None = a.netns
    if a.netns_fd is not None:
        netns = a.netns_fd
    port = client.acquire(a.name, port=a.port, mac=a.mac, label=a.label, netns=netns,
                          ifname=a.ifname, vnet_hdr=a.vnet_hdr, multi_queue=a.queues,
                          port_forwards=a.forward, socket_path=a.socket, timeout=a.timeout)
    with port:
        if a.json:
            print(json.dumps(port.reply, indent=2), flush=True)
        else:
            words = ["network %s: port %s" % (port.network.name, port.kind.value)]
            if port.ifname:
                words.append(port.ifname)
            if port.mac:
                words.append("mac " + port.mac)
            if port.address:
                words.append("address " + port.address)
            print(" ".join(words), flush=True)
        if a.hold and port.kind != PortKind.NETNS:
            _hold()
    return 0


def cmd_wait_address(a: argparse.Namespace) -> int:
    by_ifname = len(a.port) < 16 and not any(c in a.port for c in " /:%")
    w = None
    if by_ifname:
        try:
            w = client.wait_address(ifname=a.port, network=a.network, wait=a.wait,
                                    socket_path=a.socket)
        except BrokerError as e:
            if e.status != 5:  # NOT_FOUND: maybe a label
                raise
    if w is None:
        w = client.wait_address(label=a.port, network=a.network, wait=a.wait,
                                socket_path=a.socket)
    print(json.dumps(w.raw, indent=2) if a.json else w.address)
    return 0


def _hold() -> None:
    """Until SIGINT or SIGTERM: the port's fds and connection stay open."""
    stop = [False]

    def on_signal(signum: int, frame: Any) -> None:
        stop[0] = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    while not stop[0]:
        signal.pause()


def _common(top: bool) -> argparse.ArgumentParser:
    # Before or after the command; a subcommand's default must not undo the
    # value given before it, hence SUPPRESS there.
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--socket", metavar="PATH", default=None if top else argparse.SUPPRESS,
                   help="the daemon's socket (default $%s, else %s)"
                   % (SOCKET_ENV, DEFAULT_SOCKET))
    p.add_argument("--timeout", type=float, metavar="SECONDS",
                   default=30.0 if top else argparse.SUPPRESS,
                   help="give up waiting for the daemon after this long (default 30)")
    return p


def parser() -> argparse.ArgumentParser:
    common = _common(False)
    p = argparse.ArgumentParser(
        prog=PROGRAM, parents=[_common(True)],
        description="Client of vmnet-brokerd, the daemon that shares virtual networks "
        "between VM tools.",
        epilog="Errors print the status code's name and a message, and exit with 1; "
        "usage errors exit with 2.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    s = sub.add_parser("status", parents=[common], help="the networks that are up and their leases")
    s.add_argument("--json", action="store_true", help="print the daemon's reply as JSON")
    s.set_defaults(func=cmd_status)
    s = sub.add_parser("networks", parents=[common],
                       help="every network the daemon can create, with config errors")
    s.add_argument("--json", action="store_true", help="print the daemon's reply as JSON")
    s.set_defaults(func=cmd_networks)
    s = sub.add_parser("acquire", parents=[common], help="acquire a port on network NAME",
                       epilog="Without --hold the command exits after printing: a tap lease "
                       "ends then, as the TAP closes, and so do named_tap and none leases, as "
                       "the connection closes. A netns lease lasts as long as the namespace.")
    s.add_argument("name", metavar="NAME")
    s.add_argument("--port", choices=[k.value for k in PortKind],
                   help="tap (default), netns, named_tap or none")
    s.add_argument("--mac", help="the port's MAC address, e.g. 52:54:00:12:34:56")
    s.add_argument("--label", help="free text shown in status and the interface alias")
    s.add_argument("--ifname", help="for netns: the interface name inside it (default eth0)")
    ns = s.add_mutually_exclusive_group()
    ns.add_argument("--netns", metavar="PATH", help="put a veth end into this namespace "
                    "(/run/netns/NAME, /proc/PID/ns/net); implies --port netns")
    ns.add_argument("--netns-fd", type=int, metavar="FD",
                    help="the same, for a namespace fd this command inherited")
    s.add_argument("--vnet-hdr", action="store_true", help="for tap: IFF_VNET_HDR")
    s.add_argument("--queues", type=int, metavar="N",
                   help="for tap: N queues, one fd each (IFF_MULTI_QUEUE above 1)")
    s.add_argument("--forward", type=_forward, action="append", default=[],
                   metavar="P:HOST:GUEST", help="forward host port HOST (tcp or udp) to port "
                   "GUEST of this port's address while the lease lives; repeat for more")
    s.add_argument("--json", action="store_true", help="print the daemon's reply as JSON")
    s.add_argument("--hold", action="store_true",
                   help="keep the connection and any TAP open until SIGINT or SIGTERM")
    s.set_defaults(func=cmd_acquire)
    s = sub.add_parser("wait-address", parents=[common],
                       help="wait until the guest behind a port has an IPv4 address",
                       epilog="The port is named by its interface on the host (IFNAME, as "
                       "status shows it) or by its label (one of your own ports).")
    s.add_argument("port", metavar="LABEL|IFNAME")
    s.add_argument("--wait", type=int, metavar="SECONDS", default=60,
                   help="how long the daemon waits (0-3600, default 60; 0: ask once)")
    s.add_argument("--network", metavar="NAME", help="only that network's ports")
    s.add_argument("--json", action="store_true", help="print the daemon's reply as JSON")
    s.set_defaults(func=cmd_wait_address)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    a = parser().parse_args(argv)
    try:
        return int(a.func(a))
    except BrokerError as e:
        print("%s: %s: %s" % (PROGRAM, e.status_name, e.message), file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 1
