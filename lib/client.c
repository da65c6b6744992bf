/* client.c - libvmnet-broker: acquire ports, their options and reply; wait for guests' addresses */
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "protocol.h"
#include "transport.h"
#include "util.h"
#include "vmnet-broker.h"

struct vmnet_broker_options {
	char *socket; /* NULL: $VMNET_BROKER_SOCKET, else the default */
	int port;     /* enum port_kind, or -1: not sent (the daemon picks tap) */
	bool has_mac;
	uint8_t mac[6];
	char *label;  /* NULL: not sent */
	char *ifname; /* NULL: not sent */
	int netns_fd; /* borrowed; -EBADF when unset */
	bool vnet_hdr;
	bool persistent;
	unsigned int queues;                                /* 0: not sent */
	struct port_forward forwards[REQUEST_FORWARDS_MAX]; /* internal_address unused */
	unsigned int n_forwards;
};

struct vmnet_broker_network {
	int conn;         /* the connection; closing it ends none/named_tap leases */
	json_t *reply;    /* the parsed reply, owned */
	json_t *network;  /* reply["network"], borrowed from @reply */
	json_t *port;     /* reply["network"]["port"], borrowed from @reply */
	char *reply_json; /* the reply text as received */
	size_t n_fds;
	int fds[PROTOCOL_FDS_MAX]; /* -EBADF once taken */
};

static int set_string(json_t *obj, const char *key, const char *value)
{
	return value ? json_object_set_new(obj, key, json_string(value)) : 0;
}

static json_t *acquire_request_new(const char *name, const struct vmnet_broker_options *o)
{
	_cleanup_(json_decrefp) json_t *req = NULL;
	char mac[18];

	req = json_pack("{s:s, s:s}", "command", "acquire", "network_name", name);
	if (!req)
		return NULL;
	if (set_string(req, "port",
		       o->port >= 0 ? port_kind_to_string((enum port_kind)o->port) : NULL) < 0 ||
	    set_string(req, "mac", o->has_mac ? mac_format(o->mac, mac) : NULL) < 0 ||
	    set_string(req, "label", o->label) < 0 || set_string(req, "ifname", o->ifname) < 0)
		return NULL;
	if (o->vnet_hdr && json_object_set_new(req, "vnet_hdr", json_true()) < 0)
		return NULL;
	if (o->persistent && json_object_set_new(req, "persistent", json_true()) < 0)
		return NULL;
	if (o->queues > 0 && json_object_set_new(req, "multi_queue", json_integer(o->queues)) < 0)
		return NULL;
	if (o->n_forwards > 0) {
		json_t *a = json_array();

		if (json_object_set_new(req, "port_forwards", a) < 0)
			return NULL;
		for (unsigned int i = 0; i < o->n_forwards; i++)
			if (json_array_append_new(a, json_pack("{s:s, s:i, s:i}", "protocol",
							       forward_protocol_to_string(
								       o->forwards[i].protocol),
							       "external_port",
							       o->forwards[i].external_port,
							       "internal_port",
							       o->forwards[i].internal_port)) < 0)
				return NULL;
	}
	return TAKE_PTR(req);
}

/* What the library can refuse before bothering the daemon. */
static vmnet_broker_return_t acquire_check(const char *name, const struct vmnet_broker_options *o)
{
	if (!name || !network_name_is_valid(name))
		return fail(VMNET_BROKER_INVALID_REQUEST,
			    "invalid network name '%s': 1-%d characters of A-Z, a-z, 0-9, "
			    "'.', '-', '_', starting with a letter or digit, without '..'",
			    name ? name : "(null)", NETWORK_NAME_MAX);
	if (o->port == PORT_NETNS && o->netns_fd < 0)
		return fail(VMNET_BROKER_INVALID_REQUEST, "port 'netns' needs a network namespace fd");
	if (o->port != PORT_NETNS && o->netns_fd >= 0)
		return fail(VMNET_BROKER_INVALID_REQUEST,
			    "a network namespace fd applies only to port 'netns'");
	return VMNET_BROKER_SUCCESS;
}

static vmnet_broker_return_t check_members(json_t *obj, const char *const *keys, size_t n,
					   const char *what)
{
	for (size_t i = 0; i < n; i++) {
		json_t *v = json_object_get(obj, keys[i]);

		if (v && !json_is_string(v))
			return fail(VMNET_BROKER_INVALID_REPLY,
				    "%s '%s' in the reply is not a string", what, keys[i]);
	}
	return VMNET_BROKER_SUCCESS;
}

