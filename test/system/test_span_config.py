"""Spans on one daemon: their files, the acquire's answers when this host
has no place in the span, and what the daemon does without FRR or after a
restart (issue 21). The three-host world is test_span.py's."""
import json
import os
import signal

import pytest

from conftest import CLI, run, wait_until
import vmbt_span
from vmbt_span import NETWORK, network_file


def write(broker, f, name=NETWORK):
    with open(os.path.join(broker.config_dir, name + ".json"), "w") as fp:
        json.dump(f, fp)


def underlay(broker, *addresses, mtu=1500):
    """A link "ul" of the daemon's namespace holding @addresses (a veth with its peer there too)."""
    broker.ip("link", "add", "ul", "mtu", str(mtu), "type", "veth", "peer", "name", "ulp")
    for a in addresses:
        broker.ip("addr", "add", a + "/24", "dev", "ul")
    broker.ip("link", "set", "ul", "up")
    broker.ip("link", "set", "ulp", "up")


def acquire_error(broker, network=NETWORK):
    return broker.request({"command": "acquire", "network_name": network, "port": "none"})


def test_check_config_accepts_both_modes_and_names_the_errors(tmp_path):
    good = tmp_path / "good"
    good.mkdir()
    (good / "lab.json").write_text(json.dumps(network_file("static")))
    f = network_file("evpn")
    f["span"]["vni"] = 200
    f["subnet"] = "192.168.101.1"
    f["ipv6_prefix"] = "fd00:101::"
    for h in f["span"]["hosts"]:
        h["slice"] = h["slice"].replace("192.168.100.", "192.168.101.")
    (good / "lab2.json").write_text(json.dumps(f))
    p = run([CLI, "check-config", str(good)])
    assert "2 networks OK" in p.stdout

    bad = tmp_path / "bad"
    bad.mkdir()
    f = network_file("evpn", mtu=1500)
    f["span"]["hosts"][1]["slice"] = "192.168.100.96/27"
    f["span"]["hosts"].append({"address": "198.51.100.1", "slice": "192.168.100.0/27"})
    f["span"]["evpn"]["route_reflectors"] = ["198.51.100.7"]
    f["nat44"] = False
    (bad / "lab.json").write_text(json.dumps(f))
    g = network_file("static")
    g["subnet"] = "192.168.102.1"
    del g["span"]["hosts"][0]["slice"]
    g["span"]["vni"] = 0
    (bad / "other.json").write_text(json.dumps(g))
    p = run([CLI, "check-config", str(bad)], check=False)
    assert p.returncode == 1
    out = p.stdout + p.stderr
    for want in ("lab.json: mtu: mtu 1500 leaves no room for VXLAN's 50 bytes",
                 "lab.json: span.hosts[3].address: is already the address of span.hosts[0]",
                 "lab.json: span.evpn.route_reflectors[0]: 198.51.100.7 is not the address",
                 "other.json: span.vni: must be an integer from 1 to 16777215"):
        assert want in out, out
    f = network_file("static")
    f["span"]["hosts"][1]["slice"] = "192.168.100.96/27"
    f["nat44"] = False
    (bad / "lab.json").write_text(json.dumps(f))
    (bad / "other.json").unlink()
    out = run([CLI, "check-config", str(bad)], check=False).stdout
    for want in ("span.hosts[1].slice: overlaps the slice of span.hosts[0]",
                 "nat44: must stay on with 'span'"):
        assert want in out, out


def test_check_config_wants_each_hosts_dynamic_range_in_its_slice(tmp_path):
    # One dhcp_range for the file: each host takes the part in its slice.
    # Three slices in a row: any range that reaches the first and the last
    # swallows the middle one, which is left no address for its ports.
    f = network_file("static", dhcp_range={"start": "192.168.100.100",
                                           "end": "192.168.100.220"})
    (tmp_path / "lab.json").write_text(json.dumps(f))
    p = run([CLI, "check-config", str(tmp_path)], check=False)
    assert p.returncode == 1
    assert ("dhcp_range: leaves no address of 192.168.100.128/26 (span.hosts[1].slice) "
            "for its host's ports") in p.stdout, p.stdout
    f["dhcp_range"] = {"start": "192.168.100.100", "end": "192.168.100.120"}
    (tmp_path / "lab.json").write_text(json.dumps(f))
    out = run([CLI, "check-config", str(tmp_path)], check=False).stdout
    assert "dhcp_range: 192.168.100.100-192.168.100.120 does not reach into span.hosts[1].slice" \
        in out, out
    # Slices too small to split.
    f = network_file("static")
    f["span"]["hosts"][2]["slice"] = "192.168.100.192/30"
    (tmp_path / "lab.json").write_text(json.dumps(f))
    out = run([CLI, "check-config", str(tmp_path)], check=False).stdout
    assert ("span.hosts[2].slice: 192.168.100.192/30 is too small for a dynamic range next to "
            "its ports' addresses") in out, out
    # Two hosts, one range across both slices: fine.
    f = network_file("static", hosts=2, dhcp_range={"start": "192.168.100.100",
                                                     "end": "192.168.100.150"})
    (tmp_path / "lab.json").write_text(json.dumps(f))
    assert "1 network OK" in run([CLI, "check-config", str(tmp_path)]).stdout


