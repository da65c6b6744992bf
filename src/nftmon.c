/* nftmon.c - nftables' own events: who changed which table, one batch at a time
 *
 * Every commit to nf_tables in the namespace is announced on the
 * NFNLGRP_NFTABLES group: one message per object the batch touched (with
 * the committing socket's port id in nlmsg_pid), then NFT_MSG_NEWGEN
 * with the generation and the committing process's pid and name. That is
 * how the daemon learns, at once and without polling, that `nft flush
 * ruleset` (the first line of Debian's nftables.conf) or anyone else took
 * its table away, and that iptables-nft changed the tables Docker and
 * ufw use. Our own batches come back too, and say so (b->ours).
 *
 * A flush of a large ruleset is one message per object: 957 for 200
 * networks, past the default receive buffer; the socket asks for 4 MiB.
 * If the kernel drops events anyway (ENOBUFS), the caller hears of it and
 * checks everything.
 */
#include <errno.h>
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nft.h"
#include "nftmon.h"
#include "util.h"

#define RCVBUF_SIZE (4 * 1024 * 1024)
#define ATTR_MAX 32 /* above every NFTA_*_MAX we read */

struct nftmon {
	/* One datagram; a batch may span many. */
	char buf[64 * 1024] __attribute__((aligned(__alignof__(struct nlmsghdr))));
	struct mnl_socket *nl;
	sd_event_source *io;
	struct nft_batch batch;
	pid_t self;
	nftmon_fn fn;
	void *userdata;
};

static const char *family_name(int f)
{
	switch (f) {
	case NFPROTO_INET:
		return "inet";
	case NFPROTO_IPV4:
		return "ip";
	case NFPROTO_IPV6:
		return "ip6";
	case NFPROTO_ARP:
		return "arp";
	case NFPROTO_BRIDGE:
		return "bridge";
	case NFPROTO_NETDEV:
		return "netdev";
	default:
		return "?";
	}
}

static int attr_cb(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(a);

	if (type < ATTR_MAX && mnl_attr_type_valid(a, ATTR_MAX) >= 0)
		tb[type] = a;
	return MNL_CB_OK;
}

/* A string attribute, NUL-checked; NULL when absent or malformed. */
static const char *attr_str(const struct nlattr *a)
{
	if (!a || mnl_attr_validate(a, MNL_TYPE_NUL_STRING) < 0)
		return NULL;
	return mnl_attr_get_str(a);
}

static uint32_t attr_u32(const struct nlattr *a)
{
	if (!a || mnl_attr_validate(a, MNL_TYPE_U32) < 0)
		return 0;
	return ntohl(mnl_attr_get_u32(a));
}

void nft_batch_reset(struct nft_batch *b)
{
	*b = (struct nft_batch){};
}

/* The table a message is about, and for rules the chain. */
struct about {
	const char *table;
	const char *chain;
};

static enum nft_change change_of(int type)
{
	switch (type) {
	case NFT_MSG_DELRULE:
		return NFT_CHANGE_RULE_DEL;
	case NFT_MSG_NEWRULE:
		return NFT_CHANGE_RULE_ADD;
	case NFT_MSG_DELCHAIN:
		return NFT_CHANGE_CHAIN_DEL;
	case NFT_MSG_NEWCHAIN:
		return NFT_CHANGE_CHAIN_ADD;
	case NFT_MSG_DELSET:
		return NFT_CHANGE_SET_DEL;
	case NFT_MSG_NEWSET:
		return NFT_CHANGE_SET_ADD;
	case NFT_MSG_DELSETELEM:
		return NFT_CHANGE_ELEM_DEL;
	case NFT_MSG_NEWSETELEM:
		return NFT_CHANGE_ELEM_ADD;
	default:
		return NFT_CHANGE_OTHER;
	}
}

