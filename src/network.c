/* network.c - a named network: its bridge, dnsmasq, idle timer, and the leases it owns
 *
 * Theory of operation. A network exists while someone uses it. The first
 * acquire of a name creates it (broker.c chooses where: a /24 that
 * nothing on the host overlaps, a free bridge name): a bridge vmbrN
 * holding the gateway .1 and a ULA /64, router advertisements, and its
 * rules in the broker's nftables table (firewall.c). Its first lease
 * starts its dnsmasq. Each lease counts as one use. When the last lease
 * ends, the idle timer starts; an acquire in that window stops it and the
 * same bridge and subnet serve again. When it fires, the owner removes
 * the network: everything in reverse order of creation. A failure half
 * way through creation is undone by the same network_free(), which copes
 * with any partial state.
 *
 * The network owns its leases. network_add_lease() and
 * network_remove_lease() do all a lease changes here (the count, the
 * idle timer, the address, the record, dnsmasq's reservations) and say
 * in a struct network_change what it changes for the rest of the daemon
 * (the firewall), which is the caller's to act on: a network never
 * reaches past its struct network_env. What is behind its ports, and
 * what their guests are called, is in network-guests.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "address.h"
#include "bridge.h"
#include "dhcp.h"
#include "forward.h"
#include "lease.h"
#include "log.h"
#include "names-probe.h"
#include "netlink.h"
#include "network-guests.h"
#include "network.h"
#include "nft.h"
#include "port.h"
#include "ra.h"
#include "record.h"
#include "sockdiag.h"
#include "span.h"
#include "state.h"
#include "util.h"

const char *network_error_to_string(int code)
{
	switch (code) {
	case NETWORK_E_MAC_TAKEN:
		return "that MAC address is already in use on this network";
	case PORT_E_IFNAME_TAKEN:
		return "that interface name already exists in the namespace";
	case NETWORK_E_NO_ADDRESS:
		return "no free address left on this network";
	case NETWORK_E_ADDRESS_TAKEN:
		return "the address reserved for that MAC is held by another port";
	case NETWORK_E_FORWARD_TAKEN:
		return "a requested host port is already forwarded";
	case NETWORK_E_FORWARD_HOST_ONLY:
		return "port_forwards need a shared network: a host network has no way in or out";
	case NETWORK_E_FORWARD_NO_ADDRESS:
		return "port_forwards need an address to forward to, and this network has DHCP off";
	case NETWORK_E_FORWARDS_FULL:
		return "a lease forwards at most 16 host ports";
	default:
		return "unknown network error";
	}
}

/* dnsmasq serves DHCP and DNS; router advertisements are the daemon's (ra.c). */
static bool wants_dnsmasq(const struct network *n)
{
	return n->config.dhcp || n->config.dns_proxy;
}

static pid_t dnsmasq_pid(const struct network *n)
{
	return n->dhcp ? dhcp_server_pid(n->dhcp) : 0;
}

/* ---- the idle timer */

static int on_idle(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct network *n = userdata;

	log_network_info(n, "Idle, removing bridge %s", n->bridge);
	n->env->on_idle(n, n->env->userdata);
	return 0;
}

static int arm_idle_timer(struct network *n)
{
	/* A persistent network is never removed for idleness. */
	if (n->idle_timer || n->config.persistent)
		return 0;
	return sd_event_add_time_relative(n->env->event, &n->idle_timer, CLOCK_MONOTONIC,
					  n->env->idle_timeout_usec, 0, on_idle, n);
}

/* ---- dnsmasq and router advertisements */

