/* network.h - a named network: its bridge, dnsmasq, idle timer, and the leases it owns */
#ifndef VMNET_NETWORK_H
#define VMNET_NETWORK_H

#include <jansson.h>
#include <net/if.h>
#include <stdbool.h>
#include <sys/queue.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "address.h"
#include "config.h"
#include "guest.h"
#include "lease.h"
#include "log.h"
#include "names.h"
#include "pool.h"
#include "record.h"

struct network;
struct dhcp_server;
struct dhcp_watch;
struct dnsmasq_env;
struct resolved;
struct forward_table;
struct netlink;
struct ra;
struct ra_link;

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
	struct ra_link *ra;         /* router advertisements, when the file wants them */
	sd_event_source *dhcp_sync; /* pending: dnsmasq learns the reservations */
	struct record record;       /* STATE/NAME.state and .journal */
	bool adopting;     /* the earlier daemon's record stands until network_adopt_done() */
	bool dns_alt_port; /* a host's DNS server has port 53: dnsmasq on NFT_DNS_ALT_PORT */
};

/* Bridge alias: "vmnet-broker network NAME" marks a bridge as the broker's. */
#define NETWORK_ALIAS_PREFIX "vmnet-broker network "

/* Codes of their own range (util.h). */
enum {
	NETWORK_E_POOL_EXHAUSTED = 700, /* no free /24 left in the pool */
	NETWORK_E_SUBNET_IN_USE, /* the file's subnet overlaps an address or route of the host */
	NETWORK_E_SUBNET_TAKEN,  /* ... or another running network */
	NETWORK_E_PREFIX_TAKEN,  /* the file's ipv6_prefix overlaps another running network */
	NETWORK_E_FORWARD_TAKEN, /* a port the file or the acquire forwards is forwarded already */
	NETWORK_E_MAC_TAKEN,     /* another port on the network has that MAC */
	NETWORK_E_NO_ADDRESS,    /* every host address of the subnet is taken */
	NETWORK_E_ADDRESS_TAKEN, /* the MAC's reserved address is held by another port */
	NETWORK_E_FORWARD_HOST_ONLY,  /* port_forwards on a host-only network */
	NETWORK_E_FORWARD_NO_ADDRESS, /* port_forwards, but the port gets no address (no DHCP) */
	NETWORK_E_FORWARDS_FULL,   /* a lease would forward more than REQUEST_FORWARDS_MAX ports */
	NETWORK_E_FORWARD_UNKNOWN, /* forward_remove: the lease does not forward that port */
};

/* A sentence for a person, for a code of network_add_lease(). */
const char *network_error_to_string(int code);

/* What a change to a network means for the rest of the daemon. */
struct network_change {
	bool firewall;    /* port forwards came or went: the nftables table must be rewritten */
	bool dhcp_failed; /* the first lease's dnsmasq did not start: the lease was not added */
	bool removing;    /* a lease's port could not be removed: it stays, and is tried again */
};

/**
 * network_new() - create network @c: its bridge, router advertisements, idle timer
 * @a:		its addresses, checked against the other networks (subnet_choose())
 * @bridge:	a free name for the bridge
 *
 * @c's port_forwards must be free (forward_table_owner()); they are
 * claimed here. The idle timer is armed until a lease is added: the
 * caller adds one, or lets the timer remove the network, so a failed port
 * never leaves a network behind. A persistent network has none. dnsmasq
 * starts with the first lease (network_add_lease()). @c is copied.
 * Return: 0 or negative errno (nothing left behind).
 */
int network_new(struct network_env *env, const struct network_config *c,
		const struct network_addressing *a, const char *bridge, struct network **ret);
/**
 * network_adopt() - a network an earlier daemon left: its bridge @br exists
 *
 * Nothing is recorded until network_adopt_done(): the record of the
 * earlier daemon stands meanwhile. Its leases are added with
 * network_add_lease() (no @spec: their ports exist). @c is moved in.
 * Return: 0 or negative errno.
 */
int network_adopt(struct network_env *env, struct network_config *c,
		  const struct network_addressing *a, const struct network_bridge *br,
		  struct network **ret);
/**
 * network_adopt_done() - the adopted network runs as if it were ours from the start
 *
 * Router advertisements again, a dnsmasq of ours, the idle timer if it
 * has no lease, and a snapshot of it all.
 * Return: 0 or negative errno (dnsmasq did not start).
 */
int network_adopt_done(struct network *n);
/*
 * Tear down in reverse order: dnsmasq, router advertisements, leases and
 * their ports, the record, the bridge. The caller took it out of the
 * registry and rewrites the firewall after. NULL-safe, for half-built ones.
 */
struct network *network_free(struct network *n);
static inline void network_freep(struct network **n)
{
	network_free(*n);
}
/*
 * The daemon stops but guests stay: forget @n and leave its bridge, ports
 * and dnsmasq running, its record complete in the snapshot for the next daemon.
 */
