/* nft.c - the broker's one nftables table (libnftables)
 *
 * The table is regenerated from the broker's state on most changes, not
 * patched rule by rule: the batch is atomic, and after a crash the next
 * daemon rewrites exactly what it owns. The one exception is the common
 * and latency-bound one, a new network, which only adds its own chains
 * and elements (see put_base()); a removal rewrites.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <nftables/libnftables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nft.h"
#include "util.h"

struct nft {
	struct nft_ctx *ctx;
	bool populated; /* the last nft_apply() made the table, with networks */
	bool bridged;   /* table bridge vmnet_broker may exist: the next nft_apply() clears it */
};

int nft_new(struct nft **ret)
{
	struct nft *n = calloc(1, sizeof(*n));

	if (!n)
		return -ENOMEM;
	n->ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	if (!n->ctx) {
		free(n);
		return -ENOMEM;
	}
	nft_ctx_buffer_output(n->ctx);
	nft_ctx_buffer_error(n->ctx);
	/* An earlier daemon's spans may have left one. */
	n->bridged = true;
	*ret = n;
	return 0;
}

struct nft *nft_free(struct nft *n)
{
	if (!n)
		return NULL;
	nft_ctx_free(n->ctx);
	free(n);
	return NULL;
}

static void put_ula(FILE *f, const struct nft_network *n)
{
	char buf[INET6_ADDRSTRLEN];

	fprintf(f, "%s/%u", inet_ntop(AF_INET6, n->ula, buf, sizeof(buf)),
		n->ula_len ? n->ula_len : 64);
}

static uint32_t gateway_of(const struct nft_network *n)
{
	return n->gateway ? n->gateway : (n->subnet.addr & prefix4_mask(n->subnet.len)) + 1;
}

static bool has_ext(const struct nft_network *n)
{
	return n->external_interface && n->external_interface[0];
}

/* "iifname "eth0" " when traffic may come in only there; else nothing. */
static void put_iif_ext(FILE *f, const struct nft_network *n)
{
	if (has_ext(n))
		fprintf(f, "iifname \"%s\" ", n->external_interface);
}

static bool any_forwards(const struct nft_network *nets, size_t count)
{
	for (size_t i = 0; i < count; i++)
		if (nets[i].nat && nets[i].n_forwards)
			return true;
	return false;
}

/*
 * A DNS server of the host listening on the wildcard address takes port
 * 53 of every address for TCP, the gateway's too, so such a network's
 * dnsmasq listens on NFT_DNS_ALT_PORT instead (network.c), and what its
 * guests send to their gateway's port 53 is redirected there (dns_alt4,
 * dns_alt6: those gateways), only from its own bridge (fib daddr . iif:
 * redirect goes to the incoming interface's address). Only its own
 * network may use it, as for port 53 (dns_input: input's rule, which
 * sees only 53).
 */
static void put_dns_base(FILE *f)
{
	const char *only = "iifname != \"lo\" fib daddr . iif type != local drop comment \"DNS "
			   "only from its own network\"";
	const char *why = "comment \"DNS of a network whose dnsmasq cannot have port 53\"";

	fprintf(f, "  set dns_alt4 { type ipv4_addr; }\n"
		   "  set dns_alt6 { type ipv6_addr; }\n");
	fprintf(f, "  chain dns {\n"
		   "    type nat hook prerouting priority dstnat; policy accept;\n");
	fprintf(f,
		"    iifname @bridges ip daddr @dns_alt4 meta l4proto { tcp, udp } th dport 53 "
		"fib daddr . iif type local redirect to :%u %s\n",
		NFT_DNS_ALT_PORT, why);
	fprintf(f,
		"    iifname @bridges ip6 daddr @dns_alt6 meta l4proto { tcp, udp } th dport 53 "
		"fib daddr . iif type local redirect to :%u %s\n",
		NFT_DNS_ALT_PORT, why);
	fprintf(f, "  }\n"
		   "  chain dns_input {\n"
		   "    type filter hook input priority filter; policy accept;\n");
	fprintf(f, "    ip daddr @dns_alt4 meta l4proto { tcp, udp } th dport %u %s\n",
		NFT_DNS_ALT_PORT, only);
	fprintf(f, "    ip6 daddr @dns_alt6 meta l4proto { tcp, udp } th dport %u %s\n",
		NFT_DNS_ALT_PORT, only);
	fprintf(f, "  }\n");
}