static void on_dnsmasq_exit(struct dhcp_server *s, const siginfo_t *si, uint64_t restart_usec,
			    void *userdata)
{
	struct network *n = userdata;

	if (!si)
		log_network_error(n, "Failed to restart dnsmasq; trying again in %.1f s",
				  (double)restart_usec / 1e6);
	else
		log_network_error(n, "dnsmasq exited (%s %d); DHCP and DNS down, restarting in %.1f s",
				  si->si_code == CLD_EXITED ? "status" : "signal", si->si_status,
				  (double)restart_usec / 1e6);
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
	const struct network_env *env = n->env;
	struct dhcp_params p = {
		.name = n->config.name,
		.bridge = n->bridge,
		.state_dir = env->state_dir,
		.resolv_file = env->resolv_file,
		.gateway = network_gateway(n),
		.prefix_len = n->subnet.len,
		.router = n->config.mode == MODE_SHARED,
		/* A host-only network must not reach out, not even by DNS. */
		.dns_upstream = n->config.mode == MODE_SHARED && n->config.dns_proxy,
		.no_dhcp4 = !n->config.dhcp,
		.no_dns = !n->config.dns_proxy,
		.dns_port = n->dns_alt_port ? NFT_DNS_ALT_PORT : 0,
		.range_first = n->range.first ? n->subnet.addr + n->range.first : 0,
		.range_last = n->range.first ? n->subnet.addr + n->range.last : 0,
		.lease_max = (1u << (32 - n->subnet.len)) - 2,
		.domain = n->domain,
		.mtu = n->config.mtu,
		.env = env->dnsmasq,
		.watch = env->dhcp_watch,
		.on_leases = network_guests_dhcp_leases,
	};
	_cleanup_free_ struct dhcp_host *hosts = NULL;
	size_t count;
	int r;

	r = collect_hosts(n, &hosts, &count);
	if (r < 0)
		return r;
	p.name_peers = network_guests_names_up(n);
	r = dhcp_server_new(env->event, &p, hosts, count, on_dnsmasq_exit, n, &n->dhcp);
	if (r < 0) {
		if (p.name_peers) /* no names server without the dnsmasq it serves for */
			span_names_down(&n->span->names, n->env->nl);
		return r;
	}
	if (p.name_peers)
		network_guests_names_start(n, &p);
	/* What dnsmasq remembers (an adopted network's guests, a restart). */
	network_guests_dhcp_leases(n->dhcp, n);
	return 0;
}

static int sync_dhcp(struct network *n)
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

static int on_dhcp_sync(sd_event_source *src, void *userdata)
{
	struct network *n = userdata;
	int r;

	n->dhcp_sync = sd_event_source_disable_unref(n->dhcp_sync);
	r = sync_dhcp(n);
	if (r < 0)
		log_network_warning_errno(n, r, "Failed to update DHCP reservations: %m");
	return 0;
}

/*
 * dnsmasq learns of reservations once the reply is out: rewriting the
 * hosts file and signalling is no part of handing over a port, and a
 * burst of changes (a client with many leases going away) is one
 * rewrite. The guest asks for its address only after it has the port.
 */
static void schedule_dhcp_sync(struct network *n)
{
	int r;

	if (!n->dhcp || n->dhcp_sync)
		return;
	r = sd_event_add_defer(n->env->event, &n->dhcp_sync, on_dhcp_sync, n);
	if (r < 0)
		(void)on_dhcp_sync(NULL, n); /* no memory for the event: do it now */
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
	bridge_link_local(n->bridge_mac, p.link_local);
	memcpy(p.prefix, n->ula, 16);
	network_gateway6(n, p.dns6);
	return ra_link_new(n->env->ra, &p, &n->ra);
}

/* ---- the record in the state dir */

/* A snapshot of @n and all its leases, and an empty journal. Return: 0 or negative errno (logged). */
static int network_save(struct network *n)
{
	_cleanup_(json_decrefp) json_t *doc = NULL;

	if (n->bridge_ifindex <= 0)
		return 0; /* nothing in the kernel yet: nothing to adopt */
	doc = network_record_json(n);
	return record_snapshot(&n->record, doc, dnsmasq_pid(n));
}

