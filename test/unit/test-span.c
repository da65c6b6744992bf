/* test-span.c - unit tests of config-span.c and span.c's pure parts: a network on several hosts */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "frr-plan.h"
#include "pool.h"
#include "span.h"
#include "util.h"

#include "config-test.h"

/* A valid file around a span: fixed subnet and prefix, MTU 1450. */
#define FILE_WITH(span)                                                                      \
	"{\"mode\": \"shared\", \"subnet\": \"192.168.100.1\", \"mask\": \"255.255.255.0\"," \
	" \"ipv6_prefix\": \"fd00:100::\", \"mtu\": 1450, \"span\": " span "}"
#define HOSTS3                                                                           \
	"\"hosts\": [{\"address\": \"198.51.100.1\", \"slice\": \"192.168.100.64/26\"}," \
	" {\"address\": \"198.51.100.2\", \"slice\": \"192.168.100.128/26\"},"           \
	" {\"address\": \"198.51.100.3\", \"slice\": \"192.168.100.192/26\"}]"

static void test_static_and_evpn(void **state)
{
	struct network_config c, copy;

	parse_ok(FILE_WITH("{\"vni\": 100, \"control\": \"static\", " HOSTS3 "}"), &c);
	assert_int_equal(c.span.vni, 100);
	assert_int_equal(c.span.control, SPAN_STATIC);
	assert_int_equal(c.span.port, SPAN_PORT_DEFAULT);
	assert_int_equal(c.span.underlay_mtu, 1500);
	assert_int_equal(c.span.n_hosts, 3);
	assert_int_equal(c.span.hosts[1].address, A(198, 51, 100, 2));
	assert_int_equal(c.span.hosts[2].slice.addr, A(192, 168, 100, 192));
	assert_int_equal(c.span.hosts[2].slice.len, 26);
	assert_int_equal(network_config_copy(&copy, &c), 0);
	assert_ptr_not_equal(copy.span.hosts, c.span.hosts);
	assert_int_equal(copy.span.hosts[0].address, A(198, 51, 100, 1));
	network_config_clear(&copy);
	network_config_clear(&c);

	parse_ok(FILE_WITH("{\"vni\": 16777215, \"control\": \"evpn\", \"port\": 8472,"
			   " \"underlay_mtu\": 9000, " HOSTS3 ","
			   " \"evpn\": {\"asn\": 4200000000, \"route_reflectors\": [\"198.51.100.3\"]}}"),
		 &c);
	assert_int_equal(c.span.control, SPAN_EVPN);
	assert_int_equal(c.span.asn, 4200000000u);
	assert_int_equal(c.span.port, 8472);
	assert_true(c.span.hosts[2].reflector && !c.span.hosts[0].reflector);
	network_config_clear(&c);

	/* Without DHCP no host needs a slice. */
	parse_ok("{\"mode\": \"host\", \"subnet\": \"10.1.0.1\", \"mask\": \"255.255.0.0\","
		 " \"ipv6_prefix\": \"fd00:1::\", \"mtu\": 1400, \"dhcp\": false, \"span\": {\"vni\": 7,"
		 " \"control\": \"static\", \"hosts\": [{\"address\": \"10.9.0.1\"},"
		 " {\"address\": \"10.9.0.2\"}]}}",
		 &c);
	network_config_clear(&c);
}

