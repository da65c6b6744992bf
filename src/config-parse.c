/* config-parse.c - one NAME.json file into a struct network_config and its errors (pure)
 *
 * A file is checked key by key first (type and range of each), then as a
 * whole (subnet and mask together, reservations and forwards inside the
 * subnet, keys that make no sense for the mode). Every problem becomes a
 * struct config_error with the file, the key and the reason, so a person
 * sees all of them at once, and nothing here prints.
 */
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config-span.h"
#include "config.h"
#include "pool.h"
#include "util.h"

/* RFC 1918: a static subnet must lie inside one of these. */
static const struct prefix4 private_ranges[] = {
	{ 0x0a000000, 8 },  /* 10.0.0.0/8 */
	{ 0xac100000, 12 }, /* 172.16.0.0/12 */
	{ 0xc0a80000, 16 }, /* 192.168.0.0/16 */
};

enum key {
	K_DESCRIPTION,
	K_MODE,
	K_SUBNET,
	K_MASK,
	K_IPV6_PREFIX,
	K_PREFIX_LEN,
	K_DHCP,
	K_DNS_PROXY,
	K_NAT44,
	K_NAT66,
	K_ROUTER_ADVERTISEMENT,
	K_MTU,
	K_EXTERNAL_INTERFACE,
	K_PORT_FORWARDS,
	K_DHCP_RESERVATIONS,
	K_ALLOWED_USERS,
	K_ALLOWED_GROUPS,
	K_PERSISTENT,
	K_LEASE_PORT_FORWARDS,
	K_DHCP_RANGE,
	K_DOMAIN,
	K_SPAN,
	_K_MAX,
};

static const char *const key_names[] = {
	[K_DESCRIPTION] = "description",
	[K_MODE] = "mode",
	[K_SUBNET] = "subnet",
	[K_MASK] = "mask",
	[K_IPV6_PREFIX] = "ipv6_prefix",
	[K_PREFIX_LEN] = "prefix_len",
	[K_DHCP] = "dhcp",
	[K_DNS_PROXY] = "dns_proxy",
	[K_NAT44] = "nat44",
	[K_NAT66] = "nat66",
	[K_ROUTER_ADVERTISEMENT] = "router_advertisement",
	[K_MTU] = "mtu",
	[K_EXTERNAL_INTERFACE] = "external_interface",
	[K_PORT_FORWARDS] = "port_forwards",
	[K_DHCP_RESERVATIONS] = "dhcp_reservations",
	[K_ALLOWED_USERS] = "allowed_users",
	[K_ALLOWED_GROUPS] = "allowed_groups",
	[K_PERSISTENT] = "persistent",
	[K_LEASE_PORT_FORWARDS] = "lease_port_forwards",
	[K_DHCP_RANGE] = "dhcp_range",
	[K_DOMAIN] = "domain",
	[K_SPAN] = "span",
};
static_assert(ELEMENTSOF(key_names) == _K_MAX, "key names");

struct parser {
	struct config_report rep;
	struct network_config *c;
	unsigned int seen; /* bit per enum key present in the file */
	bool mask_ok;      /* `mask`, or the length in `subnet`, parsed into c->prefix_len */
	bool subnet_ok;    /* `subnet` parsed into c->gateway */
	bool subnet_len;   /* `subnet` has a prefix length: "192.168.42.1/24" */
	bool range_ok;     /* `dhcp_range` parsed into c->dhcp_range_start and _end */
	bool span_object; /* `span` is an object: what the rest of the file must be can be checked */
	bool span_ok;     /* ... and it parsed without an error */
};

/* The file's errors as they are found (config_report_add()), and its strings as they may be quoted. */
#define perr(p, ...) config_report_add(&(p)->rep, __VA_ARGS__)
#define shown(p, s) config_report_shown(&(p)->rep, (s))

static bool seen(const struct parser *p, enum key k)
{
	return p->seen & (1u << k);
}

static const char *get_string(struct parser *p, const char *key, json_t *v)
{
	if (!json_is_string(v)) {
		perr(p, key, "must be a string");
		return NULL;
	}
	return json_string_value(v);
}

static void get_bool(struct parser *p, const char *key, json_t *v, bool *ret)
{
	if (!json_is_boolean(v))
		perr(p, key, "must be true or false");
	else
		*ret = json_is_true(v);
}

/* Return: the integer, or -1 after an error when it is not one in [@min, @max]. */
static long long get_int(struct parser *p, const char *key, json_t *v, long long min, long long max)
{
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
		perr(p, key, "must be an integer from %lld to %lld", min, max);
		return -1;
	}
	return json_integer_value(v);
}

static int parse_ipv4(const char *s, uint32_t *ret)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		return -EINVAL;
	*ret = ntohl(a.s_addr);
	return 0;
}

