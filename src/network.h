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
#include "network-guests.h"
#include "network-json.h"
#include "network-object.h"
#include "record.h"

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
	bool names;       /* a span's names link came up: both firewalls must take it in */
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
 * network_start_span() - connect @n to the other hosts of its span
 *
 * Its VXLAN device, created and made a port of the bridge. Call once the
 * firewall holds the span's filter: frames cross from then on. Nothing
 * to do for a network that does not span hosts.
 * Return: 0 or negative errno (nothing left of the device).
 */
int network_start_span(struct network *n);
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

/* Whether @n spans hosts with BGP EVPN: FRR holds part of it. */
bool network_is_evpn(const struct network *n);

#endif
