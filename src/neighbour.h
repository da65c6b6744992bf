/* neighbour.h - the bridges' forwarding databases and the neighbour table, followed over rtnetlink */
#ifndef VMNET_NEIGHBOUR_H
#define VMNET_NEIGHBOUR_H

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

struct neighbour;

/* One change, or one entry of a dump. */
struct neighbour_event {
	bool fdb;         /* a bridge learned (@added) or forgot @mac behind port @ifindex */
	bool added;       /* fdb: learned; neighbour: the table has @addr at @mac */
	int family;       /* neighbour: AF_INET or AF_INET6 */
	int ifindex;      /* fdb: the port; neighbour: the interface, a bridge of ours or not */
	uint8_t mac[6];   /* set when @added */
	uint8_t addr[16]; /* neighbour: network byte order, 4 bytes for AF_INET */
};

typedef void (*neighbour_fn)(void *userdata, const struct neighbour_event *e);
/* Events were lost (the socket overran): what was said may be wrong; a dump follows. */
typedef void (*neighbour_resync_fn)(void *userdata);

/**
 * neighbour_new() - subscribe to RTNLGRP_NEIGH on @event, on a socket of its own
 *
 * Needs CAP_NET_ADMIN for its receive buffer; the daemon opens it before
 * dropping capabilities. A socket filter keeps out what the daemon never
 * needs, in the kernel (neighbour.c says what).
 * Return: 0 or negative errno.
 */
int neighbour_new(sd_event *event, neighbour_fn fn, neighbour_resync_fn resync, void *userdata,
		  struct neighbour **ret);
struct neighbour *neighbour_free(struct neighbour *nb);
/*
 * Read every bridge's forwarding database, then the neighbour table,
 * through the same callback, asynchronously. Return: 0 or negative errno.
 */
int neighbour_dump(struct neighbour *nb);

#endif
