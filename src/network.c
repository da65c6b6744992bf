/* network.c - a named network's lifecycle: bridge, rules, dnsmasq, leases, idle removal
 *
 * Theory of operation. A network exists while someone uses it. The first
 * acquire of a name creates it: a /24 from the pool that nothing on the
 * host overlaps, a bridge vmbrN holding the gateway .1 and a ULA /64, the
 * broker's nftables table rewritten to include it, and a dnsmasq serving
 * it. Each lease counts as one use. When the last lease ends, the idle
 * timer starts; an acquire in that window stops it and the same bridge
 * and subnet serve again. When it fires, everything is removed in reverse
 * order of creation. A failure half way through creation is undone by
 * the same network_free(), which copes with any partial state.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/random.h>
#include <unistd.h>

#include "dhcp.h"
#include "lease.h"
#include "log.h"
#include "netlink.h"
#include "network.h"
#include "nft.h"
#include "util.h"

uint32_t network_gateway(const struct network *n)
{
	return n->subnet.addr + 1;
}

struct network *network_find(struct broker *b, const char *name)
{
	struct network *n;

	TAILQ_FOREACH(n, &b->networks, link)
		if (streq(n->config.name, name))
			return n;
	return NULL;
}

/* Rewrite the broker's nftables table for the networks in b->networks. */
static int apply_firewall(struct broker *b)
{
	_cleanup_free_ struct nft_network *v = NULL;
	_cleanup_free_ char *err = NULL;
	struct network *n;
	size_t i = 0;
	int r;

	v = calloc(b->n_networks + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	TAILQ_FOREACH(n, &b->networks, link)
		if (n->bridge_ifindex > 0)
			v[i++] = (struct nft_network){
				.bridge = n->bridge,
				.subnet = n->subnet,
				.ula = n->ula,
				.nat = n->config.mode == MODE_SHARED,
			};
	r = nft_apply(b->nft, v, i, &err);
	if (r < 0)
		log_error("Failed to apply nftables rules: %s", err ? err : "unknown error");
	return r;
}

/* Routing for NAT. This is our namespace's sysctl, set once and left on:
 * turning it off later could cut traffic that other software routes. */
static int enable_forwarding(struct broker *b)
{
	_cleanup_close_ int fd = -EBADF;

	if (b->forwarding_on)
		return 0;
	fd = open("/proc/sys/net/ipv4/ip_forward", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "1\n", 2) != 2)
		return log_error_errno(-errno, "Failed to enable IPv4 forwarding: %m");
	b->forwarding_on = true;
	log_info("Enabled IPv4 forwarding for NAT networks");
	return 0;
}

static int pick_subnet(struct broker *b, struct prefix4 *ret)
{
	_cleanup_free_ struct prefix4 *used = NULL;
	struct prefix4 *grown;
	struct network *n;
	size_t n_used = 0;
	int r;

	r = netlink_ipv4_in_use(b->nl, &used, &n_used);
	if (r < 0)
		return r;
	/* Our own networks count even before their bridge has an address. */
	grown = realloc(used, (n_used + b->n_networks + 1) * sizeof(*used));
	if (!grown)
		return -ENOMEM;
	used = grown;
	TAILQ_FOREACH(n, &b->networks, link)
		used[n_used++] = n->subnet;
	r = pool_pick_subnet(&b->opt.pool, used, n_used, ret);
	return r == POOL_E_EXHAUSTED ? NETWORK_E_POOL_EXHAUSTED : r;
}

static bool bridge_taken(struct broker *b, const char *name)
{
	struct network *n;

	TAILQ_FOREACH(n, &b->networks, link)
		if (streq(n->bridge, name))
			return true;
	return false;
}

static int pick_bridge_name(struct broker *b, char ret[IFNAMSIZ])
{
	char name[IFNAMSIZ];

	for (unsigned int i = 0; i < 10000; i++) {
		snprintf(name, sizeof(name), "vmbr%u", i);
		if (if_nametoindex(name) == 0 && !bridge_taken(b, name)) {
			memcpy(ret, name, IFNAMSIZ);
			return 0;
		}
	}
	return -ENOSPC;
}

/* A random RFC 4193 ULA /64: fd00::/8, 40 random bits of global ID, subnet 0. */
static int make_ula(uint8_t ula[16])
{
	memset(ula, 0, 16);
	ula[0] = 0xfd;
	if (getrandom(ula + 1, 5, 0) != 5)
		return -errno;
	return 0;
}

