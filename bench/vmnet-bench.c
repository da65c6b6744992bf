/* vmnet-bench.c - the C side of `make bench`: port latency and scale, timed in-process
 *
 * bench/bench.py runs this inside the daemon's network namespace (never the
 * machine's own) and reads the JSON it prints on stdout.
 *
 *   vmnet-bench ports --socket S [--network shared] [--n 400] [--batch 10]
 *               [--settle-us 3000] [--helper PATH] [--qbh PATH] [--script PATH]
 *               [--go PATH] [--python PATH]
 *               [--methods library,helper,qbh,script,floor,minimal,ipc,go,python]
 *
 *     Time getting a TAP attached to the network's bridge, up, with its fd
 *     in hand, N times per method, interleaved in rounds of --batch so
 *     that noise from the rest of the machine falls on every method alike:
 *
 *       library  vmnet_broker_acquire_network_with_options() in this process
 *       helper   vmnet-broker-qemu-helper spawned as QEMU spawns it
 *                (socketpair, --use-vnet --fd=N --br=NETWORK, recvmsg, waitpid)
 *       qbh      QEMU's qemu-bridge-helper, the same way, on the same bridge
 *       script   `sh SCRIPT add NAME BRIDGE` (ip tuntap add; ip link set
 *                master up), then TUNSETIFF to open it as QEMU's ifname= does
 *       floor    the kernel work of a port ready to forward, as the daemon
 *                asks for it, in-process: open /dev/net/tun + TUNSETIFF,
 *                IPv6 off, one RTM_NEWLINK (master, up), RTM_GETLINK (which
 *                makes the bridge port forward now rather than within a
 *                second: see the daemon's netlink_link_sync())
 *       minimal  the least a launcher can do (diagnostic): TUNSETIFF,
 *                SIOCBRADDIF, SIOCSIFFLAGS up; IPv6 on, the port not yet
 *                forwarding when it returns
 *       ipc      no port (diagnostic): connect to a unix socket, send a
 *                request, get a reply carrying an fd from another process,
 *                as the library does with the daemon; what any broker pays
 *                on top of the floor
 *       go       the Go package's Acquire(), in a worker process (--go, a
 *                build of go/internal/benchworker) started once
 *       python   the Python package's acquire(), in a worker process
 *                (--python, bench/worker.py) started once
 *       c-worker the library again, in such a worker (this program's
 *                `worker` command): what timing in a worker costs (diagnostic)
 *
 *     "release" is what ends the port: close() of the TAP fd (the kernel
 *     destroys it), and for the script also `sh SCRIPT del NAME`.
 *
 *   vmnet-bench worker --socket S --network NAME
 *
 *     The library as a worker of the ports command (fd 3; method c-worker).
 *
 *   vmnet-bench scale --socket S --network NAME [--ports 1000] [--cycles 100]
 *               [--networks-file FILE] [--status-n 50] [--daemon-pid PID]
 *
 *     Hold --ports TAPs on NAME and one TAP on every network named in FILE
 *     (created cold, one by one), and report acquire latency at the start
 *     and at the end, the daemon's memory (and its dnsmasq children's) at
 *     each stage, and how long `status` takes on the full daemon. Beside
 *     the broker, the kernel floor at the same scale: a port on the first
 *     and the last network, and the bridge of a new network, made and
 *     addressed in-process as the daemon makes it.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <dirent.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vmnet-broker.h"

extern char **environ;

#define die(...)                                              \
	do {                                                  \
		fprintf(stderr, "vmnet-bench: " __VA_ARGS__); \
		fputc('\n', stderr);                          \
		exit(1);                                      \
	} while (0)

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void sleep_us(long us)
{
	struct timespec ts = { .tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* ------------------------------------------------------------------ samples */

struct samples {
	double *v;
	size_t n, cap;
};

static void samples_add(struct samples *s, double x)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 256;
		s->v = realloc(s->v, s->cap * sizeof(double));
		if (!s->v)
			die("out of memory");
	}
	s->v[s->n++] = x;
}

static void samples_print(FILE *f, const char *key, const struct samples *s)
{
	fprintf(f, "\"%s\": [", key);
	for (size_t i = 0; i < s->n; i++)
		fprintf(f, "%s%.1f", i ? "," : "", s->v[i]);
	fputs("]", f);
}

/* ------------------------------------------------------------------ kernel floor */

static int ctl_sock(void)
{
	static int fd = -1;

	if (fd < 0) {
		fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			die("socket: %m");
	}
	return fd;
}

/* open /dev/net/tun and TUNSETIFF @name (may hold %d); Return: fd, name filled in. */
static int tap_open(char name[IFNAMSIZ], bool vnet_hdr)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | (vnet_hdr ? IFF_VNET_HDR : 0) };
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		die("open /dev/net/tun: %m");
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0)
		die("TUNSETIFF %s: %m", name);
	memcpy(name, ifr.ifr_name, IFNAMSIZ);
	return fd;
}

/* @name's index, from the kept socket (if_nametoindex() opens one each time). */
static int ifindex_of(const char *name)
{
	struct ifreq ifr = { 0 };

	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	if (ioctl(ctl_sock(), SIOCGIFINDEX, &ifr) < 0)
		die("SIOCGIFINDEX %s: %m", name);
	return ifr.ifr_ifindex;
}

/* The least a launcher does: SIOCBRADDIF, then SIOCSIFFLAGS up. */
static void minimal_attach(const char *name, int bridge_ifindex)
{
	static char bridge[IFNAMSIZ];
	static int bridge_cached;
	struct ifreq ifr = { 0 }, br = { .ifr_ifindex = ifindex_of(name) };

	if (bridge_cached != bridge_ifindex) {
		if (!if_indextoname((unsigned)bridge_ifindex, bridge))
			die("bridge %d: %m", bridge_ifindex);
		bridge_cached = bridge_ifindex;
	}
	memcpy(br.ifr_name, bridge, IFNAMSIZ);
	if (ioctl(ctl_sock(), SIOCBRADDIF, &br) < 0)
		die("SIOCBRADDIF: %m");
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	if (ioctl(ctl_sock(), SIOCGIFFLAGS, &ifr) < 0)
		die("SIOCGIFFLAGS: %m");
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(ctl_sock(), SIOCSIFFLAGS, &ifr) < 0)
		die("SIOCSIFFLAGS: %m");
}