static void test_bad_spans(void **state)
{
	parse_bad(FILE_WITH("[]"), "span", "must be an object");
	parse_bad(FILE_WITH("{\"control\": \"static\", " HOSTS3 "}"), "span.vni", "is required");
	parse_bad(FILE_WITH("{\"vni\": 0, \"control\": \"static\", " HOSTS3 "}"), "span.vni",
		  "from 1 to 16777215");
	parse_bad(FILE_WITH("{\"vni\": 16777216, \"control\": \"static\", " HOSTS3 "}"), "span.vni",
		  "from 1 to 16777215");
	parse_bad(FILE_WITH("{\"vni\": 1, \"control\": \"flood\", " HOSTS3 "}"), "span.control",
		  "\"static\" or \"evpn\"");
	parse_bad(FILE_WITH("{\"vni\": 1, \"control\": \"static\", \"port\": 0, " HOSTS3 "}"),
		  "span.port", "from 1 to 65535");
	parse_bad(FILE_WITH("{\"vni\": 1, \"control\": \"static\", \"mtu\": 1, " HOSTS3 "}"),
		  "span.mtu", "unknown key");
	parse_bad(FILE_WITH("{\"vni\": 1, \"control\": \"static\", \"hosts\": "
			    "[{\"address\": \"198.51.100.1\", \"slice\": \"192.168.100.64/26\"}]}"),
		  "span.hosts", "2 to 64 hosts");
	parse_bad(FILE_WITH("{\"vni\": 1, \"control\": \"static\", \"hosts\": "
			    "[{\"address\": \"fd00::1\"}, {\"address\": \"198.51.100.2\"}]}"),
		  "span.hosts[0].address", "IPv6 underlays are not supported");
	parse_bad(FILE_WITH("{\"vni\": 1, \"control\": \"static\", \"hosts\": "
			    "[{\"address\": \"224.0.0.1\"}, {\"address\": \"127.0.0.1\"}]}"),
		  "span.hosts[1].address", "not a unicast address");
	parse_bad(FILE_WITH("{\"vni\": 1, \"control\": \"static\", \"hosts\": "
			    "[{\"address\": \"198.51.100.1\", \"x\": 1}, {\"slice\": \"192.168.100.0/25\"}]}"),
		  "span.hosts[0].x", "unknown key");
	parse_bad(FILE_WITH("{\"vni\": 1, \"control\": \"static\", \"hosts\": "
			    "[{\"address\": \"198.51.100.1\"}, {\"slice\": \"192.168.100.0/25\"}]}"),
		  "span.hosts[1].address", "is required");
	parse_bad(FILE_WITH("{\"vni\": 1, \"control\": \"static\", \"hosts\": "
			    "[{\"address\": \"198.51.100.1\", \"slice\": \"192.168.100.65/26\"},"
			    " {\"address\": \"198.51.100.1\", \"slice\": \"x\"}]}"),
		  "span.hosts[0].slice", "host bits set");
	parse_bad(FILE_WITH("{\"vni\": 1, \"control\": \"static\", \"hosts\": "
			    "[{\"address\": \"198.51.100.1\", \"slice\": \"192.168.100.64/26\"},"
			    " {\"address\": \"198.51.100.1\", \"slice\": \"192.168.100.128/26\"}]}"),
		  "span.hosts[1].address", "already the address of span.hosts[0]");
	parse_bad(FILE_WITH("{\"vni\": 1, \"control\": \"evpn\", " HOSTS3 "}"), "span.evpn",
		  "is required");
	parse_bad(FILE_WITH("{\"vni\": 1, \"control\": \"static\", " HOSTS3 ", \"evpn\": {}}"),
		  "span.evpn", "only with \"control\": \"evpn\"");
	parse_bad(FILE_WITH("{\"vni\": 1, \"control\": \"evpn\", " HOSTS3 ", \"evpn\": {}}"),
		  "span.evpn.asn", "is required");
	parse_bad(FILE_WITH("{\"vni\": 1, \"control\": \"evpn\", " HOSTS3 ", \"evpn\": {\"asn\": 0}}"),
		  "span.evpn.asn", "from 1 to");
	parse_bad(FILE_WITH("{\"vni\": 1, \"control\": \"evpn\", " HOSTS3
			    ", \"evpn\": {\"asn\": 1, \"route_reflectors\": [\"198.51.100.9\"]}}"),
		  "span.evpn.route_reflectors[0]", "not the address of one of span.hosts");
}

