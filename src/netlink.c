/* netlink.c - kernel links and addresses over rtnetlink (libnl-route-3), and the link monitor
 *
 * Two sockets: one for requests, answered synchronously (the kernel does
 * these in microseconds), and one subscribed to RTNLGRP_LINK that sd-event
 * watches, so leases end when the kernel destroys their TAP or veth.
 * libnl reports NLE_* codes; everything leaving this file is -errno.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <net/if.h>
#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/rtnetlink.h>
#include <stddef.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/inet6.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/route.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "log.h"
#include "netlink.h"
#include "nl-cleanup.h"

/* <linux/if.h>'s, which <net/if.h> lacks and cannot be included with. */
#ifndef IFF_LOWER_UP
#define IFF_LOWER_UP 0x10000
#endif

struct netlink {
	struct nl_sock *cmd;
	struct nl_sock *mon;
	struct nl_cb *mon_cb;
	int own_netns; /* to come back after netlink_veth_peer_up() */
	int ioctl_fd;  /* for SIOCGIFINDEX: one socket, not one per lookup */
	sd_event_source *mon_source;
	netlink_link_gone_fn gone;
	netlink_carrier_off_fn carrier_off;
	netlink_resync_fn resync;
	void *userdata;
};

int netlink_errno(int nle)
{
	switch (nle < 0 ? -nle : nle) {
	case 0:
		return 0;
	case NLE_EXIST:
		return -EEXIST;
	case NLE_NODEV:
		return -ENODEV;
	case NLE_OBJ_NOTFOUND:
		return -ENOENT;
	case NLE_PERM:
		return -EPERM;
	case NLE_NOACCESS:
		return -EACCES;
	case NLE_NOMEM:
		return -ENOMEM;
	case NLE_BUSY:
		return -EBUSY;
	case NLE_INVAL:
		return -EINVAL;
	case NLE_RANGE:
		return -ERANGE;
	case NLE_OPNOTSUPP:
		return -EOPNOTSUPP;
	case NLE_AGAIN:
		return -EAGAIN;
	default:
		log_debug("libnl error: %s", nl_geterror(nle));
		return -EIO;
	}
}

static int mon_handle_msg(struct nl_msg *msg, void *arg)
{
	struct netlink *nl = arg;
	struct nlmsghdr *h = nlmsg_hdr(msg);
	const struct ifinfomsg *ifi;

	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct ifinfomsg)))
		return NL_OK;
	ifi = nlmsg_data(h);
	/* AF_BRIDGE messages are about a port's bridge membership, not the link. */
	if (ifi->ifi_family != AF_UNSPEC)
		return NL_OK;
	if (h->nlmsg_type == RTM_DELLINK)
		nl->gone(nl->userdata, ifi->ifi_index);
	else if (h->nlmsg_type == RTM_NEWLINK && (ifi->ifi_flags & IFF_UP) &&
		 !(ifi->ifi_flags & IFF_LOWER_UP))
		nl->carrier_off(nl->userdata, ifi->ifi_index);
	return NL_OK;
}

static int mon_on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct netlink *nl = userdata;
	int r;

	/* Drain: one datagram per call, until EAGAIN (0 or -NLE_AGAIN,
	 * depending on the libnl version). */
	do
		r = nl_recvmsgs_report(nl->mon, nl->mon_cb);
	while (r > 0);
	if (r < 0 && r != -NLE_AGAIN) {
		/* Typically ENOBUFS: the kernel dropped events because we were slow.
		 * We cannot know which links went away, so compare everything. */
		log_debug("Link monitor: %s", nl_geterror(r));
		nl->resync(nl->userdata);
	}
	return 0;
}