/* Turn IPv6 off on @name, as the daemon does on its ports. */
static void no_ipv6(const char *name)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "1", 1) != 1)
		die("%s: %m", path);
	close(fd);
}

/* A kept rtnetlink socket for the floor's two requests. */
static int nl_sock(void)
{
	static int fd = -1;

	if (fd < 0) {
		fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
		if (fd < 0)
			die("netlink socket: %m");
	}
	return fd;
}

/* Read one reply; die on an error reply. Return: its type. */
static int nl_reply(const char *what)
{
	char buf[8192];
	const struct nlmsghdr *h = (const struct nlmsghdr *)buf;
	ssize_t n;

	n = recv(nl_sock(), buf, sizeof(buf), 0);
	if (n < 0)
		die("%s: recv: %m", what);
	if (n < (ssize_t)sizeof(*h))
		die("%s: short reply", what);
	if (h->nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *e = NLMSG_DATA(h);

		if (e->error)
			die("%s: %s", what, strerror(-e->error));
	}
	return h->nlmsg_type;
}

/* Send @req, read its one reply; die on an error reply. */
static void nl_request(const void *req, size_t len, const char *what)
{
	if (send(nl_sock(), req, len, 0) != (ssize_t)len)
		die("%s: send: %m", what);
	(void)nl_reply(what);
}

/* One RTM_NEWLINK: master @bridge_ifindex and up, as the daemon asks for it. */
static void floor_attach(int ifindex, int bridge_ifindex)
{
	struct {
		struct nlmsghdr h;
		struct ifinfomsg i;
		struct rtattr a;
		uint32_t master;
	} req = {
		.h = { .nlmsg_len = sizeof(req),
		       .nlmsg_type = RTM_NEWLINK,
		       .nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK },
		.i = { .ifi_family = AF_UNSPEC,
		       .ifi_index = ifindex,
		       .ifi_flags = IFF_UP,
		       .ifi_change = IFF_UP },
		.a = { .rta_len = RTA_LENGTH(sizeof(uint32_t)), .rta_type = IFLA_MASTER },
		.master = (uint32_t)bridge_ifindex,
	};

	nl_request(&req, sizeof(req), "RTM_NEWLINK");
}

/*
 * RTM_GETLINK on @ifindex: since Linux 6.8 it runs the link's pending
 * link-watch work at once, so the new bridge port forwards on return, as
 * the daemon's do (its netlink_link_sync()). Without it the port stays
 * disabled until a kernel worker gets to it, up to a second later.
 */
static void link_sync(int ifindex)
{
	struct {
		struct nlmsghdr h;
		struct ifinfomsg i;
	} req = {
		.h = { .nlmsg_len = sizeof(req), .nlmsg_type = RTM_GETLINK, .nlmsg_flags = NLM_F_REQUEST },
		.i = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex },
	};

	nl_request(&req, sizeof(req), "RTM_GETLINK");
}

/*
 * The floor: the kernel work the daemon asks for on a port, in-process
 * and without its bookkeeping. A TAP (fd returned, @name filled in), IPv6
 * off, master and up in one request, synced so that it forwards.
 */
static int floor_port(char name[IFNAMSIZ], int bridge_ifindex)
{
	int fd = tap_open(name, true), ifindex;

	no_ipv6(name);
	ifindex = ifindex_of(name);
	floor_attach(ifindex, bridge_ifindex);
	link_sync(ifindex);
	return fd;
}

/* The TAP's name, from its fd. */
static void tap_name(int fd, char name[IFNAMSIZ])
{
	struct ifreq ifr = { 0 };

	if (ioctl(fd, TUNGETIFF, &ifr) < 0)
		die("TUNGETIFF: %m");
	memcpy(name, ifr.ifr_name, IFNAMSIZ);
}

static void wait_gone(const char *name)
{
	for (int i = 0; if_nametoindex(name) != 0; i++) {
		if (i > 200000)
			die("%s never went away", name);
		sleep_us(50);
	}
}

/* ------------------------------------------------------------------ spawning helpers */

static pid_t spawn(char *const argv[], int child_fd3)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int r;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (child_fd3 >= 0)
		posix_spawn_file_actions_adddup2(&fa, child_fd3, 3);
	r = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (r != 0) {
		errno = r;
		die("spawn %s: %m", argv[0]);
	}
	return pid;
}

static void wait_ok(pid_t pid, const char *what)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			die("waitpid: %m");
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		die("%s failed (status 0x%x)", what, st);
}

