/* broker.h - struct broker: the daemon's state, its networks' lifecycles, the link monitor */
#ifndef VMNET_BROKER_BROKER_H
#define VMNET_BROKER_BROKER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "access.h"
#include "forward.h"
#include "network.h"
#include "pool.h"
#include "registry.h"
#include "server.h"

struct config_dir;
struct request;

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
	size_t max_connections_per_user; /* 0: server_default_per_user() */
	uint64_t silence_timeout_usec;
	uint32_t span_address; /* this host in span files (host byte order); 0: found by address */
	const char *frr_dir;   /* FRR's vty sockets and pid files; NULL: FRR's own */
};

#define BROKER_MAX_PORTS_PER_USER 64
#define BROKER_MAX_NETWORKS 64
#define BROKER_MAX_HOLDS_PER_CONNECTION 8              /* as the macOS broker's MAX_PEER_NETWORKS */
#define BROKER_MAX_PORTS_PER_NETWORK 1024              /* the kernel bridge's BR_MAX_PORTS */
#define BROKER_REMOVAL_RETRY_MIN_USEC (1000 * 1000ULL) /* a port that would not go: again */
#define BROKER_REMOVAL_RETRY_MAX_USEC (60 * 1000 * 1000ULL)

struct broker {
	sd_event *event;
	struct broker_options opt;
	struct server *server;
	struct netlink *nl;
	struct nft *nft;
	struct hostfw *hostfw; /* the host's other firewalls: Docker, ufw, firewalld, reloads */
	struct ra *ra;         /* the one socket all networks advertise through */
	struct dnsmasq_env *dnsmasq_env; /* what every dnsmasq is exec'd with */
	struct dhcp_watch *dhcp_watch;   /* every dnsmasq's lease file */
	struct resolved *resolved;       /* the host's systemd-resolved, when it runs */
	struct frr *frr;                 /* the broker's part of FRR, for EVPN spans */
	struct neighbour *neighbour;   /* the bridges' forwarding databases, the neighbour table */
	struct config_dir *configs;    /* the network files, reread on each acquire */
	struct forward_table forwards; /* every forwarded host port */
	struct network_env env;        /* what each network gets of the above */
	struct registry registry;      /* the running networks */
	sd_event_source *listener_timer; /* armed while a lease forwards ports: host_listener */
	sd_event_source *removal_timer;  /* armed while ports wait to be removed again */
	uint64_t removal_delay_usec;     /* its backoff; 0: no retry scheduled */
	bool retrying_removals;          /* in on_removal_retry() */
	bool forwarding_on;              /* we set net.ipv4.ip_forward */
	bool stopping;                   /* in broker_free(): leases stay for the next daemon */
};

/* Limits of an acquire, in a range of their own (util.h). */
enum {
	BROKER_E_NETWORKS = 800, /* the daemon runs max_networks networks */
	BROKER_E_NETWORK_PORTS,  /* the network has BROKER_MAX_PORTS_PER_NETWORK ports */
	BROKER_E_USER_PORTS,     /* the uid holds max_ports_per_user ports and holds */
	BROKER_E_HOLDS,          /* the connection holds BROKER_MAX_HOLDS_PER_CONNECTION leases */
};

/**
 * broker_new() - set up netlink, nftables and the listening socket
 * @on_request:	what answers each request, with the broker as userdata
 *		(request.c's request_dispatch())
 *
 * Networks an earlier daemon left are adopted next (adopt.c), before the
 * event loop runs: clients wait in the socket's backlog meanwhile.
 * Return: 0 or negative errno (logged).
 */
int broker_new(sd_event *event, const struct broker_options *opt, server_request_fn on_request,
	       struct broker **ret);
/*
 * Close every connection and stop. Networks with leases keep running and
 * are recorded for the next daemon to adopt; unused ones are removed.
 */
struct broker *broker_free(struct broker *b);
static inline void broker_freep(struct broker **b)
{
	broker_free(*b);
}
/*
 * Remove every network with all its ports, in use or not (vmnet-brokerd
 * --remove-all), and the broker's part of FRR: runs @b's event loop until
 * vtysh is done, at most @timeout_usec.
 */
void broker_remove_all(struct broker *b, uint64_t timeout_usec);
/* Create every network whose file says "persistent": true; failures are logged. */
void broker_start_persistent(struct broker *b);
/* No network (in use or idle) and no client connection: vmnet-brokerd --exit-idle may stop. */
bool broker_is_idle(const struct broker *b);
/* Reread what changed in the network files; on failure, the last view stays (logged). */
void broker_refresh_configs(struct broker *b);

/**
 * broker_check_limits() - may @req of @uid, whose connection holds @holds leases, go on?
 *
 * Every resource a client can make the daemon create has a limit.
 * Return: 0 or a BROKER_E_* code.
 */
int broker_check_limits(const struct broker *b, const struct request *req, uid_t uid, size_t holds);
/* Why broker_check_forwards() refused: which forward, and what it is up against. */
struct forward_refusal {
	const struct port_forward *forward;
	unsigned int unpriv_start;       /* FORWARD_E_PRIVILEGED: the sysctl */
	const struct config_entry *file; /* FORWARD_E_RESERVED: the file */
	struct network *owner;           /* NETWORK_E_FORWARD_TAKEN: who has it */
};

