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
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/random.h>
#include <unistd.h>

#include "config-dir.h"
#include "dhcp.h"
#include "forward.h"
#include "lease.h"
#include "log.h"
#include "netlink.h"
#include "network.h"
#include "nft.h"
#include "ra.h"
#include "state.h"
#include "subnet.h"
#include "util.h"

uint32_t network_gateway(const struct network *n)
{
	return n->gateway ? n->gateway : n->subnet.addr + 1;
}

unsigned int network_prefix6_len(const struct network *n)
{
	return n->ula_len ? n->ula_len : 64;
}

void network_gateway6(const struct network *n, uint8_t ret[16])
{
	memcpy(ret, n->ula, 16);
	ret[15] = 1;
}

/* dnsmasq serves DHCP and DNS; router advertisements are the daemon's (ra.c). */
static bool wants_dnsmasq(const struct network *n)
{
	return n->config.dhcp || n->config.dns_proxy;
}

struct network *network_find(struct broker *b, const char *name)
{
	struct network *n;

	TAILQ_FOREACH(n, &b->networks, link)
		if (streq(n->config.name, name))
			return n;
	return NULL;
}

/* What nft.c needs of @n; ret->forwards is malloc'ed. */
static int nft_network_of(const struct network *n, struct nft_network *ret)
{
	struct port_forward *fw;
	size_t n_fw;
	int r;

	r = forward_collect(n, &fw, &n_fw);
	if (r < 0)
		return r;
	*ret = (struct nft_network){
		.bridge = n->bridge,
		.ifindex = n->bridge_ifindex,
		.subnet = n->subnet,
		.gateway = network_gateway(n),
		.ula = n->ula,
		.ula_len = (uint8_t)network_prefix6_len(n),
		.nat = n->config.mode == MODE_SHARED,
		.routed4 = !n->config.nat44,
		.routed6 = !n->config.nat66,
		.external_interface = n->config.external_interface,
		.forwards = fw,
		.n_forwards = n_fw,
	};
	network_gateway6(n, ret->gateway6);
	return 0;
}

/* Rewrite the broker's nftables table for the networks in b->networks. */
int network_apply_firewall(struct broker *b)
{
	_cleanup_free_ struct nft_network *v = NULL;
	_cleanup_free_ char *err = NULL;
	struct network *n;
	size_t i = 0;
	int r = 0;

	v = calloc(b->n_networks + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	TAILQ_FOREACH(n, &b->networks, link)
		if (n->bridge_ifindex > 0 && r >= 0 && (r = nft_network_of(n, &v[i])) >= 0)
			i++;
	if (r >= 0) {
		r = nft_apply(b->nft, v, i, &err);
		if (r < 0)
			log_error("Failed to apply nftables rules: %s", err ? err : "unknown error");
	}
	for (size_t j = 0; j < i; j++)
		free((void *)v[j].forwards);
	return r;
}

/*
 * Add new network @n's rules to the table without rewriting the others':
 * O(1), where a rewrite is O(networks). A rewrite when that cannot be
 * (port forwards, no table yet) or fails.
 */
static int firewall_add(struct broker *b, struct network *n)
{
	_cleanup_free_ char *err = NULL;
	struct nft_network v;
	int r;

	r = nft_network_of(n, &v);
	if (r < 0)
		return r;
	r = nft_add_network(b->nft, &v, &err);
	free((void *)v.forwards);
	if (r >= 0)
		return 0;
	if (r != -EAGAIN)
		log_warning("[network %s] Adding its nftables rules failed, rewriting the table: %s",
			    n->config.name, err ? err : "unknown error");
	return network_apply_firewall(b);
}

static int write_sysctl(const char *path, const char *value)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
	size_t len = strlen(value);
	ssize_t w;

	if (fd < 0)
		return -errno;
	w = write(fd, value, len);
	if (w < 0)
		return -errno;
	return w == (ssize_t)len ? 0 : -EIO;
}

