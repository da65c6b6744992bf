/* broker.c - struct broker: the daemon's state, its networks' lifecycles, the link monitor
 *
 * The broker owns the running networks (the registry), the forwarded
 * host ports, and what every network shares (struct network_env). A
 * network reports what a change means for the others (struct
 * network_change) and this file acts on it: the one nftables table
 * (firewall.c) and the registry's index follow every network and lease
 * that comes and goes here. Requests are request.c's; this file is what
 * they, the link monitor and connections closing do to the networks.
 */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "config-dir.h"
#include "config.h"
#include "dhcp.h"
#include "dnsmasq-env.h"
#include "firewall.h"
#include "frr.h"
#include "hostfw.h"
#include "lease.h"
#include "log.h"
#include "neighbour.h"
#include "netlink.h"
#include "network.h"
#include "nft.h"
#include "port.h"
#include "protocol.h"
#include "ra.h"
#include "registry.h"
#include "resolved.h"
#include "server.h"
#include "sockdiag.h"
#include "span.h"
#include "subnet.h"
#include "sysctl.h"
#include "util.h"

#define SOCKET_GROUP "vmnet-broker"

void broker_refresh_configs(struct broker *b)
{
	int r = config_dir_refresh(b->configs);

	if (r < 0)
		log_warning_errno(r, "Failed to read network files in '%s', using what was read before: %m",
				  b->opt.config_dir);
}

int broker_check_limits(const struct broker *b, const struct request *req, uid_t uid, size_t holds)
{
	const struct network *n = registry_find_network(&b->registry, req->network_name);

	if (!n && b->registry.n_networks >= b->opt.max_networks)
		return BROKER_E_NETWORKS;
	if (n && req->port != PORT_NONE && n->n_leases >= BROKER_MAX_PORTS_PER_NETWORK)
		return BROKER_E_NETWORK_PORTS;
	/* Holds count too: each keeps a network up, and its connection's replies. */
	if (uid != 0 && registry_ports_of_user(&b->registry, uid) >= b->opt.max_ports_per_user)
		return BROKER_E_USER_PORTS;
	if (broker_request_holds(req) && holds >= BROKER_MAX_HOLDS_PER_CONNECTION)
		return BROKER_E_HOLDS;
	return 0;
}

/* ---- forwarded host ports: who may, and what the host itself uses */

/* A valid network file that forwards @f's port, running or not: it is reserved like its subnet. */
static const struct config_entry *reserved_by_file(const struct broker *b, const struct port_forward *f)
{
	for (size_t i = 0; i < b->configs->n; i++) {
		const struct config_entry *e = &b->configs->v[i];

		if (!config_entry_valid(e))
			continue;
		for (size_t j = 0; j < e->config.n_forwards; j++)
			if (e->config.forwards[j].protocol == f->protocol &&
			    e->config.forwards[j].external_port == f->external_port)
				return e;
	}
	return NULL;
}

/* What a user may bind itself: below this only root may forward (default 1024). */
static unsigned int unprivileged_port_start(void)
{
	unsigned int v = 1024;

	/* Per network namespace, and cheap: read at each acquire that forwards. */
	if (sysctl_read_uint("net/ipv4/ip_unprivileged_port_start", &v) < 0)
		v = 1024;
	return v;
}

/* Bit i of *@ret: a host socket holds @v[i]'s port. One dump per protocol present. */
static int host_listeners(const struct port_forward *v, size_t n, uint32_t *ret)
{
	static struct port_set set[_FORWARD_PROTOCOL_MAX]; /* 8 KiB each: not on the stack */
	bool want[_FORWARD_PROTOCOL_MAX] = {};
	int r;

	*ret = 0;
	for (size_t i = 0; i < n; i++)
		want[v[i].protocol] = true;
	for (int p = 0; p < _FORWARD_PROTOCOL_MAX; p++)
		if (want[p] && (r = sockdiag_ports_in_use((enum forward_protocol)p, &set[p])) < 0)
			return r;
	for (size_t i = 0; i < n && i < 32; i++)
		if (port_set_has(&set[v[i].protocol], v[i].external_port))
			*ret |= 1u << i;
	return 0;
}

int broker_check_forwards(struct broker *b, const struct network_config *c,
			  const struct access_peer *peer, const struct port_forward *v, size_t n,
			  uint32_t *ret_shadowed, struct forward_refusal *ret)
{
	uint32_t in_use;
	int r;

	*ret_shadowed = 0;
	*ret = (struct forward_refusal){};
	if (n == 0 || c->mode != MODE_SHARED)
		return 0;
	if (peer->uid != 0) {
		ret->unpriv_start = c->lease_forwards.port_max ? 0 : unprivileged_port_start();
		for (size_t i = 0; i < n; i++) {
			ret->forward = &v[i];
			r = forward_policy_check(&c->lease_forwards, peer, &v[i], ret->unpriv_start);
			if (r)
				return r;
		}
	}
	for (size_t i = 0; i < n; i++) {
		ret->forward = &v[i];
		ret->file = reserved_by_file(b, &v[i]);
		if (ret->file)
			return FORWARD_E_RESERVED;
		ret->owner = forward_table_owner(&b->forwards, v[i].protocol, v[i].external_port);
		if (ret->owner)
			return NETWORK_E_FORWARD_TAKEN;
	}
	ret->forward = &v[0];
	r = host_listeners(v, n, &in_use);
	if (r < 0)
		return r;
	/* Root keeps full control: it may take a port from a host service. */
	for (size_t i = 0; i < n && peer->uid != 0; i++)
		if (in_use & (1u << i)) {
			ret->forward = &v[i];
			return FORWARD_E_HOST_LISTENER;
		}
	*ret_shadowed = in_use;
	return 0;
}

