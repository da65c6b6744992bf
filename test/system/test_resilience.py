"""Failures inside the daemon are contained: a half-created network is
rolled back whole, and lost link events are recovered by a full resync."""
import os
import signal

import vmnet_broker
from conftest import ns_delete, run, wait_until

CREATE_FAILURE = vmnet_broker.Status.CREATE_FAILURE


def test_half_created_network_is_rolled_back(broker):
    # dnsmasq's hosts file cannot be written: creation fails after the bridge,
    # the addresses and the nft table are already in place.
    blocker = os.path.join(broker.state_dir, "dnsmasq", "shared.hosts.tmp")
    os.mkdir(blocker)
    reply = broker.request({"command": "acquire", "network_name": "shared", "port": "none"})
    assert reply.get('error') == CREATE_FAILURE, reply
    assert "shared" in reply["message"]
    assert not [n for n in broker.link_names() if n.startswith("vmbr")]
    assert not broker.nft_table_exists()
    assert broker.dnsmasq_pids() == []
    assert broker.status()["networks"] == []
    assert not [f for f in os.listdir(broker.state_dir) if f.endswith(".state")]
    os.rmdir(blocker)
    reply = broker.request({"command": "acquire", "network_name": "shared", "port": "none"})
    assert "network" in reply, reply


def test_lost_link_events_trigger_a_resync(broker, topo):
    """Stop the daemon, flood its link monitor past its buffer while a
    guest dies, resume it: the overrun is noticed and the lease still ends."""
    g1, g2 = topo.guest("g1"), topo.guest("g2")
    r1 = broker.acquire_netns(g1)
    broker.acquire_netns(g2)
    veth = broker.lease_by_mac(r1["network"]["port"]["mac"])["ifname"]
    os.kill(broker.pid, signal.SIGSTOP)
    try:
        batch = os.path.join(broker.dir, "flood.batch")
        with open(batch, "w") as f:
            for i in range(3000):
                f.write("link add fl%da type veth peer name fl%db\n" % (i, i))
            for i in range(3000):
                f.write("link del fl%da\n" % i)
        run(["ip", "-n", broker.ns, "-batch", batch], timeout=120)
        # Now the monitor's buffer is full: this guest's RTM_DELLINK is lost.
        ns_delete(g1.ns)
        wait_until(lambda: broker.link(veth) is None, timeout=30, what="%s to go" % veth)
    finally:
        os.kill(broker.pid, signal.SIGCONT)
    wait_until(lambda: broker.lease_by_mac(r1["network"]["port"]["mac"]) is None, timeout=30,
               what="the dead guest's lease to end")
    assert "Link monitor lost events" in broker.log()
    assert len(broker.network("shared")["leases"]) == 1
