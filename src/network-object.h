/* network-object.h - struct network: what a running network holds, and the lines it logs
 *
 * Apart from network.h so that the files that are network.c's other
 * parts (network-guests.c, network-json.c) see the object without
 * calling back up into network.c, which calls them.
 */
#ifndef VMNET_NETWORK_OBJECT_H
#define VMNET_NETWORK_OBJECT_H

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/queue.h>
#include <systemd/sd-event.h>

#include "address.h"
#include "config.h"
#include "guest.h"
#include "lease.h"
#include "log.h"
#include "names.h"
#include "record.h"

/* Link alias: "vmnet-broker network NAME" marks a network's bridge (and its VXLAN and
 * names links) as the broker's. */
#define NETWORK_ALIAS_PREFIX "vmnet-broker network "

struct network;
struct dhcp_server;
struct dhcp_watch;
struct dnsmasq_env;
struct resolved;
struct forward_table;
struct frr;
struct netlink;
struct ra;
struct ra_link;
struct span;
struct span_place;

/* The owner of @n must remove it: its idle timer fired. */
typedef void (*network_idle_fn)(struct network *n, void *userdata);

/*
 * What a network needs of the daemon around it. The broker owns the one
 * environment, which outlives every network; a network never looks past
 * it (the other networks are the broker's: registry.c).
 */
struct network_env {
	sd_event *event;
	struct netlink *nl;
	struct ra *ra;                  /* the socket all networks advertise through */
	struct forward_table *forwards; /* every forwarded host port, by whom */
	struct dnsmasq_env *dnsmasq;    /* what every dnsmasq is exec'd with */
	struct frr *frr;                /* the broker's part of FRR, for spans' status */
	struct dhcp_watch *dhcp_watch;  /* tells when a dnsmasq's lease file changes */
	struct resolved *resolved;      /* the host's systemd-resolved, told of each domain */
	const char *state_dir;
	const char *resolv_file; /* for dnsmasq; NULL: its default */
	uint64_t idle_timeout_usec;
	unsigned int next_port; /* vmtapN / vmvethN numbering (port_create()) */
	/* port_remove(); NULL is port_remove(). Only the unit tests fail it on purpose. */
	int (*remove_port)(struct netlink *nl, const struct port *p);
	uint64_t next_lease_id; /* above every id on record in the state dir (adopt.c) */
	network_idle_fn on_idle;
	void *userdata;
};

/* Where a network lives: chosen by the caller against every other network (subnet.c). */
struct network_addressing {
	struct prefix4 subnet; /* host bits zero: the file's, or a /24 from the pool */
	uint32_t gateway;      /* host byte order; 0: the subnet's .1, as on every pool subnet */
	uint8_t ula[16];       /* IPv6 prefix: the file's, or a random RFC 4193 /64 */
	uint8_t ula_len;       /* its length; 0 means 64 */
	const struct span_place *span; /* this host's place in the file's span; NULL: none */
	/* Adoption: what the record says runs, when it says; else from the file. */
	bool has_range;
	struct dhcp_range range;
	const char *domain; /* NULL: the file's (config_domain()) */
};

/* A bridge that exists already: what an earlier daemon recorded (adopt.c). */
struct network_bridge {
	char name[IFNAMSIZ];
	int ifindex;
	uint8_t mac[6];
	int vxlan_ifindex; /* its span's VXLAN device, when it is adopted with it; else 0 */
};

