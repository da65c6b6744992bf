"""A small stand-in for systemd's socket activation, for the system tests.

Like a `.socket` unit with `ListenSequentialPacket=`, `SocketMode=` and
`SocketGroup=` plus a `Type=notify` service: it owns the listening socket,
starts the daemon (in a network namespace of the test) when a client
connects and no daemon runs, passes the socket as fd 3 with LISTEN_FDS=1
and LISTEN_PID, and collects what the daemon sends to NOTIFY_SOCKET.
When the daemon exits (--exit-idle), the socket stays, and the next
connection starts a new daemon, as systemd does.
"""
import os
import socket
import subprocess
import threading
import time


class Activator:
    def __init__(self, ns, argv, sock_path, log_path, notify_path, group=None, mode=0o666,
                 env=None):
        self.ns = ns
        self.argv = list(argv)
        self.sock_path = sock_path
        self.log_path = log_path
        self.env = env
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.listener.bind(sock_path)
        os.chown(sock_path, 0, group if group is not None else 0)
        os.chmod(sock_path, mode)
        self.listener.listen(64)
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(notify_path)
        self.notify_path = notify_path
        self.notify.settimeout(0.1)
        self.messages = []   # (pid, text) from NOTIFY_SOCKET
        self.started = []    # pids, in order
        self.exits = []      # (pid, returncode)
        self.proc = None
        self.failed_starts = 0  # in a row; like systemd's StartLimitBurst, give up at 5
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._activate, daemon=True),
                         threading.Thread(target=self._collect, daemon=True)]
        for t in self._threads:
            t.start()

    # Runs in the daemon's namespace and becomes the daemon (exec keeps
    # the pid, as LISTEN_PID must name it): the listener goes to fd 3.
    TRAMPOLINE = (
        "import os, sys\n"
        "fd = int(sys.argv[1])\n"
        "if fd != 3:\n"
        "    os.dup2(fd, 3)\n"
        "    os.close(fd)\n"
        "os.environ.update(LISTEN_PID=str(os.getpid()), LISTEN_FDS='1', LISTEN_FDNAMES='broker')\n"
        "os.execv(sys.argv[2], sys.argv[2:])\n")

    def _spawn(self):
        fd = self.listener.fileno()
        env = dict(os.environ if self.env is None else self.env)
        for k in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
            env.pop(k, None)
        env["NOTIFY_SOCKET"] = self.notify_path
        with open(self.log_path, "ab") as log:
            p = subprocess.Popen(["ip", "netns", "exec", self.ns, "/usr/bin/python3", "-B", "-c",
                                  self.TRAMPOLINE, str(fd), *self.argv],
                                 stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                 pass_fds=(fd,), env=env)
        self.started.append(p.pid)
        return p

    def _activate(self):
        import select
        while not self._stop.is_set():
            with self._lock:
                if self.proc is not None and self.proc.poll() is not None:
                    self.exits.append((self.proc.pid, self.proc.returncode))
                    self.failed_starts = self.failed_starts + 1 if self.proc.returncode else 0
                    self.proc = None
                running = self.proc is not None
            if self.failed_starts >= 5:
                return
            if running:
                time.sleep(0.05)
                continue
            r, _, _ = select.select([self.listener], [], [], 0.05)
            if r and not self._stop.is_set():
                with self._lock:
                    self.proc = self._spawn()

    def _collect(self):
        while not self._stop.is_set():
            try:
                data, _ = self.notify.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            self.messages.append(data.decode(errors="replace"))

    def running_pid(self):
        with self._lock:
            if self.proc is not None and self.proc.poll() is None:
                return self.proc.pid
        return None

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return "(no log)"

    def close(self):
        """Stop activating, SIGTERM a running daemon, close the sockets."""
        self._stop.set()
        for t in self._threads:
            t.join(5)
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None:
            self.exits.append((self.proc.pid, self.proc.returncode))
            self.proc = None
        self.listener.close()
        self.notify.close()
        for path in (self.sock_path, self.notify_path):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