static void parse_description(struct parser *p, json_t *v)
{
	const char *s = get_string(p, "description", v);

	if (!s)
		return;
	if (strlen(s) > CONFIG_DESCRIPTION_MAX || strlen(s) != json_string_length(v)) {
		perr(p, "description", "must be at most %d bytes, without NUL", CONFIG_DESCRIPTION_MAX);
		return;
	}
	for (const char *q = s; *q; q++)
		if ((unsigned char)*q < ' ' || *q == 0x7f) {
			perr(p, "description", "must not contain control characters");
			return;
		}
	p->c->description = strdup(s);
	if (!p->c->description)
		p->rep.oom = -ENOMEM;
}

static void parse_mode(struct parser *p, json_t *v)
{
	const char *s = get_string(p, "mode", v);

	if (!s)
		return;
	if (streq(s, "shared"))
		p->c->mode = MODE_SHARED;
	else if (streq(s, "host"))
		p->c->mode = MODE_HOST;
	else
		perr(p, "mode", "must be \"shared\" or \"host\", not \"%.64s\"", shown(p, s));
}

/* The length of "192.168.42.1/24", checked as a mask would be. */
static void parse_subnet_len(struct parser *p, const char *s, const char *len)
{
	char *end;
	long n;

	p->subnet_len = true;
	errno = 0;
	n = strtol(len, &end, 10);
	if (errno || end == len || *end || len[0] < '0' || len[0] > '9') {
		perr(p, "subnet", "\"%.64s\" has no prefix length after '/' (like 192.168.42.1/24)",
		     shown(p, s));
		return;
	}
	if (n < CONFIG_MASK_MIN || n > CONFIG_MASK_MAX) {
		perr(p, "subnet", "\"%.64s\" is /%ld; a network's prefix must be /%d to /%d",
		     shown(p, s), n, CONFIG_MASK_MIN, CONFIG_MASK_MAX);
		return;
	}
	p->c->prefix_len = (uint8_t)n;
	p->mask_ok = true;
}

/* "192.168.42.1" (with `mask`), or "192.168.42.1/24": the gateway, in CIDR form. */
static void parse_subnet(struct parser *p, json_t *v)
{
	const char *s = get_string(p, "subnet", v), *slash;
	char addr[INET_ADDRSTRLEN] = "";

	if (!s)
		return;
	slash = strchr(s, '/');
	if (slash) {
		/* Too long for an address: left empty, which does not parse. */
		if ((size_t)(slash - s) < sizeof(addr))
			memcpy(addr, s, (size_t)(slash - s));
		parse_subnet_len(p, s, slash + 1);
	}
	if (parse_ipv4(slash ? addr : s, &p->c->gateway) < 0)
		perr(p, "subnet",
		     "\"%.64s\" is not an IPv4 address (the gateway's, like 192.168.42.1, or "
		     "with its prefix length, 192.168.42.1/24)",
		     shown(p, s));
	else
		p->subnet_ok = true;
}

static void parse_mask(struct parser *p, json_t *v)
{
	const char *s = get_string(p, "mask", v);
	uint32_t m, inv;
	int len;

	if (!s)
		return;
	if (parse_ipv4(s, &m) < 0) {
		perr(p, "mask", "\"%.64s\" is not a dotted netmask like 255.255.255.0", shown(p, s));
		return;
	}
	inv = ~m;
	/* Contiguous: the inverse is 0...01...1, so adding one carries through it. */
	if ((inv & (inv + 1)) != 0) {
		perr(p, "mask", "%s is not contiguous (ones, then zeros)", s);
		return;
	}
	len = __builtin_popcount(m);
	if (len < CONFIG_MASK_MIN || len > CONFIG_MASK_MAX) {
		perr(p, "mask", "%s is /%d; a network's mask must be /%d to /%d", s, len,
		     CONFIG_MASK_MIN, CONFIG_MASK_MAX);
		return;
	}
	p->c->prefix_len = (uint8_t)len;
	p->mask_ok = true;
}

static void parse_ipv6_prefix(struct parser *p, json_t *v)
{
	const char *s = get_string(p, "ipv6_prefix", v);
	const uint8_t *a = p->c->ipv6_prefix;

	if (!s)
		return;
	if (inet_pton(AF_INET6, s, p->c->ipv6_prefix) != 1) {
		perr(p, "ipv6_prefix",
		     "\"%.64s\" is not an IPv6 prefix like fd42:42:42:42::", shown(p, s));
		return;
	}
	if (a[0] == 0xff || (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) ||
	    (a[0] == 0 && a[1] == 0 && a[2] == 0 && a[3] == 0)) {
		/* Also :: and ::1, and the IPv4-mapped and -compatible ranges. */
		perr(p, "ipv6_prefix",
		     "%s is not a unicast prefix a network can use "
		     "(multicast, link-local, loopback or IPv4-mapped)",
		     s);
		return;
	}
	p->c->has_ipv6_prefix = true;
}

