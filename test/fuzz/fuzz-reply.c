/* fuzz-reply.c - libFuzzer harness of the client library's reply handling: any daemon reply
 *
 * The library trusts the daemon's socket but not its replies: a malformed
 * one must give VMNET_BROKER_INVALID_REPLY, never a crash, a leaked fd or
 * a handle whose accessors read garbage. The harness compiles the
 * library's sources (lib/) into itself with their socket calls renamed to
 * the fakes below, so the public API runs end to end on a reply, fds and
 * flags taken from the input, with no socket and no daemon. A socket call added to the library
 * without a fake here would fail on the fake fds (ENOTSOCK) and give a
 * connection failure the fakes did not ask for; that is checked, so the
 * corpus replay of `make check` says so.
 *
 * Input: four header bytes, then the reply. Each header byte counts up
 * from '0', so a seed is readable text: kind ('0' tap, '1' netns,
 * '2' named_tap, '3' none; for a query, '0' networks, '1' status,
 * '2' release, '3' forward_add, '4' forward_remove, '5' forward_list,
 * '6' stop), queues ('0': not
 * asked), fds attached, and the F_* flags below; "0110{...}" is a TAP
 * reply with one fd, "000@{...}" a wait_address reply.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz.h"

/* <sys/socket.h> came first, so these renames reach client.c's calls, not its prototypes. */
static int fuzz_socket(int domain, int type, int protocol);
static int fuzz_connect(int fd, const struct sockaddr *sa, socklen_t len);
static ssize_t fuzz_sendmsg(int fd, const struct msghdr *mh, int flags);
static ssize_t fuzz_recvmsg(int fd, struct msghdr *mh, int flags);
static ssize_t fuzz_recv(int fd, void *buf, size_t len, int flags);
#define socket(d, t, p) fuzz_socket(d, t, p)
#define connect(f, a, l) fuzz_connect(f, a, l)
#define sendmsg(f, m, fl) fuzz_sendmsg(f, m, fl)
#define recvmsg(f, m, fl) fuzz_recvmsg(f, m, fl)
#define recv(f, b, n, fl) fuzz_recv(f, b, n, fl)
/* The library itself, its socket calls replaced. NOLINTBEGIN(bugprone-suspicious-include) */
#include "../../lib/transport.c"
#include "../../lib/client.c"
#include "../../lib/calls.c"
/* NOLINTEND(bugprone-suspicious-include) */
#undef socket
#undef connect
#undef sendmsg
#undef recvmsg
#undef recv

#define HEADER 4
#define FAKE_FDS_MAX (PROTOCOL_FDS_MAX + 4) /* a few more than fit: the kernel's MSG_CTRUNC */

enum {
	F_TRUNC = 1 << 0,    /* the kernel says MSG_TRUNC */
	F_RECV_ERR = 1 << 1, /* recvmsg fails */
	F_EOF = 1 << 2,      /* the daemon hung up */
	F_QUERY = 1 << 3,    /* a status/networks query instead of an acquire */
	F_WAIT = 1 << 4,     /* a wait_address instead */
};

/* What the fake socket calls deliver, and every fd they made. */
static struct {
	const uint8_t *reply;
	size_t len;
	unsigned int n_fds;
	unsigned int flags;
	int made[FAKE_FDS_MAX + 1];
	size_t n_made;
	bool received; /* recvmsg() was called */
} fake;

static int fake_fd(void)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	fuzz_check(fd >= 0, "open /dev/null");
	fuzz_check(fake.n_made < ELEMENTSOF(fake.made), "fake fd table");
	fake.made[fake.n_made++] = fd;
	return fd;
}

static int fuzz_socket(int domain, int type, int protocol)
{
	return fake_fd();
}

static int fuzz_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	return 0;
}

static ssize_t fuzz_sendmsg(int fd, const struct msghdr *mh, int flags)
{
	fuzz_check(flags & MSG_NOSIGNAL, "requests are sent with MSG_NOSIGNAL");
	return (ssize_t)mh->msg_iov[0].iov_len;
}

/* The reply's size, as MSG_PEEK|MSG_TRUNC tells it; the message stays queued. */
static ssize_t fuzz_recv(int fd, void *buf, size_t len, int flags)
{
	fuzz_check(flags & MSG_PEEK, "recv() only peeks");
	if (fake.flags & F_RECV_ERR) {
		errno = ECONNRESET;
		return -1;
	}
	if (fake.flags & F_EOF)
		return 0;
	if (buf)
		memcpy(buf, fake.reply, len < fake.len ? len : fake.len);
	return (ssize_t)((flags & MSG_TRUNC) || fake.len < len ? fake.len : len);
}

