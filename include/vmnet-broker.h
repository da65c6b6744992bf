/* vmnet-broker.h - client library for vmnet-brokerd, the shared VM network broker
 *
 * A VM tool asks the broker for a network by name ("shared", "host" or one
 * configured in /etc/vmnet-broker.d) and gets back a port on it: by default
 * a TAP file descriptor attached to the network's bridge. The names mirror
 * the macOS vmnet-broker client so a tool can speak to either.
 *
 * All functions are safe to call from several threads on distinct handles.
 */
#ifndef VMNET_BROKER_H
#define VMNET_BROKER_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define VMNET_BROKER_API __attribute__((visibility("default")))
#else
#define VMNET_BROKER_API
#endif

/* Status codes: the same numbers as the macOS broker, extended after 7. */
typedef enum {
	VMNET_BROKER_SUCCESS = 0,
	VMNET_BROKER_CONNECTION_FAILURE = 1, /* cannot reach the daemon */
	VMNET_BROKER_INVALID_REPLY = 2,      /* the daemon's reply is malformed */
	VMNET_BROKER_NOT_ALLOWED = 3,        /* the caller may not use that network */
	VMNET_BROKER_INVALID_REQUEST = 4,    /* malformed request, bad key or value */
	VMNET_BROKER_NOT_FOUND = 5,          /* no such network */
	VMNET_BROKER_CREATE_FAILURE = 6,     /* creating the network or port failed */
	VMNET_BROKER_INTERNAL_ERROR = 7,     /* anything else */
	VMNET_BROKER_LIMIT_EXCEEDED = 8,     /* a per-connection, per-user or per-network limit */
	VMNET_BROKER_CONFLICT = 9,           /* an address, MAC or forwarded port already taken */
	VMNET_BROKER_TIMEOUT = 10,           /* what was waited for did not come in time */
} vmnet_broker_return_t;

#define VMNET_BROKER_DEFAULT_SOCKET "/run/vmnet-broker/broker.sock"
#define VMNET_BROKER_SOCKET_ENV "VMNET_BROKER_SOCKET"
/* Who may connect to the packaged daemon's socket, besides root. */
#define VMNET_BROKER_GROUP "vmnet-broker"

/* An acquired port on a network, with what the daemon said about both. */
struct vmnet_broker_network;
/* Request keys for vmnet_broker_acquire_network_with_options(). */
struct vmnet_broker_options;

/**
 * vmnet_broker_acquire_network() - get a TAP port on network @name
 * @name:	network name
 * @status:	set to VMNET_BROKER_SUCCESS or the failure's code; may be NULL
 *
 * Return: a handle to release with vmnet_broker_network_release(), or NULL.
 */
VMNET_BROKER_API struct vmnet_broker_network *
vmnet_broker_acquire_network(const char *name, vmnet_broker_return_t *status);

/**
 * vmnet_broker_acquire_network_with_options() - acquire with request keys
 * @opts may be NULL (same as vmnet_broker_acquire_network()).
 */
VMNET_BROKER_API struct vmnet_broker_network *
vmnet_broker_acquire_network_with_options(const char *name, const struct vmnet_broker_options *opts,
					  vmnet_broker_return_t *status);

/**
 * vmnet_broker_network_release() - drop a handle
 *
 * Closes every fd the caller has not taken and the connection to the daemon,
 * which ends `named_tap` and `none` leases. A `tap` lease lives on while
 * any process holds the TAP fd; a `netns` lease while the veth exists.
 * NULL is allowed.
 */
VMNET_BROKER_API void vmnet_broker_network_release(struct vmnet_broker_network *net);

/* Human readable description of a status code (never NULL). */
VMNET_BROKER_API const char *vmnet_broker_strerror(vmnet_broker_return_t status);
/* The code's name, "VMNET_BROKER_NOT_FOUND" (never NULL). */
VMNET_BROKER_API const char *vmnet_broker_status_name(vmnet_broker_return_t status);
/*
 * The daemon's (or library's) message for the last failure in this thread,
 * e.g. "no network named 'foo'"; "" when there is none.
 */
