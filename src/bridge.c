/* bridge.c - the kernel side of a network's bridge: the link, its three addresses, its sysctls */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "bridge.h"
#include "netlink.h"
#include "pool.h"
#include "sysctl.h"

void bridge_link_local(const uint8_t mac[6], uint8_t ret[16])
{
	static const uint8_t fe80[16] = { 0xfe, 0x80 };

	addr6_eui64(fe80, mac, ret);
}

/*
 * The bridge's three addresses: the gateway, its IPv6 twin, and the
 * link-local address router advertisements are sent from. Left to
 * itself (addr_gen_mode is none here), the kernel would make the last
 * only when the first port brings the carrier, and touch it again when
 * its duplicate address detection ends: address events at three
 * different moments. Each event wakes every listener in the namespace
 * (no longer our dnsmasqs: dnsmasq-preload.c); sent in one request, the
 * three usually arrive close enough to be read in one wake-up (see
 * netlink_addrs_add() for why not always).
 */
static int add_addresses(struct netlink *nl, int ifindex, const struct bridge_spec *s)
{
	uint32_t g = s->gateway;
	struct netlink_addr a[3] = {
		{ .family = AF_INET, .prefixlen = s->prefix_len },
		{ .family = AF_INET6, .prefixlen = s->prefix6_len },
		{ .family = AF_INET6, .prefixlen = 64 },
	};

	a[0].addr[0] = (uint8_t)(g >> 24);
	a[0].addr[1] = (uint8_t)(g >> 16);
	a[0].addr[2] = (uint8_t)(g >> 8);
	a[0].addr[3] = (uint8_t)g;
	memcpy(a[1].addr, s->gateway6, 16);
	bridge_link_local(s->mac, a[2].addr);
	return netlink_addrs_add(nl, ifindex, a, 3);
}

int bridge_create(struct netlink *nl, const struct bridge_spec *s, int *ret_ifindex)
{
	int ifindex, r;

	r = netlink_bridge_add(nl, s->name, s->mtu, s->mac, s->alias, &ifindex);
	if (r < 0)
		return r;
	/* The bridge sends the network's router advertisements; it must not
	 * configure itself from them. Its link-local address comes from
	 * add_addresses(): netlink_bridge_add() turned the kernel's own off. */
	(void)sysctl_write_ipv6_link(s->name, "accept_ra", "0");
	/* Without it the kernel drops a packet from 127.0.0.1 routed out of
	 * here as a martian; nft.c masquerades it to the gateway's address.
	 * Best effort: only forwards from localhost need it. */
	if (s->route_localnet)
		(void)sysctl_write_ipv4_link(s->name, "route_localnet", "1");
	r = add_addresses(nl, ifindex, s);
	if (r < 0) {
		(void)netlink_link_del(nl, ifindex);
		return r;
	}
	*ret_ifindex = ifindex;
	return 0;
}