/**
 * broker_check_forwards() - may @peer have host ports @v (@n of them) forwarded on @c?
 * @c:		the network's configuration as access sees it (its file as it is now)
 * @ret_shadowed: bit i: a host service listens on @v[i]'s port (root may
 *		forward it anyway; it is warned of)
 *
 * A user other than root: only what @c's lease_port_forwards allows.
 * Anyone: no port that a valid network file forwards (running or not),
 * that a running network or lease forwards, or (not root) on which a host
 * service listens. Nothing to check on a network that is not shared: it
 * takes no forwards (network_add_lease() says so).
 * Return: 0, a FORWARD_E_* code or NETWORK_E_FORWARD_TAKEN with *@ret
 * saying which forward, or negative errno (the host's sockets could not
 * be listed).
 */
int broker_check_forwards(struct broker *b, const struct network_config *c,
			  const struct access_peer *peer, const struct port_forward *v, size_t n,
			  uint32_t *ret_shadowed, struct forward_refusal *ret);
/*
 * Which lease forwards shadow a host service now (lease->shadowed, for
 * `status`), with a warning when one starts to. Runs at `status`, after
 * adoption, and every BROKER_LISTENER_CHECK_SEC while some lease forwards
 * a port.
 */
void broker_check_host_listeners(struct broker *b);
#define BROKER_LISTENER_CHECK_SEC 10

/*
 * Whether the named_tap name @req asks for is free in the daemon's
 * namespace, before a network is made for it (port_create() checks again).
 * Return: 0, PORT_E_IFNAME_TAKEN, or negative errno.
 */
int broker_check_port_name(const struct broker *b, const struct request *req);
/* Whether @req's lease ends with its connection: a `none` hold, a named_tap not persistent. */
bool broker_request_holds(const struct request *req);
/**
 * broker_acquire_network() - the running network @c->name, created if needed
 *
 * A running network is returned as it is, even when its file changed
 * since: that applies when it is next created.
 * A network that spans hosts is connected to them once the firewall
 * holds its filter, and FRR is told of an EVPN span (off the loop).
 * Return: 0, NETWORK_E_POOL_EXHAUSTED, NETWORK_E_SUBNET_IN_USE,
 * NETWORK_E_SUBNET_TAKEN, NETWORK_E_PREFIX_TAKEN, NETWORK_E_FORWARD_TAKEN,
 * SPAN_E_NOT_LISTED, SPAN_E_AMBIGUOUS, SPAN_E_UNDERLAY_MTU, or negative
 * errno (creation failed, nothing left behind).
 */
int broker_acquire_network(struct broker *b, const struct network_config *c, struct network **ret);
/* Tell FRR what the running EVPN spans want now (frr.c does it off the loop). */
void broker_sync_frr(struct broker *b);
/**
 * broker_add_lease() - add the acquire's lease @l to @n, and to the rest of the daemon
 * @spec:	its port (network_add_lease())
 * @ret_fds:	a PORT_TAP's queue fds
 * @ret_dhcp_failed: set when what failed was starting @n's dnsmasq; then
 *		@n is gone too if nothing else holds it (made for this acquire,
 *		most likely): nothing half-built stays
 *
 * Takes @l: on failure it is freed, and nothing of it is left.
 * Return: 0, a code of network_add_lease(), or negative errno.
 */
int broker_add_lease(struct broker *b, struct network *n, struct lease *l,
		     const struct port_spec *spec, struct tap_fds *ret_fds, bool *ret_dhcp_failed);
/* End lease @l because uid @by asked (release); the caller checked that @by may. */
void broker_release_lease(struct broker *b, struct lease *l, uid_t by);
/**
 * broker_add_forwards() - forward @v (@count host ports) to @l as well, rules and all
 * @shadowed:	bit i: @v[i]'s port is a host service's (broker_check_forwards())
 * Return: 0, a code of network_add_forwards(), or negative errno (nothing changed).
 */
int broker_add_forwards(struct broker *b, struct lease *l, const struct port_forward *v,
			size_t count, uint32_t shadowed);
/**
 * broker_remove_forwards() - stop forwarding the host ports of @v (@count) to @l
 * Return: 0, or NETWORK_E_FORWARD_UNKNOWN with *@ret_unknown the first @l does not have.
 */
int broker_remove_forwards(struct broker *b, struct lease *l, const struct port_forward *v,
			   size_t count, const struct port_forward **ret_unknown);
/*
 * Remove running network @n now, with every lease it has (vmnet-broker
 * stop, asked by uid @by); each lease ended is logged with its holder.
 */
void broker_stop_network(struct broker *b, struct network *n, uid_t by);
/*
 * After adoption: a uid that holds more ports than --max-ports-per-user
 * now allows (the limit was lowered across a restart) loses its newest
 * persistent ones until it fits; nothing else of it is touched.
 */
void broker_enforce_quotas(struct broker *b);
/* End the connection's leases, as it closes (the daemon stopping keeps named TAPs). */
void broker_end_client(struct broker *b, struct client *cl);
/*
 * After adoption: watch the host's firewall (nftables events, iptables,
 * firewalld) and make it let the running networks through.
 */
void broker_watch_host(struct broker *b);
/* Enable IP forwarding for a shared network, once. Return: 0 or negative errno (logged). */
int broker_enable_forwarding(struct broker *b);

#endif