static void test_what_a_span_needs_of_its_file(void **state)
{
	parse_bad("{\"mode\": \"shared\", \"ipv6_prefix\": \"fd00:100::\", \"mtu\": 1450, \"span\":"
		  " {\"vni\": 1, \"control\": \"static\", " HOSTS3 "}}",
		  "span", "needs a fixed 'subnet'");
	parse_bad("{\"mode\": \"shared\", \"subnet\": \"192.168.100.1\", \"mask\": \"255.255.255.0\","
		  " \"mtu\": 1450, \"span\": {\"vni\": 1, \"control\": \"static\", " HOSTS3 "}}",
		  "span", "needs a fixed 'ipv6_prefix'");
	/* Without "mtu" the span is to blame: 1500 is the default. */
	parse_bad("{\"mode\": \"shared\", \"subnet\": \"192.168.100.1\", \"mask\": \"255.255.255.0\","
		  " \"ipv6_prefix\": \"fd00:100::\", \"span\": {\"vni\": 1, \"control\": \"static\", " HOSTS3
		  "}}",
		  "span", "at most 1450");
	parse_bad(FILE_WITH("{\"vni\": 1, \"control\": \"static\", \"underlay_mtu\": 1480, " HOSTS3 "}"),
		  "mtu", "at most 1430");
	parse_bad("{\"mode\": \"shared\", \"subnet\": \"192.168.100.1\", \"mask\": \"255.255.255.0\","
		  " \"ipv6_prefix\": \"fd00:100::\", \"mtu\": 1450, \"nat66\": false,"
		  " \"span\": {\"vni\": 1, \"control\": \"static\", " HOSTS3 "}}",
		  "nat66", "must stay on");
	parse_bad("{\"mode\": \"shared\", \"subnet\": \"192.168.100.1\", \"mask\": \"255.255.255.0\","
		  " \"ipv6_prefix\": \"fd00:100::\", \"mtu\": 1450, \"port_forwards\": [{\"protocol\":"
		  " \"tcp\", \"external_port\": 2222, \"internal_address\": \"192.168.100.10\","
		  " \"internal_port\": 22}], \"span\": {\"vni\": 1, \"control\": \"static\", " HOSTS3
		  "}}",
		  "port_forwards", "not with 'span'");
	parse_bad(FILE_WITH("{\"vni\": 1, \"control\": \"static\", \"hosts\": "
			    "[{\"address\": \"198.51.100.1\", \"slice\": \"192.168.101.0/26\"},"
			    " {\"address\": \"198.51.100.2\", \"slice\": \"192.168.100.0/23\"}]}"),
		  "span.hosts[0].slice", "not inside the subnet 192.168.100.0/24");
	parse_bad(FILE_WITH("{\"vni\": 1, \"control\": \"static\", \"hosts\": "
			    "[{\"address\": \"198.51.100.1\", \"slice\": \"192.168.100.0/25\"},"
			    " {\"address\": \"198.51.100.2\", \"slice\": \"192.168.100.64/26\"}]}"),
		  "span.hosts[1].slice", "overlaps the slice of span.hosts[0]");
	parse_bad(FILE_WITH("{\"vni\": 1, \"control\": \"static\", \"hosts\": "
			    "[{\"address\": \"198.51.100.1\", \"slice\": \"192.168.100.0/25\"},"
			    " {\"address\": \"198.51.100.2\"}]}"),
		  "span.hosts[1].slice", "is required with \"dhcp\": true");
	/* DHCP for any MAC comes from each host's slice: it must have room for it and for ports. */
	parse_bad(FILE_WITH("{\"vni\": 1, \"control\": \"static\", \"hosts\": "
			    "[{\"address\": \"198.51.100.1\", \"slice\": \"192.168.100.64/26\"},"
			    " {\"address\": \"198.51.100.2\", \"slice\": \"192.168.100.128/30\"}]}"),
		  "span.hosts[1].slice", "too small for a dynamic range");
	parse_bad("{\"mode\": \"shared\", \"subnet\": \"192.168.100.1\", \"mask\": \"255.255.255.0\","
		  " \"ipv6_prefix\": \"fd00:100::\", \"mtu\": 1450, \"dhcp_range\": {\"start\":"
		  " \"192.168.100.100\", \"end\": \"192.168.100.160\"}, \"span\": {\"vni\": 1,"
		  " \"control\": \"static\", " HOSTS3 "}}",
		  "dhcp_range", "does not reach into span.hosts[2].slice (192.168.100.192/26)");
	parse_bad("{\"mode\": \"shared\", \"subnet\": \"192.168.100.1\", \"mask\": \"255.255.255.0\","
		  " \"ipv6_prefix\": \"fd00:100::\", \"mtu\": 1450, \"dhcp_range\": {\"start\":"
		  " \"192.168.100.60\", \"end\": \"192.168.100.220\"}, \"span\": {\"vni\": 1,"
		  " \"control\": \"static\", " HOSTS3 "}}",
		  "dhcp_range", "leaves no address of 192.168.100.128/26 (span.hosts[1].slice)");
	/* A range that reaches into every slice and leaves each some room is fine: two hosts. */
	{
		struct network_config c;

		parse_ok("{\"mode\": \"shared\", \"subnet\": \"192.168.100.1\", \"mask\":"
			 " \"255.255.255.0\", \"ipv6_prefix\": \"fd00:100::\", \"mtu\": 1450,"
			 " \"dhcp_range\": {\"start\": \"192.168.100.100\", \"end\":"
			 " \"192.168.100.200\"}, \"span\": {\"vni\": 1, \"control\": \"static\","
			 " \"hosts\": [{\"address\": \"198.51.100.1\", \"slice\": \"192.168.100.0/25\"},"
			 " {\"address\": \"198.51.100.2\", \"slice\": \"192.168.100.128/25\"}]}}",
			 &c);
		network_config_clear(&c);
	}
}

