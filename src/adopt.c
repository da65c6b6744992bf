/* adopt.c - taking over what an earlier daemon left: networks, ports, dnsmasq
 *
 * Theory of operation. A daemon that stops, cleanly or not, leaves every
 * network with leases running: bridge, ports, nftables table, dnsmasq.
 * Guests never notice. The next daemon reads the state dir (state.c) and
 * checks each record against the kernel before trusting it:
 *
 *   - a network is adopted only if its bridge still has the recorded
 *     index, name, kind and MAC; otherwise it is forgotten;
 *   - a lease is adopted only if its port still has the recorded index
 *     and name and is still enslaved to that bridge; otherwise it ended
 *     while no daemon watched, and its address goes back to the pool;
 *   - the old dnsmasq, no longer anyone's child, is replaced by a new one
 *     on the same lease file;
 *   - links that carry the broker's alias but belong to no adopted record
 *     (a crash between creating a port and recording it) are removed:
 *     they belong to no one, since no client was ever told about them; a
 *     span's names link is claimed by its name, as it was made again when
 *     its network was adopted;
 *   - the nftables table is rewritten for exactly the adopted networks;
 *   - a span keeps its VXLAN device when the file still spans that VNI
 *     from this host (a device gone meanwhile is made again, after the
 *     table holds its filter), and FRR gets the broker's part again.
 *
 * This runs before the event loop, so no request sees a half-adopted
 * state.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adopt.h"
#include "broker.h"
#include "config-dir.h"
#include "dhcp.h"
#include "firewall.h"
#include "forward.h"
#include "lease.h"
#include "log.h"
#include "netlink.h"
#include "network.h"
#include "port.h"
#include "registry.h"
#include "span.h"
#include "state.h"
#include "util.h"

struct links {
	struct link_info *v;
	size_t n;
};

static const struct link_info *find_link(const struct links *ls, int ifindex)
{
	for (size_t i = 0; i < ls->n; i++)
		if (ls->v[i].ifindex == ifindex)
			return &ls->v[i];
	return NULL;
}

static bool bridge_matches(const struct link_info *li, const struct state_network *rec)
{
	return li && streq(li->name, rec->bridge) && streq(li->kind, "bridge") &&
	       memcmp(li->mac, rec->bridge_mac, 6) == 0;
}

static bool port_matches(const struct link_info *li, const struct state_lease *rec, int bridge)
{
	return li && streq(li->name, rec->ifname) && li->master == bridge;
}

/*
 * The recorded port_forwards of @l, unless a running network or an
 * adopted lease forwards one of those host ports already (the files
 * changed while no daemon ran): then the lease keeps its port, without
 * forwards.
 */
static void check_forwards(struct broker *b, struct network *n, struct lease *l)
{
	char what[64];

	for (size_t i = 0; i < l->n_forwards; i++)
		if (n->config.mode != MODE_SHARED ||
		    forward_table_owner(&b->forwards, l->forwards[i].protocol,
					l->forwards[i].external_port)) {
			log_network_warning(n,
					    "Port %s: forward %s is taken or the network is not "
					    "shared, adopting the port without its forwards",
					    l->port.ifname,
					    forward_format(&l->forwards[i], what, sizeof(what)));
			lease_drop_forwards(l);
			return;
		}
}

static int adopt_lease(struct broker *b, struct network *n, const struct state_lease *rec)
{
	_cleanup_(lease_freep) struct lease *l = NULL;
	struct network_change change;
	int r;

	/* A record of a daemon of before ids gets one now; the snapshot at
	 * the end of adoption records it. */
	r = lease_new_from_record(rec, rec->id ? rec->id : b->env.next_lease_id++, &l);
	if (r < 0)
		return r;
	check_forwards(b, n, l);
	r = network_add_lease(n, l, NULL, NULL, &change);
	if (r)
		return r;
	registry_add_lease(&b->registry, TAKE_PTR(l));
	return 0;
}