VMNET_BROKER_API const char *vmnet_broker_last_error_message(void);

/* Options. Setters return VMNET_BROKER_SUCCESS or VMNET_BROKER_INVALID_REQUEST. */
VMNET_BROKER_API struct vmnet_broker_options *vmnet_broker_options_new(void);
VMNET_BROKER_API void vmnet_broker_options_free(struct vmnet_broker_options *opts);
/* Socket path; default $VMNET_BROKER_SOCKET, else VMNET_BROKER_DEFAULT_SOCKET. */
VMNET_BROKER_API vmnet_broker_return_t vmnet_broker_options_set_socket(struct vmnet_broker_options *opts,
								       const char *path);
/* "tap" (default), "netns", "named_tap" or "none". */
VMNET_BROKER_API vmnet_broker_return_t vmnet_broker_options_set_port(struct vmnet_broker_options *opts,
								     const char *kind);
/* "52:54:00:12:34:56"; default: the daemon generates one. */
VMNET_BROKER_API vmnet_broker_return_t vmnet_broker_options_set_mac(struct vmnet_broker_options *opts,
								    const char *mac);
/* Free text shown in `vmnet-broker status` and the interface alias: at most 64 bytes
 * of UTF-8 without control, line separator or bidirectional formatting characters. */
VMNET_BROKER_API vmnet_broker_return_t vmnet_broker_options_set_label(struct vmnet_broker_options *opts,
								      const char *label);
/*
 * For "netns": the interface name inside the namespace (default "eth0").
 * For "named_tap": the TAP's name on the host (default: the daemon's
 * vmtapN), e.g. the one a libvirt domain or a Firecracker config names;
 * VMNET_BROKER_CONFLICT when a link of that name exists, and
 * VMNET_BROKER_INVALID_REQUEST for the broker's own names (vmbr*,
 * vmtap*, vmveth*) and "all" or "default".
 */
VMNET_BROKER_API vmnet_broker_return_t vmnet_broker_options_set_ifname(struct vmnet_broker_options *opts,
								       const char *ifname);
/* For "netns": the namespace to put the port in. The fd is borrowed, not closed. */
VMNET_BROKER_API vmnet_broker_return_t vmnet_broker_options_set_netns_fd(struct vmnet_broker_options *opts,
									 int fd);
/*
 * For "named_tap" (and "netns"): the lease does not end with the
 * connection. It lasts until vmnet_broker_release(), until its network
 * is stopped, or until its owner has more ports than the daemon's quota
 * allows after a restart (the newest persistent ones go); it survives
 * daemon restarts. A "netns" port always lives as long as its namespace.
 */
VMNET_BROKER_API vmnet_broker_return_t
vmnet_broker_options_set_persistent(struct vmnet_broker_options *opts, bool on);
/* For "tap": IFF_VNET_HDR on the TAP. */
VMNET_BROKER_API vmnet_broker_return_t vmnet_broker_options_set_vnet_hdr(struct vmnet_broker_options *opts,
									 bool on);
/* For "tap": number of queues; above 1 sets IFF_MULTI_QUEUE and returns one fd per queue. */
VMNET_BROKER_API vmnet_broker_return_t
vmnet_broker_options_set_multi_queue(struct vmnet_broker_options *opts, unsigned int queues);
/*
 * Forward host port @external_port (@protocol "tcp" or "udp") to @internal_port
 * at the port's own address, for as long as the lease lives; up to 16 per acquire.
 * The daemon answers VMNET_BROKER_CONFLICT when the host port is forwarded already.
 */
VMNET_BROKER_API vmnet_broker_return_t
vmnet_broker_options_add_port_forward(struct vmnet_broker_options *opts, const char *protocol,
				      unsigned int external_port, unsigned int internal_port);

struct vmnet_broker_forward;

