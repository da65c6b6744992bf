/* address.h - which host address a new port gets: its reservation, or next-fit around the rest (pure) */
#ifndef VMNET_ADDRESS_H
#define VMNET_ADDRESS_H

#include <stdbool.h>
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

/* The dynamic range as host numbers (address - subnet), @first to @last; none when @first is 0. */
struct dhcp_range {
	unsigned int first;
	unsigned int last;
};

/**
 * address_dynamic_range() - the part of a network's subnet its DHCP gives any MAC
 * @c:		its file: `dhcp_range`, when it has one
 * @subnet:	its subnet (host bits zero)
 * @slice:	this host's slice of a span (span.hosts[N].slice); NULL or
 *		zero length: the whole subnet
 * @gateway:	the gateway's host number
 *
 * The file's `dhcp_range` (checked by config_parse()), or the default
 * split: the half of the subnet's host addresses without the gateway (a
 * /24 with its gateway .1: .128-.254), or rather the longest stretch of
 * it that holds no address of a dhcp_reservations entry or a port
 * forward. The other half is what address_take() gives ports. A /30 has
 * room for one guest only: no range. With a @slice, the same inside the
 * slice: the part of the file's range that lies in it, or the half of
 * the slice without the gateway (the upper half when the gateway lies
 * elsewhere), none for a slice of fewer than 8 addresses. Slices never
 * overlap, so no two hosts of a span give the same address.
 */
void address_dynamic_range(const struct network_config *c, const struct prefix4 *subnet,
			   const struct prefix4 *slice, unsigned int gateway, struct dhcp_range *ret);
/*
 * Whether @slice (NULL: the whole subnet) holds an address a port may
 * get: not the gateway, the network or broadcast address, a reserved or
 * forwarded one, or one of @range.
 */
bool address_ports_have_room(const struct network_config *c, const struct prefix4 *subnet,
			     const struct prefix4 *slice, unsigned int gateway,
			     const struct dhcp_range *range);
/* Whether host number @host lies in @r. */
bool address_in_range(const struct dhcp_range *r, unsigned int host);

/**
 * address_names_host() - the host number of @slice's names address, or 0
 *
 * A span's host answers the other hosts' questions for its guests' names
 * at an address of its own slice (span-names.c): the first one a port
 * could have (not the range's of address_dynamic_range(), not fixed,
 * not the gateway, network or broadcast address), as long as another is
 * left for a port. Every host computes every host's from the same file.
 */
unsigned int address_names_host(const struct network_config *c, const struct prefix4 *subnet,
				const struct prefix4 *slice, unsigned int gateway);

/**
 * address_take() - take a host address for a port with @mac in @hosts
 * @c:		the network's file: its dhcp_reservations and port forward targets
 * @subnet:	the network's subnet (host bits zero)
 * @range:	the dynamic range, which is dnsmasq's to give: never a port's
 * @leased:	dnsmasq's unexpired leases (@n_leased of them; none without dnsmasq)
 *
 * A MAC with a dhcp_reservations entry gets that address. Others never
 * get a reserved address, a port forward's internal_address, or one of
 * the dynamic range. Prefers
 * the address dnsmasq still has leased to @mac (a VM coming back gets its
 * address again) and avoids addresses dnsmasq has leased to other MACs,
 * which it would refuse to hand out until they expire; only when nothing
 * else is left does it take one of those. Among the rest, next-fit:
 * host_map_take().
 * Return: 0 with *@ret_host set (and taken in @hosts), ADDRESS_E_FULL or
 * ADDRESS_E_TAKEN.
 */
int address_take(struct host_map *hosts, const struct network_config *c,
		 const struct prefix4 *subnet, const struct dhcp_range *range, const uint8_t mac[6],
		 const struct dhcp_host *leased, size_t n_leased, unsigned int *ret_host);

#endif