static struct about about_of(int type, const struct nlattr *const *tb)
{
	switch (type) {
	case NFT_MSG_NEWTABLE:
	case NFT_MSG_DELTABLE:
		return (struct about){ attr_str(tb[NFTA_TABLE_NAME]), NULL };
	case NFT_MSG_NEWCHAIN:
	case NFT_MSG_DELCHAIN:
		return (struct about){ attr_str(tb[NFTA_CHAIN_TABLE]), attr_str(tb[NFTA_CHAIN_NAME]) };
	case NFT_MSG_NEWRULE:
	case NFT_MSG_DELRULE:
		return (struct about){ attr_str(tb[NFTA_RULE_TABLE]), attr_str(tb[NFTA_RULE_CHAIN]) };
	case NFT_MSG_NEWSET:
	case NFT_MSG_DELSET:
		return (struct about){ attr_str(tb[NFTA_SET_TABLE]), NULL };
	case NFT_MSG_NEWSETELEM:
	case NFT_MSG_DELSETELEM:
		return (struct about){ attr_str(tb[NFTA_SET_ELEM_LIST_TABLE]), NULL };
	case NFT_MSG_NEWOBJ:
	case NFT_MSG_DELOBJ:
		return (struct about){ attr_str(tb[NFTA_OBJ_TABLE]), NULL };
	case NFT_MSG_NEWFLOWTABLE:
	case NFT_MSG_DELFLOWTABLE:
		return (struct about){ attr_str(tb[NFTA_FLOWTABLE_TABLE]), NULL };
	default:
		return (struct about){ NULL, NULL };
	}
}

static void note_deleted_table(struct nft_batch *b, int family, const char *table)
{
	size_t l = strlen(b->deleted);

	if (l < sizeof(b->deleted))
		snprintf(b->deleted + l, sizeof(b->deleted) - l, "%s%s %s", l ? ", " : "",
			 family_name(family), table);
}

/*
 * Our tables: inet, and bridge (the overlay filter of spans, nft.c),
 * which a restore rewrites with the rest. Its chains are named by table.
 */
static void fold_object(struct nft_batch *b, int type, int family, const struct about *a)
{
	bool bridge = family == NFPROTO_BRIDGE;

	if ((family == NFPROTO_INET || bridge) && streq(a->table, NFT_TABLE)) {
		b->table = true;
		b->changes[change_of(type)]++;
		if (type == NFT_MSG_DELTABLE && bridge)
			b->bridge_deleted = true;
		else if (type == NFT_MSG_DELTABLE)
			b->table_deleted = true;
		if (!b->first_chain[0] && a->chain)
			snprintf(b->first_chain, sizeof(b->first_chain), "%s%s", a->chain,
				 bridge ? " of table bridge " NFT_TABLE : "");
		return;
	}
	if ((family == NFPROTO_IPV4 || family == NFPROTO_IPV6) && streq(a->table, "filter"))
		b->filter[family == NFPROTO_IPV6] = true;
	if (type == NFT_MSG_DELTABLE)
		note_deleted_table(b, family, a->table);
}

bool nft_batch_feed(struct nft_batch *b, const struct nlmsghdr *nlh, pid_t self)
{
	const struct nlattr *tb[ATTR_MAX] = {};
	const struct nfgenmsg *g;
	int type;

	if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES ||
	    nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*g)))
		return false;
	g = mnl_nlmsg_get_payload(nlh);
	type = NFNL_MSG_TYPE(nlh->nlmsg_type);
	(void)mnl_attr_parse(nlh, sizeof(*g), attr_cb, tb);
	if (type != NFT_MSG_NEWGEN) {
		struct about a = about_of(type, tb);

		if (!b->portid)
			b->portid = nlh->nlmsg_pid;
		if (a.table)
			fold_object(b, type, g->nfgen_family, &a);
		return false;
	}
	b->gen = attr_u32(tb[NFTA_GEN_ID]);
	b->pid = attr_u32(tb[NFTA_GEN_PROC_PID]);
	snprintf(b->comm, sizeof(b->comm), "%s",
		 attr_str(tb[NFTA_GEN_PROC_NAME]) ? attr_str(tb[NFTA_GEN_PROC_NAME]) : "?");
	/*
	 * The kernel's pid is the committing thread's, in the initial pid
	 * namespace: ours when the daemon runs there (every nft call is on
	 * the loop's thread, whose tid is the pid). Inside a pid namespace
	 * the port id tells: libnftables' socket, our first netfilter one,
	 * was bound to our pid.
	 */
	b->ours = (b->pid && b->pid == (uint32_t)self) || (b->portid && b->portid == (uint32_t)self);
	return true;
}