/* Accessors. Strings belong to the handle; NULL where the reply had none. */
VMNET_BROKER_API const char *vmnet_broker_network_name(const struct vmnet_broker_network *net);
VMNET_BROKER_API const char *vmnet_broker_network_mode(const struct vmnet_broker_network *net);
VMNET_BROKER_API const char *vmnet_broker_network_bridge(const struct vmnet_broker_network *net);
VMNET_BROKER_API const char *vmnet_broker_network_subnet(const struct vmnet_broker_network *net);
VMNET_BROKER_API const char *vmnet_broker_network_mask(const struct vmnet_broker_network *net);
VMNET_BROKER_API const char *vmnet_broker_network_ipv6_prefix(const struct vmnet_broker_network *net);
VMNET_BROKER_API int vmnet_broker_network_prefix_len(const struct vmnet_broker_network *net);
VMNET_BROKER_API int vmnet_broker_network_mtu(const struct vmnet_broker_network *net);
/* The DNS domain its guests' names are under ("shared.vmnet"); NULL when it serves none. */
VMNET_BROKER_API const char *vmnet_broker_network_domain(const struct vmnet_broker_network *net);
VMNET_BROKER_API const char *vmnet_broker_network_port_kind(const struct vmnet_broker_network *net);
VMNET_BROKER_API const char *vmnet_broker_network_port_ifname(const struct vmnet_broker_network *net);
VMNET_BROKER_API const char *vmnet_broker_network_port_mac(const struct vmnet_broker_network *net);
VMNET_BROKER_API const char *vmnet_broker_network_port_address(const struct vmnet_broker_network *net);
/* The network file's "description"; NULL when it has none. */
VMNET_BROKER_API const char *vmnet_broker_network_description(const struct vmnet_broker_network *net);
/* How many host ports the acquire forwards to the port (its port_forwards). */
VMNET_BROKER_API size_t vmnet_broker_network_port_forward_count(const struct vmnet_broker_network *net);
/*
 * Forward @i into *@ret: protocol ("tcp" or "udp", the handle's), external
 * and internal port. The address it goes to is the port's
 * (vmnet_broker_network_port_address()). Return: false when out of range.
 */
VMNET_BROKER_API bool vmnet_broker_network_port_forward_at(const struct vmnet_broker_network *net,
							   size_t i, struct vmnet_broker_forward *ret);
/* The lease's id, for vmnet_broker_release() and the forward calls; -1 when the reply had none. */
VMNET_BROKER_API long long vmnet_broker_network_lease_id(const struct vmnet_broker_network *net);
/* Whether the lease outlives its connection (vmnet_broker_options_set_persistent()). */
VMNET_BROKER_API bool vmnet_broker_network_port_persistent(const struct vmnet_broker_network *net);
/* The whole reply as JSON text. */
VMNET_BROKER_API const char *vmnet_broker_network_reply_json(const struct vmnet_broker_network *net);

/* Number of fds received (one per queue for "tap", 0 otherwise). */
VMNET_BROKER_API size_t vmnet_broker_network_fd_count(const struct vmnet_broker_network *net);
/* The first fd, still owned by the handle; -1 when there is none. */
VMNET_BROKER_API int vmnet_broker_network_fd(const struct vmnet_broker_network *net);
/* Fd @i, still owned by the handle; -1 when out of range or taken. */
VMNET_BROKER_API int vmnet_broker_network_fd_at(const struct vmnet_broker_network *net, size_t i);
/* Take fd @i: the caller owns and must close it; -1 when out of range or taken. */
VMNET_BROKER_API int vmnet_broker_network_take_fd(struct vmnet_broker_network *net, size_t i);

/**
 * vmnet_broker_wait_address() - wait until the guest behind a port has an IPv4 address
 * @socket_path:	NULL for $VMNET_BROKER_SOCKET or the default
 * @ifname:	the port by its name on the host, as status shows it ("vmtap3"); or
 * @label:	the port by its label (one of the caller's ports); exactly one of the two
 * @network:	only that network's ports; NULL for any
 * @timeout:	seconds to wait, at most 3600; 0 answers at once
 * @ret_address: on success a malloc'ed "192.168.64.130" (free() it); may be NULL
 * @ret_json:	on success the daemon's reply (free() it): the address, and the
 *		lease as status shows it, with its guests; may be NULL
 *
 * The daemon answers as soon as it knows the address (from dnsmasq's leases
 * or the neighbour table), whatever MAC the guest uses, and the call
 * blocks until then. For scripts that start a VM and then ssh to it.
 * Return: VMNET_BROKER_SUCCESS; VMNET_BROKER_TIMEOUT when no address came
 * in time; VMNET_BROKER_NOT_FOUND when there is no such port, or it went
 * away meanwhile; VMNET_BROKER_NOT_ALLOWED for another user's port; the
 * other codes as for any request.
 */