static int write_link_sysctl(const char *ifname, const char *key, const char *value)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/%s", ifname, key);
	return write_sysctl(path, value);
}

/*
 * With IPv6 forwarding on, the kernel ignores router advertisements on
 * interfaces with accept_ra=1, and an uplink configured by RA would lose
 * its default route. accept_ra=2 keeps taking them while forwarding.
 */
static void keep_router_advertisements(void)
{
	_cleanup_(closedirp) DIR *d = opendir("/proc/sys/net/ipv6/conf");
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		char path[PATH_MAX], v[4] = "";
		_cleanup_close_ int fd = -EBADF;

		if (de->d_name[0] == '.' || streq(de->d_name, "all") || streq(de->d_name, "lo"))
			continue;
		snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/accept_ra", de->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || read(fd, v, sizeof(v) - 1) <= 0 || v[0] != '1')
			continue;
		if (write_sysctl(path, "2") == 0)
			log_notice("Set accept_ra=2 on '%s' so it keeps router advertisements with forwarding on",
				   de->d_name);
	}
}

/* Routing for NAT: our namespace's sysctls, set once and left on, since
 * turning them off later could cut traffic that other software routes. */
static int enable_forwarding(struct broker *b)
{
	int r;

	if (b->forwarding_on)
		return 0;
	r = write_sysctl("/proc/sys/net/ipv4/ip_forward", "1");
	if (r < 0)
		return log_error_errno(r, "Failed to enable IPv4 forwarding: %m");
	keep_router_advertisements();
	r = write_sysctl("/proc/sys/net/ipv6/conf/all/forwarding", "1");
	if (r < 0)
		/* IPv4 NAT works without it; only NAT66 is lost. */
		log_warning_errno(r, "Failed to enable IPv6 forwarding, IPv6 stays inside networks: %m");
	b->forwarding_on = true;
	log_info("Enabled IP forwarding for NAT networks");
	return 0;
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
		int r;

		snprintf(name, sizeof(name), "vmbr%u", i);
		if (bridge_taken(b, name))
			continue;
		r = netlink_ifindex(b->nl, name);
		if (r < 0)
			return r;
		if (r == 0) {
			memcpy(ret, name, IFNAMSIZ);
			return 0;
		}
	}
	return -ENOSPC;
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

	/* A persistent network is never removed for idleness. */
	if (n->idle_timer || n->config.persistent)
		return 0;
	return sd_event_add_time_relative(b->event, &n->idle_timer, CLOCK_MONOTONIC,
					  b->opt.idle_timeout_usec, 0, on_idle, n);
}

static void on_dnsmasq_exit(struct dhcp_server *s, const siginfo_t *si, uint64_t restart_usec,
			    void *userdata)
{
	struct network *n = userdata;

	if (!si)
		log_error("[network %s] Failed to restart dnsmasq; trying again in %.1f s",
			  n->config.name, (double)restart_usec / 1e6);
	else
		log_error("[network %s] dnsmasq exited (%s %d); DHCP and DNS down, restarting in %.1f s",
			  n->config.name, si->si_code == CLD_EXITED ? "status" : "signal",
			  si->si_status, (double)restart_usec / 1e6);
}

/*
 * The reservations of every lease with an address, and the file's
 * dhcp_reservations: a guest with a reserved MAC gets its address even
 * on a TAP whose lease was made with another MAC.
 */
