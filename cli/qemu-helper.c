/* qemu-helper.c - vmnet-broker-qemu-helper: QEMU's bridge helper protocol, served by the broker
 *
 * QEMU's `-netdev bridge,id=n0,br=NAME,helper=PATH` (and `-netdev
 * tap,helper=...`) forks and runs
 *
 *	PATH --use-vnet --fd=N --br=NAME
 *
 * where fd N is one end of an AF_UNIX SOCK_STREAM socketpair. QEMU then
 * waits in recvmsg() for exactly one SCM_RIGHTS fd riding on a one-byte
 * message, and after that for the helper to exit 0 (net/tap.c,
 * net_bridge_run_helper() and recv_fd()). When the helper string contains
 * a blank, QEMU runs it with `sh -c "HELPER --use-vnet --fd=N [--br=NAME]"`,
 * which is how our own options (--mac, --label, --socket) get in.
 *
 * Here `--br=` names a broker network, not a bridge: the helper acquires a
 * `tap` port on it and hands QEMU the TAP fd. The lease lives as long as
 * QEMU holds that fd; the helper itself keeps nothing and exits.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"
#include "vmnet-broker.h"

#define PROGRAM "vmnet-broker-qemu-helper"
#define EXIT_USAGE 2

struct helper_args {
	const char *network; /* --br */
	int fd;              /* --fd; -EBADF when not given */
	bool vnet_hdr;       /* --use-vnet */
	const char *mac;
	const char *label;
	const char *socket;
	bool verbose;
};

static void options_freep(struct vmnet_broker_options **p)
{
	vmnet_broker_options_free(*p);
}

static void network_releasep(struct vmnet_broker_network **p)
{
	vmnet_broker_network_release(*p);
}

static void help(void)
{
	printf("Usage: " PROGRAM " --fd=N --br=NETWORK [--use-vnet] [OPTIONS]\n\n"
	       "QEMU's bridge helper, backed by vmnet-brokerd: acquire a TAP port on\n"
	       "broker network NETWORK and pass its fd to QEMU over the unix socket N.\n"
	       "QEMU runs it for\n\n"
	       "  -netdev bridge,id=n0,br=shared,helper=" HELPER_PATH "\n\n"
	       "Options:\n"
	       "  --fd=N          the socket QEMU waits on for the TAP fd\n"
	       "  --br=NETWORK    the broker network's name (not a bridge)\n"
	       "  --use-vnet      open the TAP with IFF_VNET_HDR (QEMU always asks)\n"
	       "  --mac=MAC       the guest's MAC: give the same to -device ...,mac=MAC,\n"
	       "                  as the network's DHCP serves only reserved MACs\n"
	       "  --label=L       shown in status and the interface alias\n"
	       "                  (default \"qemu-helper pid PID\", PID being QEMU's)\n"
	       "  --socket=PATH   the daemon's socket (default $" VMNET_BROKER_SOCKET_ENV ",\n"
	       "                  else " VMNET_BROKER_DEFAULT_SOCKET ")\n"
	       "  --verbose       print the port acquired to stderr\n"
	       "  -h, --help      show this help\n"
	       "  -V, --version   show the version\n\n"
	       "Our own options reach the helper when QEMU's helper= string holds a\n"
	       "blank, e.g. helper=\"" HELPER_PATH " --mac=52:54:00:12:34:56\".\n"
	       "The lease ends when QEMU closes the TAP, i.e. when the VM exits.\n"
	       "Errors print the status code's name and a message, and exit with 1;\n"
	       "usage errors exit with 2.\n");
}

_printf_(1, 2) static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs(PROGRAM ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry '" PROGRAM " --help'.\n", stderr);
	return EXIT_USAGE;
}

/* "vmnet-broker-qemu-helper: VMNET_BROKER_NOT_FOUND: no network named 'foo'" */
static int broker_error(vmnet_broker_return_t status)
{
	const char *message = vmnet_broker_last_error_message();

	fprintf(stderr, PROGRAM ": %s: %s\n", vmnet_broker_status_name(status),
		*message ? message : vmnet_broker_strerror(status));
	return EXIT_FAILURE;
}

static int parse_fd(const char *s, int *ret)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0 || v > INT_MAX)
		return -EINVAL;
	*ret = (int)v;
	return 0;
}

enum {
	OPT_FD = 0x100,
	OPT_BR,
	OPT_USE_VNET,
	OPT_MAC,
	OPT_LABEL,
	OPT_SOCKET,
	OPT_VERBOSE
};
static const struct option options[] = {
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ "fd", required_argument, NULL, OPT_FD },
	{ "br", required_argument, NULL, OPT_BR },
	{ "use-vnet", no_argument, NULL, OPT_USE_VNET },
	{ "mac", required_argument, NULL, OPT_MAC },
	{ "label", required_argument, NULL, OPT_LABEL },
	{ "socket", required_argument, NULL, OPT_SOCKET },
	{ "verbose", no_argument, NULL, OPT_VERBOSE },
	{},
};

