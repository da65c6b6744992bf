/* span-names.h - names across hosts: where each host of a span answers the others for its guests */
#ifndef VMNET_SPAN_NAMES_H
#define VMNET_SPAN_NAMES_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct netlink;

/* A link named so is the broker's (protocol.c refuses it as a TAP's name). */
#define SPAN_NAMES_PREFIX "vmns"

/* One host's part in a span's names. */
struct span_names {
	uint32_t self;   /* this host's names address, host byte order; 0: none */
	uint32_t *peers; /* the other hosts' names addresses (those that have one) */
	size_t n_peers;
	uint8_t mac[6];      /* @link's: the same across restarts, peers' ARP caches stay right */
	char link[IFNAMSIZ]; /* SPAN_NAMES_PREFIX VNI: holds @self */
	char port[IFNAMSIZ]; /* its veth peer, a port of the network's bridge */
	char alias[128];     /* of both: NETWORK_ALIAS_PREFIX NAME */
	int ifindex;         /* @link's; 0 while it is not there */
};

/**
 * span_names_init() - which address each host of @c's span answers names at
 * @subnet:	the network's subnet (host bits zero)
 * @gateway:	the gateway's host number
 * @self:	this host's entry of span.hosts
 * @alias:	the links' (the network's bridge's)
 * @serve:	the network serves names (DNS, a domain): else none, here or elsewhere
 *
 * Every host computes every host's from the same file
 * (address_names_host()): no host tells another anything. None for a
 * host without a slice.
 * Return: 0 or -ENOMEM.
 */
int span_names_init(struct span_names *s, const struct network_config *c, const struct prefix4 *subnet,
		    unsigned int gateway, size_t self, const char *alias, bool serve);
void span_names_clear(struct span_names *s);

/**
 * span_names_up() - the names link, its address and its routes to the other hosts'
 * @bridge:	the network's bridge, of which the link's veth peer becomes a port
 *
 * A link of the same name and alias (an earlier daemon's) is replaced;
 * one of another alias is not the broker's (-EEXIST). Nothing is left on
 * failure.
 * Return: 0 or negative errno.
 */
int span_names_up(struct span_names *s, struct netlink *nl, int bridge, unsigned int mtu);
/* Remove the names link (its veth peer and routes go with it), or an earlier daemon's. */
void span_names_down(struct span_names *s, struct netlink *nl);

#endif
