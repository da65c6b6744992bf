"""The transport of protocol version 1: messages and fds over the daemon's socket.

One ``SOCK_SEQPACKET`` unix socket; each message is one JSON object, file
descriptors ride on the message they belong to as ``SCM_RIGHTS``, one
reply per request, in order, and a connection carries many requests.
Requests are at most :data:`MESSAGE_MAX` bytes; replies may be longer (a
``status`` of hundreds of leases), up to :data:`REPLY_MAX`, so the reply's
size is learnt before reading it.

:class:`Connection` is the low level the rest of the package is built on;
it also sends any bytes, for tests of the daemon.
"""
from __future__ import annotations

import array
import errno
import json
import os
import pwd
import socket
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from .errors import ConnectionClosed, ConnectionFailure, InvalidReply, InvalidRequest

__all__ = ["DEFAULT_SOCKET", "SOCKET_ENV", "MESSAGE_MAX", "REPLY_MAX", "FDS_MAX",
           "socket_path", "Message", "Connection"]

DEFAULT_SOCKET = "/run/vmnet-broker/broker.sock"
#: The environment variable that names another socket.
SOCKET_ENV = "VMNET_BROKER_SOCKET"
#: Bytes of JSON in one request.
MESSAGE_MAX = 64 * 1024
#: Bytes of one reply.
REPLY_MAX = 16 * 1024 * 1024
#: File descriptors on one message.
FDS_MAX = 16

_INT_SIZE = array.array("i").itemsize


def socket_path(path: str | os.PathLike[str] | None = None) -> str:
    """@path, else ``$VMNET_BROKER_SOCKET`` when set and not empty, else the default."""
    if path is not None:
        return os.fspath(path)
    return os.environ.get(SOCKET_ENV) or DEFAULT_SOCKET


class Message(NamedTuple):
    """One received message: its decoded JSON and the fds that rode on it.

    The fds are the receiver's to close.
    """

    body: Any
    fds: list[int]


#: Who may connect to the packaged daemon's socket, besides root.
GROUP = "vmnet-broker"


def _connect_failure(path: str, e: OSError) -> str:
    """Why connecting failed, and what the user can do about it (as the C library says it)."""
    what = "connect %s: %s" % (path, e.strerror or e)
    if e.errno in (errno.EACCES, errno.EPERM):
        try:
            user = pwd.getpwuid(os.getuid()).pw_name
        except KeyError:
            user = "USER"
        return ("%s: only root and the members of group '%s' may use the broker; to join it: "
                "sudo usermod -aG %s %s, then log in again (or run: newgrp %s)"
                % (what, GROUP, GROUP, user, GROUP))
    if e.errno in (errno.ENOENT, errno.ECONNREFUSED):
        return ("%s: the vmnet-broker daemon is not running; start it with: sudo systemctl "
                "start vmnet-brokerd.socket (it then starts on the first connection), or run "
                "vmnet-brokerd" % what)
    return what


def _close_all(fds: Sequence[int]) -> None:
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


