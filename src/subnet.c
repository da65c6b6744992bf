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
#include "registry.h"
#include "subnet.h"
#include "util.h"

/* Append the fixed subnets of the valid files other than @name's to @used. */
static int add_configured_subnets(const struct config_dir *d, const char *name,
				  struct prefix4 **used, size_t *n_used)
{
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
static int pick_subnet(const struct subnet_context *ctx, const char *name, struct prefix4 *ret)
{
	_cleanup_free_ struct prefix4 *used = NULL;
	struct prefix4 *grown;
	size_t n_used = 0;
	int r;

	r = netlink_ipv4_in_use(ctx->nl, &used, &n_used);
	if (r < 0)
		return r;
	grown = realloc(used, (n_used + ctx->registry->n_networks + 1) * sizeof(*used));
	if (!grown)
		return -ENOMEM;
	used = grown;
	n_used += registry_subnets(ctx->registry, used + n_used);
	r = add_configured_subnets(ctx->configs, name, &used, &n_used);
	if (r < 0)
		return r;
	r = pool_pick_subnet(ctx->pool, used, n_used, ret);
	return r == POOL_E_EXHAUSTED ? NETWORK_E_POOL_EXHAUSTED : r;
}

/* A file's fixed subnet, if nothing of the host's or ours overlaps it. */
static int check_fixed_subnet(const struct subnet_context *ctx, const struct prefix4 *p)
{
	_cleanup_free_ struct prefix4 *used = NULL;
	size_t n_used = 0;
	int r;

	if (registry_subnet_overlap(ctx->registry, p))
		return NETWORK_E_SUBNET_TAKEN;
	r = netlink_ipv4_in_use(ctx->nl, &used, &n_used);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n_used; i++)
		/* The default route is no claim on any subnet (see pool_pick_subnet()). */
		if (used[i].len > 0 && prefix4_overlaps(&used[i], p))
			return NETWORK_E_SUBNET_IN_USE;
	return 0;
}

static int choose_subnet(const struct subnet_context *ctx, const struct network_config *c,
			 struct network_addressing *a)
{
	if (!c->has_subnet)
		return pick_subnet(ctx, c->name, &a->subnet);
	network_config_subnet(c, &a->subnet.addr, &a->subnet.len);
	a->gateway = c->gateway;
	return check_fixed_subnet(ctx, &a->subnet);
}

static unsigned int prefix6_len(const struct network_addressing *a)
{
	return a->ula_len ? a->ula_len : 64;
}

/* Whether a valid file other than @name's claims a prefix overlapping @a's. */
static bool prefix6_claimed_by_file(const struct config_dir *d, const char *name,
				    const struct network_addressing *a)
{
	for (size_t i = 0; d && i < d->n; i++) {
		const struct network_config *c = &d->v[i].config;

		if (config_entry_valid(&d->v[i]) && c->has_ipv6_prefix && !streq(c->name, name) &&
		    prefix6_overlaps(c->ipv6_prefix, c->ipv6_prefix_len, a->ula, prefix6_len(a)))
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
static int make_ula(const struct subnet_context *ctx, const char *name, struct network_addressing *a)
{
	for (int tries = 0; tries < 64; tries++) {
		memset(a->ula, 0, 16);
		a->ula[0] = 0xfd;
		if (getrandom(a->ula + 1, 5, 0) != 5)
			return -errno;
		if (!registry_prefix6_overlap(ctx->registry, a->ula, prefix6_len(a)) &&
		    !prefix6_claimed_by_file(ctx->configs, name, a))
			return 0;
	}
	return NETWORK_E_PREFIX_TAKEN;
}

int subnet_choose(const struct subnet_context *ctx, const struct network_config *c,
		  struct network_addressing *ret)
{
	struct network_addressing a = {};
	int r;

	r = choose_subnet(ctx, c, &a);
	if (r)
		return r;
	if (!c->has_ipv6_prefix) {
		r = make_ula(ctx, c->name, &a);
	} else {
		memcpy(a.ula, c->ipv6_prefix, 16);
		a.ula_len = c->ipv6_prefix_len;
		r = registry_prefix6_overlap(ctx->registry, a.ula, prefix6_len(&a))
			    ? NETWORK_E_PREFIX_TAKEN
			    : 0;
	}
	if (r)
		return r;
	*ret = a;
	return 0;
}