/* "deleted 2 rule(s), added elements to 1 set(s)" of what the batch did to our table. */
static size_t describe_changes(const struct nft_batch *b, char *buf, size_t size)
{
	static const struct {
		const char *verb, *noun;
	} what[_NFT_CHANGE_MAX] = {
		[NFT_CHANGE_RULE_DEL] = { "deleted", "rule(s)" },
		[NFT_CHANGE_RULE_ADD] = { "added", "rule(s)" },
		[NFT_CHANGE_CHAIN_DEL] = { "deleted", "chain(s)" },
		[NFT_CHANGE_CHAIN_ADD] = { "added", "chain(s)" },
		[NFT_CHANGE_SET_DEL] = { "deleted", "set(s)" },
		[NFT_CHANGE_SET_ADD] = { "added", "set(s)" },
		[NFT_CHANGE_ELEM_DEL] = { "deleted elements of", "set(s)" },
		[NFT_CHANGE_ELEM_ADD] = { "added elements to", "set(s)" },
		[NFT_CHANGE_OTHER] = { "changed", "other object(s)" },
	};
	size_t l = 0;

	for (int i = 0; i < _NFT_CHANGE_MAX && l < size; i++) {
		if (!b->changes[i])
			continue;
		l += (size_t)snprintf(buf + l, size - l, "%s%s %u %s", l ? ", " : "", what[i].verb,
				      b->changes[i], what[i].noun);
	}
	if (b->first_chain[0] && l < size)
		l += (size_t)snprintf(buf + l, size - l, " in chain %s", b->first_chain);
	return l;
}

void nft_batch_describe(const struct nft_batch *b, char *buf, size_t size)
{
	size_t l;

	if (b->lost) {
		snprintf(buf, size, "the kernel dropped nftables events; anything may have changed");
		return;
	}
	l = (size_t)snprintf(buf, size, "%s[%u] ", b->comm[0] ? b->comm : "?", b->pid);
	if (l >= size)
		return;
	if (b->table_deleted)
		l += (size_t)snprintf(buf + l, size - l, "deleted table inet " NFT_TABLE "%s",
				      b->bridge_deleted ? " and table bridge " NFT_TABLE : "");
	else if (b->bridge_deleted)
		l += (size_t)snprintf(buf + l, size - l, "deleted table bridge " NFT_TABLE);
	else if (b->table)
		l += describe_changes(b, buf + l, size - l);
	else if (b->filter[0] || b->filter[1])
		l += (size_t)snprintf(buf + l, size - l, "changed table%s%s%s",
				      b->filter[0] ? " ip filter" : "",
				      b->filter[0] && b->filter[1] ? " and" : "",
				      b->filter[1] ? " ip6 filter" : "");
	else
		l += (size_t)snprintf(buf + l, size - l, "changed other tables");
	if (b->deleted[0] && l < size)
		snprintf(buf + l, size - l, " (the same batch deleted %s: flush ruleset?)", b->deleted);
}

/* ---- the monitor */

static int on_message(const struct nlmsghdr *nlh, void *data)
{
	struct nftmon *m = data;

	if (nft_batch_feed(&m->batch, nlh, m->self)) {
		m->fn(&m->batch, m->userdata);
		nft_batch_reset(&m->batch);
	}
	return MNL_CB_OK;
}

static void lost(struct nftmon *m)
{
	nft_batch_reset(&m->batch);
	m->batch.lost = true;
	m->fn(&m->batch, m->userdata);
	nft_batch_reset(&m->batch);
}

static int on_readable(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct nftmon *m = userdata;

	/* Drain what is there, a bounded number at a time: the loop has other work too. */
	for (int i = 0; i < 256; i++) {
		ssize_t n = recv(fd, m->buf, sizeof(m->buf), MSG_DONTWAIT);

		if (n < 0 && errno == ENOBUFS) {
			lost(m);
			continue;
		}
		if (n <= 0)
			break;
		(void)mnl_cb_run(m->buf, (size_t)n, 0, 0, on_message, m);
	}
	return 0;
}

