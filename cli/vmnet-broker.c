/* vmnet-broker.c - command line client: show networks and leases, acquire ports, run VMs on them */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "cli.h"
#include "config-dir.h"
#include "util.h"
#include "vmnet-broker.h"

static void options_freep(struct vmnet_broker_options **p)
{
	vmnet_broker_options_free(*p);
}

static void network_releasep(struct vmnet_broker_network **p)
{
	vmnet_broker_network_release(*p);
}

/* "vmnet-broker: acquire: missing network NAME", with a pointer to the help; @c may be NULL. */
int usage_error(const struct command *c, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, PROGRAM ": %s%s", c ? c->name : "", c ? ": " : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '" PROGRAM "%s%s --help'.\n", c ? " " : "", c ? c->name : "");
	return EXIT_USAGE;
}

/* "vmnet-broker: VMNET_BROKER_NOT_FOUND: no network named 'foo'" */
int broker_error(vmnet_broker_return_t status)
{
	const char *message = vmnet_broker_last_error_message();

	fprintf(stderr, PROGRAM ": %s: %s\n", vmnet_broker_status_name(status),
		*message ? message : vmnet_broker_strerror(status));
	return EXIT_FAILURE;
}

/* Ask for @command and print it as a table with @print, or as JSON. */
static int query(struct globals *g, const char *command, bool json, void (*print)(json_t *))
{
	_cleanup_(json_decrefp) json_t *root = NULL;
	_cleanup_free_ char *text = NULL;
	vmnet_broker_return_t s;

	s = vmnet_broker_query(g->socket, command, &text);
	if (s != VMNET_BROKER_SUCCESS)
		return broker_error(s);
	if (json)
		return print_json(text);
	root = json_loads(text, 0, NULL);
	if (!root)
		return broker_error(VMNET_BROKER_INVALID_REPLY);
	print(root);
	return EXIT_SUCCESS;
}

static void command_help(const struct command *c)
{
	printf("Usage: " PROGRAM " [--socket PATH] %s %s\n\n%c%s.\n\n", c->name, c->args,
	       toupper((unsigned char)c->summary[0]), c->summary + 1);
	printf("Options:\n%s" SOCKET_HELP "  -h, --help      show this help\n", c->help);
	if (c->notes)
		printf("\n%s", c->notes);
}

/* Options every command takes (cli.h). */
int common_option(struct globals *g, const struct command *c, int opt, int *done)
{
	switch (opt) {
	case 'h':
		command_help(c);
		*done = EXIT_SUCCESS;
		return -1;
	case 'S':
		g->socket = optarg;
		return -1;
	case '?': /* getopt said what */
		fprintf(stderr, "Try '" PROGRAM " %s --help'.\n", c->name);
		*done = EXIT_USAGE;
		return -1;
	default:
		return opt;
	}
}

/* The common body of `status` and `networks`: --json, or --names. */
static int query_command(const struct command *c, struct globals *g, int argc, char **argv,
			 void (*print)(json_t *))
{
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ "names", no_argument, NULL, 'n' },
		{ "socket", required_argument, NULL, 'S' },
		{},
	};
	bool json = false;
	int opt, done = -1;

	while (done < 0 && (opt = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
		opt = common_option(g, c, opt, &done);
		if (opt == 'j')
			json = true;
		else if (opt == 'n')
			print = print_names;
	}
	if (done >= 0)
		return done;
	if (optind < argc)
		return usage_error(c, "unexpected argument '%s'", argv[optind]);
	return query(g, c->name, json, print);
}

static int cmd_status(const struct command *c, struct globals *g, int argc, char **argv)
{
	return query_command(c, g, argc, argv, print_status);
}

static int cmd_networks(const struct command *c, struct globals *g, int argc, char **argv)
{
	return query_command(c, g, argc, argv, print_networks);
}

/* A port number 1-65535 from @s up to @end; Return: it, or 0. */
static unsigned int port_number(const char *s, const char *end)
{
	unsigned long v = 0;

	if (s == end || end - s > 5)
		return 0;
	for (; s < end; s++) {
		if (*s < '0' || *s > '9')
			return 0;
		v = v * 10 + (unsigned long)(*s - '0');
	}
	return v <= 65535 ? (unsigned int)v : 0;
}

