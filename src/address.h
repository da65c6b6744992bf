/* address.h - which host address a new port gets: its reservation, or next-fit around the rest (pure) */
#ifndef VMNET_ADDRESS_H
#define VMNET_ADDRESS_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "dhcp.h"
#include "pool.h"

/* Codes of their own range (util.h). */
enum {
	ADDRESS_E_FULL = 600, /* every host address of the subnet is taken */
	ADDRESS_E_TAKEN,      /* the MAC's reserved address is held by another port */
};

/**
 * address_take() - take a host address for a port with @mac in @hosts
 * @c:		the network's file: its dhcp_reservations and port forward targets
 * @subnet:	the network's subnet (host bits zero)
 * @leased:	dnsmasq's unexpired leases (@n_leased of them; none without dnsmasq)
 *
 * A MAC with a dhcp_reservations entry gets that address. Others never
 * get a reserved address or a port forward's internal_address. Prefers
 * the address dnsmasq still has leased to @mac (a VM coming back gets its
 * address again) and avoids addresses dnsmasq has leased to other MACs,
 * which it would refuse to hand out until they expire; only when nothing
 * else is left does it take one of those. Among the rest, next-fit:
 * host_map_take().
 * Return: 0 with *@ret_host set (and taken in @hosts), ADDRESS_E_FULL or
 * ADDRESS_E_TAKEN.
 */
int address_take(struct host_map *hosts, const struct network_config *c,
		 const struct prefix4 *subnet, const uint8_t mac[6], const struct dhcp_host *leased,
		 size_t n_leased, unsigned int *ret_host);

#endif
