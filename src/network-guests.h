/* network-guests.h - network.c's other half: a network's guests and their names
 *
 * Not a module of its own: the fields of struct network it keeps (domain,
 * guests, names, dirty, guests_sync, probe_timer) belong to the network
 * as much as its leases do, and only network.c calls these.
 */
#ifndef VMNET_NETWORK_GUESTS_H
#define VMNET_NETWORK_GUESTS_H

#include "network.h"

struct dhcp_server;

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

#endif