static void parse_external_interface(struct parser *p, json_t *v)
{
	const char *s = get_string(p, "external_interface", v);

	if (!s)
		return;
	if (!ifname_is_valid(s))
		perr(p, "external_interface", "\"%.64s\" is not a valid interface name", shown(p, s));
	else
		strcpy(p->c->external_interface, s);
}

static bool object_keys_ok(struct parser *p, const char *where, json_t *o,
			   const char *const *allowed, size_t n_allowed)
{
	const char *key;
	json_t *v;
	bool ok = true;

	if (!json_is_object(o)) {
		perr(p, where, "must be an object");
		return false;
	}
	json_object_foreach(o, key, v) {
		bool known = false;

		for (size_t i = 0; i < n_allowed; i++)
			known = known || streq(key, allowed[i]);
		if (!known) {
			char k[128];

			snprintf(k, sizeof(k), "%s.%.64s", where, shown(p, key));
			perr(p, k, "unknown key");
			ok = false;
		}
	}
	for (size_t i = 0; i < n_allowed; i++)
		if (!json_object_get(o, allowed[i])) {
			char k[128];

			snprintf(k, sizeof(k), "%s.%s", where, allowed[i]);
			perr(p, k, "is required");
			ok = false;
		}
	return ok;
}

/* Return: true when @v is an array of at most CONFIG_LIST_MAX entries; else says why. */
static bool is_list(struct parser *p, const char *key, json_t *v)
{
	if (!json_is_array(v)) {
		perr(p, key, "must be an array");
		return false;
	}
	if (json_array_size(v) > CONFIG_LIST_MAX) {
		perr(p, key, "has more than %d entries", CONFIG_LIST_MAX);
		return false;
	}
	return true;
}

/* The present keys of one port_forwards entry; missing ones were reported. */
static void parse_one_forward(struct parser *p, const char *where, json_t *o,
			      struct port_forward *f, bool *ok)
{
	static const char *const keys[] = { "protocol", "external_port", "internal_address",
					    "internal_port" };
	char k[96];
	const char *s;
	long long port;
	json_t *v;
	int r;

	*ok = object_keys_ok(p, where, o, keys, ELEMENTSOF(keys));
	if (!json_is_object(o))
		return;
	snprintf(k, sizeof(k), "%s.protocol", where);
	if ((v = json_object_get(o, "protocol")) && (s = get_string(p, k, v))) {
		r = forward_protocol_from_string(s);
		if (r >= 0)
			f->protocol = (enum forward_protocol)r;
		else
			perr(p, k, "must be \"tcp\" or \"udp\", not \"%.16s\"", shown(p, s));
		*ok = *ok && r >= 0;
	}
	snprintf(k, sizeof(k), "%s.external_port", where);
	if ((v = json_object_get(o, "external_port"))) {
		port = get_int(p, k, v, 1, 65535);
		f->external_port = (uint16_t)(port > 0 ? port : 0);
		*ok = *ok && port > 0;
	}
	snprintf(k, sizeof(k), "%s.internal_port", where);
	if ((v = json_object_get(o, "internal_port"))) {
		port = get_int(p, k, v, 1, 65535);
		f->internal_port = (uint16_t)(port > 0 ? port : 0);
		*ok = *ok && port > 0;
	}
	snprintf(k, sizeof(k), "%s.internal_address", where);
	if ((v = json_object_get(o, "internal_address")) && (s = get_string(p, k, v)) &&
	    parse_ipv4(s, &f->internal_address) < 0) {
		perr(p, k, "\"%.64s\" is not an IPv4 address", shown(p, s));
		*ok = false;
	}
}

static void parse_forwards(struct parser *p, json_t *v)
{
	struct network_config *c = p->c;
	json_t *o;
	size_t i;

	if (!is_list(p, "port_forwards", v))
		return;
	c->forwards = calloc(json_array_size(v) + 1, sizeof(*c->forwards));
	if (!c->forwards) {
		p->rep.oom = -ENOMEM;
		return;
	}
	json_array_foreach(v, i, o) {
		struct port_forward *f = &c->forwards[c->n_forwards];
		char where[48];
		bool ok = true;

		snprintf(where, sizeof(where), "port_forwards[%zu]", i);
		parse_one_forward(p, where, o, f, &ok);
		if (!ok)
			continue;
		for (size_t j = 0; j < c->n_forwards; j++)
			if (c->forwards[j].protocol == f->protocol &&
			    c->forwards[j].external_port == f->external_port) {
				char k[64];

				snprintf(k, sizeof(k), "%s.external_port", where);
				perr(p, k, "%s port %u is already forwarded by an earlier entry",
				     forward_protocol_to_string(f->protocol), f->external_port);
				ok = false;
			}
		if (ok)
			c->n_forwards++;
	}
}

