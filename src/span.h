/* span.h - a network that spans hosts: this host's place in it, its overlay, its state */
#ifndef VMNET_SPAN_H
#define VMNET_SPAN_H

#include <jansson.h>
#include <net/if.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "pool.h"
#include "span-names.h"

struct frr;
struct frr_want;
struct netlink;
struct nft_span;

/* Codes of their own range (util.h). */
enum {
	SPAN_E_NOT_LISTED = 1100, /* this host holds none of the span's host addresses */
	SPAN_E_AMBIGUOUS,         /* it holds several: --span-address must say which */
	SPAN_E_UNDERLAY_MTU,      /* the link of its address leaves no room for the network's MTU */
};

/* This host's place in a span, chosen when the network is created. */
struct span_place {
	size_t self;          /* its entry of span.hosts */
	int underlay_ifindex; /* the link that holds its address */
	unsigned int underlay_mtu;
};

/* The overlay of one network on this host. */
struct span {
	const struct span_config *config; /* the network's own */
	struct span_place place;
	char vxlan[IFNAMSIZ]; /* VXLAN_NAME_PREFIX VNI */
	int vxlan_ifindex;    /* 0 until it exists */
	uint32_t *peers;      /* the other hosts' addresses */
	size_t n_peers;
	struct span_names names; /* names across hosts (span-names.c) */
};

/**
 * span_place() - which of @c's hosts this one is
 * @address:	the daemon's --span-address; 0: the one host address this
 *		namespace holds
 * @mtu:	the network's MTU, checked against the underlay link's
 * Return: 0, SPAN_E_NOT_LISTED, SPAN_E_AMBIGUOUS, SPAN_E_UNDERLAY_MTU
 * (*@ret filled as far as known, for the message), or negative errno.
 */
int span_place(struct netlink *nl, const struct span_config *c, uint32_t address, unsigned int mtu,
	       struct span_place *ret);

/*
 * Whether this host, at @p, is a route reflector of @c's EVPN span: the
 * other hosts reach each other through it, so it keeps the span up
 * (as a persistent network) whether it has guests or not.
 */
bool span_place_reflects(const struct span_config *c, const struct span_place *p);

/*
 * The distributed gateway's MAC: the same on every host of a span,
 * 02:76:6d ("vm", locally administered) and the 24 bits of the VNI.
 */
void span_gateway_mac(uint32_t vni, uint8_t ret[6]);

/* @c's overlay at @p; nothing in the kernel yet. Return: 0 or -ENOMEM. */
int span_new(const struct span_config *c, const struct span_place *p, struct span **ret);
struct span *span_free(struct span *s);
static inline void span_freep(struct span **s)
{
	span_free(*s);
}

/**
 * span_start() - create the overlay's VXLAN device and make it a port of @bridge
 * @alias:	the bridge's alias (the network's)
 *
 * Call once the firewall holds its filter (firewall.c): frames cross
 * from the moment the device is up. Static: the flood list names every
 * other host. Nothing is left on failure.
 * Return: 0 or negative errno.
 */
int span_start(struct span *s, struct netlink *nl, int bridge, const char *alias, unsigned int mtu);
/**
 * span_adopt() - the VXLAN device @ifindex an earlier daemon made is this span's
 *
 * Static: its flood list gets every host of the file again.
 * Return: 0 or negative errno.
 */
int span_adopt(struct span *s, struct netlink *nl, int ifindex);
/* Delete the VXLAN device (its forwarding table goes with it) and the names link. */
void span_remove(struct span *s, struct netlink *nl);

/**
 * span_slice_only() - leave in @m only what this host may hand out
 * @subnet:	the network's subnet (host bits zero)
 *
 * Every host address outside this host's slice is marked taken, except
 * the file's dhcp_reservations (@c's): reservations are the span's, any
 * host may serve one; and this host's names address. No slice (no
 * DHCP): nothing changes.
 */
void span_slice_only(const struct span *s, const struct network_config *c, uint32_t subnet,
		     struct host_map *m);
/* This host's underlay address. */
uint32_t span_local(const struct span *s);
/* What firewall.c needs; ret's pointers are @s's. */
void span_nft(const struct span *s, const uint8_t gateway_mac[6], const uint8_t link_local[16],
	      struct nft_span *ret);
/*
 * Add an EVPN span's neighbours and VNI to @w (a static span adds nothing).
 * Return: 0, -EINVAL when @w holds spans of another ASN or local address
 * (a host has one BGP instance), or -ENOMEM.
 */
int span_want(const struct span *s, struct frr_want *w);
/* {"vni", "control", "vxlan", "local", "port", "slice", "names_address", "names_pid",
 * "peers", "frr"} for `status`; @names_pid: its names server's (dhcp.c), -1: none. */
json_t *span_status_json(const struct span *s, const struct frr *frr, pid_t names_pid);

#endif