static int cross(const char *a, const char *b, struct config_errors errs[2])
{
	struct network_config ca, cb;
	const struct network_config *v[2] = { &ca, &cb };

	parse_ok(a, &ca);
	parse_ok(b, &cb);
	memset(errs, 0, 2 * sizeof(*errs));
	assert_int_equal(config_check_files(v, 2, errs), 0);
	network_config_clear(&ca);
	network_config_clear(&cb);
	return (int)(errs[0].n + errs[1].n);
}

static void test_files_against_each_other(void **state)
{
	struct config_errors errs[2];
	/* Both files are named 'lab': @b's own domain keeps their names apart. */
	const char *b =
		"{\"mode\": \"shared\", \"subnet\": \"192.168.101.1\", \"mask\": \"255.255.255.0\","
		" \"ipv6_prefix\": \"fd00:101::\", \"mtu\": 1450, \"dhcp\": false,"
		" \"domain\": \"lab2.vmnet\", \"span\": {\"vni\": 100,"
		" \"control\": \"evpn\", \"evpn\": {\"asn\": 65001}, \"hosts\": [{\"address\":"
		" \"198.51.100.1\"}, {\"address\": \"198.51.100.2\"}]}}";

	assert_int_equal(cross(FILE_WITH("{\"vni\": 100, \"control\": \"evpn\", \"evpn\": {\"asn\":"
					 " 65000}, " HOSTS3 "}"),
			       b, errs),
			 4);
	assert_string_equal(errs[0].v[0].key, "span.vni");
	assert_non_null(strstr(errs[0].v[0].reason, "VNI 100 is also spanned by network 'lab'"));
	assert_string_equal(errs[1].v[1].key, "span.evpn.asn");
	assert_non_null(strstr(errs[1].v[1].reason, "ASN 65001"));
	config_errors_clear(&errs[0]);
	config_errors_clear(&errs[1]);
	/* Another VNI, a static span: no quarrel. */
	assert_int_equal(cross(FILE_WITH("{\"vni\": 101, \"control\": \"static\", " HOSTS3 "}"), b, errs),
			 0);
}

static void test_gateway_mac(void **state)
{
	uint8_t mac[6];
	char s[18];

	span_gateway_mac(0x123456, mac);
	assert_string_equal(mac_format(mac, s), "02:76:6d:12:34:56");
}

