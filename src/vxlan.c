/* vxlan.c - the kernel side of a span's overlay: the VXLAN device, its bridge port, its flood list
 *
 * One VXLAN device per spanning network, a port of its bridge. What the
 * kernel does with it is documented in docs/design.md, *Networks that
 * span hosts*; the quirks are next to the calls that meet them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_bridge.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/link/vxlan.h>
#include <string.h>

#include "netlink.h"
#include "nl-cleanup.h"
#include "util.h"
#include "vxlan.h"

static struct nl_addr *addr4(uint32_t a)
{
	uint32_t be = htonl(a);

	return nl_addr_build(AF_INET, &be, 4);
}

int vxlan_create(struct netlink *nl, const struct vxlan_spec *s, int *ret_ifindex)
{
	_cleanup_(link_putp) struct rtnl_link *link = rtnl_link_vxlan_alloc();
	_cleanup_(addr_putp) struct nl_addr *local = addr4(s->local);
	int ifindex, r;

	if (!link || !local)
		return -ENOMEM;
	rtnl_link_set_name(link, s->name);
	/*
	 * Set, not left to the kernel: without a lower device it would make
	 * 1500, and with one the lower MTU minus the IPv4 overhead. The
	 * network's MTU is what DHCP and router advertisements announce.
	 */
	rtnl_link_set_mtu(link, s->mtu);
	r = netlink_errno(rtnl_link_vxlan_set_id(link, s->vni));
	if (r >= 0)
		r = netlink_errno(rtnl_link_vxlan_set_local(link, local));
	/* The lower device: the path MTU and the source are the underlay's. */
	if (r >= 0)
		r = netlink_errno(rtnl_link_vxlan_set_link(link, (uint32_t)s->underlay_ifindex));
	if (r >= 0)
		r = netlink_errno(rtnl_link_vxlan_set_port(link, s->port));
	if (r >= 0)
		r = netlink_errno(rtnl_link_vxlan_set_learning(link, s->learning ? 1 : 0));
	if (r < 0)
		return r;
	r = netlink_link_add(nl, link, s->name, &ifindex);
	if (r < 0)
		return r;
	/*
	 * No IPv6 of its own, before it is ever up: the device's link-local
	 * address would send router solicitations, MLD reports and DAD
	 * probes straight into the tunnel to every other host, past the
	 * bridge and so past the filter that keeps the gateway local.
	 */
	r = netlink_link_mark(nl, ifindex, s->alias);
	if (r < 0) {
		(void)netlink_link_del(nl, ifindex);
		return r;
	}
	*ret_ifindex = ifindex;
	return 0;
}

/* One change of @ifindex: master @master (when > 0), and up (when @up). */
static int link_change(struct netlink *nl, int ifindex, int master, bool up)
{
	_cleanup_(link_putp) struct rtnl_link *orig = rtnl_link_alloc();
	_cleanup_(link_putp) struct rtnl_link *change = rtnl_link_alloc();

	if (!orig || !change)
		return -ENOMEM;
	rtnl_link_set_ifindex(orig, ifindex);
	if (master > 0)
		rtnl_link_set_master(change, master);
	if (up)
		rtnl_link_set_flags(change, IFF_UP);
	return netlink_errno(rtnl_link_change(netlink_socket(nl), orig, change, 0));
}

/*
 * The bridge port's flags, which libnl-route-3 does not know all of
 * (IFLA_BRPORT_NEIGH_SUPPRESS): RTM_SETLINK of family AF_BRIDGE with a
 * nested IFLA_PROTINFO. The bridge reads a protinfo without the nested
 * flag as an old binary STP state, so the flag must be there.
 */
static int set_evpn_port(struct netlink *nl, int ifindex)
{
	_cleanup_(msg_freep) struct nl_msg *msg = nlmsg_alloc_simple(RTM_SETLINK, 0);
	struct ifinfomsg ifi = { .ifi_family = AF_BRIDGE, .ifi_index = ifindex };
	struct nl_sock *sk = netlink_socket(nl);
	struct nlattr *info;
	int r;

	if (!msg || nlmsg_append(msg, &ifi, sizeof(ifi), NLMSG_ALIGNTO) < 0)
		return -ENOMEM;
	info = nla_nest_start(msg, IFLA_PROTINFO | NLA_F_NESTED);
	if (!info)
		return -ENOMEM;
	/* FRR's zebra installs the remote MACs: the bridge must not learn
	 * them from traffic, nor flood ARP and neighbour solicitations that
	 * it can answer from the neighbour entries zebra installs. */
	if (nla_put_u8(msg, IFLA_BRPORT_LEARNING, 0) < 0 ||
	    nla_put_u8(msg, IFLA_BRPORT_NEIGH_SUPPRESS, 1) < 0)
		return -ENOMEM;
	nla_nest_end(msg, info);
	r = nl_send_auto(sk, msg);
	if (r < 0)
		return netlink_errno(r);
	return netlink_errno(nl_wait_for_ack(sk));
}

int vxlan_attach(struct netlink *nl, int ifindex, int bridge, bool evpn)
{
	int r;

	r = link_change(nl, ifindex, bridge, false);
	if (r >= 0 && evpn)
		r = set_evpn_port(nl, ifindex);
	if (r >= 0)
		r = link_change(nl, ifindex, 0, true);
	return r;
}

/*
 * RTM_NEWNEIGH of family AF_BRIDGE, built by hand: libnl-route-3's
 * rtnl_neigh refuses an IPv4 NDA_DST on a bridge-family entry ("address
 * family mismatch"), which is exactly what a VXLAN destination is.
 */
int vxlan_flood_add(struct netlink *nl, int ifindex, uint32_t dst)
{
	static const uint8_t zero[6];
	_cleanup_(msg_freep) struct nl_msg *msg = NULL;
	struct ndmsg ndm = {
		.ndm_family = AF_BRIDGE,
		.ndm_ifindex = ifindex,
		.ndm_state = NUD_PERMANENT,
		/* The device's own table, not the bridge's. */
		.ndm_flags = NTF_SELF,
	};
	struct nl_sock *sk = netlink_socket(nl);
	uint32_t be = htonl(dst);
	int r;

	/* APPEND: the all-zero MAC holds a list of destinations, one per host. */
	msg = nlmsg_alloc_simple(RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_APPEND);
	if (!msg || nlmsg_append(msg, &ndm, sizeof(ndm), NLMSG_ALIGNTO) < 0 ||
	    nla_put(msg, NDA_LLADDR, sizeof(zero), zero) < 0 || nla_put(msg, NDA_DST, 4, &be) < 0)
		return -ENOMEM;
	r = nl_send_auto(sk, msg);
	if (r < 0)
		return netlink_errno(r);
	return netlink_errno(nl_wait_for_ack(sk));
}
