"""Every client against the golden messages, through a fake daemon.

For each case of protocol/golden/ and each runner (C library, Go package,
Python package): the fake daemon checks that the request is exactly the
golden one (and carries the golden number of fds), sends the golden reply
(with as many fds), and the runner's outcome must be the golden outcome,
with no fd left open after the call. Needs no root and no daemon.
"""
import json
import os
import subprocess
import tempfile

import pytest

import conformance as cf

CASES = cf.golden_cases()
LANGS = sorted(cf.RUNNERS)


def run_case(lang, name, case, tmp):
    sock = os.path.join(tmp, "sock")
    fake = None
    if case.get("server") != "none":
        fake = cf.FakeDaemon(sock, case)
    path = os.path.join(cf.GOLDEN_DIR, name + ".json")
    try:
        p = subprocess.run(cf.RUNNERS[lang] + [sock, path], capture_output=True, text=True,
                           timeout=60, env=cf.runner_env(), stdin=subprocess.DEVNULL)
    finally:
        if fake:
            fake.close()
    assert p.returncode == 0, "runner failed (%d):\n%s\n%s" % (p.returncode, p.stdout,
                                                               p.stderr)
    return json.loads(p.stdout), fake


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("name,case", CASES, ids=[n for n, _ in CASES])
def test_golden(lang, name, case):
    why = cf.runner_missing(lang)
    if why:
        pytest.fail(why)
    with tempfile.TemporaryDirectory(prefix="vmnet-golden-") as tmp:
        got, fake = run_case(lang, name, case, tmp)
    if fake is not None:
        want = [] if case["request"] is None else [(case["request"], case["request_fds"])]
        assert fake.requests == want, "request differs"
    cf.check_outcome(case, got)
    assert got["leaked_fds"] == [], "fds left open: %s" % got["leaked_fds"]


def test_every_code_is_covered():
    codes = {case["outcome"]["status"] for _, case in CASES}
    assert set(range(11)) <= codes | {0}, sorted(codes)
    commands = {case["call"]["command"] for _, case in CASES}
    assert commands == {"acquire", "status", "networks", "release", "forward_add",
                        "forward_remove", "forward_list", "stop", "wait_address"}
    kinds = {case["reply"]["network"]["port"]["kind"] for _, case in CASES
             if case["outcome"]["status"] == 0 and case["call"]["command"] == "acquire"}
    assert kinds == {"tap", "netns", "named_tap", "none"}
    assert any(len(case.get("reply_bytes", b"")) > 65536 for _, case in CASES)
    assert any(case.get("reply_fds", 0) > 1 for _, case in CASES)