static int on_idle(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct network *n = userdata;

	log_info("[network %s] Idle, removing bridge %s", n->config.name, n->bridge);
	network_free(n);
	return 0;
}

static int arm_idle_timer(struct network *n)
{
	struct broker *b = n->broker;

	if (n->idle_timer)
		return 0;
	return sd_event_add_time_relative(b->event, &n->idle_timer, CLOCK_MONOTONIC,
					  b->opt.idle_timeout_usec, 0, on_idle, n);
}

static void on_dnsmasq_exit(struct dhcp_server *s, const siginfo_t *si, void *userdata)
{
	struct network *n = userdata;

	/* Restart with backoff: issue #5. Guests keep their leases until expiry. */
	log_error("[network %s] dnsmasq exited unexpectedly (%s %d); DHCP and DNS are down",
		  n->config.name, si->si_code == CLD_EXITED ? "status" : "signal", si->si_status);
}

static int start_dhcp(struct network *n)
{
	struct broker *b = n->broker;
	struct dhcp_params p = {
		.name = n->config.name,
		.bridge = n->bridge,
		.state_dir = b->opt.state_dir,
		.resolv_file = b->opt.resolv_file,
		.gateway = network_gateway(n),
		.router = n->config.mode == MODE_SHARED,
		/* A host-only network must not reach out, not even by DNS. */
		.dns_upstream = n->config.mode == MODE_SHARED && n->config.dns_proxy,
		.ula = n->ula,
		.mtu = n->config.mtu,
	};

	return dhcp_server_new(b->event, &p, on_dnsmasq_exit, n, &n->dhcp);
}

static int create_bridge(struct network *n)
{
	struct broker *b = n->broker;
	uint8_t gw[4], gw6[16];
	uint32_t g = network_gateway(n);
	int r;

	r = pick_bridge_name(b, n->bridge);
	if (r < 0)
		return r;
	r = netlink_bridge_add(b->nl, n->bridge, n->config.mtu, n->bridge_mac, &n->bridge_ifindex);
	if (r < 0)
		return r;
	gw[0] = (uint8_t)(g >> 24);
	gw[1] = (uint8_t)(g >> 16);
	gw[2] = (uint8_t)(g >> 8);
	gw[3] = (uint8_t)g;
	r = netlink_addr_add(b->nl, n->bridge_ifindex, AF_INET, gw, POOL_SUBNET_LEN);
	if (r < 0)
		return r;
	memcpy(gw6, n->ula, 16);
	gw6[15] = 1;
	return netlink_addr_add(b->nl, n->bridge_ifindex, AF_INET6, gw6, 64);
}

static int network_create(struct broker *b, const struct network_config *c, struct network **ret)
{
	struct network *n;
	char sub[32];
	int r;

	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->broker = b;
	n->config = *c;
	TAILQ_INIT(&n->leases);

	r = pick_subnet(b, &n->subnet);
	if (r)
		goto fail_unlinked;
	r = make_ula(n->ula);
	if (r < 0)
		goto fail_unlinked;
	r = getrandom(n->bridge_mac, 6, 0) == 6 ? 0 : -errno;
	if (r < 0)
		goto fail_unlinked;
	n->bridge_mac[0] = (uint8_t)((n->bridge_mac[0] & 0xfe) | 0x02);

	TAILQ_INSERT_TAIL(&b->networks, n, link);
	b->n_networks++;
	r = create_bridge(n);
	if (r < 0)
		goto fail;
	if (n->config.mode == MODE_SHARED) {
		r = enable_forwarding(b);
		if (r < 0)
			goto fail;
	}
	r = apply_firewall(b);
	if (r < 0)
		goto fail;
	if (n->config.dhcp) {
		r = start_dhcp(n);
		if (r < 0)
			goto fail;
	}
	r = arm_idle_timer(n);
	if (r < 0)
		goto fail;
	log_info("[network %s] Created: bridge %s, subnet %s, mode %s", c->name, n->bridge,
		 prefix4_format(&n->subnet, sub, sizeof(sub)), network_mode_to_string(c->mode));
	*ret = n;
	return 0;
fail:
	network_free(n);
	return r;
fail_unlinked:
	free(n);
	return r;
}

