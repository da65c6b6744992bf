/* neighbour.c - the bridges' forwarding databases and the neighbour table, followed over rtnetlink
 *
 * One rtnetlink socket of its own, subscribed to RTNLGRP_NEIGH: the
 * bridges say there which MAC they learned behind which port (AF_BRIDGE
 * entries), and the neighbour table which IPv4 and IPv6 address a MAC
 * answers for. The group carries every neighbour of the namespace, and
 * the bridges' own entries: the MAC of every port and bridge, made as
 * each is created (NUD_PERMANENT). A classic BPF filter lets through
 * only neighbour messages of the three families whose state is neither
 * permanent nor NOARP, so that creating a network or a port wakes the
 * daemon no more than before. The messages are parsed here, without
 * libnl: a header and two or three attributes.
 *
 * Dumps (at start, and after the monitor overran) go over a second
 * socket, without the filter: a filter sees each datagram by its first
 * message, and a dump packs many into one.
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "log.h"
#include "neighbour.h"
#include "util.h"

#define RCVBUF (4 << 20)
/* What a neighbour entry is that names a MAC: not on its way, not failed. */
#define NUD_KNOWN (NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE)

enum dump {
	DUMP_NONE,
	DUMP_FDB,   /* the bridges' forwarding databases, first: the MACs */
	DUMP_NEIGH, /* then the neighbour tables: the MACs' addresses */
};

struct neighbour {
	int fd;
	sd_event_source *io;
	int dump_fd; /* requests and their answers: dumps */
	sd_event_source *dump_io;
	neighbour_fn fn;
	neighbour_resync_fn resync;
	void *userdata;
	char buf[64 * 1024] __attribute__((aligned(NLMSG_ALIGNTO)));
	enum dump dump;  /* in progress */
	bool dump_again; /* asked for while one ran */
	uint32_t seq;
};

/*
 * Classic BPF loads are big-endian, nlmsghdr and ndmsg fields host order:
 * hence htons() on the constants. Jumps count from the next instruction.
 */
static int attach_filter(int fd)
{
	struct sock_filter code[] = {
		/* 0 */ BPF_STMT(BPF_LD | BPF_H | BPF_ABS, offsetof(struct nlmsghdr, nlmsg_type)),
		/* 1 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, htons(RTM_NEWNEIGH), 1, 0),
		/* 2 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, htons(RTM_DELNEIGH), 0, 6),
		/* 3 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, NLMSG_LENGTH(0) + offsetof(struct ndmsg, ndm_family)),
		/* 4 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_BRIDGE, 2, 0),
		/* 5 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_INET, 1, 0),
		/* 6 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_INET6, 0, 2),
		/* 7 */ BPF_STMT(BPF_LD | BPF_H | BPF_ABS, NLMSG_LENGTH(0) + offsetof(struct ndmsg, ndm_state)),
		/* 8 */ BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, htons(NUD_PERMANENT | NUD_NOARP), 0, 1),
		/* 9 */ BPF_STMT(BPF_RET | BPF_K, 0),
		/* 10 */ BPF_STMT(BPF_RET | BPF_K, 0xffffffff),
	};
	struct sock_fprog prog = { .len = ELEMENTSOF(code), .filter = code };

	return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0 ? -errno : 0;
}

/* The attributes of one neighbour message. */
static void parse_attrs(struct nlmsghdr *h, struct ndmsg *nd, const void **lladdr, size_t *ll_len,
			const void **dst, size_t *dst_len)
{
	struct rtattr *a = (struct rtattr *)((char *)nd + NLMSG_ALIGN(sizeof(*nd)));
	int len = (int)h->nlmsg_len - (int)NLMSG_LENGTH(sizeof(*nd));

	for (; RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == NDA_LLADDR) {
			*lladdr = RTA_DATA(a);
			*ll_len = RTA_PAYLOAD(a);
		} else if (a->rta_type == NDA_DST) {
			*dst = RTA_DATA(a);
			*dst_len = RTA_PAYLOAD(a);
		}
	}
}

static void handle(struct neighbour *nb, struct nlmsghdr *h)
{
	struct ndmsg *nd = NLMSG_DATA(h);
	struct neighbour_event e = { .ifindex = nd->ndm_ifindex, .family = nd->ndm_family };
	const void *lladdr = NULL, *dst = NULL;
	size_t ll_len = 0, dst_len = 0;
	bool gone = h->nlmsg_type == RTM_DELNEIGH;

	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*nd)) || nd->ndm_state & (NUD_PERMANENT | NUD_NOARP))
		return; /* a port's or a bridge's own MAC, which the filter keeps out */
	parse_attrs(h, nd, &lladdr, &ll_len, &dst, &dst_len);
	if (nd->ndm_family == AF_BRIDGE) {
		if (!lladdr || ll_len != ETH_ALEN)
			return;
		e.fdb = true;
		e.added = !gone;
		memcpy(e.mac, lladdr, ETH_ALEN);
	} else if (nd->ndm_family == AF_INET || nd->ndm_family == AF_INET6) {
		if (!dst || dst_len != (nd->ndm_family == AF_INET ? 4u : 16u))
			return;
		memcpy(e.addr, dst, dst_len);
		/* Known at a MAC; else (failed, on its way, deleted) known at none. */
		e.added = !gone && nd->ndm_state & NUD_KNOWN && lladdr && ll_len == ETH_ALEN;
		if (e.added)
			memcpy(e.mac, lladdr, ETH_ALEN);
	} else {
		return;
	}
	nb->fn(nb->userdata, &e);
}

