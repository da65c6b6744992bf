/* frr-plan.c - the broker's part of FRR's BGP configuration: what is there, what to send (pure)
 *
 * The broker owns, in bgpd's running configuration only: the peer groups
 * FRR_GROUP and FRR_GROUP_CLIENTS with their members, advertise-all-vni
 * (when it put it there), and one `vni N` stanza per running EVPN span
 * (route targets and distinguishers stay FRR's automatic ones, which
 * every host derives alike: ASN:VNI). It makes `router bgp ASN` and its
 * router-id only when bgpd has none, and never touches anything else. A
 * plan is computed from what `show running-config` says, so it also
 * cleans up after a daemon that stopped without removing its part, and
 * it is the whole of what is wanted each time: after bgpd restarted, its
 * running configuration is frr.conf's alone.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frr-plan.h"
#include "pool.h"
#include "util.h"

void frr_want_clear(struct frr_want *w)
{
	free(w->peers);
	free(w->vnis);
	free(w->owned);
	*w = (struct frr_want){};
}

static void *memdup_n(const void *p, size_t n, size_t size)
{
	void *q;

	if (n == 0)
		return NULL;
	q = calloc(n, size);
	return q ? memcpy(q, p, n * size) : NULL;
}

int frr_want_copy(struct frr_want *dst, const struct frr_want *src)
{
	struct frr_want w = *src;

	w.peers = memdup_n(src->peers, src->n_peers, sizeof(*src->peers));
	w.vnis = memdup_n(src->vnis, src->n_vnis, sizeof(*src->vnis));
	w.owned = memdup_n(src->owned, src->n_owned, sizeof(*src->owned));
	if ((src->n_peers && !w.peers) || (src->n_vnis && !w.vnis) || (src->n_owned && !w.owned)) {
		frr_want_clear(&w);
		*dst = (struct frr_want){};
		return -ENOMEM;
	}
	*dst = w;
	return 0;
}

void frr_running_clear(struct frr_running *r)
{
	free(r->peers);
	free(r->vnis);
	*r = (struct frr_running){};
}

/* ---- reading `show running-config` */