static int recv_fd(int sock)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = control.buf,
		.msg_controllen = sizeof(control.buf),
	};
	struct cmsghdr *c;
	ssize_t n;
	int fd;

	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return -1;
	c = CMSG_FIRSTHDR(&mh);
	if (!c || c->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

/* QEMU's net_bridge_run_helper(): socketpair, run HELPER --use-vnet --fd=N --br=BR, recv, wait. */
static int run_bridge_helper(const char *helper, const char *br)
{
	char fdarg[] = "--fd=3", brarg[64];
	char *argv[] = { (char *)helper, "--use-vnet", fdarg, brarg, NULL };
	int sv[2], fd;
	pid_t pid;

	snprintf(brarg, sizeof(brarg), "--br=%s", br);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		die("socketpair: %m");
	pid = spawn(argv, sv[1]);
	close(sv[1]);
	fd = recv_fd(sv[0]);
	close(sv[0]);
	wait_ok(pid, helper);
	if (fd < 0)
		die("%s passed no fd", helper);
	return fd;
}

static void run_script(const char *script, const char *action, const char *name, const char *br)
{
	char *argv[] = { "/bin/sh", (char *)script, (char *)action, (char *)name, (char *)br, NULL };

	wait_ok(spawn(argv, -1), script);
}

/* ------------------------------------------------------------------ library */

static const char *sock_path;

static struct vmnet_broker_options *tap_options(void)
{
	struct vmnet_broker_options *o = vmnet_broker_options_new();

	if (!o || vmnet_broker_options_set_socket(o, sock_path) ||
	    vmnet_broker_options_set_port(o, "tap") || vmnet_broker_options_set_vnet_hdr(o, true) ||
	    vmnet_broker_options_set_label(o, "vmnet-bench"))
		die("options");
	return o;
}

/* Acquire a TAP on @network; Return: its fd (the handle is released). */
static int lib_acquire(const char *network, const struct vmnet_broker_options *o, char *bridge,
		       vmnet_broker_return_t *ret_status)
{
	vmnet_broker_return_t s;
	struct vmnet_broker_network *net = vmnet_broker_acquire_network_with_options(network, o, &s);
	int fd;

	if (!net) {
		if (ret_status) {
			*ret_status = s;
			return -1;
		}
		die("acquire %s: %s: %s", network, vmnet_broker_status_name(s),
		    vmnet_broker_last_error_message());
	}
	if (bridge)
		snprintf(bridge, IFNAMSIZ, "%s", vmnet_broker_network_bridge(net));
	fd = vmnet_broker_network_take_fd(net, 0);
	vmnet_broker_network_release(net);
	if (fd < 0)
		die("no TAP fd in the reply");
	return fd;
}

/* ------------------------------------------------------------------ ports */

enum method {
	M_LIBRARY,
	M_HELPER,
	M_QBH,
	M_SCRIPT,
	M_FLOOR,
	M_MINIMAL,
	M_IPC,
	M_GO,
	M_PYTHON,
	M_CWORKER,
	_M_MAX
};
static const char *const method_names[] = { "library", "helper", "qbh", "script", "floor",
					    "minimal", "ipc",    "go",  "python", "c-worker" };

struct ports_args {
	const char *network, *helper, *qbh, *script, *go, *python;
	bool on[_M_MAX];
	unsigned int n, batch;
	long settle_us, hold_us;
};

/* The "ipc" method's peer: an abstract unix socket name, and its pid. */
static struct sockaddr_un ipc_addr;
static socklen_t ipc_addr_len;
static pid_t ipc_pid;

/* Answer each connection's request with ~256 bytes and an fd, as the daemon does. */
static void ipc_serve(int lfd)
{
	int fd_to_pass = open("/dev/null", O_RDONLY | O_CLOEXEC);
	char buf[4096], reply[256];

	memset(reply, 'x', sizeof(reply));
	for (;;) {
		int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		union {
			char b[CMSG_SPACE(sizeof(int))];
			struct cmsghdr align;
		} u = { 0 };
		struct iovec iov = { .iov_base = reply, .iov_len = sizeof(reply) };
		struct msghdr msg = { .msg_iov = &iov,
				      .msg_iovlen = 1,
				      .msg_control = u.b,
				      .msg_controllen = sizeof(u.b) };
		struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

		if (c < 0)
			_exit(1);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd_to_pass, sizeof(int));
		if (recv(c, buf, sizeof(buf), 0) > 0)
			(void)sendmsg(c, &msg, MSG_NOSIGNAL);
		close(c);
	}
}

static void ipc_start(void)
{
	int lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	if (lfd < 0)
		die("socket: %m");
	ipc_addr.sun_family = AF_UNIX;
	snprintf(ipc_addr.sun_path + 1, sizeof(ipc_addr.sun_path) - 1, "vmnet-bench-ipc-%d",
		 (int)getpid());
	ipc_addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
				   strlen(ipc_addr.sun_path + 1));
	if (bind(lfd, (struct sockaddr *)&ipc_addr, ipc_addr_len) < 0 || listen(lfd, 16) < 0)
		die("ipc socket: %m");
	ipc_pid = fork();
	if (ipc_pid < 0)
		die("fork: %m");
	if (ipc_pid == 0) {
		/* Gone with us however we end (die() exits without ipc_stop()),
		 * and holding none of our output: bench.py reads it to EOF. */
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);

		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() == 1 || null < 0 ||
		    dup2(null, STDOUT_FILENO) < 0 || dup2(null, STDERR_FILENO) < 0)
			_exit(1);
		ipc_serve(lfd);
	}
	close(lfd);
}

static void ipc_stop(void)
{
	if (ipc_pid > 0) {
		kill(ipc_pid, SIGKILL);
		waitpid(ipc_pid, NULL, 0);
	}
}

/* One request/reply with the "ipc" peer; Return: the fd it passed. */
static int ipc_round_trip(void)
{
	char req[96], buf[1024];
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.b, .msg_controllen = sizeof(u.b)
	};
	struct cmsghdr *cm;
	int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0), fd;

	memset(req, 'r', sizeof(req));
	if (s < 0 || connect(s, (struct sockaddr *)&ipc_addr, ipc_addr_len) < 0 ||
	    send(s, req, sizeof(req), 0) < 0 || recvmsg(s, &msg, MSG_CMSG_CLOEXEC) <= 0)
		die("ipc round trip: %m");
	cm = CMSG_FIRSTHDR(&msg);
	if (!cm || cm->cmsg_type != SCM_RIGHTS)
		die("ipc round trip: no fd");
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	close(s);
	return fd;
}

/* ------------------------------------------------------------------ the Go and Python clients */

/*
 * The Go and Python clients are timed in worker processes of their own,
 * started once per run and warmed up like every method. For each byte that
 * arrives on its fd 3 (one end of a SOCK_SEQPACKET pair) a worker acquires
 * a TAP with its client, making the same request as lib_acquire() (tap,
 * vnet_hdr, label "vmnet-bench", on --network), and sends back the time
 * that took, in microseconds as text, with the TAP's fd; then it closes
 * its copy. Its own clock: the round trip to us is no cost of the client.
 */
struct worker {
	pid_t pid;
	int sock;
};

static struct worker workers[_M_MAX];

static void worker_start(enum method m, const struct ports_args *a)
{
	char *go_argv[] = { (char *)a->go, "--socket",         (char *)sock_path,
			    "--network",   (char *)a->network, NULL };
	char *py_argv[] = { "/usr/bin/python3", "-B",        (char *)a->python,  "--socket",
			    (char *)sock_path,  "--network", (char *)a->network, NULL };
	char *c_argv[] = { "/proc/self/exe", "worker",           "--socket", (char *)sock_path,
			   "--network",      (char *)a->network, NULL };
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		die("socketpair: %m");
	workers[m].pid = spawn(m == M_GO ? go_argv : m == M_PYTHON ? py_argv : c_argv, sv[1]);
	workers[m].sock = sv[0];
	close(sv[1]);
}

static void worker_stop(enum method m)
{
	if (workers[m].pid <= 0)
		return;
	close(workers[m].sock); /* the worker sees EOF and exits */
	wait_ok(workers[m].pid, method_names[m]);
	workers[m].pid = 0;
}