/*
 * The monitor needs RTM_DELLINK, and the RTM_NEWLINK of a link that is up
 * but lost its carrier: a TAP whose last holder closed it while it
 * persists (TUNSETPERSIST) says so that way and no other. RTNLGRP_LINK
 * carries every other RTM_NEWLINK of the namespace too: some 25 per
 * port's life, 1-2 KB each, for every port and bridge, ours or not. A
 * socket filter drops them in the kernel, before they are copied to us or
 * parsed by libnl: the flags are at a fixed offset, so no state is
 * needed. Classic BPF loads are big-endian and the message is in host
 * order: hence htons() and htonl().
 */
#define IFI_FLAGS_OFFSET (sizeof(struct nlmsghdr) + offsetof(struct ifinfomsg, ifi_flags))

static int mon_attach_filter(int fd)
{
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_H | BPF_ABS, offsetof(struct nlmsghdr, nlmsg_type)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, htons(RTM_DELLINK), 4, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, htons(RTM_NEWLINK), 0, 4),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, IFI_FLAGS_OFFSET),
		BPF_STMT(BPF_ALU | BPF_AND | BPF_K, htonl(IFF_UP | IFF_LOWER_UP)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, htonl(IFF_UP), 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 0xffffffff),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_fprog prog = { .len = sizeof(code) / sizeof(code[0]), .filter = code };

	return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0 ? -errno : 0;
}

static int mon_open(struct netlink *nl, sd_event *event)
{
	int rcvbuf = 4 << 20;
	int r;

	nl->mon = nl_socket_alloc();
	if (!nl->mon)
		return -ENOMEM;
	nl_socket_disable_seq_check(nl->mon);
	nl_socket_modify_cb(nl->mon, NL_CB_VALID, NL_CB_CUSTOM, mon_handle_msg, nl);
	nl->mon_cb = nl_socket_get_cb(nl->mon);
	r = nl_connect(nl->mon, NETLINK_ROUTE);
	if (r < 0)
		return netlink_errno(r);
	r = mon_attach_filter(nl_socket_get_fd(nl->mon));
	if (r < 0)
		/* Correct without it, only busier. */
		log_debug_errno(r, "Failed to filter the link monitor: %m");
	r = nl_socket_add_membership(nl->mon, RTNLGRP_LINK);
	if (r < 0)
		return netlink_errno(r);
	/* Room for a burst of thousands of link events before ENOBUFS.
	 * SO_RCVBUF would be capped at net.core.rmem_max; root may force. */
	if (setsockopt(nl_socket_get_fd(nl->mon), SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf,
		       sizeof(rcvbuf)) < 0)
		(void)nl_socket_set_buffer_size(nl->mon, rcvbuf, 0);
	r = nl_socket_set_nonblocking(nl->mon);
	if (r < 0)
		return netlink_errno(r);
	return sd_event_add_io(event, &nl->mon_source, nl_socket_get_fd(nl->mon), EPOLLIN,
			       mon_on_io, nl);
}

int netlink_new(sd_event *event, netlink_link_gone_fn gone, netlink_carrier_off_fn carrier_off,
		netlink_resync_fn resync, void *userdata, struct netlink **ret)
{
	struct netlink *nl;
	int r;

	nl = calloc(1, sizeof(*nl));
	if (!nl)
		return -ENOMEM;
	nl->gone = gone;
	nl->carrier_off = carrier_off;
	nl->resync = resync;
	nl->userdata = userdata;
	nl->ioctl_fd = -EBADF;
	nl->own_netns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (nl->own_netns < 0) {
		r = -errno;
		goto fail;
	}
	nl->ioctl_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (nl->ioctl_fd < 0) {
		r = -errno;
		goto fail;
	}

	nl->cmd = nl_socket_alloc();
	if (!nl->cmd) {
		r = -ENOMEM;
		goto fail;
	}
	r = netlink_errno(nl_connect(nl->cmd, NETLINK_ROUTE));
	if (r < 0)
		goto fail;
	r = mon_open(nl, event);
	if (r < 0)
		goto fail;
	*ret = nl;
	return 0;
fail:
	netlink_free(nl);
	return r;
}

struct nl_sock *netlink_socket(struct netlink *nl)
{
	return nl->cmd;
}

