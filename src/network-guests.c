/* network-guests.c - a network's guests: who is behind its ports, their addresses and names
 *
 * The other half of network.c (network-guests.h says why it is not a
 * module of its own): what broker.c hands in from the neighbour monitor
 * (the bridge's forwarding database, the neighbour table) and what the
 * network's dnsmasq writes to its lease file go into the network's guest
 * table (guest.c); once per turn of the loop, the ports whose guests
 * changed tell their waiters (wait_address) and the claims to names are
 * decided again (names.c), which dnsmasq then serves (dhcp.c) and
 * systemd-resolved asks it for (resolved.c). docs/design.md, *Guests and
 * their names*, has the whole story and what it costs.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "dhcp.h"
#include "dns-name.h"
#include "lease.h"
#include "names-probe.h"
#include "log.h"
#include "network-guests.h"
#include "network-object.h"
#include "nft.h"
#include "ra.h"
#include "resolved.h"
#include "span.h"
#include "util.h"

/* ---- what the kernel and dnsmasq say */

static void schedule_guests_sync(struct network *n);

/* @l's guests changed: tell its waiters and decide names after this turn. */
static void mark_dirty(struct network *n, struct lease *l)
{
	if (!l->dirty) {
		l->dirty = true;
		TAILQ_INSERT_TAIL(&n->dirty, l, dirty_link);
	}
	schedule_guests_sync(n);
}

static void unmark_dirty(struct network *n, struct lease *l)
{
	if (l->dirty) {
		TAILQ_REMOVE(&n->dirty, l, dirty_link);
		l->dirty = false;
	}
}

uint32_t network_port_address(const struct network *n, const struct lease *l)
{
	return guest_port_address(l);
}

static const uint64_t probe_delays_usec[] = { 3000000, 10000000, 30000000 };

static int on_probe_timer(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct network *n = userdata;
	uint8_t gw6[16];
	int r;

	n->probe_timer = sd_event_source_disable_unref(n->probe_timer);
	network_gateway6(n, gw6);
	r = n->ra ? ra_link_probe(n->ra, gw6) : 0;
	if (r < 0)
		log_debug_errno(r, "Failed to probe %s for SLAAC addresses: %m", n->bridge);
	if (n->probes_left > 0 && --n->probes_left > 0)
		(void)sd_event_add_time_relative(n->env->event, &n->probe_timer, CLOCK_MONOTONIC,
						 probe_delays_usec[ELEMENTSOF(probe_delays_usec) - n->probes_left],
						 0, on_probe_timer, n);
	return 0;
}

/*
 * A new MAC on the bridge: once its guest has had time to make its SLAAC
 * address (a router advertisement, duplicate address detection), and
 * twice more for a guest still booting, ask the link for it
 * (ra_link_probe()). One timer per network, whatever the number of MACs.
 */
static void probe_soon(struct network *n)
{
	int r;

	if (!n->ra)
		return; /* no prefix advertised: no SLAAC to learn */
	n->probes_left = ELEMENTSOF(probe_delays_usec);
	if (n->probe_timer)
		return;
	r = sd_event_add_time_relative(n->env->event, &n->probe_timer, CLOCK_MONOTONIC,
				       probe_delays_usec[0], 0, on_probe_timer, n);
	if (r < 0)
		log_debug_errno(r, "Failed to arm the SLAAC probe: %m");
}

void network_fdb_event(struct network *n, struct lease *l, const uint8_t mac[6], bool added)
{
	const struct guest *g = guest_find(&n->guests, mac);
	bool known = g && g->on_bridge;
	char m[18];
	int r;

	if (!added) {
		guest_fdb_del(&n->guests, mac, l);
		mark_dirty(n, l);
		return;
	}
	r = guest_fdb_add(&n->guests, mac, l);
	if (r == GUEST_E_PORT_FULL && !l->guests_full_logged) {
		l->guests_full_logged = true;
		log_lease_info(l, "more than %d MACs behind port %s, not following %s and later ones",
			       GUEST_PORT_MACS_MAX, l->port.ifname, mac_format(mac, m));
	} else if (r < 0) {
		log_network_warning_errno(n, r, "Failed to follow MAC %s: %m", mac_format(mac, m));
	}
	if (r == 0)
		mark_dirty(n, l);
	if (r == 0 && !known)
		probe_soon(n);
}

