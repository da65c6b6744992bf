/* port.h - the kernel side of ports: TAP queues and namespace checks */
#ifndef VMNET_PORT_H
#define VMNET_PORT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum {
	PORT_E_NOT_NETNS = 1, /* the fd is not a network namespace */
	PORT_E_NOT_OWNER,     /* the caller does not own that namespace */
};

/**
 * port_open_tap() - create TAP @name with @queues queues, fds into @fds
 * @persist_uid: (uid_t)-1 for a TAP that dies with its last fd; otherwise
 *               make it persistent and owned by that uid (named_tap)
 * Return: 0 or negative errno; nothing is left open on failure.
 */
int port_open_tap(const char *name, unsigned int queues, bool vnet_hdr, uid_t persist_uid, int *fds);
/* net.ipv6.conf.@name.disable_ipv6 = 1, best effort (IPv6 may be off already). */
void port_disable_ipv6(const char *name);
/* Remove a persistent TAP. Return: 0 or negative errno. */
int port_remove_persistent_tap(const char *name);

/**
 * port_check_netns() - may @uid put an interface into namespace @fd?
 *
 * Root may use any namespace. Anyone else only one owned by a user
 * namespace they created: that is the namespace they could configure
 * themselves, so the broker grants no power they lack.
 * Return: 0, PORT_E_NOT_NETNS, PORT_E_NOT_OWNER, or negative errno.
 */
int port_check_netns(int fd, uid_t uid);

#endif
