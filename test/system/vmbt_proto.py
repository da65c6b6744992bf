"""vmbt_proto - a raw protocol version 1 client for the system tests.

Talks to vmnet-brokerd directly over its SOCK_SEQPACKET socket, so tests can
send exactly the bytes and file descriptors they want (bad requests, TAP fds
held by the test process). Imported by conftest.py, and also runnable as a
script so a test can make a request as another user:

    setpriv --reuid=65534 ... python3 -B vmbt_proto.py SOCKET REQUEST_JSON [FD...]

prints {"reply": REPLY, "fds": N} on stdout (the fds given on the command
line must be inherited from the caller and are sent with the request).
"""
import json
import os
import socket
import sys

MESSAGE_MAX = 64 * 1024
RECV_SIZE = MESSAGE_MAX + 4096
FDS_MAX = 32

# Status codes of the contract.
SUCCESS = 0
CONNECTION_FAILURE = 1
INVALID_REPLY = 2
NOT_ALLOWED = 3
INVALID_REQUEST = 4
NOT_FOUND = 5
CREATE_FAILURE = 6
INTERNAL_ERROR = 7
LIMIT_EXCEEDED = 8
CONFLICT = 9


class Closed(Exception):
    """The daemon closed the connection instead of replying."""


def connect(path, timeout=10.0):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
    sock.settimeout(timeout)
    try:
        sock.connect(path)
    except BaseException:
        sock.close()
        raise
    return sock


def encode(request):
    if isinstance(request, (bytes, bytearray)):
        return bytes(request)
    return json.dumps(request).encode()


def send(sock, request, fds=()):
    data = encode(request)
    if fds:
        socket.send_fds(sock, [data], list(fds))
    else:
        sock.send(data)


def recv(sock):
    """One reply: (decoded JSON, [fds]). Raises Closed on EOF."""
    msg, fds, flags, _ = socket.recv_fds(sock, RECV_SIZE, FDS_MAX)
    if flags & socket.MSG_CTRUNC:
        for fd in fds:
            os.close(fd)
        raise AssertionError("reply carried more fds than %d" % FDS_MAX)
    if not msg:
        for fd in fds:
            os.close(fd)
        raise Closed("daemon closed the connection without a reply")
    return json.loads(msg.decode()), fds


def request(path, req, fds=(), timeout=10.0):
    """Send one request on a new connection: (reply, [fds])."""
    with connect(path, timeout) as sock:
        send(sock, req, fds)
        return recv(sock)


def request_nofds(path, req, fds=(), timeout=10.0):
    """Like request(), but closes any fds of the reply."""
    reply, rfds = request(path, req, fds, timeout)
    for fd in rfds:
        os.close(fd)
    return reply


def error_code(reply):
    return reply.get("error") if isinstance(reply, dict) else None


def main(argv):
    path, req = argv[1], argv[2]
    fds = [int(a) for a in argv[3:]]
    try:
        reply, rfds = request(path, req.encode(), fds)
    except Closed:
        print(json.dumps({"closed": True}))
        return 0
    except OSError as e:
        print(json.dumps({"oserror": e.errno, "message": str(e)}))
        return 0
    print(json.dumps({"reply": reply, "fds": len(rfds)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