/* The present keys of one dhcp_reservations entry; missing ones were reported. */
static void parse_one_reservation(struct parser *p, const char *where, json_t *o,
				  struct dhcp_reservation *res, bool *ok)
{
	static const char *const keys[] = { "mac", "address" };
	char k[96];
	const char *s;
	json_t *v;

	*ok = object_keys_ok(p, where, o, keys, ELEMENTSOF(keys));
	if (!json_is_object(o))
		return;
	snprintf(k, sizeof(k), "%s.mac", where);
	if ((v = json_object_get(o, "mac")) && (s = get_string(p, k, v)) && mac_parse(s, res->mac) < 0) {
		perr(p, k, "\"%.64s\" is not a unicast MAC address like 52:54:00:12:34:56",
		     shown(p, s));
		*ok = false;
	}
	snprintf(k, sizeof(k), "%s.address", where);
	if ((v = json_object_get(o, "address")) && (s = get_string(p, k, v)) &&
	    parse_ipv4(s, &res->address) < 0) {
		perr(p, k, "\"%.64s\" is not an IPv4 address", shown(p, s));
		*ok = false;
	}
}

static void parse_reservations(struct parser *p, json_t *v)
{
	struct network_config *c = p->c;
	json_t *o;
	size_t i;

	if (!is_list(p, "dhcp_reservations", v))
		return;
	c->reservations = calloc(json_array_size(v) + 1, sizeof(*c->reservations));
	if (!c->reservations) {
		p->rep.oom = -ENOMEM;
		return;
	}
	json_array_foreach(v, i, o) {
		struct dhcp_reservation *res = &c->reservations[c->n_reservations];
		char where[48], k[64], mac[18];
		bool ok = true;

		snprintf(where, sizeof(where), "dhcp_reservations[%zu]", i);
		parse_one_reservation(p, where, o, res, &ok);
		for (size_t j = 0; ok && j < c->n_reservations; j++) {
			if (memcmp(c->reservations[j].mac, res->mac, 6) == 0) {
				snprintf(k, sizeof(k), "%s.mac", where);
				perr(p, k, "%s is already reserved by an earlier entry",
				     mac_format(res->mac, mac));
				ok = false;
			} else if (c->reservations[j].address == res->address) {
				snprintf(k, sizeof(k), "%s.address", where);
				perr(p, k, "the address is already reserved by an earlier entry");
				ok = false;
			}
		}
		if (ok)
			c->n_reservations++;
	}
}

/* {"start": ADDRESS, "end": ADDRESS}; checked against the subnet in check_range(). */
static void parse_dhcp_range(struct parser *p, json_t *v)
{
	static const char *const keys[] = { "start", "end" };
	uint32_t *ends[] = { &p->c->dhcp_range_start, &p->c->dhcp_range_end };
	bool ok = object_keys_ok(p, "dhcp_range", v, keys, ELEMENTSOF(keys));

	for (size_t i = 0; ok && i < ELEMENTSOF(keys); i++) {
		char k[32];
		const char *s;

		snprintf(k, sizeof(k), "dhcp_range.%s", keys[i]);
		s = get_string(p, k, json_object_get(v, keys[i]));
		ok = s && parse_ipv4(s, ends[i]) == 0;
		if (s && !ok)
			perr(p, k, "\"%.64s\" is not an IPv4 address", shown(p, s));
	}
	p->range_ok = ok;
}

static void parse_domain(struct parser *p, json_t *v)
{
	const char *s = get_string(p, "domain", v);

	if (!s)
		return;
	if (!dns_domain_is_valid(s))
		perr(p, "domain",
		     "\"%.64s\" is not a DNS domain: labels of 1-63 of A-Z, a-z, 0-9 and '-' "
		     "(not first or last), separated by dots, at most %d bytes, not under "
		     "\"local\"",
		     shown(p, s), DNS_DOMAIN_MAX);
	else
		dns_lower(s, p->c->domain, sizeof(p->c->domain));
}

/* A user or group: a name of the portable set (useradd's) or a decimal id. */
static bool account_is_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > CONFIG_ACCOUNT_MAX || s[0] == '-')
		return false;
	if (strspn(s, "0123456789") == n)
		return n < 10 || (n == 10 && strcmp(s, "4294967295") < 0); /* not (uid_t)-1 */
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		      ch == '_' || ch == '-' || ch == '.' || (ch == '$' && i == n - 1)))
			return false;
	}
	return true;
}