static int collect_hosts(const struct network *n, struct dhcp_host **ret, size_t *ret_n)
{
	const struct network_config *c = &n->config;
	struct dhcp_host *hosts = calloc(n->n_leases + c->n_reservations + 1, sizeof(*hosts));
	const struct lease *l;
	size_t i = 0;

	if (!hosts)
		return -ENOMEM;
	TAILQ_FOREACH(l, &n->leases, network_link)
		if (l->host) {
			memcpy(hosts[i].mac, l->mac, 6);
			hosts[i].address = n->subnet.addr + l->host;
			i++;
		}
	for (size_t j = 0; j < c->n_reservations; j++) {
		bool dup = false;

		/* A lease of that MAC has the same address: one line is enough. */
		for (size_t k = 0; k < i && !dup; k++)
			dup = memcmp(hosts[k].mac, c->reservations[j].mac, 6) == 0;
		if (dup)
			continue;
		memcpy(hosts[i].mac, c->reservations[j].mac, 6);
		hosts[i++].address = c->reservations[j].address;
	}
	*ret = hosts;
	*ret_n = i;
	return 0;
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
		.prefix_len = n->subnet.len,
		.router = n->config.mode == MODE_SHARED,
		/* A host-only network must not reach out, not even by DNS. */
		.dns_upstream = n->config.mode == MODE_SHARED && n->config.dns_proxy,
		.no_dhcp4 = !n->config.dhcp,
		.no_dns = !n->config.dns_proxy,
		.mtu = n->config.mtu,
		.env = b->dnsmasq_env,
	};

	_cleanup_free_ struct dhcp_host *hosts = NULL;
	size_t count;
	int r;

	r = collect_hosts(n, &hosts, &count);
	if (r < 0)
		return r;
	return dhcp_server_new(b->event, &p, hosts, count, on_dnsmasq_exit, n, &n->dhcp);
}

/* fe80::/64 with the EUI-64 of @mac: what the kernel would have made. */
static void link_local(const uint8_t mac[6], uint8_t ret[16])
{
	memset(ret, 0, 16);
	ret[0] = 0xfe;
	ret[1] = 0x80;
	ret[8] = mac[0] ^ 0x02;
	ret[9] = mac[1];
	ret[10] = mac[2];
	ret[11] = 0xff;
	ret[12] = 0xfe;
	ret[13] = mac[3];
	ret[14] = mac[4];
	ret[15] = mac[5];
}

/*
 * The bridge's three addresses: the gateway, its IPv6 twin, and the
 * link-local address router advertisements are sent from. Left to
 * itself (addr_gen_mode is none here), the kernel would make the last
 * only when the first port brings the carrier, and touch it again when
 * its duplicate address detection ends: address events at three
 * different moments. Each event wakes every listener in the namespace
 * (no longer our dnsmasqs: dnsmasq-preload.c); sent in one request, the
 * three usually arrive close enough to be read in one wake-up (see
 * netlink_addrs_add() for why not always).
 */
static int add_bridge_addresses(struct network *n)
{
	uint32_t g = network_gateway(n);
	struct netlink_addr a[3] = {
		{ .family = AF_INET, .prefixlen = n->subnet.len },
		{ .family = AF_INET6, .prefixlen = network_prefix6_len(n) },
		{ .family = AF_INET6, .prefixlen = 64 },
	};

	a[0].addr[0] = (uint8_t)(g >> 24);
	a[0].addr[1] = (uint8_t)(g >> 16);
	a[0].addr[2] = (uint8_t)(g >> 8);
	a[0].addr[3] = (uint8_t)g;
	network_gateway6(n, a[1].addr);
	link_local(n->bridge_mac, a[2].addr);
	return netlink_addrs_add(n->broker->nl, n->bridge_ifindex, a, 3);
}

/* Advertise the network's /64 from the bridge, if its file wants that. */
static int start_ra(struct network *n)
{
	struct ra_params p = {
		.ifindex = n->bridge_ifindex,
		.mtu = n->config.mtu,
		.router = n->config.mode == MODE_SHARED,
		.dns = n->config.dns_proxy,
	};

	if (!n->config.router_advertisement)
		return 0;
	memcpy(p.mac, n->bridge_mac, 6);
	link_local(n->bridge_mac, p.link_local);
	memcpy(p.prefix, n->ula, 16);
	network_gateway6(n, p.dns6);
	return ra_link_new(n->broker->ra, &p, &n->ra);
}

