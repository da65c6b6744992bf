/* ra.h - router advertisements for every network, from one raw socket */
#ifndef VMNET_RA_H
#define VMNET_RA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

struct ra;
struct ra_link;

/* What one network's advertisements say, and where they go. */
struct ra_params {
	int ifindex;            /* the bridge */
	uint8_t mac[6];         /* its MAC: the source link-layer address option */
	uint8_t link_local[16]; /* its link-local address: the source */
	uint8_t prefix[16];     /* the /64 guests make SLAAC addresses in */
	uint32_t mtu;
	bool router;      /* a default router (shared); else router lifetime 0 */
	bool dns;         /* announce @dns6 as the DNS server (RDNSS) */
	uint8_t dns6[16]; /* the gateway's IPv6 address, where dnsmasq answers */
};

/* Lifetimes, in seconds, and the intervals between unsolicited RAs. */
/* The longest RFC 4861 allows: a daemon stopped for a while (not just
 * restarted) leaves guests their default route and DNS server 2.5 h. */
#define RA_ROUTER_LIFETIME 9000
#define RA_VALID_LIFETIME 86400 /* a guest keeps its address a day without us */
#define RA_PREFERRED_LIFETIME 14400
#define RA_INTERVAL_MIN_USEC (200 * 1000000ULL)
#define RA_INTERVAL_MAX_USEC (600 * 1000000ULL)
#define RA_INITIAL_COUNT 3                         /* sent faster, after the link appears */
#define RA_INITIAL_INTERVAL_USEC (16 * 1000000ULL) /* at most, between those */
#define RA_MIN_DELAY_USEC (3 * 1000000ULL)         /* between two multicast RAs of a link */

/**
 * ra_new() - open the raw ICMPv6 socket all networks advertise through
 *
 * Needs CAP_NET_RAW, so the daemon calls it before dropping capabilities;
 * sending and joining groups later need none.
 * Return: 0 or negative errno.
 */
int ra_new(sd_event *event, struct ra **ret);
/* Close the socket. Every link must have been freed. */
struct ra *ra_free(struct ra *ra);

/**
 * ra_link_new() - start advertising on a bridge
 *
 * Sends one advertisement now, RA_INITIAL_COUNT more within a minute,
 * then one every 200-600 s, and answers router solicitations (at most
 * one multicast advertisement per RA_MIN_DELAY_USEC).
 * Return: 0 or negative errno.
 */
int ra_link_new(struct ra *ra, const struct ra_params *p, struct ra_link **ret);
/**
 * ra_link_probe() - an echo request to every node of the link, from @src
 *
 * A guest answers from the address it would use to reach @src: the SLAAC
 * address it made in the network's prefix, when @src is the gateway's.
 * To answer, it asks for the gateway's MAC from that address, which puts
 * the address in the host's neighbour table (guest.c reads it there).
 * Return: 0 or negative errno.
 */
int ra_link_probe(struct ra_link *l, const uint8_t src[16]);
/* Stop advertising. No final zero-lifetime RA: the bridge goes next, or
 * (daemon stopping) stays for the next daemon to advertise again. */
struct ra_link *ra_link_free(struct ra_link *l);

/**
 * ra_build() - the router advertisement for @p, without IPv6 header
 * @router_lifetime: seconds
 *
 * The checksum is left zero: the kernel fills it for ICMPv6 raw sockets.
 * Return: its length, or 0 if @size is too small.
 */
size_t ra_build(const struct ra_params *p, uint16_t router_lifetime, uint8_t *buf, size_t size);
/* Whether @buf, from @unspecified_source (::) or not, is a router
 * solicitation to answer (RFC 4861 6.1.1). */
bool ra_is_solicitation(const uint8_t *buf, size_t len, int hop_limit, bool unspecified_source);

#endif
