/* sockdiag.c - the host's own sockets: the ports its services use (NETLINK_SOCK_DIAG)
 *
 * A port forward DNATs traffic for one of the host's own addresses, so a
 * forward of a port on which a host service listens would take that
 * service's traffic from the outside. The kernel tells which ports its
 * sockets hold through sock_diag: one dump per address family of the
 * listening TCP sockets (the listening hash only, cheap) or of every UDP
 * socket (the UDP hash, tens to hundreds of us). There is no event when
 * a socket binds later: the callers look again when they need to. The
 * same dump of listening TCP sockets tells whether a server holds a port
 * on the wildcard address (network.c's DNS port).
 */
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <string.h>
#include <sys/socket.h>

#include "nl-cleanup.h"
#include "sockdiag.h"
#include "util.h"

static int on_socket(struct nl_msg *msg, void *arg)
{
	struct port_set *set = arg;
	struct nlmsghdr *h = nlmsg_hdr(msg);
	const struct inet_diag_msg *m;
	uint16_t port;

	if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY || h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
		return NL_OK;
	m = nlmsg_data(h);
	port = ntohs(m->id.idiag_sport);
	set->bits[port / 8] |= (uint8_t)(1u << (port % 8));
	return NL_OK;
}

static int errno_of(int nle)
{
	switch (nle < 0 ? -nle : nle) {
	case 0:
		return 0;
	case NLE_NOMEM:
		return -ENOMEM;
	case NLE_OPNOTSUPP:
	case NLE_NOADDR:
	case NLE_OBJ_NOTFOUND:
		return -EOPNOTSUPP; /* no udp_diag in this kernel, say */
	case NLE_PERM:
		return -EPERM;
	default:
		return -EIO;
	}
}

/* One dump of @family's sockets of @protocol in @states, to the socket's callback. */
static int dump(struct nl_sock *sk, uint8_t family, uint8_t protocol, uint32_t states)
{
	struct inet_diag_req_v2 req = {
		.sdiag_family = family,
		.sdiag_protocol = protocol,
		.idiag_states = states,
	};
	int r;

	/* The bytes sent, or a negative libnl code. */
	r = nl_send_simple(sk, SOCK_DIAG_BY_FAMILY, NLM_F_DUMP, &req, sizeof(req));
	if (r < 0)
		return errno_of(r);
	return errno_of(nl_recvmsgs_default(sk));
}

int sockdiag_ports_in_use(enum forward_protocol proto, struct port_set *ret)
{
	_cleanup_(nl_socket_freep) struct nl_sock *sk = nl_socket_alloc();
	/* A UDP socket is bound in any state; a TCP service listens. */
	uint8_t protocol = proto == FORWARD_TCP ? IPPROTO_TCP : IPPROTO_UDP;
	uint32_t states = proto == FORWARD_TCP ? 1u << TCP_LISTEN : UINT32_MAX;
	int r;

	if (!sk)
		return -ENOMEM;
	memset(ret, 0, sizeof(*ret));
	nl_socket_disable_auto_ack(sk);
	r = errno_of(nl_connect(sk, NETLINK_SOCK_DIAG));
	if (r < 0)
		return r;
	r = errno_of(nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, on_socket, ret));
	if (r < 0)
		return r;
	r = dump(sk, AF_INET, protocol, states);
	if (r >= 0)
		r = dump(sk, AF_INET6, protocol, states);
	return r;
}

struct wildcard {
	uint16_t port; /* network byte order */
	bool found;
};

static int on_listener(struct nl_msg *msg, void *arg)
{
	static const uint32_t zero[4];
	struct wildcard *w = arg;
	struct nlmsghdr *h = nlmsg_hdr(msg);
	const struct inet_diag_msg *m;

	if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY || h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
		return NL_OK;
	m = nlmsg_data(h);
	if (m->id.idiag_sport == w->port &&
	    memcmp(m->id.idiag_src, zero, m->idiag_family == AF_INET ? 4 : 16) == 0)
		w->found = true;
	return NL_OK;
}

int sockdiag_wildcard_listener(uint16_t port)
{
	_cleanup_(nl_socket_freep) struct nl_sock *sk = nl_socket_alloc();
	struct wildcard w = { .port = htons(port) };
	int r;

	if (!sk)
		return -ENOMEM;
	nl_socket_disable_auto_ack(sk);
	r = errno_of(nl_connect(sk, NETLINK_SOCK_DIAG));
	if (r >= 0)
		r = errno_of(nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, on_listener, &w));
	if (r >= 0)
		r = dump(sk, AF_INET, IPPROTO_TCP, 1u << TCP_LISTEN);
	/* A kernel without IPv6 has nothing to dump there. */
	if (r >= 0 && !w.found)
		(void)dump(sk, AF_INET6, IPPROTO_TCP, 1u << TCP_LISTEN);
	return r < 0 ? r : w.found;
}
