/* span-names.c - names across hosts: where each host of a span answers the others for its guests
 *
 * Theory of operation. Each host's dnsmasq knows the names of its own
 * guests only (dhcp.c). A guest asking its host for the name of another
 * host's guest must get it from that host, without a loop: a dnsmasq
 * that forwarded unknown names of the domain to the others would get
 * back from them what they do not know either, for ever (80,000 queries
 * per dnsmasq in 5 s for one unknown name, measured). So each host runs
 * a second dnsmasq per spanning network that knows the same names and
 * forwards nothing (dhcp_names_server_new()): asked for a name it lacks
 * it answers REFUSED, and the asking dnsmasq tries the next host. One
 * question per host, never more.
 *
 * It listens at the host's names address, one address of the host's own
 * slice (address_names_host()), on a link of its own: a veth whose peer
 * is a port of the bridge, with a MAC of its own. Not on the bridge: the
 * bridge has the distributed gateway's address and MAC, the same on
 * every host, which another host could not tell from its own. The link
 * has a host route to every other host's names address (so the guests'
 * dnsmasq asks from this host's), answers ARP for its own address only
 * (arp_ignore: else it would answer the guests' ARP for the gateway),
 * and has no IPv6. It is no way into the host: its forwarding is off
 * (which anyone's write of ip_forward turns on again: the guard is the
 * table), and table inet vmnet_broker (nft.c) counts it as one of the
 * network's bridges, so nothing is forwarded from or to it, and takes
 * from it only the other hosts' questions and the answers to this one's.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "log.h"
#include "netlink.h"
#include "span-names.h"
#include "sysctl.h"
#include "util.h"

static uint32_t names_of(const struct network_config *c, const struct prefix4 *subnet,
			 unsigned int gateway, size_t i)
{
	unsigned int h = address_names_host(c, subnet, &c->span.hosts[i].slice, gateway);

	return h ? subnet->addr + h : 0;
}

int span_names_init(struct span_names *s, const struct network_config *c, const struct prefix4 *subnet,
		    unsigned int gateway, size_t self, const char *alias, bool serve)
{
	*s = (struct span_names){};
	snprintf(s->alias, sizeof(s->alias), "%s", alias);
	snprintf(s->link, sizeof(s->link), SPAN_NAMES_PREFIX "%u", c->span.vni);
	snprintf(s->port, sizeof(s->port), SPAN_NAMES_PREFIX "%up", c->span.vni);
	/* Locally administered, unicast, and the host's and the VNI's own. */
	s->mac[0] = 0x06;
	s->mac[1] = 0x76;
	s->mac[2] = (uint8_t)self;
	s->mac[3] = (uint8_t)(c->span.vni >> 16);
	s->mac[4] = (uint8_t)(c->span.vni >> 8);
	s->mac[5] = (uint8_t)c->span.vni;
	if (!serve)
		return 0;
	s->self = names_of(c, subnet, gateway, self);
	if (!s->self)
		return 0;
	s->peers = calloc(c->span.n_hosts, sizeof(*s->peers));
	if (!s->peers)
		return -ENOMEM;
	for (size_t i = 0; i < c->span.n_hosts; i++) {
		uint32_t a = i == self ? 0 : names_of(c, subnet, gateway, i);

		if (a)
			s->peers[s->n_peers++] = a;
	}
	return 0;
}

void span_names_clear(struct span_names *s)
{
	free(s->peers);
	s->peers = NULL;
	s->n_peers = 0;
}

/*
 * An earlier daemon's link of that name goes: made again, it is as this
 * daemon wants it. Its alias says so, or, without one, being a veth of
 * this host's MAC for the names link: one cut short between its creation
 * and its naming (the kernel takes no alias at creation). Anything else
 * of that name is not the broker's to remove (-EEXIST).
 */