/* One acquire in worker @m; Return: the TAP's fd, with its time in *@ret_us. */
static int worker_acquire(enum method m, double *ret_us)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	char text[64];
	struct iovec iov = { .iov_base = text, .iov_len = sizeof(text) - 1 };
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = control.buf,
		.msg_controllen = sizeof(control.buf),
	};
	struct cmsghdr *c;
	ssize_t n;
	int fd;

	if (send(workers[m].sock, "a", 1, MSG_NOSIGNAL) != 1)
		die("%s worker: %m", method_names[m]);
	do
		n = recvmsg(workers[m].sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	c = CMSG_FIRSTHDR(&mh);
	if (n <= 0 || !c || c->cmsg_type != SCM_RIGHTS)
		die("%s worker failed (see its message above)", method_names[m]);
	text[n] = '\0';
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	*ret_us = strtod(text, NULL);
	return fd;
}

/* `vmnet-bench worker`: the library as a worker, the same way as the others. */
static int cmd_worker(const char *network)
{
	struct vmnet_broker_options *o = tap_options();
	char byte;

	while (recv(3, &byte, 1, 0) == 1) {
		union {
			struct cmsghdr align;
			char buf[CMSG_SPACE(sizeof(int))];
		} control = { 0 };
		char text[32];
		struct iovec iov = { .iov_base = text };
		struct msghdr mh = { .msg_iov = &iov,
				     .msg_iovlen = 1,
				     .msg_control = control.buf,
				     .msg_controllen = sizeof(control.buf) };
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		double t0 = now_us();
		int fd = lib_acquire(network, o, NULL, NULL);

		iov.iov_len = (size_t)snprintf(text, sizeof(text), "%.1f", now_us() - t0);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
		if (sendmsg(3, &mh, MSG_NOSIGNAL) < 0)
			die("worker: %m");
		close(fd);
	}
	vmnet_broker_options_free(o);
	return 0;
}

static void one_port(enum method m, const struct ports_args *a, const struct vmnet_broker_options *o,
		     const char *bridge, int bridge_ifindex, double *acq, double *rel)
{
	char name[IFNAMSIZ];
	double t0, t1, t1b, t2, worker_us = 0;
	int fd;

	t0 = now_us();
	switch (m) {
	case M_LIBRARY:
		fd = lib_acquire(a->network, o, NULL, NULL);
		break;
	case M_HELPER:
		fd = run_bridge_helper(a->helper, a->network);
		break;
	case M_QBH:
		fd = run_bridge_helper(a->qbh, bridge);
		break;
	case M_SCRIPT:
		snprintf(name, sizeof(name), "vmbsc%d", (int)getpid() % 10000);
		run_script(a->script, "add", name, bridge);
		fd = tap_open(name, true); /* what QEMU's -netdev tap,ifname= does */
		break;
	case M_FLOOR:
		snprintf(name, sizeof(name), "vmbfl%%d");
		fd = floor_port(name, bridge_ifindex);
		break;
	case M_MINIMAL:
		snprintf(name, sizeof(name), "vmbmi%%d");
		fd = tap_open(name, true);
		minimal_attach(name, bridge_ifindex);
		break;
	case M_IPC:
		fd = ipc_round_trip();
		break;
	case M_GO:
	case M_PYTHON:
	case M_CWORKER:
		fd = worker_acquire(m, &worker_us);
		break;
	default:
		abort();
	}
	t1 = now_us();
	if (m == M_GO || m == M_PYTHON || m == M_CWORKER)
		t0 = t1 - worker_us;
	if (m == M_IPC) { /* no port: only the same pauses as the others */
		close(fd);
		sleep_us(a->hold_us);
		*acq = t1 - t0;
		*rel = 0;
		return;
	}
	tap_name(fd, name);
	/* A VM holds its TAP a while: never closes it within microseconds. */
	sleep_us(a->hold_us);
	t1b = now_us();
	close(fd);
	if (m == M_SCRIPT)
		run_script(a->script, "del", name, bridge);
	/* Whoever closes the TAP last pays for its destruction: the daemon,
	 * when its copy outlived ours. Release ends when the TAP is gone. */
	wait_gone(name);
	t2 = now_us();
	*acq = t1 - t0;
	*rel = t2 - t1b;
}

static int cmd_ports(const struct ports_args *a)
{
	struct vmnet_broker_options *o = tap_options();
	struct samples acq[_M_MAX] = { 0 }, rel[_M_MAX] = { 0 };
	enum method order[_M_MAX];
	unsigned int n_on = 0, rounds;
	char bridge[IFNAMSIZ];
	int keeper, bridge_ifindex;
	double start = now_us();

	/* One lease held all along keeps the network up whatever --idle-timeout says. */
	if (a->on[M_IPC]) /* first: its child must not inherit the keeper's TAP */
		ipc_start();
	for (enum method m = M_GO; m <= M_CWORKER; m++)
		if (a->on[m])
			worker_start(m, a);
	keeper = lib_acquire(a->network, o, bridge, NULL);
	bridge_ifindex = (int)if_nametoindex(bridge);
	if (bridge_ifindex == 0)
		die("bridge %s not in this namespace: run me in the daemon's", bridge);

	for (int m = 0; m < _M_MAX; m++)
		if (a->on[m])
			order[n_on++] = (enum method)m;
	/* Warm up every method (page cache, dynamic linking), untimed. */
	for (unsigned int i = 0; i < n_on; i++) {
		double x, y;
		for (int k = 0; k < 3; k++)
			one_port(order[i], a, o, bridge, bridge_ifindex, &x, &y);
	}
	rounds = (a->n + a->batch - 1) / a->batch;
	for (unsigned int r = 0; r < rounds; r++) {
		/* Rotate who goes first, so no method always follows the same one. */
		for (unsigned int i = 0; i < n_on; i++) {
			enum method m = order[(i + r) % n_on];
			for (unsigned int k = 0; k < a->batch; k++) {
				double x, y;
				one_port(m, a, o, bridge, bridge_ifindex, &x, &y);
				samples_add(&acq[m], x);
				samples_add(&rel[m], y);
				sleep_us(a->settle_us);
			}
		}
	}
	close(keeper);
	ipc_stop();
	worker_stop(M_GO);
	worker_stop(M_PYTHON);
	worker_stop(M_CWORKER);
	vmnet_broker_options_free(o);

	printf("{\"bridge\": \"%s\", \"network\": \"%s\", \"n\": %u, \"batch\": %u, "
	       "\"settle_us\": %ld, \"hold_us\": %ld, \"seconds\": %.1f, \"methods\": {",
	       bridge, a->network, a->n, a->batch, a->settle_us, a->hold_us, (now_us() - start) / 1e6);
	for (unsigned int i = 0; i < n_on; i++) {
		enum method m = order[i];
		printf("%s\"%s\": {", i ? ", " : "", method_names[m]);
		samples_print(stdout, "acquire_us", &acq[m]);
		fputs(", ", stdout);
		samples_print(stdout, "release_us", &rel[m]);
		fputs("}", stdout);
	}
	puts("}}");
	return 0;
}