int network_acquire(struct broker *b, const struct network_config *c, struct network **ret)
{
	struct network *n = network_find(b, c->name);

	/* The idle timer keeps running until a lease is added: if the port
	 * then fails, the network still goes away on time. */
	if (!n)
		return network_create(b, c, ret);
	*ret = n;
	return 0;
}

struct network *network_free(struct network *n)
{
	struct broker *b;
	struct lease *l;
	int r;

	if (!n)
		return NULL;
	b = n->broker;
	n->idle_timer = sd_event_source_disable_unref(n->idle_timer);
	n->dhcp = dhcp_server_free(n->dhcp);
	/* Leases go without telling dnsmasq (it is gone) or arming the timer. */
	while ((l = TAILQ_FIRST(&n->leases))) {
		TAILQ_REMOVE(&n->leases, l, network_link);
		l->network_link.tqe_prev = NULL;
		n->n_leases--;
		lease_free(l);
	}
	TAILQ_REMOVE(&b->networks, n, link);
	b->n_networks--;
	(void)apply_firewall(b);
	if (n->bridge_ifindex > 0) {
		r = netlink_link_del(b->nl, n->bridge_ifindex);
		if (r < 0)
			log_warning_errno(r, "[network %s] Failed to remove bridge %s, ignoring: %m",
					  n->config.name, n->bridge);
	}
	free(n);
	return NULL;
}

void network_lease_added(struct network *n, struct lease *l)
{
	n->n_leases++;
	if (n->idle_timer && n->ever_used)
		log_info("[network %s] In use again, removal cancelled", n->config.name);
	n->idle_timer = sd_event_source_disable_unref(n->idle_timer);
	n->ever_used = true;
}

void network_lease_removed(struct network *n, struct lease *l)
{
	int r;

	n->n_leases--;
	if (l->host) {
		r = network_sync_dhcp(n);
		if (r < 0)
			log_warning_errno(r, "[network %s] Failed to update DHCP reservations, ignoring: %m",
					  n->config.name);
	}
	if (n->n_leases == 0) {
		r = arm_idle_timer(n);
		if (r < 0)
			log_error_errno(r, "[network %s] Failed to start idle timer: %m", n->config.name);
	}
}

int network_sync_dhcp(struct network *n)
{
	_cleanup_free_ struct dhcp_host *hosts = NULL;
	struct lease *l;
	size_t i = 0;

	if (!n->dhcp)
		return 0;
	hosts = calloc(n->n_leases + 1, sizeof(*hosts));
	if (!hosts)
		return -ENOMEM;
	TAILQ_FOREACH(l, &n->leases, network_link)
		if (l->host) {
			memcpy(hosts[i].mac, l->mac, 6);
			hosts[i].address = n->subnet.addr + l->host;
			i++;
		}
	return dhcp_server_set_hosts(n->dhcp, hosts, i);
}


json_t *network_to_json(const struct network *n)
{
	char gw[16], mask[16], ula[INET6_ADDRSTRLEN];

	inet_ntop(AF_INET6, n->ula, ula, sizeof(ula));
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:i}", "name", n->config.name, "mode",
			 network_mode_to_string(n->config.mode), "bridge", n->bridge, "subnet",
			 addr4_format(network_gateway(n), gw, sizeof(gw)), "mask",
			 addr4_format(prefix4_mask(n->subnet.len), mask, sizeof(mask)),
			 "ipv6_prefix", ula, "prefix_len", 64, "mtu", (int)n->config.mtu);
}

json_t *network_status_json(const struct network *n, uid_t uid)
{
	json_t *o = network_to_json(n), *leases;
	const struct lease *l;
	uint64_t when, now;

	if (!o)
		return NULL;
	leases = json_array();
	TAILQ_FOREACH(l, &n->leases, network_link)
		json_array_append_new(leases, lease_to_json(l, uid == 0 || uid == l->uid));
	json_object_set_new(o, "leases", leases);
	json_object_set_new(o, "state", json_string(n->n_leases ? "active" : "idle"));
	if (n->idle_timer && sd_event_source_get_time(n->idle_timer, &when) >= 0 &&
	    sd_event_now(n->broker->event, CLOCK_MONOTONIC, &now) >= 0)
		json_object_set_new(o, "idle_remaining",
				    json_integer(when > now ? (json_int_t)((when - now + 999999) / 1000000) : 0));
	if (n->dhcp)
		json_object_set_new(o, "dnsmasq_pid", json_integer(dhcp_server_pid(n->dhcp)));
	return o;
}
