/* network-json.c - what a network says of itself in JSON: replies, status, its snapshot */
#include <arpa/inet.h>
#include <time.h>

#include "dhcp.h"
#include "guest.h"
#include "lease.h"
#include "names.h"
#include "network-json.h"
#include "network-object.h"
#include "span.h"
#include "state.h"
#include "util.h"

json_t *network_to_json(const struct network *n)
{
	char gw[16], mask[16], ula[INET6_ADDRSTRLEN];
	json_t *o;

	inet_ntop(AF_INET6, n->ula, ula, sizeof(ula));
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:i}", "name", n->config.name, "mode",
		      network_mode_to_string(n->config.mode), "bridge", n->bridge, "subnet",
		      addr4_format(network_gateway(n), gw, sizeof(gw)), "mask",
		      addr4_format(prefix4_mask(n->subnet.len), mask, sizeof(mask)), "ipv6_prefix",
		      ula, "prefix_len", (int)network_prefix6_len(n), "mtu", (int)n->config.mtu);
	if (o && n->config.description)
		json_object_set_new(o, "description", json_string(n->config.description));
	if (o && n->domain[0])
		json_object_set_new(o, "domain", json_string(n->domain));
	return o;
}

/* The FQDNs given to @l's guests (its label's among them). */
static json_t *names_json(const struct network *n, const struct lease *l)
{
	json_t *a = json_array();
	char fqdn[DNS_LABEL_MAX + 1 + DNS_DOMAIN_MAX + 1];

	for (const struct name_record *r = names_of_port(&n->names, l); a && r;
	     r = names_next_of_port(r)) {
		snprintf(fqdn, sizeof(fqdn), "%s.%s", r->name, n->domain);
		json_array_append_new(a, json_string(fqdn));
	}
	return a;
}

static void add_guests_json(const struct network *n, const struct lease *l, json_t *o)
{
	json_t *guests, *names;
	const struct guest *g;

	guests = json_array();
	LIST_FOREACH(g, &l->guests, port_link)
		json_array_append_new(guests, guest_to_json(g));
	if (json_array_size(guests))
		json_object_set_new(o, "guests", guests);
	else
		json_decref(guests);
	names = names_json(n, l);
	if (json_array_size(names))
		json_object_set_new(o, "names", names);
	else
		json_decref(names);
}

json_t *network_lease_json(const struct network *n, const struct lease *l, uid_t uid)
{
	bool full = uid == 0 || uid == l->uid;
	json_t *o = lease_status_json(l, n->subnet.addr, full);

	/* What is behind another user's port is as much theirs as its MAC. */
	if (o && full && l->port.kind != PORT_NONE)
		add_guests_json(n, l, o);
	return o;
}

json_t *network_status_json(const struct network *n, uid_t uid)
{
	json_t *o = network_to_json(n), *leases;
	const struct lease *l;
	uint64_t when, now;

	if (!o)
		return NULL;
	leases = json_array();
	TAILQ_FOREACH(l, &n->leases, network_link)
		json_array_append_new(leases, network_lease_json(n, l, uid));
	json_object_set_new(o, "leases", leases);
	json_object_set_new(o, "state", json_string(n->n_leases ? "active" : "idle"));
	if (n->idle_timer && sd_event_source_get_time(n->idle_timer, &when) >= 0 &&
	    sd_event_now(n->env->event, CLOCK_MONOTONIC, &now) >= 0)
		json_object_set_new(o, "idle_remaining",
				    json_integer(when > now ? (json_int_t)((when - now + 999999) / 1000000)
							    : 0));
	if (n->dhcp)
		json_object_set_new(o, "dnsmasq_pid", json_integer(dhcp_server_pid(n->dhcp)));
	if (n->span)
		json_object_set_new(o, "span",
				    span_status_json(n->span, n->env->frr,
						     n->names_dns ? dhcp_server_pid(n->names_dns) : -1));
	return o;
}

/* What adoption needs of a span: which device, for which VNI, from which address. */
static json_t *record_span_json(const struct network *n)
{
	char a[16];

	return json_pack("{s:i, s:s, s:i, s:s}", "vni", (int)n->span->config->vni, "vxlan",
			 n->span->vxlan, "vxlan_ifindex", n->span->vxlan_ifindex, "local",
			 addr4_format(span_local(n->span), a, sizeof(a)));
}

json_t *network_record_json(const struct network *n)
{
	char sub[32], ula[INET6_ADDRSTRLEN], mac[18];
	const struct lease *l;
	json_t *leases = json_array(), *doc;

	if (!leases)
		return NULL;
	TAILQ_FOREACH(l, &n->leases, network_link)
		/* A lease missing from the snapshot would be lost: all or nothing.
		 * One being removed is on record no more (forget_lease()). */
		if (!l->removing &&
		    json_array_append_new(leases, lease_record_json(l, n->subnet.addr)) < 0) {
			json_decref(leases);
			return NULL;
		}
	inet_ntop(AF_INET6, n->ula, ula, sizeof(ula));
	/* The range and the domain are what runs, whatever the file says since
	 * (adopt.c); a daemon of before them ignores them. */
	doc = json_pack("{s:i, s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:i, s:b, s:i, s:[i,i], s:s, "
			"s:o}",
			"version", STATE_VERSION, "name", n->config.name, "mode",
			network_mode_to_string(n->config.mode), "bridge", n->bridge, "bridge_ifindex",
			n->bridge_ifindex, "bridge_mac", mac_format(n->bridge_mac, mac), "subnet",
			prefix4_format(&n->subnet, sub, sizeof(sub)), "ula", ula, "mtu",
			(int)n->config.mtu, "dhcp", n->config.dhcp, "dnsmasq_pid",
			n->dhcp ? (int)dhcp_server_pid(n->dhcp) : 0, "dhcp_range", (int)n->range.first,
			(int)n->range.last, "domain", n->domain, "leases", leases);
	/* A span missing from the record would make its device an orphan: all or nothing. */
	if (doc && n->span && json_object_set_new(doc, "span", record_span_json(n)) < 0) {
		json_decref(doc);
		return NULL;
	}
	return doc;
}
