/* client.c - libvmnet-broker: acquire ports from and query vmnet-brokerd over its socket */
#include <errno.h>
#include <limits.h>
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
#include "util.h"
#include "vmnet-broker.h"

#define ERROR_MESSAGE_MAX 1024

struct vmnet_broker_options {
	char *socket; /* NULL: $VMNET_BROKER_SOCKET, else the default */
	int port;     /* enum port_kind, or -1: not sent (the daemon picks tap) */
	bool has_mac;
	uint8_t mac[6];
	char *label;  /* NULL: not sent */
	char *ifname; /* NULL: not sent */
	int netns_fd; /* borrowed; -EBADF when unset */
	bool vnet_hdr;
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

/* One received message: JSON bytes and the fds that rode on it. */
struct message {
	char *buf;
	size_t len;
	size_t n_fds;
	int fds[PROTOCOL_FDS_MAX];
};

static _Thread_local char last_error[ERROR_MESSAGE_MAX];

static void message_done(struct message *m)
{
	for (size_t i = 0; i < m->n_fds; i++)
		m->fds[i] = safe_close(m->fds[i]);
	m->n_fds = 0;
	free(m->buf);
	m->buf = NULL;
}

/* Record why the call fails, for vmnet_broker_last_error_message(); "%m" names errno. */
_printf_(2, 3) static vmnet_broker_return_t fail(vmnet_broker_return_t status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	return status;
}

static const char *socket_path_resolve(const char *path)
{
	const char *env;

	if (path)
		return path;
	/*
	 * secure_getenv(): a setuid or file-capability program using this
	 * library must not be pointed at a socket of the caller's choosing.
	 */
	env = secure_getenv(VMNET_BROKER_SOCKET_ENV);
	if (env && *env)
		return env;
	return VMNET_BROKER_DEFAULT_SOCKET;
}

static vmnet_broker_return_t broker_connect(const char *path, int *ret_fd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_cleanup_close_ int fd = -EBADF;
	size_t n = strlen(path);
	int r;

	if (n == 0 || n >= sizeof(sa.sun_path))
		return fail(VMNET_BROKER_CONNECTION_FAILURE,
			    "socket path '%s' is empty or too long", path);
	memcpy(sa.sun_path, path, n);

	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail(VMNET_BROKER_CONNECTION_FAILURE, "socket: %m");
	/*
	 * An AF_UNIX connect() interrupted while waiting for room in the
	 * listener's backlog leaves the socket unconnected, so it may be retried.
	 */
	do
		r = connect(fd, (struct sockaddr *)&sa,
			    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1));
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return fail(VMNET_BROKER_CONNECTION_FAILURE, "connect %s: %m", path);

	*ret_fd = TAKE_FD(fd);
	return VMNET_BROKER_SUCCESS;
}

/* Send @req as one message, with @pass_fd as SCM_RIGHTS when it is open. */
static vmnet_broker_return_t send_request(int fd, const json_t *req, int pass_fd)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} control = { 0 };
	_cleanup_free_ char *text = NULL;
	struct iovec iov;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	text = json_dumps(req, JSON_COMPACT);
	if (!text)
		return fail(VMNET_BROKER_INTERNAL_ERROR, "out of memory");
	iov = (struct iovec){ .iov_base = text, .iov_len = strlen(text) };
	if (iov.iov_len > PROTOCOL_MESSAGE_MAX)
		return fail(VMNET_BROKER_INVALID_REQUEST, "request larger than %d bytes",
			    PROTOCOL_MESSAGE_MAX);

	if (pass_fd >= 0) {
		struct cmsghdr *c;

		mh.msg_control = control.buf;
		mh.msg_controllen = sizeof(control.buf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
	}

	/* MSG_NOSIGNAL: a daemon that went away must not kill the caller with SIGPIPE. */
	do
		n = sendmsg(fd, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return fail(VMNET_BROKER_CONNECTION_FAILURE, "send request: %m");
	return VMNET_BROKER_SUCCESS;
}

/* Receive one reply into @m (which the caller cleans up with message_done(), always). */
static vmnet_broker_return_t receive_reply(int fd, struct message *m)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * PROTOCOL_FDS_MAX)];
	} control;
	struct iovec iov;
	struct msghdr mh;
	size_t size;
	ssize_t n;

	/*
	 * A status of a busy daemon may exceed the 64 KiB of a request:
	 * learn the reply's size first (MSG_PEEK|MSG_TRUNC gives a datagram's
	 * real length), then read it whole, plus one byte so that a reply
	 * that grew past the limit still shows as oversized.
	 */
	do
		n = recv(fd, NULL, 0, MSG_PEEK | MSG_TRUNC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return fail(VMNET_BROKER_CONNECTION_FAILURE, "receive reply: %m");
	size = n > PROTOCOL_MESSAGE_MAX ? (size_t)n : PROTOCOL_MESSAGE_MAX;
	if (size > PROTOCOL_REPLY_MAX)
		size = PROTOCOL_REPLY_MAX;
	m->buf = malloc(size + 1);
	if (!m->buf)
		return fail(VMNET_BROKER_INTERNAL_ERROR, "out of memory");
	iov = (struct iovec){ .iov_base = m->buf, .iov_len = size + 1 };
	mh = (struct msghdr){
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = control.buf,
		.msg_controllen = sizeof(control.buf),
	};

	/* MSG_CMSG_CLOEXEC: no window in which another thread's fork+exec inherits a TAP. */
	do
		n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return fail(VMNET_BROKER_CONNECTION_FAILURE, "receive reply: %m");
	/* Every fd into @m first, so none is leaked whatever happens next. */
	m->n_fds = protocol_take_fds(&mh, m->fds, ELEMENTSOF(m->fds));

	if (n == 0)
		return fail(VMNET_BROKER_CONNECTION_FAILURE,
			    "the daemon closed the connection without replying");
	/* MSG_CTRUNC: the kernel dropped fds that did not fit; the reply is incomplete. */
	if (mh.msg_flags & MSG_CTRUNC)
		return fail(VMNET_BROKER_INVALID_REPLY, "reply carries more than %d fds",
			    PROTOCOL_FDS_MAX);
	if ((mh.msg_flags & MSG_TRUNC) || (size_t)n > size)
		return fail(VMNET_BROKER_INVALID_REPLY, "reply larger than %d bytes",
			    PROTOCOL_REPLY_MAX);
	m->len = (size_t)n;
	m->buf[n] = '\0';
	return VMNET_BROKER_SUCCESS;
}

