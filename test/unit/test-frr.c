/* test-frr.c - unit tests of frr-plan.c: bgpd's running configuration read, and what to send */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "frr-plan.h"
#include "util.h"

#define A(a, b, c, d) \
	((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

/* What `vtysh -d bgpd -c 'show running-config'` printed on FRR 8.4 with the broker's part. */
static const char running[] = "Building configuration...\n"
			      "\n"
			      "Current configuration:\n"
			      "!\n"
			      "frr version 8.4.4\n"
			      "frr defaults traditional\n"
			      "hostname h1\n"
			      "!\n"
			      "router bgp 65000 vrf blue\n"
			      " neighbor 10.0.0.9 peer-group vmnet-broker\n"
			      "exit\n"
			      "!\n"
			      "router bgp 65000\n"
			      " bgp router-id 198.51.100.1\n"
			      " neighbor vmnet-broker peer-group\n"
			      " neighbor vmnet-broker remote-as internal\n"
			      " neighbor vmnet-broker update-source 198.51.100.1\n"
			      " neighbor 198.51.100.2 peer-group vmnet-broker\n"
			      " neighbor 198.51.100.3 peer-group vmnet-broker\n"
			      " neighbor 192.0.2.7 remote-as 65000\n"
			      " neighbor mine peer-group\n"
			      " neighbor 192.0.2.8 peer-group mine\n"
			      " !\n"
			      " address-family ipv4 unicast\n"
			      "  no neighbor vmnet-broker activate\n"
			      " exit-address-family\n"
			      " !\n"
			      " address-family l2vpn evpn\n"
			      "  neighbor vmnet-broker activate\n"
			      "  advertise-all-vni\n"
			      "  vni 100\n"
			      "  exit-vni\n"
			      "  vni 4000\n"
			      "  exit-vni\n"
			      " exit-address-family\n"
			      "exit\n"
			      "!\n"
			      "end\n";

static void test_parse(void **state)
{
	struct frr_running r;

	assert_int_equal(frr_running_parse(running, &r), 0);
	assert_int_equal(r.asn, 65000);
	assert_true(r.router_id && r.group && !r.group_clients && r.advertise_all_vni);
	/* The default VRF's members of the broker's groups only. */
	assert_int_equal(r.n_peers, 2);
	assert_int_equal(r.peers[0].address, A(198, 51, 100, 2));
	assert_int_equal(r.peers[1].address, A(198, 51, 100, 3));
	assert_false(r.peers[0].client);
	assert_int_equal(r.n_vnis, 2);
	assert_int_equal(r.vnis[1], 4000);
	frr_running_clear(&r);

	assert_int_equal(frr_running_parse("!\nhostname x\n!\nend\n", &r), 0);
	assert_int_equal(r.asn, 0);
	assert_int_equal(r.n_peers, 0);
	frr_running_clear(&r);
}

/* The plan as one string, a command per line. */
static char *plan_text(const struct frr_running *run, const struct frr_want *want, int *ret)
{
	char **v = NULL, *text = NULL;
	size_t n = 0, size = 0;
	FILE *f;

	*ret = frr_plan(run, want, &v, &n);
	f = open_memstream(&text, &size);
	assert_non_null(f);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s\n", v[i]);
	fclose(f);
	frr_commands_free(v, n);
	return text;
}

static void test_plan_from_nothing(void **state)
{
	struct frr_peer peers[] = { { A(198, 51, 100, 2), false }, { A(198, 51, 100, 3), true } };
	uint32_t vnis[] = { 100 };
	struct frr_want w = { .asn = 65000,
			      .local = A(198, 51, 100, 1),
			      .peers = peers,
			      .n_peers = 2,
			      .vnis = vnis,
			      .n_vnis = 1,
			      .owned = vnis,
			      .n_owned = 1 };
	struct frr_running r = {};
	char *t;
	int rc;

	t = plan_text(&r, &w, &rc);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(t, "configure terminal\nrouter bgp 65000\nbgp router-id 198.51.100.1\n"));
	assert_non_null(strstr(t, "neighbor vmnet-broker update-source 198.51.100.1\n"));
	assert_non_null(strstr(t, "neighbor vmnet-broker timers 3 9\n"));
	assert_non_null(strstr(t, "neighbor vmnet-broker-clients peer-group\n"));
	assert_non_null(strstr(t, "neighbor 198.51.100.2 peer-group vmnet-broker\n"));
	assert_non_null(strstr(t, "neighbor 198.51.100.3 peer-group vmnet-broker-clients\n"));
	assert_non_null(strstr(t, "neighbor vmnet-broker-clients route-reflector-client\n"));
	assert_non_null(strstr(t, "address-family ipv4 unicast\nno neighbor vmnet-broker activate\n"));
	assert_non_null(strstr(t, "advertise-all-vni\nvni 100\nexit-vni\nexit-address-family\nend\n"));
	assert_null(strstr(t, "no neighbor 198"));
	free(t);
}

static void test_plan_over_what_is_there(void **state)
{
	struct frr_peer peers[] = { { A(198, 51, 100, 2), false } };
	uint32_t vnis[] = { 100 }, owned[] = { 100, 4000 };
	struct frr_want w = { .asn = 65000,
			      .local = A(198, 51, 100, 1),
			      .peers = peers,
			      .n_peers = 1,
			      .vnis = vnis,
			      .n_vnis = 1,
			      .owned = owned,
			      .n_owned = 2 };
	struct frr_running r;
	char *t;
	int rc;

	assert_int_equal(frr_running_parse(running, &r), 0);
	t = plan_text(&r, &w, &rc);
	assert_int_equal(rc, 0);
	/* Its router-id stays; a host gone from the spans goes, the user's peers stay. */
	assert_null(strstr(t, "bgp router-id"));
	assert_non_null(strstr(t, "no neighbor 198.51.100.3\n"));
	assert_null(strstr(t, "192.0.2"));
	/* The broker's stale stanza goes, one it does not own would stay. */
	assert_non_null(strstr(t, "no vni 4000\n"));
	free(t);
	owned[1] = 5;
	t = plan_text(&r, &w, &rc);
	assert_null(strstr(t, "no vni"));
	free(t);
	/* Another AS runs: nothing is sent. */
	w.asn = 65001;
	t = plan_text(&r, &w, &rc);
	assert_int_equal(rc, FRR_E_ASN);
	assert_string_equal(t, "");
	free(t);
	frr_running_clear(&r);
}

static void test_plan_without_spans(void **state)
{
	uint32_t owned[] = { 100 };
	struct frr_want w = { .owned = owned, .n_owned = 1 };
	struct frr_running r, none = { .asn = 65000 };
	char *t;
	int rc;

	assert_int_equal(frr_running_parse(running, &r), 0);
	t = plan_text(&r, &w, &rc);
	assert_int_equal(rc, 0);
	assert_non_null(
		strstr(t, "router bgp 65000\naddress-family l2vpn evpn\nno vni 100\n"
			  "exit-address-family\nno neighbor 198.51.100.2\n"
			  "no neighbor 198.51.100.3\nno neighbor vmnet-broker peer-group\nend\n"));
	/* advertise-all-vni only when it was the broker's. */
	assert_null(strstr(t, "advertise-all-vni"));
	free(t);
	w.advertise_ours = true;
	t = plan_text(&r, &w, &rc);
	assert_non_null(strstr(t, "no vni 100\nno advertise-all-vni\n"));
	free(t);
	frr_running_clear(&r);
	/* Nothing of the broker's there: nothing to send. */
	t = plan_text(&none, &w, &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(t, "");
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_plan_from_nothing),
		cmocka_unit_test(test_plan_over_what_is_there),
		cmocka_unit_test(test_plan_without_spans),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
