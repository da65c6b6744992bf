/* pool.h - IPv4 prefixes and subnet / host address allocation (pure, no I/O) */
#ifndef VMNET_POOL_H
#define VMNET_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define POOL_SUBNET_LEN 24 /* every dynamic network gets a /24 */

struct prefix4 {
	uint32_t addr; /* host byte order, host bits may be set */
	uint8_t len;   /* 0..32 */
};

enum {
	POOL_E_EXHAUSTED = 200, /* no free subnet or address left */
};

/* "192.168.64.0/18" (a bare address means /32). Return: 0 or -EINVAL. */
int prefix4_parse(const char *s, struct prefix4 *ret);
/* "192.168.64.0/18" into @buf of at least 19 bytes. Return: @buf. */
char *prefix4_format(const struct prefix4 *p, char *buf, size_t size);
/* Address dotted quad into @buf of at least 16 bytes. Return: @buf. */
char *addr4_format(uint32_t addr, char *buf, size_t size);
uint32_t prefix4_mask(uint8_t len);
bool prefix4_overlaps(const struct prefix4 *a, const struct prefix4 *b);
/*
 * The address SLAAC makes from @mac in /64 @prefix by default: the
 * modified EUI-64 (RFC 4291, appendix A) as the interface identifier.
 */
void addr6_eui64(const uint8_t prefix[16], const uint8_t mac[6], uint8_t ret[16]);
/* Whether IPv6 prefixes @a/@alen and @b/@blen overlap (16 bytes each). */
bool prefix6_overlaps(const uint8_t *a, unsigned int alen, const uint8_t *b, unsigned int blen);

/**
 * pool_pick_subnet() - first /24 of @pool that overlaps none of @used
 * @pool:	where subnets come from; must be /24 or wider
 * @used:	prefixes already in use (host addresses, routes, our networks)
 * @ret:	the subnet, with the host bits zero
 *
 * Return: 0, POOL_E_EXHAUSTED, or -EINVAL when @pool is narrower than /24.
 */
int pool_pick_subnet(const struct prefix4 *pool, const struct prefix4 *used, size_t n_used,
		     struct prefix4 *ret);

#define HOST_MAP_PREFIX_MIN 16 /* the widest subnet a host map covers */

/*
 * Host addresses of one network, by host number (address - subnet). A bit
 * set in @used means taken. Zeroed, it is a /24 whose gateway is .1, so
 * .2-.254 go to ports; host_map_init() makes any other. The network and
 * broadcast addresses are never handed out.
 */
struct host_map {
	uint64_t used[(1u << (32 - HOST_MAP_PREFIX_MIN)) / 64];
	unsigned int size; /* addresses in the subnet; 0: a /24 with the gateway .1 */
	unsigned int last; /* last host handed out, for next-fit */
};

/* An empty map of a /@prefix_len (HOST_MAP_PREFIX_MIN..30) with @gateway taken. */
void host_map_init(struct host_map *m, uint8_t prefix_len, unsigned int gateway);

/*
 * Next-fit, so a released address is the last to be handed out again:
 * dnsmasq keeps a released guest's lease until it expires and will not
 * give that address to another MAC before then.
 * Return: 0 with *ret the host number (2..254), or POOL_E_EXHAUSTED.
 */
int host_map_take(struct host_map *m, unsigned int *ret);
/* Return: 0, or POOL_E_EXHAUSTED when @host is already taken or out of range. */
int host_map_take_exact(struct host_map *m, unsigned int host);
void host_map_put(struct host_map *m, unsigned int host);
/* Mark hosts @first to @last taken, whatever they were (a copy's range that ports never get). */
void host_map_mark(struct host_map *m, unsigned int first, unsigned int last);

#endif
