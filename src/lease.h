/* lease.h - who holds which port on which network, until when */
#ifndef VMNET_LEASE_H
#define VMNET_LEASE_H

#include <jansson.h>
#include <net/if.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "protocol.h"

/* Port alias: LEASE_ALIAS_PREFIX "NAME uid=U pid=P label=L" marks a port as the broker's. */
#define LEASE_ALIAS_PREFIX "vmnet-broker net="

struct network;
struct lease;

/* A connection's holdings: the leases that end when it closes. */
struct client {
	TAILQ_HEAD(, lease) leases;
	struct connection *conn;
};

struct lease {
	uint64_t id; /* names it in the state journal: unique in the state dir */
	TAILQ_ENTRY(lease) network_link;
	TAILQ_ENTRY(lease) client_link;
	struct network *network;
	struct client *client; /* set for leases that end with the connection */
	enum port_kind kind;
	char ifname[IFNAMSIZ]; /* our end: vmtapN, vmvethN; "" for none */
	int ifindex;           /* 0 for none */
	uint8_t mac[6];
	unsigned int host; /* address = subnet + host; 0 when none */
	uid_t uid;
	pid_t pid;
	char label[LABEL_MAX + 1];
	struct port_forward *forwards; /* the acquire's port_forwards, to this lease's address */
	size_t n_forwards;
};

enum {
	LEASE_E_NOT_NETNS = 1,      /* the fd is not a network namespace */
	LEASE_E_NOT_OWNER,          /* the caller does not own that namespace */
	LEASE_E_MAC_TAKEN,          /* another port on the network has that MAC */
	LEASE_E_IFNAME_TAKEN,       /* the namespace already has that interface */
	LEASE_E_NO_ADDRESS,         /* every address of the subnet is reserved */
	LEASE_E_ADDRESS_TAKEN,      /* the MAC's reserved address is held by another port */
	LEASE_E_FORWARD_TAKEN,      /* a requested host port is already forwarded */
	LEASE_E_FORWARD_HOST_ONLY,  /* port_forwards on a host-only network */
	LEASE_E_FORWARD_NO_ADDRESS, /* port_forwards, but the port gets no address (no DHCP) */
};

/**
 * lease_new() - create the port @req asks for on @n and reserve its address
 * @netns_fd:	the client's namespace, for PORT_NETNS; else -EBADF
 * @fds:	receives the TAP fds (req->queues of them) for PORT_TAP
 *
 * Return: 0, a LEASE_E_* code, or negative errno; nothing is left on failure.
 */
int lease_new(struct network *n, const struct request *req, const struct ucred *peer, int netns_fd,
	      struct lease **ret, int *fds);
/* End the lease: remove its port if it is still ours, release its address. */
struct lease *lease_free(struct lease *l);
/* Forget the lease and leave its port (the daemon stops; the caller unlinked it). */
struct lease *lease_abandon(struct lease *l);
struct state_lease;
/**
 * lease_adopt() - take over a lease an earlier daemon recorded, whose port
 * the caller found still on the network's bridge
 * Return: 0, LEASE_E_MAC_TAKEN or LEASE_E_NO_ADDRESS when the record
 * clashes with one adopted already, or negative errno.
 */
int lease_adopt(struct network *n, const struct state_lease *rec, struct lease **ret);
const char *lease_error_to_string(int code);

/* {"uid", "pid", "kind", "ifname", "mac", "address", "label"} */
json_t *lease_to_json(const struct lease *l, bool full);
/* The "port" object of an acquire reply. */
json_t *lease_port_json(const struct lease *l);

#endif