int parse_forward(const char *spec, bool host_port_only, char buf[8], struct vmnet_broker_forward *ret)
{
	const char *a = strchr(spec, ':'), *b = a ? strchr(a + 1, ':') : NULL;

	if (!a || (size_t)(a - spec) >= 8 || (host_port_only ? b != NULL : b == NULL))
		return -1;
	memcpy(buf, spec, (size_t)(a - spec));
	buf[a - spec] = '\0';
	*ret = (struct vmnet_broker_forward){
		.protocol = buf,
		.external_port = port_number(a + 1, b ? b : a + strlen(a)),
		.internal_port = b ? port_number(b + 1, b + strlen(b)) : 0,
	};
	return 0;
}

vmnet_broker_return_t add_forward(struct vmnet_broker_options *o, const char *spec)
{
	struct vmnet_broker_forward f;
	char proto[8];

	if (parse_forward(spec, false, proto, &f) < 0)
		/* Let the library say it, so the message is in one place. */
		return vmnet_broker_options_add_port_forward(o, NULL, 0, 0);
	return vmnet_broker_options_add_port_forward(o, f.protocol, f.external_port, f.internal_port);
}

struct acquire_args {
	const char *name;
	const char *netns;
	bool json;
	bool hold;
};

/* Apply one acquire option to @o. Return: 0, or EXIT_USAGE after saying why. */
static int acquire_option(const struct command *c, struct vmnet_broker_options *o,
			  struct acquire_args *a, int opt)
{
	vmnet_broker_return_t s;
	const char *what;

	switch (opt) {
	case 'p':
		what = "--port";
		s = vmnet_broker_options_set_port(o, optarg);
		break;
	case 'm':
		what = "--mac";
		s = vmnet_broker_options_set_mac(o, optarg);
		break;
	case 'l':
		what = "--label";
		s = vmnet_broker_options_set_label(o, optarg);
		break;
	case 'i':
		what = "--ifname";
		s = vmnet_broker_options_set_ifname(o, optarg);
		break;
	case 'f':
		what = "--forward";
		s = add_forward(o, optarg);
		break;
	case 'n':
		a->netns = optarg;
		return 0;
	case 'j':
		a->json = true;
		return 0;
	case 'H':
		a->hold = true;
		return 0;
	case 'P':
		what = "--persistent";
		s = vmnet_broker_options_set_persistent(o, true);
		break;
	default:
		return 0;
	}
	if (s != VMNET_BROKER_SUCCESS)
		return usage_error(c, "invalid %s: %s", what, vmnet_broker_last_error_message());
	return 0;
}

/* Return: -1 to go on, or the exit status. */
static int acquire_parse(const struct command *c, struct globals *g, int argc, char **argv,
			 struct vmnet_broker_options *o, struct acquire_args *a, bool *port_given)
{
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "port", required_argument, NULL, 'p' },
		{ "mac", required_argument, NULL, 'm' },
		{ "label", required_argument, NULL, 'l' },
		{ "ifname", required_argument, NULL, 'i' },
		{ "forward", required_argument, NULL, 'f' },
		{ "netns", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "hold", no_argument, NULL, 'H' },
		{ "persistent", no_argument, NULL, 'P' },
		{ "socket", required_argument, NULL, 'S' },
		{},
	};
	int opt, done = -1;

	while (done < 0 && (opt = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
		opt = common_option(g, c, opt, &done);
		if (opt == 'p')
			*port_given = true;
		if (opt >= 0 && acquire_option(c, o, a, opt) != 0)
			done = EXIT_USAGE;
	}
	if (done >= 0)
		return done;
	if (optind >= argc)
		return usage_error(c, "missing network NAME");
	if (optind + 1 < argc)
		return usage_error(c, "unexpected argument '%s'", argv[optind + 1]);
	a->name = argv[optind];
	return -1;
}