/*
 * The table's shape. Base chains look a packet's bridge up in a set or a
 * verdict map (one hash lookup, whatever the number of networks) and jump
 * to that network's own chains; a network is its chains plus its
 * elements. So a new network is added as one small batch without
 * touching the others (nft_add_network(): creating the 200th network
 * costs what creating the first does), and the rules a packet passes do
 * not grow with the networks either.
 *
 * Guest to guest on one network is bridged, but with br_netfilter loaded
 * (Docker loads it) every such frame also passes the IP hooks, and
 * conntrack would track each connection: the largest per-packet cost of
 * ours on that path (docs/performance.md, 4). The sysctl that turns
 * br_netfilter off is per namespace, and a bridge's own nf_call_iptables
 * can only turn it on, so untrack what needs no tracking instead, before
 * conntrack sees it (priority raw < conntrack): from the bridge (raw_guest,
 * by index: one compare, not a name copy) to an address of the network
 * that is not the gateway's or the broadcast address, i.e. to a guest. No
 * rule of ours needs its state: the forward chain accepts bridge to same
 * bridge first, and NAT only rewrites what leaves the subnet. What goes to
 * the host and everything routed stay tracked.
 *
 * input: VXLAN only from the hosts of a span that uses that port. The
 * kernel has one VXLAN socket per port and takes packets from anyone,
 * and a packet from elsewhere would land on a guest's segment. VXLAN in
 * and out is not tracked (raw, raw_out): our NAT makes conntrack follow
 * every packet of the namespace, and no rule needs the tunnel's state.
 *
 * Also in input: a network's DNS server answers its own network only. dnsmasq
 * binds to the gateway's addresses (--bind-interfaces), and the host
 * accepts a packet for any of its addresses on any interface, so without
 * this a guest of one network could ask another network's dnsmasq (a
 * host-only guest resolving names through a shared network's upstream),
 * and anything routed to the host could use it as an open resolver. The
 * host itself may ask (it arrives on lo). Nothing else in input is ours:
 * guests reach the host through their gateway, which is what host-only
 * means.
 */
