/* network.h - a named network's lifecycle: bridge, rules, dnsmasq, leases, idle removal */
#ifndef VMNET_NETWORK_H
#define VMNET_NETWORK_H

#include <jansson.h>
#include <net/if.h>
#include <stdbool.h>
#include <sys/queue.h>
#include <sys/types.h>

#include "broker.h"
#include "config.h"
#include "pool.h"

struct network {
	struct broker *broker;
	TAILQ_ENTRY(network) link;
	struct network_config config;
	char bridge[IFNAMSIZ];
	int bridge_ifindex;    /* 0 until the bridge exists */
	struct prefix4 subnet; /* host bits zero: the file's, or a /24 from the pool */
	uint32_t gateway;      /* host byte order; 0: the subnet's .1, as on every pool subnet */
	uint8_t ula[16];       /* IPv6 prefix: the file's, or a random RFC 4193 /64 */
	uint8_t ula_len;       /* its length; 0 means 64 */
	uint8_t bridge_mac[6];
	struct host_map hosts;
	TAILQ_HEAD(, lease) leases;
	size_t n_leases;
	sd_event_source *idle_timer; /* armed while n_leases == 0 */
	bool ever_used;              /* had a lease: idle means "was in use" */
	struct dhcp_server *dhcp;
	struct ra_link *ra;         /* router advertisements, when the file wants them */
	sd_event_source *dhcp_sync; /* pending network_sync_dhcp() */
	/* The record in the state dir (network_save()): */
	int journal_fd;          /* STATE/NAME.journal, open from the first snapshot on */
	size_t journal_lines;    /* lease changes appended since that snapshot */
	pid_t saved_dnsmasq_pid; /* as the snapshot says */
	bool adopting;           /* the earlier daemon's record stands until network_adopt_done() */
};

/* Bridge alias: "vmnet-broker network NAME" marks a bridge as the broker's. */
#define NETWORK_ALIAS_PREFIX "vmnet-broker network "

struct state_network;

enum {
	NETWORK_E_POOL_EXHAUSTED = 1, /* no free /24 left in the pool */
	NETWORK_E_NO_ADDRESS,         /* every host address of the subnet is taken */
	NETWORK_E_ADDRESS_TAKEN,      /* the MAC's reserved address is held by another port */
	NETWORK_E_SUBNET_IN_USE, /* the file's subnet overlaps an address or route of the host */
	NETWORK_E_SUBNET_TAKEN,  /* ... or another running network */
	NETWORK_E_PREFIX_TAKEN,  /* the file's ipv6_prefix overlaps another running network */
	NETWORK_E_FORWARD_TAKEN, /* a port the file forwards is forwarded already */
};

/**
 * network_acquire() - the running network @c->name, created if needed
 *
 * The network has its idle timer armed until a lease is added (a new one,
 * or one whose last lease ended): the caller adds a lease, or lets the
 * timer remove it, so a failed port never leaves a network behind. A
 * persistent network has no idle timer. A running network is returned
 * as it is, even when its file changed since: that applies when it is
 * next created. @c is copied.
 * Return: 0, NETWORK_E_POOL_EXHAUSTED, NETWORK_E_SUBNET_IN_USE,
 * NETWORK_E_SUBNET_TAKEN, NETWORK_E_PREFIX_TAKEN, NETWORK_E_FORWARD_TAKEN,
 * or negative errno (creation failed, nothing left behind).
 */
int network_acquire(struct broker *b, const struct network_config *c, struct network **ret);
struct network *network_find(struct broker *b, const char *name);
/* Tear down: dnsmasq, leases and their ports, rules, bridge. */
struct network *network_free(struct network *n);
/*
 * The daemon stops but guests stay: forget @n and leave its bridge, ports,
 * rules and dnsmasq running, its state file on disk for the next daemon.
 */
struct network *network_abandon(struct network *n);
/**
 * network_adopt() - take over a network an earlier daemon left, from its record
 *
 * The bridge must exist (the caller checked). Leases are adopted by the
 * caller afterwards; then network_adopt_done() starts dnsmasq.
 * Return: 0 or negative errno.
 */
int network_adopt(struct broker *b, const struct state_network *rec, struct network **ret);
int network_adopt_done(struct network *n, pid_t stale_dnsmasq);
/*
 * Record @n in the state dir: a snapshot of it and all its leases, and
 * an empty journal (network_lease_added() and network_lease_removed()
 * append to it). Return: 0 or negative errno (logged).
 */
int network_save(struct network *n);
/* Rewrite the nftables table for every network of @b. */
int network_apply_firewall(struct broker *b);

/* Leases call these so the network knows when it is idle; both record the change. */
void network_lease_added(struct network *n, struct lease *l);
void network_lease_removed(struct network *n, struct lease *l);
/**
 * network_take_address() - reserve a host address for @mac
 *
 * A MAC with a dhcp_reservations entry gets that address. Others never
 * get a reserved address or a port forward's internal_address. Prefers
 * the address dnsmasq still has leased to @mac (a VM coming back gets its
 * address again) and avoids addresses dnsmasq has leased to other MACs,
 * which it would refuse to hand out until they expire.
 * Return: 0 with *@ret_host set, NETWORK_E_NO_ADDRESS, or
 * NETWORK_E_ADDRESS_TAKEN (@mac's reserved address is held).
 */
int network_take_address(struct network *n, const uint8_t mac[6], unsigned int *ret_host);
void network_put_address(struct network *n, unsigned int host);
/* Return: 0, or NETWORK_E_NO_ADDRESS when @host is taken or out of range. */
int network_take_exact_address(struct network *n, unsigned int host);
/* Push the current reservations to dnsmasq. Return: 0 or negative errno. */
int network_sync_dhcp(struct network *n);
/* The same, soon after the current request (failures are logged). */
void network_schedule_dhcp_sync(struct network *n);
/**
 * network_start_dhcp() - start @n's dnsmasq if it wants one and has none
 *
 * Called once the first lease has its reservation, so dnsmasq starts
 * with it in its hosts file and the first DHCPDISCOVER is answered;
 * returns once dnsmasq listens (or gave up waiting, see dhcp.c).
 * Return: 0 or negative errno.
 */
int network_start_dhcp(struct network *n);

/* Gateway address, host byte order. */
uint32_t network_gateway(const struct network *n);
/* The IPv6 prefix length (ula_len, 64 when unset). */
unsigned int network_prefix6_len(const struct network *n);
/* The bridge's IPv6 address: the prefix with ::1. */
void network_gateway6(const struct network *n, uint8_t ret[16]);
/* {"name", "mode", "bridge", "subnet", "mask", "ipv6_prefix", "prefix_len", "mtu"} */
json_t *network_to_json(const struct network *n);
/* network_to_json() plus state and leases, as `status` shows them to @uid. */
json_t *network_status_json(const struct network *n, uid_t uid);

#endif
