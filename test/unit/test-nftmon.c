/* test-nftmon.c - unit tests of nftmon.c: nftables' events folded into batches, and said in words */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include "nftmon.h"
#include "util.h"

#define SELF 4242

/* One message as the kernel sends it to NFNLGRP_NFTABLES, in @buf. */
static struct nlmsghdr *message(char *buf, int type, int family, uint32_t portid)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *g;

	nlh->nlmsg_type = (uint16_t)((NFNL_SUBSYS_NFTABLES << 8) | type);
	nlh->nlmsg_pid = portid;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->nfgen_family = (uint8_t)family;
	g->version = NFNETLINK_V0;
	return nlh;
}

static bool feed_object(struct nft_batch *b, int type, int family, uint16_t table_attr,
			const char *table, uint16_t chain_attr, const char *chain)
{
	char buf[512] __attribute__((aligned(__alignof__(struct nlmsghdr))));
	struct nlmsghdr *nlh = message(buf, type, family, 1234);

	mnl_attr_put_strz(nlh, table_attr, table);
	if (chain)
		mnl_attr_put_strz(nlh, chain_attr, chain);
	return nft_batch_feed(b, nlh, SELF);
}

static bool feed_gen(struct nft_batch *b, uint32_t gen, uint32_t pid, const char *comm)
{
	char buf[512] __attribute__((aligned(__alignof__(struct nlmsghdr))));
	struct nlmsghdr *nlh = message(buf, NFT_MSG_NEWGEN, NFPROTO_UNSPEC, 1234);

	mnl_attr_put_u32(nlh, NFTA_GEN_ID, htonl(gen));
	mnl_attr_put_u32(nlh, NFTA_GEN_PROC_PID, htonl(pid));
	mnl_attr_put_strz(nlh, NFTA_GEN_PROC_NAME, comm);
	return nft_batch_feed(b, nlh, SELF);
}

/* `nft flush ruleset` with our table and Debian's inet filter. */
static void test_flush_ruleset(void **state)
{
	struct nft_batch b = {};
	char text[256];

	assert_false(feed_object(&b, NFT_MSG_DELRULE, NFPROTO_INET, NFTA_RULE_TABLE, "vmnet_broker",
				 NFTA_RULE_CHAIN, "forward"));
	assert_false(feed_object(&b, NFT_MSG_DELTABLE, NFPROTO_INET, NFTA_TABLE_NAME,
				 "vmnet_broker", 0, NULL));
	assert_false(feed_object(&b, NFT_MSG_DELCHAIN, NFPROTO_INET, NFTA_CHAIN_TABLE, "filter",
				 NFTA_CHAIN_NAME, "forward"));
	assert_false(feed_object(&b, NFT_MSG_DELTABLE, NFPROTO_INET, NFTA_TABLE_NAME, "filter", 0,
				 NULL));
	assert_true(feed_gen(&b, 15, 25970, "nft"));
	assert_true(b.table);
	assert_true(b.table_deleted);
	assert_false(b.ours);
	assert_false(b.filter[0]);
	assert_int_equal(b.gen, 15);
	nft_batch_describe(&b, text, sizeof(text));
	assert_string_equal(text, "nft[25970] deleted table inet vmnet_broker (the same batch "
				  "deleted inet filter: flush ruleset?)");
}

/* With a span, flush ruleset deletes table bridge vmnet_broker too. */
static void test_flush_ruleset_with_bridge(void **state)
{
	struct nft_batch b = {};
	char text[256];

	assert_false(feed_object(&b, NFT_MSG_DELTABLE, NFPROTO_INET, NFTA_TABLE_NAME,
				 "vmnet_broker", 0, NULL));
	assert_false(feed_object(&b, NFT_MSG_DELTABLE, NFPROTO_BRIDGE, NFTA_TABLE_NAME,
				 "vmnet_broker", 0, NULL));
	assert_true(feed_gen(&b, 19, 25971, "nft"));
	assert_true(b.table_deleted);
	assert_true(b.bridge_deleted);
	nft_batch_describe(&b, text, sizeof(text));
	assert_string_equal(text, "nft[25971] deleted table inet vmnet_broker and table bridge "
				  "vmnet_broker");
}

