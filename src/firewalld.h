/* firewalld.h - the broker's bridges in a firewalld zone of its own, over D-Bus */
#ifndef VMNET_FIREWALLD_H
#define VMNET_FIREWALLD_H

#include <stdbool.h>
#include <stddef.h>
#include <systemd/sd-event.h>

/* The zone, as firewalld/vmnet-broker.xml ships it (and firewalld_new() makes it if missing). */
#define FIREWALLD_ZONE "vmnet-broker"

enum firewalld_event {
	FIREWALLD_UP,         /* firewalld is on the bus (at start, or it started) */
	FIREWALLD_DOWN,       /* it left the bus */
	FIREWALLD_RELOADED,   /* it reloaded and forgot its runtime interfaces: we put them back */
	FIREWALLD_ZONE_ADDED, /* our zone was missing: we added it (permanent) and reloaded */
	FIREWALLD_BOUND,      /* @detail: an interface is in our zone now */
	FIREWALLD_ERROR,      /* @detail: a call failed, in firewalld's words */
	_FIREWALLD_EVENT_MAX,
};

typedef void (*firewalld_fn)(enum firewalld_event e, const char *detail, void *userdata);

struct firewalld;

/**
 * firewalld_new() - watch for firewalld on the system bus
 *
 * Follows firewalld coming, going and reloading; whenever it is there,
 * every interface of firewalld_set_interfaces() is put into the zone.
 * $DBUS_SYSTEM_BUS_ADDRESS is honoured (sd-bus).
 * Return: 0, or negative errno when there is no system bus (so no firewalld).
 */
int firewalld_new(sd_event *event, firewalld_fn fn, void *userdata, struct firewalld **ret);
struct firewalld *firewalld_free(struct firewalld *fw);

/* Whether firewalld is on the bus now. */
bool firewalld_running(const struct firewalld *fw);
/* Whether our zone was there at the last look. */
bool firewalld_zone_present(const struct firewalld *fw);
/* The interfaces firewalld confirmed in our zone since it last (re)started or reloaded. */
size_t firewalld_bound(const struct firewalld *fw, const char *const **ret);

/**
 * firewalld_set_interfaces() - exactly @ifnames are to be in our zone
 *
 * Asynchronous: new ones are put in (changeZoneOfInterface, which takes
 * them from any other zone), ones no longer listed are taken out.
 * Return: 0 or -ENOMEM.
 */
int firewalld_set_interfaces(struct firewalld *fw, const char *const *ifnames, size_t n);
/* Take every interface out of the zone now, waiting for firewalld (the daemon's last steps). */
void firewalld_release_all(struct firewalld *fw);

#endif
