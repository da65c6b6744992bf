/* guest.c - the guests behind a network's ports: their MACs, addresses and host names (pure)
 *
 * Theory of operation. A port is what the daemon made; a guest is
 * whatever sends from behind it: the VM with the port's MAC, or with a
 * MAC of its own, one that changed its MAC, containers or VMs inside it.
 * Three sources say who and where, each followed by events (broker.c
 * feeds them in, neighbour.c and dhcp.c watch the kernel and dnsmasq):
 *
 *   the bridge's forwarding database  which MAC is behind which port
 *   dnsmasq's lease file               which IPv4 address and host name a MAC got
 *   the host's neighbour table         which addresses a MAC uses (IPv6 SLAAC too)
 *
 * Each event is a lookup in a hash by MAC or by address and a few
 * pointer moves: O(1), however many guests the network has. The bridge
 * forgets a quiet MAC after five minutes; a guest stays known behind its
 * last port while it still has a lease or an address. A port follows at
 * most GUEST_PORT_MACS_MAX MACs, so a guest that makes up MACs by the
 * thousand costs the daemon nothing but a line in the log.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <arpa/inet.h>

#include "guest.h"
#include "lease.h"
#include "pool.h"
#include "protocol.h"
#include "util.h"

static unsigned int mac_bucket(const uint8_t mac[6])
{
	/* The low bytes differ most: the OUI is shared by whole families. */
	return ((unsigned int)mac[3] * 31u + (unsigned int)mac[4] * 7u + mac[5]) % GUEST_BUCKETS;
}

static unsigned int addr_bucket(int family, const uint8_t addr[16])
{
	size_t n = family == AF_INET ? 4 : 16;
	unsigned int h = 0;

	for (size_t i = 0; i < n; i++)
		h = h * 31u + addr[i];
	return h % GUEST_BUCKETS;
}

void guest_table_init(struct guest_table *t)
{
	memset(t, 0, sizeof(*t));
	for (size_t i = 0; i < GUEST_BUCKETS; i++) {
		LIST_INIT(&t->by_mac[i]);
		LIST_INIT(&t->by_addr[i]);
	}
}

static void addr_free(struct guest_addr *a)
{
	struct guest *g = a->guest;

	LIST_REMOVE(a, hash_link);
	TAILQ_REMOVE(&g->addrs, a, guest_link);
	g->n_addrs[a->family == AF_INET6]--;
	free(a);
}

static void unlink_port(struct guest *g)
{
	if (!g->port)
		return;
	LIST_REMOVE(g, port_link);
	g->port->n_guests--;
	g->port = NULL;
	g->on_bridge = false;
}

static void guest_free(struct guest_table *t, struct guest *g)
{
	struct guest_addr *a;

	while ((a = TAILQ_FIRST(&g->addrs)))
		addr_free(a);
	unlink_port(g);
	LIST_REMOVE(g, hash_link);
	t->n--;
	free(g);
}

/* @g goes once nothing says it is there. */
static void maybe_free(struct guest_table *t, struct guest *g)
{
	if (!g->on_bridge && !g->dhcp_address && TAILQ_EMPTY(&g->addrs))
		guest_free(t, g);
}

void guest_table_clear(struct guest_table *t)
{
	for (size_t i = 0; i < GUEST_BUCKETS; i++) {
		struct guest *g;

		while ((g = LIST_FIRST(&t->by_mac[i]))) {
			/* The leases go with the table: nothing to unlink there. */
			g->port = NULL;
			guest_free(t, g);
		}
	}
}

struct guest *guest_find(const struct guest_table *t, const uint8_t mac[6])
{
	struct guest *g;

	LIST_FOREACH(g, &t->by_mac[mac_bucket(mac)], hash_link)
		if (memcmp(g->mac, mac, 6) == 0)
			return g;
	return NULL;
}

static struct guest *guest_get(struct guest_table *t, const uint8_t mac[6])
{
	struct guest *g = guest_find(t, mac);

