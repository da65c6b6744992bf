"""The state dir records every lease change before the reply leaves
(design.md, "Restart without loss"): STATE/NAME.state is a snapshot,
STATE/NAME.journal the lease changes since, one line each. A daemon killed
at any point leaves a record from which the next one adopts exactly the
leases that are live."""
import json
import os
import signal

from conftest import run, wait_until
import vmnet_broker


def state_path(broker, name="shared", suffix=".state"):
    return os.path.join(broker.state_dir, name + suffix)


def snapshot(broker, name="shared"):
    with open(state_path(broker, name)) as f:
        return json.load(f)


def journal(broker, name="shared"):
    """The journal's lines, parsed."""
    with open(state_path(broker, name, ".journal")) as f:
        return [json.loads(line) for line in f.read().splitlines()]


def acquire_taps(broker, count, **keys):
    """@count TAP leases on shared: [(port, fds)], the fds ours to hold."""
    out = []
    for _ in range(count):
        reply, fds = broker.acquire_tap(**keys)
        out.append((reply["network"]["port"], fds))
    return out


def release(broker, taps):
    """End the leases of @taps (close their fds) and wait until they are gone."""
    for _, fds in taps:
        for fd in fds:
            os.close(fd)
    macs = {port["mac"] for port, _ in taps}
    wait_until(lambda: not macs & {le.get("mac") for le in broker.leases("shared")},
               what="the released leases to end")


def live_macs(broker):
    return sorted(le["mac"] for le in broker.leases("shared"))


def lease_ids(broker):
    """The ids in the record: the snapshot's leases, the journal replayed over them."""
    ids = [le["id"] for le in snapshot(broker)["leases"]]
    for line in journal(broker):
        if "add" in line and line["add"]["id"] not in ids:
            ids.append(line["add"]["id"])
        elif "del" in line and line["del"] in ids:
            ids.remove(line["del"])
    return ids


def test_sigkill_after_acquires_and_releases_adopts_exactly_the_live_leases(broker, topo):
    taps = acquire_taps(broker, 6, label="t")
    release(broker, taps[1:3])
    live = sorted(port["mac"] for port, _ in taps[:1] + taps[3:])
    assert live_macs(broker) == live

    # Lease changes are journal lines; the snapshot was not rewritten for each.
    lines = journal(broker)
    dels = [line["del"] for line in lines if "del" in line]
    adds = [line["add"] for line in lines if "add" in line]
    assert len(dels) == 2 and len(adds) >= 4, lines
    assert {a["mac"] for a in adds} >= {port["mac"] for port, _ in taps[3:]}
    assert len(snapshot(broker)["leases"]) < 6
    ids = lease_ids(broker)
    assert len(ids) == 4 and len(set(ids)) == 4
    before = {le["mac"]: le for le in broker.leases("shared")}

    broker.stop(signal.SIGKILL)
    broker.start()
    assert live_macs(broker) == live
    for mac, le in before.items():
        after = broker.lease_by_mac(mac)
        for key in ("kind", "ifname", "address", "uid", "pid", "label"):
            assert after[key] == le[key], key
    # Adoption wrote a snapshot of what it adopted, ids kept, and emptied the journal.
    assert journal(broker) == []
    assert sorted(le["id"] for le in snapshot(broker)["leases"]) == sorted(ids)

    # Numbering goes on above every id on record.
    more = acquire_taps(broker, 1)
    new = [line["add"]["id"] for line in journal(broker) if "add" in line]
    assert len(new) == 1 and new[0] > max(ids) and new[0] > max(dels)
    release(broker, taps[:1] + taps[3:] + more)


def test_journal_is_compacted_and_the_record_stays_exact(broker, topo):
    held = acquire_taps(broker, 3)
    # 40 acquires and 40 lease ends: more lines than max(64, 2 x leases).
    release(broker, acquire_taps(broker, 40))
    lines = journal(broker)
    assert 0 < len(lines) <= 64, "the journal was not compacted: %d lines" % len(lines)
    assert len(snapshot(broker)["leases"]) < 43
    assert len(lease_ids(broker)) == 3

    broker.stop(signal.SIGKILL)
    broker.start()
    assert live_macs(broker) == sorted(port["mac"] for port, _ in held)
    release(broker, held)


def test_a_line_cut_short_is_skipped(broker, topo):
    held = acquire_taps(broker, 2)
    broker.stop(signal.SIGKILL)
    # The daemon died in the middle of a write().
    with open(state_path(broker, suffix=".journal"), "a") as f:
        f.write('{"add":{"id":999,"kind":"tap","ifname":"vmtap9')
    broker.start()
    assert live_macs(broker) == sorted(port["mac"] for port, _ in held)
    assert "Skipped 1 incomplete or malformed line" in broker.log()
    assert journal(broker) == []
    release(broker, held)


def test_record_of_a_daemon_before_ids_is_adopted(broker, topo):
    """A STATE_VERSION 1 snapshot without lease ids and no journal, as the
    daemon of before the journal leaves it: adopted, and given ids."""
    held = acquire_taps(broker, 3)
    broker.stop(signal.SIGTERM)
    # A clean stop leaves the whole record in the snapshot.
    assert journal(broker) == []
    doc = snapshot(broker)
    assert doc["version"] == 1 and len(doc["leases"]) == 3
    for le in doc["leases"]:
        del le["id"]
    with open(state_path(broker), "w") as f:
        json.dump(doc, f)
    os.unlink(state_path(broker, suffix=".journal"))

    broker.start()
    assert live_macs(broker) == sorted(port["mac"] for port, _ in held)
    ids = [le["id"] for le in snapshot(broker)["leases"]]
    assert len(ids) == 3 and len(set(ids)) == 3 and min(ids) >= 1
    more = acquire_taps(broker, 1)
    assert journal(broker)[-1]["add"]["id"] > max(ids)
    release(broker, held + more)


def test_acquire_port_forwards_come_back_after_a_restart(broker, topo):
    fw = [{"protocol": "tcp", "external_port": 3333, "internal_port": 8080}]
    (port, fds), = acquire_taps(broker, 1, port_forwards=fw)
    assert "tcp dport 3333 dnat" in broker.nft_text()
    broker.stop(signal.SIGKILL)
    broker.start()
    lease = broker.lease_by_mac(port["mac"])
    assert lease["port_forwards"] == port["port_forwards"]
    assert "tcp dport 3333 dnat" in broker.nft_text()
    # Taken still, and gone with the lease.
    reply = broker.request({"command": "acquire", "network_name": "shared", "port": "tap",
                            "port_forwards": fw})
    assert reply.get("error") == vmnet_broker.Status.CONFLICT, reply
    release(broker, [(port, fds)])
    wait_until(lambda: "tcp dport 3333 dnat" not in broker.nft_text(),
               what="the adopted forward to go with its lease")


def test_remove_all_leaves_no_record(broker, topo):
    held = acquire_taps(broker, 2)
    broker.stop(signal.SIGKILL)
    assert os.path.exists(state_path(broker, suffix=".journal"))
    run(["ip", "netns", "exec", broker.ns, *broker.argv(), "--remove-all"])
    assert not [f for f in os.listdir(broker.state_dir) if f.endswith((".state", ".journal"))]
    for _, fds in held:
        for fd in fds:
            os.close(fd)