struct netlink *netlink_free(struct netlink *nl)
{
	if (!nl)
		return NULL;
	sd_event_source_disable_unref(nl->mon_source);
	if (nl->mon_cb)
		nl_cb_put(nl->mon_cb);
	if (nl->mon)
		nl_socket_free(nl->mon);
	if (nl->cmd)
		nl_socket_free(nl->cmd);
	safe_close(nl->own_netns);
	safe_close(nl->ioctl_fd);
	free(nl);
	return NULL;
}

static int set_mac(struct rtnl_link *link, const uint8_t mac[6])
{
	_cleanup_(addr_putp) struct nl_addr *a = nl_addr_build(AF_LLC, mac, 6);

	if (!a)
		return -ENOMEM;
	rtnl_link_set_addr(link, a);
	return 0;
}

/*
 * What the kernel ignores (IFLA_IFALIAS) or refuses (IFLA_AF_SPEC) when
 * it creates a link: the alias, and no link-local address of the
 * kernel's (a bridge gets its own from bridge.c; a vxlan device must have
 * none, see vxlan.c). Netlink rather than the addr_gen_mode
 * sysctl: the sysctl only try-locks RTNL and restarts the write until it
 * gets it, spinning on a CPU for as long as others hold it (66 ms seen
 * while creating the 200th network, under strace).
 */
int netlink_link_mark(struct netlink *nl, int ifindex, const char *alias)
{
	_cleanup_(link_putp) struct rtnl_link *orig = rtnl_link_alloc();
	_cleanup_(link_putp) struct rtnl_link *change = rtnl_link_alloc();
	int r;

	if (!orig || !change)
		return -ENOMEM;
	rtnl_link_set_ifindex(orig, ifindex);
	rtnl_link_set_ifalias(change, alias);
	r = netlink_errno(rtnl_link_inet6_set_addr_gen_mode(change, IN6_ADDR_GEN_MODE_NONE));
	if (r < 0)
		return r;
	return netlink_errno(rtnl_link_change(nl->cmd, orig, change, 0));
}

int netlink_link_add(struct netlink *nl, struct rtnl_link *link, const char *name, int *ret_ifindex)
{
	_cleanup_(link_putp) struct rtnl_link *got = NULL;
	int r;

	r = netlink_errno(rtnl_link_add(nl->cmd, link, NLM_F_CREATE | NLM_F_EXCL));
	if (r < 0)
		return r;
	r = netlink_errno(rtnl_link_get_kernel(nl->cmd, 0, name, &got));
	if (r < 0) {
		/* Without its index the caller cannot remove it: do it here,
		 * by the name @link carries. */
		(void)rtnl_link_delete(nl->cmd, link);
		return r;
	}
	*ret_ifindex = rtnl_link_get_ifindex(got);
	return 0;
}

int netlink_bridge_add(struct netlink *nl, const char *name, unsigned int mtu, const uint8_t mac[6],
		       const char *alias, int *ret_ifindex)
{
	_cleanup_(link_putp) struct rtnl_link *link = rtnl_link_alloc();
	int r;

	if (!link)
		return -ENOMEM;
	r = netlink_errno(rtnl_link_set_type(link, "bridge"));
	if (r < 0)
		return r;
	rtnl_link_set_name(link, name);
	rtnl_link_set_mtu(link, mtu);
	rtnl_link_set_flags(link, IFF_UP);
	r = set_mac(link, mac);
	if (r < 0)
		return r;
	r = netlink_link_add(nl, link, name, ret_ifindex);
	if (r < 0)
		return r;
	return netlink_link_mark(nl, *ret_ifindex, alias);
}

/*
 * Set @name up inside namespace @netns_fd, and sync it (see
 * netlink_link_sync()). A netlink socket stays in the namespace it was
 * created in, so enter it only for socket(): setns() moves just this
 * thread, the event loop's, and it returns to its own namespace at once.
 */
