/* runner.c - the C library's conformance runner: one golden case or scenario through libvmnet-broker
 *
 *   vmnet-broker-conformance SOCKET CASE.json
 *
 * Makes the case's "call" with the public API of <vmnet-broker.h> only and
 * prints the outcome as one JSON object on stdout (test/conformance/
 * conformance.py says what it holds): the status code and its name, the
 * message, and for a success the reply rebuilt from the accessors, the fd
 * count and where each fd points. Where the library has no accessor (a
 * network's "description", a port's "port_forwards") the value is copied
 * from vmnet_broker_network_reply_json(); the other calls' replies
 * ("status", "networks", "release", "forward_*", "stop") are returned by
 * the library as text only: they are printed as parsed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "vmnet-broker.h"

#define die(...)                                                           \
	do {                                                               \
		fprintf(stderr, "vmnet-broker-conformance: " __VA_ARGS__); \
		fputc('\n', stderr);                                       \
		exit(2);                                                   \
	} while (0)

/* The targets of this process's open fds, to tell what a call left open. */
static json_t *open_fds(void)
{
	json_t *out = json_object();
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	if (!d)
		die("opendir /proc/self/fd: %m");
	while ((e = readdir(d))) {
		char path[sizeof("/proc/self/fd/") + sizeof(e->d_name)], target[256];
		ssize_t n;

		if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d))
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		if (n < 0)
			continue;
		target[n] = '\0';
		json_object_set_new(out, e->d_name, json_string(target));
	}
	closedir(d);
	return out;
}

/* Fds open in @after but not in @before, as "N -> target". */
static json_t *leaked_fds(json_t *before, json_t *after)
{
	json_t *out = json_array();
	const char *fd;
	json_t *v;

	json_object_foreach(after, fd, v) {
		json_t *was = json_object_get(before, fd);

		if (!was || !json_equal(was, v))
			json_array_append_new(out, json_sprintf("%s -> %s", fd, json_string_value(v)));
	}
	return out;
}

static void set_string(json_t *o, const char *key, const char *value)
{
	if (value)
		json_object_set_new(o, key, json_string(value));
}

static void set_int(json_t *o, const char *key, int value)
{
	if (value >= 0)
		json_object_set_new(o, key, json_integer(value));
}

static void failed(json_t *out, vmnet_broker_return_t status)
{
	json_object_set_new(out, "status", json_integer(status));
	json_object_set_new(out, "name", json_string(vmnet_broker_status_name(status)));
	json_object_set_new(out, "message", json_string(vmnet_broker_last_error_message()));
}

/* The port's forwards from vmnet_broker_network_port_forward_at(), with @reply's addresses. */
static json_t *forwards_value(const struct vmnet_broker_network *net, json_t *reply)
{
	size_t i, n = vmnet_broker_network_port_forward_count(net);
	json_t *out = json_array();

	for (i = 0; i < n; i++) {
		struct vmnet_broker_forward f;
		json_t *o = json_object(), *r = json_array_get(reply, i);
		const char *k;
		json_t *v;

		if (!vmnet_broker_network_port_forward_at(net, i, &f)) {
			json_array_append_new(out, json_string("(no accessor value)"));
			continue;
		}
		json_object_set_new(o, "protocol", json_string(f.protocol));
		json_object_set_new(o, "external_port", json_integer(f.external_port));
		json_object_set_new(o, "internal_port", json_integer(f.internal_port));
		json_object_foreach(r, k, v)
			if (!json_object_get(o, k))
				json_object_set(o, k, v);
		json_array_append_new(out, o);
	}
	return out;
}

/* The reply rebuilt from the accessors (and the reply's text where there is none). */
static json_t *network_value(const struct vmnet_broker_network *net)
{
	json_t *reply = json_loads(vmnet_broker_network_reply_json(net), 0, NULL);
	json_t *network = json_object_get(reply, "network");
	json_t *out = json_object(), *port = json_object(), *v;

	set_string(out, "name", vmnet_broker_network_name(net));
	set_string(out, "mode", vmnet_broker_network_mode(net));
	set_string(out, "bridge", vmnet_broker_network_bridge(net));
	set_string(out, "subnet", vmnet_broker_network_subnet(net));
	set_string(out, "mask", vmnet_broker_network_mask(net));
	set_string(out, "ipv6_prefix", vmnet_broker_network_ipv6_prefix(net));
	set_int(out, "prefix_len", vmnet_broker_network_prefix_len(net));
	set_int(out, "mtu", vmnet_broker_network_mtu(net));
	set_string(out, "domain", vmnet_broker_network_domain(net));
	set_string(out, "description", vmnet_broker_network_description(net));
	set_string(port, "kind", vmnet_broker_network_port_kind(net));
	set_string(port, "ifname", vmnet_broker_network_port_ifname(net));
	set_string(port, "mac", vmnet_broker_network_port_mac(net));
	set_string(port, "address", vmnet_broker_network_port_address(net));
	if (vmnet_broker_network_lease_id(net) > 0)
		json_object_set_new(port, "lease_id", json_integer(vmnet_broker_network_lease_id(net)));
	if (vmnet_broker_network_port_persistent(net))
		json_object_set_new(port, "persistent", json_true());
	/* The addresses have no accessor (they are the port's): from the reply,
	 * the rest as the accessors give it. */
	v = json_object_get(json_object_get(network, "port"), "port_forwards");
	if (json_is_array(v) || vmnet_broker_network_port_forward_count(net))
		json_object_set_new(port, "port_forwards", forwards_value(net, v));
	json_object_set_new(out, "port", port);
	json_decref(reply);
	return out;
}