int nftmon_new(sd_event *event, nftmon_fn fn, void *userdata, struct nftmon **ret)
{
	struct nftmon *m = calloc(1, sizeof(*m));
	int group = NFNLGRP_NFTABLES, size = RCVBUF_SIZE, r;

	if (!m)
		return -ENOMEM;
	m->fn = fn;
	m->userdata = userdata;
	m->self = getpid();
	m->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!m->nl || mnl_socket_bind(m->nl, 0, MNL_SOCKET_AUTOPID) < 0 ||
	    mnl_socket_setsockopt(m->nl, NETLINK_ADD_MEMBERSHIP, &group, sizeof(group)) < 0) {
		r = -errno;
		nftmon_free(m);
		return r;
	}
	/* Past net.core.rmem_max (CAP_NET_ADMIN); else as much as that allows. */
	if (setsockopt(mnl_socket_get_fd(m->nl), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		(void)setsockopt(mnl_socket_get_fd(m->nl), SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	r = sd_event_add_io(event, &m->io, mnl_socket_get_fd(m->nl), EPOLLIN, on_readable, m);
	if (r < 0) {
		nftmon_free(m);
		return r;
	}
	*ret = m;
	return 0;
}

struct nftmon *nftmon_free(struct nftmon *m)
{
	if (!m)
		return NULL;
	m->io = sd_event_source_disable_unref(m->io);
	if (m->nl)
		mnl_socket_close(m->nl);
	free(m);
	return NULL;
}

/* ---- base chains */

static const char *hook_name(int family, uint32_t hook)
{
	static const char *const inet[] = { "prerouting", "input",       "forward",
					    "output",     "postrouting", "ingress" };
	static const char *const arp[] = { "input", "output", "forward" };
	static const char *const netdev[] = { "ingress", "egress" };

	if (family == NFPROTO_ARP)
		return hook < ELEMENTSOF(arp) ? arp[hook] : "?";
	if (family == NFPROTO_NETDEV)
		return hook < ELEMENTSOF(netdev) ? netdev[hook] : "?";
	return hook < ELEMENTSOF(inet) ? inet[hook] : "?";
}

struct chain_list {
	struct nft_base_chain *v;
	size_t n, cap;
};

static int hook_cb(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(a);

	if (type <= NFTA_HOOK_MAX)
		tb[type] = a;
	return MNL_CB_OK;
}

static int on_chain(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[ATTR_MAX] = {}, *hook[NFTA_HOOK_MAX + 1] = {};
	const struct nfgenmsg *g = mnl_nlmsg_get_payload(nlh);
	struct chain_list *l = data;
	struct nft_base_chain *c;

	(void)mnl_attr_parse(nlh, sizeof(*g), attr_cb, tb);
	if (!tb[NFTA_CHAIN_HOOK] || !attr_str(tb[NFTA_CHAIN_TABLE]) || !attr_str(tb[NFTA_CHAIN_NAME]))
		return MNL_CB_OK; /* not a base chain */
	(void)mnl_attr_parse_nested(tb[NFTA_CHAIN_HOOK], hook_cb, hook);
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct nft_base_chain *v = reallocarray(l->v, cap, sizeof(*v));

		if (!v)
			return MNL_CB_ERROR;
		l->v = v;
		l->cap = cap;
	}
	c = &l->v[l->n++];
	*c = (struct nft_base_chain){ .priority = (int)attr_u32(hook[NFTA_HOOK_PRIORITY]) };
	snprintf(c->family, sizeof(c->family), "%s", family_name(g->nfgen_family));
	snprintf(c->table, sizeof(c->table), "%s", attr_str(tb[NFTA_CHAIN_TABLE]));
	snprintf(c->name, sizeof(c->name), "%s", attr_str(tb[NFTA_CHAIN_NAME]));
	snprintf(c->hook, sizeof(c->hook), "%s",
		 hook_name(g->nfgen_family, attr_u32(hook[NFTA_HOOK_HOOKNUM])));
	c->policy_drop = tb[NFTA_CHAIN_POLICY] && attr_u32(tb[NFTA_CHAIN_POLICY]) == NF_DROP;
	return MNL_CB_OK;
}

static int dump_chains(struct mnl_socket *nl, struct chain_list *l)
{
	char buf[16384] __attribute__((aligned(__alignof__(struct nlmsghdr))));
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *g;
	uint32_t seq = 1, portid = mnl_socket_get_portid(nl);
	ssize_t n;
	int r;

	nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETCHAIN;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	*g = (struct nfgenmsg){ .nfgen_family = NFPROTO_UNSPEC, .version = NFNETLINK_V0 };
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	do {
		n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (n < 0)
			return -errno;
		r = mnl_cb_run(buf, (size_t)n, seq, portid, on_chain, l);
	} while (r > 0);
	return r < 0 ? -errno : 0;
}

int nft_list_base_chains(struct nft_base_chain **ret, size_t *ret_n)
{
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	struct chain_list l = {};
	int r;

	if (!nl)
		return -errno;
	r = mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0 ? -errno : 0;
	/* A dump that the ruleset changed under (EINTR) is asked again, once. */
	if (r >= 0) {
		r = dump_chains(nl, &l);
		if (r == -EINTR) {
			l.n = 0;
			r = dump_chains(nl, &l);
		}
	}
	mnl_socket_close(nl);
	if (r < 0) {
		free(l.v);
		return r;
	}
	*ret = l.v;
	*ret_n = l.n;
	return 0;
}
