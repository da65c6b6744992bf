/* port.c - the kernel side of ports: TAP queues and namespace checks */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/nsfs.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "bgclose.h"
#include "port.h"
#include "util.h"

static int tap_open_queue(const char *name, short flags)
{
	_cleanup_close_ int fd = -EBADF;
	struct ifreq ifr = { .ifr_flags = flags };

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
	short flags = IFF_TAP | IFF_NO_PI;
	unsigned int i;
	int r;

	if (vnet_hdr)
		flags |= IFF_VNET_HDR;
	if (queues > 1)
		flags |= IFF_MULTI_QUEUE;
	for (i = 0; i < queues; i++) {
		r = tap_open_queue(name, flags);
		if (r < 0)
			goto fail;
		fds[i] = r;
	}
	if (persist_uid != (uid_t)-1) {
		if (ioctl(fds[0], TUNSETOWNER, (unsigned long)persist_uid) < 0 ||
		    ioctl(fds[0], TUNSETPERSIST, 1UL) < 0) {
			r = -errno;
			goto fail;
		}
	}
	return 0;
fail:
	while (i > 0) {
		i--;
		fds[i] = safe_close(fds[i]);
	}
	return r;
}

int port_remove_persistent_tap(const char *name)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI };
	int fd, r = 0;

	/* Reattach once, clear persistence, and let close() destroy it. The
	 * flags must match how it was made, or TUNSETIFF says EINVAL. */
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		ifr.ifr_flags |= IFF_MULTI_QUEUE;
		if (ioctl(fd, TUNSETIFF, &ifr) < 0)
			r = -errno;
	}
	if (r == 0 && ioctl(fd, TUNSETPERSIST, 0UL) < 0)
		r = -errno;
	/* The destroying close waits for the kernel: off the loop. */
	bgclose(fd);
	return r;
}

int port_check_netns(int fd, uid_t uid)
{
	_cleanup_close_ int userns = -EBADF;
	uid_t owner;
	int type;

	/* NS_GET_NSTYPE fails with ENOTTY on anything but an nsfs file. */
	type = ioctl(fd, NS_GET_NSTYPE);
	if (type < 0)
		return errno == ENOTTY || errno == EINVAL ? PORT_E_NOT_NETNS : -errno;
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

void port_disable_ipv6(const char *name)
{
	_cleanup_close_ int fd = -EBADF;
	char path[96];

	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd >= 0)
		(void)!write(fd, "1", 1);
}
