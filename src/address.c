/* address.c - which host address a new port gets: its reservation, or next-fit around the rest (pure)
 *
 * A network's subnet has two parts. The dynamic range is dnsmasq's: it
 * gives those addresses to any MAC that asks. The rest is the daemon's:
 * each port gets one here, and dnsmasq serves it to that port's MAC only,
 * from the hosts file, as it serves the file's dhcp_reservations. The two
 * never meet, so an address is never offered to two guests at once.
 * docs/design.md, *Addresses*, says why next-fit and why dnsmasq's own
 * lease file is read.
 */
#include <string.h>

#include "address.h"

static const struct dhcp_reservation *find_reservation(const struct network_config *c,
						       const uint8_t mac[6])
{
	for (size_t i = 0; i < c->n_reservations; i++)
		if (memcmp(c->reservations[i].mac, mac, 6) == 0)
			return &c->reservations[i];
	return NULL;
}

/* Mark the file's fixed addresses in @m: reservations and forward targets. */
static void mark_fixed(const struct network_config *c, uint32_t subnet, struct host_map *m)
{
	for (size_t i = 0; i < c->n_reservations; i++)
		(void)host_map_take_exact(m, c->reservations[i].address - subnet);
	for (size_t i = 0; i < c->n_forwards; i++)
		(void)host_map_take_exact(m, c->forwards[i].internal_address - subnet);
}

bool address_in_range(const struct dhcp_range *r, unsigned int host)
{
	return r->first && host >= r->first && host <= r->last;
}

static unsigned int umin(unsigned int a, unsigned int b)
{
	return a < b ? a : b;
}

static unsigned int umax(unsigned int a, unsigned int b)
{
	return a > b ? a : b;
}

/* Host numbers @first to @last of @subnet: @slice's, or the whole subnet's. */
static void part_bounds(const struct prefix4 *subnet, const struct prefix4 *slice,
			unsigned int *first, unsigned int *last)
{
	*first = 0;
	*last = (1u << (32 - subnet->len)) - 1;
	if (slice && slice->len) {
		*first = slice->addr - subnet->addr;
		*last = *first + (1u << (32 - slice->len)) - 1;
	}
}

void address_dynamic_range(const struct network_config *c, const struct prefix4 *subnet,
			   const struct prefix4 *slice, unsigned int gateway, struct dhcp_range *ret)
{
	unsigned int size = 1u << (32 - subnet->len), first, last, half, lo, hi, run = 0;
	struct host_map fixed; /* the gateway, reservations, forward targets: never dnsmasq's to give */
	bool upper;

	*ret = (struct dhcp_range){ 0, 0 };
	part_bounds(subnet, slice, &first, &last);
	if (c->has_dhcp_range) {
		/* A span's host takes the part of the file's range inside its slice. */
		lo = umax(c->dhcp_range_start - subnet->addr, first);
		hi = umin(c->dhcp_range_end - subnet->addr, last);
		if (lo <= hi)
			*ret = (struct dhcp_range){ lo, hi };
		return;
	}
	if (last - first + 1 < 8)
		return; /* a /30: the gateway and one guest, a port's */
	half = first + (last - first + 1) / 2;
	/* The half without the gateway: the upper one when the gateway is not in the part. */
	upper = gateway >= half && gateway <= last;
	lo = upper ? umax(first, 1) : half;
	hi = upper ? half - 1 : umin(last, size - 2);
	host_map_init(&fixed, subnet->len, gateway);
	mark_fixed(c, subnet->addr, &fixed);
	/* The longest stretch of [lo, hi] free of fixed addresses; the first of equals. */
	for (unsigned int h = lo; h <= hi + 1; h++) {
		/* Taking it on the scratch map is how to ask whether it is free. */
		if (h <= hi && host_map_take_exact(&fixed, h) == 0) {
			run++;
			continue;
		}
		if (run > ret->last - ret->first + (ret->first ? 1 : 0)) {
			ret->first = h - run;
			ret->last = h - 1;
		}
		run = 0;
	}
}

bool address_ports_have_room(const struct network_config *c, const struct prefix4 *subnet,
			     const struct prefix4 *slice, unsigned int gateway,
			     const struct dhcp_range *range)
{
	struct host_map m;
	unsigned int first, last;

	part_bounds(subnet, slice, &first, &last);
	host_map_init(&m, subnet->len, gateway);
	mark_fixed(c, subnet->addr, &m);
	if (range->first)
		host_map_mark(&m, range->first, range->last);
	for (unsigned int h = first; h <= last; h++)
		if (host_map_take_exact(&m, h) == 0)
			return true;
	return false;
}

unsigned int address_names_host(const struct network_config *c, const struct prefix4 *subnet,
				const struct prefix4 *slice, unsigned int gateway)
{
	struct dhcp_range range;
	struct host_map m;
	unsigned int first, last, found = 0;

	if (!slice || !slice->len)
		return 0;
	address_dynamic_range(c, subnet, slice, gateway, &range);
	part_bounds(subnet, slice, &first, &last);
	host_map_init(&m, subnet->len, gateway);
	mark_fixed(c, subnet->addr, &m);
	for (unsigned int h = first; h <= last; h++) {
		if (address_in_range(&range, h) || host_map_take_exact(&m, h) != 0)
			continue;
		if (found)
			return found; /* and @h is left for a port */
		found = h;
	}
	return 0;
}

int address_take(struct host_map *hosts, const struct network_config *c,
		 const struct prefix4 *subnet, const struct dhcp_range *range, const uint8_t mac[6],
		 const struct dhcp_host *leased, size_t n_leased, unsigned int *ret_host)
{
	const struct dhcp_reservation *res = find_reservation(c, mac);
	struct host_map base, avoid;
	unsigned int h;

	if (res) {
		h = res->address - subnet->addr;
		if (host_map_take_exact(hosts, h) != 0)
			return ADDRESS_E_TAKEN;
		*ret_host = h;
		return 0;
	}
	base = *hosts;
	mark_fixed(c, subnet->addr, &base);
	if (range->first)
		host_map_mark(&base, range->first, range->last);
	avoid = base;
	for (size_t i = 0; i < n_leased; i++) {
		uint32_t a = leased[i].address;

		if ((a & prefix4_mask(subnet->len)) != subnet->addr)
			continue;
		h = a - subnet->addr;
		if (memcmp(leased[i].mac, mac, 6) == 0 && host_map_take_exact(&base, h) == 0) {
			(void)host_map_take_exact(hosts, h);
			*ret_host = h;
			return 0;
		}
		(void)host_map_take_exact(&avoid, h);
	}
	if (host_map_take(&avoid, &h) != 0 && host_map_take(&base, &h) != 0)
		return ADDRESS_E_FULL;
	(void)host_map_take_exact(hosts, h);
	hosts->last = h;
	*ret_host = h;
	return 0;
}