static void parse_accounts(struct parser *p, const char *key, json_t *v, bool *restricted,
			   char ***ret, size_t *ret_n)
{
	json_t *e;
	size_t i;

	*restricted = true;
	if (!is_list(p, key, v))
		return;
	*ret = calloc(json_array_size(v) + 1, sizeof(char *));
	if (!*ret) {
		p->rep.oom = -ENOMEM;
		return;
	}
	json_array_foreach(v, i, e) {
		char k[64];
		const char *s;

		snprintf(k, sizeof(k), "%s[%zu]", key, i);
		s = get_string(p, k, e);
		if (!s)
			continue;
		if (!account_is_valid(s)) {
			perr(p, k, "\"%.64s\" is not a valid name or numeric id", shown(p, s));
			continue;
		}
		(*ret)[*ret_n] = strdup(s);
		if (!(*ret)[*ret_n]) {
			p->rep.oom = -ENOMEM;
			return;
		}
		(*ret_n)++;
	}
}

/* A port number 1-65535 at @s, up to *@ret_end. Return: true when there is one. */
static bool parse_port_number(const char *s, const char **ret_end, unsigned int *ret)
{
	unsigned long v;
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || v < 1 || v > 65535)
		return false;
	*ret = (unsigned int)v;
	*ret_end = end;
	return true;
}

/* "20000-20099", or one port "8080": 1-65535, the first not above the last. */
static void parse_port_range(struct parser *p, const char *key, json_t *v, struct lease_forwards *f)
{
	const char *s = get_string(p, key, v), *end = NULL;
	unsigned int a = 0, b = 0;
	bool ok;

	if (!s)
		return;
	ok = parse_port_number(s, &end, &a);
	b = a;
	if (ok && *end == '-')
		ok = parse_port_number(end + 1, &end, &b);
	if (!ok || *end || a > b) {
		perr(p, key, "\"%.32s\" is not a port range like \"20000-20099\" (ports 1-65535)",
		     shown(p, s));
		return;
	}
	f->port_min = (uint16_t)a;
	f->port_max = (uint16_t)b;
}

/* Which ports a lease may have forwarded, for whom: lease_port_forwards. */
static void parse_lease_forwards(struct parser *p, json_t *o)
{
	struct lease_forwards *f = &p->c->lease_forwards;
	const char *key;
	json_t *v;

	f->given = true;
	if (!json_is_object(o)) {
		perr(p, "lease_port_forwards",
		     "must be an object, like {\"allowed\": true, \"port_range\": \"20000-20099\"}");
		return;
	}
	json_object_foreach(o, key, v) {
		char k[96];

		snprintf(k, sizeof(k), "lease_port_forwards.%.64s", shown(p, key));
		if (streq(key, "allowed")) {
			bool on = true;

			get_bool(p, k, v, &on);
			f->closed = !on;
		} else if (streq(key, "port_range")) {
			parse_port_range(p, k, v, f);
		} else if (streq(key, "allowed_users")) {
			parse_accounts(p, k, v, &f->restricted, &f->allowed_users, &f->n_allowed_users);
		} else if (streq(key, "allowed_groups")) {
			parse_accounts(p, k, v, &f->restricted, &f->allowed_groups,
				       &f->n_allowed_groups);
		} else {
			perr(p, k,
			     "unknown key (known: allowed, port_range, allowed_users, allowed_groups)");
		}
	}
}

/* The result of a parser of another file (config-span.c), which reported its errors. */
static void note(struct parser *p, int r)
{
	if (r < 0)
		p->rep.oom = r;
	else if (r)
		p->rep.bad = true;
}

static void parse_key(struct parser *p, enum key k, json_t *v)
{
	struct network_config *c = p->c;
	long long n;
	int r;

	switch (k) {
	case K_DESCRIPTION:
		return parse_description(p, v);
	case K_MODE:
		return parse_mode(p, v);
	case K_SUBNET:
		return parse_subnet(p, v);
	case K_MASK:
		return parse_mask(p, v);
	case K_IPV6_PREFIX:
		return parse_ipv6_prefix(p, v);
	case K_PREFIX_LEN:
		n = get_int(p, "prefix_len", v, CONFIG_PREFIX6_MIN, CONFIG_PREFIX6_MAX);
		if (n > 0)
			c->ipv6_prefix_len = (uint8_t)n;
		return;
	case K_DHCP:
		return get_bool(p, "dhcp", v, &c->dhcp);
	case K_DNS_PROXY:
		return get_bool(p, "dns_proxy", v, &c->dns_proxy);
	case K_NAT44:
		return get_bool(p, "nat44", v, &c->nat44);
	case K_NAT66:
		return get_bool(p, "nat66", v, &c->nat66);
	case K_ROUTER_ADVERTISEMENT:
		return get_bool(p, "router_advertisement", v, &c->router_advertisement);
	case K_MTU:
		n = get_int(p, "mtu", v, CONFIG_MTU_MIN, CONFIG_MTU_MAX);
		if (n > 0)
			c->mtu = (unsigned int)n;
		return;
	case K_EXTERNAL_INTERFACE:
		return parse_external_interface(p, v);
	case K_PORT_FORWARDS:
		return parse_forwards(p, v);
	case K_DHCP_RESERVATIONS:
		return parse_reservations(p, v);
	case K_ALLOWED_USERS:
		return parse_accounts(p, "allowed_users", v, &c->restricted, &c->allowed_users,
				      &c->n_allowed_users);
	case K_ALLOWED_GROUPS:
		return parse_accounts(p, "allowed_groups", v, &c->restricted, &c->allowed_groups,
				      &c->n_allowed_groups);
	case K_LEASE_PORT_FORWARDS:
		return parse_lease_forwards(p, v);
	case K_PERSISTENT:
		return get_bool(p, "persistent", v, &c->persistent);
	case K_DHCP_RANGE:
		return parse_dhcp_range(p, v);
	case K_DOMAIN:
		return parse_domain(p, v);
	case K_SPAN:
		r = config_span_parse(p->rep.path, v, p->rep.hide, &c->span, p->rep.errors);
		p->span_ok = r == 0;
		p->span_object = json_is_object(v);
		return note(p, r);
	default:
		return;
	}
}

