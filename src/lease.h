/* lease.h - one lease: who holds which port, with which MAC, address and forwards */
#ifndef VMNET_LEASE_H
#define VMNET_LEASE_H

#include <jansson.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "port.h"
#include "protocol.h"

/*
 * Port alias: LEASE_ALIAS_PREFIX "NAME uid=U pid=P label=\"L\"" marks a port as
 * the broker's. LEASE_ALIAS_MAX is the kernel's IFALIASZ, with the NUL.
 */
#define LEASE_ALIAS_PREFIX "vmnet-broker net="
#define LEASE_ALIAS_MAX 256

struct network;
struct state_lease;
struct lease;
struct lease_waiter;
struct guest;

/* A connection's holdings: the leases that end when it closes. */
struct client {
	TAILQ_HEAD(, lease) leases;
	struct connection *conn;
	struct lease_waiter *waiter; /* a wait_address pending on the connection (request.c) */
};

/*
 * The record of one lease and its port. Its network (network.c) owns it:
 * network_add_lease() gives it an address and a port and links it,
 * network_remove_lease() ends it. Nothing here reaches the network.
 */
struct lease {
	uint64_t id; /* names it in the state journal: unique in the state dir */
	TAILQ_ENTRY(lease) network_link;
	TAILQ_ENTRY(lease) client_link;
	LIST_ENTRY(lease) index_link; /* in the registry's index by ifindex (registry.c) */
	struct network *network;      /* its owner, once added; never followed here */
	struct client *client;        /* set for leases that end with the connection */
	struct port port;
	uint8_t mac[6];
	unsigned int host; /* address = subnet + host; 0 when none */
	uid_t uid;
	pid_t pid;
	char label[LABEL_MAX + 1];
	/*
	 * Not tied to a connection: a named_tap that stays until released,
	 * its network stopped, or its owner over quota (adopt.c). A netns
	 * port is never tied to one; for it the flag is only shown.
	 */
	bool persistent;
	struct port_forward *forwards; /* its port_forwards (acquire, forward_add), to its address */
	size_t n_forwards;
	uint32_t shadowed; /* bit i: forwards[i]'s port is one a host service listens on */
	bool removing;     /* ended, but its port could not be removed yet: tried again */
	/* What is behind its port: guests of its network's table (guest.c). */
	LIST_HEAD(, guest) guests;
	unsigned int n_guests;
	bool guests_full_logged; /* said once that more MACs than followed came */
	uint32_t shown_address;  /* guest_port_address() as waiters and names last saw it */
	uint64_t claim_seq;      /* when it came, for its label's claim to a name (names.c) */
	bool dirty;              /* on its network's list of ports whose guests changed */
	TAILQ_ENTRY(lease) dirty_link;
	LIST_HEAD(, lease_waiter) waiters; /* told when its guest's address is known, or it ends */
};

/*
 * Someone waiting for the address of the guest behind a lease's port
 * (request.c's wait_address). @fn runs with the lease and the address
 * (host byte order), or 0 when the lease ends; the waiter is unlinked first.
 */
struct lease_waiter {
	LIST_ENTRY(lease_waiter) link;
	struct lease *lease; /* NULL once told or cancelled */
	void (*fn)(struct lease_waiter *w, struct lease *l, uint32_t address);
	void (*free)(struct lease_waiter *w); /* its connection closed: drop it, untold */
};

/* Wait on @l: @w->fn runs once, when the guest's address is known or @l ends. */
void lease_waiter_add(struct lease *l, struct lease_waiter *w);
/* Stop waiting (@w is not told). NULL-safe and idempotent. */
void lease_waiter_cancel(struct lease_waiter *w);
/* Tell every waiter of @l: @address, or 0 as @l ends. */
void lease_waiters_notify(struct lease *l, uint32_t address);

/**
 * lease_new() - the lease an acquire asks for, before it has a network
 *
 * Its MAC is the request's or a random locally administered one (none
 * for PORT_NONE); its port_forwards are the request's, their address
 * still unset (network_add_lease() sets it).
 * Return: 0 or negative errno.
 */
int lease_new(uint64_t id, const struct request *req, const struct ucred *peer, struct lease **ret);
/**
 * lease_new_from_record() - a lease as an earlier daemon recorded it, port and all
 * @id:	its id; the record's own unless that is 0 (a daemon of before ids)
 * Return: 0 or negative errno.
 */
int lease_new_from_record(const struct state_lease *rec, uint64_t id, struct lease **ret);
/* @l no longer ends with its client's connection: it leaves the client's list. */
void lease_detach_client(struct lease *l);
/* Free the record; it leaves its client's list. Its port is the network's to remove. */
struct lease *lease_free(struct lease *l);
static inline void lease_freep(struct lease **l)
{
	lease_free(*l);
}

/* The lease stays but its forwards go (adoption, when they are taken since). */
void lease_drop_forwards(struct lease *l);
/* Append @v (@n of them) to @l's forwards. Return: 0 or -ENOMEM (nothing added). */
int lease_append_forwards(struct lease *l, const struct port_forward *v, size_t n);
/* Take the forward of host port @proto/@port off @l. Return: whether it had one. */
bool lease_remove_forward(struct lease *l, enum forward_protocol proto, uint16_t port);
/* @l's forward of host port @proto/@port, or NULL. */
const struct port_forward *lease_find_forward(const struct lease *l, enum forward_protocol proto,
					      uint16_t port);

/* The "port" object of an acquire reply, for its owner; @subnet: its network's. */
json_t *lease_port_json(const struct lease *l, uint32_t subnet);
/*
 * {"kind", "ifname", "mac", "address", "port_forwards", "lease_id",
 * "persistent", "uid", "pid", "label"}, as `status` shows it to its owner
 * (@full), or {"kind", "ifname", "hidden"} to anyone else
 */
json_t *lease_to_json(const struct lease *l, uint32_t subnet, bool full);
/* lease_to_json() and what `status` adds: "host_listener" on a shadowing forward, and
 * "state": "removing". */
json_t *lease_status_json(const struct lease *l, uint32_t subnet, bool full);
/* A lease as snapshot and journal record it: what status shows, and what adoption checks. */
json_t *lease_record_json(const struct lease *l, uint32_t subnet);
/*
 * The interface alias of @l's port on network @network: who holds it, the
 * label quoted as a shell word ('"' and '\\' escaped), so that no label can
 * pass for another field.
 */
void lease_alias(const struct lease *l, const char *network, char buf[LEASE_ALIAS_MAX]);
/* "tap vmtap3 mac 52:54:00:12:34:56 address 192.168.64.3", or "none", into @buf. Return: it. */
const char *lease_describe(const struct lease *l, uint32_t subnet, char *buf, size_t size);

#endif