/* Record that @l was added or removed, before the reply leaves (record.c says how). */
static void record_lease(struct network *n, const struct lease *l, bool added)
{
	_cleanup_(json_decrefp) json_t *line = NULL;
	int due;

	if (n->adopting)
		return; /* the earlier daemon's record holds it; network_adopt_done() */
	if (added) {
		line = lease_record_json(l, n->subnet.addr);
		due = record_lease_added(&n->record, line, n->n_leases, dnsmasq_pid(n));
	} else {
		due = record_lease_removed(&n->record, l->id, n->n_leases, dnsmasq_pid(n));
	}
	if (due)
		(void)network_save(n);
}

/* ---- where port forwards go */

/*
 * Whether the guests of @n have the SLAAC address an IPv6 forward goes
 * to: only where the network advertises its prefix, a /64.
 */
static bool forwards_ipv6(const struct network *n)
{
	return n->config.router_advertisement && network_prefix6_len(n) == 64;
}

/* Where @f goes: the address of host @host of @n, and its IPv6 twin for @mac. */
static void aim_forward(const struct network *n, struct port_forward *f, unsigned int host,
			const uint8_t mac[6])
{
	f->internal_address = n->subnet.addr + host;
	f->has_address6 = mac && forwards_ipv6(n);
	if (f->has_address6)
		addr6_eui64(n->ula, mac, f->internal_address6);
}

/*
 * The IPv6 twin of each of the file's forwards whose address is a
 * reservation's: its MAC tells the guest's SLAAC address. Others stay
 * IPv4 only: nothing says which guest will hold that address.
 */
static void aim_file_forwards(struct network *n)
{
	for (size_t i = 0; i < n->config.n_forwards; i++) {
		struct port_forward *f = &n->config.forwards[i];
		const uint8_t *mac = NULL;

		for (size_t j = 0; j < n->config.n_reservations; j++)
			if (n->config.reservations[j].address == f->internal_address)
				mac = n->config.reservations[j].mac;
		aim_forward(n, f, f->internal_address - n->subnet.addr, mac);
	}
}

/* ---- lifecycle */

/* port_remove(), or what a test of the policy makes of it. */
static int remove_port(struct network *n, struct lease *l)
{
	return n->env->remove_port ? n->env->remove_port(n->env->nl, &l->port)
				   : port_remove(n->env->nl, &l->port);
}

static int network_alloc(struct network_env *env, struct network **ret)
{
	struct network *n = calloc(1, sizeof(*n));

	if (!n)
		return -ENOMEM;
	n->env = env;
	TAILQ_INIT(&n->leases);
	network_guests_init(n);
	record_init(&n->record, env->state_dir, n->config.name);
	*ret = n;
	return 0;
}

static void set_addressing(struct network *n, const struct network_addressing *a)
{
	n->subnet = a->subnet;
	n->gateway = a->gateway;
	memcpy(n->ula, a->ula, 16);
	n->ula_len = a->ula_len;
	host_map_init(&n->hosts, n->subnet.len, network_gateway(n) - n->subnet.addr);
	if (a->has_range)
		n->range = a->range;
	else if (n->config.dhcp)
		/* A span's host gives any MAC an address of its own slice only. */
		address_dynamic_range(&n->config, &n->subnet,
				      a->span ? &n->config.span.hosts[a->span->self].slice : NULL,
				      network_gateway(n) - n->subnet.addr, &n->range);
	network_guests_set_domain(n, a->domain);
}

/*
 * A DNS server of the host on the wildcard address (a dnsmasq with
 * Debian's empty dnsmasq.conf) holds port 53 of every address for TCP,
 * so dnsmasq could not listen on the gateway's and would not start at
 * all, DHCP included. Then it listens on NFT_DNS_ALT_PORT, where the
 * table redirects guests' DNS (nft.c). Decided once, as the network is
 * made: the table and dnsmasq must agree. systemd-resolved's stub
 * (127.0.0.53) is no such server.
 */
static void choose_dns_port(struct network *n)
{
	int r;

	if (!n->config.dns_proxy)
		return;
	r = sockdiag_wildcard_listener(53);
	if (r < 0)
		log_network_warning_errno(n, r,
					  "Failed to look for a DNS server of the host, "
					  "assuming none: %m");
	n->dns_alt_port = r > 0;
	if (n->dns_alt_port)
		log_network_notice(n,
				   "A DNS server of the host listens on port 53 of every "
				   "address: dnsmasq listens on port %u, where guests' DNS to the "
				   "gateway is redirected",
				   NFT_DNS_ALT_PORT);
}