static bool in_private_range(uint32_t addr, uint8_t len)
{
	struct prefix4 p = { addr, len };

	for (size_t i = 0; i < ELEMENTSOF(private_ranges); i++)
		if (len >= private_ranges[i].len && prefix4_overlaps(&p, &private_ranges[i]))
			return true;
	return false;
}

static void check_subnet(struct parser *p)
{
	struct network_config *c = p->c;
	uint32_t net, host_bits;
	uint8_t len;
	char a[16], buf[24];

	if (p->subnet_len && seen(p, K_MASK)) {
		perr(p, "mask", "give the prefix length in 'subnet' or a 'mask', not both");
		return;
	}
	if (!p->subnet_len && seen(p, K_SUBNET) != seen(p, K_MASK)) {
		if (seen(p, K_SUBNET))
			perr(p, "mask",
			     "is required with 'subnet', unless 'subnet' has a prefix "
			     "length (192.168.42.1/24)");
		else
			perr(p, "subnet", "is required with 'mask'");
		return;
	}
	if (!p->subnet_ok || !p->mask_ok)
		return;
	network_config_subnet(c, &net, &len);
	host_bits = ~prefix4_mask(len);
	snprintf(buf, sizeof(buf), "%s/%u", addr4_format(net, a, sizeof(a)), len);
	if ((c->gateway & host_bits) == 0 || (c->gateway & host_bits) == host_bits) {
		perr(p, "subnet",
		     "%s is the network or broadcast address of %s; give the gateway's "
		     "address, like %s",
		     addr4_format(c->gateway, a, sizeof(a)), buf, addr4_format(net + 1, a, sizeof(a)));
		return;
	}
	if (!in_private_range(net, len)) {
		perr(p, "subnet",
		     "%s is not inside a private range (10.0.0.0/8, 172.16.0.0/12, "
		     "192.168.0.0/16)",
		     buf);
		return;
	}
	c->has_subnet = true;
}

/* @addr must be a guest's address in the static subnet. Return: true when it is. */
static bool check_guest_address(struct parser *p, const char *key, uint32_t addr)
{
	const struct network_config *c = p->c;
	uint32_t net, host_bits;
	uint8_t len;
	char a[16], g[16];

	network_config_subnet(c, &net, &len);
	host_bits = ~prefix4_mask(len);
	if ((addr & ~host_bits) != net) {
		perr(p, key, "%s is outside the subnet %s/%u", addr4_format(addr, a, sizeof(a)),
		     addr4_format(net, g, sizeof(g)), len);
		return false;
	}
	if (addr == c->gateway) {
		perr(p, key, "%s is the gateway (the host), not a guest",
		     addr4_format(addr, a, sizeof(a)));
		return false;
	}
	if ((addr & host_bits) == 0 || (addr & host_bits) == host_bits) {
		perr(p, key, "%s is the network or broadcast address",
		     addr4_format(addr, a, sizeof(a)));
		return false;
	}
	return true;
}