class Connection:
    """A connection to the daemon; close it (or use ``with``) when done.

    Closing the connection ends the ``none`` and ``named_tap`` leases
    acquired on it. @timeout (seconds) bounds connecting and each send and
    receive; None waits for ever.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None,
                 timeout: float | None = None) -> None:
        self.path = socket_path(path)
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
        try:
            self._sock.settimeout(timeout)
            self._sock.connect(self.path)
        except socket.timeout:
            self._sock.close()
            raise ConnectionFailure("connect %s: timed out" % self.path) from None
        except OSError as e:
            self._sock.close()
            raise ConnectionFailure(_connect_failure(self.path, e)) from None

    @property
    def socket(self) -> socket.socket:
        """The underlying socket (for tests that misbehave on purpose)."""
        return self._sock

    def fileno(self) -> int:
        return self._sock.fileno()

    def settimeout(self, timeout: float | None) -> None:
        self._sock.settimeout(timeout)

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @staticmethod
    def encode(message: Mapping[str, Any] | bytes | bytearray | str) -> bytes:
        """The bytes of @message: a mapping as compact JSON, bytes as they are."""
        if isinstance(message, (bytes, bytearray)):
            return bytes(message)
        if isinstance(message, str):
            return message.encode()
        return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()

    def send(self, message: Mapping[str, Any] | bytes | bytearray | str,
             fds: Sequence[int] = ()) -> None:
        """Send one message, with @fds (borrowed, not closed) as SCM_RIGHTS."""
        data = self.encode(message)
        try:
            if fds:
                anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds).tobytes())]
                self._sock.sendmsg([data], anc, socket.MSG_NOSIGNAL)
            else:
                self._sock.sendmsg([data], [], socket.MSG_NOSIGNAL)
        except socket.timeout:
            raise ConnectionFailure("send request: timed out") from None
        except OSError as e:
            if e.errno == errno.EMSGSIZE:  # larger than the socket takes
                raise InvalidRequest("request of %d bytes is too large: %s"
                                     % (len(data), e.strerror)) from None
            raise ConnectionFailure("send request: %s" % (e.strerror or e)) from None

    def _reply_size(self) -> int:
        # MSG_PEEK|MSG_TRUNC returns a SEQPACKET message's real length,
        # whatever the buffer: the reply may be longer than MESSAGE_MAX.
        probe = bytearray(1)
        n = self._sock.recv_into(probe, 1, socket.MSG_PEEK | socket.MSG_TRUNC)
        return min(max(n, MESSAGE_MAX), REPLY_MAX)

    def receive_bytes(self) -> tuple[bytes, list[int]]:
        """One message as bytes, and its fds (the caller's to close).

        Raises :class:`ConnectionClosed` when the daemon closed the
        connection, :class:`InvalidReply` when the message was cut (too
        long, or more than :data:`FDS_MAX` fds).
        """
        try:
            size = self._reply_size()
            # One byte more: a message that grew past the limit still shows as too long.
            data, anc, flags, _ = self._sock.recvmsg(size + 1, socket.CMSG_SPACE(
                FDS_MAX * _INT_SIZE), socket.MSG_CMSG_CLOEXEC)
        except socket.timeout:
            raise ConnectionFailure("receive reply: timed out") from None
        except OSError as e:
            raise ConnectionFailure("receive reply: %s" % (e.strerror or e)) from None
        fds: list[int] = []
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                usable = len(payload) - len(payload) % _INT_SIZE
                fds += array.array("i", payload[:usable]).tolist()
        if not data:
            _close_all(fds)
            raise ConnectionClosed("the daemon closed the connection without replying")
        if flags & socket.MSG_CTRUNC:
            _close_all(fds)
            raise InvalidReply("reply carries more than %d fds" % FDS_MAX)
        if flags & socket.MSG_TRUNC or len(data) > size:
            _close_all(fds)
            raise InvalidReply("reply larger than %d bytes" % REPLY_MAX)
        return data, fds

    def receive(self) -> Message:
        """One message, decoded: ``(body, fds)``; the fds are the caller's to close.

        Raises :class:`InvalidReply` when it is not JSON (closing its fds).
        """
        data, fds = self.receive_bytes()
        try:
            body = json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicates)
        except (UnicodeDecodeError, ValueError) as e:
            _close_all(fds)
            raise InvalidReply("reply is not valid JSON: %s" % e) from None
        return Message(body, fds)

    def request(self, message: Mapping[str, Any] | bytes | bytearray | str,
                fds: Sequence[int] = ()) -> Message:
        """Send @message with @fds and receive its reply."""
        self.send(message, fds)
        return self.receive()


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Two values for one key is ambiguous: the daemon refuses them too.
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError("duplicate key %r" % k)
        out[k] = v
    return out
