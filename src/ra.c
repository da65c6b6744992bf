/* ra.c - router advertisements for every network, from one raw socket
 *
 * Why here and not in each network's dnsmasq: dnsmasq doing RA (or
 * --bind-dynamic) listens to every address change in the namespace, and
 * on each one re-reads every interface of the host: a new network's three
 * addresses woke all other networks' dnsmasqs, each reading O(networks)
 * addresses, so creating the 150th network took 0.25-0.4 s where the
 * first took 20 ms (docs/performance.md, 3). The daemon already knows
 * each bridge; an advertisement is one packet of 64-88 bytes, sent every few
 * minutes and when a guest asks. One ICMPv6 socket serves all networks:
 * it joins all-routers (ff02::2) on each bridge for the solicitations,
 * and sends with the bridge as interface and its link-local address as
 * source. The kernel computes the checksum and checks the ones received.
 */
#include <errno.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip6.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "ra.h"
#include "util.h"

#define ND_OPT_RDNSS_TYPE 25 /* RFC 8106; not in every libc's icmp6.h */
#define RA_MAX_SIZE 128
#define RECV_BURST 32               /* solicitations read per wake-up ... */
#define RECV_PAUSE_USEC (10 * 1000) /* ... and after a full burst, a pause */

struct ra {
	sd_event *event;
	int fd;
	sd_event_source *io;
	sd_event_source *resume; /* ends the pause after a full burst */
	TAILQ_HEAD(, ra_link) links;
};

struct ra_link {
	struct ra *ra;
	TAILQ_ENTRY(ra_link) link;
	struct ra_params p;
	sd_event_source *timer;
	uint64_t last_usec;   /* last multicast RA; 0: none yet */
	unsigned int initial; /* initial RAs still to send */
	bool joined;          /* member of ff02::2 on the bridge */
};

static const struct in6_addr all_nodes = { { { 0xff, 0x02, [15] = 1 } } };
static const struct in6_addr all_routers = { { { 0xff, 0x02, [15] = 2 } } };

static void put(uint8_t *buf, size_t *off, const void *data, size_t len)
{
	memcpy(buf + *off, data, len);
	*off += len;
}

size_t ra_build(const struct ra_params *p, uint16_t router_lifetime, uint8_t *buf, size_t size)
{
	struct nd_router_advert ra = { .nd_ra_type = ND_ROUTER_ADVERT };
	struct nd_opt_hdr sll = { .nd_opt_type = ND_OPT_SOURCE_LINKADDR, .nd_opt_len = 1 };
	struct nd_opt_mtu mtu = {
		.nd_opt_mtu_type = ND_OPT_MTU,
		.nd_opt_mtu_len = 1,
		.nd_opt_mtu_mtu = htonl(p->mtu),
	};
	struct nd_opt_prefix_info pi = {
		.nd_opt_pi_type = ND_OPT_PREFIX_INFORMATION,
		.nd_opt_pi_len = 4,
		.nd_opt_pi_prefix_len = 64,
		.nd_opt_pi_flags_reserved = ND_OPT_PI_FLAG_ONLINK | ND_OPT_PI_FLAG_AUTO,
		.nd_opt_pi_valid_time = htonl(RA_VALID_LIFETIME),
		.nd_opt_pi_preferred_time = htonl(RA_PREFERRED_LIFETIME),
	};
	/* RDNSS: type, length 3 (24 bytes), reserved, lifetime, one address. */
	uint8_t rdnss[8] = { ND_OPT_RDNSS_TYPE, 3 };
	uint32_t rdnss_lifetime = htonl(RA_ROUTER_LIFETIME); /* >= 3 x interval: RFC 8106 */
	size_t need = sizeof(ra) + sizeof(sll) + 6 + sizeof(mtu) + sizeof(pi) +
		      (p->dns ? sizeof(rdnss) + 16 : 0);
	size_t off = 0;

	if (size < need)
		return 0;
	/* Assigned, not initialised: both are in one union of icmp6_hdr, and a
	 * designated initialiser of one member would zero the other. */
	ra.nd_ra_curhoplimit = 64;
	ra.nd_ra_router_lifetime = htons(router_lifetime);
	memcpy(&pi.nd_opt_pi_prefix, p->prefix, 8); /* the /64, host bits zero */
	memcpy(rdnss + 4, &rdnss_lifetime, 4);
	put(buf, &off, &ra, sizeof(ra));
	put(buf, &off, &sll, sizeof(sll));
	put(buf, &off, p->mac, 6);
	put(buf, &off, &mtu, sizeof(mtu));
	put(buf, &off, &pi, sizeof(pi));
	if (p->dns) {
		put(buf, &off, rdnss, sizeof(rdnss));
		put(buf, &off, p->dns6, 16);
	}
	return off;
}

