/* firewall.c - the running networks' rules, assembled into the broker's one nftables table
 *
 * nft.c renders and applies the table from plain descriptions (struct
 * nft_network); this file makes them from the networks: addresses,
 * mode, NAT, the external interface, and every port forward, the file's
 * and its leases'. docs/design.md, *nftables: one table*, shows the table.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "firewall.h"
#include "lease.h"
#include "log.h"
#include "network.h"
#include "bridge.h"
#include "nft.h"
#include "registry.h"
#include "span.h"
#include "util.h"

/* Every forward of @n: its file's, then its leases'; malloc'ed into *@ret (NULL when none). */
static int collect_forwards(const struct network *n, struct port_forward **ret, size_t *ret_n)
{
	size_t count = n->config.n_forwards, i;
	const struct lease *l;
	struct port_forward *v;

	*ret = NULL;
	*ret_n = 0;
	TAILQ_FOREACH(l, &n->leases, network_link)
		count += l->n_forwards;
	if (count == 0)
		return 0;
	v = calloc(count, sizeof(*v));
	if (!v)
		return -ENOMEM;
	/* memcpy() from NULL is undefined even for 0 bytes. */
	if (n->config.n_forwards)
		memcpy(v, n->config.forwards, n->config.n_forwards * sizeof(*v));
	i = n->config.n_forwards;
	TAILQ_FOREACH(l, &n->leases, network_link) {
		if (l->n_forwards)
			memcpy(v + i, l->forwards, l->n_forwards * sizeof(*v));
		i += l->n_forwards;
	}
	*ret = v;
	*ret_n = count;
	return 0;
}

/* The overlay port's filter of a span: its gateway stays local (nft.c). */
static int describe_span(const struct network *n, struct nft_span **ret)
{
	uint8_t ll[16];

	*ret = NULL;
	if (!n->span)
		return 0;
	*ret = calloc(1, sizeof(**ret));
	if (!*ret)
		return -ENOMEM;
	bridge_link_local(n->bridge_mac, ll);
	span_nft(n->span, n->bridge_mac, ll, *ret);
	return 0;
}

static void described_clear(struct nft_network *v)
{
	free((void *)v->forwards);
	free((void *)v->span);
}

/* What nft.c needs of @n; ret->forwards and ret->span are malloc'ed (described_clear()). */
static int describe(const struct network *n, struct nft_network *ret)
{
	struct port_forward *fw;
	struct nft_span *span;
	size_t n_fw;
	int r;

	r = describe_span(n, &span);
	if (r < 0)
		return r;
	r = collect_forwards(n, &fw, &n_fw);
	if (r < 0) {
		free(span);
		return r;
	}
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
		.dns_alt_port = n->dns_alt_port,
		.forwards = fw,
		.n_forwards = n_fw,
		.span = span,
	};
	network_gateway6(n, ret->gateway6);
	return 0;
}

int firewall_apply(struct nft *nft, const struct registry *reg)
{
	_cleanup_free_ struct nft_network *v = NULL;
	_cleanup_free_ char *err = NULL;
	const struct network *n;
	size_t i = 0;
	int r = 0;

	v = calloc(reg->n_networks + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	TAILQ_FOREACH(n, &reg->networks, link)
		if (n->bridge_ifindex > 0 && r >= 0 && (r = describe(n, &v[i])) >= 0)
			i++;
	if (r >= 0) {
		r = nft_apply(nft, v, i, &err);
		if (r < 0)
			log_error("Failed to apply nftables rules: %s", err ? err : "unknown error");
	}
	for (size_t j = 0; j < i; j++)
		described_clear(&v[j]);
	return r;
}

int firewall_add(struct nft *nft, const struct registry *reg, const struct network *n)
{
	_cleanup_free_ char *err = NULL;
	struct nft_network v;
	int r;

	r = describe(n, &v);
	if (r < 0)
		return r;
	r = nft_add_network(nft, &v, &err);
	described_clear(&v);
	if (r >= 0)
		return 0;
	if (r != -EAGAIN)
		log_network_warning(n, "Adding its nftables rules failed, rewriting the table: %s",
				    err ? err : "unknown error");
	return firewall_apply(nft, reg);
}
