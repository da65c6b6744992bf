"""The C client library, driven through ctypes in a child process."""
import json
import os

import pytest

from conftest import HERE, LIBRARY, PYTHON, run, wait_until


def lib(broker, *args, socket=None):
    if not os.path.exists(LIBRARY):
        pytest.fail("%s is not built" % LIBRARY)
    p = run([PYTHON, "-B", os.path.join(HERE, "vmbt_lib.py"), LIBRARY,
             socket or broker.socket, *args])
    return json.loads(p.stdout)


def test_library_acquires_a_tap(broker):
    out = lib(broker, "acquire", "shared", "tap", "from-lib")
    assert out["status"] == 0, out
    assert out["set_port"] == 0 and out["set_label"] == 0
    assert out["name"] == "shared"
    assert out["mode"] == "shared"
    assert out["bridge"].startswith("vmbr")
    assert out["port_kind"] == "tap"
    assert out["port_ifname"].startswith("vmtap")
    assert out["mask"] == "255.255.255.0"
    assert out["prefix_len"] == 64
    assert out["mtu"] == 1500
    assert out["fd_count"] == 1
    assert out["fd"] >= 0
    assert out["fd_again"] == -1
    assert out["fd_link"] == "/dev/net/tun"
    assert out["reply_json"]["network"]["port"]["mac"] == out["port_mac"]
    # The lease was there while the child held the fd (after releasing the handle).
    leases = [le for n in out["status_json"]["networks"] for le in n["leases"]]
    assert [le["label"] for le in leases] == ["from-lib"]
    # The child exited: its TAP is gone and with it the lease.
    wait_until(lambda: not broker.leases(), what="the library's lease to end")
    assert broker.link(out["port_ifname"]) is None


def test_library_not_found(broker):
    out = lib(broker, "acquire-env", "nosuchnet")
    assert out["status"] == 5
    assert out["name"] == "VMNET_BROKER_NOT_FOUND"
    assert out["handle"] is False
    assert out["message"]


def test_library_connection_failure(broker, topo):
    out = lib(broker, "acquire-env", "shared", socket=os.path.join(topo.tmp, "nothing-here"))
    assert out["status"] == 1
    assert out["name"] == "VMNET_BROKER_CONNECTION_FAILURE"


def test_library_query(broker):
    out = lib(broker, "query", "networks")
    assert out["status"] == 0
    names = {n["name"] for n in out["reply"]["networks"]}
    assert {"shared", "host"} <= names


def test_library_status_names(broker):
    out = lib(broker, "names")
    assert out["names"][1:] == [
        "VMNET_BROKER_SUCCESS", "VMNET_BROKER_CONNECTION_FAILURE",
        "VMNET_BROKER_INVALID_REPLY", "VMNET_BROKER_NOT_ALLOWED",
        "VMNET_BROKER_INVALID_REQUEST", "VMNET_BROKER_NOT_FOUND",
        "VMNET_BROKER_CREATE_FAILURE", "VMNET_BROKER_INTERNAL_ERROR",
        "VMNET_BROKER_LIMIT_EXCEEDED", "VMNET_BROKER_CONFLICT", out["names"][-1]]
    assert all(out["strerror"])
