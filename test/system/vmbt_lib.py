"""vmbt_lib - drive libvmnet-broker.so through ctypes, in a child process.

The tests run these scenarios in a separate python so that a crash in the
library fails one test instead of the whole run:

    python3 -B vmbt_lib.py LIBRARY SOCKET SCENARIO [ARGS...]

Each scenario prints one JSON object on stdout.
"""
import ctypes
import json
import os
import sys

c_int_p = ctypes.POINTER(ctypes.c_int)


def load(path):
    lib = ctypes.CDLL(path)
    sigs = {
        "vmnet_broker_options_new": ([], ctypes.c_void_p),
        "vmnet_broker_options_free": ([ctypes.c_void_p], None),
        "vmnet_broker_options_set_socket": ([ctypes.c_void_p, ctypes.c_char_p], ctypes.c_int),
        "vmnet_broker_options_set_port": ([ctypes.c_void_p, ctypes.c_char_p], ctypes.c_int),
        "vmnet_broker_options_set_mac": ([ctypes.c_void_p, ctypes.c_char_p], ctypes.c_int),
        "vmnet_broker_options_set_label": ([ctypes.c_void_p, ctypes.c_char_p], ctypes.c_int),
        "vmnet_broker_options_set_netns_fd": ([ctypes.c_void_p, ctypes.c_int], ctypes.c_int),
        "vmnet_broker_acquire_network": ([ctypes.c_char_p, c_int_p], ctypes.c_void_p),
        "vmnet_broker_acquire_network_with_options":
            ([ctypes.c_char_p, ctypes.c_void_p, c_int_p], ctypes.c_void_p),
        "vmnet_broker_network_release": ([ctypes.c_void_p], None),
        "vmnet_broker_strerror": ([ctypes.c_int], ctypes.c_char_p),
        "vmnet_broker_status_name": ([ctypes.c_int], ctypes.c_char_p),
        "vmnet_broker_last_error_message": ([], ctypes.c_char_p),
        "vmnet_broker_network_fd_count": ([ctypes.c_void_p], ctypes.c_size_t),
        "vmnet_broker_network_fd": ([ctypes.c_void_p], ctypes.c_int),
        "vmnet_broker_network_take_fd": ([ctypes.c_void_p, ctypes.c_size_t], ctypes.c_int),
        "vmnet_broker_network_prefix_len": ([ctypes.c_void_p], ctypes.c_int),
        "vmnet_broker_network_mtu": ([ctypes.c_void_p], ctypes.c_int),
        "vmnet_broker_network_reply_json": ([ctypes.c_void_p], ctypes.c_char_p),
        "vmnet_broker_query": ([ctypes.c_char_p, ctypes.c_char_p,
                                ctypes.POINTER(ctypes.c_void_p)], ctypes.c_int),
    }
    for name in ("name", "mode", "bridge", "subnet", "mask", "ipv6_prefix", "port_kind",
                 "port_ifname", "port_mac", "port_address"):
        sigs["vmnet_broker_network_" + name] = ([ctypes.c_void_p], ctypes.c_char_p)
    for name, (args, res) in sigs.items():
        f = getattr(lib, name)
        f.argtypes = args
        f.restype = res
    return lib


def s(b):
    return None if b is None else b.decode()


def accessors(lib, net):
    out = {}
    for name in ("name", "mode", "bridge", "subnet", "mask", "ipv6_prefix", "port_kind",
                 "port_ifname", "port_mac", "port_address"):
        out[name] = s(getattr(lib, "vmnet_broker_network_" + name)(net))
    out["prefix_len"] = lib.vmnet_broker_network_prefix_len(net)
    out["mtu"] = lib.vmnet_broker_network_mtu(net)
    out["fd_count"] = lib.vmnet_broker_network_fd_count(net)
    out["reply_json"] = json.loads(s(lib.vmnet_broker_network_reply_json(net)))
    return out


def query(lib, sock, command):
    buf = ctypes.c_void_p()
    st = lib.vmnet_broker_query(sock.encode(), command.encode(), ctypes.byref(buf))
    text = None
    if st == 0 and buf.value:
        text = ctypes.string_at(buf.value).decode()
        ctypes.CDLL(None).free(buf)
    return st, text


def main(argv):
    lib = load(argv[1])
    sock, scenario, args = argv[2], argv[3], argv[4:]
    status = ctypes.c_int(-1)
    out = {}
    if scenario == "acquire":
        # acquire NAME [PORT [LABEL]] with options; hold the TAP, ask status, close.
        opts = lib.vmnet_broker_options_new()
        assert lib.vmnet_broker_options_set_socket(opts, sock.encode()) == 0
        if len(args) > 1:
            out["set_port"] = lib.vmnet_broker_options_set_port(opts, args[1].encode())
        if len(args) > 2:
            out["set_label"] = lib.vmnet_broker_options_set_label(opts, args[2].encode())
        net = lib.vmnet_broker_acquire_network_with_options(args[0].encode(), opts,
                                                            ctypes.byref(status))
        lib.vmnet_broker_options_free(opts)
        out["status"] = status.value
        out["message"] = s(lib.vmnet_broker_last_error_message())
        if net:
            out.update(accessors(lib, net))
            fd = lib.vmnet_broker_network_take_fd(net, 0)
            out["fd"] = fd
            out["fd_again"] = lib.vmnet_broker_network_take_fd(net, 0)
            lib.vmnet_broker_network_release(net)
            out["status_json"] = json.loads(query(lib, sock, "status")[1] or "null")
            if fd >= 0:
                out["fd_link"] = os.readlink("/proc/self/fd/%d" % fd)
                os.close(fd)
    elif scenario == "acquire-env":
        os.environ["VMNET_BROKER_SOCKET"] = sock
        net = lib.vmnet_broker_acquire_network(args[0].encode(), ctypes.byref(status))
        out["status"] = status.value
        out["name"] = s(lib.vmnet_broker_status_name(status.value))
        out["message"] = s(lib.vmnet_broker_last_error_message())
        out["handle"] = bool(net)
        lib.vmnet_broker_network_release(net)
    elif scenario == "query":
        st, text = query(lib, sock, args[0])
        out["status"] = st
        out["reply"] = json.loads(text) if text else None
    elif scenario == "names":
        out["names"] = [s(lib.vmnet_broker_status_name(i)) for i in range(-1, 11)]
        out["strerror"] = [s(lib.vmnet_broker_strerror(i)) for i in range(-1, 11)]
    else:
        raise SystemExit("unknown scenario " + scenario)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