static int create_bridge(struct network *n)
{
	struct broker *b = n->broker;
	char alias[128];
	int r;

	r = pick_bridge_name(b, n->bridge);
	if (r < 0)
		return r;
	snprintf(alias, sizeof(alias), NETWORK_ALIAS_PREFIX "%s", n->config.name);
	r = netlink_bridge_add(b->nl, n->bridge, n->config.mtu, n->bridge_mac, alias,
			       &n->bridge_ifindex);
	if (r < 0)
		return r;
	/* The bridge sends the network's router advertisements; it must not
	 * configure itself from them. Its link-local address comes from
	 * add_bridge_addresses(): netlink_bridge_add() turned the kernel's
	 * own off. */
	(void)write_link_sysctl(n->bridge, "accept_ra", "0");
	return add_bridge_addresses(n);
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
	n->journal_fd = -EBADF;
	TAILQ_INIT(&n->leases);
	r = network_config_copy(&n->config, c);
	if (r < 0) {
		free(n);
		return r;
	}

	r = subnet_choose(n);
	if (r)
		goto fail_unlinked;
	host_map_init(&n->hosts, n->subnet.len, network_gateway(n) - n->subnet.addr);
	for (size_t i = 0; i < c->n_forwards; i++)
		if (forward_owner(b, c->forwards[i].protocol, c->forwards[i].external_port)) {
			r = NETWORK_E_FORWARD_TAKEN;
			goto fail_unlinked;
		}
	r = getrandom(n->bridge_mac, 6, 0) == 6 ? 0 : -errno;
	if (r < 0)
		goto fail_unlinked;
	n->bridge_mac[0] = (uint8_t)((n->bridge_mac[0] & 0xfe) | 0x02);

	TAILQ_INSERT_TAIL(&b->networks, n, link);
	b->n_networks++;
	r = create_bridge(n);
	if (r < 0)
		goto fail;
	r = start_ra(n);
	if (r < 0)
		goto fail;
	if (n->config.mode == MODE_SHARED) {
		r = enable_forwarding(b);
		if (r < 0)
			goto fail;
	}
	r = firewall_add(b, n);
	if (r < 0)
		goto fail;
	/* dnsmasq comes with the first lease: network_start_dhcp(). */
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
	network_config_clear(&n->config);
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
	n->dhcp_sync = sd_event_source_disable_unref(n->dhcp_sync);
	n->dhcp = dhcp_server_free(n->dhcp);
	n->ra = ra_link_free(n->ra);
	/* Leases go without telling dnsmasq (it is gone) or arming the timer. */
	while ((l = TAILQ_FIRST(&n->leases))) {
		TAILQ_REMOVE(&n->leases, l, network_link);
		l->network_link.tqe_prev = NULL;
		n->n_leases--;
		lease_free(l);
	}
	TAILQ_REMOVE(&b->networks, n, link);
	b->n_networks--;
	n->journal_fd = safe_close(n->journal_fd);
	state_forget(b->opt.state_dir, n->config.name);
	(void)network_apply_firewall(b);
	if (n->bridge_ifindex > 0) {
		r = netlink_link_del(b->nl, n->bridge_ifindex);
		if (r < 0)
			log_warning_errno(r, "[network %s] Failed to remove bridge %s, ignoring: %m",
					  n->config.name, n->bridge);
	}
	network_config_clear(&n->config);
	free(n);
	return NULL;
}

static int record_lease(struct network *n, const struct lease *l, bool added);

void network_lease_added(struct network *n, struct lease *l)
{
	n->n_leases++;
	(void)record_lease(n, l, true);
	if (n->idle_timer && n->ever_used)
		log_info("[network %s] In use again, removal cancelled", n->config.name);
	n->idle_timer = sd_event_source_disable_unref(n->idle_timer);
	n->ever_used = true;
}

