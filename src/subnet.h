/* subnet.h - a new network's addresses: the file's subnet and IPv6 prefix, checked, or free ones */
#ifndef VMNET_SUBNET_H
#define VMNET_SUBNET_H

#include "pool.h"

struct broker;
struct network;

/**
 * subnet_choose() - set @n's subnet, gateway and IPv6 prefix from its config
 * Return: 0, NETWORK_E_POOL_EXHAUSTED, NETWORK_E_SUBNET_IN_USE,
 * NETWORK_E_SUBNET_TAKEN, NETWORK_E_PREFIX_TAKEN, or negative errno.
 */
int subnet_choose(struct network *n);
/* The running network whose IPv4 subnet overlaps @p, or NULL. */
struct network *subnet_find_overlap(struct broker *b, const struct prefix4 *p);

#endif
