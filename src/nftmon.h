/* nftmon.h - nftables' own events: who changed which table, one batch at a time */
#ifndef VMNET_NFTMON_H
#define VMNET_NFTMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

struct nlmsghdr;

/* Kinds of change to the broker's tables, counted per batch. */
enum nft_change {
	NFT_CHANGE_RULE_DEL,
	NFT_CHANGE_RULE_ADD,
	NFT_CHANGE_CHAIN_DEL,
	NFT_CHANGE_CHAIN_ADD,
	NFT_CHANGE_SET_DEL,
	NFT_CHANGE_SET_ADD,
	NFT_CHANGE_ELEM_DEL,
	NFT_CHANGE_ELEM_ADD,
	NFT_CHANGE_OTHER, /* objects, flowtables, the table's flags */
	_NFT_CHANGE_MAX,
};

/*
 * One committed batch, as the kernel tells every listener: the objects it
 * touched, then NFT_MSG_NEWGEN with the new generation and the committing
 * process (its thread id in the initial pid namespace, and its comm).
 */
struct nft_batch {
	uint32_t gen;
	uint32_t pid;        /* NFTA_GEN_PROC_PID; 0 when the kernel did not say */
	uint32_t portid;     /* the committing netlink socket, from the first object message */
	char comm[16];       /* NFTA_GEN_PROC_NAME */
	bool ours;           /* committed by this process */
	bool lost;           /* not a batch: events were lost (ENOBUFS); assume anything changed */
	bool table;          /* table inet vmnet_broker (or bridge vmnet_broker) was touched */
	bool table_deleted;  /* ... inet deleted whole */
	bool bridge_deleted; /* ... bridge deleted whole */
	unsigned int changes[_NFT_CHANGE_MAX]; /* to those tables, by kind */
	char first_chain[64];                  /* the first of their chains touched */
	bool filter[2];    /* table ip filter ([0]) or ip6 filter ([1]) was touched: iptables-nft */
	char deleted[128]; /* other tables the batch deleted, "inet filter, ip nat" */
};

/**
 * nft_batch_feed() - fold one message of the nftables group into @b
 * @self:	this process's pid
 *
 * Object messages accumulate; NFT_MSG_NEWGEN ends the batch.
 * Return: true when @b is complete (call nft_batch_reset() after using it).
 */
bool nft_batch_feed(struct nft_batch *b, const struct nlmsghdr *nlh, pid_t self);
void nft_batch_reset(struct nft_batch *b);
/* "nft[1234] deleted table inet vmnet_broker (with table inet filter: flush ruleset?)" */
void nft_batch_describe(const struct nft_batch *b, char *buf, size_t size);

struct nftmon;

typedef void (*nftmon_fn)(const struct nft_batch *b, void *userdata);

/**
 * nftmon_new() - listen to NFNLGRP_NFTABLES on the event loop
 * @fn:		called with each batch committed in this namespace, ours too
 *		(b->ours), and with b->lost when the kernel dropped events
 *
 * Open it after libnftables' own socket (nft_new()): a process's first
 * netfilter socket gets its pid as port id, which tells our batches
 * apart where the pid the kernel reports is of another pid namespace.
 * Return: 0 or negative errno.
 */
int nftmon_new(sd_event *event, nftmon_fn fn, void *userdata, struct nftmon **ret);
struct nftmon *nftmon_free(struct nftmon *m);

/* A base chain of any table, from NFT_MSG_GETCHAIN. */
struct nft_base_chain {
	char family[8]; /* "ip", "ip6", "inet", "bridge", "arp", "netdev" */
	char table[64];
	char name[64];
	char hook[16]; /* "prerouting", "input", "forward", "output", "postrouting", "ingress" */
	int priority;
	bool policy_drop;
};

/**
 * nft_list_base_chains() - every base chain of every table in this namespace
 * Return: 0 with a malloc'ed array (free it), or negative errno.
 */
int nft_list_base_chains(struct nft_base_chain **ret, size_t *ret_n);

#endif