static vmnet_broker_return_t check_int(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	if (v && (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > INT_MAX))
		return fail(VMNET_BROKER_INVALID_REPLY,
			    "network '%s' in the reply is not a valid number", key);
	return VMNET_BROKER_SUCCESS;
}

/* A lease's "lease_id" (an integer from 1) and "persistent" (a bool), where present. */
static vmnet_broker_return_t check_lease_members(json_t *lease)
{
	json_t *id = json_object_get(lease, "lease_id");
	json_t *persistent = json_object_get(lease, "persistent");

	if (id && (!json_is_integer(id) || json_integer_value(id) < 1))
		return fail(VMNET_BROKER_INVALID_REPLY, "'lease_id' in the reply is not a lease id");
	if (persistent && !json_is_boolean(persistent))
		return fail(VMNET_BROKER_INVALID_REPLY, "'persistent' in the reply is not a bool");
	return VMNET_BROKER_SUCCESS;
}

/*
 * The reply must describe the port that was asked for, with exactly the
 * fds that kind brings: one per queue for a TAP, none otherwise.
 */
static vmnet_broker_return_t acquire_reply_check(json_t *network, enum port_kind kind,
						 size_t queues, size_t n_fds)
{
	static const char *const network_keys[] = {
		"name", "mode", "bridge", "subnet", "mask", "ipv6_prefix", "domain",
	};
	static const char *const port_keys[] = { "kind", "ifname", "mac", "address" };
	json_t *port = json_object_get(network, "port");
	size_t want_fds = kind == PORT_TAP ? queues : 0;
	const char *got;
	vmnet_broker_return_t s;

	s = check_members(network, network_keys, ELEMENTSOF(network_keys), "network");
	if (s == VMNET_BROKER_SUCCESS)
		s = check_int(network, "prefix_len");
	if (s == VMNET_BROKER_SUCCESS)
		s = check_int(network, "mtu");
	if (s != VMNET_BROKER_SUCCESS)
		return s;
	if (!json_is_object(port))
		return fail(VMNET_BROKER_INVALID_REPLY, "reply has no 'port'");
	s = check_members(port, port_keys, ELEMENTSOF(port_keys), "port");
	if (s != VMNET_BROKER_SUCCESS)
		return s;
	s = check_lease_members(port);
	if (s != VMNET_BROKER_SUCCESS)
		return s;

	got = json_string_value(json_object_get(port, "kind"));
	if (!got || port_kind_from_string(got) != (int)kind)
		return fail(VMNET_BROKER_INVALID_REPLY, "asked for a '%s' port, the reply has '%s'",
			    port_kind_to_string(kind), got ? got : "none");
	if (n_fds != want_fds)
		return fail(VMNET_BROKER_INVALID_REPLY, "the reply carries %zu fd(s), expected %zu",
			    n_fds, want_fds);
	return VMNET_BROKER_SUCCESS;
}

static vmnet_broker_return_t acquire(const char *name, const struct vmnet_broker_options *o,
				     struct vmnet_broker_network **ret)
{
	_cleanup_(message_done) struct message m = { 0 };
	_cleanup_(json_decrefp) json_t *req = NULL, *reply = NULL;
	_cleanup_close_ int conn = -EBADF;
	_cleanup_free_ char *text = NULL;
	struct vmnet_broker_network *net;
	enum port_kind kind = o->port >= 0 ? (enum port_kind)o->port : PORT_TAP;
	vmnet_broker_return_t s;

	s = acquire_check(name, o);
	if (s != VMNET_BROKER_SUCCESS)
		return s;
	req = acquire_request_new(name, o);
	if (!req)
		return fail(VMNET_BROKER_INTERNAL_ERROR, "out of memory");
	s = transact(o->socket, req, kind == PORT_NETNS ? o->netns_fd : -EBADF, &conn, &m);
	if (s != VMNET_BROKER_SUCCESS)
		return s;
	s = reply_parse(&m, "network", JSON_OBJECT, &reply);
	if (s != VMNET_BROKER_SUCCESS)
		return s;
	s = acquire_reply_check(json_object_get(reply, "network"), kind, o->queues ? o->queues : 1,
				m.n_fds);
	if (s != VMNET_BROKER_SUCCESS)
		return s;

