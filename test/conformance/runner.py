"""The Python client's conformance runner: python3 runner.py SOCKET CASE.json

Makes the case's "call" through the vmnet_broker package and prints the
outcome (conformance.py says what it holds). Also

    python3 runner.py SOCKET --raw REQUEST_JSON [FD...]

sends REQUEST_JSON as it is, with the inherited FDs, and prints
{"reply": ..., "fds": N}: for replaying requests as another user.
"""
import json
import os
import sys

sys.dont_write_bytecode = True

import vmnet_broker  # noqa: E402


def fd_targets(fds):
    out = []
    for fd in fds:
        try:
            out.append(os.readlink("/proc/self/fd/%d" % fd))
        except OSError:
            out.append(None)
    return out


def open_fds():
    out = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            out[fd] = os.readlink("/proc/self/fd/" + fd)
        except OSError:
            pass
    return out


def acquire(sock, call):
    o = call.get("options", {})
    netns = o.get("netns")
    if netns == "self":
        netns = "/proc/self/ns/net"
    forwards = [tuple(f) for f in o.get("port_forwards", [])]
    port = vmnet_broker.acquire(call["network"], port=o.get("port"), mac=o.get("mac"),
                                label=o.get("label"), netns=netns, ifname=o.get("ifname"),
                                vnet_hdr=o.get("vnet_hdr", False),
                                multi_queue=o.get("multi_queue"), port_forwards=forwards,
                                persistent=o.get("persistent", False),
                                socket_path=sock, timeout=20)
    with port:
        value = port.network.to_json()
        value["port"] = port.port.to_json()
        return {"status": 0, "value": value, "fds": port.fd_count,
                "fd_targets": fd_targets(port.fds)}


LEASE_CALLS = ("release", "forward_add", "forward_remove", "forward_list")


def lease_call(sock, call):
    """release, forward_*: the lease by "ifname" or "lease_id", with "port_forwards"."""
    ref = {"ifname": call.get("ifname"), "lease_id": call.get("lease_id"),
           "socket_path": sock, "timeout": 20}
    forwards = [tuple(f) for f in call.get("port_forwards", [])]
    if call["command"] == "forward_list":
        return {"status": 0, "fds": 0, "value": {
            "leases": [le.to_json() for le in vmnet_broker.forward_list(**ref)]}}
    if call["command"] == "release":
        lease = vmnet_broker.release(**ref)
    elif call["command"] == "forward_add":
        lease = vmnet_broker.forward_add(forwards, **ref)
    else:
        lease = vmnet_broker.forward_remove(forwards, **ref)
    return {"status": 0, "fds": 0, "value": {"lease": lease.to_json()}}


def run(sock, case):
    call = case["call"]
    if call.get("socket_from_env"):
        os.environ["VMNET_BROKER_SOCKET"] = sock
        sock = None
    try:
        if call["command"] == "acquire":
            return acquire(sock, call)
        if call["command"] == "status":
            return {"status": 0, "value": vmnet_broker.status(socket_path=sock,
                                                               timeout=20).to_json(), "fds": 0}
        if call["command"] == "networks":
            return {"status": 0, "value": vmnet_broker.networks(socket_path=sock,
                                                                 timeout=20).to_json(), "fds": 0}
        if call["command"] in LEASE_CALLS:
            return lease_call(sock, call)
        if call["command"] == "stop":
            return {"status": 0, "fds": 0, "value": vmnet_broker.stop_network(
                call["network"], force=call.get("force", False), socket_path=sock,
                timeout=20).to_json()}
        if call["command"] == "wait_address":
            w = vmnet_broker.wait_address(ifname=call.get("ifname"), label=call.get("label"),
                                          network=call.get("network"), wait=call.get("timeout"),
                                          socket_path=sock, timeout=20)
            return {"status": 0, "value": w.to_json(), "fds": 0}
        raise SystemExit("unknown command %r" % call["command"])
    except vmnet_broker.BrokerError as e:
        return {"status": e.status, "name": e.status_name, "message": e.message}


def raw(sock, request, fds):
    try:
        with vmnet_broker.Connection(sock, timeout=20) as conn:
            reply, rfds = conn.request(request.encode(), fds)
    except vmnet_broker.ConnectionClosed:
        return {"closed": True}
    except vmnet_broker.BrokerError as e:
        return {"status": e.status, "message": e.message}
    for fd in rfds:
        os.close(fd)
    return {"reply": reply, "fds": len(rfds)}


def main(argv):
    if len(argv) >= 4 and argv[2] == "--raw":
        out = raw(argv[1], argv[3], [int(a) for a in argv[4:]])
    else:
        with open(argv[2]) as f:
            case = json.load(f)
        before = open_fds()
        out = run(argv[1], case)
        out["leaked_fds"] = ["%s -> %s" % (fd, t) for fd, t in sorted(open_fds().items())
                             if before.get(fd) != t]
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
