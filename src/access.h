/* access.h - who may use a network: allowed_users and allowed_groups against the peer */
#ifndef VMNET_ACCESS_H
#define VMNET_ACCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "config.h"

/* What the kernel says about a client: SO_PEERCRED and SO_PEERGROUPS. */
struct access_peer {
	uid_t uid;
	gid_t gid;
	const gid_t *groups; /* supplementary groups */
	size_t n_groups;
};

enum {
	ACCESS_E_DENIED = 400, /* neither a listed user nor in a listed group */
};

/**
 * access_check() - may @p use the network @c?
 *
 * Root always may; so may anyone when the file restricts nothing.
 * Otherwise the uid must be in allowed_users, or the primary or a
 * supplementary gid in allowed_groups. Names are resolved now (NSS), so
 * an account added later counts; a name that does not resolve matches
 * no one.
 * Return: 0 or ACCESS_E_DENIED.
 */
int access_check(const struct network_config *c, const struct access_peer *p);
/*
 * Whether @p is one of @users (names or uids) or in one of @groups
 * (names or gids; primary or supplementary), as access_check() matches.
 */
bool access_listed(char *const *users, size_t n_users, char *const *groups, size_t n_groups,
		   const struct access_peer *p);

#endif