	/* The receive buffer holds up to 64 KiB; keep only what the reply needs. */
	text = strndup(m.buf, m.len);
	net = calloc(1, sizeof(*net));
	if (!text || !net) {
		free(net);
		return fail(VMNET_BROKER_INTERNAL_ERROR, "out of memory");
	}
	net->reply_json = TAKE_PTR(text);
	net->network = json_object_get(reply, "network");
	net->port = json_object_get(net->network, "port");
	net->reply = TAKE_PTR(reply);
	net->conn = TAKE_FD(conn);
	memcpy(net->fds, m.fds, sizeof(net->fds));
	net->n_fds = m.n_fds;
	m.n_fds = 0; /* now the handle's */

	*ret = net;
	return VMNET_BROKER_SUCCESS;
}

struct vmnet_broker_network *
vmnet_broker_acquire_network_with_options(const char *name, const struct vmnet_broker_options *opts,
					  vmnet_broker_return_t *status)
{
	static const struct vmnet_broker_options defaults = { .port = -1, .netns_fd = -EBADF };
	struct vmnet_broker_network *net = NULL;
	vmnet_broker_return_t s;

	s = acquire(name, opts ? opts : &defaults, &net);
	if (status)
		*status = s;
	return net;
}

struct vmnet_broker_network *vmnet_broker_acquire_network(const char *name, vmnet_broker_return_t *status)
{
	return vmnet_broker_acquire_network_with_options(name, NULL, status);
}

void vmnet_broker_network_release(struct vmnet_broker_network *net)
{
	if (!net)
		return;
	for (size_t i = 0; i < net->n_fds; i++)
		safe_close(net->fds[i]);
	safe_close(net->conn);
	json_decref(net->reply);
	free(net->reply_json);
	free(net);
}

struct vmnet_broker_options *vmnet_broker_options_new(void)
{
	struct vmnet_broker_options *o = calloc(1, sizeof(*o));

	if (!o)
		return NULL;
	o->port = -1;
	o->netns_fd = -EBADF;
	return o;
}

void vmnet_broker_options_free(struct vmnet_broker_options *opts)
{
	if (!opts)
		return;
	free(opts->socket);
	free(opts->label);
	free(opts->ifname);
	free(opts);
}

/* jansson refuses strings that are not UTF-8 and has no other way to say so. */
static bool utf8_is_valid(const char *s)
{
	_cleanup_(json_decrefp) json_t *v = json_string(s);

	return v != NULL;
}

/* Replace *@field with a copy of @value (NULL clears it). */
static vmnet_broker_return_t replace_string(char **field, const char *value)
{
	char *copy = NULL;

	if (value) {
		copy = strdup(value);
		if (!copy)
			return fail(VMNET_BROKER_INTERNAL_ERROR, "out of memory");
	}
	free(*field);
	*field = copy;
	return VMNET_BROKER_SUCCESS;
}

static vmnet_broker_return_t no_options(void)
{
	return fail(VMNET_BROKER_INVALID_REQUEST, "options handle is NULL");
}

vmnet_broker_return_t vmnet_broker_options_set_socket(struct vmnet_broker_options *opts,
						      const char *path)
{
	if (!opts)
		return no_options();
	if (path && (!*path || strlen(path) >= sizeof(((struct sockaddr_un *)NULL)->sun_path)))
		return fail(VMNET_BROKER_INVALID_REQUEST, "socket path '%s' is empty or too long",
			    path);
	return replace_string(&opts->socket, path);
}

vmnet_broker_return_t vmnet_broker_options_set_port(struct vmnet_broker_options *opts, const char *kind)
{
	int k;

	if (!opts)
		return no_options();
	if (!kind) {
		opts->port = -1;
		return VMNET_BROKER_SUCCESS;
	}
	k = port_kind_from_string(kind);
	if (k < 0)
		return fail(VMNET_BROKER_INVALID_REQUEST,
			    "unknown port kind '%s' (want tap, netns, named_tap or none)", kind);
	opts->port = k;
	return VMNET_BROKER_SUCCESS;
}

vmnet_broker_return_t vmnet_broker_options_set_mac(struct vmnet_broker_options *opts, const char *mac)
{
	if (!opts)
		return no_options();
	if (!mac) {
		opts->has_mac = false;
		return VMNET_BROKER_SUCCESS;
	}
	if (mac_parse(mac, opts->mac) < 0)
		return fail(VMNET_BROKER_INVALID_REQUEST,
			    "'%s' is not a unicast MAC address like 52:54:00:12:34:56", mac);
	opts->has_mac = true;
	return VMNET_BROKER_SUCCESS;
}

