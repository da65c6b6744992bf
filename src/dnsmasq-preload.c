/* dnsmasq-preload.c - preloaded into each network's dnsmasq: no rtnetlink events
 *
 * dnsmasq 2.90 subscribes its rtnetlink socket to every IPv4 and IPv6
 * address and route event in the namespace, whatever its options, and
 * the kernel wakes each subscriber for each event from within the call
 * that caused it. With one dnsmasq per network, the daemon adding a new
 * bridge's three addresses (eleven events) woke every other network's
 * dnsmasq eleven times: 14-18 ms at 200 networks against 0.7 ms at 2
 * (docs/performance.md, 3), and the same for any address or route change
 * anywhere in the namespace.
 *
 * The daemon's dnsmasqs have no use for those events. Each is bound
 * (--bind-interfaces, no router advertisements, no DHCPv6) to a bridge
 * whose addresses exist, usable (IFA_F_NODAD), before it starts and stay
 * until it stops; with those options dnsmasq's handler for address
 * events does nothing. Its route handler resends a DNS query held for a
 * dial-on-demand link and rereads the resolv file, which it also does
 * when inotify says the file changed. Whatever dnsmasq needs to know it
 * asks for on the same socket (RTM_GETADDR), which this leaves alone.
 *
 * So bind() of an rtnetlink socket goes through with no multicast
 * groups: dnsmasq then runs as it does where it may not join them (its
 * netlink_init() retries with nl_groups 0 on EPERM). Everything else
 * passes unchanged. The daemon sets LD_PRELOAD for dnsmasq only (dhcp.c).
 */
#include <dlfcn.h>
#include <errno.h>
#include <linux/netlink.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>

typedef int (*bind_fn)(int, const struct sockaddr *, socklen_t);

static bool is_rtnetlink(int fd, const struct sockaddr *addr, socklen_t len)
{
	int proto = -1;
	socklen_t plen = sizeof(proto);

	if (!addr || len < sizeof(struct sockaddr_nl) || addr->sa_family != AF_NETLINK)
		return false;
	return getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &plen) == 0 && proto == NETLINK_ROUTE;
}

int bind(int fd, const struct sockaddr *addr, socklen_t len)
{
	static bind_fn real;
	struct sockaddr_nl nl;

	if (!real) /* dnsmasq is single-threaded */
		real = (bind_fn)dlsym(RTLD_NEXT, "bind");
	if (!real) {
		errno = ENOSYS;
		return -1;
	}
	if (!is_rtnetlink(fd, addr, len))
		return real(fd, addr, len);
	memcpy(&nl, addr, sizeof(nl));
	nl.nl_groups = 0;
	return real(fd, (const struct sockaddr *)&nl, sizeof(nl));
}
