/* manage.c - `vmnet-broker release`, `forward` and `stop`: leases and networks that run */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "util.h"
#include "vmnet-broker.h"

/* What names a lease on the command line: IFNAME, or --id LEASE. */
struct lease_args {
	const char *ifname;
	long long id; /* 0: not given */
	bool json;
};

/* Options of these commands: --id, --json and, for stop, --force. Return: -1 or the exit status. */
static int manage_options(const struct command *c, struct globals *g, int argc, char **argv,
			  struct lease_args *a, bool *force)
{
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },         { "id", required_argument, NULL, 'i' },
		{ "json", no_argument, NULL, 'j' },         { "force", no_argument, NULL, 'f' },
		{ "socket", required_argument, NULL, 'S' }, {},
	};
	int opt, done = -1;
	char *end;

	while (done < 0 && (opt = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
		opt = common_option(g, c, opt, &done);
		if (opt == 'j') {
			a->json = true;
		} else if (opt == 'i' && force == NULL) {
			errno = 0;
			a->id = strtoll(optarg, &end, 10);
			if (errno || end == optarg || *end || a->id < 1)
				return usage_error(c, "--id takes a lease id (a number from 1), not '%s'",
						   optarg);
		} else if (opt == 'f' && force) {
			*force = true;
		} else if (opt == 'i' || opt == 'f') {
			return usage_error(c, "unknown option '--%s'", opt == 'i' ? "id" : "force");
		}
	}
	return done;
}

/* The IFNAME argument at @argv[optind], unless --id named the lease. Return: -1 or the exit status. */
static int lease_argument(const struct command *c, int argc, char **argv, struct lease_args *a,
			  bool optional)
{
	if (a->id == 0 && optind < argc)
		a->ifname = argv[optind++];
	if (!a->ifname && a->id == 0 && !optional)
		return usage_error(c, "name the lease: its IFNAME (status shows it) or --id LEASE");
	return -1;
}

/* Print a successful reply @text as JSON or with @print; free @text. */
static int done_reply(char *text, bool json, void (*print)(json_t *))
{
	_cleanup_free_ char *owned = text;
	_cleanup_(json_decrefp) json_t *root = NULL;

	if (json)
		return print_json(owned);
	root = json_loads(owned, 0, NULL);
	if (!root)
		return broker_error(VMNET_BROKER_INVALID_REPLY);
	print(root);
	return EXIT_SUCCESS;
}

static void print_released(json_t *root)
{
	json_t *lease = json_object_get(root, "lease");
	char text[256];

	printf("Released on network %s: %s\n", str_or_dash(lease, "network_name"),
	       lease_text(lease, text, sizeof(text)));
}

int cmd_release(const struct command *c, struct globals *g, int argc, char **argv)
{
	struct lease_args a = { 0 };
	vmnet_broker_return_t s;
	char *text = NULL;
	int r;

	r = manage_options(c, g, argc, argv, &a, NULL);
	if (r < 0)
		r = lease_argument(c, argc, argv, &a, false);
	if (r >= 0)
		return r;
	if (optind < argc)
		return usage_error(c, "unexpected argument '%s'", argv[optind]);
	s = vmnet_broker_release(g->socket, a.ifname, a.id, &text);
	if (s != VMNET_BROKER_SUCCESS)
		return broker_error(s);
	return done_reply(text, a.json, print_released);
}

/* One lease and its forwards, as forward add, remove and list show it. */
static void print_lease_forwards(json_t *lease)
{
	char text[256];

	printf("network %s, %s\n", str_or_dash(lease, "network_name"),
	       lease_text(lease, text, sizeof(text)));
	if (json_array_size(json_object_get(lease, "port_forwards")) == 0)
		puts("    (no port forwards)");
	print_forwards(lease, "    ");
}

static void print_forward_reply(json_t *root)
{
	print_lease_forwards(json_object_get(root, "lease"));
}

static void print_forward_list(json_t *root)
{
	json_t *leases = json_object_get(root, "leases"), *lease;
	size_t i;

	if (json_array_size(leases) == 0)
		puts("No lease of yours forwards a port.");
	json_array_foreach(leases, i, lease)
		print_lease_forwards(lease);
}