vmnet_broker_return_t vmnet_broker_options_set_label(struct vmnet_broker_options *opts, const char *label)
{
	if (!opts)
		return no_options();
	if (label && !utf8_is_valid(label))
		return fail(VMNET_BROKER_INVALID_REQUEST, "a label must be UTF-8");
	if (label && !label_is_valid(label))
		return fail(VMNET_BROKER_INVALID_REQUEST,
			    "a label is at most %d bytes of printable text (no control or "
			    "bidirectional formatting characters)",
			    LABEL_MAX);
	return replace_string(&opts->label, label);
}

vmnet_broker_return_t vmnet_broker_options_set_ifname(struct vmnet_broker_options *opts,
						      const char *ifname)
{
	if (!opts)
		return no_options();
	if (ifname && !ifname_is_valid(ifname))
		return fail(VMNET_BROKER_INVALID_REQUEST, "'%s' is not a valid interface name", ifname);
	return replace_string(&opts->ifname, ifname);
}

vmnet_broker_return_t vmnet_broker_options_set_netns_fd(struct vmnet_broker_options *opts, int fd)
{
	if (!opts)
		return no_options();
	/* Negative clears it; the fd itself stays the caller's. */
	opts->netns_fd = fd >= 0 ? fd : -EBADF;
	return VMNET_BROKER_SUCCESS;
}

vmnet_broker_return_t vmnet_broker_options_set_vnet_hdr(struct vmnet_broker_options *opts, bool on)
{
	if (!opts)
		return no_options();
	opts->vnet_hdr = on;
	return VMNET_BROKER_SUCCESS;
}

vmnet_broker_return_t vmnet_broker_options_set_persistent(struct vmnet_broker_options *opts, bool on)
{
	if (!opts)
		return no_options();
	opts->persistent = on;
	return VMNET_BROKER_SUCCESS;
}

vmnet_broker_return_t vmnet_broker_options_set_multi_queue(struct vmnet_broker_options *opts,
							   unsigned int queues)
{
	if (!opts)
		return no_options();
	if (queues < 1 || queues > QUEUES_MAX)
		return fail(VMNET_BROKER_INVALID_REQUEST, "the queue count must be from 1 to %d",
			    QUEUES_MAX);
	opts->queues = queues;
	return VMNET_BROKER_SUCCESS;
}

vmnet_broker_return_t vmnet_broker_options_add_port_forward(struct vmnet_broker_options *opts,
							    const char *protocol,
							    unsigned int external_port,
							    unsigned int internal_port)
{
	int p;

	if (!opts)
		return no_options();
	p = protocol ? forward_protocol_from_string(protocol) : -EINVAL;
	if (p < 0)
		return fail(VMNET_BROKER_INVALID_REQUEST, "the protocol must be \"tcp\" or \"udp\"");
	if (external_port < 1 || external_port > 65535 || internal_port < 1 || internal_port > 65535)
		return fail(VMNET_BROKER_INVALID_REQUEST, "ports must be from 1 to 65535");
	for (unsigned int i = 0; i < opts->n_forwards; i++)
		if ((int)opts->forwards[i].protocol == p &&
		    opts->forwards[i].external_port == external_port)
			return fail(VMNET_BROKER_INVALID_REQUEST, "%s port %u is forwarded already",
				    protocol, external_port);
	if (opts->n_forwards >= REQUEST_FORWARDS_MAX)
		return fail(VMNET_BROKER_INVALID_REQUEST, "at most %d port forwards on one acquire",
			    REQUEST_FORWARDS_MAX);
	opts->forwards[opts->n_forwards++] = (struct port_forward){
		.protocol = (enum forward_protocol)p,
		.external_port = (uint16_t)external_port,
		.internal_port = (uint16_t)internal_port,
	};
	return VMNET_BROKER_SUCCESS;
}

static const char *network_string(const struct vmnet_broker_network *net, const char *key)
{
	return net ? json_string_value(json_object_get(net->network, key)) : NULL;
}

static const char *port_string(const struct vmnet_broker_network *net, const char *key)
{
	return net ? json_string_value(json_object_get(net->port, key)) : NULL;
}

/* An integer member of the network, -1 when the reply had none (checked to fit an int). */
static int network_int(const struct vmnet_broker_network *net, const char *key)
{
	json_t *v = net ? json_object_get(net->network, key) : NULL;

	return json_is_integer(v) ? (int)json_integer_value(v) : -1;
}

const char *vmnet_broker_network_name(const struct vmnet_broker_network *net)
{
	return network_string(net, "name");
}

const char *vmnet_broker_network_mode(const struct vmnet_broker_network *net)
{
	return network_string(net, "mode");
}

