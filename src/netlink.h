/* netlink.h - kernel links and addresses over rtnetlink (libnl-route-3), and the link monitor */
#ifndef VMNET_NETLINK_H
#define VMNET_NETLINK_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "pool.h"

struct netlink;
struct nl_sock;
struct rtnl_link;

/* Called for every RTM_DELLINK the monitor sees. */
typedef void (*netlink_link_gone_fn)(void *userdata, int ifindex);
/* Called for a link that is up but lost its carrier (a TAP's last holder let it go). */
typedef void (*netlink_carrier_off_fn)(void *userdata, int ifindex);
/* Called when events may have been lost (socket overrun): recheck everything. */
typedef void (*netlink_resync_fn)(void *userdata);

/**
 * netlink_new() - open the command socket and the RTNLGRP_LINK monitor on @event
 * Return: 0 or negative errno.
 */
int netlink_new(sd_event *event, netlink_link_gone_fn gone, netlink_carrier_off_fn carrier_off,
		netlink_resync_fn resync, void *userdata, struct netlink **ret);
struct netlink *netlink_free(struct netlink *nl);
/* The command socket, for the other mechanism modules' own requests (vxlan.c). */
struct nl_sock *netlink_socket(struct netlink *nl);
/* A libnl NLE_* code as a negative errno. */
int netlink_errno(int nle);

/* Create @link (named @name) and learn the index the kernel gave it. Return: 0 or negative errno. */
int netlink_link_add(struct netlink *nl, struct rtnl_link *link, const char *name, int *ret_ifindex);
/**
 * netlink_link_mark() - what creating a link cannot set: its @alias, and no IPv6 of its own
 *
 * addr_gen_mode none: the kernel makes no link-local address for it.
 * Return: 0 or negative errno.
 */
int netlink_link_mark(struct netlink *nl, int ifindex, const char *alias);

/* Create bridge @name, up, with a fixed @mac (so it does not follow its ports), @alias,
 * and addr_gen_mode none: the kernel makes no link-local address of its own. */
int netlink_bridge_add(struct netlink *nl, const char *name, unsigned int mtu, const uint8_t mac[6],
		       const char *alias, int *ret_ifindex);

/* What adoption needs to know of an existing link. */
struct link_info {
	int ifindex;
	int master; /* 0: none */
	char name[IFNAMSIZ];
	char kind[16]; /* "bridge", "veth", "tun", "" */
	uint8_t mac[6];
	char alias[256];
};

/* What the kernel says of link @name. Return: 0 or negative errno (-ENODEV: none). */
int netlink_link_info(struct netlink *nl, const char *name, struct link_info *ret);
/**
 * netlink_links() - every link of this namespace
 * Return: 0 with a malloc'ed array in *@ret, or negative errno.
 */
int netlink_links(struct netlink *nl, struct link_info **ret, size_t *ret_n);
/* Create a veth pair, both ends down: @name here, @peer (with @peer_mac) inside the netns
 * @netns_fd (negative: here too). */
int netlink_veth_add(struct netlink *nl, const char *name, const char *peer, int netns_fd,
		     const uint8_t peer_mac[6], unsigned int mtu, int *ret_ifindex);
/* Bring the veth end @name inside the netns @netns_fd up, and sync it. */
int netlink_veth_peer_up(struct netlink *nl, int netns_fd, const char *name);
/**
 * netlink_link_sync() - make a link's new carrier state take effect now
 *
 * A link that just came up forwards and transmits only once the kernel's
 * link-watch work has run; RTM_GETLINK runs it (Linux >= 6.8; a no-op
 * query before that).
 * Return: 0 or negative errno.
 */
int netlink_link_sync(struct netlink *nl, int ifindex);
/* Return: the ifindex of @name in the daemon's namespace, 0 when there is none, or negative errno. */
int netlink_ifindex(struct netlink *nl, const char *name);
/* Enslave @ifindex to @master, set its @alias and @mtu, bring it up. */
int netlink_port_attach(struct netlink *nl, int ifindex, int master, const char *alias,
			unsigned int mtu);
/* Take @ifindex off its bridge and down. Return: 0 or negative errno. */
int netlink_port_detach(struct netlink *nl, int ifindex);
int netlink_link_del(struct netlink *nl, int ifindex);
/* Bring @ifindex up. Return: 0 or negative errno. */
int netlink_link_up(struct netlink *nl, int ifindex);
/**
 * netlink_route4_add() - a host route to @dst through @ifindex, from @src
 *
 * On-link (scope link), in the main table; @dst and @src in host byte order.
 * Return: 0 or negative errno (-EEXIST: it is there).
 */
int netlink_route4_add(struct netlink *nl, int ifindex, uint32_t dst, uint32_t src);
/* What the kernel says of a tun device. */
struct netlink_tun {
	bool is_tun;
	bool persist;             /* TUNSETPERSIST */
	uint32_t queues;          /* attached: each is an fd someone holds */
	uint32_t disabled_queues; /* detached with TUNSETQUEUE, still held */
};

/**
 * netlink_tun_info() - @ifindex's tun attributes, into *@ret (is_tun false: not a tun)
 * Return: 0 or negative errno (-ENODEV: no such link).
 */
int netlink_tun_info(struct netlink *nl, int ifindex, struct netlink_tun *ret);
/* Return: 1 when a link with @ifindex exists, 0 when not, negative errno on failure. */
int netlink_link_exists(struct netlink *nl, int ifindex);
struct netlink_addr {
	int family;       /* AF_INET or AF_INET6 */
	uint8_t addr[16]; /* network byte order; 4 bytes used for AF_INET */
	unsigned int prefixlen;
};

#define NETLINK_ADDRS_MAX 4

/**
 * netlink_addrs_add() - add @n addresses to @ifindex in one request
 *
 * IPv6 ones without duplicate address detection. All are attempted.
 * Return: 0, or the first failure's negative errno.
 */
int netlink_addrs_add(struct netlink *nl, int ifindex, const struct netlink_addr *v, size_t n);
/**
 * netlink_ipv4_in_use() - every IPv4 address prefix and route of this namespace
 * Return: 0 with a malloc'ed array in *@ret, or negative errno.
 */
int netlink_ipv4_in_use(struct netlink *nl, struct prefix4 **ret, size_t *ret_n);

/* An IPv4 address of the namespace and the link that holds it. */
struct netlink_addr4 {
	uint32_t addr; /* host byte order */
	int ifindex;
};

/**
 * netlink_ipv4_addrs() - every IPv4 address of this namespace, with its link
 * Return: 0 with a malloc'ed array in *@ret, or negative errno.
 */
int netlink_ipv4_addrs(struct netlink *nl, struct netlink_addr4 **ret, size_t *ret_n);
/* The MTU of link @ifindex into *@ret. Return: 0 or negative errno. */
int netlink_link_mtu(struct netlink *nl, int ifindex, unsigned int *ret);

#endif
