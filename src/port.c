/* port.c - the kernel side of ports: TAPs and veths, their names, namespace checks
 *
 * A port is our end of a guest's link, enslaved to its network's bridge
 * with an alias that names the holder: a TAP (queues on /dev/net/tun,
 * persistent and owned by the caller for a named_tap) or a veth whose
 * other end is created inside the client's namespace. This file makes
 * and removes them and decides nothing: which port a client gets, and
 * when it goes, is network.c's.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/magic.h>
#include <linux/nsfs.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/vfs.h>

#include "bgclose.h"
#include "netlink.h"
#include "port.h"
#include "sysctl.h"
#include "util.h"

static int tap_open_queue(const char *name, int flags)
{
	_cleanup_close_ int fd = -EBADF;
	/* A short's bits, IFF_TUN_EXCL (0x8000) the sign bit: as the kernel reads them. */
	struct ifreq ifr = { .ifr_flags = (short)flags };

	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
	/* TUNSETIFF creates the device on the first call and, with
	 * IFF_MULTI_QUEUE, attaches one more queue on each further call. */
	if (ioctl(fd, TUNSETIFF, &ifr) < 0)
		return -errno;
	return TAKE_FD(fd);
}

int port_open_tap(const char *name, unsigned int queues, bool vnet_hdr, uid_t persist_uid, int *fds)
{
	_cleanup_tap_fds_ struct tap_fds opened = { .n = 0 };
	int flags = IFF_TAP | IFF_NO_PI;
	int r;

	if (vnet_hdr)
		flags |= IFF_VNET_HDR;
	if (queues > 1)
		flags |= IFF_MULTI_QUEUE;
	while (opened.n < queues) {
		/* The first queue creates the device, the others attach to it. */
		r = tap_open_queue(name, opened.n == 0 ? flags | IFF_TUN_EXCL : flags);
		if (r < 0)
			return r;
		opened.fd[opened.n++] = r;
	}
	if (persist_uid != (uid_t)-1 &&
	    (ioctl(opened.fd[0], TUNSETOWNER, (unsigned long)persist_uid) < 0 ||
	     ioctl(opened.fd[0], TUNSETPERSIST, 1UL) < 0))
		return -errno;
	memcpy(fds, opened.fd, queues * sizeof(int));
	opened.n = 0;
	return 0;
}

int port_check_netns(int fd, uid_t uid)
{
	_cleanup_close_ int userns = -EBADF;
	struct statfs fs;
	uid_t owner;
	int flags, type;

	/* An O_PATH fd takes no ioctl (EBADF): a namespace, maybe, but not usable. */
	flags = fcntl(fd, F_GETFL);
	if (flags < 0)
		return -errno;
	if (flags & O_PATH)
		return PORT_E_NETNS_O_PATH;
	/* Only an nsfs file is asked NS_GET_NSTYPE: that ioctl number means
	 * something else to other drivers (an unattached tun fd says EBADFD). */
	if (fstatfs(fd, &fs) < 0)
		return -errno;
	if (fs.f_type != NSFS_MAGIC)
		return PORT_E_NOT_NETNS;
	type = ioctl(fd, NS_GET_NSTYPE);
	if (type < 0)
		return errno == ENOMEM ? -ENOMEM : PORT_E_NOT_NETNS;
	if (type != CLONE_NEWNET)
		return PORT_E_NOT_NETNS;
	if (uid == 0)
		return 0;
	userns = ioctl(fd, NS_GET_USERNS);
	if (userns < 0)
		/* EPERM: owned by a user namespace outside ours, so not theirs. */
		return errno == EPERM ? PORT_E_NOT_OWNER : -errno;
	if (ioctl(userns, NS_GET_OWNER_UID, &owner) < 0)
		return -errno;
	return owner == uid ? 0 : PORT_E_NOT_OWNER;
}

void tap_fds_close(struct tap_fds *f)
{
	for (size_t i = 0; i < f->n; i++)
		f->fd[i] = bgclose(f->fd[i]);
	f->n = 0;
}

/* The next vmtapN / vmvethN that no link in this namespace has. */
static int pick_ifname(struct netlink *nl, unsigned int *next, const char *prefix, char ret[IFNAMSIZ])
{
	int r;

	for (unsigned int tries = 0; tries < 100000; tries++) {
		snprintf(ret, IFNAMSIZ, "%s%u", prefix, (*next)++ % 100000);
		r = netlink_ifindex(nl, ret);
		if (r <= 0)
			return r; /* 0: free; negative: cannot tell */
	}
	return -ENOSPC;
}

/* A TAP (plain or named): its fds into @fds for a plain one. */
static int create_tap(struct netlink *nl, const struct port_spec *spec, struct port *p,
		      struct tap_fds *fds)
{
	_cleanup_tap_fds_ struct tap_fds own = { .n = 0 };
	int r;