/* "network shared: port netns vmveth0 mac 52:54:00:aa:bb:cc address 192.168.64.2" */
static void print_port(const struct vmnet_broker_network *net)
{
	const char *ifname = vmnet_broker_network_port_ifname(net);
	const char *mac = vmnet_broker_network_port_mac(net);
	const char *address = vmnet_broker_network_port_address(net);
	const char *name = vmnet_broker_network_name(net);

	printf("network %s: port %s", name ? name : "?", vmnet_broker_network_port_kind(net));
	if (ifname)
		printf(" %s", ifname);
	if (mac)
		printf(" mac %s", mac);
	if (address)
		printf(" address %s", address);
	if (vmnet_broker_network_lease_id(net) > 0)
		printf(" lease %lld", vmnet_broker_network_lease_id(net));
	if (vmnet_broker_network_port_persistent(net))
		printf(" (persistent)");
	putchar('\n');
}

static void hold_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
}

/* Keep the connection (and any TAP) open, and so the lease, until SIGINT or SIGTERM. */
static void hold(const sigset_t *set)
{
	int sig;

	fflush(stdout);
	while (sigwait(set, &sig) != 0)
		;
}

static int cmd_acquire(const struct command *c, struct globals *g, int argc, char **argv)
{
	_cleanup_(options_freep) struct vmnet_broker_options *o = NULL;
	_cleanup_(network_releasep) struct vmnet_broker_network *net = NULL;
	_cleanup_close_ int netns = -EBADF;
	struct acquire_args a = { 0 };
	bool port_given = false;
	sigset_t set;
	vmnet_broker_return_t s;
	int r;

	o = vmnet_broker_options_new();
	if (!o) {
		fprintf(stderr, PROGRAM ": out of memory\n");
		return EXIT_FAILURE;
	}
	r = acquire_parse(c, g, argc, argv, o, &a, &port_given);
	if (r >= 0)
		return r;

	if (a.netns) {
		netns = open(a.netns, O_RDONLY | O_CLOEXEC);
		if (netns < 0) {
			fprintf(stderr, PROGRAM ": open %s: %m\n", a.netns);
			return EXIT_FAILURE;
		}
		/* --netns alone means --port netns. */
		if (!port_given)
			vmnet_broker_options_set_port(o, "netns");
		vmnet_broker_options_set_netns_fd(o, netns);
	}
	if (g->socket) {
		s = vmnet_broker_options_set_socket(o, g->socket);
		if (s != VMNET_BROKER_SUCCESS)
			return broker_error(s);
	}

	net = vmnet_broker_acquire_network_with_options(a.name, o, &s);
	if (!net)
		return broker_error(s);
	/*
	 * Blocked before the reply is printed, as whoever reads it may signal
	 * at once; sigwait() then takes the signal.
	 */
	hold_signals(&set);
	if (a.hold)
		sigprocmask(SIG_BLOCK, &set, NULL);
	if (a.json)
		print_json(vmnet_broker_network_reply_json(net));
	else
		print_port(net);
	if (a.hold)
		hold(&set);
	return EXIT_SUCCESS;
}

struct wait_args {
	const char *port;    /* LABEL or IFNAME */
	const char *network; /* NULL: any */
	unsigned int timeout;
	bool json;
};

/* Return: -1 to go on, or the exit status. */
static int wait_parse(const struct command *c, struct globals *g, int argc, char **argv,
		      struct wait_args *a)
{
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "timeout", required_argument, NULL, 't' },
		{ "network", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "socket", required_argument, NULL, 'S' },
		{},
	};
	int opt, done = -1;
	char *end;
	unsigned long v;

	while (done < 0 && (opt = getopt_long(argc, argv, "ht:n:", options, NULL)) >= 0) {
		opt = common_option(g, c, opt, &done);
		if (opt == 't') {
			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || optarg[0] == '-' || v > 3600)
				return usage_error(c, "invalid --timeout '%s': seconds, 0 to 3600",
						   optarg);
			a->timeout = (unsigned int)v;
		} else if (opt == 'n') {
			a->network = optarg;
		} else if (opt == 'j') {
			a->json = true;
		}
	}
	if (done >= 0)
		return done;
	if (optind >= argc)
		return usage_error(c, "missing the port: its LABEL or IFNAME");
	if (optind + 1 < argc)
		return usage_error(c, "unexpected argument '%s'", argv[optind + 1]);
	a->port = argv[optind];
	return -1;
}