/* As the kernel does it: copy what fits, attach fds while they fit, flag the rest. */
static ssize_t fuzz_recvmsg(int fd, struct msghdr *mh, int flags)
{
	size_t room = mh->msg_iov[0].iov_len, len = fake.len < room ? fake.len : room;
	size_t fit = mh->msg_controllen < CMSG_LEN(0)
			     ? 0
			     : (mh->msg_controllen - CMSG_LEN(0)) / sizeof(int);
	unsigned int n = fake.n_fds < fit ? fake.n_fds : (unsigned int)fit;

	fake.received = true;
	fuzz_check(flags & MSG_CMSG_CLOEXEC, "replies are received with MSG_CMSG_CLOEXEC");
	if (fake.flags & F_RECV_ERR) {
		errno = ECONNRESET;
		return -1;
	}
	mh->msg_flags = 0;
	if (fake.flags & F_EOF) {
		mh->msg_controllen = 0;
		return 0;
	}
	memcpy(mh->msg_iov[0].iov_base, fake.reply, len);
	if (fake.len > room || (fake.flags & F_TRUNC))
		mh->msg_flags |= MSG_TRUNC;
	if (n < fake.n_fds)
		mh->msg_flags |= MSG_CTRUNC;
	if (n > 0) {
		struct cmsghdr *c = CMSG_FIRSTHDR(mh);

		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(n * sizeof(int));
		for (unsigned int i = 0; i < n; i++) {
			int f = fake_fd();

			memcpy(CMSG_DATA(c) + i * sizeof(int), &f, sizeof(int));
		}
		mh->msg_controllen = CMSG_SPACE(n * sizeof(int));
	} else {
		mh->msg_controllen = 0;
	}
	return (ssize_t)len;
}

static bool fd_is_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

/* Nothing the fakes handed out may stay open, except what @net still holds. */
static void check_no_fd_leaked(const struct vmnet_broker_network *net)
{
	for (size_t i = 0; i < fake.n_made; i++) {
		bool held = false;

		for (size_t j = 0; net && j < vmnet_broker_network_fd_count(net); j++)
			held = held || vmnet_broker_network_fd_at(net, j) == fake.made[i];
		held = held || (net && net->conn == fake.made[i]);
		fuzz_check(fd_is_open(fake.made[i]) == held, "every fd closed or held by the handle");
	}
}

static void read_string(const char *s)
{
	if (s)
		fuzz_check(strlen(s) < PROTOCOL_MESSAGE_MAX, "string shorter than the reply");
}

static void check_handle(const struct vmnet_broker_network *net, enum port_kind kind, unsigned int queues)
{
	size_t want = kind == PORT_TAP ? queues : 0;

	fuzz_check(streq(vmnet_broker_network_port_kind(net), port_kind_to_string(kind)),
		   "the port kind asked for");
	fuzz_check(vmnet_broker_network_fd_count(net) == want, "one fd per queue of a TAP");
	for (size_t i = 0; i < want; i++)
		fuzz_check(fd_is_open(vmnet_broker_network_fd_at(net, i)), "the fds are open");
	fuzz_check(vmnet_broker_network_fd_at(net, want) == -1, "no fd past the count");
	read_string(vmnet_broker_network_name(net));
	read_string(vmnet_broker_network_mode(net));
	read_string(vmnet_broker_network_bridge(net));
	read_string(vmnet_broker_network_subnet(net));
	read_string(vmnet_broker_network_mask(net));
	read_string(vmnet_broker_network_ipv6_prefix(net));
	read_string(vmnet_broker_network_port_ifname(net));
	read_string(vmnet_broker_network_port_mac(net));
	read_string(vmnet_broker_network_port_address(net));
	read_string(vmnet_broker_network_reply_json(net));
	fuzz_check(vmnet_broker_network_prefix_len(net) >= -1, "prefix_len -1 or a number");
	fuzz_check(vmnet_broker_network_mtu(net) >= -1, "mtu -1 or a number");
}

