"""The request fuzzer's corpus against the real daemon: one reply for every message.

test/fuzz/corpus/request holds valid requests, invalid ones and the inputs
of past findings (regress-*). fuzz-request checks request_parse() on them;
this sends each, as is, to a running daemon, which must answer each with
exactly one reply (the contract's "one reply per request") and go on
serving. A finding once was a reason text that was not UTF-8: the daemon
could not put it in JSON and sent nothing, leaving the client waiting.
"""
import os

import pytest

import vmnet_broker
from conftest import REPO

CORPUS = os.path.join(REPO, "test", "fuzz", "corpus", "request")


def corpus():
    return sorted(os.listdir(CORPUS))


@pytest.mark.broker(idle_timeout=0)
def test_every_request_gets_one_reply(broker):
    for name in corpus():
        with open(os.path.join(CORPUS, name), "rb") as f:
            data = f.read()
        if not data:
            # An empty SOCK_SEQPACKET message reads as end of file: a hang-up, not a request.
            continue
        with vmnet_broker.Connection(broker.socket, timeout=5) as sock:
            sock.send(data)
            try:
                reply, fds = sock.receive()
            except vmnet_broker.ConnectionFailure:
                pytest.fail("no reply to %s within 5 s" % name, pytrace=False)
            for fd in fds:
                os.close(fd)  # a TAP of a valid acquire
            assert isinstance(reply, dict), (name, reply)
            if name.startswith(("bad-", "regress-")):
                assert reply.get("error") == vmnet_broker.Status.INVALID_REQUEST, (name, reply)
            # Nothing more follows: the next message would be a second reply.
            sock.socket.setblocking(False)
            with pytest.raises(BlockingIOError):
                sock.socket.recv(65536)
    assert broker.alive()
    assert "networks" in broker.status()