static int create_bridge(struct network *n)
{
	struct bridge_spec s = {
		.name = n->bridge,
		.mtu = n->config.mtu,
		.gateway = network_gateway(n),
		.prefix_len = n->subnet.len,
		.prefix6_len = (uint8_t)network_prefix6_len(n),
		/* Only a shared network forwards ports (take_forwards()). */
		.route_localnet = n->config.mode == MODE_SHARED,
	};
	char alias[128];

	snprintf(alias, sizeof(alias), NETWORK_ALIAS_PREFIX "%s", n->config.name);
	s.alias = alias;
	memcpy(s.mac, n->bridge_mac, 6);
	network_gateway6(n, s.gateway6);
	return bridge_create(n->env->nl, &s, &n->bridge_ifindex);
}

/* A route reflector of an EVPN span keeps it up: the others reach each other through it. */
static void keep_reflector(struct network *n, const struct network_addressing *a)
{
	if (a->span && span_place_reflects(&n->config.span, a->span))
		n->config.persistent = true;
}

/* @n's span at @a's place, with every host's names address (set_addressing() came first). */
static int new_span(struct network *n, const struct network_addressing *a)
{
	int r = span_new(&n->config.span, a->span, &n->span);
	char alias[128];

	snprintf(alias, sizeof(alias), NETWORK_ALIAS_PREFIX "%s", n->config.name);
	if (r >= 0)
		r = span_names_init(&n->span->names, &n->config, &n->subnet,
				    network_gateway(n) - n->subnet.addr, a->span->self, alias,
				    n->config.dns_proxy && n->domain[0]);
	return r;
}

/*
 * Locally administered, unicast: the bridge's MAC never follows its
 * ports. A span's is the distributed gateway's, the same on every host.
 */
static int choose_mac(struct network *n, const struct network_addressing *a)
{
	if (a->span) {
		span_gateway_mac(n->config.span.vni, n->bridge_mac);
		return new_span(n, a);
	}
	if (getrandom(n->bridge_mac, 6, 0) != 6)
		return -errno;
	n->bridge_mac[0] = (uint8_t)((n->bridge_mac[0] & 0xfe) | 0x02);
	return 0;
}

int network_new(struct network_env *env, const struct network_config *c,
		const struct network_addressing *a, const char *bridge, struct network **ret)
{
	_cleanup_(network_freep) struct network *n = NULL;
	int r;

	r = network_alloc(env, &n);
	if (r < 0)
		return r;
	r = network_config_copy(&n->config, c);
	if (r < 0)
		return r;
	keep_reflector(n, a);
	set_addressing(n, a);
	aim_file_forwards(n);
	snprintf(n->bridge, sizeof(n->bridge), "%s", bridge);
	r = choose_mac(n, a);
	if (r < 0)
		return r;
	r = forward_table_add(env->forwards, c->forwards, c->n_forwards, n, n);
	if (r < 0)
		return r;
	choose_dns_port(n);
	r = create_bridge(n);
	if (r < 0)
		return r;
	r = start_ra(n);
	if (r < 0)
		return r;
	network_guests_register_domain(n);
	/* dnsmasq comes with the first lease: network_add_lease(). */
	r = arm_idle_timer(n);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(n);
	return 0;
}

int network_adopt(struct network_env *env, struct network_config *c,
		  const struct network_addressing *a, const struct network_bridge *br,
		  struct network **ret)
{
	_cleanup_(network_freep) struct network *n = NULL;
	int r;