/* ------------------------------------------------------------------ memory */

struct mem {
	long rss_kb, pss_kb;
};

static struct mem mem_of(pid_t pid)
{
	char path[64], line[256];
	struct mem m = { -1, -1 };
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return m;
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "Rss: %ld kB", &m.rss_kb);
		sscanf(line, "Pss: %ld kB", &m.pss_kb);
	}
	fclose(f);
	return m;
}

/* Sum over the daemon's dnsmasq children; *@count of them. */
static struct mem children_mem(pid_t parent, int *count)
{
	struct mem sum = { 0, 0 };
	struct dirent *de;
	DIR *d = opendir("/proc");

	*count = 0;
	if (!d)
		return sum;
	while ((de = readdir(d))) {
		char path[300], buf[512], *p;
		int ppid;
		FILE *f;

		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (!fgets(buf, sizeof(buf), f)) {
			fclose(f);
			continue;
		}
		fclose(f);
		p = strrchr(buf, ')');
		if (!p || sscanf(p + 1, " %*c %d", &ppid) != 1 || ppid != parent ||
		    !strstr(buf, "(dnsmasq)"))
			continue;
		{
			struct mem m = mem_of(atoi(de->d_name));
			if (m.pss_kb >= 0) {
				sum.rss_kb += m.rss_kb;
				sum.pss_kb += m.pss_kb;
				(*count)++;
			}
		}
	}
	closedir(d);
	return sum;
}

static void print_mem(const char *key, pid_t daemon, unsigned int ports, unsigned int networks)
{
	int n;
	struct mem d = mem_of(daemon), c = children_mem(daemon, &n);

	printf("\"%s\": {\"ports\": %u, \"networks\": %u, \"daemon_rss_kb\": %ld, "
	       "\"daemon_pss_kb\": %ld, \"dnsmasq_count\": %d, \"dnsmasq_rss_kb\": %ld, "
	       "\"dnsmasq_pss_kb\": %ld}",
	       key, ports, networks, d.rss_kb, d.pss_kb, n, c.rss_kb, c.pss_kb);
}

/* ------------------------------------------------------------------ scale */

struct scale_args {
	const char *network, *networks_file;
	unsigned int ports, cycles, status_n;
	long settle_us;
	pid_t daemon;
	bool wait_stdin;
};

static void cycles(const char *network, const struct vmnet_broker_options *o, unsigned int n,
		   long settle_us, struct samples *s)
{
	for (unsigned int i = 0; i < n; i++) {
		double t0 = now_us();
		int fd = lib_acquire(network, o, NULL, NULL);
		char name[IFNAMSIZ];

		samples_add(s, now_us() - t0);
		tap_name(fd, name);
		close(fd);
		wait_gone(name);
		sleep_us(settle_us);
	}
}

/*
 * The kernel floor on the same bridge, for comparison at the same scale.
 * With IPv6 off, as on the daemon's ports: a TAP's link-local address is
 * an address event for every listener in the namespace (when dnsmasq
 * still re-read all interfaces on each, at 200 networks that alone cost a
 * bare TAP 48 ms at p99).
 */
static void floor_cycles(int bridge_ifindex, unsigned int n, long settle_us, struct samples *s)
{
	for (unsigned int i = 0; i < n; i++) {
		char name[IFNAMSIZ] = "vmbfl%d";
		double t0 = now_us();
		int fd = floor_port(name, bridge_ifindex);

		samples_add(s, now_us() - t0);
		close(fd);
		wait_gone(name);
		sleep_us(settle_us);
	}
}

/* Append attribute @type with @len bytes of @data at the end of message @h. */
static struct rtattr *rta_put(struct nlmsghdr *h, size_t cap, unsigned short type, const void *data,
			      size_t len)
{
	struct rtattr *a = (struct rtattr *)((char *)h + NLMSG_ALIGN(h->nlmsg_len));

	if (NLMSG_ALIGN(h->nlmsg_len) + RTA_ALIGN(RTA_LENGTH(len)) > cap)
		die("netlink request too long");
	a->rta_type = type;
	a->rta_len = (unsigned short)RTA_LENGTH(len);
	if (len)
		memcpy(RTA_DATA(a), data, len);
	h->nlmsg_len = (uint32_t)(NLMSG_ALIGN(h->nlmsg_len) + RTA_ALIGN(a->rta_len));
	return a;
}

/* Close nested attribute @a, opened with an empty rta_put(), at the end of @h. */
static void rta_end(struct nlmsghdr *h, struct rtattr *a)
{
	a->rta_len = (unsigned short)((char *)h + h->nlmsg_len - (char *)a);
}