def test_two_files_cannot_span_one_vni(broker):
    write(broker, network_file("static"))
    f = network_file("static")
    f["subnet"] = "192.168.101.1"
    f["ipv6_prefix"] = "fd00:101::"
    f["span"]["hosts"] = [{"address": "198.51.100.1"}, {"address": "198.51.100.2"}]
    f["dhcp"] = False
    write(broker, f, "lab2")
    reply = acquire_error(broker, "lab2")
    assert reply["error"] == 5 and "VNI 100 is also spanned by network 'lab'" in reply["message"]


def test_a_host_the_span_does_not_list_cannot_create_it(broker):
    write(broker, network_file("static"))
    underlay(broker, "198.51.100.9")
    reply = acquire_error(broker)
    assert reply["error"] == 5, reply
    assert "holds none of its span's host addresses (198.51.100.1, 198.51.100.2, " \
        "198.51.100.3)" in reply["message"]
    assert broker.network(NETWORK) is None
    assert not any(n.startswith("vmbr") for n in broker.link_names())


@pytest.mark.broker(extra_args=["--span-address", "198.51.100.2"])
def test_span_address_chooses_among_several(broker):
    write(broker, network_file("static"))
    underlay(broker, "198.51.100.1", "198.51.100.2")
    with broker.connect() as conn:
        reply, _ = conn.request({"command": "acquire", "network_name": NETWORK, "port": "none"})
        assert "error" not in reply, reply
        span = broker.network(NETWORK)["span"]
        assert span["local"] == "198.51.100.2" and span["slice"] == vmbt_span.slice_of(2)
        vx = broker.link("vmvx100")
        assert vx["linkinfo"]["info_data"]["local"] == "198.51.100.2"
        assert vx["master"] == broker.network(NETWORK)["bridge"]
        assert vx["mtu"] == vmbt_span.MTU


def test_several_addresses_without_span_address_is_refused(broker):
    write(broker, network_file("static"))
    underlay(broker, "198.51.100.1", "198.51.100.2")
    reply = acquire_error(broker)
    assert reply["error"] == 5 and "--span-address" in reply["message"], reply


def test_underlay_link_too_small_for_the_mtu(broker):
    write(broker, network_file("static"))
    underlay(broker, "198.51.100.1", mtu=1450)
    reply = acquire_error(broker)
    assert reply["error"] == 9, reply
    assert "needs an MTU of at least 1500" in reply["message"]
    assert not any(n.startswith(("vmbr", "vmvx")) for n in broker.link_names())


def test_a_taken_device_name_fails_cleanly(broker):
    write(broker, network_file("static"))
    underlay(broker, "198.51.100.1")
    broker.ip("link", "add", "vmvx100", "type", "veth", "peer", "name", "vmvx100p")
    reply = acquire_error(broker)
    assert reply["error"] == 6, reply
    assert broker.network(NETWORK) is None
    assert not any(n.startswith("vmbr") for n in broker.link_names())
    assert "table bridge vmnet_broker" not in broker.nft_text()


def test_evpn_without_frr_works_locally_and_says_why(broker, topo, tmp_path):
    # FRR's run directory holds no bgpd: the network works on this host,
    # status says FRR is unreachable, and nothing else breaks.
    frr_dir = tmp_path / "frr"
    frr_dir.mkdir()
    broker.stop()
    broker.extra_args += ["--frr-dir", str(frr_dir)]
    broker.start()
    write(broker, network_file("evpn"))
    underlay(broker, "198.51.100.1")
    g1, g2 = topo.guest("g1"), topo.guest("g2")
    r1 = broker.acquire_netns(g1, network=NETWORK)
    r2 = broker.acquire_netns(g2, network=NETWORK)
    g1.dhcp()
    g2.dhcp()
    assert g1.ping(r2["network"]["port"]["address"])

    def frr_state():
        return broker.network(NETWORK)["span"]["frr"]
    st = wait_until(lambda: frr_state()["state"] == "unreachable" and frr_state(), 10,
                    what="FRR to show as unreachable")
    assert st["message"], st
    assert all(p["state"] == "unknown" for p in broker.network(NETWORK)["span"]["peers"])
    assert r1["network"]["port"]["address"].startswith("192.168.100.")


