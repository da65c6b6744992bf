/* config-span.c - the `span` object of a network file: one network on several hosts (pure)
 *
 * The same file on every host describes the whole span: its VNI, who
 * fills the forwarding tables (a static flood list, or BGP EVPN), and
 * every host with its underlay address and the slice of the subnet it
 * hands out. Which entry is this host's is decided when the network is
 * created (span.c), not here: the file does not change from host to host.
 * Errors are data, as in config-parse.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "config-span.h"
#include "pool.h"
#include "util.h"

struct span_parser {
	struct config_report rep;
	struct span_config *s;
};

/* As config-parse.c's: the errors as they are found, the file's strings as they may be quoted. */
#define perr(p, ...) config_report_add(&(p)->rep, __VA_ARGS__)
#define shown(p, s) config_report_shown(&(p)->rep, (s))

/* Every key of @o must be one of @known. Return: true when they are. */
static bool keys_known(struct span_parser *p, const char *where, json_t *o,
		       const char *const *known, size_t n)
{
	const char *key;
	json_t *v;
	bool ok = true;

	json_object_foreach(o, key, v) {
		bool found = false;

		for (size_t i = 0; i < n; i++)
			found = found || streq(key, known[i]);
		if (!found) {
			char k[128];

			snprintf(k, sizeof(k), "%s.%.64s", where, shown(p, key));
			perr(p, k, "unknown key");
			ok = false;
		}
	}
	return ok;
}

/* Return: the integer, or -1 after an error when it is not one in [@min, @max]. */
static long long get_int(struct span_parser *p, const char *key, json_t *v, long long min, long long max)
{
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
		perr(p, key, "must be an integer from %lld to %lld", min, max);
		return -1;
	}
	return json_integer_value(v);
}

/* An underlay address: IPv4 unicast. Return: 0, or -EINVAL after an error. */
static int get_address(struct span_parser *p, const char *key, json_t *v, uint32_t *ret)
{
	struct in_addr a;
	uint32_t h;

	if (!json_is_string(v) || inet_pton(AF_INET, json_string_value(v), &a) != 1) {
		perr(p, key,
		     "must be an IPv4 address of the host on the underlay, like 198.51.100.1 "
		     "(IPv6 underlays are not supported)");
		return -EINVAL;
	}
	h = ntohl(a.s_addr);
	if (h == 0 || h >> 24 == 127 || h >> 28 >= 0xe) {
		perr(p, key, "%s is not a unicast address a host can have",
		     shown(p, json_string_value(v)));
		return -EINVAL;
	}
	*ret = h;
	return 0;
}

/* "192.168.100.64/26", host bits zero. */
static void parse_slice(struct span_parser *p, const char *key, json_t *v, struct prefix4 *ret)
{
	const char *s = json_is_string(v) ? json_string_value(v) : NULL;
	struct prefix4 x;

	if (!s || !strchr(s, '/') || prefix4_parse(s, &x) < 0 || x.len == 0) {
		perr(p, key, "must be an IPv4 prefix of the subnet, like 192.168.100.64/26");
		return;
	}
	if (x.addr & ~prefix4_mask(x.len)) {
		perr(p, key, "%s has host bits set", shown(p, s));
		return;
	}
	*ret = x;
}

static void parse_host(struct span_parser *p, size_t i, json_t *o, struct span_host *ret)
{
	static const char *const keys[] = { "address", "slice" };
	char where[48], k[64];
	json_t *v;

	snprintf(where, sizeof(where), "span.hosts[%zu]", i);
	if (!json_is_object(o)) {
		perr(p, where, "must be an object like {\"address\": \"198.51.100.1\"}");
		return;
	}
	(void)keys_known(p, where, o, keys, ELEMENTSOF(keys));
	snprintf(k, sizeof(k), "%s.address", where);
	v = json_object_get(o, "address");
	if (!v)
		perr(p, k, "is required");
	else
		(void)get_address(p, k, v, &ret->address);
	snprintf(k, sizeof(k), "%s.slice", where);
	if ((v = json_object_get(o, "slice")))
		parse_slice(p, k, v, &ret->slice);
}

static void parse_hosts(struct span_parser *p, json_t *v)
{
	struct span_config *s = p->s;
	json_t *o;
	size_t i;

	if (!json_is_array(v) || json_array_size(v) < 2 || json_array_size(v) > SPAN_HOSTS_MAX) {
		perr(p, "span.hosts",
		     "must be an array of 2 to %d hosts, each {\"address\": ..., \"slice\": ...}",
		     SPAN_HOSTS_MAX);
		return;
	}
	s->hosts = calloc(json_array_size(v), sizeof(*s->hosts));
	if (!s->hosts) {
		p->rep.oom = -ENOMEM;
		return;
	}
	s->n_hosts = json_array_size(v);
	json_array_foreach(v, i, o) {
		parse_host(p, i, o, &s->hosts[i]);
		for (size_t j = 0; j < i; j++)
			if (s->hosts[i].address && s->hosts[j].address == s->hosts[i].address) {
				char k[48];

				snprintf(k, sizeof(k), "span.hosts[%zu].address", i);
				perr(p, k, "is already the address of span.hosts[%zu]", j);
			}
	}
}

