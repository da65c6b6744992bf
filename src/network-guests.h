/* network-guests.h - network.c's other half: a network's guests and their names
 *
 * Not a module of its own: the fields of struct network it keeps (domain,
 * guests, names, dirty, guests_sync, probe_timer) belong to the network
 * as much as its leases do. The kernel's news about guests (the first
 * five) come from anywhere through network.h; only network.c calls the
 * rest.
 */
#ifndef VMNET_NETWORK_GUESTS_H
#define VMNET_NETWORK_GUESTS_H

#include "network-object.h"

struct dhcp_server;

/* The bridge learned @mac behind @l's port (@added), or forgot it. */
void network_fdb_event(struct network *n, struct lease *l, const uint8_t mac[6], bool added);
/*
 * The bridge learned @mac behind its span's VXLAN device: a guest of
 * another host. A guest that was behind one of @n's ports has moved
 * there (a migrated VM): it is no longer on this bridge.
 */
void network_fdb_overlay(struct network *n, const uint8_t mac[6]);
/* The neighbour table has @addr (AF_INET or AF_INET6) at @mac on the bridge, or (@mac NULL) not. */
void network_neigh_event(struct network *n, int family, const uint8_t addr[16], const uint8_t *mac);
/* Forget what the bridge and the neighbour table said: they are about to be read whole. */
void network_forget_kernel_view(struct network *n);
/* The address of the guest behind @l's port (guest_port_address()); 0: none known yet. */
uint32_t network_port_address(const struct network *n, const struct lease *l);

/* dnsmasq's lease file changed (struct dhcp_params's on_leases; @userdata: the network). */
void network_guests_dhcp_leases(struct dhcp_server *s, void *userdata);
/* @l joined @n: its label may name its guest, a claim decided after this turn. */
void network_guests_lease_added(struct network *n, struct lease *l);
/* @l leaves @n: its guests are behind no port, its waiters hear it ended, its names go. */
void network_guests_lease_gone(struct network *n, struct lease *l);
/* Set up @n's tables of guests and names, empty. */
void network_guests_init(struct network *n);
/* Stop what runs on its own: the timers, resolved's link (the tables stay, as the leases do). */
void network_guests_stop(struct network *n);
/* Free @n's tables of guests and names. */
void network_guests_clear(struct network *n);
/* @n's domain: @recorded (a record's), else its file's or the default; none without DNS. */
void network_guests_set_domain(struct network *n, const char *recorded);
/* Tell systemd-resolved that names under @n's domain are asked of its dnsmasq. */
void network_guests_register_domain(struct network *n);

struct dhcp_params;
/*
 * A span's names across hosts (span-names.c), as @n's dnsmasq starts:
 * first the names link (whether it is up: then the dnsmasq asks the other
 * hosts), then, with the dnsmasq's @p, the names server. Failures are
 * logged: the network works, its guests know their own host's names only.
 */
bool network_guests_names_up(struct network *n);
void network_guests_names_start(struct network *n, const struct dhcp_params *p);

#endif
