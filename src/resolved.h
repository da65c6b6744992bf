/* resolved.h - the host resolves guests' names: per-link DNS and domain in systemd-resolved */
#ifndef VMNET_RESOLVED_H
#define VMNET_RESOLVED_H

#include <stdint.h>
#include <systemd/sd-event.h>

struct resolved;

/**
 * resolved_new() - follow systemd-resolved on the system bus, from @event
 *
 * Nothing is asked of the bus yet: it is connected when the first link
 * is added. A host without a system bus or without systemd-resolved
 * simply gets nothing (docs/design.md, *Names*).
 * Return: 0 or -ENOMEM.
 */
int resolved_new(sd_event *event, struct resolved **ret);
struct resolved *resolved_free(struct resolved *r);

/*
 * Tell systemd-resolved, now and whenever it starts again, that names
 * under @domain are asked of @dns4 (host byte order) port @port (0: 53)
 * on bridge @ifindex (@name, with IPv6 address @addr6), and of nobody
 * else: a routing-only domain, not a default route, no LLMNR or mDNS on
 * the bridge. Only a systemd-resolved of the daemon's own network
 * namespace is told. NULL-safe; failures are logged.
 */
void resolved_link_add(struct resolved *r, int ifindex, const char *name, uint32_t dns4,
		       unsigned int port, const uint8_t addr6[16], const char *domain);
/* The bridge goes: forget it (systemd-resolved forgets a link that is deleted). */
void resolved_link_remove(struct resolved *r, int ifindex);

#endif