static void parse_reflectors(struct span_parser *p, json_t *v)
{
	struct span_config *s = p->s;
	json_t *e;
	size_t i;

	if (!json_is_array(v)) {
		perr(p, "span.evpn.route_reflectors", "must be an array of addresses of span.hosts");
		return;
	}
	json_array_foreach(v, i, e) {
		char k[64];
		uint32_t a;
		bool found = false;

		snprintf(k, sizeof(k), "span.evpn.route_reflectors[%zu]", i);
		if (get_address(p, k, e, &a) < 0)
			continue;
		for (size_t j = 0; j < s->n_hosts; j++)
			if (s->hosts[j].address == a) {
				found = true;
				if (s->hosts[j].reflector)
					perr(p, k, "is listed twice");
				s->hosts[j].reflector = true;
			}
		if (!found)
			perr(p, k, "%s is not the address of one of span.hosts",
			     shown(p, json_string_value(e)));
	}
}

static void parse_evpn(struct span_parser *p, json_t *v)
{
	static const char *const keys[] = { "asn", "route_reflectors" };
	json_t *x;
	long long asn;

	if (!json_is_object(v)) {
		perr(p, "span.evpn", "must be an object like {\"asn\": 65000}");
		return;
	}
	(void)keys_known(p, "span.evpn", v, keys, ELEMENTSOF(keys));
	x = json_object_get(v, "asn");
	if (!x) {
		perr(p, "span.evpn.asn", "is required: the BGP AS number all hosts share");
	} else {
		asn = get_int(p, "span.evpn.asn", x, 1, 4294967294LL);
		if (asn > 0)
			p->s->asn = (uint32_t)asn;
	}
	if ((x = json_object_get(v, "route_reflectors")))
		parse_reflectors(p, x);
}

static void parse_control(struct span_parser *p, json_t *v)
{
	const char *s = json_is_string(v) ? json_string_value(v) : "";

	if (streq(s, "static"))
		p->s->control = SPAN_STATIC;
	else if (streq(s, "evpn"))
		p->s->control = SPAN_EVPN;
	else
		perr(p, "span.control", "must be \"static\" or \"evpn\"");
}

/* The members other than hosts and evpn, which need the hosts first. */
static void parse_scalars(struct span_parser *p, json_t *v)
{
	struct span_config *s = p->s;
	long long n;
	json_t *x;

	x = json_object_get(v, "vni");
	if (!x)
		perr(p, "span.vni",
		     "is required: the VXLAN network identifier, the same on every host");
	else if ((n = get_int(p, "span.vni", x, 1, SPAN_VNI_MAX)) > 0)
		s->vni = (uint32_t)n;
	x = json_object_get(v, "control");
	if (!x)
		perr(p, "span.control", "is required: \"static\" or \"evpn\"");
	else
		parse_control(p, x);
	if ((x = json_object_get(v, "port")) && (n = get_int(p, "span.port", x, 1, 65535)) > 0)
		s->port = (uint16_t)n;
	if ((x = json_object_get(v, "underlay_mtu")) &&
	    (n = get_int(p, "span.underlay_mtu", x, CONFIG_MTU_MIN + SPAN_OVERHEAD, CONFIG_MTU_MAX)) > 0)
		s->underlay_mtu = (unsigned int)n;
}

int config_span_parse(const char *path, json_t *v, bool hide, struct span_config *ret,
		      struct config_errors *errors)
{
	static const char *const keys[] = { "vni",          "control", "port",
					    "underlay_mtu", "hosts",   "evpn" };
	struct span_parser p = { .rep = { .path = path, .errors = errors, .hide = hide }, .s = ret };
	json_t *x;

	*ret = (struct span_config){ .port = SPAN_PORT_DEFAULT,
				     .underlay_mtu = 1500,
				     .control = _SPAN_CONTROL_MAX };
	if (!json_is_object(v)) {
		perr(&p, "span",
		     "must be an object like {\"vni\": 100, \"control\": \"static\", "
		     "\"hosts\": [...]}");
		return config_report_result(&p.rep);
	}
	(void)keys_known(&p, "span", v, keys, ELEMENTSOF(keys));
	parse_scalars(&p, v);
	x = json_object_get(v, "hosts");
	if (!x)
		perr(&p, "span.hosts", "is required: every host of the span, this one included");
	else
		parse_hosts(&p, x);
	x = json_object_get(v, "evpn");
	if (ret->control == SPAN_EVPN && !x)
		perr(&p, "span.evpn", "is required with \"control\": \"evpn\"");
	else if (ret->control == SPAN_STATIC && x)
		perr(&p, "span.evpn", "applies only with \"control\": \"evpn\"");
	else if (x && ret->control == SPAN_EVPN)
		parse_evpn(&p, x);
	return config_report_result(&p.rep);
}