/*
 * By interface name when the argument can be one, else (or when no port
 * has that name) by label: "vmtap3" and "web server" both work.
 */
static vmnet_broker_return_t wait_for(struct globals *g, const struct wait_args *a,
				      char **ret_address, char **ret_json)
{
	vmnet_broker_return_t s = VMNET_BROKER_NOT_FOUND;
	char message[1024];
	bool ifname;

	if (!a->port)
		return VMNET_BROKER_INVALID_REQUEST;
	ifname = strlen(a->port) < 16 && !strpbrk(a->port, " /:%") && !streq(a->port, ".") &&
		 !streq(a->port, "..");

	if (ifname) {
		s = vmnet_broker_wait_address(g->socket, a->port, NULL, a->network, a->timeout,
					      ret_address, ret_json);
		if (s != VMNET_BROKER_NOT_FOUND)
			return s;
	}
	snprintf(message, sizeof(message), "%s", vmnet_broker_last_error_message());
	s = vmnet_broker_wait_address(g->socket, NULL, a->port, a->network, a->timeout, ret_address,
				      ret_json);
	/* Neither: say so about the port's name, the likelier mistake. */
	if (s == VMNET_BROKER_NOT_FOUND && ifname)
		fprintf(stderr, PROGRAM ": %s\n", message);
	return s;
}

static int cmd_wait_address(const struct command *c, struct globals *g, int argc, char **argv)
{
	struct wait_args a = { .timeout = 60 };
	_cleanup_free_ char *address = NULL, *json = NULL;
	vmnet_broker_return_t s;
	int r;

	r = wait_parse(c, g, argc, argv, &a);
	if (r >= 0)
		return r;
	s = wait_for(g, &a, &address, &json);
	if (s != VMNET_BROKER_SUCCESS)
		return broker_error(s);
	if (a.json)
		return print_json(json);
	puts(address);
	return EXIT_SUCCESS;
}

/* "FILE: KEY: REASON" for each problem of each file; "-" for a file-wide problem. */
static size_t print_config_errors(const struct config_dir *d)
{
	size_t count = 0;

	for (size_t i = 0; i < d->n; i++)
		for (size_t j = 0; j < d->v[i].errors.n; j++) {
			const struct config_error *e = &d->v[i].errors.v[j];

			printf("%s: %s: %s\n", e->file, *e->key ? e->key : "-", e->reason);
			count++;
		}
	return count;
}

static int cmd_check_config(const struct command *c, struct globals *g, int argc, char **argv)
{
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct config_dir *d = NULL;
	const char *dir = VMNET_BROKER_DEFAULT_CONFIG_DIR;
	struct stat st;
	int opt, done = -1, r;
	size_t bad;

	while (done < 0 && (opt = getopt_long(argc, argv, "h", options, NULL)) >= 0)
		(void)common_option(g, c, opt, &done);
	if (done >= 0)
		return done;
	if (optind + 1 < argc)
		return usage_error(c, "unexpected argument '%s'", argv[optind + 1]);
	if (optind < argc)
		dir = argv[optind];
	/* A named directory must be there; the default may be missing (no files). */
	if (stat(dir, &st) < 0 && (optind < argc || errno != ENOENT)) {
		fprintf(stderr, PROGRAM ": %s: %m\n", dir);
		return EXIT_FAILURE;
	}
	r = config_dir_new(dir, &d);
	if (r >= 0) {
		/* This process reads only what its user may: any file may be quoted. */
		config_dir_quote_all(d);
		r = config_dir_refresh(d);
	}
	if (r < 0) {
		fprintf(stderr, PROGRAM ": %s: %s\n", dir, strerror(-r));
		config_dir_free(d);
		return EXIT_FAILURE;
	}
	bad = print_config_errors(d);
	if (bad == 0)
		printf("%zu network%s OK\n", d->n, d->n == 1 ? "" : "s");
	config_dir_free(d);
	return bad ? EXIT_FAILURE : EXIT_SUCCESS;
}

