/* bridge.h - the kernel side of a network's bridge: the link, its three addresses, its sysctls */
#ifndef VMNET_BRIDGE_H
#define VMNET_BRIDGE_H

#include <stdbool.h>
#include <stdint.h>

struct netlink;

/* What bridge_create() makes. */
struct bridge_spec {
	const char *name;  /* vmbrN */
	const char *alias; /* NETWORK_ALIAS_PREFIX NAME: marks it as the broker's */
	unsigned int mtu;
	uint8_t mac[6];       /* fixed, so it does not follow its ports */
	uint32_t gateway;     /* host byte order */
	uint8_t prefix_len;   /* of the IPv4 subnet */
	uint8_t gateway6[16]; /* the IPv6 prefix with ::1 */
	uint8_t prefix6_len;
	bool route_localnet; /* 127.0.0.0/8 may be routed to it: port forwards from localhost */
};

/* fe80::/64 with the EUI-64 of @mac: what the kernel would have made. */
void bridge_link_local(const uint8_t mac[6], uint8_t ret[16]);

/**
 * bridge_create() - create the bridge, up, with its gateway addresses
 *
 * The bridge sends its network's router advertisements, so it takes none
 * (accept_ra 0) and the kernel makes no link-local address of its own:
 * the gateway, its IPv6 twin and the link-local address are added in one
 * request. With @s->route_localnet, a connection of the host to
 * 127.0.0.1 that a port forward sends to a guest may leave through it
 * (the nftables table drops anything a guest sends from or to 127.0.0.0/8).
 * Return: 0 with *@ret_ifindex set, or negative errno; nothing is left on failure.
 */
int bridge_create(struct netlink *nl, const struct bridge_spec *s, int *ret_ifindex);

#endif