/* Return: -1 to go on, or the exit status. */
static int parse_args(int argc, char **argv, struct helper_args *a)
{
	int opt;

	while ((opt = getopt_long(argc, argv, "hV", options, NULL)) >= 0) {
		switch (opt) {
		case 'h':
			help();
			return EXIT_SUCCESS;
		case 'V':
			puts(PROGRAM " " VMNET_VERSION);
			return EXIT_SUCCESS;
		case OPT_FD:
			if (parse_fd(optarg, &a->fd) < 0)
				return usage_error("invalid --fd '%s'", optarg);
			break;
		case OPT_BR:
			a->network = optarg;
			break;
		case OPT_USE_VNET:
			a->vnet_hdr = true;
			break;
		case OPT_MAC:
			a->mac = optarg;
			break;
		case OPT_LABEL:
			a->label = optarg;
			break;
		case OPT_SOCKET:
			a->socket = optarg;
			break;
		case OPT_VERBOSE:
			a->verbose = true;
			break;
		default: /* getopt said what */
			fputs("Try '" PROGRAM " --help'.\n", stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (a->fd < 0)
		return usage_error("missing --fd=N (this program is run by QEMU)");
	if (!a->network)
		return usage_error("missing --br=NETWORK");
	return -1;
}

/* The ppid field of /proc/@pid/stat; -1 when it cannot be read. */
static pid_t parent_of(pid_t pid)
{
	char path[64], buf[512], *p;
	_cleanup_close_ int fd = -EBADF;
	ssize_t n;
	int ppid;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* "PID (COMM) STATE PPID ...": COMM may hold anything, even ") ". */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %*c %d", &ppid) != 1)
		return -1;
	return ppid;
}

/*
 * The QEMU that runs us: our parent, or its parent when QEMU went through
 * "sh -c" (a helper= string with a blank, net/tap.c), as dash forks the
 * command instead of replacing itself with it.
 */
static pid_t qemu_pid(void)
{
	pid_t ppid = getppid();
	char path[64], comm[32] = "";
	_cleanup_close_ int fd = -EBADF;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)ppid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && (n = read(fd, comm, sizeof(comm) - 1)) > 0)
		comm[n] = '\0';
	if (streq(comm, "sh\n")) {
		pid_t grand = parent_of(ppid);

		if (grand > 1)
			return grand;
	}
	return ppid;
}

/* Fill @o from @a; Return: 0, or the exit status after saying why. */
static int options_fill(struct vmnet_broker_options *o, const struct helper_args *a)
{
	char label[64];
	vmnet_broker_return_t s;

	if (!a->label)
		snprintf(label, sizeof(label), "qemu-helper pid %d", (int)qemu_pid());
	s = vmnet_broker_options_set_port(o, "tap");
	if (s == VMNET_BROKER_SUCCESS)
		s = vmnet_broker_options_set_vnet_hdr(o, a->vnet_hdr);
	if (s == VMNET_BROKER_SUCCESS && a->socket)
		s = vmnet_broker_options_set_socket(o, a->socket);
	if (s != VMNET_BROKER_SUCCESS)
		return broker_error(s);
	s = vmnet_broker_options_set_label(o, a->label ? a->label : label);
	if (s != VMNET_BROKER_SUCCESS)
		return usage_error("invalid --label: %s", vmnet_broker_last_error_message());
	if (a->mac) {
		s = vmnet_broker_options_set_mac(o, a->mac);
		if (s != VMNET_BROKER_SUCCESS)
			return usage_error("invalid --mac: %s", vmnet_broker_last_error_message());
	}
	return 0;
}

/*
 * Pass @fd over @sock the way QEMU's recv_fd() takes it: one SCM_RIGHTS fd
 * on a one-byte message. Without a byte of payload a stream socket sends
 * nothing at all, and QEMU would read end-of-file.
 */
static int send_fd(int sock, int fd)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} control = { 0 };
	char byte = 0;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = control.buf,
		.msg_controllen = sizeof(control.buf),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	ssize_t n;

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));

	/* MSG_NOSIGNAL: a QEMU that went away gets an error here, not our death by SIGPIPE. */
	do
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : 0;
}

int main(int argc, char **argv)
{
	_cleanup_(options_freep) struct vmnet_broker_options *o = NULL;
	_cleanup_(network_releasep) struct vmnet_broker_network *net = NULL;
	struct helper_args a = { .fd = -EBADF };
	vmnet_broker_return_t s;
	struct stat st;
	int r;

	argv[0] = (char *)PROGRAM; /* what getopt's messages are prefixed with */
	r = parse_args(argc, argv, &a);
	if (r >= 0)
		return r;
	/* Checked before asking the broker, so a wrong --fd never costs a port. */
	if (fstat(a.fd, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		fprintf(stderr, PROGRAM ": --fd=%d is not an open unix socket\n", a.fd);
		return EXIT_FAILURE;
	}

	o = vmnet_broker_options_new();
	if (!o) {
		fputs(PROGRAM ": out of memory\n", stderr);
		return EXIT_FAILURE;
	}
	r = options_fill(o, &a);
	if (r != 0)
		return r;

	net = vmnet_broker_acquire_network_with_options(a.network, o, &s);
	if (!net)
		return broker_error(s);
	if (a.verbose)
		fprintf(stderr, PROGRAM ": network %s: port tap %s mac %s address %s\n", a.network,
			vmnet_broker_network_port_ifname(net) ?: "-",
			vmnet_broker_network_port_mac(net) ?: "-",
			vmnet_broker_network_port_address(net) ?: "-");

	r = send_fd(a.fd, vmnet_broker_network_fd(net));
	if (r < 0) {
		errno = -r;
		fprintf(stderr, PROGRAM ": failed to pass the TAP fd to QEMU: %m\n");
		return EXIT_FAILURE;
	}
	/* QEMU holds its own copy now; releasing ours leaves the lease to it. */
	(void)close(a.fd);
	return EXIT_SUCCESS;
}