bool ra_is_solicitation(const uint8_t *buf, size_t len, int hop_limit, bool unspecified_source)
{
	const struct nd_router_solicit *rs = (const void *)buf;

	/* Only a neighbour sends with hop limit 255: nothing routed gets here. */
	if (hop_limit != 255 || len < sizeof(*rs))
		return false;
	if (rs->nd_rs_type != ND_ROUTER_SOLICIT || rs->nd_rs_code != 0)
		return false;
	/* Every option has a non-zero length and ends inside the packet. */
	for (size_t off = sizeof(*rs); off < len;) {
		size_t olen;

		if (len - off < 2 || buf[off + 1] == 0)
			return false;
		olen = (size_t)buf[off + 1] * 8;
		if (olen > len - off)
			return false;
		/* A host without an address has no link-layer address to give. */
		if (unspecified_source && buf[off] == ND_OPT_SOURCE_LINKADDR)
			return false;
		off += olen;
	}
	return true;
}

/* @pkt (@len bytes) to all nodes of @l's link, from @src. Return: 0 or negative errno. */
static int send_all_nodes(struct ra_link *l, const uint8_t src[16], const void *pkt, size_t len)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
		struct cmsghdr align;
	} control = { 0 };
	struct sockaddr_in6 to = {
		.sin6_family = AF_INET6,
		.sin6_addr = all_nodes,
		.sin6_scope_id = (uint32_t)l->p.ifindex,
	};
	struct iovec iov = { .iov_base = (void *)pkt, .iov_len = len };
	struct msghdr mh = {
		.msg_name = &to,
		.msg_namelen = sizeof(to),
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = control.buf,
		.msg_controllen = sizeof(control.buf),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	struct in6_pktinfo info = { .ipi6_ifindex = (unsigned int)l->p.ifindex };

	memcpy(&info.ipi6_addr, src, 16);
	c->cmsg_level = IPPROTO_IPV6;
	c->cmsg_type = IPV6_PKTINFO;
	c->cmsg_len = CMSG_LEN(sizeof(info));
	memcpy(CMSG_DATA(c), &info, sizeof(info));
	return sendmsg(l->ra->fd, &mh, MSG_DONTWAIT) < 0 ? -errno : 0;
}

static void send_ra(struct ra_link *l)
{
	uint8_t pkt[RA_MAX_SIZE];
	size_t len = ra_build(&l->p, l->p.router ? RA_ROUTER_LIFETIME : 0, pkt, sizeof(pkt));
	int r;

	/* A bridge without ports drops it, without error; any error is only a
	 * missed RA, and the next one comes soon. */
	r = send_all_nodes(l, l->p.link_local, pkt, len);
	if (r < 0)
		log_debug_errno(r, "Router advertisement on ifindex %d not sent: %m", l->p.ifindex);
}

int ra_link_probe(struct ra_link *l, const uint8_t src[16])
{
	/* An echo request (type 128): id and sequence are nobody's business. */
	const uint8_t echo[8] = { ICMP6_ECHO_REQUEST, 0, 0, 0, 0x76, 0x6d, 0, 1 };

	return send_all_nodes(l, src, echo, sizeof(echo));
}