struct network {
	struct network_env *env;
	TAILQ_ENTRY(network) link;       /* in the registry (registry.c) */
	LIST_ENTRY(network) bridge_link; /* in its index by bridge */
	struct network_config config;
	char bridge[IFNAMSIZ];
	int bridge_ifindex; /* 0 until the bridge exists */
	uint8_t bridge_mac[6];
	struct prefix4 subnet;
	uint32_t gateway;
	uint8_t ula[16];
	uint8_t ula_len;
	struct host_map hosts;
	struct dhcp_range range;         /* the dynamic range, dnsmasq's to give (address.c) */
	char domain[DNS_DOMAIN_MAX + 1]; /* its guests' names are under it; "": no names */
	struct guest_table guests;       /* what is behind its ports (guest.c) */
	struct name_table names;         /* who is called what (names.c) */
	TAILQ_HEAD(, lease) dirty;       /* ports whose guests changed in this turn of the loop */
	bool all_dirty;                  /* ... every port's: dnsmasq's leases changed */
	bool names_dirty;                /* a claim to a name may have changed */
	sd_event_source *guests_sync;    /* pending: waiters told, names given */
	sd_event_source *probe_timer;    /* armed: ask the link for its SLAAC addresses */
	unsigned int probes_left;        /* after a new MAC came */
	TAILQ_HEAD(, lease) leases;
	size_t n_leases;
	sd_event_source *idle_timer; /* armed while n_leases == 0 */
	bool ever_used;              /* had a lease: idle means "was in use" */
	struct dhcp_server *dhcp;
	struct dhcp_server *names_dns;   /* a span's names server (span-names.c); NULL: none */
	struct names_probe *names_probe; /* which other hosts' names servers answer; NULL: none */
	struct ra_link *ra;              /* router advertisements, when the file wants them */
	sd_event_source *dhcp_sync;      /* pending: dnsmasq learns the reservations */
	struct record record;            /* STATE/NAME.state and .journal */
	struct span *span; /* the overlay to the other hosts; NULL: this host's alone */
	bool adopting;     /* the earlier daemon's record stands until network_adopt_done() */
	bool dns_alt_port; /* a host's DNS server has port 53: dnsmasq on NFT_DNS_ALT_PORT */
};

/* Gateway address, host byte order. */
static inline uint32_t network_gateway(const struct network *n)
{
	return n->gateway ? n->gateway : n->subnet.addr + 1;
}

/* The IPv6 prefix length (ula_len, 64 when unset). */
static inline unsigned int network_prefix6_len(const struct network *n)
{
	return n->ula_len ? n->ula_len : 64;
}

/* The bridge's IPv6 address: the prefix with ::1. */
static inline void network_gateway6(const struct network *n, uint8_t ret[16])
{
	memcpy(ret, n->ula, 16);
	ret[15] = 1;
}

/*
 * Lines about a network: "[network NAME] ...". By name for one that is
 * not (or not yet) running: a file, a record.
 */
#define log_netname_full_errno(name, level, error, fmt, ...) \
	log_named_full_errno("network", (name), (level), (error), fmt, ##__VA_ARGS__)
#define log_netname_full(name, level, fmt, ...) \
	((void)log_netname_full_errno(name, level, 0, fmt, ##__VA_ARGS__))
#define log_netname_info(name, ...) log_netname_full(name, LOG_INFO, __VA_ARGS__)
#define log_netname_notice(name, ...) log_netname_full(name, LOG_NOTICE, __VA_ARGS__)
#define log_netname_warning(name, ...) log_netname_full(name, LOG_WARNING, __VA_ARGS__)
#define log_netname_error(name, ...) log_netname_full(name, LOG_ERR, __VA_ARGS__)
#define log_netname_warning_errno(name, error, ...) \
	log_netname_full_errno(name, LOG_WARNING, error, __VA_ARGS__)
#define log_netname_error_errno(name, error, ...) \
	log_netname_full_errno(name, LOG_ERR, error, __VA_ARGS__)
#define log_network_info(n, ...) log_netname_info((n)->config.name, __VA_ARGS__)
#define log_network_notice(n, ...) log_netname_notice((n)->config.name, __VA_ARGS__)
#define log_network_warning(n, ...) log_netname_warning((n)->config.name, __VA_ARGS__)
#define log_network_error(n, ...) log_netname_error((n)->config.name, __VA_ARGS__)
#define log_network_warning_errno(n, error, ...) \
	log_netname_warning_errno((n)->config.name, error, __VA_ARGS__)
#define log_network_error_errno(n, error, ...) \
	log_netname_error_errno((n)->config.name, error, __VA_ARGS__)

/* Lines about a lease of a network: "[network NAME] uid U pid P label 'L': ...". */
#define log_lease_full_errno(l, level, error, fmt, ...)                              \
	log_netname_full_errno((l)->network->config.name, level, error,              \
			       "uid %u pid %d label '%s': " fmt, (unsigned)(l)->uid, \
			       (int)(l)->pid, (l)->label, ##__VA_ARGS__)
#define log_lease_info(l, fmt, ...) ((void)log_lease_full_errno(l, LOG_INFO, 0, fmt, ##__VA_ARGS__))
#define log_lease_warning_errno(l, error, fmt, ...) \
	log_lease_full_errno(l, LOG_WARNING, error, fmt, ##__VA_ARGS__)

#endif
