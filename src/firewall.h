/* firewall.h - the running networks' rules, assembled into the broker's one nftables table */
#ifndef VMNET_FIREWALL_H
#define VMNET_FIREWALL_H

struct network;
struct nft;
struct registry;

/* Rewrite the table for every network of @r that has a bridge. Return: 0 or negative errno (logged). */
int firewall_apply(struct nft *nft, const struct registry *r);
/*
 * Add new network @n's rules to the table without rewriting the others':
 * O(1), where a rewrite is O(networks). A rewrite when that cannot be
 * (port forwards, no table yet) or fails. @n is in @r already.
 * Return: 0 or negative errno (logged).
 */
int firewall_add(struct nft *nft, const struct registry *r, const struct network *n);

#endif