/* The overlay filter alone removed or edited: ours too (a restore rewrites it). */
static void test_bridge_table_alone(void **state)
{
	struct nft_batch b = {};
	char text[256];

	assert_false(feed_object(&b, NFT_MSG_DELTABLE, NFPROTO_BRIDGE, NFTA_TABLE_NAME,
				 "vmnet_broker", 0, NULL));
	assert_true(feed_gen(&b, 20, 25972, "nft"));
	assert_true(b.table);
	assert_false(b.table_deleted);
	nft_batch_describe(&b, text, sizeof(text));
	assert_string_equal(text, "nft[25972] deleted table bridge vmnet_broker");
	nft_batch_reset(&b);
	assert_false(feed_object(&b, NFT_MSG_DELRULE, NFPROTO_BRIDGE, NFTA_RULE_TABLE,
				 "vmnet_broker", NFTA_RULE_CHAIN, "overlay_vmvx100"));
	assert_true(feed_gen(&b, 21, 25973, "nft"));
	assert_true(b.table);
	nft_batch_describe(&b, text, sizeof(text));
	assert_string_equal(text, "nft[25973] deleted 1 rule(s) in chain overlay_vmvx100 of table "
				  "bridge vmnet_broker");
	/* Another bridge table is not ours. */
	nft_batch_reset(&b);
	assert_false(feed_object(&b, NFT_MSG_DELTABLE, NFPROTO_BRIDGE, NFTA_TABLE_NAME, "filter", 0,
				 NULL));
	assert_true(feed_gen(&b, 22, 25974, "nft"));
	assert_false(b.table);
}

static void test_one_rule_deleted(void **state)
{
	struct nft_batch b = {};
	char text[256];

	assert_false(feed_object(&b, NFT_MSG_DELRULE, NFPROTO_INET, NFTA_RULE_TABLE, "vmnet_broker",
				 NFTA_RULE_CHAIN, "forward"));
	assert_true(feed_gen(&b, 16, 27747, "nft"));
	nft_batch_describe(&b, text, sizeof(text));
	assert_string_equal(text, "nft[27747] deleted 1 rule(s) in chain forward");
}

/* Our own batches come back too; the kernel names us. */
static void test_ours(void **state)
{
	struct nft_batch b = {};

	assert_false(feed_object(&b, NFT_MSG_NEWSETELEM, NFPROTO_INET, NFTA_SET_ELEM_LIST_TABLE,
				 "vmnet_broker", 0, NULL));
	assert_true(feed_gen(&b, 17, SELF, "vmnet-brokerd"));
	assert_true(b.ours);
}

/* iptables-nft changing Docker's table: not ours, not our table, but ip filter. */
static void test_iptables_nft(void **state)
{
	struct nft_batch b = {};
	char text[256];

	assert_false(feed_object(&b, NFT_MSG_NEWCHAIN, NFPROTO_IPV4, NFTA_CHAIN_TABLE, "filter",
				 NFTA_CHAIN_NAME, "FORWARD"));
	assert_true(feed_gen(&b, 18, 21844, "iptables"));
	assert_false(b.table);
	assert_true(b.filter[0]);
	assert_false(b.filter[1]);
	nft_batch_describe(&b, text, sizeof(text));
	assert_string_equal(text, "iptables[21844] changed table ip filter");
	nft_batch_reset(&b);
	b.lost = true;
	nft_batch_describe(&b, text, sizeof(text));
	assert_string_equal(text, "the kernel dropped nftables events; anything may have changed");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flush_ruleset),
		cmocka_unit_test(test_flush_ruleset_with_bridge),
		cmocka_unit_test(test_bridge_table_alone),
		cmocka_unit_test(test_one_rule_deleted),
		cmocka_unit_test(test_ours),
		cmocka_unit_test(test_iptables_nft),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