/* {"error": CODE, "message": TEXT}: the daemon's code, with its message recorded. */
static vmnet_broker_return_t reply_error(json_t *root, json_t *error)
{
	json_t *message = json_object_get(root, "message");
	json_int_t code;

	if (!json_is_integer(error) || !json_is_string(message))
		return fail(VMNET_BROKER_INVALID_REPLY, "malformed error reply");
	code = json_integer_value(error);
	/* Codes above the known ones pass through: the protocol may add codes. */
	if (code <= 0 || code > INT_MAX)
		return fail(VMNET_BROKER_INVALID_REPLY,
			    "error reply with code %" JSON_INTEGER_FORMAT, code);
	return fail((vmnet_broker_return_t)code, "%s", json_string_value(message));
}

/*
 * Decode @m: an error reply becomes its code; otherwise it must be an
 * object with member @key of type @type, and *ret is the whole reply.
 */
static vmnet_broker_return_t reply_parse(const struct message *m, const char *key, json_type type,
					 json_t **ret)
{
	_cleanup_(json_decrefp) json_t *root = NULL;
	json_error_t jerr;
	json_t *v;

	root = json_loadb(m->buf, m->len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return fail(VMNET_BROKER_INVALID_REPLY, "reply is not valid JSON: %s", jerr.text);
	if (!json_is_object(root))
		return fail(VMNET_BROKER_INVALID_REPLY, "reply is not a JSON object");

	v = json_object_get(root, "error");
	if (v)
		return reply_error(root, v);
	v = json_object_get(root, key);
	if (!v || json_typeof(v) != type)
		return fail(VMNET_BROKER_INVALID_REPLY,
			    "reply has neither 'error' nor a valid '%s'", key);

	*ret = TAKE_PTR(root);
	return VMNET_BROKER_SUCCESS;
}

/* Connect, send @req (with @pass_fd) and receive the reply into @m. */
static vmnet_broker_return_t transact(const char *socket_path, const json_t *req, int pass_fd,
				      int *ret_conn, struct message *m)
{
	_cleanup_close_ int conn = -EBADF;
	vmnet_broker_return_t s;

	s = broker_connect(socket_path_resolve(socket_path), &conn);
	if (s != VMNET_BROKER_SUCCESS)
		return s;
	s = send_request(conn, req, pass_fd);
	if (s != VMNET_BROKER_SUCCESS)
		return s;
	s = receive_reply(conn, m);
	if (s != VMNET_BROKER_SUCCESS)
		return s;
	*ret_conn = TAKE_FD(conn);
	return VMNET_BROKER_SUCCESS;
}

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

/*
 * The reply must describe the port that was asked for, with exactly the
 * fds that kind brings: one per queue for a TAP, none otherwise.
 */
static vmnet_broker_return_t acquire_reply_check(json_t *network, enum port_kind kind,
						 size_t queues, size_t n_fds)
{
	static const char *const network_keys[] = {
		"name", "mode", "bridge", "subnet", "mask", "ipv6_prefix",
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

const char *vmnet_broker_strerror(vmnet_broker_return_t status)
{
	return status_to_string((int)status);
}

const char *vmnet_broker_status_name(vmnet_broker_return_t status)
{
	return status_to_name((int)status);
}

const char *vmnet_broker_last_error_message(void)
{
	return last_error;
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

vmnet_broker_return_t vmnet_broker_query(const char *socket_path, const char *command, char **ret_json)
{
	_cleanup_(message_done) struct message m = { 0 };
	_cleanup_(json_decrefp) json_t *req = NULL, *reply = NULL;
	_cleanup_close_ int conn = -EBADF;
	vmnet_broker_return_t s;
	char *text;

	if (!command || (!streq(command, "status") && !streq(command, "networks")))
		return fail(VMNET_BROKER_INVALID_REQUEST,
			    "unknown query '%s' (want status or networks)",
			    command ? command : "(null)");
	if (!ret_json)
		return fail(VMNET_BROKER_INVALID_REQUEST, "no place for the reply");
	req = json_pack("{s:s}", "command", command);
	if (!req)
		return fail(VMNET_BROKER_INTERNAL_ERROR, "out of memory");
	s = transact(socket_path, req, -EBADF, &conn, &m);
	if (s != VMNET_BROKER_SUCCESS)
		return s;
	s = reply_parse(&m, "networks", JSON_ARRAY, &reply);
	if (s != VMNET_BROKER_SUCCESS)
		return s;
	if (m.n_fds > 0)
		return fail(VMNET_BROKER_INVALID_REPLY, "a '%s' reply carries fds", command);

	/* transact() succeeded, so m.buf is set; the analyzer does not follow the variadic
	 * fail(). NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker) */
	text = strndup(m.buf, m.len);
	if (!text)
		return fail(VMNET_BROKER_INTERNAL_ERROR, "out of memory");
	*ret_json = text;
	return VMNET_BROKER_SUCCESS;
}
