/* subnet.c - a new network's addresses: the file's subnet and IPv6 prefix, checked, or free ones
 *
 * A fixed subnet must overlap no address or route of the host and no
 * running network (CONFLICT otherwise); a dynamic one is the first /24 of
 * the pool that overlaps none of those and no network file's fixed
 * subnet either, so that file's network can still be created later. The
 * IPv6 prefix is the file's, if no running network overlaps it, or a
 * random ULA /64.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "config-dir.h"
#include "netlink.h"
#include "network.h"
#include "subnet.h"
#include "util.h"

struct network *subnet_find_overlap(struct broker *b, const struct prefix4 *p)
{
	struct network *n;

	TAILQ_FOREACH(n, &b->networks, link)
		if (n->subnet.len && prefix4_overlaps(&n->subnet, p))
			return n;
	return NULL;
}

/* Append the fixed subnets of the valid files other than @name's to @used. */
static int add_configured_subnets(struct broker *b, const char *name, struct prefix4 **used,
				  size_t *n_used)
{
	const struct config_dir *d = b->configs;
	struct prefix4 *grown;

	if (!d)
		return 0;
	grown = realloc(*used, (*n_used + d->n + 1) * sizeof(**used));
	if (!grown)
		return -ENOMEM;
	*used = grown;
	for (size_t i = 0; i < d->n; i++) {
		const struct network_config *c = &d->v[i].config;

		if (config_entry_valid(&d->v[i]) && c->has_subnet && !streq(c->name, name)) {
			network_config_subnet(c, &grown[*n_used].addr, &grown[*n_used].len);
			(*n_used)++;
		}
	}
	return 0;
}

/*
 * A /24 from the pool that overlaps no address or route of the host, no
 * running network (even one whose bridge has no address yet) and no
 * network file's fixed subnet, so that network can still be created.
 */
static int pick_subnet(struct broker *b, const char *name, struct prefix4 *ret)
{
	_cleanup_free_ struct prefix4 *used = NULL;
	struct prefix4 *grown;
	struct network *n;
	size_t n_used = 0;
	int r;

	r = netlink_ipv4_in_use(b->nl, &used, &n_used);
	if (r < 0)
		return r;
	grown = realloc(used, (n_used + b->n_networks + 1) * sizeof(*used));
	if (!grown)
		return -ENOMEM;
	used = grown;
	TAILQ_FOREACH(n, &b->networks, link)
		used[n_used++] = n->subnet;
	r = add_configured_subnets(b, name, &used, &n_used);
	if (r < 0)
		return r;
	r = pool_pick_subnet(&b->opt.pool, used, n_used, ret);
	return r == POOL_E_EXHAUSTED ? NETWORK_E_POOL_EXHAUSTED : r;
}

/* A file's fixed subnet, if nothing of the host's or ours overlaps it. */
static int check_fixed_subnet(struct broker *b, const struct prefix4 *p)
{
	_cleanup_free_ struct prefix4 *used = NULL;
	size_t n_used = 0;
	int r;

	if (subnet_find_overlap(b, p))
		return NETWORK_E_SUBNET_TAKEN;
	r = netlink_ipv4_in_use(b->nl, &used, &n_used);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n_used; i++)
		/* The default route is no claim on any subnet (see pool_pick_subnet()). */
		if (used[i].len > 0 && prefix4_overlaps(&used[i], p))
			return NETWORK_E_SUBNET_IN_USE;
	return 0;
}

static int choose_subnet(struct network *n)
{
	const struct network_config *c = &n->config;

	if (!c->has_subnet)
		return pick_subnet(n->broker, c->name, &n->subnet);
	network_config_subnet(c, &n->subnet.addr, &n->subnet.len);
	n->gateway = c->gateway;
	return check_fixed_subnet(n->broker, &n->subnet);
}

static bool prefix6_overlaps(const uint8_t *a, unsigned int alen, const uint8_t *b, unsigned int blen)
{
	unsigned int len = alen < blen ? alen : blen;

	if (memcmp(a, b, len / 8) != 0)
		return false;
	return len % 8 == 0 || ((a[len / 8] ^ b[len / 8]) & (uint8_t)(0xff00 >> (len % 8))) == 0;
}

/* @n's IPv6 prefix (a file's, or a random one), if no running network's overlaps it. */
static int check_fixed_prefix6(struct network *n)
{
	struct network *o;

	TAILQ_FOREACH(o, &n->broker->networks, link)
		if (o != n &&
		    prefix6_overlaps(o->ula, network_prefix6_len(o), n->ula, network_prefix6_len(n)))
			return NETWORK_E_PREFIX_TAKEN;
	return 0;
}

/* Whether a valid file other than @n's claims a prefix overlapping @n's. */
static bool prefix6_claimed_by_file(const struct network *n)
{
	const struct config_dir *d = n->broker->configs;

	for (size_t i = 0; d && i < d->n; i++) {
		const struct network_config *c = &d->v[i].config;

		if (config_entry_valid(&d->v[i]) && c->has_ipv6_prefix &&
		    !streq(c->name, n->config.name) &&
		    prefix6_overlaps(c->ipv6_prefix, c->ipv6_prefix_len, n->ula, network_prefix6_len(n)))
			return true;
	}
	return false;
}

/*
 * A random RFC 4193 ULA /64: fd00::/8, 40 random bits of global ID,
 * subnet 0. Drawn again while it overlaps another network's prefix (a
 * file may claim as much as fd00::/16): overlapping prefixes would make
 * ambiguous routes, and nftables refuses overlapping elements in the
 * masq6 map.
 */
static int make_ula(struct network *n)
{
	for (int tries = 0; tries < 64; tries++) {
		memset(n->ula, 0, 16);
		n->ula[0] = 0xfd;
		if (getrandom(n->ula + 1, 5, 0) != 5)
			return -errno;
		if (check_fixed_prefix6(n) == 0 && !prefix6_claimed_by_file(n))
			return 0;
	}
	return NETWORK_E_PREFIX_TAKEN;
}

int subnet_choose(struct network *n)
{
	const struct network_config *c = &n->config;
	int r;

	r = choose_subnet(n);
	if (r)
		return r;
	if (!c->has_ipv6_prefix)
		return make_ula(n);
	memcpy(n->ula, c->ipv6_prefix, 16);
	n->ula_len = c->ipv6_prefix_len;
	return check_fixed_prefix6(n);
}
