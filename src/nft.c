/* nft.c - the broker's one nftables table (libnftables)
 *
 * The table is regenerated from the broker's state on every change, not
 * patched rule by rule: there are few networks, the batch is atomic, and
 * after a crash the next daemon rewrites exactly what it owns.
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

static void put_set(FILE *f, const char *name, const struct nft_network *nets, size_t count,
		    int want_nat)
{
	bool first = true;

	fprintf(f, "  set %s {\n    type ifname\n", name);
	for (size_t i = 0; i < count; i++) {
		if (want_nat >= 0 && nets[i].nat != want_nat)
			continue;
		fprintf(f, "%s\"%s\"", first ? "    elements = { " : ", ", nets[i].bridge);
		first = false;
	}
	fprintf(f, "%s  }\n", first ? "" : " }\n");
}

static void put_ula(FILE *f, const struct nft_network *n)
{
	char buf[INET6_ADDRSTRLEN];

	fprintf(f, "%s/%u", inet_ntop(AF_INET6, n->ula, buf, sizeof(buf)),
		n->ula_len ? n->ula_len : 64);
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
 * "iif 7 " for the bridge: the index is one compare per packet, the name a
 * string copy and a 16-byte compare. The table is rewritten whenever a
 * bridge comes or goes, and ports are attached by the same index, so it
 * never goes stale. The name when the index is unknown.
 */
static void put_bridge_match(FILE *f, const struct nft_network *n, const char *by_index,
			     const char *by_name)
{
	if (n->ifindex > 0)
		fprintf(f, "%s %d ", by_index, n->ifindex);
	else
		fprintf(f, "%s \"%s\" ", by_name, n->bridge);
}

/*
 * Guest to guest on one network is bridged, but with br_netfilter loaded
 * (Docker loads it) every such frame also passes the IP hooks, and
 * conntrack would track each connection: the largest per-packet cost of
 * ours on that path (docs/performance.md, 4). The sysctl that turns
 * br_netfilter off is per namespace, and a bridge's own nf_call_iptables
 * can only turn it on, so untrack what needs no tracking instead, before
 * conntrack sees it (priority raw < conntrack): from the bridge to an
 * address of the network that is not the gateway's or the broadcast
 * address, i.e. to a guest. No rule of ours needs its state: the forward
 * chain accepts bridge to same bridge first, and NAT only rewrites what
 * leaves the subnet. What goes to the host and everything routed stay
 * tracked. The source is not matched: it changes nothing above, and each
 * match costs, in a chain every packet the host receives goes through.
 *
 * The prefix is written "& mask == net": for a /24, "ip daddr N/24" loads
 * 3 bytes, which the kernel cannot evaluate inline; a masked 4-byte load
 * it can.
 */
static void put_raw_chain(FILE *f, const struct nft_network *nets, size_t count)
{
	fprintf(f, "  chain raw {\n"
		   "    type filter hook prerouting priority raw; policy accept;\n");
	for (size_t i = 0; i < count; i++) {
		const struct nft_network *n = &nets[i];
		uint32_t mask = prefix4_mask(n->subnet.len), net = n->subnet.addr & mask;
		uint32_t gw = n->gateway ? n->gateway : net + 1;
		char m[16], a[16], g[16], b[16], g6[INET6_ADDRSTRLEN];

		fprintf(f, "    ");
		put_bridge_match(f, n, "iif", "iifname");
		fprintf(f, "ip daddr & %s == %s ip daddr != %s ip daddr != %s "
			   "notrack comment \"%s: guest to guest\"\n",
			addr4_format(mask, m, sizeof(m)), addr4_format(net, a, sizeof(a)),
			addr4_format(gw, g, sizeof(g)), addr4_format(net | ~mask, b, sizeof(b)),
			n->bridge);
		if (!n->ula)
			continue;
		fprintf(f, "    ");
		put_bridge_match(f, n, "iif", "iifname");
		fprintf(f, "ip6 daddr ");
		put_ula(f, n);
		fprintf(f, " ip6 daddr != %s notrack comment \"%s: guest to guest\"\n",
			inet_ntop(AF_INET6, n->gateway6, g6, sizeof(g6)), n->bridge);
	}
	fprintf(f, "  }\n");
}