/*
 * Host @i's part of DHCP: the dynamic range inside its slice, and room
 * left there for its ports' addresses (address.c splits the slice as the
 * daemon will).
 */
static void check_slice_range(struct span_parser *p, const struct network_config *c,
			      const struct prefix4 *sub, size_t i)
{
	const struct prefix4 *x = &c->span.hosts[i].slice;
	unsigned int gateway = c->gateway - sub->addr;
	struct dhcp_range r;
	char k[48], a[24], b[16], e[16];

	snprintf(k, sizeof(k), "span.hosts[%zu].slice", i);
	prefix4_format(x, a, sizeof(a));
	address_dynamic_range(c, sub, x, gateway, &r);
	if (!r.first && c->has_dhcp_range)
		perr(p, "dhcp_range",
		     "%s-%s does not reach into %s (%s): that host could give no address to a "
		     "guest without its port's MAC; each host's dynamic range is the part of "
		     "dhcp_range inside its slice (without dhcp_range, each slice is split in two)",
		     addr4_format(c->dhcp_range_start, b, sizeof(b)),
		     addr4_format(c->dhcp_range_end, e, sizeof(e)), k, a);
	else if (!r.first)
		perr(p, k,
		     "%s is too small for a dynamic range next to its ports' addresses: give it "
		     "at least 8 addresses (a /29)",
		     a);
	else if (!address_ports_have_room(c, sub, x, gateway, &r))
		perr(p, c->has_dhcp_range ? "dhcp_range" : k,
		     "leaves no address of %s (%s) for its host's ports: its dynamic range "
		     "must leave some of the slice free (without dhcp_range, each slice is "
		     "split in two)",
		     a, k);
}

/* Slices: inside the subnet, apart from each other, one per host with DHCP. */
static void check_slices(struct span_parser *p, const struct network_config *c)
{
	const struct span_config *s = &c->span;
	struct prefix4 sub;
	char k[48], a[24], b[24];

	network_config_subnet(c, &sub.addr, &sub.len);
	for (size_t i = 0; i < s->n_hosts; i++) {
		const struct prefix4 *x = &s->hosts[i].slice;

		snprintf(k, sizeof(k), "span.hosts[%zu].slice", i);
		if (x->len == 0) {
			if (c->dhcp)
				perr(p, k,
				     "is required with \"dhcp\": true: each host hands out "
				     "addresses from its own slice only");
			continue;
		}
		if (x->len < sub.len || (x->addr & prefix4_mask(sub.len)) != sub.addr) {
			perr(p, k, "%s is not inside the subnet %s",
			     prefix4_format(x, a, sizeof(a)), prefix4_format(&sub, b, sizeof(b)));
			continue;
		}
		for (size_t j = 0; j < i; j++)
			if (s->hosts[j].slice.len && prefix4_overlaps(x, &s->hosts[j].slice))
				perr(p, k, "overlaps the slice of span.hosts[%zu]", j);
		if (c->dhcp)
			check_slice_range(p, c, &sub, i);
	}
}

int config_span_check(const char *path, const struct network_config *c, const char *mtu_key,
		      bool hosts_ok, struct config_errors *errors)
{
	struct span_parser p = { .rep = { .path = path, .errors = errors } };

	if (!c->has_subnet)
		perr(&p, "span", "needs a fixed 'subnet' and 'mask': every host serves the same one");
	else if (hosts_ok)
		check_slices(&p, c);
	if (!c->has_ipv6_prefix)
		perr(&p, "span", "needs a fixed 'ipv6_prefix': every host advertises the same one");
	if (c->mtu + SPAN_OVERHEAD > c->span.underlay_mtu)
		perr(&p, mtu_key,
		     "mtu %u leaves no room for VXLAN's %d bytes under the span's "
		     "underlay_mtu %u: set \"mtu\" to at most %u",
		     c->mtu, SPAN_OVERHEAD, c->span.underlay_mtu,
		     c->span.underlay_mtu - SPAN_OVERHEAD);
	if (c->mode == MODE_SHARED && !c->nat44)
		perr(&p, "nat44",
		     "must stay on with 'span': a routed subnet on several hosts needs a route "
		     "per guest to the right host");
	if (c->mode == MODE_SHARED && !c->nat66)
		perr(&p, "nat66",
		     "must stay on with 'span': a routed prefix on several hosts needs a route "
		     "per guest to the right host");
	if (c->n_forwards)
		perr(&p, "port_forwards",
		     "not with 'span': its guest may be on another host, which this host "
		     "does not reach through the overlay; forward per acquire instead");
	return config_report_result(&p.rep);
}