void network_lease_removed(struct network *n, struct lease *l)
{
	int r;

	n->n_leases--;
	(void)record_lease(n, l, false);
	if (l->n_forwards)
		/* Its forwards go with it; a failure was logged. */
		(void)network_apply_firewall(n->broker);
	if (l->host)
		network_schedule_dhcp_sync(n);
	if (n->n_leases == 0) {
		r = arm_idle_timer(n);
		if (r < 0)
			log_error_errno(r, "[network %s] Failed to start idle timer: %m",
					n->config.name);
	}
}

static const struct dhcp_reservation *find_reservation(const struct network_config *c,
						       const uint8_t mac[6])
{
	for (size_t i = 0; i < c->n_reservations; i++)
		if (memcmp(c->reservations[i].mac, mac, 6) == 0)
			return &c->reservations[i];
	return NULL;
}

/* Mark the file's fixed addresses in @m: reservations and forward targets. */
static void mark_fixed(const struct network *n, struct host_map *m)
{
	const struct network_config *c = &n->config;

	for (size_t i = 0; i < c->n_reservations; i++)
		(void)host_map_take_exact(m, c->reservations[i].address - n->subnet.addr);
	for (size_t i = 0; i < c->n_forwards; i++)
		(void)host_map_take_exact(m, c->forwards[i].internal_address - n->subnet.addr);
}

int network_take_address(struct network *n, const uint8_t mac[6], unsigned int *ret_host)
{
	const struct dhcp_reservation *res = find_reservation(&n->config, mac);
	_cleanup_free_ struct dhcp_host *leases = NULL;
	struct host_map base, avoid;
	size_t n_leases = 0;
	unsigned int h;

	if (res) {
		h = res->address - n->subnet.addr;
		if (host_map_take_exact(&n->hosts, h) != 0)
			return NETWORK_E_ADDRESS_TAKEN;
		*ret_host = h;
		return 0;
	}
	base = n->hosts;
	mark_fixed(n, &base);
	avoid = base;
	/* Without dnsmasq's view (no DHCP, unreadable file) plain next-fit is all we have. */
	if (n->dhcp && dhcp_server_leases(n->dhcp, &leases, &n_leases) < 0)
		n_leases = 0;
	for (size_t i = 0; i < n_leases; i++) {
		uint32_t a = leases[i].address;

		if ((a & prefix4_mask(n->subnet.len)) != n->subnet.addr)
			continue;
		h = a - n->subnet.addr;
		if (memcmp(leases[i].mac, mac, 6) == 0 && host_map_take_exact(&base, h) == 0) {
			(void)host_map_take_exact(&n->hosts, h);
			*ret_host = h;
			return 0;
		}
		(void)host_map_take_exact(&avoid, h);
	}
	if (host_map_take(&avoid, &h) != 0 && host_map_take(&base, &h) != 0)
		return NETWORK_E_NO_ADDRESS;
	(void)host_map_take_exact(&n->hosts, h);
	n->hosts.last = h;
	*ret_host = h;
	return 0;
}

int network_take_exact_address(struct network *n, unsigned int host)
{
	return host_map_take_exact(&n->hosts, host) == 0 ? 0 : NETWORK_E_NO_ADDRESS;
}

void network_put_address(struct network *n, unsigned int host)
{
	host_map_put(&n->hosts, host);
}

int network_start_dhcp(struct network *n)
{
	int r;

	if (n->dhcp || !wants_dnsmasq(n))
		return 0;
	r = start_dhcp(n);
	if (r >= 0)
		(void)network_save(n); /* its pid, for the next daemon */
	return r;
}

static int on_dhcp_sync(sd_event_source *src, void *userdata)
{
	struct network *n = userdata;
	int r;

	n->dhcp_sync = sd_event_source_disable_unref(n->dhcp_sync);
	r = network_sync_dhcp(n);
	if (r < 0)
		log_warning_errno(r, "[network %s] Failed to update DHCP reservations: %m",
				  n->config.name);
	return 0;
}

/*
 * dnsmasq learns of reservations once the reply is out: rewriting the
 * hosts file and signalling is no part of handing over a port, and a
 * burst of changes (a client with many leases going away) is one
 * rewrite. The guest asks for its address only after it has the port.
 */