/* @l's forwards against the host's sockets in @set, each warned of as it starts to shadow one. */
static void update_shadowed(struct lease *l, const struct port_set set[_FORWARD_PROTOCOL_MAX])
{
	char what[64];

	for (size_t i = 0; i < l->n_forwards && i < 32; i++) {
		const struct port_forward *f = &l->forwards[i];
		bool now = port_set_has(&set[f->protocol], f->external_port);
		bool was = l->shadowed & (1u << i);

		if (now == was)
			continue;
		forward_format(f, what, sizeof(what));
		if (now)
			log_lease_full_errno(l, LOG_WARNING, 0,
					     "forward %s shadows a host service listening on %s port "
					     "%u: outside traffic for that port reaches this guest",
					     what, forward_protocol_to_string(f->protocol),
					     f->external_port);
		else
			log_lease_info(l, "forward %s no longer shadows a host service", what);
		l->shadowed ^= 1u << i;
	}
}

/* Return: whether any lease forwards a port (the timer goes on only then). */
static bool refresh_host_listeners(struct broker *b)
{
	static struct port_set set[_FORWARD_PROTOCOL_MAX];
	bool want[_FORWARD_PROTOCOL_MAX] = {}, any = false;
	struct network *n;
	struct lease *l;

	TAILQ_FOREACH(n, &b->registry.networks, link)
		TAILQ_FOREACH(l, &n->leases, network_link)
			for (size_t i = 0; i < l->n_forwards; i++)
				any = want[l->forwards[i].protocol] = true;
	if (!any)
		return false;
	for (int p = 0; p < _FORWARD_PROTOCOL_MAX; p++) {
		int r = want[p] ? sockdiag_ports_in_use((enum forward_protocol)p, &set[p]) : 0;

		if (r < 0) {
			log_debug_errno(r, "Failed to list the host's %s sockets: %m",
					forward_protocol_to_string((enum forward_protocol)p));
			return true; /* as it was; the next check may do better */
		}
	}
	TAILQ_FOREACH(n, &b->registry.networks, link)
		TAILQ_FOREACH(l, &n->leases, network_link)
			if (l->n_forwards)
				update_shadowed(l, set);
	return true;
}

/*
 * A host service may bind a forwarded port at any time, and the kernel
 * tells no one: look every BROKER_LISTENER_CHECK_SEC, while some lease
 * forwards a port. The forward stays (taking it away would cut a guest
 * for any program that binds for a moment); `status` and the log say.
 */