const char *vmnet_broker_network_bridge(const struct vmnet_broker_network *net)
{
	return network_string(net, "bridge");
}

const char *vmnet_broker_network_subnet(const struct vmnet_broker_network *net)
{
	return network_string(net, "subnet");
}

const char *vmnet_broker_network_mask(const struct vmnet_broker_network *net)
{
	return network_string(net, "mask");
}

const char *vmnet_broker_network_ipv6_prefix(const struct vmnet_broker_network *net)
{
	return network_string(net, "ipv6_prefix");
}

int vmnet_broker_network_prefix_len(const struct vmnet_broker_network *net)
{
	return network_int(net, "prefix_len");
}

int vmnet_broker_network_mtu(const struct vmnet_broker_network *net)
{
	return network_int(net, "mtu");
}

const char *vmnet_broker_network_domain(const struct vmnet_broker_network *net)
{
	return network_string(net, "domain");
}

const char *vmnet_broker_network_port_kind(const struct vmnet_broker_network *net)
{
	return port_string(net, "kind");
}

const char *vmnet_broker_network_port_ifname(const struct vmnet_broker_network *net)
{
	return port_string(net, "ifname");
}

const char *vmnet_broker_network_port_mac(const struct vmnet_broker_network *net)
{
	return port_string(net, "mac");
}

const char *vmnet_broker_network_port_address(const struct vmnet_broker_network *net)
{
	return port_string(net, "address");
}

const char *vmnet_broker_network_description(const struct vmnet_broker_network *net)
{
	return network_string(net, "description");
}

size_t vmnet_broker_network_port_forward_count(const struct vmnet_broker_network *net)
{
	return net ? json_array_size(json_object_get(net->port, "port_forwards")) : 0;
}

bool vmnet_broker_network_port_forward_at(const struct vmnet_broker_network *net, size_t i,
					  struct vmnet_broker_forward *ret)
{
	json_t *f = net ? json_array_get(json_object_get(net->port, "port_forwards"), i) : NULL;
	json_t *proto = json_object_get(f, "protocol");
	json_t *ext = json_object_get(f, "external_port");
	json_t *in = json_object_get(f, "internal_port");

	/* The acquire's check of the reply left port_forwards alone: checked here. */
	if (!json_is_string(proto) || !json_is_integer(ext) || !json_is_integer(in) ||
	    json_integer_value(ext) < 1 || json_integer_value(ext) > 65535 ||
	    json_integer_value(in) < 1 || json_integer_value(in) > 65535)
		return false;
	*ret = (struct vmnet_broker_forward){
		.protocol = json_string_value(proto),
		.external_port = (unsigned int)json_integer_value(ext),
		.internal_port = (unsigned int)json_integer_value(in),
	};
	return true;
}

long long vmnet_broker_network_lease_id(const struct vmnet_broker_network *net)
{
	json_t *v = net ? json_object_get(net->port, "lease_id") : NULL;

	return json_is_integer(v) ? (long long)json_integer_value(v) : -1;
}

bool vmnet_broker_network_port_persistent(const struct vmnet_broker_network *net)
{
	return net && json_is_true(json_object_get(net->port, "persistent"));
}

const char *vmnet_broker_network_reply_json(const struct vmnet_broker_network *net)
{
	return net ? net->reply_json : NULL;
}

size_t vmnet_broker_network_fd_count(const struct vmnet_broker_network *net)
{
	return net ? net->n_fds : 0;
}

int vmnet_broker_network_fd_at(const struct vmnet_broker_network *net, size_t i)
{
	if (!net || i >= net->n_fds || net->fds[i] < 0)
		return -1;
	return net->fds[i];
}

int vmnet_broker_network_fd(const struct vmnet_broker_network *net)
{
	return vmnet_broker_network_fd_at(net, 0);
}

int vmnet_broker_network_take_fd(struct vmnet_broker_network *net, size_t i)
{
	if (!net || i >= net->n_fds || net->fds[i] < 0)
		return -1;
	return TAKE_FD(net->fds[i]);
}

/* ---- wait_address */

static json_t *wait_request_new(const char *ifname, const char *label, const char *network,
				unsigned int timeout)
{
	_cleanup_(json_decrefp) json_t *req =
		json_pack("{s:s, s:I}", "command", "wait_address", "timeout", (json_int_t)timeout);

	if (!req || set_string(req, "ifname", ifname) < 0 || set_string(req, "label", label) < 0 ||
	    set_string(req, "network_name", network) < 0)
		return NULL;
	return TAKE_PTR(req);
}

