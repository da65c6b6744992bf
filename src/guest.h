/* guest.h - the guests behind a network's ports: their MACs, addresses and host names (pure) */
#ifndef VMNET_GUEST_H
#define VMNET_GUEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "dhcp.h"
#include "dns-name.h"

struct lease;

#define GUEST_PORT_MACS_MAX 16 /* MACs followed behind one port: a VM, its containers, its VMs */
#define GUEST_ADDRS_MAX 8      /* neighbour-table addresses followed per MAC and family */
#define GUEST_BUCKETS 256

/* An address the host's neighbour table has for a guest's MAC. */
struct guest_addr {
	LIST_ENTRY(guest_addr) hash_link;   /* in the table's index by address */
	TAILQ_ENTRY(guest_addr) guest_link; /* its guest's, oldest first */
	struct guest *guest;
	int family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
};

/*
 * One MAC on a network's bridge, or in its dnsmasq's leases: whatever a
 * guest (a VM, or a container or VM inside one) uses. It exists while
 * the bridge has it (its forwarding database), or dnsmasq has a lease for
 * it, or the neighbour table an address.
 */
struct guest {
	uint8_t mac[6];
	LIST_ENTRY(guest) hash_link; /* in the table's index by MAC */
	LIST_ENTRY(guest) port_link; /* in its port's list (lease->guests) */
	struct lease *port;          /* the port it was last seen behind; NULL: none known */
	bool on_bridge;              /* the bridge has it now, behind @port */
	uint32_t dhcp_address;       /* dnsmasq's lease; 0: none */
	uint64_t dhcp_seq;           /* when that lease (this MAC, this address) was first seen */
	/* The host name it sent in DHCP; kept while the lease lasts, even
	 * when dnsmasq drops it (dhcp.c, names.c). "" for none. */
	char hostname[DNS_LABEL_MAX + 2];
	bool dhcp_mark;       /* for guest_dhcp_sync()'s sweep */
	bool hostname_logged; /* said once that @hostname is no DNS name */
	TAILQ_HEAD(, guest_addr) addrs;
	unsigned int n_addrs[2]; /* IPv4, IPv6 */
};

struct guest_table {
	LIST_HEAD(, guest) by_mac[GUEST_BUCKETS];
	LIST_HEAD(, guest_addr) by_addr[GUEST_BUCKETS];
	size_t n;
	uint64_t seq; /* of the last DHCP lease seen */
};

/* Codes of their own range (util.h). */
enum {
	GUEST_E_PORT_FULL = 1000, /* GUEST_PORT_MACS_MAX MACs are behind the port already */
};

void guest_table_init(struct guest_table *t);
/* Free every guest; the leases' lists are left alone (their leases go too). */
void guest_table_clear(struct guest_table *t);

struct guest *guest_find(const struct guest_table *t, const uint8_t mac[6]);

/**
 * guest_fdb_add() - the bridge learned @mac behind port @l (or moved it there)
 * Return: 0, or GUEST_E_PORT_FULL (nothing changed: the port has its
 * GUEST_PORT_MACS_MAX), or -ENOMEM.
 */
int guest_fdb_add(struct guest_table *t, const uint8_t mac[6], struct lease *l);
/* The bridge forgot @mac behind @l (aged out, or the port went). */
void guest_fdb_del(struct guest_table *t, const uint8_t mac[6], struct lease *l);
/**
 * guest_neigh_set() - the neighbour table has @addr at @mac, or (@mac NULL) not
 *
 * An address follows its MAC: one the table moves to another MAC leaves
 * the first. Only MACs known here count; a MAC's oldest address gives way
 * past GUEST_ADDRS_MAX.
 * Return: 0 or -ENOMEM.
 */
int guest_neigh_set(struct guest_table *t, int family, const uint8_t addr[16], const uint8_t *mac,
		    struct lease **ret_was);
/**
 * guest_dhcp_sync() - dnsmasq's leases are now @v (@n of them, newest first)
 *
 * Each MAC gets its lease's address and host name; a lease seen for the
 * first time (a MAC with a new address) counts as newer than all before.
 * Guests whose lease is gone lose it. Return: 0 or -ENOMEM.
 */
int guest_dhcp_sync(struct guest_table *t, const struct dhcp_host *v, size_t n);
/* Port @l ends: its guests are behind no known port now (and go if nothing else holds them). */
void guest_port_gone(struct guest_table *t, struct lease *l);
/* Forget what the bridge and the neighbour table said (they are read again whole). */
void guest_forget_kernel(struct guest_table *t);

/**
 * guest_port_address() - the IPv4 address of the guest behind port @l
 *
 * Of its guests' DHCP leases the one seen first most recently: a guest
 * that changed its MAC (or the last guest to come) is what the port
 * shows. Without a lease, a neighbour-table address, the port's own MAC's
 * first. Return: the address, host byte order, or 0 when none is known.
 */
uint32_t guest_port_address(const struct lease *l);
/* Whether @g has IPv4 address @a (DHCP or neighbour table). */
bool guest_has_ipv4(const struct guest *g, uint32_t a);

/* {"mac", "on_bridge", "ipv4": [...], "ipv6": [...], "hostname"?}: NULL on OOM. */
json_t *guest_to_json(const struct guest *g);

#endif
