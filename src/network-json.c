/* network-json.c - what a network says of itself in JSON: replies, status, its snapshot */
#include <arpa/inet.h>
#include <time.h>

#include "dhcp.h"
#include "lease.h"
#include "network.h"
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
		json_array_append_new(leases, lease_status_json(l, n->subnet.addr,
								uid == 0 || uid == l->uid));
	json_object_set_new(o, "leases", leases);
	json_object_set_new(o, "state", json_string(n->n_leases ? "active" : "idle"));
	if (n->idle_timer && sd_event_source_get_time(n->idle_timer, &when) >= 0 &&
	    sd_event_now(n->env->event, CLOCK_MONOTONIC, &now) >= 0)
		json_object_set_new(o, "idle_remaining",
				    json_integer(when > now ? (json_int_t)((when - now + 999999) / 1000000)
							    : 0));
	if (n->dhcp)
		json_object_set_new(o, "dnsmasq_pid", json_integer(dhcp_server_pid(n->dhcp)));
	return o;
}

json_t *network_record_json(const struct network *n)
{
	char sub[32], ula[INET6_ADDRSTRLEN], mac[18];
	const struct lease *l;
	json_t *leases = json_array();

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
	return json_pack("{s:i, s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:i, s:b, s:i, s:o}", "version",
			 STATE_VERSION, "name", n->config.name, "mode",
			 network_mode_to_string(n->config.mode), "bridge", n->bridge, "bridge_ifindex",
			 n->bridge_ifindex, "bridge_mac", mac_format(n->bridge_mac, mac), "subnet",
			 prefix4_format(&n->subnet, sub, sizeof(sub)), "ula", ula, "mtu",
			 (int)n->config.mtu, "dhcp", n->config.dhcp, "dnsmasq_pid",
			 n->dhcp ? (int)dhcp_server_pid(n->dhcp) : 0, "leases", leases);
}