VMNET_BROKER_API vmnet_broker_return_t vmnet_broker_wait_address(
	const char *socket_path, const char *ifname, const char *label, const char *network,
	unsigned int timeout, char **ret_address, char **ret_json);
/*
 * The same for the port of @net, over the handle's own connection: after
 * starting the VM on its TAP, until the VM has an address.
 */
VMNET_BROKER_API vmnet_broker_return_t vmnet_broker_network_wait_address(
	struct vmnet_broker_network *net, unsigned int timeout, char **ret_address);

/*
 * Ask the daemon for `status` or `networks` ("status" or "networks" in
 * @command). On success *ret_json is the reply (free() it).
 */
VMNET_BROKER_API vmnet_broker_return_t vmnet_broker_query(const char *socket_path,
							  const char *command, char **ret_json);

/*
 * Calls about one lease that lives, by its owner or root (another user
 * gets VMNET_BROKER_NOT_ALLOWED, an unknown lease VMNET_BROKER_NOT_FOUND).
 * The lease is named by @ifname, its port as status shows it (the host
 * end: vmtapN, vmvethN, a named TAP), or, when @ifname is NULL, by
 * @lease_id (vmnet_broker_network_lease_id(), status's "lease_id").
 * @socket_path may be NULL (as for vmnet_broker_options_set_socket()).
 * On success *@ret_json, unless @ret_json is NULL, is the daemon's reply
 * (free() it): {"lease": {...}} with the lease as it is now.
 */

/* End the lease now: its port goes (a plain TAP is only taken off the network). */
VMNET_BROKER_API vmnet_broker_return_t vmnet_broker_release(const char *socket_path, const char *ifname,
							    long long lease_id, char **ret_json);

/* A port forward: host port @external_port (@protocol "tcp" or "udp") to @internal_port. */
struct vmnet_broker_forward {
	const char *protocol;
	unsigned int external_port;
	unsigned int internal_port; /* unused by vmnet_broker_forward_remove() */
};

/*
 * Forward @n more host ports (1-16) to the lease's address, all or none:
 * VMNET_BROKER_CONFLICT when one is forwarded already,
 * VMNET_BROKER_LIMIT_EXCEEDED past 16 on one lease.
 */
VMNET_BROKER_API vmnet_broker_return_t
vmnet_broker_forward_add(const char *socket_path, const char *ifname, long long lease_id,
			 const struct vmnet_broker_forward *forwards, size_t n, char **ret_json);
/* Stop forwarding the host ports of @forwards (@n), all or none (VMNET_BROKER_NOT_FOUND). */
VMNET_BROKER_API vmnet_broker_return_t
vmnet_broker_forward_remove(const char *socket_path, const char *ifname, long long lease_id,
			    const struct vmnet_broker_forward *forwards, size_t n, char **ret_json);
/*
 * The lease's forwards; with @ifname NULL and @lease_id 0, those of every
 * lease of the caller's (root: of everyone's) that forwards ports.
 * *@ret_json: {"leases": [{...}, ...]}.
 */
VMNET_BROKER_API vmnet_broker_return_t vmnet_broker_forward_list(const char *socket_path,
								 const char *ifname,
								 long long lease_id, char **ret_json);

/*
 * Remove running network @name now (root only). With leases, it refuses
 * (VMNET_BROKER_CONFLICT, naming them) unless @force, which ends them.
 * *@ret_json: {"network": {...}, "ended_leases": [{...}, ...]}.
 */
VMNET_BROKER_API vmnet_broker_return_t vmnet_broker_stop_network(const char *socket_path,
								 const char *name, bool force,
								 char **ret_json);

#ifdef __cplusplus
}
#endif
#endif