/*
 * RTM_GETLINK runs the device's pending link-watch work at once (Linux
 * 6.8 and later): until then a device whose carrier just came on keeps
 * its noop qdisc (a new veth drops what it sends) and a new bridge port
 * stays disabled (the bridge drops what arrives). The work is otherwise
 * a kernel worker's, which waits for RTNL, or up to a second for a TAP,
 * so a guest that asks for DHCP at once would lose its first DISCOVER.
 */
static int link_sync(struct nl_sock *sk, int ifindex)
{
	_cleanup_(link_putp) struct rtnl_link *link = NULL;

	return netlink_errno(rtnl_link_get_kernel(sk, ifindex, NULL, &link));
}

int netlink_link_sync(struct netlink *nl, int ifindex)
{
	return link_sync(nl->cmd, ifindex);
}

int netlink_veth_peer_up(struct netlink *nl, int netns_fd, const char *name)
{
	_cleanup_(link_putp) struct rtnl_link *orig = NULL;
	_cleanup_(link_putp) struct rtnl_link *change = rtnl_link_alloc();
	struct nl_sock *sk = nl_socket_alloc();
	int r;

	if (!sk || !change) {
		r = -ENOMEM;
		goto out;
	}
	if (setns(netns_fd, CLONE_NEWNET) < 0) {
		r = -errno;
		goto out;
	}
	r = netlink_errno(nl_connect(sk, NETLINK_ROUTE));
	if (setns(nl->own_netns, CLONE_NEWNET) < 0) {
		/* Stranded in the client's namespace: every later request would
		 * act there. Nothing sane is left to do. */
		log_error_errno(-errno, "Failed to return to the daemon's network namespace: %m");
		abort();
	}
	if (r < 0)
		goto out;
	r = netlink_errno(rtnl_link_get_kernel(sk, 0, name, &orig));
	if (r < 0)
		goto out;
	rtnl_link_set_flags(change, IFF_UP);
	r = netlink_errno(rtnl_link_change(sk, orig, change, 0));
	if (r >= 0)
		r = link_sync(sk, rtnl_link_get_ifindex(orig));
out:
	if (sk)
		nl_socket_free(sk);
	return r;
}

int netlink_veth_add(struct netlink *nl, const char *name, const char *peer_name, int netns_fd,
		     const uint8_t peer_mac[6], unsigned int mtu, int *ret_ifindex)
{
	_cleanup_(link_putp) struct rtnl_link *link = rtnl_link_veth_alloc();
	_cleanup_(link_putp) struct rtnl_link *peer = NULL;
	int r;

	if (!link)
		return -ENOMEM;
	peer = rtnl_link_veth_get_peer(link);
	rtnl_link_set_name(link, name);
	rtnl_link_set_mtu(link, mtu);
	rtnl_link_set_name(peer, peer_name);
	rtnl_link_set_mtu(peer, mtu);
	/* Not IFF_UP here: veth_open() of a peer made in another namespace
	 * fails with ENOTCONN while the pair is still being created. */
	if (netns_fd >= 0)
		rtnl_link_set_ns_fd(peer, netns_fd);
	r = set_mac(peer, peer_mac);
	if (r < 0)
		return r;
	return netlink_link_add(nl, link, name, ret_ifindex);
}

int netlink_port_attach(struct netlink *nl, int ifindex, int master, const char *alias, unsigned int mtu)
{
	_cleanup_(link_putp) struct rtnl_link *orig = rtnl_link_alloc();
	_cleanup_(link_putp) struct rtnl_link *change = rtnl_link_alloc();

	if (!orig || !change)
		return -ENOMEM;
	rtnl_link_set_ifindex(orig, ifindex);
	rtnl_link_set_master(change, master);
	rtnl_link_set_ifalias(change, alias);
	rtnl_link_set_mtu(change, mtu);
	rtnl_link_set_flags(change, IFF_UP);
	return netlink_errno(rtnl_link_change(nl->cmd, orig, change, 0));
}