static int push_vni(struct frr_running *r, uint32_t vni)
{
	uint32_t *v = realloc(r->vnis, (r->n_vnis + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	r->vnis = v;
	r->vnis[r->n_vnis++] = vni;
	return 0;
}

static int push_peer(struct frr_running *r, const char *addr, bool client)
{
	struct frr_peer *v;
	struct in_addr a;

	/* The broker's members are addresses; anything else is not its. */
	if (inet_pton(AF_INET, addr, &a) != 1)
		return 0;
	v = realloc(r->peers, (r->n_peers + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	r->peers = v;
	r->peers[r->n_peers++] = (struct frr_peer){ .address = ntohl(a.s_addr), .client = client };
	return 0;
}

/* One line inside the default VRF's `router bgp` block. */
static int parse_router_line(const char *line, bool *in_evpn, struct frr_running *r)
{
	char a[64], g[64];
	unsigned int vni;

	if (streq(line, " address-family l2vpn evpn")) {
		*in_evpn = true;
		return 0;
	}
	if (streq(line, " exit-address-family")) {
		*in_evpn = false;
		return 0;
	}
	if (*in_evpn) {
		if (streq(line, "  advertise-all-vni"))
			r->advertise_all_vni = true;
		else if (sscanf(line, "  vni %u", &vni) == 1)
			return push_vni(r, vni);
		return 0;
	}
	if (strncmp(line, " bgp router-id ", 15) == 0)
		r->router_id = true;
	else if (streq(line, " neighbor " FRR_GROUP " peer-group"))
		r->group = true;
	else if (streq(line, " neighbor " FRR_GROUP_CLIENTS " peer-group"))
		r->group_clients = true;
	else if (sscanf(line, " neighbor %63s peer-group %63s", a, g) == 2 &&
		 (streq(g, FRR_GROUP) || streq(g, FRR_GROUP_CLIENTS)))
		return push_peer(r, a, streq(g, FRR_GROUP_CLIENTS));
	return 0;
}

int frr_running_parse(const char *text, struct frr_running *ret)
{
	_cleanup_free_ char *copy = strdup(text);
	struct frr_running r = {};
	bool in_router = false, in_evpn = false;
	char *save = NULL;

	if (!copy)
		return -ENOMEM;
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned int asn;
		char rest[8];

		line[strcspn(line, "\r")] = '\0';
		/* "router bgp N" of the default VRF; "router bgp N vrf X" is not ours. */
		if (sscanf(line, "router bgp %u%7s", &asn, rest) == 1) {
			in_router = true;
			r.asn = asn;
			continue;
		}
		if (line[0] != ' ') {
			in_router = in_evpn = false;
			continue;
		}
		if (in_router && parse_router_line(line, &in_evpn, &r) < 0) {
			frr_running_clear(&r);
			return -ENOMEM;
		}
	}
	*ret = r;
	return 0;
}

/* ---- the plan */

struct plan {
	char **v;
	size_t n;
	int oom;
};

_printf_(2, 3) static void add(struct plan *p, const char *fmt, ...)
{
	char **v, *s;
	va_list ap;
	int r;

	if (p->oom)
		return;
	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	v = r < 0 ? NULL : realloc(p->v, (p->n + 1) * sizeof(*v));
	if (!v) {
		if (r >= 0)
			free(s);
		p->oom = -ENOMEM;
		return;
	}
	p->v = v;
	p->v[p->n++] = s;
}

void frr_commands_free(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

static bool has_vni(const uint32_t *v, size_t n, uint32_t vni)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == vni)
			return true;
	return false;
}

static const struct frr_peer *find_peer(const struct frr_peer *v, size_t n, uint32_t a)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].address == a)
			return &v[i];
	return NULL;
}

static bool any_client(const struct frr_want *w)
{
	for (size_t i = 0; i < w->n_peers; i++)
		if (w->peers[i].client)
			return true;
	return false;
}

/* The members that must go: not wanted, or wanted in the other group. */
static void remove_stale_peers(struct plan *p, const struct frr_running *run,
			       const struct frr_want *want)
{
	char a[16];

	for (size_t i = 0; i < run->n_peers; i++) {
		const struct frr_peer *w = find_peer(want->peers, want->n_peers, run->peers[i].address);

		if (!w || w->client != run->peers[i].client)
			add(p, "no neighbor %s", addr4_format(run->peers[i].address, a, sizeof(a)));
	}
}

/* The evpn address family's stale stanzas, and with @last advertise-all-vni (if ours). */
static void remove_stale_vnis(struct plan *p, const struct frr_running *run,
			      const struct frr_want *want, bool last)
{
	for (size_t i = 0; i < run->n_vnis; i++)
		if (has_vni(want->owned, want->n_owned, run->vnis[i]) &&
		    !has_vni(want->vnis, want->n_vnis, run->vnis[i]))
			add(p, "no vni %u", run->vnis[i]);
	if (last && run->advertise_all_vni && want->advertise_ours)
		add(p, "no advertise-all-vni");
}

static void group(struct plan *p, const char *name, uint32_t local)
{
	char a[16];

	add(p, "neighbor %s peer-group", name);
	add(p, "neighbor %s remote-as internal", name);
	add(p, "neighbor %s update-source %s", name, addr4_format(local, a, sizeof(a)));
	add(p, "neighbor %s timers %d %d", name, FRR_KEEPALIVE, 3 * FRR_KEEPALIVE);
	add(p, "neighbor %s timers connect %d", name, FRR_CONNECT_RETRY);
}