void network_fdb_overlay(struct network *n, const uint8_t mac[6])
{
	const struct guest *g = guest_find(&n->guests, mac);
	struct lease *l = g ? g->port : NULL;

	/* The bridge sends no news of the port it learned the MAC behind before. */
	if (!l || !g->on_bridge)
		return;
	guest_fdb_del(&n->guests, mac, l);
	mark_dirty(n, l);
}

void network_neigh_event(struct network *n, int family, const uint8_t addr[16], const uint8_t *mac)
{
	struct guest *g = mac ? guest_find(&n->guests, mac) : NULL;
	struct lease *was = NULL;
	int r;

	/* Link-local and multicast addresses reach nothing beyond the link. */
	if (family == AF_INET6 && (addr[0] == 0xff || (addr[0] == 0xfe && (addr[1] & 0xc0) == 0x80)))
		return;
	/* Most events only change an entry's state (reachable, stale): no news, nothing to do. */
	r = guest_neigh_set(&n->guests, family, addr, mac, &was);
	if (r < 0)
		log_network_warning_errno(n, r, "Failed to follow a neighbour: %m");
	if (r <= 0)
		return;
	/* Whose it was, and whose it is: both ports may show something else now. */
	if (was)
		mark_dirty(n, was);
	if (g && g->port)
		mark_dirty(n, g->port);
}

void network_forget_kernel_view(struct network *n)
{
	guest_forget_kernel(&n->guests);
	n->all_dirty = true;
	schedule_guests_sync(n);
}

void network_guests_dhcp_leases(struct dhcp_server *s, void *userdata)
{
	struct network *n = userdata;
	_cleanup_free_ struct dhcp_host *v = NULL;
	size_t count = 0;
	int r;

	r = dhcp_server_leases(s, &v, &count);
	if (r >= 0)
		r = guest_dhcp_sync(&n->guests, v, count);
	if (r < 0) {
		log_network_warning_errno(n, r, "Failed to read dnsmasq's leases: %m");
		return;
	}
	n->all_dirty = true;
	n->names_dirty = true;
	schedule_guests_sync(n);
}

/* ---- names, and who waits */

static void log_refused(const struct name_claim *c, const struct name_record *owner, void *userdata)
{
	struct network *n = userdata;
	char a[16], b[16];

	log_network_info(n, "Name '%s.%s' asked for by %s for %s refused: it is %s's since earlier",
			 c->name, n->domain,
			 c->from_host ? "a guest's DHCP host name" : "a port's label",
			 addr4_format(c->address, a, sizeof(a)),
			 owner ? addr4_format(owner->address, b, sizeof(b)) : "another guest");
}

/* The host name @g sent, as a name, or false (said once when it cannot be one). */
static bool host_claim(struct network *n, struct guest *g, struct name_claim *ret)
{
	char m[18];

	if (!g->hostname[0] || !g->dhcp_address)
		return false;
	if (!dns_label_is_valid(g->hostname)) {
		if (!g->hostname_logged)
			log_network_info(n,
					 "Host name '%s' of %s is no DNS name (1-63 of a-z, 0-9, "
					 "'-', not first or last): no name for it",
					 g->hostname, mac_format(g->mac, m));
		g->hostname_logged = true;
		return false;
	}
	*ret = (struct name_claim){
		.address = g->dhcp_address,
		.port = g->port,
		.from_host = true,
		.seq = g->dhcp_seq,
		.who = (uint64_t)g->mac[0] << 40 | (uint64_t)g->mac[1] << 32 |
		       (uint64_t)g->mac[2] << 24 | (uint64_t)g->mac[3] << 16 |
		       (uint64_t)g->mac[4] << 8 | g->mac[5],
	};
	dns_lower(g->hostname, ret->name, sizeof(ret->name));
	return true;
}

/* @l's label as a name of its guest (its reserved address until one is seen), or false. */
static bool label_claim(const struct network *n, const struct lease *l, struct name_claim *ret)
{
	uint32_t a = l->shown_address ? l->shown_address : l->host ? n->subnet.addr + l->host : 0;

	if (!a || !l->label[0] || !dns_label_is_valid(l->label))
		return false;
	*ret = (struct name_claim){
		.address = a, .port = l, .seq = l->claim_seq, .who = l->id | 1ull << 63
	};
	dns_lower(l->label, ret->name, sizeof(ret->name));
	return true;
}