static void adopt_leases(struct broker *b, struct network *n, const struct state_network *rec,
			 const struct links *ls)
{
	for (size_t i = 0; i < rec->n_leases; i++) {
		const struct state_lease *lr = &rec->leases[i];
		int r;

		if (lr->kind == PORT_NONE)
			continue; /* a hold without a port ends with its connection */
		if (!port_matches(find_link(ls, lr->ifindex), lr, rec->bridge_ifindex)) {
			log_network_info(n,
					 "uid %u pid %d label '%s': %s port %s went away while no "
					 "daemon ran, lease ended",
					 (unsigned)lr->uid, (int)lr->pid, lr->label,
					 port_kind_to_string(lr->kind), lr->ifname);
			continue;
		}
		r = adopt_lease(b, n, lr);
		if (r != 0)
			log_network_warning(n, "Failed to adopt port %s: %s, ignoring", lr->ifname,
					    r > 0 ? network_error_to_string(r) : strerror(-r));
	}
}

static void forget_network(struct broker *b, const struct state_network *rec)
{
	log_netname_info(rec->name, "Bridge %s went away while no daemon ran, forgetting the network",
			 rec->bridge);
	dhcp_stop_stale(rec->dnsmasq_pid, b->opt.state_dir, rec->name);
	state_forget(b->opt.state_dir, rec->name);
}

/* What reading the journal lost; the record is adopted as far as it goes. */
static void log_journal(const struct state_network *rec)
{
	if (rec->journal_error < 0)
		log_netname_warning_errno(rec->name, rec->journal_error,
					  "Failed to read its state journal, adopting the "
					  "snapshot alone; ports of leases since may be removed: %m");
	else if (rec->journal_skipped > 0)
		/* One line cut short is a daemon killed while writing it. */
		log_netname_info(rec->name,
				 "Skipped %d incomplete or malformed line(s) of its state journal",
				 rec->journal_skipped);
}

/*
 * What the record does not say: the gateway and the IPv6 prefix length
 * come from the file, while it still has the subnet and prefix that run
 * (else the defaults of a pool network, .1 and /64).
 */
static void recorded_addressing(const struct state_network *rec, const struct network_config *c,
				struct network_addressing *ret)
{
	uint32_t addr;
	uint8_t len;

	*ret = (struct network_addressing){ .subnet = rec->subnet };
	memcpy(ret->ula, rec->ula, 16);
	if (c->has_subnet) {
		network_config_subnet(c, &addr, &len);
		if (addr == rec->subnet.addr && len == rec->subnet.len)
			ret->gateway = c->gateway;
	}
	if (c->has_ipv6_prefix && memcmp(c->ipv6_prefix, rec->ula, 16) == 0)
		ret->ula_len = c->ipv6_prefix_len;
	/* Guests hold addresses of the range and names in the domain that ran. */
	ret->has_range = rec->has_range;
	ret->range = (struct dhcp_range){ rec->range_first, rec->range_last };
	ret->domain = rec->has_domain ? rec->domain : NULL;
}

/*
 * The span of @rec, when the file still spans its VNI from the recorded
 * address of this host: *@ret its place, and the VXLAN device's index in
 * @br when that device is still the one recorded. Otherwise the network
 * is adopted without its span (its device is then an orphan, removed).
 */
static bool recorded_span(struct broker *b, const struct state_network *rec, struct network_config *c,
			  const struct links *ls, struct network_bridge *br, struct span_place *ret)
{
	const struct link_info *li;
	int r;

	if (!rec->span.vni)
		return false; /* a span the file gained applies when the network is next created */
	if (c->span.vni != rec->span.vni) {
		log_netname_warning(rec->name,
				    "Its file no longer spans VNI %u: adopting it as "
				    "this host's alone",
				    rec->span.vni);
		return false;
	}
	/* An underlay MTU that changed meanwhile is the next creation's business. */
	r = span_place(b->nl, &c->span, rec->span.local, c->mtu, ret);
	if (r < 0 || r == SPAN_E_NOT_LISTED || r == SPAN_E_AMBIGUOUS) {
		log_netname_warning(rec->name, "This host no longer holds its span's address: "
					       "adopting it as this host's alone");
		return false;
	}
	li = find_link(ls, rec->span.vxlan_ifindex);
	if (li && streq(li->name, rec->span.vxlan) && streq(li->kind, "vxlan") &&
	    li->master == rec->bridge_ifindex)
		br->vxlan_ifindex = li->ifindex;
	return true;
}