/* The broker's whole part, for at least one running span. */
static void plan_up(struct plan *p, const struct frr_running *run, const struct frr_want *want)
{
	bool clients = any_client(want);
	char a[16];

	add(p, "router bgp %u", want->asn);
	if (!run->router_id)
		/* Otherwise bgpd picks the highest address of the host, which may be
		 * a span's gateway: the same on every host, and iBGP refuses a peer
		 * with its own router-id. */
		add(p, "bgp router-id %s", addr4_format(want->local, a, sizeof(a)));
	remove_stale_peers(p, run, want);
	group(p, FRR_GROUP, want->local);
	if (clients)
		group(p, FRR_GROUP_CLIENTS, want->local);
	else if (run->group_clients)
		add(p, "no neighbor %s peer-group", FRR_GROUP_CLIENTS);
	for (size_t i = 0; i < want->n_peers; i++)
		add(p, "neighbor %s peer-group %s", addr4_format(want->peers[i].address, a, sizeof(a)),
		    want->peers[i].client ? FRR_GROUP_CLIENTS : FRR_GROUP);
	/* Only EVPN: traditional defaults would open IPv4 unicast to them too. */
	add(p, "address-family ipv4 unicast");
	add(p, "no neighbor %s activate", FRR_GROUP);
	if (clients)
		add(p, "no neighbor %s activate", FRR_GROUP_CLIENTS);
	add(p, "exit-address-family");
	add(p, "address-family l2vpn evpn");
	add(p, "neighbor %s activate", FRR_GROUP);
	if (clients) {
		add(p, "neighbor %s activate", FRR_GROUP_CLIENTS);
		add(p, "neighbor %s route-reflector-client", FRR_GROUP_CLIENTS);
	}
	/* zebra reports every VXLAN device's VNI to bgpd only with this. */
	add(p, "advertise-all-vni");
	for (size_t i = 0; i < want->n_vnis; i++) {
		add(p, "vni %u", want->vnis[i]);
		add(p, "exit-vni");
	}
	remove_stale_vnis(p, run, want, false);
	add(p, "exit-address-family");
}

static bool any_stale_vni(const struct frr_running *run, const struct frr_want *want, bool last)
{
	for (size_t i = 0; i < run->n_vnis; i++)
		if (has_vni(want->owned, want->n_owned, run->vnis[i]) &&
		    !has_vni(want->vnis, want->n_vnis, run->vnis[i]))
			return true;
	return last && run->advertise_all_vni && want->advertise_ours;
}

/* Whether anything of the broker's is there at all. */
static bool any_ours(const struct frr_running *run, const struct frr_want *want)
{
	return run->n_peers || run->group || run->group_clients || any_stale_vni(run, want, true);
}

/* No span left: take away what is the broker's. */
static void plan_down(struct plan *p, const struct frr_running *run, const struct frr_want *want)
{
	add(p, "router bgp %u", run->asn);
	if (any_stale_vni(run, want, true)) {
		add(p, "address-family l2vpn evpn");
		remove_stale_vnis(p, run, want, true);
		add(p, "exit-address-family");
	}
	remove_stale_peers(p, run, want);
	if (run->group)
		add(p, "no neighbor %s peer-group", FRR_GROUP);
	if (run->group_clients)
		add(p, "no neighbor %s peer-group", FRR_GROUP_CLIENTS);
}

int frr_plan(const struct frr_running *run, const struct frr_want *want, char ***ret, size_t *ret_n)
{
	struct plan p = {};

	*ret = NULL;
	*ret_n = 0;
	if (want->n_vnis && run->asn && run->asn != want->asn)
		return FRR_E_ASN;
	if (!want->n_vnis && (!run->asn || !any_ours(run, want)))
		return 0;
	add(&p, "configure terminal");
	if (want->n_vnis)
		plan_up(&p, run, want);
	else
		plan_down(&p, run, want);
	add(&p, "end");
	if (p.oom) {
		frr_commands_free(p.v, p.n);
		return p.oom;
	}
	*ret = p.v;
	*ret_n = p.n;
	return 0;
}