static void put_forward_chain(FILE *f, const struct nft_network *nets, size_t count)
{
	fprintf(f, "  chain forward {\n"
		   "    type filter hook forward priority filter; policy accept;\n");
	/*
	 * Guest to guest on one network is bridged and never reaches this
	 * hook, unless br_netfilter is loaded (Docker loads it): then it does,
	 * with the bridge as both input and output. Let it through first.
	 * By index, as in the raw chain: every such packet passes here.
	 */
	for (size_t i = 0; i < count; i++) {
		fprintf(f, "    ");
		put_bridge_match(f, &nets[i], "iif", "iifname");
		put_bridge_match(f, &nets[i], "oif", "oifname");
		fprintf(f, "accept\n");
	}
	fprintf(f, "    oifname @nat_bridges ct state established,related accept\n"
		   "    iifname @bridges oifname @bridges drop comment \"networks are isolated\"\n");
	if (any_forwards(nets, count))
		fprintf(f, "    oifname @nat_bridges ct status dnat accept comment \"port forwards\"\n");
	for (size_t i = 0; i < count; i++) {
		const struct nft_network *n = &nets[i];
		char p[32];

		if (!n->nat)
			continue;
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
	}
	fprintf(f, "    iifname @nat_bridges accept\n"
		   "    iifname @bridges drop comment \"host-only: no way out\"\n"
		   "    oifname @bridges drop comment \"nothing unasked comes in\"\n"
		   "  }\n");
}

/*
 * Port forwards: a host port on one of the host's own addresses (fib
 * daddr type local), arriving from outside the broker's networks, goes to
 * the guest. Guests reach each other directly, and hairpinning through
 * the host would need a masquerade that hides who is talking.
 */
static void put_prerouting_chain(FILE *f, const struct nft_network *nets, size_t count)
{
	if (!any_forwards(nets, count))
		return;
	fprintf(f, "  chain prerouting {\n"
		   "    type nat hook prerouting priority dstnat; policy accept;\n");
	for (size_t i = 0; i < count; i++) {
		const struct nft_network *n = &nets[i];

		for (size_t j = 0; n->nat && j < n->n_forwards; j++) {
			const struct port_forward *fw = &n->forwards[j];
			const char *proto = forward_protocol_to_string(fw->protocol);
			char a[16];

			fprintf(f, "    ");
			if (has_ext(n))
				put_iif_ext(f, n);
			else
				fprintf(f, "iifname != @bridges ");
			fprintf(f, "meta nfproto ipv4 fib daddr type local %s dport %u dnat ip to %s:%u\n",
				proto, fw->external_port,
				addr4_format(fw->internal_address, a, sizeof(a)), fw->internal_port);
		}
	}
	fprintf(f, "  }\n");
}

static void put_postrouting_chain(FILE *f, const struct nft_network *nets, size_t count)
{
	fprintf(f, "  chain postrouting {\n"
		   "    type nat hook postrouting priority srcnat; policy accept;\n");
	for (size_t i = 0; i < count; i++) {
		const struct nft_network *n = &nets[i];
		char p[32], oif[IFNAMSIZ + 16];

		if (!n->nat)
			continue;
		if (has_ext(n))
			snprintf(oif, sizeof(oif), "\"%s\"", n->external_interface);
		else
			snprintf(oif, sizeof(oif), "!= @bridges");
		prefix4_format(&n->subnet, p, sizeof(p));
		if (!n->routed4)
			fprintf(f, "    ip saddr %s ip daddr != %s oifname %s masquerade\n", p, p, oif);
		if (n->ula && !n->routed6) {
			fprintf(f, "    ip6 saddr ");
			put_ula(f, n);
			fprintf(f, " ip6 daddr != ");
			put_ula(f, n);
			fprintf(f, " oifname %s masquerade\n", oif);
		}
	}
	fprintf(f, "  }\n");
}

char *nft_render(const struct nft_network *nets, size_t count)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	if (!f)
		return NULL;
	/* "add" first so "delete" never fails on a missing table. */
	fprintf(f, "add table inet " NFT_TABLE "\ndelete table inet " NFT_TABLE "\n");
	if (count > 0) {
		fprintf(f, "table inet " NFT_TABLE " {\n");
		put_set(f, "bridges", nets, count, -1);
		put_set(f, "nat_bridges", nets, count, 1);
		put_raw_chain(f, nets, count);
		put_forward_chain(f, nets, count);
		put_prerouting_chain(f, nets, count);
		put_postrouting_chain(f, nets, count);
		fprintf(f, "}\n");
	}
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

int nft_apply(struct nft *n, const struct nft_network *nets, size_t count, char **ret_error)
{
	_cleanup_free_ char *cmd = nft_render(nets, count);
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