/* A bridge named @name, up, as the daemon's netlink_bridge_add() makes it. */
static int floor_bridge_add(const char *name)
{
	union {
		struct nlmsghdr h;
		char buf[512];
	} req = { 0 };
	struct ifinfomsg *i = NLMSG_DATA(&req.h);
	struct rtattr *info, *spec, *in6;
	uint8_t mac[6] = { 0x02, 0x42, 0xc6, 0x13, 0xc9, 0x01 }, mode = IN6_ADDR_GEN_MODE_NONE;
	uint32_t mtu = 1500;
	const char *alias = "vmnet-bench floor";
	int ifindex;

	req.h = (struct nlmsghdr){ .nlmsg_len = NLMSG_LENGTH(sizeof(*i)),
				   .nlmsg_type = RTM_NEWLINK,
				   .nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE |
						  NLM_F_EXCL };
	*i = (struct ifinfomsg){ .ifi_family = AF_UNSPEC, .ifi_flags = IFF_UP, .ifi_change = IFF_UP };
	rta_put(&req.h, sizeof(req), IFLA_IFNAME, name, strlen(name) + 1);
	rta_put(&req.h, sizeof(req), IFLA_MTU, &mtu, sizeof(mtu));
	rta_put(&req.h, sizeof(req), IFLA_ADDRESS, mac, sizeof(mac));
	info = rta_put(&req.h, sizeof(req), IFLA_LINKINFO, NULL, 0);
	rta_put(&req.h, sizeof(req), IFLA_INFO_KIND, "bridge", sizeof("bridge"));
	rta_end(&req.h, info);
	nl_request(&req, req.h.nlmsg_len, "RTM_NEWLINK bridge");
	ifindex = ifindex_of(name);

	/* Then, as the daemon's configure_bridge(): alias and no kernel-made
	 * link-local address, in one request. */
	memset(&req, 0, sizeof(req));
	req.h = (struct nlmsghdr){ .nlmsg_len = NLMSG_LENGTH(sizeof(*i)),
				   .nlmsg_type = RTM_NEWLINK,
				   .nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK };
	*i = (struct ifinfomsg){ .ifi_family = AF_UNSPEC, .ifi_index = ifindex };
	rta_put(&req.h, sizeof(req), IFLA_IFALIAS, alias, strlen(alias));
	spec = rta_put(&req.h, sizeof(req), IFLA_AF_SPEC, NULL, 0);
	in6 = rta_put(&req.h, sizeof(req), AF_INET6, NULL, 0);
	rta_put(&req.h, sizeof(req), IFLA_INET6_ADDR_GEN_MODE, &mode, sizeof(mode));
	rta_end(&req.h, in6);
	rta_end(&req.h, spec);
	nl_request(&req, req.h.nlmsg_len, "RTM_NEWLINK alias");
	return ifindex;
}

/* The bridge's three addresses in one datagram, as add_bridge_addresses(). */
static void floor_bridge_addresses(int ifindex)
{
	static const uint8_t v4[4] = { 198, 19, 201, 1 };
	static const uint8_t ula[16] = { 0xfd, 0x00, 0x01, 0x98, 0x00, 0x19, 0x02, 0x01,
					 0,    0,    0,    0,    0,    0,    0,    1 };
	static const uint8_t ll[16] = { 0xfe, 0x80, 0,    0,    0,    0,    0,    0,
					0x00, 0x42, 0xc6, 0xff, 0xfe, 0x13, 0xc9, 0x01 };
	const struct {
		int family;
		const uint8_t *addr;
		unsigned char prefixlen;
	} want[3] = { { AF_INET, v4, 24 }, { AF_INET6, ula, 64 }, { AF_INET6, ll, 64 } };
	char buf[3 * 128] = { 0 };
	size_t off = 0;

	for (int k = 0; k < 3; k++) {
		struct nlmsghdr *h = (struct nlmsghdr *)(buf + off);
		struct ifaddrmsg *a = NLMSG_DATA(h);
		size_t len = want[k].family == AF_INET ? 4 : 16;

		*h = (struct nlmsghdr){ .nlmsg_len = NLMSG_LENGTH(sizeof(*a)),
					.nlmsg_type = RTM_NEWADDR,
					.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE |
						       NLM_F_EXCL,
					.nlmsg_seq = (uint32_t)k + 1 };
		*a = (struct ifaddrmsg){ .ifa_family = (unsigned char)want[k].family,
					 .ifa_prefixlen = want[k].prefixlen,
					 .ifa_flags = want[k].family == AF_INET6 ? IFA_F_NODAD : 0,
					 .ifa_index = (unsigned)ifindex };
		rta_put(h, 128, IFA_LOCAL, want[k].addr, len);
		rta_put(h, 128, IFA_ADDRESS, want[k].addr, len);
		off += NLMSG_ALIGN(h->nlmsg_len);
	}
	if (send(nl_sock(), buf, off, 0) != (ssize_t)off)
		die("RTM_NEWADDR: send: %m");
	for (int k = 0; k < 3; k++) /* one ACK each */
		if (nl_reply("RTM_NEWADDR") != NLMSG_ERROR)
			die("RTM_NEWADDR: a reply that is not an ACK");
}

static void floor_link_del(int ifindex)
{
	struct {
		struct nlmsghdr h;
		struct ifinfomsg i;
	} req = {
		.h = { .nlmsg_len = sizeof(req),
		       .nlmsg_type = RTM_DELLINK,
		       .nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK },
		.i = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex },
	};

	nl_request(&req, sizeof(req), "RTM_DELLINK");
}

/*
 * The kernel floor of a new network: its bridge made and addressed as the
 * daemon does it (create_bridge(): the bridge, its alias and address mode,
 * accept_ra off, three addresses in one datagram), in-process, without the
 * rest (nftables, router advertisements, dnsmasq). At scale this is the
 * part every network's dnsmasq is woken for; removed again untimed.
 */
static void floor_network_cycles(unsigned int n, long settle_us, struct samples *s)
{
	static const char name[] = "vmbfbr0";

	for (unsigned int i = 0; i < n; i++) {
		double t0 = now_us();
		int ifindex = floor_bridge_add(name);
		int fd = open("/proc/sys/net/ipv6/conf/vmbfbr0/accept_ra", O_WRONLY | O_CLOEXEC);

		if (fd < 0 || write(fd, "0", 1) != 1)
			die("accept_ra: %m");
		close(fd);
		floor_bridge_addresses(ifindex);
		samples_add(s, now_us() - t0);
		floor_link_del(ifindex);
		sleep_us(settle_us + 50000); /* let the dnsmasqs take in the removal */
	}
}

/* Time @n status queries; Return: NULL, or the name of the failure that stopped them. */
static const char *status_times(unsigned int n, struct samples *s, size_t *ret_len)
{
	for (unsigned int i = 0; i < n; i++) {
		char *json = NULL;
		double t0 = now_us();
		vmnet_broker_return_t st = vmnet_broker_query(sock_path, "status", &json);

		if (st != VMNET_BROKER_SUCCESS) {
			fprintf(stderr, "vmnet-bench: status: %s: %s\n",
				vmnet_broker_status_name(st), vmnet_broker_last_error_message());
			return vmnet_broker_status_name(st);
		}
		samples_add(s, now_us() - t0);
		*ret_len = strlen(json);
		free(json);
	}
	return NULL;
}