	r = network_alloc(env, &n);
	if (r < 0) {
		network_config_clear(c);
		return r;
	}
	n->config = *c;
	*c = (struct network_config){};
	n->adopting = true;
	keep_reflector(n, a);
	set_addressing(n, a);
	aim_file_forwards(n);
	/* Its dnsmasq is replaced (network_adopt_done()), the table rewritten: decide again. */
	choose_dns_port(n);
	memcpy(n->bridge, br->name, sizeof(n->bridge));
	n->bridge_ifindex = br->ifindex;
	memcpy(n->bridge_mac, br->mac, 6);
	if (a->span) {
		r = new_span(n, a);
		if (r >= 0 && br->vxlan_ifindex > 0)
			r = span_adopt(n->span, env->nl, br->vxlan_ifindex);
		if (r < 0)
			return r;
	}
	/* Claimed whether free or not: the first claim of a port stays its owner. */
	r = forward_table_add(env->forwards, n->config.forwards, n->config.n_forwards, n, n);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(n);
	return 0;
}

int network_adopt_done(struct network *n)
{
	int r;

	/* From here on changes are ours to record; the first write is a
	 * snapshot (below, or at the next lease change if this fails). */
	n->adopting = false;
	/* Guests keep their addresses for a day without advertisements: a
	 * failure here is no reason to give up the network. */
	r = start_ra(n);
	if (r < 0)
		log_network_warning_errno(n, r, "Failed to start router advertisements: %m");
	network_guests_register_domain(n);
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
	return 0;
}

/* Stop everything that runs on its own: timers, dnsmasq (@abandon: left running), RA. */
static void stop_services(struct network *n, bool abandon)
{
	n->idle_timer = sd_event_source_disable_unref(n->idle_timer);
	if (abandon && n->dhcp_sync) /* the dnsmasq that stays serves what we promised */
		(void)on_dhcp_sync(n->dhcp_sync, n);
	n->dhcp_sync = sd_event_source_disable_unref(n->dhcp_sync);
	network_guests_stop(n);
	n->dhcp = abandon ? dhcp_server_abandon(n->dhcp) : dhcp_server_free(n->dhcp);
	n->names_dns = abandon ? dhcp_server_abandon(n->names_dns) : dhcp_server_free(n->names_dns);
	n->names_probe = names_probe_free(n->names_probe);
	/* Abandoned, guests keep their addresses for RA_VALID_LIFETIME; the
	 * next daemon advertises again as it adopts the network. */
	n->ra = ra_link_free(n->ra);
}

struct network *network_free(struct network *n)
{
	struct lease *l;
	int r;

	if (!n)
		return NULL;
	stop_services(n, false);
	network_guests_clear(n);
	/* Leases go without telling dnsmasq (it is gone) or arming the timer. */
	while ((l = TAILQ_FIRST(&n->leases))) {
		TAILQ_REMOVE(&n->leases, l, network_link);
		r = remove_port(n, l);
		if (r < 0)
			log_network_warning_errno(n, r, "Failed to remove port %s, ignoring: %m",
						  l->port.ifname);
		forward_table_remove(n->env->forwards, l);
		lease_free(l);
	}
	n->n_leases = 0;
	forward_table_remove(n->env->forwards, n);
	if (n->adopting || !n->config.name[0])
		record_close(&n->record); /* none of ours: an earlier daemon's stays */
	else
		record_forget(&n->record);
	if (n->span) {
		/* An EVPN span's VNI goes from zebra with its device. */
		span_remove(n->span, n->env->nl);
		n->span = span_free(n->span);
	}
	if (n->bridge_ifindex > 0) {
		r = netlink_link_del(n->env->nl, n->bridge_ifindex);
		if (r < 0)
			log_network_warning_errno(n, r, "Failed to remove bridge %s, ignoring: %m",
						  n->bridge);
	}
	network_config_clear(&n->config);
	free(n);
	return NULL;
}

struct network *network_abandon(struct network *n)
{
	struct lease *l;