int netlink_link_up(struct netlink *nl, int ifindex)
{
	_cleanup_(link_putp) struct rtnl_link *orig = rtnl_link_alloc();
	_cleanup_(link_putp) struct rtnl_link *change = rtnl_link_alloc();

	if (!orig || !change)
		return -ENOMEM;
	rtnl_link_set_ifindex(orig, ifindex);
	rtnl_link_set_flags(change, IFF_UP);
	return netlink_errno(rtnl_link_change(nl->cmd, orig, change, 0));
}

static void route_putp(struct rtnl_route **r)
{
	if (*r)
		rtnl_route_put(*r);
}

static void nexthop_freep(struct rtnl_nexthop **nh)
{
	if (*nh)
		rtnl_route_nh_free(*nh);
}

/* An IPv4 address of host byte order @a as a libnl address /@len. */
static struct nl_addr *addr4_build(uint32_t a, unsigned int len)
{
	uint32_t be = htonl(a);
	struct nl_addr *v = nl_addr_build(AF_INET, &be, 4);

	if (v)
		nl_addr_set_prefixlen(v, (int)len);
	return v;
}

int netlink_route4_add(struct netlink *nl, int ifindex, uint32_t dst, uint32_t src)
{
	_cleanup_(route_putp) struct rtnl_route *route = rtnl_route_alloc();
	_cleanup_(addr_putp) struct nl_addr *d = addr4_build(dst, 32);
	_cleanup_(addr_putp) struct nl_addr *p = addr4_build(src, 32);
	_cleanup_(nexthop_freep) struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
	int r;

	if (!route || !d || !p || !nh)
		return -ENOMEM;
	rtnl_route_set_family(route, AF_INET);
	rtnl_route_set_table(route, RT_TABLE_MAIN);
	rtnl_route_set_scope(route, RT_SCOPE_LINK);
	rtnl_route_set_protocol(route, RTPROT_STATIC);
	r = netlink_errno(rtnl_route_set_dst(route, d));
	if (r >= 0)
		r = netlink_errno(rtnl_route_set_pref_src(route, p));
	if (r < 0)
		return r;
	rtnl_route_nh_set_ifindex(nh, ifindex);
	rtnl_route_add_nexthop(route, TAKE_PTR(nh)); /* the route frees it */
	return netlink_errno(rtnl_route_add(nl->cmd, route, NLM_F_CREATE | NLM_F_EXCL));
}

int netlink_port_detach(struct netlink *nl, int ifindex)
{
	_cleanup_(link_putp) struct rtnl_link *orig = rtnl_link_alloc();
	_cleanup_(link_putp) struct rtnl_link *change = rtnl_link_alloc();

	if (!orig || !change)
		return -ENOMEM;
	rtnl_link_set_ifindex(orig, ifindex);
	rtnl_link_set_master(change, 0);
	rtnl_link_unset_flags(change, IFF_UP);
	return netlink_errno(rtnl_link_change(nl->cmd, orig, change, 0));
}

int netlink_link_del(struct netlink *nl, int ifindex)
{
	_cleanup_(link_putp) struct rtnl_link *link = rtnl_link_alloc();

	if (!link)
		return -ENOMEM;
	rtnl_link_set_ifindex(link, ifindex);
	return netlink_errno(rtnl_link_delete(nl->cmd, link));
}

int netlink_ifindex(struct netlink *nl, const char *name)
{
	struct ifreq ifr = {};

	if (strlen(name) >= IFNAMSIZ)
		return 0;
	strcpy(ifr.ifr_name, name);
	if (ioctl(nl->ioctl_fd, SIOCGIFINDEX, &ifr) < 0)
		return errno == ENODEV ? 0 : -errno;
	return ifr.ifr_ifindex;
}

int netlink_link_exists(struct netlink *nl, int ifindex)
{
	_cleanup_(link_putp) struct rtnl_link *link = NULL;
	int r;

	r = netlink_errno(rtnl_link_get_kernel(nl->cmd, ifindex, NULL, &link));
	if (r == -ENODEV || r == -ENOENT)
		return 0;
	return r < 0 ? r : 1;
}