/* Every claim there is: the ports' labels, the guests' host names. */
static int collect_claims(struct network *n, struct name_claim **ret, size_t *ret_n)
{
	struct name_claim *v = calloc(n->n_leases + n->guests.n + 1, sizeof(*v));
	const struct lease *l;
	struct guest *g;
	size_t i = 0;

	if (!v)
		return -ENOMEM;
	TAILQ_FOREACH(l, &n->leases, network_link)
		i += label_claim(n, l, &v[i]);
	for (size_t b = 0; b < GUEST_BUCKETS; b++)
		LIST_FOREACH(g, &n->guests.by_mac[b], hash_link)
			i += host_claim(n, g, &v[i]);
	*ret = v;
	*ret_n = i;
	return 0;
}

static int give_names(struct network *n)
{
	_cleanup_free_ struct name_claim *claims = NULL;
	_cleanup_free_ struct dhcp_name *names = NULL;
	const struct name_record *rec = NULL;
	size_t count, i = 0;
	int r;

	n->names_dirty = false;
	if (!n->domain[0])
		return 0;
	r = collect_claims(n, &claims, &count);
	if (r < 0)
		return r;
	r = names_assign(&n->names, claims, count, log_refused, n);
	/* Even when nothing changed here, a port gone may have taken names
	 * with it (names_drop_port()); dhcp.c writes only a changed file. */
	if (r < 0 || !n->dhcp)
		return r;
	names = calloc(n->names.n + 1, sizeof(*names));
	if (!names)
		return -ENOMEM;
	while ((rec = names_next(&n->names, rec))) {
		memcpy(names[i].name, rec->name, sizeof(names[i].name));
		names[i++].address = rec->address;
	}
	r = dhcp_server_set_names(n->dhcp, names, i);
	/* A span's names server reads the same file. */
	if (r > 0 && n->names_dns)
		r = dhcp_server_reload(n->names_dns);
	return r < 0 ? r : 0;
}

/* One port's news: its address for its waiters and its label's name. */
static void port_news(struct network *n, struct lease *l)
{
	uint32_t a = guest_port_address(l);

	if (a != l->shown_address) {
		l->shown_address = a;
		n->names_dirty = true;
	}
	if (a)
		lease_waiters_notify(l, a);
}

static int on_guests_sync(sd_event_source *src, void *userdata)
{
	struct network *n = userdata;
	struct lease *l;
	int r;

	n->guests_sync = sd_event_source_disable_unref(n->guests_sync);
	while ((l = TAILQ_FIRST(&n->dirty))) {
		unmark_dirty(n, l);
		port_news(n, l);
	}
	if (n->all_dirty)
		TAILQ_FOREACH(l, &n->leases, network_link)
			port_news(n, l);
	n->all_dirty = false;
	if (n->names_dirty) {
		r = give_names(n);
		if (r < 0)
			log_network_warning_errno(n, r, "Failed to update the guests' names: %m");
	}
	return 0;
}

/* Like dnsmasq's reservations: once per turn of the loop, after the replies. */
static void schedule_guests_sync(struct network *n)
{
	int r;

	if (n->guests_sync)
		return;
	r = sd_event_add_defer(n->env->event, &n->guests_sync, on_guests_sync, n);
	if (r < 0)
		(void)on_guests_sync(NULL, n); /* no memory for the event: do it now */
}

/* ---- a network's leases and lifecycle (network.c) */

void network_guests_lease_added(struct network *n, struct lease *l)
{
	l->claim_seq = ++n->guests.seq;
	if (!l->label[0] || !n->domain[0])
		return;
	if (!dns_label_is_valid(l->label)) {
		/* Most labels are free text ("run qemu-system-x86_64"): debug, not info. */
		log_debug("[network %s] uid %u pid %d label '%s': label is no DNS name (1-63 of "
			  "a-z, 0-9, '-', not first or last): the port gets no name of its own",
			  n->config.name, (unsigned)l->uid, (int)l->pid, l->label);
		return;
	}
	n->names_dirty = true;
	schedule_guests_sync(n);
}

void network_guests_lease_gone(struct network *n, struct lease *l)
{
	/* Its guests are behind no port now; whoever waited on it hears it ended. */
	guest_port_gone(&n->guests, l);
	unmark_dirty(n, l);
	lease_waiters_notify(l, 0);
	/* Its names go, or pass to others who asked for them (after this turn). */
	if (names_drop_port(&n->names, l)) {
		n->names_dirty = true;
		schedule_guests_sync(n);
	}
}

void network_guests_init(struct network *n)
{
	TAILQ_INIT(&n->dirty);
	guest_table_init(&n->guests);
	names_init(&n->names);
}