static int send_dump(struct neighbour *nb, int family)
{
	struct {
		struct nlmsghdr h;
		struct ndmsg nd;
	} req = {
		.h = { .nlmsg_len = NLMSG_LENGTH(sizeof(struct ndmsg)),
		       .nlmsg_type = RTM_GETNEIGH,
		       .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
		       .nlmsg_seq = ++nb->seq },
		.nd = { .ndm_family = (uint8_t)family },
	};
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };

	if (sendto(nb->dump_fd, &req, req.h.nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	nb->dump = family == AF_BRIDGE ? DUMP_FDB : DUMP_NEIGH;
	return 0;
}

int neighbour_dump(struct neighbour *nb)
{
	/* One dump at a time on a socket: the next starts when this one is done. */
	if (nb->dump != DUMP_NONE) {
		nb->dump_again = true;
		return 0;
	}
	return send_dump(nb, AF_BRIDGE);
}

/* A dump is over: the neighbours after the MACs, and another if one was asked for. */
static void dump_done(struct neighbour *nb)
{
	int r = 0;

	if (nb->dump == DUMP_FDB) {
		r = send_dump(nb, AF_UNSPEC);
	} else {
		nb->dump = DUMP_NONE;
		if (nb->dump_again) {
			nb->dump_again = false;
			r = send_dump(nb, AF_BRIDGE);
		}
	}
	if (r < 0) {
		nb->dump = DUMP_NONE;
		log_debug_errno(r, "Failed to read the neighbour table: %m");
	}
}

/* Each message of @buf (@n bytes); Return: whether a dump ended in it. */
static bool handle_all(struct neighbour *nb, char *buf, ssize_t n)
{
	bool done = false;

	for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
		if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR)
			done = true;
		else if (h->nlmsg_type == RTM_NEWNEIGH || h->nlmsg_type == RTM_DELNEIGH)
			handle(nb, h);
	}
	return done;
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct neighbour *nb = userdata;
	ssize_t n;

	for (;;) {
		n = recv(fd, nb->buf, sizeof(nb->buf), MSG_DONTWAIT);
		if (n < 0 && errno == ENOBUFS) {
			/* The kernel dropped events: what we know may be stale. */
			log_debug("Neighbour monitor overran, reading everything again");
			nb->resync(nb->userdata);
			(void)neighbour_dump(nb);
			continue;
		}
		if (n <= 0)
			return 0;
		(void)handle_all(nb, nb->buf, n);
	}
}

static int on_dump_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct neighbour *nb = userdata;
	ssize_t n;

	while ((n = recv(fd, nb->buf, sizeof(nb->buf), MSG_DONTWAIT)) > 0)
		if (handle_all(nb, nb->buf, n))
			dump_done(nb);
	if (n < 0 && errno != EAGAIN && errno != EINTR && nb->dump != DUMP_NONE) {
		log_debug("Failed to read the neighbour table: %m");
		nb->dump = DUMP_NONE;
	}
	return 0;
}

int neighbour_new(sd_event *event, neighbour_fn fn, neighbour_resync_fn resync, void *userdata,
		  struct neighbour **ret)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = 0 };
	int group = RTNLGRP_NEIGH, rcvbuf = RCVBUF, r;
	struct neighbour *nb = calloc(1, sizeof(*nb));

	if (!nb)
		return -ENOMEM;
	nb->fd = nb->dump_fd = -EBADF;
	nb->fn = fn;
	nb->resync = resync;
	nb->userdata = userdata;
	nb->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
	if (nb->fd < 0) {
		r = -errno;
		goto fail;
	}
	r = attach_filter(nb->fd);
	if (r < 0)
		/* Correct without it, only busier. */
		log_debug_errno(r, "Failed to filter the neighbour monitor: %m");
	/* Room for a burst (guests booting by the hundred) before ENOBUFS. */
	if (setsockopt(nb->fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		(void)setsockopt(nb->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (bind(nb->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    setsockopt(nb->fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof(group)) < 0) {
		r = -errno;
		goto fail;
	}
	r = sd_event_add_io(event, &nb->io, nb->fd, EPOLLIN, on_io, nb);
	if (r < 0)
		goto fail;
	nb->dump_fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
	if (nb->dump_fd < 0) {
		r = -errno;
		goto fail;
	}
	r = sd_event_add_io(event, &nb->dump_io, nb->dump_fd, EPOLLIN, on_dump_io, nb);
	if (r < 0)
		goto fail;
	*ret = nb;
	return 0;
fail:
	neighbour_free(nb);
	return r;
}

struct neighbour *neighbour_free(struct neighbour *nb)
{
	if (!nb)
		return NULL;
	sd_event_source_disable_unref(nb->io);
	sd_event_source_disable_unref(nb->dump_io);
	safe_close(nb->fd);
	safe_close(nb->dump_fd);
	free(nb);
	return NULL;
}