static const struct command commands[] = {
	{
		.name = "status",
		.args = "[--json | --names]",
		.summary = "show the networks that are up and their leases",
		.help = "  --json          print the daemon's reply as JSON\n"
			"  --names         print only the names of the networks that are up\n",
		.notes = "Each network shows its subnet and IPv6 prefix; each lease its id (for\n"
			 "'" PROGRAM " release --id' and '" PROGRAM " forward'), and\n"
			 "its port forwards. Another user's leases show only their kind and port.\n",
		.run = cmd_status,
	},
	{
		.name = "networks",
		.args = "[--json | --names]",
		.summary = "list every network the daemon can create, with config errors",
		.help = "  --json          print the daemon's reply as JSON\n"
			"  --names         print only the networks' names\n",
		.notes = "SUBNET is the running network's, or the one its file fixes; \"(from the\n"
			 "pool)\" when a free /24 is picked as the network is created.\n",
		.run = cmd_networks,
	},
	{
		.name = "acquire",
		.args = "NAME [--port KIND] [--mac MAC] [--label L] [--ifname IF]\n"
			"       [--netns PATH] [--forward P:HOST:GUEST]... [--persistent] [--json] [--hold]",
		.summary = "acquire a port on network NAME and print it (for scripts and tests)",
		.help = "  --port KIND     tap (default), netns, named_tap or none\n"
			"  --mac MAC       the port's MAC address, e.g. 52:54:00:12:34:56\n"
			"  --label L       free text shown in status and the interface alias\n"
			"  --ifname IF     for netns: the interface name inside it (default eth0);\n"
			"                  for named_tap: the TAP's name (default vmtapN), as a\n"
			"                  libvirt domain or a Firecracker config names it\n"
			"  --netns PATH    put a veth end into this namespace (/run/netns/NAME,\n"
			"                  /proc/PID/ns/net); implies --port netns\n"
			"  --forward tcp:2222:22\n"
			"                  forward host port 2222 to port 22 of this port's\n"
			"                  address while the lease lives (tcp or udp; repeat)\n"
			"  --persistent    named_tap, netns: the lease outlives the connection, until\n"
			"                  '" PROGRAM " release', its network stops, or its owner\n"
			"                  is over quota\n"
			"  --json          print the daemon's reply as JSON\n"
			"  --hold          keep the connection and any TAP open until SIGINT or\n"
			"                  SIGTERM, which keeps a tap, named_tap or none lease\n",
		.notes = "Without --hold the command exits after printing: a tap lease ends then,\n"
			 "as the TAP closes, and so do named_tap and none leases, as the\n"
			 "connection closes, unless --persistent. A netns lease lasts as long as\n"
			 "the namespace. E.g. a TAP for a libvirt domain, kept until released:\n"
			 "  " PROGRAM " acquire shared --port named_tap --ifname vm1-net0 --persistent\n",
		.run = cmd_acquire,
	},
	{
		.name = "run",
		.args = "--network NAME[,KEY=VALUE...] [--network ...] [--verbose]\n"
			"       [--] CMD [ARGS...]",
		.summary = "run CMD with a TAP port on each network, as fds 3, 4 and on",
		.help = "  -n, --network NAME[,mac=MAC][,label=L][,vnet_hdr=on][,queues=N]\n"
			"                  a TAP port on network NAME; repeat for more networks.\n"
			"                  mac: the port's MAC; give it to the guest, so that it\n"
			"                  gets the port's reserved address (else DHCP gives its\n"
			"                  own MAC one of the dynamic range)\n"
			"                  label: shown in status (default \"run CMD\")\n"
			"                  vnet_hdr=on: IFF_VNET_HDR, for vhost and offloads\n"
			"                  queues=N: a multi-queue TAP, N fds (1-16)\n"
			"                  forward=tcp:2222:22: host port 2222 to the guest's\n"
			"                  port 22 while it runs (tcp or udp; repeat the key)\n"
			"                  A comma inside a value is written ',,'.\n"
			"  -v, --verbose   print each port acquired to stderr\n",
		.notes = "The TAP fds are given to CMD as fds 3, 4, ... in the order of the\n"
			 "--network options, all queues of one network one after another, and\n"
			 "listed in its environment:\n"
			 "  VMNET_BROKER_FDS        \"3,4,...\", every fd passed\n"
			 "  VMNET_BROKER_MACS       each network's port MAC, in order\n"
			 "  VMNET_BROKER_ADDRESSES  each network's reserved IPv4 address, in\n"
			 "                          order (empty where the network has no DHCP)\n"
			 "Then " PROGRAM " execs CMD, so CMD holds the TAPs and each lease lives\n"
			 "until CMD (and whatever it passed them to) closes them. E.g.\n"
			 "  " PROGRAM " run --network shared,mac=52:54:00:12:34:56 -- \\\n"
			 "    qemu-system-x86_64 -netdev tap,id=n0,fd=3 \\\n"
			 "    -device virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56 ...\n"
			 "CMD's exit status is the command's; 126 or 127 when CMD cannot run.\n",
		.run = cmd_run,
	},
	{
		.name = "release",
		.args = "IFNAME | --id LEASE",
		.summary = "end a lease now: its port goes",
		.help = "  --id LEASE      the lease by its id (status shows it), not by IFNAME\n"
			"  --json          print the daemon's reply as JSON\n",
		.notes = "IFNAME is the lease's port as status shows it: vmtapN, vmvethN, or a\n"
			 "named TAP. Its owner or root may release a lease of any kind; a 'none'\n"
			 "hold has no port, so --id names it. A plain TAP still held by a VM is\n"
			 "taken off the network and lives on until the VM closes it.\n",
		.run = cmd_release,
	},
	{
		.name = "forward",
		.args = "add IFNAME|--id LEASE PROTO:HOST:GUEST...\n"
			"       forward remove IFNAME|--id LEASE PROTO:HOST...\n"
			"       forward list [IFNAME|--id LEASE]",
		.summary = "forward host ports to a lease, stop forwarding them, list them",
		.help = "  --id LEASE      the lease by its id (status shows it), not by IFNAME\n"
			"  --json          print the daemon's reply as JSON\n",
		.notes = "add tcp:2222:22 forwards TCP port 2222 of the host (from outside, and from\n"
			 "the host itself: localhost and its own addresses) to port 22 of the\n"
			 "lease's address, over IPv4 and, where the network advertises a /64, to\n"
			 "the guest's EUI-64 SLAAC address over IPv6, while the lease lives.\n"
			 "remove tcp:2222 stops that. Only the lease's owner or root may change\n"
			 "its forwards; a host port another lease or network forwards is a\n"
			 "conflict. list shows the lease's forwards, or without a lease those of\n"
			 "every lease of yours (root: of everyone's).\n",
		.run = cmd_forward,
	},
	{
		.name = "stop",
		.args = "NETWORK [--force]",
		.summary = "remove a running network now (root only)",
		.help = "  --force         end its leases too, and say whose they were\n"
			"  --json          print the daemon's reply as JSON\n",
		.notes = "Refuses while the network has leases, naming them, unless --force. A\n"
			 "network file's network comes back at its next acquire (a persistent one\n"
			 "also when the daemon starts).\n",
		.run = cmd_stop,
	},
	{
		.name = "doctor",
		.args = "",
		.summary = "check this host for what would break guests, one line per finding",
		.help = "",
		.notes = "Each line starts with ok, info, warn or fail, says what was found and,\n"
			 "after \"--\", what to do. The daemon's socket and /dev/net/tun are looked at\n"
			 "here; the firewalls (nftables, iptables of Docker and ufw, firewalld),\n"
			 "forwarding and a DNS server on port 53 the daemon looks at, in its own\n"
			 "namespace, and reports in 'status --json' (\"host\"). Exits with 1 if\n"
			 "anything failed.\n",
		.run = cmd_doctor,
	},
	{
		.name = "wait-address",
		.args = "[--timeout S] [--network NAME] [--json] (LABEL | IFNAME)",
		.summary = "wait until the guest behind a port has an IPv4 address, and print it",
		.help = "  -t, --timeout S  give up after S seconds (0-3600, default 60; 0: ask once)\n"
			"  -n, --network NAME\n"
			"                  only that network's ports\n"
			"  --json          print the daemon's reply as JSON: the address, and the\n"
			"                  lease with every guest behind it\n",
		.notes = "The port is named by its interface on the host (IFNAME, as status shows\n"
			 "it: vmtap3) or by its label (one of your own ports). The daemon answers\n"
			 "once it knows the address, from DHCP or from the host's neighbour\n"
			 "table, whatever MAC the guest uses; with several guests behind the\n"
			 "port, the one that got its DHCP lease last. Exits with 1 and\n"
			 "VMNET_BROKER_TIMEOUT when no address came in time. E.g.\n"
			 "  " PROGRAM " run --network shared,label=web -- qemu-system-x86_64 ... &\n"
			 "  ssh user@$(" PROGRAM " wait-address web)\n",
		.run = cmd_wait_address,
	},
	{
		.name = "check-config",
		.args = "[DIR]",
		.summary = "check the network files DIR/NAME.json (default " VMNET_BROKER_DEFAULT_CONFIG_DIR
			   ")",
		.help = "",
		.notes = "Prints every problem as FILE: KEY: REASON and exits with 1 if there is\n"
			 "any, else prints \"N networks OK\". Reads the files only; the daemon\n"
			 "need not run. See also '" PROGRAM " networks'.\n",
		.run = cmd_check_config,
	},
};

