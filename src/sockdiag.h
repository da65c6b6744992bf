/* sockdiag.h - the host's own sockets: the ports its services use (NETLINK_SOCK_DIAG) */
#ifndef VMNET_SOCKDIAG_H
#define VMNET_SOCKDIAG_H

#include <stdbool.h>
#include <stdint.h>

#include "protocol.h"

/* One bit per port, 0-65535. */
struct port_set {
	uint8_t bits[65536 / 8];
};

static inline bool port_set_has(const struct port_set *s, uint16_t port)
{
	return s->bits[port / 8] & (1u << (port % 8));
}

/**
 * sockdiag_ports_in_use() - the ports a socket of this namespace holds for @proto
 *
 * TCP: listening sockets; UDP: every bound socket (a UDP service has no
 * listening state). IPv4 and IPv6 (a v6 wildcard socket takes v4 too),
 * on any local address, loopback included.
 * Return: 0 with *@ret filled, or negative errno.
 */
int sockdiag_ports_in_use(enum forward_protocol proto, struct port_set *ret);

/**
 * sockdiag_wildcard_listener() - does a TCP socket listen on port @port of the wildcard address?
 *
 * 0.0.0.0 or ::, as a DNS server of the host that serves every interface
 * (a dnsmasq with Debian's empty dnsmasq.conf). Then no other socket can
 * listen on a specific address at that port, whatever its options.
 * Return: 1, 0, or negative errno.
 */
int sockdiag_wildcard_listener(uint16_t port);

#endif