/* Whether "tcp:2222:22" (or "tcp:2222", @host_port_only) is one, into @ret. */
static bool forward_valid(const char *spec, bool host_port_only, char proto[8],
			  struct vmnet_broker_forward *ret)
{
	return parse_forward(spec, host_port_only, proto, ret) == 0 &&
	       (streq(proto, "tcp") || streq(proto, "udp")) && ret->external_port > 0 &&
	       (host_port_only || ret->internal_port > 0);
}

/*
 * The PROTO:HOST[:GUEST] arguments from @argv[optind] on, into @v (16 at most).
 * Return: -1 with *@ret_n set, or the exit status (a usage error).
 */
static int forward_arguments(const struct command *c, int argc, char **argv, bool host_port_only,
			     struct vmnet_broker_forward *v, char (*protos)[8], int *ret_n)
{
	const char *want = host_port_only ? "PROTO:HOST_PORT, like tcp:2222"
					  : "PROTO:HOST_PORT:GUEST_PORT, like tcp:2222:22";
	int n = 0;

	if (optind >= argc)
		return usage_error(c, "no forward given: %s", want);
	for (; optind < argc; optind++, n++) {
		if (n == 16)
			return usage_error(c, "at most 16 forwards at once");
		if (!forward_valid(argv[optind], host_port_only, protos[n], &v[n]))
			return usage_error(c, "'%s' is not %s (tcp or udp, ports 1-65535)",
					   argv[optind], want);
	}
	*ret_n = n;
	return -1;
}

int cmd_forward(const struct command *c, struct globals *g, int argc, char **argv)
{
	struct vmnet_broker_forward v[16];
	char protos[16][8];
	struct lease_args a = { 0 };
	const char *what;
	vmnet_broker_return_t s;
	char *text = NULL;
	int r, n = 0;

	r = manage_options(c, g, argc, argv, &a, NULL);
	if (r >= 0)
		return r;
	if (optind >= argc)
		return usage_error(c, "missing add, remove or list");
	what = argv[optind++];
	if (!streq(what, "add") && !streq(what, "remove") && !streq(what, "list"))
		return usage_error(c, "'%s' is not add, remove or list", what);
	r = lease_argument(c, argc, argv, &a, streq(what, "list"));
	if (r >= 0)
		return r;
	if (streq(what, "list")) {
		if (optind < argc)
			return usage_error(c, "unexpected argument '%s'", argv[optind]);
		s = vmnet_broker_forward_list(g->socket, a.ifname, a.id, &text);
		return s ? broker_error(s) : done_reply(text, a.json, print_forward_list);
	}
	r = forward_arguments(c, argc, argv, streq(what, "remove"), v, protos, &n);
	if (r >= 0)
		return r;
	if (streq(what, "add"))
		s = vmnet_broker_forward_add(g->socket, a.ifname, a.id, v, (size_t)n, &text);
	else
		s = vmnet_broker_forward_remove(g->socket, a.ifname, a.id, v, (size_t)n, &text);
	return s ? broker_error(s) : done_reply(text, a.json, print_forward_reply);
}

static void print_stopped(json_t *root)
{
	json_t *net = json_object_get(root, "network"), *leases, *lease;
	char text[256];
	size_t i;

	leases = json_object_get(root, "ended_leases");
	printf("Stopped network %s (bridge %s).\n", str_or_dash(net, "name"),
	       str_or_dash(net, "bridge"));
	if (json_array_size(leases))
		printf("Ended %zu lease(s):\n", json_array_size(leases));
	json_array_foreach(leases, i, lease)
		printf("  %s\n", lease_text(lease, text, sizeof(text)));
}

int cmd_stop(const struct command *c, struct globals *g, int argc, char **argv)
{
	struct lease_args a = { 0 };
	vmnet_broker_return_t s;
	bool force = false;
	char *text = NULL;
	int r;

	r = manage_options(c, g, argc, argv, &a, &force);
	if (r >= 0)
		return r;
	if (optind >= argc)
		return usage_error(c, "missing NETWORK");
	if (optind + 1 < argc)
		return usage_error(c, "unexpected argument '%s'", argv[optind + 1]);
	s = vmnet_broker_stop_network(g->socket, argv[optind], force, &text);
	if (s != VMNET_BROKER_SUCCESS)
		return broker_error(s);
	return done_reply(text, a.json, print_stopped);
}