static void put_base(FILE *f, bool forwards)
{
	fprintf(f,
		"  set bridges { type ifname; }\n"
		"  set nat_bridges { type ifname; }\n"
		"  set same_bridge { type iface_index . iface_index; }\n"
		"  map raw_guest { type iface_index : verdict; }\n"
		"  map net_by_name { type ifname : verdict; }\n"
		"  map masq4 { type ipv4_addr : verdict; flags interval; }\n"
		"  map masq6 { type ipv6_addr : verdict; flags interval; }\n"
		"  set gateways4 { type ipv4_addr; }\n"
		"  set gateways6 { type ipv6_addr; }\n"
		"  set span_ports { type inet_service; }\n"
		"  set span_peers { type ipv4_addr . inet_service; }\n"
		"  set names_links { type ifname; }\n"
		"  set names_from { type ifname . ipv4_addr . ipv4_addr; }\n"
		"  chain input {\n"
		"    type filter hook input priority filter; policy accept;\n"
		"    iifname @names_links ct state established,related accept\n"
		"    iifname . ip saddr . ip daddr @names_from meta l4proto { tcp, udp } "
		"th dport { 53, %u } "
		"accept\n"
		"    iifname @names_links counter drop comment \"a names link takes the other "
		"hosts' questions only\"\n"
		"    udp dport @span_ports ip saddr . udp dport != @span_peers counter drop "
		"comment \"VXLAN only from a span's hosts\"\n"
		"    ip daddr @gateways4 meta l4proto { tcp, udp } th dport 53 iifname != \"lo\" "
		"fib daddr . iif type != local drop comment \"DNS only from its own network\"\n"
		"    ip6 daddr @gateways6 meta l4proto { tcp, udp } th dport 53 iifname != \"lo\" "
		"fib daddr . iif type != local drop comment \"DNS only from its own network\"\n"
		"  }\n"
		"  chain raw {\n"
		"    type filter hook prerouting priority raw; policy accept;\n"
		"    ip saddr 127.0.0.0/8 iifname @bridges drop comment \"localhost is the host's\"\n"
		"    ip daddr 127.0.0.0/8 iifname @bridges drop comment \"localhost is the host's\"\n"
		"    udp dport @span_ports notrack comment \"VXLAN needs no conntrack\"\n"
		"    iif vmap @raw_guest\n"
		"  }\n"
		"  chain raw_out {\n"
		"    type filter hook output priority raw; policy accept;\n"
		"    udp dport @span_ports notrack comment \"VXLAN needs no conntrack\"\n"
		"  }\n",
		NFT_DNS_ALT_PORT);
	/*
	 * Guest to guest on one network is bridged and never reaches this
	 * hook, unless br_netfilter is loaded: then it does, with the bridge
	 * as both input and output. Let it through first. Past the isolation
	 * rule a packet has at most one bridge, in or out, whose own rules
	 * (routed, external interface) are jumped to by name.
	 */
	fprintf(f, "  chain forward {\n"
		   "    type filter hook forward priority filter; policy accept;\n"
		   "    iif . oif @same_bridge accept\n"
		   "    oifname @nat_bridges ct state established,related accept\n"
		   "    iifname @bridges oifname @bridges drop comment \"networks are isolated\"\n");
	if (forwards)
		fprintf(f, "    oifname @nat_bridges ct status dnat accept comment \"port forwards\"\n");
	fprintf(f, "    iifname vmap @net_by_name\n"
		   "    oifname vmap @net_by_name\n"
		   "    iifname @nat_bridges accept\n"
		   "    iifname @bridges drop comment \"host-only: no way out\"\n"
		   "    oifname @bridges drop comment \"nothing unasked comes in\"\n"
		   "  }\n"
		   "  chain postrouting {\n"
		   "    type nat hook postrouting priority srcnat; policy accept;\n");
	if (forwards)
		fprintf(f, "    ip saddr 127.0.0.0/8 oifname @nat_bridges masquerade "
			   "comment \"port forwards from localhost\"\n");
	fprintf(f, "    ip saddr vmap @masq4\n"
		   "    ip6 saddr vmap @masq6\n"
		   "  }\n");
	put_dns_base(f);
}

/*
 * The prefix is written "& mask == net": for a /24, "ip daddr N/24" loads
 * 3 bytes, which the kernel cannot evaluate inline; a masked 4-byte load
 * it can.
 */
static void put_raw_chain_of(FILE *f, const struct nft_network *n)
{
	uint32_t mask = prefix4_mask(n->subnet.len), net = n->subnet.addr & mask;
	uint32_t gw = gateway_of(n);
	char m[16], a[16], g[16], b[16], g6[INET6_ADDRSTRLEN];

	fprintf(f, "  chain raw_%s {\n", n->bridge);
	fprintf(f,
		"    ip daddr & %s == %s ip daddr != %s ip daddr != %s "
		"notrack comment \"guest to guest\"\n",
		addr4_format(mask, m, sizeof(m)), addr4_format(net, a, sizeof(a)),
		addr4_format(gw, g, sizeof(g)), addr4_format(net | ~mask, b, sizeof(b)));
	if (n->ula) {
		fprintf(f, "    ip6 daddr ");
		put_ula(f, n);
		fprintf(f, " ip6 daddr != %s notrack comment \"guest to guest\"\n",
			inet_ntop(AF_INET6, n->gateway6, g6, sizeof(g6)));
	}
	fprintf(f, "  }\n");
}