void network_guests_stop(struct network *n)
{
	n->guests_sync = sd_event_source_disable_unref(n->guests_sync);
	n->probe_timer = sd_event_source_disable_unref(n->probe_timer);
	if (n->bridge_ifindex > 0)
		resolved_link_remove(n->env->resolved, n->bridge_ifindex);
}

void network_guests_clear(struct network *n)
{
	guest_table_clear(&n->guests);
	names_clear(&n->names);
}

void network_guests_set_domain(struct network *n, const char *recorded)
{
	/* Names need a DNS server to ask. */
	if (!n->config.dns_proxy)
		return;
	if (recorded)
		snprintf(n->domain, sizeof(n->domain), "%s", recorded);
	else
		config_domain(&n->config, n->domain, sizeof(n->domain));
	if (!n->domain[0])
		log_network_warning(n,
				    "'%s.%s' is no DNS domain: its guests get no names (set "
				    "'domain' in its file)",
				    n->config.name, DNS_DEFAULT_SUFFIX);
}

void network_guests_register_domain(struct network *n)
{
	uint8_t gw6[16];

	network_gateway6(n, gw6);
	if (n->domain[0])
		resolved_link_add(n->env->resolved, n->bridge_ifindex, n->bridge, network_gateway(n),
				  n->dns_alt_port ? NFT_DNS_ALT_PORT : 0, gw6, n->domain);
}

/* ---- names across hosts (span-names.c) */

static void on_names_exit(struct dhcp_server *s, const siginfo_t *si, uint64_t restart_usec,
			  void *userdata)
{
	struct network *n = userdata;

	log_network_warning(n,
			    "The span's names server %s; the other hosts cannot ask this one's "
			    "names, restarting in %.1f s",
			    si ? "exited" : "failed to restart", (double)restart_usec / 1e6);
}

/*
 * Whether the names address is a guest's already: a port of a daemon of
 * before names across hosts, adopted, may hold it, or the dynamic range
 * that runs (recorded) may be another than the file's now.
 */
static bool names_address_taken(const struct network *n)
{
	unsigned int h = n->span->names.self - n->subnet.addr;
	struct host_map m = n->hosts;

	return address_in_range(&n->range, h) || host_map_take_exact(&m, h) != 0;
}

bool network_guests_names_up(struct network *n)
{
	char a[16];
	int r;

	if (!n->span || !n->span->names.self)
		return false;
	if (names_address_taken(n)) {
		log_network_warning(n,
				    "The span's names address %s is a guest's here; guests resolve "
				    "the names of this host's guests only until the network is made "
				    "anew",
				    addr4_format(n->span->names.self, a, sizeof(a)));
		return false;
	}
	r = span_names_up(&n->span->names, n->env->nl, n->bridge_ifindex, n->config.mtu);
	if (r < 0)
		log_network_warning_errno(n, r,
					  "Failed to make names link %s; guests resolve the names "
					  "of this host's guests only: %m",
					  n->span->names.link);
	return r >= 0;
}

/* Which other hosts' names servers answer changed: the guests' dnsmasq asks those. */
static void on_names_probe(struct names_probe *p, void *userdata)
{
	struct network *n = userdata;
	_cleanup_free_ uint32_t *alive = calloc(n->span->names.n_peers + 1, sizeof(*alive));
	size_t k;
	int r;

	if (!alive || !n->dhcp)
		return;
	k = names_probe_alive(p, alive);
	r = dhcp_server_set_name_peers(n->dhcp, alive, k);
	if (r < 0)
		log_network_warning_errno(n, r, "Failed to tell dnsmasq which hosts answer names: %m");
	else
		log_network_info(n, "%zu of %zu other hosts answer for names", k,
				 n->span->names.n_peers);
}

void network_guests_names_start(struct network *n, const struct dhcp_params *p)
{
	int r;

	r = dhcp_names_server_new(n->env->event, p, n->span->names.link, on_names_exit, n,
				  &n->names_dns);
	if (r < 0)
		log_network_warning_errno(n, r,
					  "Failed to start the span's names server; the other hosts "
					  "cannot ask this one's names: %m");
	r = names_probe_new(n->env->event, n->span->names.self, n->span->names.peers,
			    n->span->names.n_peers, n->domain, on_names_probe, n, &n->names_probe);
	if (r < 0)
		log_network_warning_errno(n, r,
					  "Failed to ask the other hosts' names servers; guests "
					  "resolve this host's names only: %m");
}