/*
 * An RTM_NEWADDR request for @a on @ifindex with the ACK flag set. Its
 * sequence number is left for the caller to take with nl_complete_msg()
 * only once the request is sure to be sent: a number taken and not sent
 * leaves libnl expecting an ACK that never comes, and every later request
 * on the socket would fail with NLE_SEQ_MISMATCH.
 */
static int build_addr_add(int ifindex, const struct netlink_addr *a, struct nl_msg **ret)
{
	struct rtnl_addr *ra = rtnl_addr_alloc();
	_cleanup_(addr_putp) struct nl_addr *local = NULL;
	int r;

	if (!ra)
		return -ENOMEM;
	local = nl_addr_build(a->family, a->addr, a->family == AF_INET ? 4 : 16);
	if (!local) {
		r = -ENOMEM;
		goto out;
	}
	nl_addr_set_prefixlen(local, (int)a->prefixlen);
	rtnl_addr_set_ifindex(ra, ifindex);
	r = netlink_errno(rtnl_addr_set_local(ra, local));
	if (r < 0)
		goto out;
	/* No duplicate address detection on our own addresses: they are ours
	 * by construction, and DAD would delay the first router advertisement
	 * (sent from the link-local address) and dnsmasq's binding. */
	if (a->family == AF_INET6)
		rtnl_addr_set_flags(ra, IFA_F_NODAD);
	r = netlink_errno(rtnl_addr_build_add_request(ra, NLM_F_ACK, ret));
out:
	rtnl_addr_put(ra);
	return r;
}

int netlink_addrs_add(struct netlink *nl, int ifindex, const struct netlink_addr *v, size_t n)
{
	struct nl_msg *msgs[NETLINK_ADDRS_MAX] = { 0 };
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len = 0, off = 0;
	int r = 0;

	if (n == 0 || n > NETLINK_ADDRS_MAX)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		r = build_addr_add(ifindex, &v[i], &msgs[i]);
		if (r < 0)
			goto out;
		len += NLMSG_ALIGN(nlmsg_hdr(msgs[i])->nlmsg_len);
	}
	buf = calloc(1, len);
	if (!buf) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct nlmsghdr *h = nlmsg_hdr(msgs[i]);

		nl_complete_msg(nl->cmd, msgs[i]); /* takes its sequence number */
		memcpy(buf + off, h, h->nlmsg_len);
		off += NLMSG_ALIGN(h->nlmsg_len);
	}
	/*
	 * One datagram: the kernel adds them all within this one call, and a
	 * listener of address events (not our dnsmasqs: dnsmasq-preload.c;
	 * the host's own daemons) gets them together, one wake-up, not
	 * three. The IPv4 event is sent from within this call;
	 * an IPv6 one, even with IFA_F_NODAD, from the kernel's DAD work item
	 * right after, so a listener usually, not always, drains them as one.
	 * A failed send leaves the sequence numbers taken, as it does for
	 * libnl's own nl_send_auto(); the socket is no worse off than there.
	 */
	r = nl_sendto(nl->cmd, buf, len);
	if (r < 0) {
		r = netlink_errno(r);
		goto out;
	}
	r = 0;
	for (size_t i = 0; i < n; i++) { /* one ACK each, in order; keep the first error */
		int e = netlink_errno(nl_wait_for_ack(nl->cmd));

		if (r == 0)
			r = e;
	}
out:
	for (size_t i = 0; i < n; i++)
		nlmsg_free(msgs[i]);
	return r;
}