	if (!n)
		return NULL;
	/* The whole record in the snapshot, the journal empty: even a daemon
	 * of before the journal adopts it all (docs/design.md, Downgrade). */
	(void)network_save(n);
	record_close(&n->record);
	stop_services(n, true);
	network_guests_clear(n);
	while ((l = TAILQ_FIRST(&n->leases))) {
		TAILQ_REMOVE(&n->leases, l, network_link);
		forward_table_remove(n->env->forwards, l);
		lease_free(l);
	}
	forward_table_remove(n->env->forwards, n);
	n->span = span_free(n->span); /* its device stays, for the next daemon */
	network_config_clear(&n->config);
	free(n);
	return NULL;
}

int network_start_span(struct network *n)
{
	char alias[128];
	int r;

	if (!n->span)
		return 0;
	snprintf(alias, sizeof(alias), NETWORK_ALIAS_PREFIX "%s", n->config.name);
	r = span_start(n->span, n->env->nl, n->bridge_ifindex, alias, n->config.mtu);
	if (r >= 0 && n->ever_used)
		(void)network_save(n); /* an adopted network's record names its new device */
	return r;
}

bool network_is_evpn(const struct network *n)
{
	return n->span && n->config.span.control == SPAN_EVPN;
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

/* ---- leases */

static bool mac_taken(const struct network *n, const uint8_t mac[6])
{
	const struct lease *l;

	TAILQ_FOREACH(l, &n->leases, network_link)
		if (l->port.kind != PORT_NONE && memcmp(l->mac, mac, 6) == 0)
			return true;
	return false;
}

/*
 * address_take() on the hosts this host may hand out: a span's own
 * slice, and the reservations. Next-fit goes on where it was.
 */
static int take_in_slice(struct network *n, struct lease *l, const struct dhcp_host *leased,
			 size_t n_leased)
{
	struct host_map m = n->hosts;
	int r;

	span_slice_only(n->span, &n->config, n->subnet.addr, &m);
	r = address_take(&m, &n->config, &n->subnet, &n->range, l->mac, leased, n_leased, &l->host);
	if (r == 0) {
		(void)host_map_take_exact(&n->hosts, l->host);
		n->hosts.last = m.last;
	}
	return r;
}

/* @l's address: its own (an adopted lease), or one address_take() chooses. */
static int take_address(struct network *n, struct lease *l, bool adopted)
{
	_cleanup_free_ struct dhcp_host *leased = NULL;
	size_t n_leased = 0;
	int r;

	if (adopted) {
		if (l->host && host_map_take_exact(&n->hosts, l->host) != 0)
			return NETWORK_E_NO_ADDRESS; /* an adopted lease holds it already */
		return 0;
	}
	if (!n->config.dhcp)
		return 0;
	/* Without dnsmasq's view (no DHCP, unreadable file) plain next-fit is all we have. */
	if (n->dhcp && dhcp_server_leases(n->dhcp, &leased, &n_leased) < 0)
		n_leased = 0;
	if (n->span)
		r = take_in_slice(n, l, leased, n_leased);
	else
		r = address_take(&n->hosts, &n->config, &n->subnet, &n->range, l->mac, leased,
				 n_leased, &l->host);
	if (r == ADDRESS_E_TAKEN)
		return NETWORK_E_ADDRESS_TAKEN;
	if (r == ADDRESS_E_FULL)
		return NETWORK_E_NO_ADDRESS;
	return r;
}

static void put_address(struct network *n, struct lease *l)
{
	if (l->host)
		host_map_put(&n->hosts, l->host);
}

/* May @l forward @count more host ports, @v? */
static int check_forwards(const struct network *n, const struct lease *l,
			  const struct port_forward *v, size_t count)
{
	if (count == 0)
		return 0;
	if (n->config.mode != MODE_SHARED)
		return NETWORK_E_FORWARD_HOST_ONLY;
	if (!l->host)
		return NETWORK_E_FORWARD_NO_ADDRESS;
	if (forward_table_first_taken(n->env->forwards, v, count, NULL))
		return NETWORK_E_FORWARD_TAKEN;
	return 0;
}

/* @l's port_forwards, to its own address: checked, then claimed. */
static int take_forwards(struct network *n, struct lease *l)
{
	int r = check_forwards(n, l, l->forwards, l->n_forwards);

	if (r || l->n_forwards == 0)
		return r;
	for (size_t i = 0; i < l->n_forwards; i++)
		aim_forward(n, &l->forwards[i], l->host, l->mac);
	return forward_table_add(n->env->forwards, l->forwards, l->n_forwards, n, l);
}

static int create_port(struct network *n, struct lease *l, const struct port_spec *spec,
		       struct tap_fds *fds)
{
	struct port_spec s = *spec;
	char alias[LEASE_ALIAS_MAX];

	lease_alias(l, n->config.name, alias);
	s.kind = l->port.kind;
	s.uid = l->uid;
	memcpy(s.mac, l->mac, 6);
	s.bridge_ifindex = n->bridge_ifindex;
	s.mtu = n->config.mtu;
	s.alias = alias;
	return port_create(n->env->nl, &n->env->next_port, &s, &l->port, fds);
}

/* Address, forwards and port, in that order; nothing is left on failure. */
static int take_resources(struct network *n, struct lease *l, const struct port_spec *spec,
			  struct tap_fds *fds)
{
	int r;

	if (l->port.kind == PORT_NONE)
		return 0;
	if (mac_taken(n, l->mac))
		return NETWORK_E_MAC_TAKEN;
	r = take_address(n, l, !spec);
	if (r)
		return r;
	/* Before the port exists: a refused forward leaves nothing to undo. */
	r = take_forwards(n, l);
	if (r == 0 && spec) {
		r = create_port(n, l, spec, fds);
		if (r)
			forward_table_remove(n->env->forwards, l);
	}
	if (r)
		put_address(n, l);
	return r;
}

/*
 * @l's record and forwards go, as when it ends. A lease whose port is
 * removing has lost them already: whatever happens to the daemon now,
 * its port is no one's, and the next one removes it as an orphan.
 */
static void forget_lease(struct network *n, struct lease *l, struct network_change *change)
{
	if (l->removing)
		return;
	record_lease(n, l, false);
	forward_table_remove(n->env->forwards, l);
	/* Its forwards go with it. */
	change->firewall = l->n_forwards > 0;
}

/*
 * @l's port could not be removed (@error): the lease stays, as removing,
 * until it can be. Its port is there: it keeps its address, and it still
 * counts against its user (a port nothing can end would count against no
 * limit). It no longer ends with its connection, nor forwards anything.
 */
static void start_removing(struct network *n, struct lease *l, int error, struct network_change *change)
{
	if (!l->removing)
		log_lease_warning_errno(l, error,
					"Failed to remove port %s: %m; trying again, and it counts "
					"against uid %u until then",
					l->port.ifname, (unsigned)l->uid);
	forget_lease(n, l, change);
	l->removing = true;
	lease_detach_client(l);
	/* Whoever waited on its guest's address hears it ended. */
	lease_waiters_notify(l, 0);
	change->removing = true;
}

/* Everything of network_remove_lease() but removing the port and freeing @l. */
static void unlink_lease(struct network *n, struct lease *l, struct network_change *change)
{
	int r;

	TAILQ_REMOVE(&n->leases, l, network_link);
	n->n_leases--;
	put_address(n, l);
	forget_lease(n, l, change);
	network_guests_lease_gone(n, l);
	if (l->host)
		schedule_dhcp_sync(n);
	if (n->n_leases == 0) {
		r = arm_idle_timer(n);
		if (r < 0)
			log_network_error_errno(n, r, "Failed to start idle timer: %m");
	}
	l->network = NULL;
}

int network_add_lease(struct network *n, struct lease *l, const struct port_spec *spec,
		      struct tap_fds *ret_fds, struct network_change *ret_change)
{
	_cleanup_tap_fds_ struct tap_fds fds = { .n = 0 };
	struct network_change change = {};
	int r;

	r = take_resources(n, l, spec, &fds);
	if (r)
		return r;
	l->network = n;
	TAILQ_INSERT_TAIL(&n->leases, l, network_link);
	n->n_leases++;
	network_guests_lease_added(n, l);
	record_lease(n, l, true);
	if (n->idle_timer && n->ever_used)
		log_network_info(n, "In use again, removal cancelled");
	n->idle_timer = sd_event_source_disable_unref(n->idle_timer);
	n->ever_used = true;
	if (l->host)
		schedule_dhcp_sync(n);
	change.firewall = l->n_forwards > 0;
	/* The first lease's reservation is in the hosts file dnsmasq starts with. */
	if (spec) {
		bool had = n->dhcp != NULL;

		r = network_start_dhcp(n);
		change.names = !had && n->span && n->span->names.ifindex > 0;
		if (r < 0) {
			log_network_error_errno(n, r, "Failed to start dnsmasq: %m");
			if (remove_port(n, l) < 0)
				log_network_warning(n, "Failed to remove port %s, ignoring",
						    l->port.ifname);
			unlink_lease(n, l, &change);
			change.dhcp_failed = true;
			*ret_change = change;
			return r;
		}
	}
	if (ret_fds)
		*ret_fds = TAKE_TAP_FDS(fds);
	*ret_change = change;
	return 0;
}

bool network_remove_lease(struct network *n, struct lease *l, struct network_change *ret_change)
{
	struct network_change change = {};
	int r;

	r = remove_port(n, l);
	if (r < 0) {
		start_removing(n, l, r, &change);
		*ret_change = change;
		return false;
	}
	unlink_lease(n, l, &change);
	lease_free(l);
	*ret_change = change;
	return true;
}

bool network_release_lease(struct network *n, struct lease *l, struct network_change *ret_change)
{
	int r = port_detach(n->env->nl, &l->port);

	if (r < 0)
		log_network_warning_errno(n, r, "Failed to take port %s off the bridge, ignoring: %m",
					  l->port.ifname);
	return network_remove_lease(n, l, ret_change);
}

/* @l's forwards changed: claimed anew (they are few), recorded, the table to be rewritten. */
static int forwards_changed(struct network *n, struct lease *l, struct network_change *change)
{
	int r;

	forward_table_remove(n->env->forwards, l);
	r = forward_table_add(n->env->forwards, l->forwards, l->n_forwards, n, l);
	/* An add of the same id replaces the lease in the record (state.c). */
	record_lease(n, l, true);
	*change = (struct network_change){ .firewall = true };
	return r;
}

int network_add_forwards(struct network *n, struct lease *l, const struct port_forward *v,
			 size_t count, struct network_change *ret_change)
{
	size_t before = l->n_forwards;
	int r;

	*ret_change = (struct network_change){};
	r = check_forwards(n, l, v, count);
	if (r)
		return r;
	if (before + count > REQUEST_FORWARDS_MAX)
		return NETWORK_E_FORWARDS_FULL;
	r = lease_append_forwards(l, v, count);
	if (r < 0)
		return r;
	for (size_t i = before; i < l->n_forwards; i++)
		aim_forward(n, &l->forwards[i], l->host, l->mac);
	r = forwards_changed(n, l, ret_change);
	if (r < 0) {
		/* Back to the forwards it had; their claims fit where they were. */
		l->n_forwards = before;
		(void)forwards_changed(n, l, ret_change);
		*ret_change = (struct network_change){};
	}
	return r;
}

int network_remove_forwards(struct network *n, struct lease *l, const struct port_forward *v,
			    size_t count, const struct port_forward **ret_unknown,
			    struct network_change *ret_change)
{
	*ret_change = (struct network_change){};
	for (size_t i = 0; i < count; i++)
		if (!lease_find_forward(l, v[i].protocol, v[i].external_port)) {
			*ret_unknown = &v[i];
			return NETWORK_E_FORWARD_UNKNOWN;
		}
	for (size_t i = 0; i < count; i++)
		(void)lease_remove_forward(l, v[i].protocol, v[i].external_port);
	/* Fewer claims than before: forward_table_add() has the room. */
	return forwards_changed(n, l, ret_change);
}