static void check_outcome(void)
{
	fuzz_check(memchr(vmnet_broker_last_error_message(), '\0', ERROR_MESSAGE_MAX),
		   "the error message is a string");
	/*
	 * The library reaches recvmsg() unless the peek before it failed or
	 * saw a hang-up (an empty reply reads as one on SOCK_SEQPACKET). If it
	 * does not, a socket call the fakes miss failed on their fds.
	 */
	fuzz_check(fake.received || (fake.flags & (F_RECV_ERR | F_EOF)) || fake.len == 0,
		   "every socket call of client.c is faked");
}

static void run_acquire(enum port_kind kind, unsigned int queues)
{
	struct vmnet_broker_options *o = vmnet_broker_options_new();
	struct vmnet_broker_network *net;
	vmnet_broker_return_t s = VMNET_BROKER_SUCCESS;
	int netns = -EBADF;

	fuzz_check(o != NULL, "options");
	fuzz_check(vmnet_broker_options_set_socket(o, "/fuzz/sock") == 0 &&
			   vmnet_broker_options_set_port(o, port_kind_to_string(kind)) == 0,
		   "options accepted");
	if (queues > 0)
		fuzz_check(vmnet_broker_options_set_multi_queue(o, queues) == 0, "queues accepted");
	if (kind == PORT_NETNS) {
		netns = open("/dev/null", O_RDONLY | O_CLOEXEC);
		fuzz_check(netns >= 0, "open /dev/null");
		vmnet_broker_options_set_netns_fd(o, netns);
	}
	net = vmnet_broker_acquire_network_with_options("fuzz", o, &s);
	vmnet_broker_options_free(o);
	safe_close(netns);
	fuzz_check((net != NULL) == (s == VMNET_BROKER_SUCCESS), "a handle exactly on success");
	check_outcome();
	check_no_fd_leaked(net);
	if (net)
		check_handle(net, kind, queues ? queues : 1);
	vmnet_broker_network_release(net);
	check_no_fd_leaked(NULL);
}

/* One of the calls that take one JSON reply: @which picks status, networks, release, ... */
static vmnet_broker_return_t one_call(unsigned int which, char **json)
{
	static const struct vmnet_broker_forward fw = { "tcp", 2222, 22 };

	switch (which % 7) {
	case 0:
		return vmnet_broker_query("/fuzz/sock", "networks", json);
	case 1:
		return vmnet_broker_query("/fuzz/sock", "status", json);
	case 2:
		return vmnet_broker_release("/fuzz/sock", "vmtap1", 0, json);
	case 3:
		return vmnet_broker_forward_add("/fuzz/sock", NULL, 7, &fw, 1, json);
	case 4:
		return vmnet_broker_forward_remove("/fuzz/sock", "vmtap1", 0, &fw, 1, json);
	case 5:
		return vmnet_broker_forward_list("/fuzz/sock", NULL, 0, json);
	default:
		return vmnet_broker_stop_network("/fuzz/sock", "fuzz", true, json);
	}
}

static void run_query(unsigned int which)
{
	char *json = NULL;
	vmnet_broker_return_t s;

	s = one_call(which, &json);
	fuzz_check((json != NULL) == (s == VMNET_BROKER_SUCCESS), "JSON exactly on success");
	check_outcome();
	read_string(json);
	free(json);
	check_no_fd_leaked(NULL);
}

static void run_wait(void)
{
	char *address = NULL, *json = NULL;
	vmnet_broker_return_t s;

	s = vmnet_broker_wait_address("/fuzz/sock", "vmtap0", NULL, NULL, 5, &address, &json);
	fuzz_check((address != NULL) == (s == VMNET_BROKER_SUCCESS) &&
			   (json != NULL) == (s == VMNET_BROKER_SUCCESS),
		   "an address and the JSON exactly on success");
	check_outcome();
	read_string(address);
	read_string(json);
	free(address);
	free(json);
	check_no_fd_leaked(NULL);
}

/* Header byte @i, counted from '0'. */
static unsigned int header(const uint8_t *data, size_t i)
{
	return (uint8_t)(data[i] - '0');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < HEADER)
		return 0;
	fake = (__typeof__(fake)){
		.reply = data + HEADER,
		.len = size - HEADER,
		.n_fds = header(data, 2) % (FAKE_FDS_MAX + 1),
		.flags = header(data, 3),
	};
	if (fake.flags & F_WAIT)
		run_wait();
	else if (fake.flags & F_QUERY)
		run_query(header(data, 0));
	else
		run_acquire((enum port_kind)(header(data, 0) % _PORT_KIND_MAX),
			    header(data, 1) % (QUEUES_MAX + 1));
	return 0;
}