void network_schedule_dhcp_sync(struct network *n)
{
	int r;

	if (!n->dhcp || n->dhcp_sync)
		return;
	r = sd_event_add_defer(n->broker->event, &n->dhcp_sync, on_dhcp_sync, n);
	if (r < 0)
		(void)on_dhcp_sync(NULL, n); /* no memory for the event: do it now */
}

int network_sync_dhcp(struct network *n)
{
	_cleanup_free_ struct dhcp_host *hosts = NULL;
	size_t count;
	int r;

	if (!n->dhcp)
		return 0;
	r = collect_hosts(n, &hosts, &count);
	if (r < 0)
		return r;
	return dhcp_server_set_hosts(n->dhcp, hosts, count);
}

json_t *network_to_json(const struct network *n)
{
	char gw[16], mask[16], ula[INET6_ADDRSTRLEN];
	json_t *o;

	inet_ntop(AF_INET6, n->ula, ula, sizeof(ula));
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:i}", "name", n->config.name, "mode",
		      network_mode_to_string(n->config.mode), "bridge", n->bridge, "subnet",
		      addr4_format(network_gateway(n), gw, sizeof(gw)), "mask",
		      addr4_format(prefix4_mask(n->subnet.len), mask, sizeof(mask)), "ipv6_prefix",
		      ula, "prefix_len", (int)network_prefix6_len(n), "mtu", (int)n->config.mtu);
	if (o && n->config.description)
		json_object_set_new(o, "description", json_string(n->config.description));
	return o;
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
				    json_integer(when > now ? (json_int_t)((when - now + 999999) / 1000000)
							    : 0));
	if (n->dhcp)
		json_object_set_new(o, "dnsmasq_pid", json_integer(dhcp_server_pid(n->dhcp)));
	return o;
}

static pid_t dnsmasq_pid(const struct network *n)
{
	return n->dhcp ? dhcp_server_pid(n->dhcp) : 0;
}