static uint64_t random_between(uint64_t lo, uint64_t hi)
{
	uint64_t r = 0;

	/* Spread so that links made together do not advertise together. */
	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
		r = (uint64_t)random();
	return lo + r % (hi - lo + 1);
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct ra_link *l = userdata;
	uint64_t next;

	send_ra(l);
	l->last_usec = usec;
	if (l->initial > 0) {
		l->initial--;
		next = random_between(RA_MIN_DELAY_USEC, RA_INITIAL_INTERVAL_USEC);
	} else {
		next = random_between(RA_INTERVAL_MIN_USEC, RA_INTERVAL_MAX_USEC);
	}
	(void)sd_event_source_set_time(s, usec + next);
	(void)sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
	return 0;
}

/* A guest asked: answer as soon as RA_MIN_DELAY_USEC after the last one. */
static void solicited(struct ra_link *l)
{
	uint64_t now, when, armed;

	if (sd_event_now(l->ra->event, CLOCK_MONOTONIC, &now) < 0)
		return;
	when = l->last_usec ? l->last_usec + RA_MIN_DELAY_USEC : now;
	if (when < now)
		when = now;
	if (sd_event_source_get_time(l->timer, &armed) >= 0 && armed <= when)
		return; /* one is due sooner anyway */
	(void)sd_event_source_set_time(l->timer, when);
}

static struct ra_link *find_link(struct ra *ra, int ifindex)
{
	struct ra_link *l;

	TAILQ_FOREACH(l, &ra->links, link)
		if (l->p.ifindex == ifindex)
			return l;
	return NULL;
}

static bool recv_one(struct ra *ra)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	uint8_t buf[1280];
	struct sockaddr_in6 from = { 0 };
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr mh = {
		.msg_name = &from,
		.msg_namelen = sizeof(from),
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = control.buf,
		.msg_controllen = sizeof(control.buf),
	};
	int ifindex = 0, hop_limit = -1;
	struct ra_link *l;
	ssize_t n;

	n = recvmsg(ra->fd, &mh, MSG_DONTWAIT);
	if (n < 0)
		return false;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != IPPROTO_IPV6)
			continue;
		if (c->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo info;

			memcpy(&info, CMSG_DATA(c), sizeof(info));
			ifindex = (int)info.ipi6_ifindex;
		} else if (c->cmsg_type == IPV6_HOPLIMIT) {
			memcpy(&hop_limit, CMSG_DATA(c), sizeof(hop_limit));
		}
	}
	if (mh.msg_flags & MSG_TRUNC ||
	    !ra_is_solicitation(buf, (size_t)n, hop_limit, IN6_IS_ADDR_UNSPECIFIED(&from.sin6_addr)))
		return true;
	l = find_link(ra, ifindex);
	if (l) /* else not a bridge of ours: the uplink, say */
		solicited(l);
	return true;
}

static int on_resume(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct ra *ra = userdata;

	(void)sd_event_source_set_enabled(ra->io, SD_EVENT_ON);
	return 0;
}

/* Pause reading for RECV_PAUSE_USEC; the kernel drops what overflows meanwhile. */
static void pause_reading(struct ra *ra)
{
	int r;

	if (ra->resume)
		r = sd_event_source_set_time_relative(ra->resume, RECV_PAUSE_USEC);
	else
		r = sd_event_add_time_relative(ra->event, &ra->resume, CLOCK_MONOTONIC,
					       RECV_PAUSE_USEC, 0, on_resume, ra);
	if (r >= 0)
		r = sd_event_source_set_enabled(ra->resume, SD_EVENT_ONESHOT);
	if (r >= 0)
		(void)sd_event_source_set_enabled(ra->io, SD_EVENT_OFF);
}

/*
 * A guest can send solicitations as fast as its link goes. Each costs a
 * read and a lookup, and one answer every RA_MIN_DELAY_USEC at most; a
 * flood is read RECV_BURST at a time with a pause between (at most
 * ~3,200 a second), and at the lowest priority, after clients' requests.
 */
static int on_readable(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct ra *ra = userdata;
	int i;

	for (i = 0; i < RECV_BURST && recv_one(ra); i++)
		;
	if (i == RECV_BURST)
		pause_reading(ra);
	return 0;
}

static int setsockopt_int(int fd, int level, int name, int value)
{
	return setsockopt(fd, level, name, &value, sizeof(value)) < 0 ? -errno : 0;
}

