/* span.c - a network that spans hosts: this host's place in it, its overlay, its state
 *
 * Theory of operation. Every host of a span has the same network file.
 * On each of them the network is a bridge, as any other, plus one VXLAN
 * device that carries the segment to the other hosts (vxlan.c). The
 * bridge has the same gateway addresses and MAC everywhere: a guest's
 * gateway, DHCP, DNS and NAT are its own host's, and the firewall's
 * bridge table (nft.c) keeps all of that from crossing. Who fills the
 * VXLAN device's forwarding table differs:
 *
 *   static  the device learns remote MACs from what arrives, and sends
 *           broadcast, unknown unicast and multicast to every other host
 *           of the file (head-end replication);
 *   evpn    FRR's zebra installs remote MACs and the flood list from
 *           BGP EVPN routes, and answers ARP for remote guests locally;
 *           the broker keeps its part of bgpd's configuration (frr.c).
 *
 * Which entry of the file is this host is decided when the network is
 * created: the one whose address this namespace holds, or the daemon's
 * --span-address.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frr-plan.h"
#include "frr.h"
#include "log.h"
#include "netlink.h"
#include "nft.h"
#include "span.h"
#include "util.h"
#include "vxlan.h"

void span_gateway_mac(uint32_t vni, uint8_t ret[6])
{
	ret[0] = 0x02;
	ret[1] = 0x76; /* 'v' */
	ret[2] = 0x6d; /* 'm' */
	ret[3] = (uint8_t)(vni >> 16);
	ret[4] = (uint8_t)(vni >> 8);
	ret[5] = (uint8_t)vni;
}

/* The link of this namespace that holds @addr, or 0. */
static int holder(const struct netlink_addr4 *v, size_t n, uint32_t addr)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].addr == addr)
			return v[i].ifindex;
	return 0;
}

/* The entry of @c this host is, by the addresses it holds (or @address alone). */
static int find_self(const struct span_config *c, const struct netlink_addr4 *v, size_t n,
		     uint32_t address, struct span_place *ret)
{
	size_t found = 0;

	for (size_t i = 0; i < c->n_hosts; i++) {
		int ifindex = holder(v, n, c->hosts[i].address);

		if (!ifindex || (address && c->hosts[i].address != address))
			continue;
		if (found++ == 0) {
			ret->self = i;
			ret->underlay_ifindex = ifindex;
		}
	}
	if (found == 0)
		return SPAN_E_NOT_LISTED;
	return found > 1 ? SPAN_E_AMBIGUOUS : 0;
}

int span_place(struct netlink *nl, const struct span_config *c, uint32_t address, unsigned int mtu,
	       struct span_place *ret)
{
	_cleanup_free_ struct netlink_addr4 *v = NULL;
	size_t n = 0;
	int r;

	*ret = (struct span_place){};
	r = netlink_ipv4_addrs(nl, &v, &n);
	if (r < 0)
		return r;
	r = find_self(c, v, n, address, ret);
	if (r)
		return r;
	r = netlink_link_mtu(nl, ret->underlay_ifindex, &ret->underlay_mtu);
	if (r < 0)
		return r;
	/* The file promised underlay_mtu; the link is what counts. */
	return mtu + SPAN_OVERHEAD > ret->underlay_mtu ? SPAN_E_UNDERLAY_MTU : 0;
}

bool span_place_reflects(const struct span_config *c, const struct span_place *p)
{
	return c->control == SPAN_EVPN && p->self < c->n_hosts && c->hosts[p->self].reflector;
}

int span_new(const struct span_config *c, const struct span_place *p, struct span **ret)
{
	_cleanup_(span_freep) struct span *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->config = c;
	s->place = *p;
	snprintf(s->vxlan, sizeof(s->vxlan), VXLAN_NAME_PREFIX "%u", c->vni);
	s->peers = calloc(c->n_hosts, sizeof(*s->peers));
	if (!s->peers)
		return -ENOMEM;
	for (size_t i = 0; i < c->n_hosts; i++)
		if (i != p->self)
			s->peers[s->n_peers++] = c->hosts[i].address;
	*ret = TAKE_PTR(s);
	return 0;
}

