/* address.c - which host address a new port gets: its reservation, or next-fit around the rest (pure)
 *
 * dnsmasq serves exactly the reservations the daemon writes to its hosts
 * file (static mode), so the address a port gets here is the one its
 * guest's DHCP finds. docs/design.md, *Addresses*, says why next-fit and
 * why dnsmasq's own lease file is read.
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

int address_take(struct host_map *hosts, const struct network_config *c,
		 const struct prefix4 *subnet, const uint8_t mac[6], const struct dhcp_host *leased,
		 size_t n_leased, unsigned int *ret_host)
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