static int cmd_scale(const struct scale_args *a)
{
	struct vmnet_broker_options *o = tap_options();
	struct samples start = { 0 }, end = { 0 }, fill = { 0 }, st_ports = { 0 }, st_full = { 0 },
		       create = { 0 }, warm_first = { 0 }, warm_last = { 0 }, floor_start = { 0 },
		       floor_end = { 0 }, st_one = { 0 }, floor_first = { 0 }, floor_last = { 0 },
		       floor_net_first = { 0 }, floor_net_last = { 0 };
	unsigned int net_cycles = a->cycles / 5 ? a->cycles / 5 : 1;
	char first_bridge[IFNAMSIZ] = "", last_bridge[IFNAMSIZ] = "";
	const char *st_one_err, *st_ports_err, *st_full_err;
	size_t st_one_len = 0;
	char bridge[IFNAMSIZ];
	int bridge_ifindex;
	size_t st_ports_len = 0, st_full_len = 0;
	unsigned int held = 0, nets = 0, n_names = 0;
	char **names = NULL, line[256];
	int *fds;
	double t_start = now_us();
	const char *pending = NULL;
	struct rlimit rl = { 65536, 65536 };

	(void)setrlimit(RLIMIT_NOFILE, &rl);
	fds = calloc(a->ports + 4096, sizeof(int));
	if (!fds)
		die("out of memory");
	if (a->networks_file) {
		FILE *f = fopen(a->networks_file, "re");
		if (!f)
			die("%s: %m", a->networks_file);
		while (fgets(line, sizeof(line), f)) {
			line[strcspn(line, "\n")] = 0;
			if (!*line)
				continue;
			names = realloc(names, (n_names + 1) * sizeof(char *));
			names[n_names++] = strdup(line);
		}
		fclose(f);
	}

	printf("{\"network\": \"%s\", ", a->network);
	fds[held++] = lib_acquire(a->network, o, bridge, NULL); /* creates it, keeps it */
	nets = 1;
	bridge_ifindex = (int)if_nametoindex(bridge);
	if (bridge_ifindex == 0)
		die("bridge %s not in this namespace: run me in the daemon's", bridge);
	sleep_us(200000);
	print_mem("mem_one_port", a->daemon, held, nets);
	fputs(", ", stdout);
	st_one_err = status_times(a->status_n, &st_one, &st_one_len);
	cycles(a->network, o, a->cycles, a->settle_us, &start);
	floor_cycles(bridge_ifindex, a->cycles, a->settle_us, &floor_start);
	for (unsigned int i = 1; i < a->ports; i++) {
		double t0 = now_us();
		vmnet_broker_return_t s;
		int fd = lib_acquire(a->network, o, NULL, &s);

		if (fd < 0) {
			fprintf(stderr, "vmnet-bench: port %u on %s: %s: %s\n", i + 1, a->network,
				vmnet_broker_status_name(s), vmnet_broker_last_error_message());
			break;
		}
		samples_add(&fill, now_us() - t0);
		fds[held++] = fd;
	}
	sleep_us(500000); /* let the link monitor and dnsmasq settle */
	print_mem("mem_ports", a->daemon, held, nets);
	fputs(", ", stdout);
	cycles(a->network, o, a->cycles, a->settle_us, &end);
	floor_cycles(bridge_ifindex, a->cycles, a->settle_us, &floor_end);
	st_ports_err = status_times(a->status_n, &st_ports, &st_ports_len);

	/* Networks: one TAP each, every acquire creating its network cold. */
	for (unsigned int i = 0; i < n_names; i++) {
		double t0 = now_us();
		vmnet_broker_return_t s;
		int fd = lib_acquire(names[i], o, i == 0 ? first_bridge : last_bridge, &s);

		if (fd < 0) {
			fprintf(stderr, "vmnet-bench: network %s: %s: %s\n", names[i],
				vmnet_broker_status_name(s), vmnet_broker_last_error_message());
			pending = vmnet_broker_status_name(s);
			break;
		}
		samples_add(&create, now_us() - t0);
		fds[held++] = fd;
		nets++;
		if (i == 0) {
			cycles(names[0], o, a->cycles, a->settle_us, &warm_first);
			floor_cycles((int)if_nametoindex(first_bridge), a->cycles, a->settle_us,
				     &floor_first);
			floor_network_cycles(net_cycles, a->settle_us, &floor_net_first);
		}
	}
	/* On the last network made, as on the first: right after its creation.
	 * The kernel floor on the same bridge tells the kernel's part. */
	if (nets > 2) {
		cycles(names[nets - 2], o, a->cycles, a->settle_us, &warm_last);
		floor_cycles((int)if_nametoindex(last_bridge), a->cycles, a->settle_us, &floor_last);
		floor_network_cycles(net_cycles, a->settle_us, &floor_net_last);
	}
	sleep_us(500000);
	print_mem("mem_full", a->daemon, held, nets);
	fputs(", ", stdout);
	st_full_err = status_times(a->status_n, &st_full, &st_full_len);

	printf("\"ports_held\": %u, \"networks_held\": %u, \"networks_wanted\": %u, ",
	       held - (nets - 1), nets, n_names + 1);
	if (pending)
		printf("\"networks_error\": \"%s\", ", pending);
	samples_print(stdout, "acquire_start_us", &start);
	fputs(", ", stdout);
	samples_print(stdout, "acquire_end_us", &end);
	fputs(", ", stdout);
	samples_print(stdout, "floor_start_us", &floor_start);
	fputs(", ", stdout);
	samples_print(stdout, "floor_end_us", &floor_end);
	fputs(", ", stdout);
	samples_print(stdout, "fill_us", &fill);
	fputs(", ", stdout);
	samples_print(stdout, "create_us", &create);
	fputs(", ", stdout);
	samples_print(stdout, "warm_first_net_us", &warm_first);
	fputs(", ", stdout);
	samples_print(stdout, "warm_last_net_us", &warm_last);
	fputs(", ", stdout);
	samples_print(stdout, "floor_first_net_us", &floor_first);
	fputs(", ", stdout);
	samples_print(stdout, "floor_last_net_us", &floor_last);
	fputs(", ", stdout);
	samples_print(stdout, "floor_new_first_us", &floor_net_first);
	fputs(", ", stdout);
	samples_print(stdout, "floor_new_last_us", &floor_net_last);
	fputs(", ", stdout);
	samples_print(stdout, "status_one_us", &st_one);
	printf(", \"status_one_bytes\": %zu, ", st_one_len);
	if (st_one_err)
		printf("\"status_one_error\": \"%s\", ", st_one_err);
	if (st_ports_err)
		printf("\"status_ports_error\": \"%s\", ", st_ports_err);
	if (st_full_err)
		printf("\"status_full_error\": \"%s\", ", st_full_err);
	samples_print(stdout, "status_ports_us", &st_ports);
	printf(", \"status_ports_bytes\": %zu, ", st_ports_len);
	samples_print(stdout, "status_full_us", &st_full);
	printf(", \"status_full_bytes\": %zu, \"seconds\": %.1f}\n", st_full_len,
	       (now_us() - t_start) / 1e6);
	fflush(stdout);
	/* Hold everything until told (the driver first stops the daemon and its
	 * dnsmasqs, so that they do not churn through a thousand lease ends). */
	if (a->wait_stdin)
		while (fgets(line, sizeof(line), stdin))
			if (strcmp(line, "close\n") == 0)
				break;
	for (unsigned int i = 0; i < held; i++)
		close(fds[i]);
	vmnet_broker_options_free(o);
	return 0;
}