/* What the library can refuse before bothering the daemon. */
static vmnet_broker_return_t wait_check(const char *ifname, const char *label, const char *network,
					unsigned int timeout)
{
	if (!ifname == !label)
		return fail(VMNET_BROKER_INVALID_REQUEST, "name the port by ifname or by label");
	if (ifname && !ifname_is_valid(ifname))
		return fail(VMNET_BROKER_INVALID_REQUEST, "'%s' is not a valid interface name", ifname);
	if (label && (!*label || !label_is_valid(label) || !utf8_is_valid(label)))
		return fail(VMNET_BROKER_INVALID_REQUEST,
			    "a label is 1-%d printable characters of UTF-8", LABEL_MAX);
	if (network && !network_name_is_valid(network))
		return fail(VMNET_BROKER_INVALID_REQUEST, "invalid network name '%s'", network);
	if (timeout > WAIT_TIMEOUT_MAX)
		return fail(VMNET_BROKER_INVALID_REQUEST, "the timeout is at most %d seconds",
			    WAIT_TIMEOUT_MAX);
	return VMNET_BROKER_SUCCESS;
}

/* The reply of a wait_address in @m: its address and text into the caller's pointers. */
static vmnet_broker_return_t wait_reply(const struct message *m, char **ret_address, char **ret_json)
{
	_cleanup_(json_decrefp) json_t *reply = NULL;
	_cleanup_free_ char *address = NULL, *text = NULL;
	vmnet_broker_return_t s;

	s = reply_parse(m, "address", JSON_STRING, &reply);
	if (s != VMNET_BROKER_SUCCESS)
		return s;
	if (m->n_fds > 0)
		return fail(VMNET_BROKER_INVALID_REPLY, "a 'wait_address' reply carries fds");
	if (!json_is_object(json_object_get(reply, "lease")))
		return fail(VMNET_BROKER_INVALID_REPLY, "reply has no 'lease'");
	address = strdup(json_string_value(json_object_get(reply, "address")));
	/* reply_parse() succeeded, so m->buf is set; the analyzer does not follow the variadic
	 * fail(). NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker) */
	text = strndup(m->buf, m->len);
	if (!address || !text)
		return fail(VMNET_BROKER_INTERNAL_ERROR, "out of memory");
	if (ret_address)
		*ret_address = TAKE_PTR(address);
	if (ret_json)
		*ret_json = TAKE_PTR(text);
	return VMNET_BROKER_SUCCESS;
}

vmnet_broker_return_t vmnet_broker_wait_address(const char *socket_path, const char *ifname,
						const char *label, const char *network,
						unsigned int timeout, char **ret_address,
						char **ret_json)
{
	_cleanup_(message_done) struct message m = { 0 };
	_cleanup_(json_decrefp) json_t *req = NULL;
	_cleanup_close_ int conn = -EBADF;
	vmnet_broker_return_t s;

	s = wait_check(ifname, label, network, timeout);
	if (s != VMNET_BROKER_SUCCESS)
		return s;
	req = wait_request_new(ifname, label, network, timeout);
	if (!req)
		return fail(VMNET_BROKER_INTERNAL_ERROR, "out of memory");
	s = transact(socket_path, req, -EBADF, &conn, &m);
	if (s != VMNET_BROKER_SUCCESS)
		return s;
	return wait_reply(&m, ret_address, ret_json);
}

vmnet_broker_return_t vmnet_broker_network_wait_address(struct vmnet_broker_network *net,
							unsigned int timeout, char **ret_address)
{
	_cleanup_(message_done) struct message m = { 0 };
	_cleanup_(json_decrefp) json_t *req = NULL;
	const char *ifname = vmnet_broker_network_port_ifname(net);
	vmnet_broker_return_t s;

	if (!net || !ifname || net->conn < 0)
		return fail(VMNET_BROKER_INVALID_REQUEST, "the handle has no port to wait on");
	s = wait_check(ifname, NULL, vmnet_broker_network_name(net), timeout);
	if (s != VMNET_BROKER_SUCCESS)
		return s;
	req = wait_request_new(ifname, NULL, vmnet_broker_network_name(net), timeout);
	if (!req)
		return fail(VMNET_BROKER_INTERNAL_ERROR, "out of memory");
	s = exchange(net->conn, req, -EBADF, &m);
	if (s != VMNET_BROKER_SUCCESS)
		return s;
	return wait_reply(&m, ret_address, NULL);
}