static bool has_forward_rules(const struct nft_network *n)
{
	return n->nat && (n->routed4 || (n->routed6 && n->ula) || has_ext(n));
}

static void put_forward_chain_of(FILE *f, const struct nft_network *n)
{
	char p[32];

	fprintf(f, "  chain fwd_%s {\n", n->bridge);
	/* A routed network is reachable from outside, like any routed subnet. */
	if (n->routed4) {
		fprintf(f, "    ");
		put_iif_ext(f, n);
		fprintf(f, "oifname \"%s\" ip daddr %s accept comment \"routed\"\n", n->bridge,
			prefix4_format(&n->subnet, p, sizeof(p)));
	}
	if (n->routed6 && n->ula) {
		fprintf(f, "    ");
		put_iif_ext(f, n);
		fprintf(f, "oifname \"%s\" ip6 daddr ", n->bridge);
		put_ula(f, n);
		fprintf(f, " accept comment \"routed\"\n");
	}
	if (has_ext(n))
		fprintf(f, "    iifname \"%s\" oifname != \"%s\" drop comment \"out only through %s\"\n",
			n->bridge, n->external_interface, n->external_interface);
	fprintf(f, "  }\n");
}

static bool masquerades4(const struct nft_network *n)
{
	return n->nat && !n->routed4;
}

static bool masquerades6(const struct nft_network *n)
{
	return n->nat && n->ula && !n->routed6;
}

/* Reached from postrouting by the source address: the network's guests. */
static void put_postrouting_chain_of(FILE *f, const struct nft_network *n)
{
	char p[32], oif[IFNAMSIZ + 16];

	if (has_ext(n))
		snprintf(oif, sizeof(oif), "\"%s\"", n->external_interface);
	else
		snprintf(oif, sizeof(oif), "!= @bridges");
	fprintf(f, "  chain post_%s {\n", n->bridge);
	if (masquerades4(n))
		fprintf(f, "    ip daddr != %s oifname %s masquerade\n",
			prefix4_format(&n->subnet, p, sizeof(p)), oif);
	if (masquerades6(n)) {
		fprintf(f, "    ip6 daddr != ");
		put_ula(f, n);
		fprintf(f, " oifname %s masquerade\n", oif);
	}
	fprintf(f, "  }\n");
}

/* A network's chains, inside a "table inet vmnet_broker { }" block. */
static void put_chains_of(FILE *f, const struct nft_network *n)
{
	put_raw_chain_of(f, n);
	if (has_forward_rules(n))
		put_forward_chain_of(f, n);
	if (masquerades4(n) || masquerades6(n))
		put_postrouting_chain_of(f, n);
}

/*
 * A span's names link (span-names.c) is one more interface of the
 * network: in bridges, so nothing is forwarded from or to it, and its
 * address in gateways4 (and dns_alt4), so its DNS server answers there
 * only, as the gateway's does. And unlike a bridge, input takes from it
 * only the other hosts' questions (names_from: the link, the others'
 * names addresses, its own) and the answers to this host's own: the link is where
 * the overlay reaches the host's stack, and other hosts' guests must not.
 */
static void put_names_elements(FILE *f, const char *t, const struct nft_network *n)
{
	const struct nft_span *sp = n->span;
	char a[16];

	addr4_format(sp->names_address, a, sizeof(a));
	fprintf(f, "%s bridges { \"%s\" }\n", t, sp->names_link);
	fprintf(f, "%s gateways4 { %s }\n", t, a);
	if (n->dns_alt_port)
		fprintf(f, "%s dns_alt4 { %s }\n", t, a);
	fprintf(f, "%s names_links { \"%s\" }\n", t, sp->names_link);
	for (size_t i = 0; i < sp->n_names_peers; i++) {
		char peer[16];

		fprintf(f, "%s names_from { \"%s\" . %s . %s }\n", t, sp->names_link,
			addr4_format(sp->names_peers[i], peer, sizeof(peer)), a);
	}
}