/* The network of @rec as it runs, its leases not yet. Return: 0 or negative errno. */
static int adopt_record(struct broker *b, const struct state_network *rec, const struct links *ls,
			struct network **ret)
{
	struct network_bridge br = { .ifindex = rec->bridge_ifindex };
	struct network_addressing a;
	struct network_config c;
	struct span_place place;

	/* The record says what runs; the configuration only fills the rest. */
	if (config_lookup(b->opt.config_dir, rec->name, &c) != 0)
		return -ENOENT;
	c.mode = rec->mode;
	c.mtu = rec->mtu;
	c.dhcp = rec->dhcp;
	recorded_addressing(rec, &c, &a);
	if (recorded_span(b, rec, &c, ls, &br, &place))
		a.span = &place;
	else
		c.span.vni = 0;
	memcpy(br.name, rec->bridge, sizeof(br.name));
	memcpy(br.mac, rec->bridge_mac, 6);
	return network_adopt(&b->env, &c, &a, &br, ret);
}

/* Its services: forwarding, a dnsmasq of ours instead of the old one, RA, the idle timer. */
static int resume_network(struct broker *b, struct network *n, pid_t stale_dnsmasq)
{
	char sub[32];
	int r;

	if (n->config.mode == MODE_SHARED) {
		r = broker_enable_forwarding(b);
		if (r < 0)
			return r;
	}
	/* The old dnsmasq is not our child and cannot be watched: replace it.
	 * It keeps the lease file, so guests keep their addresses; a guest
	 * asking in the few milliseconds between simply asks again. */
	dhcp_stop_stale(stale_dnsmasq, b->opt.state_dir, n->config.name);
	r = network_adopt_done(n);
	if (r < 0)
		return r;
	log_network_info(n, "Adopted: bridge %s, subnet %s, %zu lease(s)", n->bridge,
			 prefix4_format(&n->subnet, sub, sizeof(sub)), n->n_leases);
	return 0;
}

static void adopt_network(struct broker *b, const struct state_network *rec, const struct links *ls)
{
	struct network *n;
	int r;

	if (registry_find_network(&b->registry, rec->name)) {
		log_netname_warning(rec->name, "Recorded twice, ignoring the second record");
		return;
	}
	if (!bridge_matches(find_link(ls, rec->bridge_ifindex), rec))
		return forget_network(b, rec);
	log_journal(rec);
	r = adopt_record(b, rec, ls, &n);
	if (r < 0) {
		log_netname_warning_errno(rec->name, r,
					  "Failed to adopt network, leaving it as it is: %m");
		return;
	}
	registry_add_network(&b->registry, n);
	adopt_leases(b, n, rec, ls);
	r = resume_network(b, n, rec->dnsmasq_pid);
	if (r < 0)
		/* Guests keep forwarding on the bridge; DHCP is what may be down. */
		log_network_error_errno(n, r, "Failed to restart its services: %m");
}

static void remove_orphan(struct broker *b, const struct link_info *li)
{
	int r;

	/* A named TAP too, even if a VM holds it: it was no one's lease. */
	r = netlink_link_del(b->nl, li->ifindex);
	if (r < 0 && r != -ENODEV)
		log_warning_errno(r, "Failed to remove orphaned %s, ignoring: %m", li->name);
	else
		log_info("Removed %s '%s', left by an earlier daemon and owned by no one", li->name,
			 li->alias);
}