static const struct command *command_find(const char *name)
{
	for (size_t i = 0; i < ELEMENTSOF(commands); i++)
		if (streq(commands[i].name, name))
			return &commands[i];
	return NULL;
}

static void program_help(FILE *f)
{
	fprintf(f, "Usage: " PROGRAM " [--socket PATH] COMMAND [OPTIONS]\n\n"
		   "Client of vmnet-brokerd, the daemon that shares virtual networks\n"
		   "between VM tools.\n\n"
		   "Commands:\n");
	for (size_t i = 0; i < ELEMENTSOF(commands); i++)
		fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nOptions:\n" SOCKET_HELP "  -h, --help      show this help; '" PROGRAM
		   " COMMAND --help' for a command\n"
		   "  -V, --version   show the version\n\n"
		   "Errors print the status code's name and a message, and exit with 1;\n"
		   "usage errors exit with 2.\n");
}

/* Global options, up to the command name. Return: -1 to go on, or the exit status. */
static int parse_globals(struct globals *g, int argc, char **argv)
{
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "socket", required_argument, NULL, 'S' },
		{},
	};
	int opt;

	/* "+": stop at the command name, whose options are its own. */
	while ((opt = getopt_long(argc, argv, "+hV", options, NULL)) >= 0) {
		switch (opt) {
		case 'h':
			program_help(stdout);
			return EXIT_SUCCESS;
		case 'V':
			puts(PROGRAM " " VMNET_VERSION);
			return EXIT_SUCCESS;
		case 'S':
			g->socket = optarg;
			break;
		default:
			fputs("Try '" PROGRAM " --help'.\n", stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		program_help(stderr);
		return EXIT_USAGE;
	}
	return -1;
}

int main(int argc, char **argv)
{
	static char name[64];
	struct globals g = { 0 };
	const struct command *c;
	int r;

	argv[0] = (char *)PROGRAM; /* what getopt's messages are prefixed with */
	r = parse_globals(&g, argc, argv);
	if (r >= 0)
		return r;
	c = command_find(argv[optind]);
	if (!c)
		return usage_error(NULL, "unknown command '%s'", argv[optind]);

	/*
	 * The command parses from its own name on, which getopt's messages
	 * show as "vmnet-broker status: ..."; optind 0 makes glibc start over.
	 */
	argc -= optind;
	argv += optind;
	snprintf(name, sizeof(name), PROGRAM " %s", c->name);
	argv[0] = name;
	optind = 0;
	return c->run(c, &g, argc, argv);
}