	if (g)
		return g;
	g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	memcpy(g->mac, mac, 6);
	TAILQ_INIT(&g->addrs);
	LIST_INSERT_HEAD(&t->by_mac[mac_bucket(mac)], g, hash_link);
	t->n++;
	return g;
}

int guest_fdb_add(struct guest_table *t, const uint8_t mac[6], struct lease *l)
{
	struct guest *g = guest_find(t, mac);

	if ((!g || g->port != l) && l->n_guests >= GUEST_PORT_MACS_MAX)
		return GUEST_E_PORT_FULL;
	if (!g && !(g = guest_get(t, mac)))
		return -ENOMEM;
	if (g->port != l) {
		unlink_port(g);
		g->port = l;
		LIST_INSERT_HEAD(&l->guests, g, port_link);
		l->n_guests++;
	}
	g->on_bridge = true;
	return 0;
}

void guest_fdb_del(struct guest_table *t, const uint8_t mac[6], struct lease *l)
{
	struct guest *g = guest_find(t, mac);

	/* A MAC that moved on: the old port's news comes after the new one's. */
	if (!g || g->port != l)
		return;
	g->on_bridge = false;
	maybe_free(t, g);
}

static struct guest_addr *addr_find(const struct guest_table *t, int family, const uint8_t addr[16])
{
	size_t n = family == AF_INET ? 4 : 16;
	struct guest_addr *a;

	LIST_FOREACH(a, &t->by_addr[addr_bucket(family, addr)], hash_link)
		if (a->family == family && memcmp(a->addr, addr, n) == 0)
			return a;
	return NULL;
}

int guest_neigh_set(struct guest_table *t, int family, const uint8_t addr[16], const uint8_t *mac,
		    struct lease **ret_was)
{
	struct guest_addr *a = addr_find(t, family, addr);
	struct guest *g = mac ? guest_find(t, mac) : NULL, *old;
	int fi = family == AF_INET6;

	*ret_was = NULL;
	if (a && a->guest == g)
		return 0; /* a state change only (reachable, stale...): no news */
	if (a) {
		old = a->guest;
		*ret_was = old->port;
		addr_free(a);
		maybe_free(t, old);
	}
	if (!g)
		return a ? 1 : 0; /* gone, or a MAC that is not behind a port of ours */
	if (g->n_addrs[fi] >= GUEST_ADDRS_MAX) {
		struct guest_addr *x;

		TAILQ_FOREACH(x, &g->addrs, guest_link)
			if (x->family == family)
				break;
		addr_free(x);
	}
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->guest = g;
	a->family = family;
	memcpy(a->addr, addr, family == AF_INET ? 4 : 16);
	LIST_INSERT_HEAD(&t->by_addr[addr_bucket(family, addr)], a, hash_link);
	TAILQ_INSERT_TAIL(&g->addrs, a, guest_link);
	g->n_addrs[fi]++;
	return 1;
}

static void mark_all(struct guest_table *t, bool on)
{
	struct guest *g;

	for (size_t i = 0; i < GUEST_BUCKETS; i++)
		LIST_FOREACH(g, &t->by_mac[i], hash_link)
			g->dhcp_mark = on;
}

/* Set @g's lease from @h; @seq: what a lease seen for the first time counts as. */
static void set_dhcp(struct guest *g, const struct dhcp_host *h, uint64_t seq)
{
	if (g->dhcp_address != h->address) {
		g->dhcp_address = h->address;
		g->dhcp_seq = seq;
		g->hostname[0] = '\0';
	}
	/* dnsmasq drops the name of an older lease when a newer one asks for
	 * it (dhcp.c): what the guest asked for stays while its lease does. */
	if (h->name[0] && !streq(h->name, g->hostname)) {
		memcpy(g->hostname, h->name, sizeof(g->hostname));
		g->hostname_logged = false;
	}
	g->dhcp_mark = false;
}

