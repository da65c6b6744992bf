/* registry.h - the running networks, by name, and their leases by their port's ifindex */
#ifndef VMNET_REGISTRY_H
#define VMNET_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include "pool.h"

struct network;
struct lease;

/* Buckets of the ifindex index: ifindex numbers are dense, so ifindex % this spreads them. */
#define REGISTRY_BUCKETS 1024

/*
 * The broker's one registry. Every walk over all networks or all leases
 * is here, behind a lookup; the link monitor's, which runs for each link
 * the kernel deletes, and the neighbour monitor's, which runs for each
 * MAC a bridge learns or address the neighbour table gets, are indexes.
 *
 * The index holds exactly the leases with a port (ifindex > 0) of the
 * registered networks: the broker adds a lease once network_add_lease()
 * took it, and takes it out before network_remove_lease() or before its
 * ifindex changes; registry_remove_network() takes out all of a network's.
 */
struct registry {
	TAILQ_HEAD(, network) networks;
	size_t n_networks;
	LIST_HEAD(, lease) by_ifindex[REGISTRY_BUCKETS];
	LIST_HEAD(, network) by_bridge[REGISTRY_BUCKETS]; /* for the neighbour monitor */
};

void registry_init(struct registry *r);
void registry_add_network(struct registry *r, struct network *n);
/* Take @n and its leases out; the caller frees or abandons it. */
void registry_remove_network(struct registry *r, struct network *n);
void registry_add_lease(struct registry *r, struct lease *l);
void registry_remove_lease(struct registry *r, struct lease *l);

struct network *registry_find_network(const struct registry *r, const char *name);
/* The network whose bridge has @ifindex, or NULL. */
struct network *registry_find_bridge(const struct registry *r, int ifindex);
/* The network whose span's VXLAN device has @ifindex, or NULL: a walk over the spanning ones. */
struct network *registry_find_overlay(const struct registry *r, int ifindex);
/* The lease whose port has @ifindex, or NULL. */
struct lease *registry_find_lease(const struct registry *r, int ifindex);
/*
 * The lease whose port (our end: vmtapN, vmvethN, a named TAP) is called
 * @ifname, on network @network ("" for any); NULL when there is none.
 */
struct lease *registry_find_port(const struct registry *r, const char *network, const char *ifname);
/*
 * The leases with a port labelled @label on @network ("" for any), of @uid
 * (all for root), none being removed: the first in *@ret, how many in the
 * return value.
 */
size_t registry_find_label(const struct registry *r, const char *network, const char *label,
			   uid_t uid, struct lease **ret);
/* Whether a running network has a bridge called @name (maybe gone from the kernel). */
bool registry_bridge_taken(const struct registry *r, const char *name);
/* The lease with id @id, or NULL. */
struct lease *registry_find_lease_by_id(const struct registry *r, uint64_t id);
/* A persistent lease of a uid that holds more than @max ports: the newest such, or NULL. */
struct lease *registry_first_over_quota(const struct registry *r, size_t max);
/* The leases of @uid on every network: ports, and `none` holds. */
size_t registry_ports_of_user(const struct registry *r, uid_t uid);
/* The running network whose IPv4 subnet overlaps @p, or NULL. */
struct network *registry_subnet_overlap(const struct registry *r, const struct prefix4 *p);
/* The running network whose IPv6 prefix overlaps @prefix/@len, or NULL. */
struct network *registry_prefix6_overlap(const struct registry *r, const uint8_t prefix[16],
					 unsigned int len);
/* Append every running network's subnet to @v (room for n_networks more). Return: how many. */
size_t registry_subnets(const struct registry *r, struct prefix4 *v);

#endif
