/* protocol.c - protocol version 1: request parsing, reply helpers, names, the fds a message carries */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "protocol.h"
#include "util.h"

static const char *const command_names[] = {
	[REQUEST_ACQUIRE] = "acquire",           [REQUEST_STATUS] = "status",
	[REQUEST_NETWORKS] = "networks",         [REQUEST_RELEASE] = "release",
	[REQUEST_FORWARD_ADD] = "forward_add",   [REQUEST_FORWARD_REMOVE] = "forward_remove",
	[REQUEST_FORWARD_LIST] = "forward_list", [REQUEST_STOP] = "stop",
	[REQUEST_WAIT_ADDRESS] = "wait_address",
};
static_assert(ELEMENTSOF(command_names) == _REQUEST_COMMAND_MAX, "command names");

static const char *const port_kind_names[] = {
	[PORT_TAP] = "tap",
	[PORT_NETNS] = "netns",
	[PORT_NAMED_TAP] = "named_tap",
	[PORT_NONE] = "none",
};
static_assert(ELEMENTSOF(port_kind_names) == _PORT_KIND_MAX, "port kind names");

static const char *const forward_protocol_names[] = {
	[FORWARD_TCP] = "tcp",
	[FORWARD_UDP] = "udp",
};
static_assert(ELEMENTSOF(forward_protocol_names) == _FORWARD_PROTOCOL_MAX, "protocol names");

static const struct {
	const char *name;
	const char *text;
} statuses[] = {
	{ "VMNET_BROKER_SUCCESS", "success" },
	{ "VMNET_BROKER_CONNECTION_FAILURE", "cannot connect to the vmnet-broker daemon" },
	{ "VMNET_BROKER_INVALID_REPLY", "the daemon's reply is malformed" },
	{ "VMNET_BROKER_NOT_ALLOWED", "not allowed to use this network" },
	{ "VMNET_BROKER_INVALID_REQUEST", "invalid request" },
	{ "VMNET_BROKER_NOT_FOUND", "no such network" },
	{ "VMNET_BROKER_CREATE_FAILURE", "failed to create the network or port" },
	{ "VMNET_BROKER_INTERNAL_ERROR", "internal error in the daemon" },
	{ "VMNET_BROKER_LIMIT_EXCEEDED", "limit exceeded" },
	{ "VMNET_BROKER_CONFLICT", "address, MAC or port already in use" },
	{ "VMNET_BROKER_TIMEOUT", "timed out" },
};
static_assert(ELEMENTSOF(statuses) == VMNET_BROKER_TIMEOUT + 1, "status table");

const char *status_to_name(int status)
{
	if (status < 0 || (size_t)status >= ELEMENTSOF(statuses))
		return "VMNET_BROKER_UNKNOWN";
	return statuses[status].name;
}

const char *status_to_string(int status)
{
	if (status < 0 || (size_t)status >= ELEMENTSOF(statuses))
		return "unknown status code";
	return statuses[status].text;
}

const char *request_command_to_string(enum request_command c)
{
	return c < _REQUEST_COMMAND_MAX ? command_names[c] : NULL;
}

int request_command_from_string(const char *s)
{
	for (size_t i = 0; i < ELEMENTSOF(command_names); i++)
		if (streq(s, command_names[i]))
			return (int)i;
	return -EINVAL;
}

const char *port_kind_to_string(enum port_kind k)
{
	return k < _PORT_KIND_MAX ? port_kind_names[k] : NULL;
}

int port_kind_from_string(const char *s)
{
	for (size_t i = 0; i < ELEMENTSOF(port_kind_names); i++)
		if (streq(s, port_kind_names[i]))
			return (int)i;
	return -EINVAL;
}

const char *forward_protocol_to_string(enum forward_protocol p)
{
	return p < _FORWARD_PROTOCOL_MAX ? forward_protocol_names[p] : NULL;
}

int forward_protocol_from_string(const char *s)
{
	for (size_t i = 0; i < ELEMENTSOF(forward_protocol_names); i++)
		if (streq(s, forward_protocol_names[i]))
			return (int)i;
	return -EINVAL;
}

/*
 * Network names become file names (NAME.json) and appear in logs and
 * interface aliases, so keep them to a portable, unambiguous alphabet.
 */
bool network_name_is_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > NETWORK_NAME_MAX)
		return false;
	if (!((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= 'A' && name[0] <= 'Z') ||
	      (name[0] >= '0' && name[0] <= '9')))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.'))
			return false;
	}
	return strstr(name, "..") == NULL;
}