static int remove_old(struct span_names *s, struct netlink *nl)
{
	struct link_info li = {};
	int r = netlink_link_info(nl, s->link, &li);

	if (r == -ENODEV)
		return 0;
	if (r < 0)
		return r;
	if (li.alias[0] ? !streq(li.alias, s->alias)
			: !streq(li.kind, "veth") || memcmp(li.mac, s->mac, 6) != 0)
		return -EEXIST;
	r = netlink_link_del(nl, li.ifindex);
	return r == -ENODEV ? 0 : r;
}

/* Both ends, before they are up: the broker's alias, and no IPv6 at all. */
static int mark(struct span_names *s, struct netlink *nl, int port)
{
	int r;

	r = netlink_link_mark(nl, s->ifindex, s->alias);
	if (r >= 0)
		r = netlink_link_mark(nl, port, s->alias);
	/* -ENOENT: a kernel without IPv6 (ipv6.disable=1), nothing to turn off. */
	if (r >= 0 && (r = sysctl_write_ipv6_link(s->link, "disable_ipv6", "1")) == -ENOENT)
		r = 0;
	if (r >= 0 && (r = sysctl_write_ipv6_link(s->port, "disable_ipv6", "1")) == -ENOENT)
		r = 0;
	return r;
}

/* Its ARP and forwarding as the top says, then up, with its address. */
static int set_up_link(struct span_names *s, struct netlink *nl)
{
	struct netlink_addr a = { .family = AF_INET, .prefixlen = 32 };
	uint32_t be = htonl(s->self);
	int r;

	r = sysctl_write_ipv4_link(s->link, "arp_ignore", "1");
	if (r >= 0)
		r = sysctl_write_ipv4_link(s->link, "forwarding", "0");
	if (r >= 0)
		r = netlink_link_up(nl, s->ifindex);
	if (r < 0)
		return r;
	memcpy(a.addr, &be, 4);
	return netlink_addrs_add(nl, s->ifindex, &a, 1);
}

/* The link is new: a route of the same address is someone else's, and would take the traffic. */
static int add_routes(struct span_names *s, struct netlink *nl)
{
	int r;

	for (size_t i = 0; i < s->n_peers; i++) {
		r = netlink_route4_add(nl, s->ifindex, s->peers[i], s->self);
		if (r < 0)
			return r;
	}
	return 0;
}

int span_names_up(struct span_names *s, struct netlink *nl, int bridge, unsigned int mtu)
{
	int port = 0, r;

	if (!s->self)
		return 0;
	r = remove_old(s, nl);
	if (r >= 0)
		r = netlink_veth_add(nl, s->port, s->link, -1, s->mac, mtu, &port);
	if (r < 0)
		return r;
	r = netlink_ifindex(nl, s->link);
	if (r > 0) {
		s->ifindex = r;
		r = mark(s, nl, port);
	} else if (r == 0)
		r = -ENODEV;
	if (r >= 0)
		r = netlink_port_attach(nl, port, bridge, s->alias, mtu);
	if (r >= 0)
		r = set_up_link(s, nl);
	if (r >= 0)
		r = add_routes(s, nl);
	if (r < 0) {
		(void)netlink_link_del(nl, port);
		s->ifindex = 0;
	}
	return r;
}

void span_names_down(struct span_names *s, struct netlink *nl)
{
	int r;

	/* Not made by this daemon (an adopted network's that never served
	 * names here): an earlier one's may be there all the same. */
	if (s->ifindex <= 0 && s->self) {
		r = remove_old(s, nl);
		if (r < 0 && r != -EEXIST)
			log_warning_errno(r, "Failed to remove names link %s, ignoring: %m", s->link);
		return;
	}
	if (s->ifindex <= 0)
		return;
	r = netlink_link_del(nl, s->ifindex);
	if (r < 0 && r != -ENODEV)
		log_warning_errno(r, "Failed to remove names link %s, ignoring: %m", s->link);
	s->ifindex = 0;
}