/* Apply the case's options; Return: the first setter's failure, or success. */
static vmnet_broker_return_t options_apply(struct vmnet_broker_options *o, const char *sock,
					   json_t *opts, int *ret_netns)
{
	vmnet_broker_return_t s = VMNET_BROKER_SUCCESS;
	const char *netns = json_string_value(json_object_get(opts, "netns"));
	json_t *v, *f;
	size_t i;

	if (sock)
		s = vmnet_broker_options_set_socket(o, sock);
	if (!s && (v = json_object_get(opts, "port")))
		s = vmnet_broker_options_set_port(o, json_string_value(v));
	if (!s && (v = json_object_get(opts, "mac")))
		s = vmnet_broker_options_set_mac(o, json_string_value(v));
	if (!s && (v = json_object_get(opts, "label")))
		s = vmnet_broker_options_set_label(o, json_string_value(v));
	if (!s && (v = json_object_get(opts, "ifname")))
		s = vmnet_broker_options_set_ifname(o, json_string_value(v));
	if (!s && json_is_true(json_object_get(opts, "vnet_hdr")))
		s = vmnet_broker_options_set_vnet_hdr(o, true);
	if (!s && json_is_true(json_object_get(opts, "persistent")))
		s = vmnet_broker_options_set_persistent(o, true);
	if (!s && (v = json_object_get(opts, "multi_queue")))
		s = vmnet_broker_options_set_multi_queue(o, (unsigned int)json_integer_value(v));
	json_array_foreach(json_object_get(opts, "port_forwards"), i, f) {
		if (s)
			break;
		s = vmnet_broker_options_add_port_forward(o, json_string_value(json_array_get(f, 0)),
							  (unsigned int)json_integer_value(
								  json_array_get(f, 1)),
							  (unsigned int)json_integer_value(
								  json_array_get(f, 2)));
	}
	if (!s && netns) {
		if (strcmp(netns, "self") == 0)
			netns = "/proc/self/ns/net";
		*ret_netns = open(netns, O_RDONLY | O_CLOEXEC);
		if (*ret_netns < 0)
			die("open %s: %m", netns);
		s = vmnet_broker_options_set_netns_fd(o, *ret_netns);
	}
	return s;
}

static void run_acquire(json_t *out, const char *sock, json_t *call)
{
	struct vmnet_broker_options *o = vmnet_broker_options_new();
	struct vmnet_broker_network *net = NULL;
	json_t *targets;
	vmnet_broker_return_t s;
	int netns = -1;
	size_t n;

	if (!o)
		die("out of memory");
	s = options_apply(o, sock, json_object_get(call, "options"), &netns);
	if (!s)
		net = vmnet_broker_acquire_network_with_options(json_string_value(
									json_object_get(call, "network")),
								o, &s);
	vmnet_broker_options_free(o);
	if (netns >= 0)
		close(netns);
	if (!net) {
		failed(out, s);
		return;
	}
	targets = json_array();
	n = vmnet_broker_network_fd_count(net);
	for (size_t i = 0; i < n; i++) {
		char path[64], target[256];
		ssize_t len;

		snprintf(path, sizeof(path), "/proc/self/fd/%d", vmnet_broker_network_fd_at(net, i));
		len = readlink(path, target, sizeof(target) - 1);
		target[len < 0 ? 0 : len] = '\0';
		json_array_append_new(targets, json_string(target));
	}
	json_object_set_new(out, "status", json_integer(VMNET_BROKER_SUCCESS));
	json_object_set_new(out, "value", network_value(net));
	json_object_set_new(out, "fds", json_integer((json_int_t)n));
	json_object_set_new(out, "fd_targets", targets);
	vmnet_broker_network_release(net);
}