/* The kernel's dev_valid_name(), minus what confuses ip(8) and sysfs. */
bool ifname_is_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n >= IFNAMSIZ || streq(name, ".") || streq(name, ".."))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c <= ' ' || c >= 0x7f || c == '/' || c == ':' || c == '%')
			return false;
	}
	return true;
}

const char *ifname_reserved_why(const char *name)
{
	/* vmvx: a span's VXLAN device (vxlan.h); vmns: its names link (span-names.h). */
	static const char *const prefixes[] = { "vmbr", "vmtap", "vmveth", "vmvx", "vmns" };

	/* The daemon names its bridges and ports so, and removes a link of
	 * such a name with its alias as an orphan after a restart. */
	for (size_t i = 0; i < ELEMENTSOF(prefixes); i++)
		if (strncmp(name, prefixes[i], strlen(prefixes[i])) == 0)
			return "names starting with vmbr, vmtap, vmveth, vmvx or vmns are the broker's own";
	/* /proc/sys/net/ipv{4,6}/conf/{all,default}: a port's sysctls written
	 * there would change every interface of the host. */
	if (streq(name, "all") || streq(name, "default"))
		return "'all' and 'default' name the sysctls of every interface";
	return NULL;
}
int mac_parse(const char *s, uint8_t ret[6])
{
	uint8_t mac[6];
	bool zero = true;

	if (strlen(s) != 17)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		unsigned int v = 0;
		for (int j = 0; j < 2; j++) {
			char c = s[i * 3 + j];
			v <<= 4;
			if (c >= '0' && c <= '9')
				v |= (unsigned)(c - '0');
			else if (c >= 'a' && c <= 'f')
				v |= (unsigned)(c - 'a' + 10);
			else if (c >= 'A' && c <= 'F')
				v |= (unsigned)(c - 'A' + 10);
			else
				return -EINVAL;
		}
		if (i < 5 && s[i * 3 + 2] != ':')
			return -EINVAL;
		mac[i] = (uint8_t)v;
		zero = zero && v == 0;
	}
	/* A guest cannot own a multicast or the all-zero address. */
	if (zero || (mac[0] & 1))
		return -EINVAL;
	memcpy(ret, mac, 6);
	return 0;
}

char *mac_format(const uint8_t mac[6], char *buf)
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
		 mac[5]);
	return buf;
}

/* Length of the valid UTF-8 sequence at @p (as jansson checks it), or 0. */
static size_t utf8_sequence_len(const unsigned char *p)
{
	uint32_t cp;
	size_t n;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4;
	else
		return 0;
	cp = p[0] & (0x7f >> n);
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80) /* also the terminating NUL */
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0; /* overlong, beyond Unicode, or a surrogate */
	return n;
}

void utf8_sanitize(char *s)
{
	unsigned char *p = (unsigned char *)s;

	while (*p) {
		size_t n = utf8_sequence_len(p);

		if (n == 0)
			*p++ = '?';
		else
			p += n;
	}
}

void utf8_truncate(char *s, size_t max)
{
	static const char ellipsis[] = "...";
	size_t len = strlen(s), end;

	if (len <= max)
		return;
	end = max >= sizeof(ellipsis) - 1 ? max - (sizeof(ellipsis) - 1) : max;
	/* Back to the first byte of the character the cut falls in. */
	while (end > 0 && ((unsigned char)s[end] & 0xc0) == 0x80)
		end--;
	if (max >= sizeof(ellipsis) - 1)
		memcpy(s + end, ellipsis, sizeof(ellipsis));
	else
		s[end] = '\0';
}

/* The code point of the valid @n-byte UTF-8 sequence at @p. */
static uint32_t utf8_decode(const unsigned char *p, size_t n)
{
	uint32_t cp = n == 1 ? p[0] : p[0] & (0x7f >> n);

	for (size_t i = 1; i < n; i++)
		cp = cp << 6 | (p[i] & 0x3f);
	return cp;
}

/*
 * What a label may not hold. Controls (C0, DEL, C1: U+009B is a terminal's
 * CSI), line and paragraph separators (a line break in a log), and the
 * bidirectional formatting characters, which reorder what follows them on
 * screen ("evil\u202egnp.exe" shows as "evilexe.png"): a label needs none.
 */