int guest_dhcp_sync(struct guest_table *t, const struct dhcp_host *v, size_t n)
{
	struct guest *g, *next;

	mark_all(t, true);
	/* Newest first in the file: the last one is the oldest, numbered first. */
	for (size_t i = n; i-- > 0;) {
		g = guest_get(t, v[i].mac);
		if (!g)
			return -ENOMEM;
		if (g->dhcp_address != v[i].address)
			t->seq++;
		set_dhcp(g, &v[i], t->seq);
	}
	for (size_t i = 0; i < GUEST_BUCKETS; i++)
		for (g = LIST_FIRST(&t->by_mac[i]); g; g = next) {
			next = LIST_NEXT(g, hash_link);
			if (!g->dhcp_mark)
				continue;
			g->dhcp_address = 0;
			g->hostname[0] = '\0';
			g->dhcp_mark = false;
			maybe_free(t, g);
		}
	return 0;
}

void guest_port_gone(struct guest_table *t, struct lease *l)
{
	struct guest *g;

	while ((g = LIST_FIRST(&l->guests))) {
		unlink_port(g);
		maybe_free(t, g);
	}
}

void guest_forget_kernel(struct guest_table *t)
{
	struct guest *g, *next;

	for (size_t i = 0; i < GUEST_BUCKETS; i++)
		for (g = LIST_FIRST(&t->by_mac[i]); g; g = next) {
			struct guest_addr *a;

			next = LIST_NEXT(g, hash_link);
			while ((a = TAILQ_FIRST(&g->addrs)))
				addr_free(a);
			g->on_bridge = false;
			maybe_free(t, g);
		}
}

static uint32_t addr4_of(const struct guest_addr *a)
{
	return (uint32_t)a->addr[0] << 24 | (uint32_t)a->addr[1] << 16 | (uint32_t)a->addr[2] << 8 |
	       a->addr[3];
}

static uint32_t first_ipv4(const struct guest *g)
{
	const struct guest_addr *a;

	TAILQ_FOREACH(a, &g->addrs, guest_link)
		if (a->family == AF_INET)
			return addr4_of(a);
	return 0;
}

uint32_t guest_port_address(const struct lease *l)
{
	const struct guest *g, *best = NULL;
	uint32_t neigh = 0;

	LIST_FOREACH(g, &l->guests, port_link) {
		uint32_t a = first_ipv4(g);

		if (g->dhcp_address && (!best || g->dhcp_seq > best->dhcp_seq))
			best = g;
		/* The port's own MAC first, else any. */
		if (a && (!neigh || memcmp(g->mac, l->mac, 6) == 0))
			neigh = a;
	}
	return best ? best->dhcp_address : neigh;
}

bool guest_has_ipv4(const struct guest *g, uint32_t a)
{
	const struct guest_addr *x;

	if (a && g->dhcp_address == a)
		return true;
	TAILQ_FOREACH(x, &g->addrs, guest_link)
		if (x->family == AF_INET && addr4_of(x) == a)
			return true;
	return false;
}

json_t *guest_to_json(const struct guest *g)
{
	json_t *o, *v4 = json_array(), *v6 = json_array();
	const struct guest_addr *a;
	char mac[18], buf[INET6_ADDRSTRLEN];

	if (g->dhcp_address)
		json_array_append_new(v4, json_string(addr4_format(g->dhcp_address, buf, sizeof(buf))));
	TAILQ_FOREACH(a, &g->addrs, guest_link) {
		if (a->family == AF_INET && addr4_of(a) == g->dhcp_address)
			continue; /* listed already */
		inet_ntop(a->family, a->addr, buf, sizeof(buf));
		json_array_append_new(a->family == AF_INET ? v4 : v6, json_string(buf));
	}
	o = json_pack("{s:s, s:b, s:o, s:o}", "mac", mac_format(g->mac, mac), "on_bridge",
		      g->on_bridge, "ipv4", v4, "ipv6", v6);
	if (o && g->hostname[0])
		json_object_set_new(o, "hostname", json_string(g->hostname));
	return o;
}
