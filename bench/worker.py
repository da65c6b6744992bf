"""worker.py - times the Python package's acquire() for vmnet-bench (make bench, method "python").

    python3 -B bench/worker.py --socket PATH --network NAME

For each byte read on fd 3 (a SOCK_SEQPACKET socket) it acquires a TAP as
the C library's run does (tap, vnet_hdr, label "vmnet-bench", the
package's default 30 s timeout), and sends back the time that took, in
microseconds as text, with the TAP's fd; then it closes its copy. The
vmnet_broker package comes from $PYTHONPATH (bench.py points it at python/).
"""
import argparse
import array
import os
import socket
import sys
import time

sys.dont_write_bytecode = True

import vmnet_broker  # noqa: E402


def main(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket", required=True)
    ap.add_argument("--network", default="shared")
    a = ap.parse_args(argv)
    peer = socket.socket(fileno=3)
    while peer.recv(16):
        t0 = time.monotonic_ns()
        port = vmnet_broker.acquire(a.network, port="tap", vnet_hdr=True, label="vmnet-bench",
                                    socket_path=a.socket)
        fds = port.take_fds()
        port.close()
        us = (time.monotonic_ns() - t0) / 1e3
        peer.sendmsg([b"%.1f" % us], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                       array.array("i", fds[:1]).tobytes())])
        for fd in fds:
            os.close(fd)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
