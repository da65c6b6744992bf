/* print.c - what the commands of vmnet-broker print: status, networks, leases, forwards, guests */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "util.h"

/* An integer member formatted into @buf, or "-". */
static const char *int_or_dash(json_t *obj, const char *key, char *buf, size_t size)
{
	json_t *v = json_object_get(obj, key);

	if (!json_is_integer(v))
		return "-";
	snprintf(buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	return buf;
}

/* Width of the widest @key value among @networks, at least @min. */
static int column_width(json_t *networks, const char *key, int min)
{
	size_t i;
	json_t *n;
	int w = min;

	json_array_foreach(networks, i, n) {
		int len = (int)strlen(str_or_dash(n, key));

		if (len > w)
			w = len;
	}
	return w;
}

/*
 * "192.168.64.0/24" of a running network's "subnet" (the gateway) and
 * "mask", with " gw 192.168.42.254" when the gateway is not the first
 * address; "-" when either is missing or malformed.
 */
static const char *subnet_cidr(json_t *net, char *buf, size_t size)
{
	const char *gw = json_string_value(json_object_get(net, "subnet"));
	const char *mask = json_string_value(json_object_get(net, "mask"));
	struct in_addr g, m, n;
	char a[INET_ADDRSTRLEN];
	uint32_t bits;

	if (!gw || !mask || inet_pton(AF_INET, gw, &g) != 1 || inet_pton(AF_INET, mask, &m) != 1)
		return "-";
	bits = ntohl(m.s_addr);
	n.s_addr = htonl(ntohl(g.s_addr) & bits);
	inet_ntop(AF_INET, &n, a, sizeof(a));
	if (ntohl(g.s_addr) == (ntohl(n.s_addr) | 1))
		snprintf(buf, size, "%s/%d", a, __builtin_popcount(bits));
	else
		snprintf(buf, size, "%s/%d gw %s", a, __builtin_popcount(bits), gw);
	return buf;
}

/* "fd12:3456:789a:1::/64", or "-". */
static const char *ipv6_cidr(json_t *net, char *buf, size_t size)
{
	const char *p = json_string_value(json_object_get(net, "ipv6_prefix"));
	json_t *len = json_object_get(net, "prefix_len");

	if (!p || !json_is_integer(len))
		return "-";
	snprintf(buf, size, "%s/%" JSON_INTEGER_FORMAT, p, json_integer_value(len));
	return buf;
}

const char *forward_text(json_t *f, char *buf, size_t size)
{
	json_t *ext = json_object_get(f, "external_port"), *in = json_object_get(f, "internal_port");
	const char *a6 = json_string_value(json_object_get(f, "internal_address6"));
	int n;

	n = snprintf(buf, size, "%s %" JSON_INTEGER_FORMAT " -> %s:%" JSON_INTEGER_FORMAT,
		     str_or_dash(f, "protocol"), json_integer_value(ext),
		     str_or_dash(f, "internal_address"), json_integer_value(in));
	if (a6 && n > 0 && (size_t)n < size)
		snprintf(buf + n, size - (size_t)n, ", [%s]:%" JSON_INTEGER_FORMAT, a6,
			 json_integer_value(in));
	return buf;
}

void print_forwards(json_t *lease, const char *indent)
{
	json_t *f;
	size_t i;
	char text[160];

	/* One that a host service's port shadows says so. */
	json_array_foreach(json_object_get(lease, "port_forwards"), i, f)
		printf("%sforward %s%s\n", indent, forward_text(f, text, sizeof(text)),
		       json_is_true(json_object_get(f, "host_listener"))
			       ? "  (a host service listens on this port: outside traffic for it "
				 "reaches the guest)"
			       : "");
}

/* The strings of array @key of @obj, joined by ", " into @buf; "-" for none. */
static const char *join(json_t *obj, const char *key, char *buf, size_t size)
{
	json_t *a = json_object_get(obj, key), *v;
	size_t i, off = 0;

	buf[0] = '\0';
	json_array_foreach(a, i, v)
		if (json_is_string(v) && off < size)
			off += (size_t)snprintf(buf + off, size - off, "%s%s", off ? ", " : "",
						json_string_value(v));
	return buf[0] ? buf : "-";
}

/*
 * "      guest 52:54:00:aa:bb:cc  192.168.64.130  fd00::5054:ff:feaa:bbcc  host vm1":
 * each MAC behind the port with the addresses it uses, as virsh domifaddr shows them.
 */
static void print_guests(json_t *lease)
{
	json_t *guests = json_object_get(lease, "guests"), *g;
	char v4[256], v6[512], names[512];
	size_t i;

	json_array_foreach(guests, i, g) {
		const char *host = json_string_value(json_object_get(g, "hostname"));

		printf("        guest %-17s %s  %s  %s%s%s%s\n", str_or_dash(g, "mac"),
		       join(g, "ipv4", v4, sizeof(v4)), join(g, "ipv6", v6, sizeof(v6)),
		       json_is_true(json_object_get(g, "on_bridge")) ? "seen" : "quiet",
		       host ? " host '" : "", host ? host : "", host ? "'" : "");
	}
	if (json_array_size(json_object_get(lease, "names")))
		printf("        names %s\n", join(lease, "names", names, sizeof(names)));
}

static void print_lease(json_t *lease)
{
	char uid[24], pid[24], id[24];
	const char *state = json_string_value(json_object_get(lease, "state"));
	const char *note =
		state && streq(state, "removing") ? "  (removing: the port is not gone yet)" : "";

	if (json_is_true(json_object_get(lease, "hidden"))) {
		printf("    %-10s %-16s %s%s\n", str_or_dash(lease, "kind"),
		       str_or_dash(lease, "ifname"), "(another user's lease)", note);
		return;
	}
	printf("    %-10s %-16s %-18s %-16s %-6s %-8s %-8s %s%s%s\n", str_or_dash(lease, "kind"),
	       str_or_dash(lease, "ifname"), str_or_dash(lease, "mac"),
	       str_or_dash(lease, "address"), int_or_dash(lease, "lease_id", id, sizeof(id)),
	       int_or_dash(lease, "uid", uid, sizeof(uid)),
	       int_or_dash(lease, "pid", pid, sizeof(pid)), str_or_dash(lease, "label"),
	       json_is_true(json_object_get(lease, "persistent")) ? " (persistent)" : "", note);
	print_forwards(lease, "        ");
	print_guests(lease);
}

static void print_network_state(json_t *net, char *buf, size_t size)
{
	const char *state = str_or_dash(net, "state");
	json_t *remaining = json_object_get(net, "idle_remaining");

	if (streq(state, "idle") && json_is_integer(remaining))
		snprintf(buf, size, "idle (removal in %" JSON_INTEGER_FORMAT "s)",
			 json_integer_value(remaining));
	else
		snprintf(buf, size, "%s", state);
}

/* A spanning network: one line for this host's side, one per other host. */
static void print_span(json_t *span)
{
	json_t *frr = json_object_get(span, "frr"), *peers = json_object_get(span, "peers"), *p;
	const char *slice = json_string_value(json_object_get(span, "slice"));
	const char *names = json_string_value(json_object_get(span, "names_address"));
	const char *msg = json_string_value(json_object_get(frr, "message"));
	size_t i;

	if (!json_is_object(span))
		return;
	printf("    span: VNI %" JSON_INTEGER_FORMAT ", %s, %s from %s%s%s",
	       json_integer_value(json_object_get(span, "vni")), str_or_dash(span, "control"),
	       str_or_dash(span, "vxlan"), str_or_dash(span, "local"), slice ? ", slice " : "",
	       slice ? slice : "");
	if (frr)
		printf(", FRR %s%s%s", str_or_dash(frr, "state"), msg ? ": " : "", msg ? msg : "");
	if (names)
		printf(", names at %s", names);
	printf("\n");
	json_array_foreach(peers, i, p) {
		json_t *vtep = json_object_get(p, "vtep");
		const char *up = json_string_value(json_object_get(p, "uptime"));

		printf("      peer %-16s %s%s%s%s\n", str_or_dash(p, "address"),
		       str_or_dash(p, "state"), up ? ", up " : "", up ? up : "",
		       json_is_boolean(vtep) ? (json_is_true(vtep) ? ", VTEP known" : ", no VTEP yet")
					     : "");
	}
}

void print_status(json_t *root)
{
	json_t *networks = json_object_get(root, "networks"), *net;
	int wn = column_width(networks, "name", 7), wm = column_width(networks, "mode", 4);
	int wb = column_width(networks, "bridge", 6);
	size_t i;

	if (json_array_size(networks) == 0) {
		puts("No networks are up.");
		print_host(json_object_get(root, "host"));
		return;
	}
	printf("%-*s  %-*s  %-*s  %-18s  %-24s  %s\n", wn, "NETWORK", wm, "MODE", wb, "BRIDGE",
	       "SUBNET", "IPV6 PREFIX", "STATE");
	json_array_foreach(networks, i, net) {
		json_t *leases = json_object_get(net, "leases"), *lease;
		char subnet[64], prefix[64], state[64];
		size_t j;

		print_network_state(net, state, sizeof(state));
		printf("%-*s  %-*s  %-*s  %-18s  %-24s  %s\n", wn, str_or_dash(net, "name"), wm,
		       str_or_dash(net, "mode"), wb, str_or_dash(net, "bridge"),
		       subnet_cidr(net, subnet, sizeof(subnet)),
		       ipv6_cidr(net, prefix, sizeof(prefix)), state);
		if (json_is_string(json_object_get(net, "domain")))
			printf("    names under %s\n", str_or_dash(net, "domain"));
		print_span(json_object_get(net, "span"));
		if (json_array_size(leases) == 0)
			continue;
		printf("    %-10s %-16s %-18s %-16s %-6s %-8s %-8s %s\n", "KIND", "IFNAME", "MAC",
		       "ADDRESS", "LEASE", "UID", "PID", "LABEL");
		json_array_foreach(leases, j, lease)
			print_lease(lease);
	}
	print_host(json_object_get(root, "host"));
}

/* "    error: KEY: REASON", one line each, under the network's line. */
static void print_errors(json_t *errors)
{
	size_t i;
	json_t *e;

	json_array_foreach(errors, i, e) {
		_cleanup_free_ char *text = NULL;
		const char *key = json_string_value(json_object_get(e, "key"));
		const char *reason = json_string_value(json_object_get(e, "reason"));

		if (json_is_string(e)) {
			printf("    error: %s\n", json_string_value(e));
		} else if (reason) {
			printf("    error: %s%s%s\n", key ? key : "", key && *key ? ": " : "", reason);
		} else {
			/* Whatever a later daemon may send, as JSON. */
			text = json_dumps(e, JSON_COMPACT | JSON_ENCODE_ANY);
			if (text)
				printf("    error: %s\n", text);
		}
	}
}

static const char *network_state(json_t *net)
{
	bool active = json_is_true(json_object_get(net, "active"));

	if (json_array_size(json_object_get(net, "errors")))
		return active ? "active, file broken" : "broken";
	if (json_is_true(json_object_get(net, "pending_change")))
		return active ? "active, changed, applies when next created" : "changed";
	return active ? "active" : "inactive";
}

/* The subnet column of `networks`: the running or fixed one, else where it will come from. */
static const char *networks_subnet(json_t *net)
{
	if (json_is_string(json_object_get(net, "cidr")))
		return json_string_value(json_object_get(net, "cidr"));
	return json_array_size(json_object_get(net, "errors")) ? "-" : "(from the pool)";
}

void print_networks(json_t *root)
{
	json_t *networks = json_object_get(root, "networks"), *net;
	int wn = column_width(networks, "name", 7), wm = column_width(networks, "mode", 4);
	int ws = column_width(networks, "source", 6);
	size_t i;

	printf("%-*s  %-*s  %-18s  %-*s  %s\n", wn, "NETWORK", wm, "MODE", "SUBNET", ws, "SOURCE",
	       "STATE");
	json_array_foreach(networks, i, net) {
		const char *desc = json_string_value(json_object_get(net, "description"));

		printf("%-*s  %-*s  %-18s  %-*s  %s\n", wn, str_or_dash(net, "name"), wm,
		       str_or_dash(net, "mode"), networks_subnet(net), ws,
		       str_or_dash(net, "source"), network_state(net));
		if (desc && *desc)
			printf("    %s\n", desc);
		print_errors(json_object_get(net, "errors"));
	}
}

void print_names(json_t *root)
{
	json_t *net;
	size_t i;

	json_array_foreach(json_object_get(root, "networks"), i, net)
		if (json_is_string(json_object_get(net, "name")))
			puts(json_string_value(json_object_get(net, "name")));
}

const char *lease_text(json_t *lease, char *buf, size_t size)
{
	char uid[24], pid[24], id[24];
	const char *kind = str_or_dash(lease, "kind");

	snprintf(buf, size, "lease %s: uid %s pid %s label '%s': %s%s%s%s%s%s%s",
		 int_or_dash(lease, "lease_id", id, sizeof(id)),
		 int_or_dash(lease, "uid", uid, sizeof(uid)),
		 int_or_dash(lease, "pid", pid, sizeof(pid)),
		 json_string_value(json_object_get(lease, "label")) ?: "", kind,
		 streq(kind, "none") ? "" : " ",
		 streq(kind, "none") ? "" : str_or_dash(lease, "ifname"),
		 json_is_string(json_object_get(lease, "mac")) ? " mac " : "",
		 json_string_value(json_object_get(lease, "mac")) ?: "",
		 json_is_string(json_object_get(lease, "address")) ? " address " : "",
		 json_string_value(json_object_get(lease, "address")) ?: "");
	return buf;
}
