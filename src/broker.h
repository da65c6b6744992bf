/* broker.h - struct broker: the registry of networks, request dispatch, error -> status mapping */
#ifndef VMNET_BROKER_BROKER_H
#define VMNET_BROKER_BROKER_H

#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "pool.h"

struct network;
struct config_dir;
struct lease;

struct broker_options {
	const char *socket_path;
	int listen_fd; /* >= 0 when socket-activated */
	const char *config_dir;
	const char *state_dir;
	const char *resolv_file; /* for dnsmasq; NULL: its default */
	uint64_t idle_timeout_usec;
	struct prefix4 pool;
	/* Limits; hitting one answers LIMIT_EXCEEDED. Root is exempt from the per-user one. */
	size_t max_ports_per_user;
	size_t max_networks;
	size_t max_connections;
	uint64_t silence_timeout_usec;
};

#define BROKER_MAX_PORTS_PER_USER 64
#define BROKER_MAX_NETWORKS 64
#define BROKER_MAX_HOLDS_PER_CONNECTION 8 /* as the macOS broker's MAX_PEER_NETWORKS */
#define BROKER_MAX_PORTS_PER_NETWORK 1024 /* the kernel bridge's BR_MAX_PORTS */

struct broker {
	sd_event *event;
	struct broker_options opt;
	struct server *server;
	struct netlink *nl;
	struct nft *nft;
	struct ra *ra;                   /* the one socket all networks advertise through */
	struct dnsmasq_env *dnsmasq_env; /* what every dnsmasq is exec'd with */
	TAILQ_HEAD(, network) networks;
	size_t n_networks;
	unsigned int next_port;     /* vmtapN / vmvethN numbering */
	uint64_t next_lease_id;     /* above every id on record in the state dir (adopt.c) */
	bool forwarding_on;         /* we set net.ipv4.ip_forward */
	bool stopping;              /* in broker_free(): leases stay for the next daemon */
	struct config_dir *configs; /* the network files, reread on each acquire */
};

/**
 * broker_new() - set up netlink, nftables and the listening socket
 * Return: 0 or negative errno (logged).
 */
int broker_new(sd_event *event, const struct broker_options *opt, struct broker **ret);
/*
 * Close every connection and stop. Networks with leases keep running and
 * are recorded for the next daemon to adopt; unused ones are removed.
 */
struct broker *broker_free(struct broker *b);
/* The lease whose port has @ifindex, or NULL. */
struct lease *broker_find_lease(struct broker *b, int ifindex);
/* Remove every network with all its ports, in use or not (vmnet-brokerd --remove-all). */
void broker_remove_all(struct broker *b);
/* Create every network whose file says "persistent": true; failures are logged. */
void broker_start_persistent(struct broker *b);
/* No network (in use or idle) and no client connection: vmnet-brokerd --exit-idle may stop. */
bool broker_is_idle(const struct broker *b);

#endif
