/* forward.h - host ports forwarded to guests: who holds which, and how they read */
#ifndef VMNET_FORWARD_H
#define VMNET_FORWARD_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "access.h"
#include "config.h"
#include "protocol.h"

struct network;

/* Why a lease may not have a host port forwarded: codes of their own range (util.h). */
enum {
	FORWARD_E_CLOSED = 900,  /* the file's lease_port_forwards says "allowed": false */
	FORWARD_E_NOT_LISTED,    /* the peer is not in its allowed_users or allowed_groups */
	FORWARD_E_PRIVILEGED,    /* below net.ipv4.ip_unprivileged_port_start (no port_range) */
	FORWARD_E_OUT_OF_RANGE,  /* outside its port_range */
	FORWARD_E_RESERVED,      /* a valid network file forwards the port, running or not */
	FORWARD_E_HOST_LISTENER, /* a service of the host listens on it */
};

/**
 * forward_policy_check() - may @peer, not root, have host port @f forwarded to its lease?
 * @lf:		the network file's lease_port_forwards (all zero: the default)
 * @unpriv_start: net.ipv4.ip_unprivileged_port_start: without a port_range,
 *		a member may forward what it may bind itself, and no more
 *
 * Root is never bound by it: the caller does not ask for root. Whether the
 * port is free is not asked here (forward_table_owner(), sockdiag.c).
 * Return: 0, FORWARD_E_CLOSED, FORWARD_E_NOT_LISTED, FORWARD_E_PRIVILEGED
 * or FORWARD_E_OUT_OF_RANGE.
 */
int forward_policy_check(const struct lease_forwards *lf, const struct access_peer *peer,
			 const struct port_forward *f, unsigned int unpriv_start);

/* One forwarded host port, and who holds it. */
struct forward_claim {
	enum forward_protocol protocol;
	uint16_t external_port;
	struct network *owner; /* the network it forwards into; never followed here */
	const void *holder;    /* the network itself (its file's forwards) or one of its leases */
};

/*
 * Every host port the running networks forward, by their files and by
 * their leases: one host port goes to one guest. The broker owns the one
 * table; networks claim their ports in it as they are created and as
 * leases come, and give them back as they go.
 */
struct forward_table {
	struct forward_claim *v;
	size_t n, allocated;
};

void forward_table_done(struct forward_table *t);
/* The network that forwards host port @port/@proto, or NULL when it is free. */
struct network *forward_table_owner(const struct forward_table *t, enum forward_protocol proto,
				    uint16_t port);
/**
 * forward_table_first_taken() - the first of @v (@n of them) that is forwarded already
 * Return: that forward, with its owner in *@ret_owner, or NULL when all are free.
 */
const struct port_forward *forward_table_first_taken(const struct forward_table *t,
						     const struct port_forward *v, size_t n,
						     struct network **ret_owner);
/**
 * forward_table_add() - claim @v (@n of them) for @holder, forwarding into @owner
 *
 * Whether they are free is the caller's to check first: an adopted
 * record may claim a port twice (the files changed while no daemon ran),
 * and then the first claim is the owner.
 * Return: 0 or -ENOMEM (nothing claimed).
 */
int forward_table_add(struct forward_table *t, const struct port_forward *v, size_t n,
		      struct network *owner, const void *holder);
/* Give back every port @holder claimed. */
void forward_table_remove(struct forward_table *t, const void *holder);

/* {"protocol", "external_port", "internal_address", "internal_port", "internal_address6"}; NULL on OOM. */
json_t *forward_json(const struct port_forward *f);
/* [forward_json(), ...]; NULL on OOM. */
json_t *forward_list_json(const struct port_forward *v, size_t n);

/* "tcp 2222 -> 192.168.42.10:22" into @buf. Return: @buf. */
char *forward_format(const struct port_forward *f, char *buf, size_t size);

#endif