/* A network's elements, which make the base chains reach its chains. */
static void put_elements_of(FILE *f, const struct nft_network *n)
{
	const char *t = "add element inet " NFT_TABLE;
	const char *br = n->bridge;
	char p[32], g[16], g6[INET6_ADDRSTRLEN];

	fprintf(f, "%s bridges { \"%s\" }\n", t, br);
	if (n->nat)
		fprintf(f, "%s nat_bridges { \"%s\" }\n", t, br);
	fprintf(f, "%s same_bridge { %d . %d }\n", t, n->ifindex, n->ifindex);
	fprintf(f, "%s gateways4 { %s }\n", t, addr4_format(gateway_of(n), g, sizeof(g)));
	if (n->ula)
		fprintf(f, "%s gateways6 { %s }\n", t,
			inet_ntop(AF_INET6, n->gateway6, g6, sizeof(g6)));
	fprintf(f, "%s raw_guest { %d : jump raw_%s }\n", t, n->ifindex, br);
	if (n->dns_alt_port) {
		fprintf(f, "%s dns_alt4 { %s }\n", t, addr4_format(gateway_of(n), g, sizeof(g)));
		if (n->ula)
			fprintf(f, "%s dns_alt6 { %s }\n", t,
				inet_ntop(AF_INET6, n->gateway6, g6, sizeof(g6)));
	}
	if (has_forward_rules(n))
		fprintf(f, "%s net_by_name { \"%s\" : jump fwd_%s }\n", t, br, br);
	if (masquerades4(n))
		fprintf(f, "%s masq4 { %s : jump post_%s }\n", t,
			prefix4_format(&n->subnet, p, sizeof(p)), br);
	if (masquerades6(n)) {
		fprintf(f, "%s masq6 { ", t);
		put_ula(f, n);
		fprintf(f, " : jump post_%s }\n", br);
	}
	if (n->span && n->span->names_link)
		put_names_elements(f, t, n);
	if (n->span) {
		fprintf(f, "%s span_ports { %u }\n", t, n->span->port);
		for (size_t i = 0; i < n->span->n_peers; i++)
			fprintf(f, "%s span_peers { %s . %u }\n", t,
				addr4_format(n->span->peers[i], p, sizeof(p)), n->span->port);
	}
}

/* "tcp dport 2222 dnat ip to 192.168.42.10:22" for @family 4 or 6 (the IPv6 twin). */
static void put_dnat(FILE *f, const struct port_forward *fw, int family)
{
	const char *proto = forward_protocol_to_string(fw->protocol);
	char a[INET6_ADDRSTRLEN];

	if (family == 4)
		fprintf(f, "%s dport %u dnat ip to %s:%u\n", proto, fw->external_port,
			addr4_format(fw->internal_address, a, sizeof(a)), fw->internal_port);
	else
		fprintf(f, "%s dport %u dnat ip6 to [%s]:%u\n", proto, fw->external_port,
			inet_ntop(AF_INET6, fw->internal_address6, a, sizeof(a)), fw->internal_port);
}

/*
 * The forwards of @n in one of the two nat chains: prerouting, what
 * comes from outside the broker's networks (or through the external
 * interface), or output, what the host itself sends. Each IPv4 forward,
 * and its IPv6 twin where the guest's address is known.
 */
static void put_forwards_of(FILE *f, const struct nft_network *n, bool output)
{
	for (size_t j = 0; n->nat && j < n->n_forwards; j++) {
		const struct port_forward *fw = &n->forwards[j];

		for (int family = 4; family <= 6; family += 2) {
			if (family == 6 && !fw->has_address6)
				continue;
			fprintf(f, "    ");
			if (output && family == 6)
				/* Never routed off the host (no route_localnet for IPv6):
				 * a connection to [::1] stays the host's own. */
				fprintf(f, "ip6 daddr != ::1 ");
			else if (!output && has_ext(n))
				put_iif_ext(f, n);
			else if (!output)
				fprintf(f, "iifname != @bridges ");
			fprintf(f, "meta nfproto ipv%d fib daddr type local ", family);
			put_dnat(f, fw, family);
		}
	}
}