static int push_prefix(struct prefix4 **v, size_t *n, size_t *cap, struct nl_addr *a)
{
	if (!a || nl_addr_get_family(a) != AF_INET || nl_addr_get_len(a) != 4)
		return 0;
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 32;
		struct prefix4 *p = realloc(*v, c * sizeof(**v));
		if (!p)
			return -ENOMEM;
		*v = p;
		*cap = c;
	}
	{
		const uint8_t *b = nl_addr_get_binary_addr(a);
		(*v)[(*n)++] = (struct prefix4){
			.addr = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 |
				b[3],
			.len = (uint8_t)nl_addr_get_prefixlen(a),
		};
	}
	return 0;
}

int netlink_ipv4_in_use(struct netlink *nl, struct prefix4 **ret, size_t *ret_n)
{
	_cleanup_(cache_freep) struct nl_cache *addrs = NULL;
	_cleanup_(cache_freep) struct nl_cache *routes = NULL;
	_cleanup_free_ struct prefix4 *v = NULL;
	size_t n = 0, cap = 0;
	int r;

	r = netlink_errno(rtnl_addr_alloc_cache(nl->cmd, &addrs));
	if (r < 0)
		return r;
	/* Every routing table, not only main: policy routing counts too. */
	r = netlink_errno(rtnl_route_alloc_cache(nl->cmd, AF_INET, 0, &routes));
	if (r < 0)
		return r;
	for (struct nl_object *o = nl_cache_get_first(addrs); o; o = nl_cache_get_next(o)) {
		r = push_prefix(&v, &n, &cap, rtnl_addr_get_local((struct rtnl_addr *)o));
		if (r < 0)
			return r;
	}
	for (struct nl_object *o = nl_cache_get_first(routes); o; o = nl_cache_get_next(o)) {
		r = push_prefix(&v, &n, &cap, rtnl_route_get_dst((struct rtnl_route *)o));
		if (r < 0)
			return r;
	}
	*ret = TAKE_PTR(v);
	*ret_n = n;
	return 0;
}

static void link_info_fill(struct rtnl_link *l, struct link_info *ret)
{
	struct nl_addr *a = rtnl_link_get_addr(l);
	const char *s;

	memset(ret, 0, sizeof(*ret));
	ret->ifindex = rtnl_link_get_ifindex(l);
	ret->master = rtnl_link_get_master(l);
	s = rtnl_link_get_name(l);
	snprintf(ret->name, sizeof(ret->name), "%s", s ? s : "");
	s = rtnl_link_get_type(l);
	snprintf(ret->kind, sizeof(ret->kind), "%s", s ? s : "");
	s = rtnl_link_get_ifalias(l);
	snprintf(ret->alias, sizeof(ret->alias), "%s", s ? s : "");
	if (a && nl_addr_get_len(a) == 6)
		memcpy(ret->mac, nl_addr_get_binary_addr(a), 6);
}

int netlink_link_info(struct netlink *nl, const char *name, struct link_info *ret)
{
	_cleanup_(link_putp) struct rtnl_link *link = NULL;
	int r;

	r = netlink_errno(rtnl_link_get_kernel(nl->cmd, 0, name, &link));
	if (r < 0)
		return r;
	link_info_fill(link, ret);
	return 0;
}

int netlink_links(struct netlink *nl, struct link_info **ret, size_t *ret_n)
{
	_cleanup_(cache_freep) struct nl_cache *cache = NULL;
	struct link_info *v;
	size_t n = 0;
	int r;

	r = netlink_errno(rtnl_link_alloc_cache(nl->cmd, AF_UNSPEC, &cache));
	if (r < 0)
		return r;
	v = calloc((size_t)nl_cache_nitems(cache) + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o))
		link_info_fill((struct rtnl_link *)o, &v[n++]);
	*ret = v;
	*ret_n = n;
	return 0;
}

