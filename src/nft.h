/* nft.h - the broker's one nftables table (libnftables) */
#ifndef VMNET_NFT_H
#define VMNET_NFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pool.h"
#include "protocol.h"

#define NFT_TABLE "vmnet_broker" /* family inet, and family bridge for spans */
/*
 * Where a network's dnsmasq listens for DNS when a server of the host
 * holds port 53 on the wildcard address (dhcp.c): guests still ask the
 * gateway on 53, and the table redirects that here.
 */
#define NFT_DNS_ALT_PORT 10053

/*
 * A network that spans hosts: what its overlay port may carry. The
 * bridge family's table keeps the distributed gateway local (no ARP, ND,
 * DHCP or router advertisement of it crosses), the inet table takes
 * VXLAN from the span's hosts only.
 */
struct nft_span {
	const char *vxlan;      /* the VXLAN device, a port of the network's bridge */
	uint8_t gateway_mac[6]; /* the bridge's MAC, the same on every host */
	uint8_t link_local[16]; /* the bridge's fe80:: address */
	uint16_t port;          /* UDP port of the underlay */
	const uint32_t *peers;  /* the other hosts' underlay addresses, host byte order */
	size_t n_peers;
	/* Where this host answers the others' questions for names (span-names.c); NULL: nowhere. */
	const char *names_link;
	uint32_t names_address;
	const uint32_t *names_peers; /* the other hosts' names addresses, which may ask it */
	size_t n_names_peers;
};

/* What the rules need to know of one network. Zeroed fields mean the defaults. */
struct nft_network {
	const char *bridge;
	int ifindex; /* the bridge's */
	struct prefix4 subnet;
	uint32_t gateway;     /* host byte order; 0: the subnet's .1 */
	const uint8_t *ula;   /* 16 bytes, the IPv6 prefix; NULL for none */
	uint8_t ula_len;      /* its length; 0 means 64 */
	uint8_t gateway6[16]; /* the bridge's address in it (with ula) */
	bool nat;             /* shared: may go out (NAT or routed); host: no way out */
	bool routed4;         /* shared without nat44: forward, don't masquerade, let in */
	bool routed6;         /* the same for IPv6 (nat66 off) */
	const char *external_interface;      /* NULL or "": out through any interface */
	bool dns_alt_port;                   /* its dnsmasq listens on NFT_DNS_ALT_PORT */
	const struct port_forward *forwards; /* host ports DNATed to guests */
	size_t n_forwards;
	const struct nft_span *span; /* NULL: the network is this host's alone */
};

struct nft;

int nft_new(struct nft **ret);
struct nft *nft_free(struct nft *n);

/**
 * nft_apply() - make table inet vmnet_broker hold the rules for exactly @nets
 *
 * One libnftables batch, so the kernel swaps the whole table atomically:
 * never a moment with the old network's isolation gone and the new one's
 * not yet in place. With @n == 0 the table is removed. Table bridge
 * vmnet_broker, in the same batch, holds the spans' overlay filters, and
 * exists only while a network spans hosts.
 * Return: 0 or negative errno; *@ret_error (malloc'ed) carries nft's words.
 */
int nft_apply(struct nft *n, const struct nft_network *nets, size_t count, char **ret_error);

/**
 * nft_add_network() - add one new network to the table nft_apply() made
 *
 * Its chains and elements only, in one batch: the cost does not grow with
 * the networks already there. Not for a network with port forwards (they
 * live in a shared chain) or a span, nor before nft_apply() made the table.
 * Return: 0, -EAGAIN when nft_apply() must be used instead, or negative
 * errno with *@ret_error as for nft_apply().
 */
int nft_add_network(struct nft *n, const struct nft_network *net, char **ret_error);

/* The batch nft_apply() would run, for tests and logs. Return: malloc'ed text or NULL. */
char *nft_render(const struct nft_network *nets, size_t count);

#endif
