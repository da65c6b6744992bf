"""conformance - the protocol's golden messages and schema, for every client's tests.

The data lives in protocol/ at the top of the tree:

    protocol/schema/*.schema.json   JSON Schema (2020-12) of each message
    protocol/golden/*.json          golden cases: an API call, the exact
                                    request it must send, the reply the
                                    daemon gives, and the outcome every
                                    client must report

Each client language has a runner with one command line,

    RUNNER SOCKET CASE.json

that makes the case's "call" through that language's client against
SOCKET and prints the outcome as one JSON object (see outcome_of() for
what it holds). test_golden.py runs every case for every runner against a
fake daemon that checks the request and sends the golden reply;
test/system/test_conformance.py runs scenarios, and the golden requests,
against the real daemon. Used from pytest and from bench/.
"""
import json
import os
import socket
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
PROTOCOL = os.path.join(REPO, "protocol")
SCHEMA_DIR = os.path.join(PROTOCOL, "schema")
GOLDEN_DIR = os.path.join(PROTOCOL, "golden")
BUILD = os.environ.get("VMNET_BUILD") or os.path.join(REPO, "build")
PYTHON = "/usr/bin/python3"
PYTHON_SRC = os.path.join(REPO, "python")

# The runners, by language: argv before SOCKET CASE.
RUNNERS = {
    "c": [os.path.join(BUILD, "vmnet-broker-conformance")],
    "go": [os.path.join(BUILD, "go", "vmnet-broker-conformance-go")],
    "python": [PYTHON, "-B", os.path.join(HERE, "runner.py")],
}

# Which schema a reply to each command is checked against.
REPLY_SCHEMAS = {"acquire": "acquire-reply", "status": "status-reply",
                 "networks": "networks-reply", "release": "release-reply",
                 "forward_add": "forward-reply", "forward_remove": "forward-reply",
                 "forward_list": "forward-list-reply", "stop": "stop-reply",
                 "wait_address": "wait-address-reply"}