/* What an RTM_NEWLINK says of a tun device (IFLA_LINKINFO's IFLA_INFO_DATA). */
static int on_tun_link(struct nl_msg *msg, void *arg)
{
	struct netlink_tun *t = arg;
	struct nlattr *tb[IFLA_MAX + 1], *li[IFLA_INFO_MAX + 1], *td[IFLA_TUN_MAX + 1];
	struct nlmsghdr *h = nlmsg_hdr(msg);

	if (h->nlmsg_type != RTM_NEWLINK ||
	    nlmsg_parse(h, sizeof(struct ifinfomsg), tb, IFLA_MAX, NULL) < 0 ||
	    !tb[IFLA_LINKINFO] || nla_parse_nested(li, IFLA_INFO_MAX, tb[IFLA_LINKINFO], NULL) < 0 ||
	    !li[IFLA_INFO_KIND] || nla_strcmp(li[IFLA_INFO_KIND], "tun") != 0 ||
	    !li[IFLA_INFO_DATA] || nla_parse_nested(td, IFLA_TUN_MAX, li[IFLA_INFO_DATA], NULL) < 0)
		return NL_OK;
	t->is_tun = true;
	t->persist = td[IFLA_TUN_PERSIST] && nla_get_u8(td[IFLA_TUN_PERSIST]);
	t->queues = td[IFLA_TUN_NUM_QUEUES] ? nla_get_u32(td[IFLA_TUN_NUM_QUEUES]) : 0;
	t->disabled_queues =
		td[IFLA_TUN_NUM_DISABLED_QUEUES] ? nla_get_u32(td[IFLA_TUN_NUM_DISABLED_QUEUES]) : 0;
	return NL_OK;
}

int netlink_tun_info(struct netlink *nl, int ifindex, struct netlink_tun *ret)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex };
	struct nl_sock *sk = nl_socket_alloc();
	int r;

	*ret = (struct netlink_tun){};
	if (!sk)
		return -ENOMEM;
	/* A socket of its own: rare (a carrier lost), and no interplay with
	 * the command socket's sequence numbers and acks. libnl parses no tun
	 * attributes (IFLA_TUN_*, Linux 4.19+): they are read here. */
	nl_socket_disable_auto_ack(sk);
	r = netlink_errno(nl_connect(sk, NETLINK_ROUTE));
	if (r >= 0)
		r = netlink_errno(nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, on_tun_link, ret));
	if (r >= 0) {
		/* The bytes sent, or a negative libnl code. */
		r = nl_send_simple(sk, RTM_GETLINK, 0, &ifi, sizeof(ifi));
		r = r < 0 ? netlink_errno(r) : 0;
	}
	if (r >= 0)
		r = netlink_errno(nl_recvmsgs_default(sk));
	nl_socket_free(sk);
	return r < 0 ? r : 0;
}

int netlink_ipv4_addrs(struct netlink *nl, struct netlink_addr4 **ret, size_t *ret_n)
{
	_cleanup_(cache_freep) struct nl_cache *addrs = NULL;
	_cleanup_free_ struct netlink_addr4 *v = NULL;
	size_t n = 0;
	int r;

	r = netlink_errno(rtnl_addr_alloc_cache(nl->cmd, &addrs));
	if (r < 0)
		return r;
	v = calloc((size_t)nl_cache_nitems(addrs) + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (struct nl_object *o = nl_cache_get_first(addrs); o; o = nl_cache_get_next(o)) {
		struct rtnl_addr *a = (struct rtnl_addr *)o;
		struct nl_addr *local = rtnl_addr_get_local(a);
		const uint8_t *b;

		if (!local || nl_addr_get_family(local) != AF_INET || nl_addr_get_len(local) != 4)
			continue;
		b = nl_addr_get_binary_addr(local);
		v[n].addr = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
		v[n].ifindex = rtnl_addr_get_ifindex(a);
		n++;
	}
	*ret = TAKE_PTR(v);
	*ret_n = n;
	return 0;
}

int netlink_link_mtu(struct netlink *nl, int ifindex, unsigned int *ret)
{
	_cleanup_(link_putp) struct rtnl_link *link = NULL;
	int r;

	r = netlink_errno(rtnl_link_get_kernel(nl->cmd, ifindex, NULL, &link));
	if (r < 0)
		return r;
	*ret = rtnl_link_get_mtu(link);
	return 0;
}