static bool has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Whether an adopted network's span has the VXLAN device @ifindex. */
static bool vxlan_claimed(const struct broker *b, int ifindex)
{
	const struct network *n;

	TAILQ_FOREACH(n, &b->registry.networks, link)
		if (n->span && n->span->vxlan_ifindex == ifindex)
			return true;
	return false;
}

/*
 * Whether an adopted network's span has the names link (or its peer)
 * @name: by name, as the link was made again as the network was adopted.
 */
static bool names_claimed(const struct broker *b, const char *name)
{
	const struct network *n;

	TAILQ_FOREACH(n, &b->registry.networks, link)
		if (n->span && n->span->names.self &&
		    (streq(n->span->names.link, name) || streq(n->span->names.port, name)))
			return true;
	return false;
}

static void remove_orphans(struct broker *b, const struct links *ls)
{
	for (size_t i = 0; i < ls->n; i++) {
		const struct link_info *li = &ls->v[i];

		bool ours = has_prefix(li->alias, NETWORK_ALIAS_PREFIX);
		bool bridge = ours && streq(li->kind, "bridge");
		bool vxlan = ours && streq(li->kind, "vxlan");
		bool names = ours && streq(li->kind, "veth");
		bool port = !ours && has_prefix(li->alias, LEASE_ALIAS_PREFIX);

		if ((bridge && !registry_find_bridge(&b->registry, li->ifindex)) ||
		    (vxlan && !vxlan_claimed(b, li->ifindex)) ||
		    (names && !names_claimed(b, li->name)) ||
		    (port && !registry_find_lease(&b->registry, li->ifindex)))
			remove_orphan(b, li);
	}
}

/* Spans whose device went away while no daemon ran: made again, now that their filter is in. */
static void restart_spans(struct broker *b)
{
	struct network *n;
	int r;

	TAILQ_FOREACH(n, &b->registry.networks, link) {
		if (!n->span || n->span->vxlan_ifindex > 0)
			continue;
		r = network_start_span(n);
		if (r < 0)
			log_network_error_errno(n, r,
						"Failed to make its VXLAN device again, the "
						"network is this host's alone: %m");
		else
			log_network_info(n, "Made its VXLAN device %s again", n->span->vxlan);
	}
}

/*
 * Lease ids go on above every id on record, adopted or not, so an id
 * names one lease in the state dir's records, never two.
 */
static void continue_lease_ids(struct broker *b, const struct state_network *recs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < recs[i].n_leases; j++)
			if (recs[i].leases[j].id >= b->env.next_lease_id)
				b->env.next_lease_id = recs[i].leases[j].id + 1;
}

static void records_free(struct state_network *recs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		state_network_clear(&recs[i]);
	free(recs);
}

int broker_adopt(struct broker *b)
{
	struct state_network *recs = NULL;
	_cleanup_free_ struct link_info *links = NULL;
	struct links ls;
	size_t n_recs = 0, n_links = 0;
	int r;

	r = state_load_all(b->opt.state_dir, &recs, &n_recs);
	if (r < 0)
		return log_error_errno(r, "Failed to read state directory '%s': %m", b->opt.state_dir);
	continue_lease_ids(b, recs, n_recs);
	r = netlink_links(b->nl, &links, &n_links);
	ls = (struct links){ .v = links, .n = n_links };
	if (r < 0) {
		records_free(recs, n_recs);
		return log_error_errno(r, "Failed to list links: %m");
	}
	for (size_t i = 0; i < n_recs; i++)
		adopt_network(b, &recs[i], &ls);
	records_free(recs, n_recs);
	remove_orphans(b, &ls);
	broker_enforce_quotas(b);
	/* Adopted forwards are watched like new ones. */
	broker_check_host_listeners(b);
	/* Also when nothing was adopted: a stale table from a crash goes. */
	r = firewall_apply(b->nft, &b->registry);
	if (r < 0)
		return r;
	restart_spans(b);
	/* FRR may have restarted while no daemon ran, or hold a stale part. */
	broker_sync_frr(b);
	return 0;
}