static void run_query(json_t *out, const char *sock, const char *command)
{
	vmnet_broker_return_t s;
	char *text = NULL;

	s = vmnet_broker_query(sock, command, &text);
	if (s) {
		failed(out, s);
		return;
	}
	json_object_set_new(out, "status", json_integer(VMNET_BROKER_SUCCESS));
	json_object_set_new(out, "value", json_loads(text, 0, NULL));
	json_object_set_new(out, "fds", json_integer(0));
	free(text);
}

/* A successful call's reply, as the library returned its text. */
static void replied(json_t *out, vmnet_broker_return_t s, char *text)
{
	if (s) {
		failed(out, s);
		return;
	}
	json_object_set_new(out, "status", json_integer(VMNET_BROKER_SUCCESS));
	json_object_set_new(out, "value", json_loads(text, 0, NULL));
	json_object_set_new(out, "fds", json_integer(0));
	free(text);
}

/* release, forward_*: the lease by "ifname" or "lease_id"; [["tcp", 2222, 22], ...]. */
static void run_lease_call(json_t *out, const char *sock, json_t *call, const char *command)
{
	struct vmnet_broker_forward fw[16];
	const char *ifname = json_string_value(json_object_get(call, "ifname"));
	long long id = (long long)json_integer_value(json_object_get(call, "lease_id"));
	json_t *f;
	char *text = NULL;
	size_t i, n = 0;
	vmnet_broker_return_t s;

	json_array_foreach(json_object_get(call, "port_forwards"), i, f) {
		if (n == 16)
			die("more than 16 forwards in a case");
		fw[n++] = (struct vmnet_broker_forward){
			.protocol = json_string_value(json_array_get(f, 0)),
			.external_port = (unsigned int)json_integer_value(json_array_get(f, 1)),
			.internal_port = (unsigned int)json_integer_value(json_array_get(f, 2)),
		};
	}
	if (strcmp(command, "release") == 0)
		s = vmnet_broker_release(sock, ifname, id, &text);
	else if (strcmp(command, "forward_add") == 0)
		s = vmnet_broker_forward_add(sock, ifname, id, fw, n, &text);
	else if (strcmp(command, "forward_remove") == 0)
		s = vmnet_broker_forward_remove(sock, ifname, id, fw, n, &text);
	else
		s = vmnet_broker_forward_list(sock, ifname, id, &text);
	replied(out, s, text);
}

static void run_wait(json_t *out, const char *sock, json_t *call)
{
	json_t *t = json_object_get(call, "timeout");
	char *json = NULL;
	vmnet_broker_return_t s;

	s = vmnet_broker_wait_address(sock, json_string_value(json_object_get(call, "ifname")),
				      json_string_value(json_object_get(call, "label")),
				      json_string_value(json_object_get(call, "network")),
				      json_is_integer(t) ? (unsigned int)json_integer_value(t) : 60,
				      NULL, &json);
	replied(out, s, json);
}

int main(int argc, char **argv)
{
	json_t *c, *call, *out = json_object(), *before, *after;
	const char *sock, *command;
	json_error_t err;

	if (argc != 3)
		die("usage: vmnet-broker-conformance SOCKET CASE.json");
	c = json_load_file(argv[2], 0, &err);
	if (!c)
		die("%s: %s", argv[2], err.text);
	call = json_object_get(c, "call");
	command = json_string_value(json_object_get(call, "command"));
	if (!command)
		die("%s: no call.command", argv[2]);
	sock = argv[1];
	if (json_is_true(json_object_get(call, "socket_from_env"))) {
		setenv(VMNET_BROKER_SOCKET_ENV, sock, 1);
		sock = NULL;
	}

	before = open_fds();
	if (strcmp(command, "acquire") == 0)
		run_acquire(out, sock, call);
	else if (strcmp(command, "wait_address") == 0)
		run_wait(out, sock, call);
	else if (strcmp(command, "status") == 0 || strcmp(command, "networks") == 0)
		run_query(out, sock, command);
	else if (strcmp(command, "stop") == 0) {
		char *text = NULL;
		vmnet_broker_return_t s =
			vmnet_broker_stop_network(sock,
						  json_string_value(json_object_get(call, "network")),
						  json_is_true(json_object_get(call, "force")), &text);

		replied(out, s, text);
	} else
		run_lease_call(out, sock, call, command);
	after = open_fds();
	json_object_set_new(out, "leaked_fds", leaked_fds(before, after));

	if (json_dumpf(out, stdout, JSON_COMPACT) < 0)
		die("cannot print the outcome");
	putchar('\n');
	json_decref(before);
	json_decref(after);
	json_decref(out);
	json_decref(c);
	return 0;
}
