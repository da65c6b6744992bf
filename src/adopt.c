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
 *     they belong to no one, since no client was ever told about them;
 *   - the nftables table is rewritten for exactly the adopted networks.
 *
 * This runs before the socket opens, so no request sees a half-adopted
 * state.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adopt.h"
#include "dhcp.h"
#include "lease.h"
#include "log.h"
#include "netlink.h"
#include "network.h"
#include "port.h"
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

static void adopt_leases(struct network *n, const struct state_network *rec, const struct links *ls)
{
	for (size_t i = 0; i < rec->n_leases; i++) {
		const struct state_lease *lr = &rec->leases[i];
		struct lease *l;
		int r;

		if (lr->kind == PORT_NONE)
			continue; /* a hold without a port ends with its connection */
		if (!port_matches(find_link(ls, lr->ifindex), lr, rec->bridge_ifindex)) {
			log_info("[network %s] uid %u pid %d label '%s': %s port %s went away while "
				 "no daemon ran, lease ended",
				 rec->name, (unsigned)lr->uid, (int)lr->pid, lr->label,
				 port_kind_to_string(lr->kind), lr->ifname);
			continue;
		}
		r = lease_adopt(n, lr, &l);
		if (r != 0)
			log_warning("[network %s] Failed to adopt port %s: %s, ignoring", rec->name,
				    lr->ifname, r > 0 ? lease_error_to_string(r) : strerror(-r));
	}
}

static void forget_network(struct broker *b, const struct state_network *rec)
{
	log_info("[network %s] Bridge %s went away while no daemon ran, forgetting the network",
		 rec->name, rec->bridge);
	dhcp_stop_stale(rec->dnsmasq_pid, b->opt.state_dir, rec->name);
	state_forget(b->opt.state_dir, rec->name);
}

/* What reading the journal lost; the record is adopted as far as it goes. */
static void log_journal(const struct state_network *rec)
{
	if (rec->journal_error < 0)
		log_warning_errno(rec->journal_error,
				  "[network %s] Failed to read its state journal, adopting the "
				  "snapshot alone; ports of leases since may be removed: %m",
				  rec->name);
	else if (rec->journal_skipped > 0)
		/* One line cut short is a daemon killed while writing it. */
		log_info("[network %s] Skipped %d incomplete or malformed line(s) of its state journal",
			 rec->name, rec->journal_skipped);
}

static void adopt_network(struct broker *b, const struct state_network *rec, const struct links *ls)
{
	struct network *n;
	int r;

	if (network_find(b, rec->name)) {
		log_warning("[network %s] Recorded twice, ignoring the second record", rec->name);
		return;
	}
	if (!bridge_matches(find_link(ls, rec->bridge_ifindex), rec))
		return forget_network(b, rec);
	log_journal(rec);
	r = network_adopt(b, rec, &n);
	if (r < 0) {
		log_warning_errno(r, "[network %s] Failed to adopt network, leaving it as it is: %m",
				  rec->name);
		return;
	}
	adopt_leases(n, rec, ls);
	r = network_adopt_done(n, rec->dnsmasq_pid);
	if (r < 0)
		/* Guests keep forwarding on the bridge; DHCP is what may be down. */
		log_error_errno(r, "[network %s] Failed to restart its services: %m", rec->name);
}

static bool adopted_bridge(struct broker *b, int ifindex)
{
	struct network *n;

	TAILQ_FOREACH(n, &b->networks, link)
		if (n->bridge_ifindex == ifindex)
			return true;
	return false;
}

static void remove_orphan(struct broker *b, const struct link_info *li)
{
	int r;

	if (streq(li->kind, "tun")) {
		/* A named TAP: off the bridge first, in case a VM still holds it. */
		(void)netlink_port_detach(b->nl, li->ifindex);
		r = port_remove_persistent_tap(li->name);
	} else {
		r = netlink_link_del(b->nl, li->ifindex);
	}
	if (r < 0 && r != -ENODEV)
		log_warning_errno(r, "Failed to remove orphaned %s, ignoring: %m", li->name);
	else
		log_info("Removed %s '%s', left by an earlier daemon and owned by no one", li->name,
			 li->alias);
}

static void remove_orphans(struct broker *b, const struct links *ls)
{
	for (size_t i = 0; i < ls->n; i++) {
		const struct link_info *li = &ls->v[i];

		if (!strncmp(li->alias, NETWORK_ALIAS_PREFIX, strlen(NETWORK_ALIAS_PREFIX)) &&
		    streq(li->kind, "bridge") && !adopted_bridge(b, li->ifindex))
			remove_orphan(b, li);
		else if (!strncmp(li->alias, LEASE_ALIAS_PREFIX, strlen(LEASE_ALIAS_PREFIX)) &&
			 !broker_find_lease(b, li->ifindex))
			remove_orphan(b, li);
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
			if (recs[i].leases[j].id >= b->next_lease_id)
				b->next_lease_id = recs[i].leases[j].id + 1;
}

int broker_adopt(struct broker *b)
{
	struct state_network *recs = NULL;
	struct links ls = {};
	size_t n_recs = 0;
	int r;

	r = state_load_all(b->opt.state_dir, &recs, &n_recs);
	if (r < 0)
		return log_error_errno(r, "Failed to read state directory '%s': %m", b->opt.state_dir);
	continue_lease_ids(b, recs, n_recs);
	r = netlink_links(b->nl, &ls.v, &ls.n);
	if (r < 0) {
		log_error_errno(r, "Failed to list links: %m");
		goto out;
	}
	for (size_t i = 0; i < n_recs; i++)
		adopt_network(b, &recs[i], &ls);
	remove_orphans(b, &ls);
	/* Also when nothing was adopted: a stale table from a crash goes. */
	r = network_apply_firewall(b);
out:
	for (size_t i = 0; i < n_recs; i++)
		state_network_clear(&recs[i]);
	free(recs);
	free(ls.v);
	return r;
}