struct span *span_free(struct span *s)
{
	if (!s)
		return NULL;
	free(s->peers);
	span_names_clear(&s->names);
	free(s);
	return NULL;
}

uint32_t span_local(const struct span *s)
{
	return s->config->hosts[s->place.self].address;
}

static bool reserved(const struct network_config *c, uint32_t addr)
{
	for (size_t i = 0; i < c->n_reservations; i++)
		if (c->reservations[i].address == addr)
			return true;
	return false;
}

void span_slice_only(const struct span *s, const struct network_config *c, uint32_t subnet,
		     struct host_map *m)
{
	const struct prefix4 *slice = &s->config->hosts[s->place.self].slice;
	uint32_t mask = prefix4_mask(slice->len);
	unsigned int size = m->size ? m->size : 256;

	if (!slice->len)
		return;
	for (unsigned int h = 0; h < size; h++)
		if (((subnet + h) & mask) != slice->addr && !reserved(c, subnet + h))
			(void)host_map_take_exact(m, h);
	if (s->names.self)
		(void)host_map_take_exact(m, s->names.self - subnet);
}

/* Static: every other host gets broadcast, unknown unicast and multicast. */
static int add_flood_list(struct span *s, struct netlink *nl)
{
	int r;

	if (s->config->control != SPAN_STATIC)
		return 0;
	for (size_t i = 0; i < s->n_peers; i++) {
		r = vxlan_flood_add(nl, s->vxlan_ifindex, s->peers[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

int span_start(struct span *s, struct netlink *nl, int bridge, const char *alias, unsigned int mtu)
{
	const struct vxlan_spec spec = {
		.name = s->vxlan,
		.alias = alias,
		.vni = s->config->vni,
		.local = span_local(s),
		.underlay_ifindex = s->place.underlay_ifindex,
		.port = s->config->port,
		.mtu = mtu,
		/*
		 * Static: learning, or every unicast frame to another host
		 * would go to all of them (the flood list is the only entry);
		 * a bystander host got 2 packets per ping of two others.
		 */
		.learning = s->config->control == SPAN_STATIC,
	};
	int r;

	r = vxlan_create(nl, &spec, &s->vxlan_ifindex);
	if (r < 0)
		return r;
	r = add_flood_list(s, nl);
	if (r >= 0)
		r = vxlan_attach(nl, s->vxlan_ifindex, bridge, s->config->control == SPAN_EVPN);
	if (r < 0)
		span_remove(s, nl);
	return r;
}

int span_adopt(struct span *s, struct netlink *nl, int ifindex)
{
	s->vxlan_ifindex = ifindex;
	return add_flood_list(s, nl);
}

void span_remove(struct span *s, struct netlink *nl)
{
	int r;

	span_names_down(&s->names, nl);
	if (s->vxlan_ifindex <= 0)
		return;
	r = netlink_link_del(nl, s->vxlan_ifindex);
	if (r < 0 && r != -ENODEV)
		log_warning_errno(r, "Failed to remove VXLAN device %s, ignoring: %m", s->vxlan);
	s->vxlan_ifindex = 0;
}

void span_nft(const struct span *s, const uint8_t gateway_mac[6], const uint8_t link_local[16],
	      struct nft_span *ret)
{
	*ret = (struct nft_span){
		.vxlan = s->vxlan,
		.port = s->config->port,
		.peers = s->peers,
		.n_peers = s->n_peers,
		/* Only while it is there: a link of that name may be someone else's. */
		.names_link = s->names.ifindex > 0 ? s->names.link : NULL,
		.names_address = s->names.self,
		.names_peers = s->names.peers,
		.n_names_peers = s->names.n_peers,
	};
	memcpy(ret->gateway_mac, gateway_mac, 6);
	memcpy(ret->link_local, link_local, 16);
}

/* ---- EVPN: whom this host peers with */

static bool is_reflector(const struct span_config *c, uint32_t addr)
{
	for (size_t i = 0; i < c->n_hosts; i++)
		if (c->hosts[i].address == addr)
			return c->hosts[i].reflector;
	return false;
}

static bool any_reflector(const struct span_config *c)
{
	for (size_t i = 0; i < c->n_hosts; i++)
		if (c->hosts[i].reflector)
			return true;
	return false;
}

/*
 * A full mesh without route reflectors. With them, a reflector peers
 * with every other host (the others are its clients, reflectors are not)
 * and every other host with the reflectors only.
 */
static bool peers_with(const struct span *s, uint32_t addr, bool *ret_client)
{
	const struct span_config *c = s->config;
	bool self_rr = c->hosts[s->place.self].reflector;

	*ret_client = self_rr && !is_reflector(c, addr);
	return !any_reflector(c) || self_rr || is_reflector(c, addr);
}

static int want_peer(struct frr_want *w, uint32_t addr, bool client)
{
	struct frr_peer *v;

	for (size_t i = 0; i < w->n_peers; i++)
		if (w->peers[i].address == addr) {
			/* Spans that disagree: a reflector's client in one of them is one. */
			w->peers[i].client = w->peers[i].client || client;
			return 0;
		}
	v = realloc(w->peers, (w->n_peers + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	w->peers = v;
	w->peers[w->n_peers++] = (struct frr_peer){ .address = addr, .client = client };
	return 0;
}

int span_want(const struct span *s, struct frr_want *w)
{
	uint32_t *v;
	bool client;
	int r;

	if (s->config->control != SPAN_EVPN)
		return 0;
	if (w->n_vnis && (w->asn != s->config->asn || w->local != span_local(s)))
		return -EINVAL; /* one BGP instance, one underlay address */
	w->asn = s->config->asn;
	w->local = span_local(s);
	for (size_t i = 0; i < s->n_peers; i++)
		if (peers_with(s, s->peers[i], &client) && (r = want_peer(w, s->peers[i], client)) < 0)
			return r;
	v = realloc(w->vnis, (w->n_vnis + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	w->vnis = v;
	w->vnis[w->n_vnis++] = s->config->vni;
	return 0;
}

/* ---- status */

static json_t *peer_json(const struct span *s, const struct frr *frr, uint32_t addr)
{
	char a[16];
	bool client;
	json_t *o = json_pack("{s:s}", "address", addr4_format(addr, a, sizeof(a))), *session;

	if (!o)
		return NULL;
	if (s->config->control == SPAN_STATIC) {
		json_object_set_new(o, "state", json_string("configured"));
		return o;
	}
	session = peers_with(s, addr, &client) ? frr_session_json(frr, addr) : NULL;
	if (session)
		json_object_update(o, session);
	else
		json_object_set_new(o, "state",
				    json_string(peers_with(s, addr, &client) ? "unknown"
									     : "via-reflector"));
	json_decref(session);
	json_object_set_new(o, "vtep", json_boolean(frr_vtep_known(frr, s->config->vni, addr)));
	return o;
}

json_t *span_status_json(const struct span *s, const struct frr *frr, pid_t names_pid)
{
	const struct span_host *self = &s->config->hosts[s->place.self];
	char a[16], slice[24];
	json_t *o, *peers = json_array();

	for (size_t i = 0; peers && i < s->n_peers; i++)
		json_array_append_new(peers, peer_json(s, frr, s->peers[i]));
	o = json_pack("{s:i, s:s, s:s, s:s, s:i, s:o}", "vni", (int)s->config->vni, "control",
		      span_control_to_string(s->config->control), "vxlan", s->vxlan, "local",
		      addr4_format(self->address, a, sizeof(a)), "port", (int)s->config->port,
		      "peers", peers);
	if (o && self->slice.len)
		json_object_set_new(o, "slice",
				    json_string(prefix4_format(&self->slice, slice, sizeof(slice))));
	if (o && s->names.self)
		json_object_set_new(o, "names_address",
				    json_string(addr4_format(s->names.self, a, sizeof(a))));
	if (o && names_pid >= 0)
		json_object_set_new(o, "names_pid", json_integer(names_pid));
	if (o && s->config->control == SPAN_EVPN)
		json_object_set_new(o, "frr", frr_health_json(frr));
	return o;
}