static int open_socket(void)
{
	struct icmp6_filter filter;
	int fd, r = 0;

	fd = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, IPPROTO_ICMPV6);
	if (fd < 0)
		return -errno;
	/* Only solicitations reach us; the kernel drops the rest unread. */
	ICMP6_FILTER_SETBLOCKALL(&filter);
	ICMP6_FILTER_SETPASS(ND_ROUTER_SOLICIT, &filter);
	if (setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof(filter)) < 0)
		r = -errno;
	/* Neighbour discovery goes out with hop limit 255, or is ignored. */
	if (!r)
		r = setsockopt_int(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, 255);
	if (!r)
		r = setsockopt_int(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, 255);
	if (!r)
		r = setsockopt_int(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 0);
	if (!r)
		r = setsockopt_int(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1);
	if (!r)
		r = setsockopt_int(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1);
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

int ra_new(sd_event *event, struct ra **ret)
{
	struct ra *ra = calloc(1, sizeof(*ra));
	int r;

	if (!ra)
		return -ENOMEM;
	TAILQ_INIT(&ra->links);
	ra->event = sd_event_ref(event);
	ra->fd = open_socket();
	if (ra->fd < 0) {
		r = ra->fd;
		goto fail;
	}
	r = sd_event_add_io(event, &ra->io, ra->fd, EPOLLIN, on_readable, ra);
	if (r < 0)
		goto fail;
	r = sd_event_source_set_priority(ra->io, SD_EVENT_PRIORITY_IDLE);
	if (r < 0)
		goto fail;
	*ret = ra;
	return 0;
fail:
	ra_free(ra);
	return r;
}

struct ra *ra_free(struct ra *ra)
{
	if (!ra)
		return NULL;
	ra->io = sd_event_source_disable_unref(ra->io);
	ra->resume = sd_event_source_disable_unref(ra->resume);
	if (ra->fd >= 0)
		close(ra->fd);
	sd_event_unref(ra->event);
	free(ra);
	return NULL;
}

static int membership(struct ra_link *l, int op)
{
	struct ipv6_mreq m = { .ipv6mr_multiaddr = all_routers,
			       .ipv6mr_interface = (unsigned int)l->p.ifindex };

	return setsockopt(l->ra->fd, IPPROTO_IPV6, op, &m, sizeof(m)) < 0 ? -errno : 0;
}

int ra_link_new(struct ra *ra, const struct ra_params *p, struct ra_link **ret)
{
	struct ra_link *l = calloc(1, sizeof(*l));
	int r;

	if (!l)
		return -ENOMEM;
	l->ra = ra;
	l->p = *p;
	l->initial = RA_INITIAL_COUNT;
	/* Solicitations go to ff02::2, which only a forwarding interface
	 * joins by itself; a host-only bridge does not forward. Each
	 * membership takes ~56 bytes of the socket's net.core.optmem_max
	 * (20 KiB before Linux 6.9: ~360 networks). Past that, guests still
	 * get the periodic advertisements, just not an answer on asking. */
	r = membership(l, IPV6_ADD_MEMBERSHIP);
	if (r < 0)
		log_warning_errno(r,
				  "Cannot hear router solicitations on ifindex %d, "
				  "advertising every few minutes only: %m",
				  p->ifindex);
	l->joined = r >= 0;
	r = sd_event_add_time_relative(ra->event, &l->timer, CLOCK_MONOTONIC, 0, 0, on_timer, l);
	if (r < 0)
		goto fail;
	TAILQ_INSERT_TAIL(&ra->links, l, link);
	*ret = l;
	return 0;
fail:
	ra_link_free(l);
	return r;
}

struct ra_link *ra_link_free(struct ra_link *l)
{
	if (!l)
		return NULL;
	l->timer = sd_event_source_disable_unref(l->timer);
	/* Before the bridge goes: the socket would keep the membership (and
	 * its memory, from a small per-socket budget) until it closes. */
	if (l->joined)
		(void)membership(l, IPV6_DROP_MEMBERSHIP);
	if (l->link.tqe_prev)
		TAILQ_REMOVE(&l->ra->links, l, link);
	free(l);
	return NULL;
}