static void check_addresses(struct parser *p)
{
	struct network_config *c = p->c;
	char k[64];

	if (!c->has_subnet) {
		/* Unknown addresses cannot be checked, nor served: ask for the subnet. */
		if (c->n_forwards)
			perr(p, "port_forwards",
			     "needs a fixed 'subnet' and 'mask', so that each "
			     "internal_address is known");
		if (c->n_reservations)
			perr(p, "dhcp_reservations",
			     "needs a fixed 'subnet' and 'mask', so that each "
			     "address is known");
		return;
	}
	for (size_t i = 0; i < c->n_forwards; i++) {
		snprintf(k, sizeof(k), "port_forwards[%zu].internal_address", i);
		(void)check_guest_address(p, k, c->forwards[i].internal_address);
	}
	for (size_t i = 0; i < c->n_reservations; i++) {
		snprintf(k, sizeof(k), "dhcp_reservations[%zu].address", i);
		(void)check_guest_address(p, k, c->reservations[i].address);
	}
	if (c->n_reservations && !c->dhcp)
		perr(p, "dhcp_reservations", "have no effect with 'dhcp': false");
}

/* How many host addresses of @c's subnet are left for ports: not the gateway, the range, a reservation or a forward target. */
static long long room_for_ports(const struct network_config *c)
{
	uint32_t net, hosts;
	uint8_t len;
	long long room;

	network_config_subnet(c, &net, &len);
	hosts = (1u << (32 - len)) - 2;
	room = (long long)hosts - 1 - (c->dhcp_range_end - c->dhcp_range_start + 1);
	room -= (long long)c->n_reservations;
	for (size_t i = 0; i < c->n_forwards; i++) {
		bool counted = false;

		for (size_t j = 0; j < c->n_reservations && !counted; j++)
			counted = c->reservations[j].address == c->forwards[i].internal_address;
		for (size_t j = 0; j < i && !counted; j++)
			counted = c->forwards[j].internal_address == c->forwards[i].internal_address;
		room -= !counted;
	}
	return room;
}

static bool in_range(const struct network_config *c, uint32_t a)
{
	return a >= c->dhcp_range_start && a <= c->dhcp_range_end;
}

/* The dynamic range: inside the subnet, apart from every address that is someone's. */
static void check_range(struct parser *p)
{
	struct network_config *c = p->c;
	char a[16], b[16], k[64];
	bool ok;

	if (!seen(p, K_DHCP_RANGE) || !p->range_ok)
		return;
	if (!c->has_subnet) {
		perr(p, "dhcp_range", "needs a fixed 'subnet' and 'mask'");
		return;
	}
	if (!c->dhcp) {
		perr(p, "dhcp_range", "has no effect with 'dhcp': false");
		return;
	}
	ok = check_guest_address(p, "dhcp_range.start", c->dhcp_range_start);
	ok = check_guest_address(p, "dhcp_range.end", c->dhcp_range_end) && ok;
	if (!ok)
		return;
	if (c->dhcp_range_start > c->dhcp_range_end) {
		perr(p, "dhcp_range", "start %s is after end %s",
		     addr4_format(c->dhcp_range_start, a, sizeof(a)),
		     addr4_format(c->dhcp_range_end, b, sizeof(b)));
		return;
	}
	if (in_range(c, c->gateway)) {
		perr(p, "dhcp_range", "includes the gateway %s",
		     addr4_format(c->gateway, a, sizeof(a)));
		return;
	}
	for (size_t i = 0; i < c->n_reservations; i++)
		if (in_range(c, c->reservations[i].address)) {
			snprintf(k, sizeof(k), "dhcp_reservations[%zu].address", i);
			perr(p, k, "lies in dhcp_range, which is for guests without a reservation");
			ok = false;
		}
	for (size_t i = 0; i < c->n_forwards; i++)
		if (in_range(c, c->forwards[i].internal_address)) {
			snprintf(k, sizeof(k), "port_forwards[%zu].internal_address", i);
			perr(p, k, "lies in dhcp_range, where any guest may get it");
			ok = false;
		}
	if (ok && room_for_ports(c) <= 0) {
		perr(p, "dhcp_range",
		     "leaves no address for the ports the daemon gives addresses to "
		     "(outside the range, not the gateway, a reservation or a forward's)");
		return;
	}
	c->has_dhcp_range = ok;
}

static void check_ipv6(struct parser *p)
{
	struct network_config *c = p->c;
	unsigned int len = c->ipv6_prefix_len;

	if (seen(p, K_PREFIX_LEN) && !seen(p, K_IPV6_PREFIX)) {
		perr(p, "prefix_len", "is the length of 'ipv6_prefix', which is missing");
		return;
	}
	if (!c->has_ipv6_prefix)
		return;
	for (unsigned int bit = len; bit < 128; bit++)
		if (c->ipv6_prefix[bit / 8] & (0x80 >> (bit % 8))) {
			perr(p, "ipv6_prefix", "has bits set beyond its length /%u", len);
			c->has_ipv6_prefix = false;
			return;
		}
	if (c->router_advertisement && len != 64)
		perr(p, "prefix_len",
		     "must be 64 with router advertisements on: guests make "
		     "their SLAAC addresses in a /64");
}