static bool label_char_refused(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x061c || cp == 0x200e ||
	       cp == 0x200f || (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

/* Labels go into interface aliases and logs: printable text, no controls. */
bool label_is_valid(const char *label)
{
	const unsigned char *p = (const unsigned char *)label;
	size_t n = strlen(label);

	if (n > LABEL_MAX)
		return false;
	while (*p) {
		size_t k = utf8_sequence_len(p);

		if (k == 0 || label_char_refused(utf8_decode(p, k)))
			return false;
		p += k;
	}
	return true;
}

void label_sanitize(char *label)
{
	unsigned char *p = (unsigned char *)label, *out = p;

	while (*p) {
		size_t k = utf8_sequence_len(p);

		if (k == 0 || label_char_refused(utf8_decode(p, k))) {
			*out++ = '?';
			p += k ? k : 1;
			continue;
		}
		memmove(out, p, k);
		out += k;
		p += k;
	}
	*out = '\0';
}

_printf_(2, 3) static int parse_error(char *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, PROTOCOL_ERROR_MAX, fmt, ap);
	va_end(ap);
	/*
	 * The reason goes back in a JSON reply, which carries only UTF-8, and
	 * it may quote the peer's bytes: a key cut at 64 bytes can end in half
	 * a character, and jansson's "near '...'" repeats bytes it choked on.
	 * Without this, reply_error_new() fails and the request gets no reply.
	 */
	utf8_sanitize(err);
	return PROTOCOL_E_INVALID;
}

/* String member @key of @obj, borrowed, or NULL when absent. */
static int get_string(json_t *obj, const char *key, const char **ret, char *err)
{
	json_t *v = json_object_get(obj, key);
	const char *s;

	*ret = NULL;
	if (!v)
		return 0;
	if (!json_is_string(v))
		return parse_error(err, "'%s' must be a string", key);
	s = json_string_value(v);
	if (strlen(s) != json_string_length(v))
		return parse_error(err, "'%s' must not contain NUL bytes", key);
	*ret = s;
	return 0;
}

/* A TCP or UDP port number, 1-65535. */
static int get_port(json_t *obj, const char *key, unsigned int i, uint16_t *ret, char *err)
{
	json_t *v = json_object_get(obj, key);

	if (!v)
		return parse_error(err, "'port_forwards[%u].%s' is required", i, key);
	if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 65535)
		return parse_error(err, "'port_forwards[%u].%s' must be a port number from 1 to 65535",
				   i, key);
	*ret = (uint16_t)json_integer_value(v);
	return 0;
}

/*
 * One entry of "port_forwards". @host_port_only (forward_remove): a host
 * port names the forward, so the entry is only {"protocol", "external_port"}.
 */
static int parse_forward_object(json_t *o, unsigned int i, bool host_port_only,
				struct port_forward *ret, char *err)
{
	const char *key;
	json_t *v;
	int r;

	if (!json_is_object(o))
		return parse_error(err, "'port_forwards[%u]' must be an object", i);
	json_object_foreach(o, key, v) {
		if (streq(key, "internal_address"))
			return parse_error(err,
					   "'port_forwards[%u].internal_address' is not taken on a request: "
					   "the port's own address is meant",
					   i);
		if (host_port_only && streq(key, "internal_port"))
			return parse_error(err,
					   "'port_forwards[%u].internal_port' is not taken on forward_remove: "
					   "the protocol and external_port name the forward",
					   i);
		if (!streq(key, "protocol") && !streq(key, "external_port") &&
		    !streq(key, "internal_port"))
			return parse_error(err, "unknown key '%.64s' in 'port_forwards[%u]'", key, i);
	}
	v = json_object_get(o, "protocol");
	if (!json_is_string(v) || (r = forward_protocol_from_string(json_string_value(v))) < 0)
		return parse_error(err, "'port_forwards[%u].protocol' must be \"tcp\" or \"udp\"", i);
	ret->protocol = (enum forward_protocol)r;
	r = get_port(o, "external_port", i, &ret->external_port, err);
	if (r || host_port_only)
		return r;
	return get_port(o, "internal_port", i, &ret->internal_port, err);
}