/*
 * Port forwards: a host port on one of the host's own addresses (fib
 * daddr type local) goes to the guest, over IPv4 and IPv6, whether the
 * connection comes from outside the broker's networks (prerouting) or
 * from the host itself (output), as QEMU's hostfwd does, localhost
 * included: 127.0.0.1 is routed to the bridge because its
 * route_localnet is on (bridge.c), and masqueraded to the gateway's
 * address on the way (postrouting), so that the guest's answer comes
 * back. Guests reach each other directly, and hairpinning through the
 * host would need a masquerade that hides who is talking. Forwards
 * change with leases, rarely: they are rewritten with the whole table.
 */
static void put_forward_chains(FILE *f, const struct nft_network *nets, size_t count)
{
	if (!any_forwards(nets, count))
		return;
	fprintf(f, "  chain prerouting {\n"
		   "    type nat hook prerouting priority dstnat; policy accept;\n");
	for (size_t i = 0; i < count; i++)
		put_forwards_of(f, &nets[i], false);
	fprintf(f, "  }\n"
		   "  chain output {\n"
		   "    type nat hook output priority -100; policy accept;\n");
	for (size_t i = 0; i < count; i++)
		put_forwards_of(f, &nets[i], true);
	fprintf(f, "  }\n");
}

/* ---- table bridge vmnet_broker: the overlay ports of networks that span hosts */

static bool any_span(const struct nft_network *nets, size_t count)
{
	for (size_t i = 0; i < count; i++)
		if (nets[i].span)
			return true;
	return false;
}

/* An IPv6 address as nft's 128-bit integer, for a raw payload match. */
static void put_hex128(FILE *f, const uint8_t a[16])
{
	fprintf(f, "0x");
	for (int i = 0; i < 16; i++)
		fprintf(f, "%02x", a[i]);
}

/*
 * What must not cross the overlay, either way. The gateway is the same
 * address and MAC on every host (a distributed gateway): each host answers
 * its own guests, so ARP and neighbour solicitations for it, router
 * solicitations and advertisements, DHCP, and any frame the gateway sent
 * stay on their host. Otherwise every host answers every guest (three
 * ARP replies per request on three hosts), and the fastest host's dnsmasq
 * hands out the addresses of its own slice to another host's guests.
 * The same rules apply to what arrives, for a peer that has no filter.
 * nft 1.0.6 has no "icmpv6 taddr": the solicitation's target is the
 * 128 bits after the ICMPv6 header's first 8 bytes (@th,64,128); raw
 * payloads compare with integers, not with ipv6_addr sets.
 */
static void put_overlay_chain_of(FILE *f, const struct nft_network *n)
{
	const struct nft_span *s = n->span;
	char gw[16], mac[18];

	fprintf(f, "  chain overlay_%s {\n", s->vxlan);
	fprintf(f,
		"    ether saddr %s counter drop comment \"the gateway's frames stay on "
		"its host\"\n",
		mac_format(s->gateway_mac, mac));
	fprintf(f,
		"    arp operation request arp daddr ip %s counter drop comment \"each host "
		"answers for the gateway\"\n",
		addr4_format(gateway_of(n), gw, sizeof(gw)));
	fprintf(f, "    icmpv6 type nd-neighbor-solicit @th,64,128 { ");
	put_hex128(f, n->gateway6);
	fprintf(f, ", ");
	put_hex128(f, s->link_local);
	fprintf(f, " } counter drop comment \"each host answers for the gateway\"\n");
	fprintf(f, "    icmpv6 type { nd-router-solicit, nd-router-advert } counter drop "
		   "comment \"each host advertises to its own guests\"\n"
		   "    udp dport { 67, 68, 546, 547 } counter drop comment \"each host's DHCP "
		   "serves its own guests\"\n"
		   "  }\n");
}

/*
 * forward runs once per port a frame leaves by, flooded ones too, so
 * oifname sees the overlay port; input sees what arrives from it for
 * the host. output is every frame the host sends through a bridge: all
 * of them carry the gateway's MAC (its replies, its advertisements,
 * dnsmasq's answers), and none is for another host's guests.
 */
