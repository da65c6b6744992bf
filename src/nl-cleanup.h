/* nl-cleanup.h - _cleanup_() for libnl's objects: links, addresses, caches, messages, sockets */
#ifndef VMNET_NL_CLEANUP_H
#define VMNET_NL_CLEANUP_H

#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/msg.h>
#include <netlink/route/link.h>
#include <netlink/socket.h>

static inline void link_putp(struct rtnl_link **l)
{
	if (*l)
		rtnl_link_put(*l);
}

static inline void addr_putp(struct nl_addr **a)
{
	if (*a)
		nl_addr_put(*a);
}

static inline void cache_freep(struct nl_cache **c)
{
	if (*c)
		nl_cache_free(*c);
}

static inline void msg_freep(struct nl_msg **m)
{
	if (*m)
		nlmsg_free(*m);
}

static inline void nl_socket_freep(struct nl_sock **sk)
{
	if (*sk)
		nl_socket_free(*sk);
}

#endif