struct network *network_abandon(struct network *n);

/**
 * network_add_lease() - make @l one of @n's leases
 * @spec:	the port to create for it (bridge, MTU, alias and MAC are filled
 *		here); NULL for an adopted lease, whose port exists
 * @ret_fds:	a PORT_TAP's queue fds; may be NULL without @spec
 * @ret_change:	what the caller must do for the rest of the daemon
 *
 * In order: its MAC must be unique on @n; with DHCP it gets an address
 * (an adopted lease its own); its port_forwards need a shared network,
 * an address, and free host ports; its port is created. Then it is
 * linked and counted, the idle timer stops, it is recorded before the
 * reply leaves, dnsmasq learns its reservation after this turn of the
 * loop, and the network's first lease starts dnsmasq.
 * Return: 0 (@n owns @l), a NETWORK_E_* code, PORT_E_IFNAME_TAKEN, or
 * negative errno (@l is still the caller's, and nothing of it is left).
 */
int network_add_lease(struct network *n, struct lease *l, const struct port_spec *spec,
		      struct tap_fds *ret_fds, struct network_change *ret_change);
/**
 * network_remove_lease() - end @l: its port (what of it is ours), its address, its forwards
 *
 * It is recorded, dnsmasq forgets it after this turn of the loop, and
 * the last lease arms the idle timer. @l is freed. If its port cannot be
 * removed, @l stays instead, @l->removing (shown in `status`): off the
 * record, its forwards gone, no longer its client's, but on the network
 * with its port and address, counting against its user; the caller tries
 * again later (the same call), and the link monitor ends it once the
 * port is gone.
 * Return: true when @l ended (and is freed), false when it is removing.
 */
bool network_remove_lease(struct network *n, struct lease *l, struct network_change *ret_change);

/*
 * End @l because its owner or root asked: as network_remove_lease(), and
 * a plain TAP that a VM still holds is taken off the bridge first.
 * Return: as network_remove_lease().
 */
bool network_release_lease(struct network *n, struct lease *l, struct network_change *ret_change);

/**
 * network_add_forwards() - forward @v (@count host ports) to lease @l as well
 *
 * Checked as an acquire's port_forwards are (a shared network, an
 * address, free host ports), and at most REQUEST_FORWARDS_MAX per lease.
 * Then claimed and recorded; the caller rewrites the firewall
 * (@ret_change) and, if that fails, takes them back with
 * network_remove_forwards().
 * Return: 0, NETWORK_E_FORWARD_HOST_ONLY, NETWORK_E_FORWARD_NO_ADDRESS,
 * NETWORK_E_FORWARD_TAKEN, NETWORK_E_FORWARDS_FULL, or -ENOMEM (nothing changed).
 */
int network_add_forwards(struct network *n, struct lease *l, const struct port_forward *v,
			 size_t count, struct network_change *ret_change);
/**
 * network_remove_forwards() - stop forwarding the host ports of @v (@count) to @l
 *
 * All or nothing: each must be one of @l's.
 * Return: 0, or NETWORK_E_FORWARD_UNKNOWN with *@ret_unknown the first that is not.
 */
int network_remove_forwards(struct network *n, struct lease *l, const struct port_forward *v,
			    size_t count, const struct port_forward **ret_unknown,
			    struct network_change *ret_change);

/**
 * network_start_dhcp() - start @n's dnsmasq if it wants one and has none
 *
 * Returns once dnsmasq listens (or gave up waiting, see dhcp.c). A
 * network starts it with its first lease, so its first DHCPDISCOVER is
 * answered; a persistent one at creation.
 * Return: 0 or negative errno.
 */
int network_start_dhcp(struct network *n);

/* What is behind its ports, in network-guests.c. */

/* The bridge learned @mac behind @l's port (@added), or forgot it. */
void network_fdb_event(struct network *n, struct lease *l, const uint8_t mac[6], bool added);
/* The neighbour table has @addr (AF_INET or AF_INET6) at @mac on the bridge, or (@mac NULL) not. */
void network_neigh_event(struct network *n, int family, const uint8_t addr[16], const uint8_t *mac);
/* Forget what the bridge and the neighbour table said: they are about to be read whole. */
void network_forget_kernel_view(struct network *n);
/* The address of the guest behind @l's port (guest_port_address()); 0: none known yet. */
uint32_t network_port_address(const struct network *n, const struct lease *l);

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
/*
 * The snapshot of @n in the state dir (record.c writes it): the bridge,
 * addresses, dnsmasq's pid and every lease, all or nothing; NULL on OOM.
 */
json_t *network_record_json(const struct network *n);
/* A lease as `status` shows it to @uid: with its guests and names when it is @uid's (or root's). */
json_t *network_lease_json(const struct network *n, const struct lease *l, uid_t uid);

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