static void put_bridge_table(FILE *f, const struct nft_network *nets, size_t count)
{
	const char *t = "add element bridge " NFT_TABLE;

	fprintf(f, "table bridge " NFT_TABLE " {\n"
		   "  map overlays { type ifname : verdict; }\n"
		   "  set overlay_ports { type ifname; }\n"
		   "  chain forward {\n"
		   "    type filter hook forward priority filter; policy accept;\n"
		   "    oifname vmap @overlays\n"
		   "    iifname vmap @overlays\n"
		   "  }\n"
		   "  chain input {\n"
		   "    type filter hook input priority filter; policy accept;\n"
		   "    iifname vmap @overlays\n"
		   "  }\n"
		   "  chain output {\n"
		   "    type filter hook output priority filter; policy accept;\n"
		   "    oifname @overlay_ports counter drop comment \"the host's own frames stay "
		   "on this host\"\n"
		   "  }\n");
	for (size_t i = 0; i < count; i++)
		if (nets[i].span)
			put_overlay_chain_of(f, &nets[i]);
	fprintf(f, "}\n");
	for (size_t i = 0; i < count; i++) {
		const char *vx = nets[i].span ? nets[i].span->vxlan : NULL;

		if (vx)
			fprintf(f, "%s overlays { \"%s\" : jump overlay_%s }\n%s overlay_ports { \"%s\" }\n",
				t, vx, vx, t, vx);
	}
}

/* @bridge: write table bridge vmnet_broker too (whole only): its networks', or none. */
static char *render(const struct nft_network *nets, size_t count, bool whole, bool bridge)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	if (!f)
		return NULL;
	if (whole) /* "add" first so "delete" never fails on a missing table. */
		fprintf(f, "add table inet " NFT_TABLE "\ndelete table inet " NFT_TABLE "\n");
	if (count > 0) {
		fprintf(f, "table inet " NFT_TABLE " {\n");
		if (whole) {
			put_base(f, any_forwards(nets, count));
			put_forward_chains(f, nets, count);
		}
		for (size_t i = 0; i < count; i++)
			put_chains_of(f, &nets[i]);
		fprintf(f, "}\n");
		for (size_t i = 0; i < count; i++)
			put_elements_of(f, &nets[i]);
	}
	if (whole && bridge) {
		fprintf(f, "add table bridge " NFT_TABLE "\ndelete table bridge " NFT_TABLE "\n");
		if (any_span(nets, count))
			put_bridge_table(f, nets, count);
	}
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

char *nft_render(const struct nft_network *nets, size_t count)
{
	return render(nets, count, true, any_span(nets, count));
}

static int run(struct nft *n, const char *cmd, char **ret_error)
{
	const char *err;

	*ret_error = NULL;
	if (!cmd)
		return -ENOMEM;
	if (nft_run_cmd_from_buffer(n->ctx, cmd) == 0)
		return 0;
	err = nft_ctx_get_error_buffer(n->ctx);
	*ret_error = strdup(err && *err ? err : "nft failed without a message");
	return -EIO;
}

int nft_apply(struct nft *n, const struct nft_network *nets, size_t count, char **ret_error)
{
	bool spans = any_span(nets, count);
	_cleanup_free_ char *cmd = render(nets, count, true, spans || n->bridged);
	int r = run(n, cmd, ret_error);

	n->populated = r >= 0 && count > 0;
	/* A failed batch changed nothing: what was there is still there. */
	n->bridged = r >= 0 ? spans : n->bridged || spans;
	return r;
}

int nft_add_network(struct nft *n, const struct nft_network *net, char **ret_error)
{
	_cleanup_free_ char *cmd = NULL;

	*ret_error = NULL;
	if (!n->populated || net->n_forwards > 0 || net->span || net->ifindex <= 0)
		return -EAGAIN;
	cmd = render(net, 1, false, false);
	return run(n, cmd, ret_error);
}
