"""The protocol's JSON Schema against the golden messages.

Every golden request is a valid request; every golden reply is a valid
reply of its command exactly when the case says the daemon could send it
("valid", default true). The daemon's own replies are checked against the
same schema by the system tests (test/system/conftest.py).
"""
import json

import pytest

import conformance as cf

CASES = cf.golden_cases()


def _strict(data):
    def hook(pairs):
        keys = [k for k, _ in pairs]
        if len(keys) != len(set(keys)):
            raise ValueError("duplicate key")
        return dict(pairs)
    try:
        return json.loads(data, object_pairs_hook=hook)
    except ValueError:
        return None


def test_schemas_are_valid_2020_12():
    s = cf.schemas()
    assert set(s.docs) == {"common", "request", "acquire-reply", "status-reply",
                           "networks-reply", "error-reply", "release-reply", "forward-reply",
                           "forward-list-reply", "stop-reply", "wait-address-reply"}
    for name, doc in s.docs.items():
        assert doc["$id"].endswith("/%s.schema.json" % name)


@pytest.mark.parametrize("name,case", CASES, ids=[n for n, _ in CASES])
def test_golden_request_is_valid(name, case):
    if case["request"] is None:
        return
    cf.schemas().validate("request", case["request"])
    assert (case["request_fds"] == 1) == (case["request"].get("port") == "netns")


@pytest.mark.parametrize("name,case", [(n, c) for n, c in CASES if "reply_bytes" in c],
                         ids=[n for n, c in CASES if "reply_bytes" in c])
def test_golden_reply_is_valid_when_it_says_so(name, case):
    reply = _strict(case["reply_bytes"])
    command = case["call"]["command"]
    if reply is None or not isinstance(reply, dict):
        errors = ["not a JSON object"]
    elif "error" in reply:
        errors = cf.schemas().errors("error-reply", reply)
    else:
        errors = cf.schemas().errors(cf.REPLY_SCHEMAS[command], reply)
    if case.get("valid", True):
        assert errors == [], errors
    else:
        assert errors, "the schema takes a reply the daemon must never send"


BAD_REQUESTS = [
    {"command": "acquire"},
    {"command": "acquire", "network_name": "a/b"},
    {"command": "acquire", "network_name": "a..b"},
    {"command": "acquire", "network_name": "x" * 65},
    {"command": "acquire", "network_name": "shared", "colour": "blue"},
    {"command": "acquire", "network_name": "shared", "port": "vhost"},
    {"command": "acquire", "network_name": "shared", "mac": "01:00:5e:00:00:01"},
    {"command": "acquire", "network_name": "shared", "mac": "00:00:00:00:00:00"},
    {"command": "acquire", "network_name": "shared", "label": "a\nb"},
    {"command": "acquire", "network_name": "shared", "ifname": "eth0"},
    {"command": "acquire", "network_name": "shared", "port": "netns", "ifname": "a/b"},
    {"command": "acquire", "network_name": "shared", "port": "none", "vnet_hdr": True},
    {"command": "acquire", "network_name": "shared", "multi_queue": 17},
    {"command": "acquire", "network_name": "shared", "port": "none",
     "port_forwards": [{"protocol": "tcp", "external_port": 1, "internal_port": 1}]},
    {"command": "acquire", "network_name": "shared", "port_forwards": [
        {"protocol": "tcp", "external_port": 1, "internal_port": 1, "internal_address": "1.2.3.4"}]},
    {"command": "acquire", "network_name": "shared", "port_forwards": [
        {"protocol": "sctp", "external_port": 1, "internal_port": 1}]},
    {"command": "status", "network_name": "shared"},
    {"command": "wait_address"},
    {"command": "wait_address", "ifname": "vmtap0", "label": "vm1"},
    {"command": "wait_address", "label": ""},
    {"command": "wait_address", "ifname": "vmtap0", "timeout": -1},
    {"command": "wait_address", "ifname": "vmtap0", "timeout": 3601},
    {"command": "wait_address", "ifname": "vmtap0", "port": "tap"},
    {"command": "STATUS"},
    {},
]


@pytest.mark.parametrize("request_", BAD_REQUESTS, ids=[json.dumps(r)[:60] for r in BAD_REQUESTS])
def test_schema_refuses_what_the_daemon_refuses(request_):
    assert cf.schemas().errors("request", request_)