/* "port_forwards": [{"protocol", "external_port", "internal_port"}, ...] */
static int parse_forwards(json_t *v, struct request *req, char *err)
{
	bool host_port_only = req->command == REQUEST_FORWARD_REMOVE;
	size_t i;
	json_t *o;
	int r;

	if (!json_is_array(v))
		return parse_error(err, "'port_forwards' must be an array");
	if (json_array_size(v) > REQUEST_FORWARDS_MAX)
		return parse_error(err, "at most %d 'port_forwards' in one request",
				   REQUEST_FORWARDS_MAX);
	if (json_array_size(v) > 0 && req->command == REQUEST_ACQUIRE && req->port == PORT_NONE)
		return parse_error(err, "'port_forwards' need a port with an address, not port 'none'");
	if (json_array_size(v) == 0 && req->command != REQUEST_ACQUIRE)
		return parse_error(err, "'port_forwards' must name at least one forward");
	json_array_foreach(v, i, o) {
		struct port_forward *f = &req->forwards[i];

		r = parse_forward_object(o, (unsigned int)i, host_port_only, f, err);
		if (r)
			return r;
		for (size_t j = 0; j < i; j++)
			if (req->forwards[j].protocol == f->protocol &&
			    req->forwards[j].external_port == f->external_port)
				return parse_error(err, "'port_forwards' name %s port %u twice",
						   forward_protocol_names[f->protocol],
						   f->external_port);
	}
	req->n_forwards = (unsigned int)json_array_size(v);
	return 0;
}

static int get_network_name(json_t *obj, struct request *req, char *err)
{
	const char *s;
	int r;

	r = get_string(obj, "network_name", &s, err);
	if (r)
		return r;
	if (!s)
		return parse_error(err, "'network_name' is required for '%s'",
				   command_names[req->command]);
	if (!network_name_is_valid(s))
		return parse_error(err,
				   "invalid network name: 1-%d characters of A-Z, a-z, 0-9, '.', '-', '_', "
				   "starting with a letter or digit, without '..'",
				   NETWORK_NAME_MAX);
	strcpy(req->network_name, s);
	return 0;
}

static int get_bool(json_t *obj, const char *key, bool *ret, char *err)
{
	json_t *v = json_object_get(obj, key);

	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return parse_error(err, "'%s' must be true or false", key);
	*ret = json_is_true(v);
	return 0;
}

/* What names the port: its network, kind, MAC and label. */
static int parse_port_identity(json_t *obj, struct request *req, char *err)
{
	const char *s;
	int r;

	r = get_network_name(obj, req, err);
	if (r)
		return r;
	r = get_string(obj, "port", &s, err);
	if (r)
		return r;
	if (s) {
		r = port_kind_from_string(s);
		if (r < 0)
			return parse_error(err,
					   "unknown port kind (want tap, netns, named_tap or none)");
		req->port = (enum port_kind)r;
	}

	r = get_string(obj, "mac", &s, err);
	if (r)
		return r;
	if (s) {
		if (mac_parse(s, req->mac) < 0)
			return parse_error(err,
					   "'mac' must be a unicast MAC address like 52:54:00:12:34:56");
		req->has_mac = true;
	}

	r = get_string(obj, "label", &s, err);
	if (r)
		return r;
	if (s) {
		if (!label_is_valid(s))
			return parse_error(err,
					   "'label' must be at most %d bytes of printable text (no control or "
					   "bidirectional formatting characters)",
					   LABEL_MAX);
		strcpy(req->label, s);
	}
	return 0;
}

/*
 * An acquire's "ifname": inside the namespace for netns, on the host for
 * named_tap, where a name of the broker's own (or a sysctl directory's)
 * is refused.
 */
static int parse_acquire_ifname(json_t *obj, struct request *req, char *err)
{
	const char *s, *why;
	int r;

	r = get_string(obj, "ifname", &s, err);
	if (r || !s)
		return r;
	if (!ifname_is_valid(s))
		return parse_error(err, "'ifname' is not a valid interface name: 1-15 printable ASCII "
					"characters, none of '/', ':', '%%', not '.' or '..'");
	if (req->port != PORT_NETNS && req->port != PORT_NAMED_TAP)
		return parse_error(err, "'ifname' applies only to ports 'netns' (the name inside the "
					"namespace) and 'named_tap' (the TAP's name)");
	why = req->port == PORT_NAMED_TAP ? ifname_reserved_why(s) : NULL;
	if (why)
		return parse_error(err, "'ifname' '%s' is reserved: %s", s, why);
	strcpy(req->ifname, s);
	return 0;
}

