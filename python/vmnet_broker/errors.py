"""Status codes of protocol version 1 and the exceptions that carry them.

The numbers and names are the macOS vmnet-broker's, extended after 7, so
that a tool handles both brokers' failures alike. Every failure of this
package is a :class:`BrokerError` whose :attr:`~BrokerError.status` is one
of these codes; catch a subclass for one code::

    try:
        port = vmnet_broker.acquire("lab")
    except vmnet_broker.NotFound:
        ...
"""
from __future__ import annotations

import enum

__all__ = [
    "Status", "BrokerError", "ConnectionFailure", "ConnectionClosed", "InvalidReply",
    "NotAllowed", "InvalidRequest", "NotFound", "CreateFailure", "InternalError",
    "LimitExceeded", "Conflict", "Timeout", "error_for",
]


class Status(enum.IntEnum):
    """A status code of the protocol (the C header's ``vmnet_broker_return_t``)."""

    SUCCESS = 0
    CONNECTION_FAILURE = 1  # cannot reach the daemon
    INVALID_REPLY = 2       # the daemon's reply is malformed
    NOT_ALLOWED = 3         # the caller may not use that network
    INVALID_REQUEST = 4     # malformed request, bad key or value
    NOT_FOUND = 5           # no such network
    CREATE_FAILURE = 6      # creating the network or port failed
    INTERNAL_ERROR = 7      # anything else
    LIMIT_EXCEEDED = 8      # a per-connection, per-user or per-network limit
    CONFLICT = 9            # an address, MAC or forwarded port already taken
    TIMEOUT = 10            # what was waited for did not come in time

    @property
    def c_name(self) -> str:
        """The name the C library and the CLI print: ``VMNET_BROKER_NOT_FOUND``."""
        return "VMNET_BROKER_" + self.name


_TEXT = {
    Status.SUCCESS: "success",
    Status.CONNECTION_FAILURE: "cannot connect to the vmnet-broker daemon",
    Status.INVALID_REPLY: "the daemon's reply is malformed",
    Status.NOT_ALLOWED: "not allowed to use this network",
    Status.INVALID_REQUEST: "invalid request",
    Status.NOT_FOUND: "no such network",
    Status.CREATE_FAILURE: "failed to create the network or port",
    Status.INTERNAL_ERROR: "internal error in the daemon",
    Status.LIMIT_EXCEEDED: "limit exceeded",
    Status.CONFLICT: "address, MAC or port already in use",
    Status.TIMEOUT: "timed out",
}


def status_name(code: int) -> str:
    """``VMNET_BROKER_NOT_FOUND`` for 5; ``VMNET_BROKER_UNKNOWN`` for a code this
    version does not know (a newer daemon may add codes)."""
    try:
        return Status(code).c_name
    except ValueError:
        return "VMNET_BROKER_UNKNOWN"


def status_text(code: int) -> str:
    """A sentence for a person, as ``vmnet_broker_strerror()`` gives."""
    try:
        return _TEXT[Status(code)]
    except ValueError:
        return "unknown status code"


class BrokerError(Exception):
    """A failure, with the protocol's status code and a message for a person.

    The message is the daemon's own when the daemon refused the request,
    else this package's. A code this version does not know (above 10) is
    raised as a plain BrokerError with that :attr:`status`.
    """

    #: The code every instance of this class carries (None: any, see status).
    code: Status | None = None

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        if status is None:
            if self.code is None:
                raise TypeError("BrokerError needs a status code")
            status = int(self.code)
        self.status: int = status
        self.message: str = message

    @property
    def status_name(self) -> str:
        """The code's name, e.g. ``VMNET_BROKER_NOT_FOUND``."""
        return status_name(self.status)

    def __str__(self) -> str:
        return "%s: %s" % (self.status_name, self.message)

    def __repr__(self) -> str:
        return "%s(%r, status=%d)" % (type(self).__name__, self.message, self.status)


class ConnectionFailure(BrokerError):
    """The daemon cannot be reached, did not answer in time, or went away."""
    code = Status.CONNECTION_FAILURE


class ConnectionClosed(ConnectionFailure):
    """The daemon closed the connection instead of replying."""


class InvalidReply(BrokerError):
    """The daemon's reply breaks the protocol."""
    code = Status.INVALID_REPLY


class NotAllowed(BrokerError):
    """The caller may not use that network (or that network namespace)."""
    code = Status.NOT_ALLOWED


class InvalidRequest(BrokerError):
    """A malformed request, an unknown key or a bad value."""
    code = Status.INVALID_REQUEST


class NotFound(BrokerError):
    """No such network, or its file has errors."""
    code = Status.NOT_FOUND


class CreateFailure(BrokerError):
    """Creating the network or the port failed."""
    code = Status.CREATE_FAILURE


class InternalError(BrokerError):
    """Anything else that went wrong in the daemon."""
    code = Status.INTERNAL_ERROR


class LimitExceeded(BrokerError):
    """A per-connection, per-user or per-network limit, or a full subnet."""
    code = Status.LIMIT_EXCEEDED


class Conflict(BrokerError):
    """An address, MAC, subnet or forwarded port is taken already."""
    code = Status.CONFLICT


class Timeout(BrokerError):
    """What was waited for (a guest's address) did not come in time."""
    code = Status.TIMEOUT


_CLASSES: dict[int, type[BrokerError]] = {
    int(c.code): c for c in (ConnectionFailure, InvalidReply, NotAllowed, InvalidRequest,
                             NotFound, CreateFailure, InternalError, LimitExceeded, Conflict,
                             Timeout)
    if c.code is not None
}


def error_for(status: int, message: str) -> BrokerError:
    """The exception for @status: its subclass when the code is known."""
    cls = _CLASSES.get(status)
    if cls is None:
        return BrokerError(message, status)
    return cls(message, status)