/* Keys about the way out mean nothing on a host-only network: say so, not ignore. */
static void check_mode(struct parser *p)
{
	static const enum key shared_only[] = { K_NAT44, K_NAT66, K_EXTERNAL_INTERFACE,
						K_PORT_FORWARDS, K_LEASE_PORT_FORWARDS };
	const struct network_config *c = p->c;

	if (!seen(p, K_MODE)) {
		perr(p, "mode", "is required: \"shared\" or \"host\"");
		return;
	}
	if (c->mode == _MODE_MAX)
		return; /* parse_mode() said why */
	if (c->mode != MODE_HOST)
		return;
	for (size_t i = 0; i < ELEMENTSOF(shared_only); i++) {
		enum key k = shared_only[i];
		bool on = (k == K_NAT44 && c->nat44) || (k == K_NAT66 && c->nat66) ||
			  k == K_EXTERNAL_INTERFACE || k == K_LEASE_PORT_FORWARDS ||
			  (k == K_PORT_FORWARDS && c->n_forwards);

		if (seen(p, k) && on)
			perr(p, key_names[k],
			     "applies only to mode \"shared\": a \"host\" network "
			     "has no way out");
	}
}

static void defaults(struct network_config *c, const char *name)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->mode = _MODE_MAX; /* until the file says */
	c->dhcp = c->dns_proxy = c->nat44 = c->nat66 = c->router_advertisement = true;
	c->mtu = 1500;
	c->ipv6_prefix_len = 64;
}

static void parse_object(struct parser *p, json_t *root)
{
	const char *key;
	json_t *v;

	json_object_foreach(root, key, v) {
		enum key k = _K_MAX;

		for (int i = 0; i < _K_MAX; i++)
			if (streq(key, key_names[i]))
				k = (enum key)i;
		if (k == _K_MAX) {
			char name[72];

			snprintf(name, sizeof(name), "%.64s", shown(p, key));
			perr(p, name, "unknown key");
			continue;
		}
		p->seen |= 1u << k;
		parse_key(p, k, v);
	}
	/* Host networks do not NAT: the defaults follow the mode. */
	if (p->c->mode == MODE_HOST) {
		p->c->nat44 = seen(p, K_NAT44) && p->c->nat44;
		p->c->nat66 = seen(p, K_NAT66) && p->c->nat66;
	}
	check_mode(p);
	check_subnet(p);
	check_addresses(p);
	check_range(p);
	check_ipv6(p);
	if (seen(p, K_DOMAIN) && !p->c->dns_proxy)
		perr(p, "domain", "has no effect with 'dns_proxy': false");
	if (p->span_object)
		note(p, config_span_check(p->rep.path, p->c, seen(p, K_MTU) ? "mtu" : "span",
					  p->span_ok, p->rep.errors));
}

static void check_name(struct parser *p, const char *name)
{
	if (!network_name_is_valid(name))
		perr(p, "",
		     "'%.64s' is not a valid network name (1-%d characters of A-Z, a-z, 0-9, "
		     "'.', '-', '_', starting with a letter or digit, without '..'); the file is "
		     "NAME.json",
		     name, NETWORK_NAME_MAX);
	else if (config_builtin(name))
		perr(p, "",
		     "'%s' is a built-in network; a file cannot redefine it, choose "
		     "another name",
		     name);
}

int config_parse_flags(const char *name, const char *path, const char *text, size_t len,
		       unsigned int flags, struct network_config *ret, struct config_errors *errors)
{
	struct parser p = { .rep = { .path = path, .errors = errors, .hide = flags & CONFIG_PARSE_HIDE },
			    .c = ret };
	json_error_t jerr;
	json_t *root;

	defaults(ret, name);
	ret->source = strdup(path);
	if (!ret->source)
		return -ENOMEM;
	utf8_sanitize(ret->source);
	check_name(&p, name);
	if (len > CONFIG_FILE_MAX) {
		perr(&p, "", "larger than %d bytes", CONFIG_FILE_MAX);
		return config_report_result(&p.rep);
	}
	/* Two values for one key: which one was meant? Refuse, as requests do. */
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root && p.rep.hide)
		/* jansson's words quote the text where it stopped. */
		perr(&p, "", "not valid JSON: line %d, column %d", jerr.line, jerr.column);
	else if (!root)
		perr(&p, "", "not valid JSON: line %d, column %d: %s", jerr.line, jerr.column,
		     jerr.text);
	else if (!json_is_object(root))
		perr(&p, "", "must hold one JSON object, like {\"mode\": \"shared\"}");
	else
		parse_object(&p, root);
	json_decref(root);
	return config_report_result(&p.rep);
}

int config_parse(const char *name, const char *path, const char *text, size_t len,
		 struct network_config *ret, struct config_errors *errors)
{
	return config_parse_flags(name, path, text, len, 0, ret, errors);
}