	r = port_open_tap(p->ifname, spec->queues, spec->vnet_hdr,
			  spec->kind == PORT_NAMED_TAP ? spec->uid : (uid_t)-1, own.fd);
	if (r < 0)
		return r;
	own.n = spec->queues;
	if (spec->kind == PORT_NAMED_TAP) {
		/* A named TAP lives on without fds, so closing the daemon's is
		 * quick; and at once: removing it reattaches to it, which a
		 * queue still open here would refuse (EBUSY). */
		for (size_t i = 0; i < own.n; i++)
			own.fd[i] = safe_close(own.fd[i]);
		own.n = 0;
	}
	r = netlink_ifindex(nl, p->ifname);
	if (r <= 0)
		return r < 0 ? r : -ENODEV; /* closing the fds removes a plain TAP */
	p->ifindex = r;
	*fds = TAKE_TAP_FDS(own);
	return 0;
}

/* Our end's name: the one asked for, if no link has it, or the next free vmtapN / vmvethN. */
static int port_name(struct netlink *nl, unsigned int *next, const struct port_spec *spec,
		     char ret[IFNAMSIZ])
{
	int r;

	if (!spec->ifname || !*spec->ifname)
		return pick_ifname(nl, next, spec->kind == PORT_NETNS ? "vmveth" : "vmtap", ret);
	r = netlink_ifindex(nl, spec->ifname);
	if (r < 0)
		return r;
	if (r > 0)
		return PORT_E_IFNAME_TAKEN;
	snprintf(ret, IFNAMSIZ, "%s", spec->ifname);
	return 0;
}

int port_create(struct netlink *nl, unsigned int *next_name, const struct port_spec *spec,
		struct port *ret, struct tap_fds *ret_fds)
{
	_cleanup_tap_fds_ struct tap_fds fds = { .n = 0 };
	struct port p = { .kind = spec->kind };
	const char *peer = spec->peer_ifname && *spec->peer_ifname ? spec->peer_ifname : "eth0";
	int r;

	r = port_name(nl, next_name, spec, p.ifname);
	if (r)
		return r;
	switch (p.kind) {
	case PORT_TAP:
	case PORT_NAMED_TAP:
		r = create_tap(nl, spec, &p, &fds);
		/* Made meanwhile by someone else: IFF_TUN_EXCL refused to attach. */
		if (r == -EBUSY)
			r = PORT_E_IFNAME_TAKEN;
		break;
	case PORT_NETNS:
		r = netlink_veth_add(nl, p.ifname, peer, spec->netns_fd, spec->mac, spec->mtu,
				     &p.ifindex);
		if (r == -EEXIST)
			r = PORT_E_IFNAME_TAKEN;
		break;
	default:
		r = -EINVAL;
	}
	if (r)
		return r;
	/* Our end is a bridge port, not a host: without IPv6 it gets no
	 * link-local address, multicast route or MLD, whose events would
	 * wake every listener in the namespace (not our dnsmasqs: see
	 * dnsmasq-preload.c). Best effort: IPv6 may be off already. */
	(void)sysctl_write_ipv6_link(p.ifname, "disable_ipv6", "1");
	r = netlink_port_attach(nl, p.ifindex, spec->bridge_ifindex, spec->alias, spec->mtu);
	/* The guest end goes up last: with both ends up the carrier is on,
	 * and syncing both makes the first frames go through (see
	 * netlink_link_sync()); a TAP's carrier is on since TUNSETIFF. */
	if (r >= 0 && p.kind == PORT_NETNS)
		r = netlink_veth_peer_up(nl, spec->netns_fd, peer);
	if (r >= 0)
		r = netlink_link_sync(nl, p.ifindex);
	if (r < 0) {
		/* A plain TAP goes with its fds (cleanup); the others are ours to remove. */
		(void)port_remove(nl, &p);
		return r;
	}
	*ret = p;
	*ret_fds = TAKE_TAP_FDS(fds);
	return 0;
}

int port_detach(struct netlink *nl, const struct port *p)
{
	int r;

	if (p->kind != PORT_TAP || p->ifindex <= 0)
		return 0;
	r = netlink_port_detach(nl, p->ifindex);
	return r == -ENODEV || r == -ENOENT ? 0 : r;
}

int port_remove(struct netlink *nl, const struct port *p)
{
	int r = 0;

	if (p->ifindex <= 0)
		return 0;
	/*
	 * A named TAP may still be held open (a VM that outlives its lease):
	 * RTM_DELLINK deletes it all the same, and the holder's fd fails from
	 * then on (EBADFD). Clearing its persistence instead (TUNSETIFF to
	 * reattach, TUNSETPERSIST 0) fails while it is held (EBUSY, EINVAL
	 * for multi-queue), and would leave it to linger.
	 */
	if (p->kind == PORT_NETNS || p->kind == PORT_NAMED_TAP || p->abandoned)
		r = netlink_link_del(nl, p->ifindex);
	/* The kernel may have done it already. */
	return r == -ENODEV || r == -ENOENT ? 0 : r;
}