def test_restarted_daemon_makes_a_lost_vxlan_device_again(broker, topo):
    write(broker, network_file("static"))
    underlay(broker, "198.51.100.1")
    g = topo.guest("g1")
    broker.acquire_netns(g, network=NETWORK)
    ifindex = broker.link("vmvx100")["ifindex"]
    broker.stop(signal.SIGKILL)
    broker.ip("link", "del", "vmvx100")
    broker.start()
    vx = wait_until(lambda: broker.link("vmvx100"), 10, what="vmvx100 again")
    assert vx["ifindex"] != ifindex
    assert vx["master"] == broker.network(NETWORK)["bridge"]
    assert len(broker.network(NETWORK)["leases"]) == 1
    # And it is on record: another restart adopts this one.
    broker.stop(signal.SIGKILL)
    broker.start()
    assert broker.link("vmvx100")["ifindex"] == vx["ifindex"]


def test_names_link_lives_with_the_span_and_takes_no_ones_link(broker, topo):
    # The names link (span-names.c) comes with the first lease, holds this
    # host's names address and keeps its MAC across a restart; the other
    # hosts' names addresses are routed through it.
    write(broker, network_file("static"))
    underlay(broker, "198.51.100.1")
    g = topo.guest("g1")
    broker.acquire_netns(g, network=NETWORK)
    link = broker.link("vmns100")
    assert link and broker.link("vmns100p")["master"] == broker.network(NETWORK)["bridge"]
    assert "192.168.100.64/32" in broker.ip("-4", "addr", "show", "dev", "vmns100").stdout
    routes = broker.ip("-4", "route", "show", "dev", "vmns100").stdout
    assert "192.168.100.128 proto static scope link src 192.168.100.64" in routes, routes
    assert len(broker.dnsmasq_pids()) == 2
    # No IPv6 on either end: no link-local address, no router advertisement taken.
    assert "inet6" not in broker.ip("addr", "show", "dev", "vmns100").stdout
    assert "inet6" not in broker.ip("addr", "show", "dev", "vmns100p").stdout
    broker.stop(signal.SIGKILL)
    broker.start()
    assert broker.link("vmns100")["address"] == link["address"]
    assert len(broker.dnsmasq_pids()) == 2
    # The file no longer spans: the network is adopted as this host's
    # alone, and its names link and server go.
    broker.stop(signal.SIGKILL)
    f = network_file("static")
    del f["span"]
    write(broker, f)
    broker.start()
    assert broker.network(NETWORK) and broker.link("vmns100") is None
    assert len(broker.dnsmasq_pids()) == 1
    topo.namespaces.remove(g.ns)
    run(["ip", "netns", "del", g.ns])
    wait_until(lambda: broker.network(NETWORK) is None, 20, what="the network to go")
    # A link of that name that is someone else's stays theirs: the network
    # works without names across hosts, and says so.
    write(broker, network_file("static"))
    broker.ip("link", "add", "vmns100", "type", "veth", "peer", "name", "other")
    broker.ip("link", "set", "vmns100", "alias", "someone else's")
    g2 = topo.guest("g2")
    broker.acquire_netns(g2, network=NETWORK)
    g2.dhcp()
    assert broker.link("vmns100p") is None and broker.link("other") is not None
    assert len(broker.dnsmasq_pids()) == 1
    # ... and no rule of ours names it: traffic on it is its owner's business.
    assert "vmns100" not in broker.nft_text()
    assert "Failed to make names link vmns100" in broker.log()


def test_evpn_with_a_route_reflector(topo):
    # Host 1 reflects: hosts 2 and 3 peer with it alone and still reach each other.
    if not vmbt_span.frr_available():
        pytest.skip("FRR (bgpd, zebra, vtysh) is not installed")
    f = network_file("evpn")
    f["span"]["evpn"]["route_reflectors"] = [vmbt_span.host_address(1)]
    w = vmbt_span.World(topo, "evpn", file=f)
    # The reflector has the network from its start, without a guest of its own.
    rr = w.hosts[0].broker.network(NETWORK)
    assert rr and rr["leases"] == [] and "idle_remaining" not in rr
    g2, g3 = w.hosts[1].guest("g2"), w.hosts[2].guest("g3")
    g2.dhcp()
    g3.dhcp()
    wait_until(lambda: len(w.hosts[0].frr.established()) == 2, 30, what="the reflector's sessions")
    assert w.hosts[1].frr.established() == [vmbt_span.host_address(1)]
    assert g2.ping(g3.reply["network"]["port"]["address"], timeout=20)
    assert "route-reflector-client" in w.hosts[0].frr.running_config()
    peers = {p["address"]: p for p in w.hosts[1].broker.network(NETWORK)["span"]["peers"]}
    assert peers[vmbt_span.host_address(3)]["state"] == "via-reflector"