/* What shapes the port: its interface name, the TAP's vnet_hdr and queues, its lifetime. */
static int parse_port_shape(json_t *obj, struct request *req, char *err)
{
	json_t *v;
	int r;

	r = parse_acquire_ifname(obj, req, err);
	if (r)
		return r;
	r = get_bool(obj, "vnet_hdr", &req->vnet_hdr, err);
	if (r)
		return r;
	v = json_object_get(obj, "multi_queue");
	if (v) {
		if (!json_is_integer(v) || json_integer_value(v) < 1 ||
		    json_integer_value(v) > QUEUES_MAX)
			return parse_error(err, "'multi_queue' must be a queue count from 1 to %d",
					   QUEUES_MAX);
		req->queues = (unsigned int)json_integer_value(v);
	}
	if ((req->vnet_hdr || req->queues > 1) && req->port != PORT_TAP && req->port != PORT_NAMED_TAP)
		return parse_error(err, "'vnet_hdr' and 'multi_queue' apply only to TAP ports");
	r = get_bool(obj, "persistent", &req->persistent, err);
	if (r)
		return r;
	if (req->persistent && req->port != PORT_NAMED_TAP && req->port != PORT_NETNS)
		return parse_error(err,
				   "'persistent' applies only to ports 'named_tap' and 'netns': a "
				   "'tap' lease lives as long as its fds, a 'none' hold as long as "
				   "its connection");
	return 0;
}

static int parse_acquire_keys(json_t *obj, struct request *req, char *err)
{
	json_t *v;
	int r;

	r = parse_port_identity(obj, req, err);
	if (r)
		return r;
	r = parse_port_shape(obj, req, err);
	if (r)
		return r;
	v = json_object_get(obj, "port_forwards");
	if (v)
		return parse_forwards(v, req, err);
	return 0;
}

/*
 * wait_address: exactly one of "ifname" (the port's name on the host, as
 * status shows it) and "label"; "network_name" narrows; "timeout" in seconds.
 */
static int parse_wait_keys(json_t *obj, struct request *req, char *err)
{
	const char *ifname, *label, *network;
	json_t *v = json_object_get(obj, "timeout");
	int r;

	if ((r = get_string(obj, "ifname", &ifname, err)) ||
	    (r = get_string(obj, "label", &label, err)) ||
	    (r = get_string(obj, "network_name", &network, err)))
		return r;
	if (!ifname == !label)
		return parse_error(err, "'wait_address' takes one of 'ifname' and 'label'");
	if (ifname && !ifname_is_valid(ifname))
		return parse_error(err, "'ifname' is not a valid interface name");
	if (label && (!*label || !label_is_valid(label)))
		return parse_error(err, "'label' must be 1-%d printable characters", LABEL_MAX);
	if (network && !network_name_is_valid(network))
		return parse_error(err,
				   "invalid network name: 1-%d characters of A-Z, a-z, 0-9, '.', '-', '_', "
				   "starting with a letter or digit, without '..'",
				   NETWORK_NAME_MAX);
	if (v && (!json_is_integer(v) || json_integer_value(v) < 0 ||
		  json_integer_value(v) > WAIT_TIMEOUT_MAX))
		return parse_error(err, "'timeout' must be a number of seconds from 0 to %d",
				   WAIT_TIMEOUT_MAX);
	req->timeout = v ? (unsigned int)json_integer_value(v) : WAIT_TIMEOUT_DEFAULT;
	if (ifname)
		strcpy(req->ifname, ifname);
	if (label) {
		strcpy(req->label, label);
		req->has_label = true;
	}
	if (network)
		strcpy(req->network_name, network);
	return 0;
}

/*
 * Which lease a request is about: "lease_id" (the acquire reply's and
 * status's) or "ifname" (its port's, as status shows it). @required:
 * exactly one of them; else at most one.
 */
static int parse_lease_ref(json_t *obj, struct request *req, bool required, char *err)
{
	json_t *id = json_object_get(obj, "lease_id");
	const char *s;
	int r;

	r = get_string(obj, "ifname", &s, err);
	if (r)
		return r;
	if (id && s)
		return parse_error(err, "give 'lease_id' or 'ifname', not both");
	if (!id && !s)
		return required ? parse_error(err,
					      "'%s' needs 'lease_id' or 'ifname' to name the lease",
					      command_names[req->command])
				: 0;
	if (s) {
		if (!ifname_is_valid(s))
			return parse_error(err, "'ifname' is not a valid interface name");
		strcpy(req->ifname, s);
		return 0;
	}
	if (!json_is_integer(id) || json_integer_value(id) < 1)
		return parse_error(err,
				   "'lease_id' must be a lease id (an integer from 1), as status shows it");
	req->lease_id = (uint64_t)json_integer_value(id);
	return 0;
}

