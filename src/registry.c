/* registry.c - the running networks, by name, and their leases by their port's ifindex */
#include <string.h>

#include "lease.h"
#include "network.h"
#include "registry.h"
#include "span.h"
#include "util.h"

static unsigned int bucket(int ifindex)
{
	return (unsigned int)ifindex % REGISTRY_BUCKETS;
}

void registry_init(struct registry *r)
{
	TAILQ_INIT(&r->networks);
	r->n_networks = 0;
	for (size_t i = 0; i < REGISTRY_BUCKETS; i++) {
		LIST_INIT(&r->by_ifindex[i]);
		LIST_INIT(&r->by_bridge[i]);
	}
}

void registry_add_network(struct registry *r, struct network *n)
{
	TAILQ_INSERT_TAIL(&r->networks, n, link);
	LIST_INSERT_HEAD(&r->by_bridge[bucket(n->bridge_ifindex)], n, bridge_link);
	r->n_networks++;
}

void registry_remove_network(struct registry *r, struct network *n)
{
	struct lease *l;

	TAILQ_FOREACH(l, &n->leases, network_link)
		registry_remove_lease(r, l);
	TAILQ_REMOVE(&r->networks, n, link);
	LIST_REMOVE(n, bridge_link);
	r->n_networks--;
}

void registry_add_lease(struct registry *r, struct lease *l)
{
	if (l->port.ifindex > 0)
		LIST_INSERT_HEAD(&r->by_ifindex[bucket(l->port.ifindex)], l, index_link);
}

void registry_remove_lease(struct registry *r, struct lease *l)
{
	if (l->port.ifindex > 0)
		LIST_REMOVE(l, index_link);
}

struct network *registry_find_network(const struct registry *r, const char *name)
{
	struct network *n;

	TAILQ_FOREACH(n, &r->networks, link)
		if (streq(n->config.name, name))
			return n;
	return NULL;
}

struct network *registry_find_bridge(const struct registry *r, int ifindex)
{
	struct network *n;

	if (ifindex <= 0)
		return NULL;
	LIST_FOREACH(n, &r->by_bridge[bucket(ifindex)], bridge_link)
		if (n->bridge_ifindex == ifindex)
			return n;
	return NULL;
}

struct network *registry_find_overlay(const struct registry *r, int ifindex)
{
	struct network *n;

	if (ifindex <= 0)
		return NULL;
	TAILQ_FOREACH(n, &r->networks, link)
		if (n->span && n->span->vxlan_ifindex == ifindex)
			return n;
	return NULL;
}

struct lease *registry_find_lease(const struct registry *r, int ifindex)
{
	struct lease *l;

	if (ifindex <= 0)
		return NULL;
	LIST_FOREACH(l, &r->by_ifindex[bucket(ifindex)], index_link)
		if (l->port.ifindex == ifindex)
			return l;
	return NULL;
}

/* A walk: a wait_address is rare, and the index is by ifindex. */
struct lease *registry_find_port(const struct registry *r, const char *network, const char *ifname)
{
	const struct network *n;
	struct lease *l;

	TAILQ_FOREACH(n, &r->networks, link)
		if (!*network || streq(n->config.name, network))
			TAILQ_FOREACH(l, &n->leases, network_link)
				if (l->port.kind != PORT_NONE && streq(l->port.ifname, ifname))
					return l;
	return NULL;
}

size_t registry_find_label(const struct registry *r, const char *network, const char *label,
			   uid_t uid, struct lease **ret)
{
	const struct network *n;
	struct lease *l;
	size_t count = 0;

	*ret = NULL;
	TAILQ_FOREACH(n, &r->networks, link)
		if (!*network || streq(n->config.name, network))
			TAILQ_FOREACH(l, &n->leases, network_link)
				if (l->port.kind != PORT_NONE && !l->removing &&
				    streq(l->label, label) && (uid == 0 || l->uid == uid) &&
				    count++ == 0)
					*ret = l;
	return count;
}

bool registry_bridge_taken(const struct registry *r, const char *name)
{
	const struct network *n;

	TAILQ_FOREACH(n, &r->networks, link)
		if (streq(n->bridge, name))
			return true;
	return false;
}

struct lease *registry_find_lease_by_id(const struct registry *r, uint64_t id)
{
	struct network *n;
	struct lease *l;

	TAILQ_FOREACH(n, &r->networks, link)
		TAILQ_FOREACH(l, &n->leases, network_link)
			if (l->id == id)
				return l;
	return NULL;
}

/* @uid's persistent lease with the highest id (the newest), or NULL. */
static struct lease *newest_persistent(const struct registry *r, uid_t uid)
{
	struct lease *l, *best = NULL;
	struct network *n;

	TAILQ_FOREACH(n, &r->networks, link)
		TAILQ_FOREACH(l, &n->leases, network_link)
			if (l->uid == uid && l->persistent && !l->removing &&
			    (!best || l->id > best->id))
				best = l;
	return best;
}

struct lease *registry_first_over_quota(const struct registry *r, size_t max)
{
	struct network *n;
	struct lease *l;

	/* Only at adoption, and only O(leases) per lease: fine for the few there are. */
	TAILQ_FOREACH(n, &r->networks, link)
		TAILQ_FOREACH(l, &n->leases, network_link)
			/* One whose port could not go yet is tried again by the broker. */
			if (l->uid != 0 && l->persistent && !l->removing &&
			    registry_ports_of_user(r, l->uid) > max)
				return newest_persistent(r, l->uid);
	return NULL;
}

size_t registry_ports_of_user(const struct registry *r, uid_t uid)
{
	const struct network *n;
	const struct lease *l;
	size_t count = 0;

	TAILQ_FOREACH(n, &r->networks, link)
		TAILQ_FOREACH(l, &n->leases, network_link)
			count += l->uid == uid;
	return count;
}

struct network *registry_subnet_overlap(const struct registry *r, const struct prefix4 *p)
{
	struct network *n;

	TAILQ_FOREACH(n, &r->networks, link)
		if (n->subnet.len && prefix4_overlaps(&n->subnet, p))
			return n;
	return NULL;
}

struct network *registry_prefix6_overlap(const struct registry *r, const uint8_t prefix[16],
					 unsigned int len)
{
	struct network *n;

	TAILQ_FOREACH(n, &r->networks, link)
		if (prefix6_overlaps(n->ula, network_prefix6_len(n), prefix, len))
			return n;
	return NULL;
}

size_t registry_subnets(const struct registry *r, struct prefix4 *v)
{
	const struct network *n;
	size_t i = 0;

	TAILQ_FOREACH(n, &r->networks, link)
		v[i++] = n->subnet;
	return i;
}