def runner_env():
    """The environment runners need: the Python package on the path, the library beside."""
    env = dict(os.environ)
    env["PYTHONPATH"] = PYTHON_SRC + (":" + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["LD_LIBRARY_PATH"] = BUILD
    env.pop("VMNET_BROKER_SOCKET", None)
    return env


def runner_missing(lang):
    """Why @lang's runner cannot run, or None."""
    exe = RUNNERS[lang][0] if lang != "python" else RUNNERS[lang][2]
    if not os.path.exists(exe):
        return "%s is not built (make)" % exe
    return None


# ----------------------------------------------------------------- schema

class Schemas:
    """Every *.schema.json, validating by name: schemas.validate("status-reply", obj)."""

    def __init__(self, directory=SCHEMA_DIR):
        import jsonschema
        self.jsonschema = jsonschema
        self.docs = {}
        for name in sorted(os.listdir(directory)):
            if name.endswith(".schema.json"):
                with open(os.path.join(directory, name)) as f:
                    self.docs[name[:-len(".schema.json")]] = json.load(f)
        cls = jsonschema.Draft202012Validator
        for doc in self.docs.values():
            cls.check_schema(doc)
        try:
            # jsonschema >= 4.18: the referencing library.
            from referencing import Registry, Resource
            registry = Registry().with_resources(
                (d["$id"], Resource.from_contents(d)) for d in self.docs.values())
            self.validators = {n: cls(d, registry=registry) for n, d in self.docs.items()}
        except ImportError:
            store = {d["$id"]: d for d in self.docs.values()}
            self.validators = {
                n: cls(d, resolver=jsonschema.RefResolver.from_schema(d, store=store))
                for n, d in self.docs.items()}

    def errors(self, name, obj):
        """Every way @obj breaks schema @name, as text; [] when it is valid."""
        out = []
        for e in sorted(self.validators[name].iter_errors(obj), key=lambda e: list(e.path)):
            where = "/".join(str(p) for p in e.absolute_path) or "(top)"
            out.append("%s: %s" % (where, e.message))
            for sub in (e.context or [])[:6]:
                out.append("    %s: %s" % ("/".join(str(p) for p in sub.absolute_path)
                                           or "(top)", sub.message))
        return out

    def validate(self, name, obj):
        errs = self.errors(name, obj)
        if errs:
            raise AssertionError("not a valid %s:\n  %s\n%s" % (
                name, "\n  ".join(errs), json.dumps(obj)[:2000]))

    def validate_reply(self, command, reply):
        """A reply of the daemon to @command: an error reply or that command's reply."""
        if isinstance(reply, dict) and "error" in reply:
            self.validate("error-reply", reply)
        else:
            self.validate(REPLY_SCHEMAS[command], reply)


_schemas = None


def schemas():
    global _schemas
    if _schemas is None:
        _schemas = Schemas()
    return _schemas


# ----------------------------------------------------------------- golden cases

def golden_cases():
    """[(name, case)] of protocol/golden/*.json, with any reply_file read in."""
    out = []
    for name in sorted(os.listdir(GOLDEN_DIR)):
        if not name.endswith(".json") or name.endswith(".reply.json"):
            continue
        with open(os.path.join(GOLDEN_DIR, name)) as f:
            case = json.load(f)
        if "reply_file" in case:
            with open(os.path.join(GOLDEN_DIR, case["reply_file"]), "rb") as f:
                case["reply_bytes"] = f.read()
        elif "reply_text" in case:
            case["reply_bytes"] = case["reply_text"].encode()
        elif "reply" in case:
            case["reply_bytes"] = json.dumps(case["reply"], separators=(",", ":")).encode()
        out.append((name[:-len(".json")], case))
    return out


def reply_of(case):
    """The golden reply decoded (None when it is not JSON)."""
    if "reply" in case:
        return case["reply"]
    try:
        return json.loads(case["reply_bytes"])
    except (KeyError, ValueError):
        return None


def expected_value(case):
    """What a runner must print as "value" for a successful case."""
    o = case["outcome"]
    if "value" in o:
        return o["value"]
    reply = reply_of(case)
    if case["call"]["command"] == "acquire":
        return reply["network"]
    return reply


def check_outcome(case, got):
    """Compare a runner's outcome with the case's; raise AssertionError on a difference."""
    want = case["outcome"]
    assert got.get("status") == want["status"], (want, got)
    if want["status"] == 0:
        assert got.get("value") == expected_value(case), (
            "value differs:\n want %s\n got  %s" % (json.dumps(expected_value(case))[:3000],
                                                     json.dumps(got.get("value"))[:3000]))
        assert got.get("fds") == want.get("fds", 0), (want, got)
    else:
        assert got.get("name") == want.get("name", got.get("name")), (want, got)
        if "message" in want:
            assert got.get("message") == want["message"], (want, got)
        else:
            assert isinstance(got.get("message"), str) and got["message"], got
        # A failure leaves the client holding nothing.
        assert not got.get("fds"), got


# ----------------------------------------------------------------- a fake daemon

class FakeDaemon:
    """Serves one golden case on a unix socket: records the request, sends the reply.

    The reply's fds are /dev/null, as many as the case says; the fake
    keeps no copy, so a client that leaks them is seen in /proc.
    """

    def __init__(self, path, case):
        self.path = path
        self.case = case
        self.requests = []   # (decoded JSON or the bytes, fd count)
        self.error = None
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.listener.bind(path)
        self.listener.listen(4)
        self.listener.settimeout(0.1)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _accept(self):
        deadline = time.monotonic() + 30
        while not self.stop.is_set() and time.monotonic() < deadline:
            try:
                return self.listener.accept()[0]
            except socket.timeout:
                continue
        return None

    def _serve(self):
        conn = self._accept()
        if conn is None:
            return
        with conn:
            conn.settimeout(20)
            try:
                data, anc, _, _ = conn.recvmsg(1 << 20, socket.CMSG_SPACE(64))
            except OSError as e:
                self.error = "no request: %s" % e
                return
            fds = []
            for level, kind, payload in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    fds += [int.from_bytes(payload[i:i + 4], "little")
                            for i in range(0, len(payload) - len(payload) % 4, 4)]
            for fd in fds:
                os.close(fd)
            try:
                body = json.loads(data)
            except ValueError:
                body = data
            self.requests.append((body, len(fds)))
            if self.case.get("close"):
                return
            n = self.case.get("reply_fds", 0)
            out = [os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC) for _ in range(n)]
            try:
                anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                        b"".join(fd.to_bytes(4, "little") for fd in out))] if out else []
                conn.sendmsg([self.case["reply_bytes"]], anc)
                # The client must read it before we go: wait for its close.
                conn.settimeout(0.1)
                while not self.stop.is_set():
                    try:
                        if not conn.recv(1):
                            break
                    except socket.timeout:
                        continue
                    except OSError:
                        break
            finally:
                for fd in out:
                    os.close(fd)

    def close(self):
        self.stop.set()
        self.thread.join(10)
        self.listener.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