/* Host 2 of HOSTS3 on 192.168.100.0/24, with one reservation outside its slice. */
static void test_slice_only(void **state)
{
	struct network_config c;
	struct span_place place = { .self = 1 };
	struct span *s;
	struct host_map m;
	unsigned int h, n = 0;

	parse_ok("{\"mode\": \"shared\", \"subnet\": \"192.168.100.1\", \"mask\": \"255.255.255.0\","
		 " \"ipv6_prefix\": \"fd00:100::\", \"mtu\": 1450, \"dhcp_reservations\": [{\"mac\":"
		 " \"52:54:00:00:00:01\", \"address\": \"192.168.100.10\"}], \"span\": {\"vni\": 1,"
		 " \"control\": \"static\", " HOSTS3 "}}",
		 &c);
	assert_int_equal(span_new(&c.span, &place, &s), 0);
	assert_int_equal(s->n_peers, 2);
	assert_int_equal(s->peers[0], A(198, 51, 100, 1));
	assert_int_equal(s->peers[1], A(198, 51, 100, 3));
	assert_string_equal(s->vxlan, "vmvx1");
	host_map_init(&m, 24, 1);
	span_slice_only(s, &c, A(192, 168, 100, 0), &m);
	while (host_map_take(&m, &h) == 0) {
		assert_true((h >= 128 && h <= 191) || h == 10);
		n++;
	}
	assert_int_equal(n, 64 + 1);
	span_free(s);
	network_config_clear(&c);
}

/* Whom host @self of @text's span peers with, into @w. */
static void want_of(const char *text, size_t self, struct frr_want *w)
{
	struct span_place place = { .self = self };
	struct network_config c;
	struct span *s;

	parse_ok(text, &c);
	assert_int_equal(span_new(&c.span, &place, &s), 0);
	assert_int_equal(span_want(s, w), 0);
	span_free(s);
	network_config_clear(&c);
}

static void test_whom_a_host_peers_with(void **state)
{
	const char *mesh = FILE_WITH("{\"vni\": 5, \"control\": \"evpn\", \"evpn\": {\"asn\": 65000},"
				     " " HOSTS3 "}");
	const char *rr = FILE_WITH("{\"vni\": 6, \"control\": \"evpn\", \"evpn\": {\"asn\": 65000,"
				   " \"route_reflectors\": [\"198.51.100.1\"]}, " HOSTS3 "}");
	struct frr_want w = {};

	want_of(mesh, 0, &w);
	assert_int_equal(w.asn, 65000);
	assert_int_equal(w.local, A(198, 51, 100, 1));
	assert_int_equal(w.n_peers, 2);
	assert_false(w.peers[0].client || w.peers[1].client);
	assert_int_equal(w.n_vnis, 1);
	frr_want_clear(&w);
	/* The reflector peers with all, as their reflector; the others with it alone. */
	want_of(rr, 0, &w);
	assert_int_equal(w.n_peers, 2);
	assert_true(w.peers[0].client && w.peers[1].client);
	frr_want_clear(&w);
	want_of(rr, 2, &w);
	assert_int_equal(w.n_peers, 1);
	assert_int_equal(w.peers[0].address, A(198, 51, 100, 1));
	assert_false(w.peers[0].client);
	/* Two spans: one set of neighbours, two VNIs. */
	want_of(mesh, 2, &w);
	assert_int_equal(w.n_peers, 2);
	assert_int_equal(w.n_vnis, 2);
	frr_want_clear(&w);
	/* A static span wants nothing of FRR. */
	want_of(FILE_WITH("{\"vni\": 7, \"control\": \"static\", " HOSTS3 "}"), 0, &w);
	assert_int_equal(w.n_vnis, 0);
	frr_want_clear(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_static_and_evpn),
		cmocka_unit_test(test_bad_spans),
		cmocka_unit_test(test_what_a_span_needs_of_its_file),
		cmocka_unit_test(test_files_against_each_other),
		cmocka_unit_test(test_gateway_mac),
		cmocka_unit_test(test_slice_only),
		cmocka_unit_test(test_whom_a_host_peers_with),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