/* A lease as snapshot and journal record it: what status shows, and what adoption checks. */
static json_t *lease_record_json(const struct lease *l)
{
	json_t *o = lease_to_json(l, true);

	if (o && (json_object_set_new(o, "id", json_integer((json_int_t)l->id)) < 0 ||
		  json_object_set_new(o, "ifindex", json_integer(l->ifindex)) < 0 ||
		  json_object_set_new(o, "host", json_integer(l->host)) < 0)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *state_json(const struct network *n)
{
	char sub[32], ula[INET6_ADDRSTRLEN], mac[18];
	const struct lease *l;
	json_t *o, *leases = json_array();

	if (!leases)
		return NULL;
	TAILQ_FOREACH(l, &n->leases, network_link)
		/* A lease missing from the snapshot would be lost: all or nothing. */
		if (json_array_append_new(leases, lease_record_json(l)) < 0) {
			json_decref(leases);
			return NULL;
		}
	inet_ntop(AF_INET6, n->ula, ula, sizeof(ula));
	o = json_pack("{s:i, s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:i, s:b, s:i, s:o}", "version",
		      STATE_VERSION, "name", n->config.name, "mode",
		      network_mode_to_string(n->config.mode), "bridge", n->bridge, "bridge_ifindex",
		      n->bridge_ifindex, "bridge_mac", mac_format(n->bridge_mac, mac), "subnet",
		      prefix4_format(&n->subnet, sub, sizeof(sub)), "ula", ula, "mtu",
		      (int)n->config.mtu, "dhcp", n->config.dhcp, "dnsmasq_pid",
		      (int)dnsmasq_pid(n), "leases", leases);
	return o;
}

/*
 * The snapshot now holds all the journal said: empty it, or open it for
 * the first time. A journal that cannot be emptied is removed: its lines
 * replayed over a newer snapshot could bring back a lease that ended
 * since. Lease changes are then recorded as snapshots until it opens.
 */
static int reset_journal(struct network *n)
{
	const char *dir = n->broker->opt.state_dir;
	int r;

	n->journal_lines = 0;
	if (n->journal_fd >= 0) {
		r = state_journal_reset(n->journal_fd);
	} else {
		r = state_journal_open(dir, n->config.name);
		if (r >= 0) {
			n->journal_fd = r;
			r = 0;
		}
	}
	if (r < 0) {
		n->journal_fd = safe_close(n->journal_fd);
		state_journal_remove(dir, n->config.name);
		log_warning_errno(r,
				  "[network %s] Failed to reset the state journal, recording "
				  "snapshots only: %m",
				  n->config.name);
	}
	return r;
}

int network_save(struct network *n)
{
	json_t *doc;
	int r;

	if (n->bridge_ifindex <= 0)
		return 0; /* nothing in the kernel yet: nothing to adopt */
	doc = state_json(n);
	if (!doc)
		return log_error_errno(-ENOMEM, "[network %s] Failed to record state: %m",
				       n->config.name);
	r = state_save(n->broker->opt.state_dir, n->config.name, doc);
	json_decref(doc);
	if (r < 0)
		return log_error_errno(r, "[network %s] Failed to record state: %m", n->config.name);
	n->saved_dnsmasq_pid = dnsmasq_pid(n);
	/* Failing is fine: the snapshot has it all, later changes make snapshots. */
	(void)reset_journal(n);
	return 0;
}

/*
 * A snapshot costs O(leases), a journal line O(1). One is due after this
 * many lines, so a lease change costs O(1) amortised and the journal is
 * never much longer than the snapshot.
 */
static size_t journal_limit(const struct network *n)
{
	return n->n_leases > 32 ? 2 * n->n_leases : 64;
}

static int journal_append(struct network *n, const struct lease *l, bool added)
{
	json_t *rec;
	int r;

	if (!added)
		return state_journal_del(n->journal_fd, l->id);
	rec = lease_record_json(l);
	if (!rec)
		return -ENOMEM;
	r = state_journal_add(n->journal_fd, rec);
	json_decref(rec);
	return r;
}

/*
 * Record that @l was added or removed, before the reply leaves: a line
 * appended to the journal; a snapshot instead when there is no journal
 * yet (a new network) or the line could not be written whole (lines
 * after a torn one would be lost with it), and after the line when the
 * journal is long or a field of the network changed (dnsmasq's pid).
 */
static int record_lease(struct network *n, const struct lease *l, bool added)
{
	int r;

	if (n->adopting)
		return 0; /* the earlier daemon's record holds it; network_adopt_done() */
	if (n->journal_fd < 0)
		return network_save(n);
	r = journal_append(n, l, added);
	if (r < 0) {
		log_warning_errno(r,
				  "[network %s] Failed to append to the state journal, writing "
				  "a snapshot: %m",
				  n->config.name);
		/* Reopened (emptied) by the snapshot, or by the next one if it fails. */
		n->journal_fd = safe_close(n->journal_fd);
		return network_save(n);
	}
	n->journal_lines++;
	if (n->journal_lines > journal_limit(n) || dnsmasq_pid(n) != n->saved_dnsmasq_pid)
		(void)network_save(n); /* the change is on record already */
	return 0;
}

struct network *network_abandon(struct network *n)
{
	struct broker *b;
	struct lease *l;

	if (!n)
		return NULL;
	b = n->broker;
	/* The whole record in the snapshot, the journal empty: even a daemon
	 * of before the journal adopts it all (docs/design.md, Downgrade). */
	(void)network_save(n);
	n->journal_fd = safe_close(n->journal_fd);
	n->idle_timer = sd_event_source_disable_unref(n->idle_timer);
	if (n->dhcp_sync) /* the dnsmasq that stays serves what we promised */
		(void)on_dhcp_sync(n->dhcp_sync, n);
	n->dhcp = dhcp_server_abandon(n->dhcp);
	/* Guests keep their addresses for RA_VALID_LIFETIME; the next daemon
	 * advertises again as it adopts the network. */
	n->ra = ra_link_free(n->ra);
	while ((l = TAILQ_FIRST(&n->leases))) {
		TAILQ_REMOVE(&n->leases, l, network_link);
		lease_abandon(l);
	}
	TAILQ_REMOVE(&b->networks, n, link);
	b->n_networks--;
	network_config_clear(&n->config);
	free(n);
	return NULL;
}

/*
 * What the record does not say: the gateway and the IPv6 prefix length
 * come from the file, while it still has the subnet and prefix that run
 * (else the defaults of a pool network, .1 and /64), and the host map
 * is sized for the subnet.
 */
static void adopt_addressing(struct network *n)
{
	const struct network_config *c = &n->config;
	uint32_t addr;
	uint8_t len;

	if (c->has_subnet) {
		network_config_subnet(c, &addr, &len);
		if (addr == n->subnet.addr && len == n->subnet.len)
			n->gateway = c->gateway;
	}
	if (c->has_ipv6_prefix && memcmp(c->ipv6_prefix, n->ula, 16) == 0)
		n->ula_len = c->ipv6_prefix_len;
	host_map_init(&n->hosts, n->subnet.len, network_gateway(n) - n->subnet.addr);
}

int network_adopt(struct broker *b, const struct state_network *rec, struct network **ret)
{
	struct network_config c;
	struct network *n;

	/* The record says what runs; the configuration only fills the rest. */
	if (config_lookup(b->opt.config_dir, rec->name, &c) != 0)
		return -ENOENT;
	c.mode = rec->mode;
	c.mtu = rec->mtu;
	c.dhcp = rec->dhcp;
	n = calloc(1, sizeof(*n));
	if (!n) {
		network_config_clear(&c);
		return -ENOMEM;
	}
	n->broker = b;
	n->config = c;
	n->journal_fd = -EBADF;
	n->adopting = true;
	TAILQ_INIT(&n->leases);
	memcpy(n->bridge, rec->bridge, sizeof(n->bridge));
	n->bridge_ifindex = rec->bridge_ifindex;
	memcpy(n->bridge_mac, rec->bridge_mac, 6);
	n->subnet = rec->subnet;
	memcpy(n->ula, rec->ula, 16);
	adopt_addressing(n);
	TAILQ_INSERT_TAIL(&b->networks, n, link);
	b->n_networks++;
	*ret = n;
	return 0;
}

int network_adopt_done(struct network *n, pid_t stale_dnsmasq)
{
	struct broker *b = n->broker;
	char sub[32];
	int r;

	/* From here on changes are ours to record; the first write is a
	 * snapshot (below, or at the next lease change if this fails). */
	n->adopting = false;
	if (n->config.mode == MODE_SHARED) {
		r = enable_forwarding(b);
		if (r < 0)
			return r;
	}
	/* The old dnsmasq is not our child and cannot be watched: replace it.
	 * It keeps the lease file, so guests keep their addresses; a guest
	 * asking in the few milliseconds between simply asks again. */
	dhcp_stop_stale(stale_dnsmasq, b->opt.state_dir, n->config.name);
	/* Guests keep their addresses for a day without advertisements: a
	 * failure here is no reason to give up the network. */
	r = start_ra(n);
	if (r < 0)
		log_warning_errno(r, "[network %s] Failed to start router advertisements: %m",
				  n->config.name);
	if (wants_dnsmasq(n)) {
		r = start_dhcp(n);
		if (r < 0)
			return r;
	}
	if (n->n_leases == 0) {
		r = arm_idle_timer(n);
		if (r < 0)
			return r;
	}
	n->ever_used = true;
	(void)network_save(n);
	log_info("[network %s] Adopted: bridge %s, subnet %s, %zu lease(s)", n->config.name,
		 n->bridge, prefix4_format(&n->subnet, sub, sizeof(sub)), n->n_leases);
	return 0;
}
