/* port.h - the kernel side of ports: TAPs and veths, their names, namespace checks */
#ifndef VMNET_PORT_H
#define VMNET_PORT_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "protocol.h"
#include "util.h"

struct netlink;

/* Codes of their own range (util.h). */
enum {
	PORT_E_NOT_NETNS = 500, /* the fd is not a network namespace */
	PORT_E_NOT_OWNER,       /* the caller does not own that namespace */
	PORT_E_IFNAME_TAKEN, /* the namespace (the client's, or ours for a named TAP) has that name */
	PORT_E_NETNS_O_PATH, /* an O_PATH fd: it names a file, but cannot be used */
};

/* One port as the kernel has it. */
struct port {
	enum port_kind kind;
	char ifname[IFNAMSIZ]; /* our end: vmtapN, vmvethN; "" for none */
	int ifindex;           /* 0 for none, or once the kernel removed it */
	bool abandoned;        /* a tap its holder made persistent and let go: ours to delete */
};

/*
 * A TAP's queue fds, from port_create() until they ride on the reply.
 * The daemon's copy may be the last one (the client gave up, or closed
 * its copy first), and that close destroys the TAP, which takes the
 * kernel tens of ms: tap_fds_close() closes them off the event loop.
 */
struct tap_fds {
	int fd[QUEUES_MAX];
	size_t n;
};

/* bgclose() each fd; @f is empty after. */
void tap_fds_close(struct tap_fds *f);
#define _cleanup_tap_fds_ _cleanup_(tap_fds_close)
/* Move the fds out of a cleanup-managed struct tap_fds. */
#define TAKE_TAP_FDS(f)                   \
	({                                \
		struct tap_fds _f_ = (f); \
		(f).n = 0;                \
		_f_;                      \
	})

/* What port_create() makes, and where it plugs it in. */
struct port_spec {
	enum port_kind kind; /* PORT_TAP, PORT_NAMED_TAP or PORT_NETNS */
	unsigned int queues; /* TAP queues: fds in the reply (PORT_TAP) */
	bool vnet_hdr;
	uid_t uid;               /* PORT_NAMED_TAP: the TAP's owner */
	const char *ifname;      /* PORT_NAMED_TAP: its name; NULL or "": the next vmtapN */
	int netns_fd;            /* PORT_NETNS: the client's namespace */
	const char *peer_ifname; /* PORT_NETNS: the veth end in it */
	uint8_t mac[6];          /* PORT_NETNS: that end's MAC */
	int bridge_ifindex;      /* the bridge the port is enslaved to */
	unsigned int mtu;
	const char *alias; /* the interface alias that names the holder */
};

/**
 * port_create() - create the port @spec asks for and enslave it to its bridge
 * @next_name:	numbering of vmtapN / vmvethN; the first free name from here is used,
 *		unless @spec names the TAP
 * @ret_fds:	receives a PORT_TAP's queue fds (the daemon closes a named TAP's own)
 *
 * Our end goes up without IPv6 (a bridge port, not a host); a veth's
 * other end is created inside the client's namespace and goes up last;
 * both are synced so the first frames go through (netlink_link_sync()).
 * Return: 0, PORT_E_IFNAME_TAKEN, or negative errno; nothing is left on failure.
 */
int port_create(struct netlink *nl, unsigned int *next_name, const struct port_spec *spec,
		struct port *ret, struct tap_fds *ret_fds);

/**
 * port_remove() - remove what of @p is the daemon's to remove
 *
 * The daemon's end of a veth, a named TAP (even while a VM holds it).
 * Never a plain TAP, which belongs to whoever holds its fds (see
 * port_detach()), unless its holder made it persistent and let it go
 * (@p->abandoned). A port the kernel removed already is no error.
 * Return: 0 or negative errno.
 */
int port_remove(struct netlink *nl, const struct port *p);

/*
 * Take a plain TAP off its bridge, down: its lease was released while a
 * VM still holds it, and it must not stay on the network. Nothing for
 * other kinds (port_remove() removes them). Return: 0 or negative errno.
 */
int port_detach(struct netlink *nl, const struct port *p);

/**
 * port_open_tap() - create TAP @name with @queues queues, fds into @fds
 * @persist_uid: (uid_t)-1 for a TAP that dies with its last fd; otherwise
 *               make it persistent and owned by that uid (named_tap)
 *
 * Never attaches to a TAP that exists already (IFF_TUN_EXCL): that would
 * hand the caller someone else's device.
 * Return: 0, -EBUSY when @name exists, or negative errno; nothing is left
 * open on failure.
 */
int port_open_tap(const char *name, unsigned int queues, bool vnet_hdr, uid_t persist_uid, int *fds);

/**
 * port_check_netns() - may @uid put an interface into namespace @fd?
 *
 * Root may use any namespace. Anyone else only one owned by a user
 * namespace they created: that is the namespace they could configure
 * themselves, so the broker grants no power they lack.
 * Anything but a network namespace's fd opened for reading (an O_PATH fd,
 * another namespace, a tun fd, a file) is refused as such.
 * Return: 0, PORT_E_NOT_NETNS, PORT_E_NETNS_O_PATH, PORT_E_NOT_OWNER, or
 * negative errno.
 */
int port_check_netns(int fd, uid_t uid);

#endif