static int parse_forward_keys(json_t *obj, struct request *req, char *err)
{
	json_t *v;
	int r;

	r = parse_lease_ref(obj, req, req->command != REQUEST_FORWARD_LIST, err);
	if (r || req->command == REQUEST_FORWARD_LIST)
		return r;
	v = json_object_get(obj, "port_forwards");
	if (!v)
		return parse_error(err, "'port_forwards' is required for '%s'",
				   command_names[req->command]);
	return parse_forwards(v, req, err);
}

static int parse_command_keys(json_t *obj, struct request *req, char *err)
{
	switch (req->command) {
	case REQUEST_ACQUIRE:
		return parse_acquire_keys(obj, req, err);
	case REQUEST_RELEASE:
		return parse_lease_ref(obj, req, true, err);
	case REQUEST_FORWARD_ADD:
	case REQUEST_FORWARD_REMOVE:
	case REQUEST_FORWARD_LIST:
		return parse_forward_keys(obj, req, err);
	case REQUEST_STOP: {
		int r = get_network_name(obj, req, err);

		return r ? r : get_bool(obj, "force", &req->force, err);
	}
	case REQUEST_WAIT_ADDRESS:
		return parse_wait_keys(obj, req, err);
	default:
		return 0;
	}
}

static bool key_allowed(enum request_command c, const char *key)
{
	/* Every command's keys, "command" aside; NULL ends a list. */
	static const char *const keys[_REQUEST_COMMAND_MAX][11] = {
		[REQUEST_ACQUIRE] = { "network_name", "port", "mac", "label", "ifname", "vnet_hdr",
				      "multi_queue", "persistent", "port_forwards" },
		[REQUEST_RELEASE] = { "lease_id", "ifname" },
		[REQUEST_FORWARD_ADD] = { "lease_id", "ifname", "port_forwards" },
		[REQUEST_FORWARD_REMOVE] = { "lease_id", "ifname", "port_forwards" },
		[REQUEST_FORWARD_LIST] = { "lease_id", "ifname" },
		[REQUEST_STOP] = { "network_name", "force" },
		[REQUEST_WAIT_ADDRESS] = { "ifname", "label", "network_name", "timeout" },
	};

	if (streq(key, "command"))
		return true;
	for (size_t i = 0; keys[c][i]; i++)
		if (streq(key, keys[c][i]))
			return true;
	return false;
}

int request_parse(const char *buf, size_t len, struct request *ret, char *err)
{
	struct request req = { .port = PORT_TAP, .queues = 1 };
	json_t *obj = NULL, *v;
	json_error_t jerr;
	const char *key, *s;
	int r;

	if (len > PROTOCOL_MESSAGE_MAX)
		return parse_error(err, "message larger than %d bytes", PROTOCOL_MESSAGE_MAX);
	/* Duplicate keys are rejected: two values for one key is ambiguous. */
	obj = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!obj)
		return parse_error(err, "not valid JSON: %s", jerr.text);
	if (!json_is_object(obj)) {
		r = parse_error(err, "a request must be a JSON object");
		goto out;
	}

	r = get_string(obj, "command", &s, err);
	if (r)
		goto out;
	if (!s) {
		r = parse_error(err, "'command' is required");
		goto out;
	}
	r = request_command_from_string(s);
	if (r < 0) {
		r = parse_error(err,
				"unknown command (want acquire, status, networks, release, "
				"forward_add, forward_remove, forward_list, stop or wait_address)");
		goto out;
	}
	req.command = (enum request_command)r;

	json_object_foreach(obj, key, v) {
		if (!key_allowed(req.command, key)) {
			r = parse_error(err, "unknown key '%.64s' for command '%s'", key,
					command_names[req.command]);
			goto out;
		}
	}
	r = parse_command_keys(obj, &req, err);
	if (r)
		goto out;
	*ret = req;
	r = 0;
out:
	json_decref(obj);
	return r;
}

json_t *reply_error_new(int status, const char *message)
{
	return json_pack("{s:i, s:s}", "error", status, "message", message);
}

size_t protocol_take_fds(struct msghdr *msg, int *fds, size_t max)
{
	size_t n = 0;

	for (struct cmsghdr *cm = CMSG_FIRSTHDR(msg); cm; cm = CMSG_NXTHDR(msg, cm)) {
		size_t k;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;

			/* CMSG_DATA() need not be aligned for an int. */
			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (n < max)
				fds[n++] = fd;
			else
				safe_close(fd);
		}
	}
	return n;
}
