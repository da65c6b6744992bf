/* nft.c - the broker's one nftables table (libnftables)
 *
 * The table is regenerated from the broker's state on every change, not
 * patched rule by rule: there are few networks, the batch is atomic, and
 * after a crash the next daemon rewrites exactly what it owns.
 */
#include <arpa/inet.h>
#include <errno.h>
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

static void put_ula(FILE *f, const uint8_t *u)
{
	char buf[INET6_ADDRSTRLEN];

	fprintf(f, "%s/64", inet_ntop(AF_INET6, u, buf, sizeof(buf)));
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
	if (count == 0)
		goto out;

	fprintf(f, "table inet " NFT_TABLE " {\n");
	put_set(f, "bridges", nets, count, -1);
	put_set(f, "nat_bridges", nets, count, 1);
	fprintf(f, "  chain forward {\n"
		   "    type filter hook forward priority filter; policy accept;\n");
	/*
	 * Guest to guest on one network is bridged and never reaches this
	 * hook, unless br_netfilter is loaded (Docker loads it): then it does,
	 * with the bridge as both input and output. Let it through first.
	 */
	for (size_t i = 0; i < count; i++)
		fprintf(f, "    iifname \"%s\" oifname \"%s\" accept\n", nets[i].bridge,
			nets[i].bridge);
	fprintf(f, "    oifname @nat_bridges ct state established,related accept\n"
		   "    iifname @bridges oifname @bridges drop comment \"networks are isolated\"\n"
		   "    iifname @nat_bridges accept\n"
		   "    iifname @bridges drop comment \"host-only: no way out\"\n"
		   "    oifname @bridges drop comment \"nothing unasked comes in\"\n"
		   "  }\n");
	fprintf(f, "  chain postrouting {\n"
		   "    type nat hook postrouting priority srcnat; policy accept;\n");
	for (size_t i = 0; i < count; i++) {
		char p[32];

		if (!nets[i].nat)
			continue;
		prefix4_format(&nets[i].subnet, p, sizeof(p));
		fprintf(f, "    ip saddr %s ip daddr != %s oifname != @bridges masquerade\n", p, p);
		if (nets[i].ula) {
			fprintf(f, "    ip6 saddr ");
			put_ula(f, nets[i].ula);
			fprintf(f, " ip6 daddr != ");
			put_ula(f, nets[i].ula);
			fprintf(f, " oifname != @bridges masquerade\n");
		}
	}
	fprintf(f, "  }\n}\n");
out:
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