static int on_listener_check(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct broker *b = userdata;

	if (!refresh_host_listeners(b))
		return sd_event_source_set_enabled(s, SD_EVENT_OFF);
	(void)sd_event_source_set_time_relative(s, BROKER_LISTENER_CHECK_SEC * 1000000ULL);
	return sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

static void watch_host_listeners(struct broker *b)
{
	int enabled = SD_EVENT_OFF;
	int r;

	if (!b->listener_timer) {
		r = sd_event_add_time_relative(b->event, &b->listener_timer, CLOCK_MONOTONIC,
					       BROKER_LISTENER_CHECK_SEC * 1000000ULL, 0,
					       on_listener_check, b);
		if (r < 0)
			log_warning_errno(r, "Failed to watch forwarded ports for host services: %m");
		return;
	}
	if (sd_event_source_get_enabled(b->listener_timer, &enabled) >= 0 && enabled != SD_EVENT_OFF)
		return;
	(void)sd_event_source_set_time_relative(b->listener_timer,
						BROKER_LISTENER_CHECK_SEC * 1000000ULL);
	(void)sd_event_source_set_enabled(b->listener_timer, SD_EVENT_ONESHOT);
}

void broker_check_host_listeners(struct broker *b)
{
	if (refresh_host_listeners(b))
		watch_host_listeners(b);
}

int broker_check_port_name(const struct broker *b, const struct request *req)
{
	int r;

	if (req->port != PORT_NAMED_TAP || !req->ifname[0])
		return 0;
	r = netlink_ifindex(b->nl, req->ifname);
	if (r < 0)
		return r;
	return r > 0 ? PORT_E_IFNAME_TAKEN : 0;
}

bool broker_request_holds(const struct request *req)
{
	return req->port == PORT_NONE || (req->port == PORT_NAMED_TAP && !req->persistent);
}

/* ---- networks */

static void log_accept_ra(const char *ifname)
{
	log_notice("Set accept_ra=2 on '%s' so it keeps router advertisements with forwarding on",
		   ifname);
}

/* Routing for NAT: our namespace's sysctls, set once and left on, since
 * turning them off later could cut traffic that other software routes. */
int broker_enable_forwarding(struct broker *b)
{
	int r;

	if (b->forwarding_on)
		return 0;
	r = sysctl_write("net/ipv4/ip_forward", "1");
	if (r < 0)
		return log_error_errno(r, "Failed to enable IPv4 forwarding: %m");
	sysctl_keep_router_advertisements(log_accept_ra);
	r = sysctl_write("net/ipv6/conf/all/forwarding", "1");
	if (r < 0)
		/* IPv4 NAT works without it; only NAT66 is lost. */
		log_warning_errno(r, "Failed to enable IPv6 forwarding, IPv6 stays inside networks: %m");
	b->forwarding_on = true;
	log_info("Enabled IP forwarding for NAT networks");
	return 0;
}

/* The host's firewall follows the running networks (hostfw.c). */
static void update_host(struct broker *b)
{
	struct hostfw_network *v = calloc(b->registry.n_networks + 1, sizeof(*v));
	const struct network *n;
	size_t i = 0;

	if (!v || !b->hostfw) {
		free(v);
		if (b->hostfw)
			log_warning("Failed to update the host's firewall: out of memory");
		return;
	}
	TAILQ_FOREACH(n, &b->registry.networks, link) {
		if (n->bridge_ifindex <= 0)
			continue;
		v[i] = (struct hostfw_network){ .name = n->config.name,
						.bridge = n->bridge,
						.dns_alt_port = n->dns_alt_port };
		if (n->span) {
			v[i].span_peers = n->span->peers;
			v[i].n_span_peers = n->span->n_peers;
			v[i].span_port = n->config.span.port;
			v[i].span_bgp = network_is_evpn(n);
			if (n->span->names.ifindex > 0) /* else it may be someone else's */
				v[i].names_link = n->span->names.link;
		}
		i++;
	}
	if (hostfw_set_networks(b->hostfw, v, i) < 0)
		log_warning("Failed to update the host's firewall: out of memory");
	free(v);
}

/* Every VNI the files span by EVPN, running or not: stale stanzas of these are the broker's. */
static int owned_vnis(struct broker *b, struct frr_want *w)
{
	for (size_t i = 0; i < b->configs->n; i++) {
		const struct config_entry *e = &b->configs->v[i];
		uint32_t *v;

		if (!config_entry_valid(e) || e->config.span.control != SPAN_EVPN || !e->config.span.vni)
			continue;
		v = realloc(w->owned, (w->n_owned + 1) * sizeof(*v));
		if (!v)
			return -ENOMEM;
		w->owned = v;
		w->owned[w->n_owned++] = e->config.span.vni;
	}
	for (size_t i = 0; i < w->n_vnis; i++) {
		uint32_t *v = realloc(w->owned, (w->n_owned + 1) * sizeof(*v));

		if (!v)
			return -ENOMEM;
		w->owned = v;
		w->owned[w->n_owned++] = w->vnis[i];
	}
	return 0;
}

void broker_sync_frr(struct broker *b)
{
	struct frr_want w = {};
	struct network *n;
	int r = 0;

	TAILQ_FOREACH(n, &b->registry.networks, link)
		if (network_is_evpn(n) && (r = span_want(n->span, &w)) < 0) {
			if (r == -ENOMEM)
				break;
			log_network_warning(n, "Its span's ASN or address differs from another EVPN "
					       "span's; FRR gets the first one's only");
			r = 0;
		}
	if (r >= 0)
		r = owned_vnis(b, &w);
	if (r < 0)
		log_error_errno(r, "Failed to gather what FRR must hold: %m");
	else
		frr_set(b->frr, &w);
	frr_want_clear(&w);
}

/* Out of the registry, torn down, and out of the nftables table, the host's firewall and FRR. */
static void remove_network(struct broker *b, struct network *n)
{
	bool evpn = network_is_evpn(n);

	registry_remove_network(&b->registry, n);
	network_free(n);
	/* A failure was logged; the next change rewrites the table again. */
	(void)firewall_apply(b->nft, &b->registry);
	update_host(b);
	if (evpn)
		broker_sync_frr(b);
}

static void on_network_idle(struct network *n, void *userdata)
{
	remove_network(userdata, n);
}

/* The first vmbrN that neither a running network nor a link of the namespace has. */
static int pick_bridge_name(struct broker *b, char ret[IFNAMSIZ])
{
	char name[IFNAMSIZ];

	for (unsigned int i = 0; i < 10000; i++) {
		int r;

		snprintf(name, sizeof(name), "vmbr%u", i);
		if (registry_bridge_taken(&b->registry, name))
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

/* What network_new() is told: where it lives, checked against every other network. */
static int choose_place(struct broker *b, const struct network_config *c,
			struct network_addressing *ret, struct span_place *span, char bridge[IFNAMSIZ])
{
	const struct subnet_context ctx = {
		.registry = &b->registry,
		.configs = b->configs,
		.nl = b->nl,
		.pool = &b->opt.pool,
	};
	int r;

	r = subnet_choose(&ctx, c, ret);
	if (r)
		return r;
	if (c->span.vni) {
		r = span_place(b->nl, &c->span, b->opt.span_address, c->mtu, span);
		if (r)
			return r;
		ret->span = span;
	}
	if (forward_table_first_taken(&b->forwards, c->forwards, c->n_forwards, NULL))
		return NETWORK_E_FORWARD_TAKEN;
	return pick_bridge_name(b, bridge);
}

static int create_network(struct broker *b, const struct network_config *c, struct network **ret)
{
	struct network_addressing a;
	struct span_place span;
	char bridge[IFNAMSIZ], sub[32];
	struct network *n;
	int r;

	r = choose_place(b, c, &a, &span, bridge);
	if (r)
		return r;
	r = network_new(&b->env, c, &a, bridge, &n);
	if (r)
		return r;
	registry_add_network(&b->registry, n);
	r = c->mode == MODE_SHARED ? broker_enable_forwarding(b) : 0;
	if (r >= 0)
		r = firewall_add(b->nft, &b->registry, n);
	/* The overlay after its filter: frames cross from its first moment. */
	if (r >= 0)
		r = network_start_span(n);
	if (r < 0) {
		remove_network(b, n);
		return r;
	}
	update_host(b);
	if (network_is_evpn(n))
		broker_sync_frr(b);
	log_network_info(n, "Created: bridge %s, subnet %s, mode %s", n->bridge,
			 prefix4_format(&n->subnet, sub, sizeof(sub)),
			 network_mode_to_string(c->mode));
	*ret = n;
	return 0;
}

int broker_acquire_network(struct broker *b, const struct network_config *c, struct network **ret)
{
	struct network *n = registry_find_network(&b->registry, c->name);

	/* The idle timer keeps running until a lease is added: if the port
	 * then fails, the network still goes away on time. */
	if (!n)
		return create_network(b, c, ret);
	*ret = n;
	return 0;
}

/* ---- leases */

static void schedule_removals(struct broker *b);
/* How a lease ends, for end_lease(). */
enum lease_end {
	LEASE_END_USED_UP,  /* its holder let go (connection), or an acquire is undone */
	LEASE_END_GONE,     /* the kernel removed its port already (the link monitor) */
	LEASE_END_RELEASED, /* asked for: a plain TAP still held goes off the network too */
};

/*
 * @l ends: out of the index, then its network ends it, then the table
 * follows. @why: for the log; NULL when an acquire is undone.
 */
static bool end_lease(struct broker *b, struct lease *l, const char *why, enum lease_end how)
{
	struct network *n = l->network;
	struct network_change change;
	char desc[96], ifname[IFNAMSIZ];
	bool retried = l->removing, ended;

	if (why && !retried)
		log_lease_info(l, "lease ended (%s): %s", why,
			       lease_describe(l, n->subnet.addr, desc, sizeof(desc)));
	memcpy(ifname, l->port.ifname, sizeof(ifname));
	registry_remove_lease(&b->registry, l);
	if (how == LEASE_END_GONE)
		/* Don't try to remove it again by a reused index. */
		l->port.ifindex = 0;
	if (how == LEASE_END_RELEASED)
		ended = network_release_lease(n, l, &change);
	else
		ended = network_remove_lease(n, l, &change);
	if (ended && retried)
		log_network_info(n, "Port %s removed at last (%s), its lease ended", ifname,
				 why ? why : "tried again");
	if (!ended) {
		/* Back in the index: the link monitor still ends it when its port goes. */
		registry_add_lease(&b->registry, l);
		schedule_removals(b);
	}
	if (change.firewall)
		/* Its forwards go with it; a failure was logged. */
		(void)firewall_apply(b->nft, &b->registry);
	return ended;
}

/* Every lease whose port is still to be removed: one more try each. Return: how many stay. */
static size_t retry_removals(struct broker *b)
{
	struct network *n;
	struct lease *l, *next;
	size_t left = 0;

	/* A network with a lease is never removed here: the walk is safe. */
	TAILQ_FOREACH(n, &b->registry.networks, link)
		for (l = TAILQ_FIRST(&n->leases); l; l = next) {
			next = TAILQ_NEXT(l, network_link);
			if (l->removing)
				left += !end_lease(b, l, NULL, LEASE_END_USED_UP);
		}
	return left;
}

/*
 * Ports that could not be removed are tried again after 1 s, doubling to
 * a minute while they still fail (and at once for a link event of theirs:
 * on_carrier_off()); the timer runs only while there are such ports.
 */
static int on_removal_retry(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct broker *b = userdata;
	size_t left;

	b->retrying_removals = true;
	left = retry_removals(b);
	b->retrying_removals = false;
	if (left == 0) {
		b->removal_delay_usec = 0;
		return 0;
	}
	if (b->removal_delay_usec < BROKER_REMOVAL_RETRY_MAX_USEC)
		b->removal_delay_usec *= 2;
	(void)sd_event_source_set_time_relative(s, b->removal_delay_usec);
	return sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

static void schedule_removals(struct broker *b)
{
	int r;

	if (b->retrying_removals || b->removal_delay_usec)
		return; /* on its way */
	b->removal_delay_usec = BROKER_REMOVAL_RETRY_MIN_USEC;
	if (!b->removal_timer)
		r = sd_event_add_time_relative(b->event, &b->removal_timer, CLOCK_MONOTONIC,
					       b->removal_delay_usec, 0, on_removal_retry, b);
	else if ((r = sd_event_source_set_time_relative(b->removal_timer, b->removal_delay_usec)) >= 0)
		r = sd_event_source_set_enabled(b->removal_timer, SD_EVENT_ONESHOT);
	if (r < 0)
		/* The link monitor still ends them as their ports go. */
		log_warning_errno(r, "Failed to schedule removing ports again: %m");
}

int broker_add_lease(struct broker *b, struct network *n, struct lease *l,
		     const struct port_spec *spec, struct tap_fds *ret_fds, bool *ret_dhcp_failed)
{
	_cleanup_(lease_freep) struct lease *owned = l;
	_cleanup_tap_fds_ struct tap_fds fds = { .n = 0 };
	struct network_change change = {};
	int r;

	*ret_dhcp_failed = false;
	r = network_add_lease(n, l, spec, &fds, &change);
	if (r) {
		if (change.dhcp_failed && n->n_leases == 0 && !n->config.persistent)
			/* Made for this acquire, most likely: nothing half-built stays. */
			remove_network(b, n);
		*ret_dhcp_failed = r < 0 && change.dhcp_failed;
		return r;
	}
	TAKE_PTR(owned); /* @n's now */
	registry_add_lease(&b->registry, l);
	if (l->n_forwards)
		watch_host_listeners(b);
	if (change.firewall || change.names) {
		r = firewall_apply(b->nft, &b->registry);
		if (r < 0) {
			end_lease(b, l, NULL, LEASE_END_USED_UP);
			return r;
		}
	}
	if (change.names)
		update_host(b);
	*ret_fds = TAKE_TAP_FDS(fds);
	return 0;
}

void broker_release_lease(struct broker *b, struct lease *l, uid_t by)
{
	char why[48];

	snprintf(why, sizeof(why), "released by uid %u", (unsigned)by);
	end_lease(b, l, why, LEASE_END_RELEASED);
}

int broker_add_forwards(struct broker *b, struct lease *l, const struct port_forward *v,
			size_t count, uint32_t shadowed)
{
	struct network_change change;
	const struct port_forward *unused;
	size_t before = l->n_forwards;
	int r;

	r = network_add_forwards(l->network, l, v, count, &change);
	if (r || !change.firewall)
		return r;
	r = firewall_apply(b->nft, &b->registry);
	if (r < 0) {
		/* The table has the old forwards still: so must the lease. */
		(void)network_remove_forwards(l->network, l, v, count, &unused, &change);
		(void)firewall_apply(b->nft, &b->registry);
		return r;
	}
	/* Root's over a host service (broker_check_forwards()), and watched from now on. */
	if (before < 32)
		l->shadowed |= shadowed << before;
	watch_host_listeners(b);
	return 0;
}

int broker_remove_forwards(struct broker *b, struct lease *l, const struct port_forward *v,
			   size_t count, const struct port_forward **ret_unknown)
{
	struct network_change change;
	int r;

	r = network_remove_forwards(l->network, l, v, count, ret_unknown, &change);
	if (r == 0 && change.firewall)
		/* A failure was logged; the guest gets what it no longer wants
		 * until the next rewrite, which the lease no longer asks for. */
		(void)firewall_apply(b->nft, &b->registry);
	return r;
}

void broker_stop_network(struct broker *b, struct network *n, uid_t by)
{
	struct lease *l;
	char desc[96];

	log_network_notice(n, "Stopping, as uid %u asked, with its %zu lease(s)", (unsigned)by,
			   n->n_leases);
	TAILQ_FOREACH(l, &n->leases, network_link)
		log_lease_info(l, "lease ended (network stopped): %s",
			       lease_describe(l, n->subnet.addr, desc, sizeof(desc)));
	remove_network(b, n);
}

void broker_enforce_quotas(struct broker *b)
{
	struct lease *l;

	while ((l = registry_first_over_quota(&b->registry, b->opt.max_ports_per_user))) {
		log_lease_info(l,
			       "uid %u holds more than the %zu ports it may now have, releasing "
			       "its newest persistent one",
			       (unsigned)l->uid, b->opt.max_ports_per_user);
		end_lease(b, l, "over its owner's quota", LEASE_END_RELEASED);
	}
}

void broker_end_client(struct broker *b, struct client *cl)
{
	struct lease *l;

	/* Nobody left to answer: its wait goes untold, before any lease ends. */
	if (cl->waiter)
		cl->waiter->free(cl->waiter);

	while ((l = TAILQ_FIRST(&cl->leases))) {
		if (b->stopping && l->port.kind == PORT_NAMED_TAP) {
			/* The daemon goes, not the client: keep the VM's TAP. */
			TAILQ_REMOVE(&cl->leases, l, client_link);
			l->client = NULL;
			continue;
		}
		end_lease(b, l, "connection closed", LEASE_END_USED_UP);
	}
}

/* Whether @c has leases that end when it closes, or waits for an address: then it may stay idle. */
static bool client_holds(void *userdata, const struct connection *c)
{
	const struct client *cl = connection_get_data(c);

	return cl && (!TAILQ_EMPTY(&cl->leases) || cl->waiter);
}

static void on_disconnect(void *userdata, struct connection *c)
{
	struct client *cl = connection_get_data(c);

	if (!cl)
		return;
	broker_end_client(userdata, cl);
	free(cl);
	connection_set_data(c, NULL);
}

/* ---- the link monitor */

static void on_link_gone(void *userdata, int ifindex)
{
	struct broker *b = userdata;
	struct lease *l = registry_find_lease(&b->registry, ifindex);

	if (l)
		end_lease(b, l, "port gone", LEASE_END_GONE);
}

/*
 * A tap belongs to whoever holds its fds, and its lease ends with the
 * last of them. But a holder may make it persistent (TUNSETPERSIST needs
 * no privilege) and go: then nothing ends it, and it would stay on the
 * network, counted forever. Persistent with no queue attached means no
 * one holds it: it is the daemon's to delete, and its lease ends.
 * Return: true when @l ended.
 */
static bool end_if_abandoned(struct broker *b, struct lease *l)
{
	struct netlink_tun t;

	if (l->port.kind != PORT_TAP || l->port.ifindex <= 0 ||
	    netlink_tun_info(b->nl, l->port.ifindex, &t) < 0 || !t.is_tun || !t.persist ||
	    t.queues > 0 || t.disabled_queues > 0)
		return false;
	log_lease_info(l, "TAP %s was made persistent and no one holds it: removing it",
		       l->port.ifname);
	l->port.abandoned = true;
	end_lease(b, l, "port abandoned by its holder", LEASE_END_USED_UP);
	return true;
}

/* A link up without a carrier: a tap's holders let it go, or a port to remove may go now. */
static void on_carrier_off(void *userdata, int ifindex)
{
	struct broker *b = userdata;
	struct lease *l = registry_find_lease(&b->registry, ifindex);

	if (!l)
		return;
	if (l->removing)
		(void)end_lease(b, l, "tried again on a link event", LEASE_END_USED_UP);
	else
		(void)end_if_abandoned(b, l);
}

static void on_link_resync(void *userdata)
{
	struct broker *b = userdata;
	struct network *n;
	struct lease *l, *next;

	log_warning("Link monitor lost events, checking every port");
	/* Ending a lease may arm (never fire) an idle timer, so networks stay. */
	TAILQ_FOREACH(n, &b->registry.networks, link)
		for (l = TAILQ_FIRST(&n->leases); l; l = next) {
			next = TAILQ_NEXT(l, network_link);
			if (l->port.ifindex > 0 && netlink_link_exists(b->nl, l->port.ifindex) == 0)
				end_lease(b, l, "port gone", LEASE_END_GONE);
			else
				(void)end_if_abandoned(b, l);
		}
}

/* ---- the neighbour monitor: what is behind the ports */

static void on_neighbour(void *userdata, const struct neighbour_event *e)
{
	struct broker *b = userdata;
	struct network *n;
	struct lease *l;

	/*
	 * One hash lookup each, however many ports and networks there are;
	 * a MAC behind no port of ours also walks the spanning networks.
	 */
	if (e->fdb) {
		l = registry_find_lease(&b->registry, e->ifindex);
		if (l && l->network)
			network_fdb_event(l->network, l, e->mac, e->added);
		/* Another host's guests, on a span's VXLAN device: none is ours to show. */
		else if (e->added && (n = registry_find_overlay(&b->registry, e->ifindex)))
			network_fdb_overlay(n, e->mac);
		return;
	}
	n = registry_find_bridge(&b->registry, e->ifindex);
	if (n)
		network_neigh_event(n, e->family, e->addr, e->added ? e->mac : NULL);
}

static void on_neighbour_resync(void *userdata)
{
	struct broker *b = userdata;
	struct network *n;

	/* Read again whole, right after this (neighbour_dump()). */
	TAILQ_FOREACH(n, &b->registry.networks, link)
		network_forget_kernel_view(n);
}

/* ---- the broker */

/* Members of group "vmnet-broker" may connect; without the group, anyone. */
static gid_t socket_group(void)
{
	struct group *g = getgrnam(SOCKET_GROUP);

	if (!g) {
		log_debug("No group '" SOCKET_GROUP "': socket open to all users");
		return (gid_t)-1;
	}
	return g->gr_gid;
}

/* At start: say once what is wrong with which file. */
static void log_config_errors(struct broker *b)
{
	broker_refresh_configs(b);
	for (size_t i = 0; i < b->configs->n; i++) {
		const struct config_errors *e = &b->configs->v[i].errors;

		for (size_t j = 0; j < e->n; j++)
			log_warning("%s: %s%s%s", e->v[j].file, e->v[j].key,
				    *e->v[j].key ? ": " : "", e->v[j].reason);
	}
	log_info("Read %zu network file(s) from '%s'", b->configs->n, b->opt.config_dir);
}

/* Someone else changed our table (hostfw.c): write it again, whole. */
static int restore_table(void *userdata)
{
	struct broker *b = userdata;

	return firewall_apply(b->nft, &b->registry);
}

void broker_watch_host(struct broker *b)
{
	hostfw_start(b->hostfw);
	update_host(b);
}

/* Whether a file spans by EVPN: an earlier daemon may have left its part in FRR. */
static bool any_evpn_file(const struct broker *b)
{
	for (size_t i = 0; i < b->configs->n; i++)
		if (config_entry_valid(&b->configs->v[i]) &&
		    b->configs->v[i].config.span.control == SPAN_EVPN &&
		    b->configs->v[i].config.span.vni)
			return true;
	return false;
}

static int open_kernel(struct broker *b)
{
	const struct hostfw_env fw = {
		.event = b->event,
		.restore_table = restore_table,
		.userdata = b,
	};
	int r;

	r = netlink_new(b->event, on_link_gone, on_carrier_off, on_link_resync, b, &b->nl);
	if (r < 0)
		return log_error_errno(r, "Failed to open rtnetlink: %m");
	r = nft_new(&b->nft);
	if (r < 0)
		return log_error_errno(r, "Failed to set up libnftables: %m");
	/* Its sockets for legacy iptables need CAP_NET_RAW, which goes with the setup. */
	r = hostfw_new(&fw, &b->hostfw);
	if (r < 0)
		return log_error_errno(r, "Failed to set up the host firewall watch: %m");
	r = ra_new(b->event, &b->ra);
	if (r < 0)
		return log_error_errno(r, "Failed to open the router advertisement socket: %m");
	r = neighbour_new(b->event, on_neighbour, on_neighbour_resync, b, &b->neighbour);
	if (r < 0)
		return log_error_errno(r, "Failed to follow the bridges' neighbours: %m");
	/* Answered once the loop runs, after adoption: the guests there are. */
	r = neighbour_dump(b->neighbour);
	if (r < 0)
		log_warning_errno(r, "Failed to read the bridges' neighbours, learning them as they come: %m");
	r = dhcp_watch_new(b->event, &b->dhcp_watch);
	if (r < 0)
		return log_error_errno(r, "Failed to watch dnsmasq's lease files: %m");
	r = resolved_new(b->event, &b->resolved);
	if (r < 0)
		return log_error_errno(r, "Failed to set up for systemd-resolved: %m");
	r = frr_new(b->event, b->opt.frr_dir, any_evpn_file(b), &b->frr);
	if (r < 0)
		return log_error_errno(r, "Failed to set up FRR's part: %m");
	return 0;
}

int broker_new(sd_event *event, const struct broker_options *opt, server_request_fn on_request,
	       struct broker **ret)
{
	_cleanup_(broker_freep) struct broker *b = NULL;
	int r;

	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->event = sd_event_ref(event);
	b->opt = *opt;
	registry_init(&b->registry);
	r = dnsmasq_env_new(&b->dnsmasq_env);
	if (r < 0)
		return r;
	r = dnsmasq_env_prepare(b->dnsmasq_env, opt->state_dir);
	if (r < 0)
		return r;
	r = config_dir_new(opt->config_dir, &b->configs);
	if (r < 0)
		return r;
	config_dir_watch(b->configs);
	log_config_errors(b);
	r = open_kernel(b);
	if (r < 0)
		return r;
	b->env = (struct network_env){
		.event = event,
		.nl = b->nl,
		.ra = b->ra,
		.forwards = &b->forwards,
		.dnsmasq = b->dnsmasq_env,
		.dhcp_watch = b->dhcp_watch,
		.resolved = b->resolved,
		.frr = b->frr,
		.state_dir = b->opt.state_dir,
		.resolv_file = b->opt.resolv_file,
		.idle_timeout_usec = b->opt.idle_timeout_usec,
		.next_lease_id = 1,
		.on_idle = on_network_idle,
		.userdata = b,
	};
	r = server_new(event, opt->socket_path, opt->listen_fd, socket_group(), on_request,
		       on_disconnect, b, &b->server);
	if (r == -EADDRINUSE)
		return log_error_errno(r, "Another vmnet-brokerd is already serving on '%s'",
				       opt->socket_path);
	if (r < 0)
		return log_error_errno(r, "Failed to listen on '%s': %m", opt->socket_path);
	server_set_max_connections(b->server, opt->max_connections, opt->max_connections_per_user);
	server_set_silence_timeout(b->server, opt->silence_timeout_usec);
	server_set_holds_fn(b->server, client_holds);
	*ret = TAKE_PTR(b);
	return 0;
}

struct broker *broker_free(struct broker *b)
{
	struct network *n, *next;

	if (!b)
		return NULL;
	/*
	 * Stopping must never cut a running VM: networks with leases stay up,
	 * recorded for the next daemon; only unused ones are removed. (Removing
	 * everything on purpose is broker_remove_all().)
	 */
	b->stopping = true;
	b->server = server_free(b->server);
	b->listener_timer = sd_event_source_disable_unref(b->listener_timer);
	b->removal_timer = sd_event_source_disable_unref(b->removal_timer);
	for (n = TAILQ_FIRST(&b->registry.networks); n; n = next) {
		next = TAILQ_NEXT(n, link);
		if (n->n_leases == 0)
			remove_network(b, n);
	}
	/* Before the rest is abandoned: their rules stay, for the guests and the next daemon. */
	b->hostfw = hostfw_free(b->hostfw);
	while ((n = TAILQ_FIRST(&b->registry.networks))) {
		log_network_info(n, "Left running for its %zu lease(s)", n->n_leases);
		registry_remove_network(&b->registry, n);
		network_abandon(n);
	}
	forward_table_done(&b->forwards);
	b->resolved = resolved_free(b->resolved);
	b->neighbour = neighbour_free(b->neighbour);
	b->dhcp_watch = dhcp_watch_free(b->dhcp_watch);
	/* FRR keeps the part of the networks left running, for the next daemon. */
	b->frr = frr_free(b->frr);
	b->ra = ra_free(b->ra);
	b->nft = nft_free(b->nft);
	b->nl = netlink_free(b->nl);
	b->configs = config_dir_free(b->configs);
	b->dnsmasq_env = dnsmasq_env_free(b->dnsmasq_env);
	sd_event_unref(b->event);
	free(b);
	return NULL;
}

void broker_remove_all(struct broker *b, uint64_t timeout_usec)
{
	uint64_t start = 0, now = 0;
	struct network *n;

	while ((n = TAILQ_FIRST(&b->registry.networks))) {
		log_network_notice(n, "Removing, with its %zu lease(s), as asked", n->n_leases);
		remove_network(b, n);
	}
	hostfw_remove_all(b->hostfw);
	/* The loop does not run yet: let it until FRR has lost the spans too. */
	(void)sd_event_now(b->event, CLOCK_MONOTONIC, &start);
	now = start;
	while (frr_busy(b->frr) && now - start < timeout_usec && sd_event_run(b->event, 100000) >= 0)
		(void)sd_event_now(b->event, CLOCK_MONOTONIC, &now);
}

bool broker_is_idle(const struct broker *b)
{
	return b->registry.n_networks == 0 && server_connection_count(b->server) == 0;
}

/* Why a persistent network could not be created, for the log. */
static const char *persistent_failure(int code)
{
	switch (code) {
	case NETWORK_E_POOL_EXHAUSTED:
		return "no free subnet in the pool";
	case SPAN_E_NOT_LISTED:
		return "this host holds none of its span's host addresses";
	case SPAN_E_AMBIGUOUS:
		return "this host holds several of its span's host addresses (--span-address)";
	case SPAN_E_UNDERLAY_MTU:
		return "the underlay link's MTU leaves no room for its span's";
	default:
		return "its subnet, ipv6_prefix or a forwarded port is taken";
	}
}

/* Whether this host reflects routes for @c's EVPN span: it keeps the network up from the start. */
static bool reflects_here(struct broker *b, const struct network_config *c)
{
	struct span_place p;

	return c->span.vni && c->span.control == SPAN_EVPN &&
	       span_place(b->nl, &c->span, b->opt.span_address, c->mtu, &p) == 0 &&
	       span_place_reflects(&c->span, &p);
}

void broker_start_persistent(struct broker *b)
{
	broker_refresh_configs(b);
	for (size_t i = 0; i < b->configs->n; i++) {
		const struct config_entry *e = &b->configs->v[i];
		struct network *n;
		int r;

		if (!config_entry_valid(e) || registry_find_network(&b->registry, e->name) ||
		    !(e->config.persistent || reflects_here(b, &e->config)))
			continue;
		r = broker_acquire_network(b, &e->config, &n);
		if (r < 0) {
			log_netname_error_errno(e->name, r, "Failed to create persistent network: %m");
			continue;
		}
		if (r > 0) {
			log_netname_error(e->name, "Failed to create persistent network: %s",
					  persistent_failure(r));
			continue;
		}
		r = network_start_dhcp(n);
		if (r < 0)
			log_network_error_errno(n, r,
						"Failed to start dnsmasq, trying again at the next acquire: %m");
		else if (n->span && n->span->names.ifindex > 0) {
			/* Its names link came: the firewalls take it in. */
			(void)firewall_apply(b->nft, &b->registry);
			update_host(b);
		}
		log_network_info(n, "Persistent: up until the daemon stops");
	}
}