/* ------------------------------------------------------------------ main */

static void usage(void)
{
	fputs("Usage: vmnet-bench ports --socket S [--network N] [--n N] [--batch B] [--settle-us US]\n"
	      "                   [--helper PATH] [--qbh PATH] [--script PATH] [--go PATH]\n"
	      "                   [--python PATH] [--methods LIST]\n"
	      "       vmnet-bench scale --socket S --network N [--ports N] [--cycles N]\n"
	      "                   [--networks-file F] [--status-n N] [--daemon-pid PID] [--wait]\n"
	      "       vmnet-bench worker --socket S --network N   (run by ports, on fd 3)\n"
	      "Meant to be run by bench/bench.py, inside the daemon's network namespace.\n",
	      stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	enum {
		O_SOCKET = 0x100,
		O_NETWORK,
		O_N,
		O_BATCH,
		O_SETTLE,
		O_HELPER,
		O_QBH,
		O_SCRIPT,
		O_METHODS,
		O_HOLD,
		O_PORTS,
		O_CYCLES,
		O_NETFILE,
		O_STATUS_N,
		O_DAEMON,
		O_WAIT,
		O_GO,
		O_PYTHON
	};
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, O_SOCKET },
		{ "network", required_argument, NULL, O_NETWORK },
		{ "n", required_argument, NULL, O_N },
		{ "batch", required_argument, NULL, O_BATCH },
		{ "settle-us", required_argument, NULL, O_SETTLE },
		{ "helper", required_argument, NULL, O_HELPER },
		{ "qbh", required_argument, NULL, O_QBH },
		{ "script", required_argument, NULL, O_SCRIPT },
		{ "methods", required_argument, NULL, O_METHODS },
		{ "hold-us", required_argument, NULL, O_HOLD },
		{ "ports", required_argument, NULL, O_PORTS },
		{ "cycles", required_argument, NULL, O_CYCLES },
		{ "networks-file", required_argument, NULL, O_NETFILE },
		{ "status-n", required_argument, NULL, O_STATUS_N },
		{ "daemon-pid", required_argument, NULL, O_DAEMON },
		{ "wait", no_argument, NULL, O_WAIT },
		{ "go", required_argument, NULL, O_GO },
		{ "python", required_argument, NULL, O_PYTHON },
		{},
	};
	struct ports_args pa = {
		.network = "shared", .n = 400, .batch = 10, .settle_us = 3000, .hold_us = 2000
	};
	struct scale_args sa = {
		.network = "shared", .ports = 1000, .cycles = 100, .status_n = 50, .settle_us = 3000
	};
	const char *methods = "library,helper,qbh,script,floor,minimal,ipc";
	const char *cmd;
	int opt;

	if (argc < 2)
		usage();
	cmd = argv[1];
	optind = 2;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
		switch (opt) {
		case O_SOCKET:
			sock_path = optarg;
			break;
		case O_NETWORK:
			pa.network = sa.network = optarg;
			break;
		case O_N:
			pa.n = (unsigned)atoi(optarg);
			break;
		case O_BATCH:
			pa.batch = (unsigned)atoi(optarg);
			break;
		case O_SETTLE:
			pa.settle_us = sa.settle_us = atol(optarg);
			break;
		case O_HELPER:
			pa.helper = optarg;
			break;
		case O_QBH:
			pa.qbh = optarg;
			break;
		case O_SCRIPT:
			pa.script = optarg;
			break;
		case O_METHODS:
			methods = optarg;
			break;
		case O_HOLD:
			pa.hold_us = atol(optarg);
			break;
		case O_PORTS:
			sa.ports = (unsigned)atoi(optarg);
			break;
		case O_CYCLES:
			sa.cycles = (unsigned)atoi(optarg);
			break;
		case O_NETFILE:
			sa.networks_file = optarg;
			break;
		case O_STATUS_N:
			sa.status_n = (unsigned)atoi(optarg);
			break;
		case O_DAEMON:
			sa.daemon = atoi(optarg);
			break;
		case O_WAIT:
			sa.wait_stdin = true;
			break;
		case O_GO:
			pa.go = optarg;
			break;
		case O_PYTHON:
			pa.python = optarg;
			break;
		default:
			usage();
		}
	}
	if (!sock_path)
		usage();
	signal(SIGPIPE, SIG_IGN);
	if (strcmp(cmd, "ports") == 0) {
		char *list = strdup(methods), *save = NULL;
		for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			int m;
			for (m = 0; m < _M_MAX; m++)
				if (strcmp(t, method_names[m]) == 0)
					break;
			if (m == _M_MAX)
				die("unknown method '%s'", t);
			pa.on[m] = true;
		}
		free(list);
		if ((pa.on[M_HELPER] && !pa.helper) || (pa.on[M_QBH] && !pa.qbh) ||
		    (pa.on[M_SCRIPT] && !pa.script) || (pa.on[M_GO] && !pa.go) ||
		    (pa.on[M_PYTHON] && !pa.python))
			die("--helper, --qbh, --script, --go and --python are needed for their methods");
		if (pa.batch == 0 || pa.n == 0)
			usage();
		return cmd_ports(&pa);
	}
	if (strcmp(cmd, "scale") == 0)
		return cmd_scale(&sa);
	if (strcmp(cmd, "worker") == 0)
		return cmd_worker(pa.network);
	usage();
}
