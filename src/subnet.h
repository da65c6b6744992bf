/* subnet.h - a new network's addresses: the file's subnet and IPv6 prefix, checked, or free ones */
#ifndef VMNET_SUBNET_H
#define VMNET_SUBNET_H

#include "config.h"
#include "network.h"
#include "pool.h"

struct config_dir;
struct netlink;
struct registry;

/* What the choice is checked against. */
struct subnet_context {
	const struct registry *registry;  /* the running networks */
	const struct config_dir *configs; /* the files; their fixed subnets stay free; may be NULL */
	struct netlink *nl;               /* the host's addresses and routes */
	const struct prefix4 *pool;       /* where dynamic /24s come from */
};

/**
 * subnet_choose() - where network @c lives: subnet, gateway and IPv6 prefix
 * Return: 0, NETWORK_E_POOL_EXHAUSTED, NETWORK_E_SUBNET_IN_USE,
 * NETWORK_E_SUBNET_TAKEN, NETWORK_E_PREFIX_TAKEN, or negative errno.
 */
int subnet_choose(const struct subnet_context *ctx, const struct network_config *c,
		  struct network_addressing *ret);

#endif
