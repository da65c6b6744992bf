/* test-config.c - unit tests of config.c, config-parse.c and config-dir.c: NAME.json files */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config-dir.h"
#include "config.h"
#include "pool.h"
#include "util.h"

#include "config-test.h"

static void test_builtins(void **state)
{
	const struct network_config *s = config_builtin("shared"), *h = config_builtin("host");
	size_t n;

	assert_non_null(s);
	assert_non_null(h);
	assert_null(config_builtin("other"));
	assert_int_equal(s->mode, MODE_SHARED);
	assert_true(s->dhcp && s->dns_proxy && s->nat44 && s->nat66 && s->router_advertisement);
	assert_int_equal(h->mode, MODE_HOST);
	assert_false(h->nat44 || h->nat66);
	assert_int_equal(s->mtu, 1500);
	assert_null(s->source);
	assert_false(s->has_subnet || s->restricted || s->persistent);
	config_builtins(&n);
	assert_int_equal(n, 2);
	assert_string_equal(network_mode_to_string(MODE_HOST), "host");
	assert_null(network_mode_to_string(_MODE_MAX));
}

static void test_minimal_file_gets_defaults(void **state)
{
	struct network_config c;

	parse_ok("{\"mode\": \"shared\"}", &c);
	assert_string_equal(c.name, "lab");
	assert_string_equal(c.source, PATH);
	assert_int_equal(c.mode, MODE_SHARED);
	assert_true(c.dhcp && c.dns_proxy && c.nat44 && c.nat66 && c.router_advertisement);
	assert_false(c.persistent || c.has_subnet || c.has_ipv6_prefix || c.restricted);
	assert_int_equal(c.mtu, 1500);
	assert_string_equal(c.external_interface, "");
	assert_int_equal(c.n_forwards, 0);
	assert_null(c.description);
	network_config_clear(&c);

	/* A host network does not NAT unless... it cannot. */
	parse_ok("{\"mode\": \"host\"}", &c);
	assert_int_equal(c.mode, MODE_HOST);
	assert_false(c.nat44 || c.nat66);
	network_config_clear(&c);
}

/* The example of the contract, every key. */
static const char full[] =
	"{\"description\": \"My testing network\", \"mode\": \"shared\","
	" \"subnet\": \"192.168.42.1\", \"mask\": \"255.255.255.0\","
	" \"ipv6_prefix\": \"fd42:42:42:42::\", \"prefix_len\": 64,"
	" \"dhcp\": true, \"dns_proxy\": false, \"nat44\": true, \"nat66\": false,"
	" \"router_advertisement\": true, \"mtu\": 9000, \"external_interface\": \"eth0\","
	" \"port_forwards\": [{\"protocol\": \"tcp\", \"external_port\": 2222,"
	"   \"internal_address\": \"192.168.42.10\", \"internal_port\": 22},"
	"  {\"protocol\": \"udp\", \"external_port\": 2222,"
	"   \"internal_address\": \"192.168.42.11\", \"internal_port\": 53}],"
	" \"dhcp_reservations\": [{\"mac\": \"52:54:00:12:34:56\", \"address\": \"192.168.42.10\"}],"
	" \"allowed_users\": [\"alice\", \"1000\"], \"allowed_groups\": [\"vmnet\"],"
	" \"persistent\": true}";

static void check_full(const struct network_config *c)
{
	static const uint8_t prefix[16] = { 0xfd, 0x42, 0, 0x42, 0, 0x42, 0, 0x42 };
	static const uint8_t mac[6] = { 0x52, 0x54, 0, 0x12, 0x34, 0x56 };
	uint32_t net;
	uint8_t len;

	assert_string_equal(c->description, "My testing network");
	assert_true(c->has_subnet);
	assert_int_equal(c->gateway, A(192, 168, 42, 1));
	assert_int_equal(c->prefix_len, 24);
	network_config_subnet(c, &net, &len);
	assert_int_equal(net, A(192, 168, 42, 0));
	assert_true(c->has_ipv6_prefix);
	assert_memory_equal(c->ipv6_prefix, prefix, 16);
	assert_int_equal(c->ipv6_prefix_len, 64);
	assert_true(c->dhcp && !c->dns_proxy && c->nat44 && !c->nat66 && c->router_advertisement);
	assert_int_equal(c->mtu, 9000);
	assert_string_equal(c->external_interface, "eth0");
	assert_int_equal(c->n_forwards, 2);
	assert_int_equal(c->forwards[0].protocol, FORWARD_TCP);
	assert_int_equal(c->forwards[0].external_port, 2222);
	assert_int_equal(c->forwards[0].internal_address, A(192, 168, 42, 10));
	assert_int_equal(c->forwards[0].internal_port, 22);
	assert_int_equal(c->forwards[1].protocol, FORWARD_UDP);
	assert_int_equal(c->n_reservations, 1);
	assert_memory_equal(c->reservations[0].mac, mac, 6);
	assert_int_equal(c->reservations[0].address, A(192, 168, 42, 10));
	assert_true(c->restricted);
	assert_int_equal(c->n_allowed_users, 2);
	assert_string_equal(c->allowed_users[0], "alice");
	assert_string_equal(c->allowed_users[1], "1000");
	assert_int_equal(c->n_allowed_groups, 1);
	assert_string_equal(c->allowed_groups[0], "vmnet");
	assert_true(c->persistent);
}

static void test_every_key(void **state)
{
	struct network_config c, copy;

	parse_ok(full, &c);
	check_full(&c);
	/* A deep copy outlives the original. */
	assert_int_equal(network_config_copy(&copy, &c), 0);
	network_config_clear(&c);
	check_full(&copy);
	assert_string_equal(copy.source, PATH);
	network_config_clear(&copy);
	network_config_clear(&copy); /* clearing twice is harmless */
}

/* lease_port_forwards: parsed, copied, shown; absent, the default (all zero). */
static void test_lease_forwards(void **state)
{
	struct network_config c, copy;
	json_t *o, *lf;

	parse_ok("{\"mode\": \"shared\"}", &c);
	assert_false(c.lease_forwards.given || c.lease_forwards.closed || c.lease_forwards.restricted);
	assert_int_equal(c.lease_forwards.port_max, 0);
	o = config_json(&c, NULL);
	assert_null(json_object_get(o, "lease_port_forwards"));
	json_decref(o);
	network_config_clear(&c);

	parse_ok("{\"mode\": \"shared\", \"lease_port_forwards\": {\"allowed\": true, "
		 "\"port_range\": \"80-8080\", \"allowed_users\": [\"alice\", \"1001\"], "
		 "\"allowed_groups\": [\"vmdev\"]}}",
		 &c);
	assert_true(c.lease_forwards.given && c.lease_forwards.restricted);
	assert_false(c.lease_forwards.closed);
	assert_int_equal(c.lease_forwards.port_min, 80);
	assert_int_equal(c.lease_forwards.port_max, 8080);
	assert_int_equal(c.lease_forwards.n_allowed_users, 2);
	assert_string_equal(c.lease_forwards.allowed_groups[0], "vmdev");
	assert_int_equal(network_config_copy(&copy, &c), 0);
	network_config_clear(&c);
	assert_string_equal(copy.lease_forwards.allowed_users[1], "1001");
	o = config_json(&copy, NULL);
	lf = json_object_get(o, "lease_port_forwards");
	assert_true(json_is_true(json_object_get(lf, "allowed")));
	assert_string_equal(json_string_value(json_object_get(lf, "port_range")), "80-8080");
	assert_int_equal(json_array_size(json_object_get(lf, "allowed_users")), 2);
	json_decref(o);
	network_config_clear(&copy);

	parse_ok("{\"mode\": \"shared\", \"lease_port_forwards\": {\"allowed\": false, "
		 "\"port_range\": \"443\"}}",
		 &c);
	assert_true(c.lease_forwards.closed);
	assert_int_equal(c.lease_forwards.port_min, 443);
	assert_int_equal(c.lease_forwards.port_max, 443);
	network_config_clear(&c);
}

static void test_bad_values(void **state)
{
	static const struct {
		const char *text, *key, *words;
	} bad[] = {
		/* the file as a whole */
		{ "{\"mode\": \"shared\",", "", "not valid JSON" },
		{ "[1]", "", "one JSON object" },
		{ "{\"mode\": \"shared\", \"mode\": \"host\"}", "", "duplicate" },
		{ "{}", "mode", "required" },
		/* keys and types */
		{ "{\"mode\": \"shared\", \"dhcpp\": true}", "dhcpp", "unknown key" },
		{ "{\"mode\": \"nat\"}", "mode", "\"shared\" or \"host\"" },
		{ "{\"mode\": 1}", "mode", "string" },
		{ "{\"mode\": \"shared\", \"dhcp\": 1}", "dhcp", "true or false" },
		{ "{\"mode\": \"shared\", \"persistent\": \"yes\"}", "persistent", "true or false" },
		{ "{\"mode\": \"shared\", \"description\": 5}", "description", "string" },
		{ "{\"mode\": \"shared\", \"description\": \"a\\nb\"}", "description", "control" },
		/* mtu */
		{ "{\"mode\": \"shared\", \"mtu\": 1279}", "mtu", "1280 to 65535" },
		{ "{\"mode\": \"shared\", \"mtu\": 65536}", "mtu", "1280 to 65535" },
		{ "{\"mode\": \"shared\", \"mtu\": 1500.5}", "mtu", "integer" },
		/* subnet and mask */
		{ "{\"mode\": \"shared\", \"subnet\": \"10.1.0.1\"}", "mask", "required with 'subnet'" },
		{ "{\"mode\": \"shared\", \"mask\": \"255.255.255.0\"}", "subnet", "required" },
		{ "{\"mode\": \"shared\", \"subnet\": \"10.1.0\", \"mask\": \"255.255.255.0\"}",
		  "subnet", "not an IPv4 address" },
		{ "{\"mode\": \"shared\", \"subnet\": \"10.1.0.1\", \"mask\": \"255.0.255.0\"}",
		  "mask", "not contiguous" },
		{ "{\"mode\": \"shared\", \"subnet\": \"10.1.0.1\", \"mask\": \"255.254.0.0\"}",
		  "mask", "/16 to /30" },
		{ "{\"mode\": \"shared\", \"subnet\": \"10.1.0.1\", \"mask\": \"255.255.255.254\"}",
		  "mask", "/16 to /30" },
		{ "{\"mode\": \"shared\", \"subnet\": \"10.1.0.0\", \"mask\": \"255.255.255.0\"}",
		  "subnet", "network or broadcast" },
		{ "{\"mode\": \"shared\", \"subnet\": \"10.1.0.255\", \"mask\": \"255.255.255.0\"}",
		  "subnet", "network or broadcast" },
		{ "{\"mode\": \"shared\", \"subnet\": \"8.8.8.1\", \"mask\": \"255.255.255.0\"}",
		  "subnet", "private range" },
		{ "{\"mode\": \"shared\", \"subnet\": \"172.32.0.1\", \"mask\": \"255.255.255.0\"}",
		  "subnet", "private range" },
		{ "{\"mode\": \"shared\", \"subnet\": \"192.169.0.1\", \"mask\": \"255.255.0.0\"}",
		  "subnet", "private range" },
		/* the gateway in CIDR form */
		{ "{\"mode\": \"shared\", \"subnet\": \"10.1.0.1/24\", \"mask\": \"255.255.255.0\"}",
		  "mask", "not both" },
		{ "{\"mode\": \"shared\", \"subnet\": \"10.1.0.1/15\"}", "subnet", "/16 to /30" },
		{ "{\"mode\": \"shared\", \"subnet\": \"10.1.0.1/31\"}", "subnet", "/16 to /30" },
		{ "{\"mode\": \"shared\", \"subnet\": \"10.1.0.1/\"}", "subnet", "no prefix length" },
		{ "{\"mode\": \"shared\", \"subnet\": \"10.1.0.1/-24\"}", "subnet", "no prefix length" },
		{ "{\"mode\": \"shared\", \"subnet\": \"10.1.0.1/ 24\"}", "subnet", "no prefix length" },
		{ "{\"mode\": \"shared\", \"subnet\": \"10.1.0.1/24/24\"}", "subnet",
		  "no prefix length" },
		{ "{\"mode\": \"shared\", \"subnet\": \"10.1.0/24\"}", "subnet", "not an IPv4 address" },
		{ "{\"mode\": \"shared\", \"subnet\": \"10.1.0.0/24\"}", "subnet",
		  "network or broadcast" },
		{ "{\"mode\": \"shared\", \"subnet\": \"8.8.8.1/24\"}", "subnet", "private range" },
		{ "{\"mode\": \"shared\", \"subnet\": \"0123456789012345678.1/24\"}", "subnet",
		  "not an IPv4 address" },
		/* IPv6 */
		{ "{\"mode\": \"shared\", \"ipv6_prefix\": \"fd42::1\"}", "ipv6_prefix", "beyond" },
		{ "{\"mode\": \"shared\", \"ipv6_prefix\": \"fe80::\"}", "ipv6_prefix", "link-local" },
		{ "{\"mode\": \"shared\", \"ipv6_prefix\": \"ff02::\"}", "ipv6_prefix", "unicast" },
		{ "{\"mode\": \"shared\", \"ipv6_prefix\": \"::\"}", "ipv6_prefix", "unicast" },
		{ "{\"mode\": \"shared\", \"ipv6_prefix\": \"10.0.0.0\"}", "ipv6_prefix", "not an IPv6" },
		{ "{\"mode\": \"shared\", \"ipv6_prefix\": \"fd42::\", \"prefix_len\": 48}",
		  "prefix_len", "must be 64 with router advertisements" },
		{ "{\"mode\": \"shared\", \"ipv6_prefix\": \"fd42::\", \"prefix_len\": 65}",
		  "prefix_len", "16 to 64" },
		{ "{\"mode\": \"shared\", \"prefix_len\": 64}", "prefix_len", "missing" },
		/* the way out */
		{ "{\"mode\": \"shared\", \"external_interface\": \"a/b\"}", "external_interface",
		  "not a valid interface" },
		{ "{\"mode\": \"shared\", \"external_interface\": \"0123456789abcdef\"}",
		  "external_interface", "not a valid interface" },
		{ "{\"mode\": \"host\", \"nat44\": true}", "nat44", "only to mode \"shared\"" },
		{ "{\"mode\": \"host\", \"nat66\": true}", "nat66", "only to mode \"shared\"" },
		{ "{\"mode\": \"host\", \"external_interface\": \"eth0\"}", "external_interface",
		  "only to mode" },
		/* accounts */
		{ "{\"mode\": \"shared\", \"allowed_users\": \"alice\"}", "allowed_users", "array" },
		{ "{\"mode\": \"shared\", \"allowed_users\": [\"a b\"]}", "allowed_users[0]",
		  "not a valid name" },
		{ "{\"mode\": \"shared\", \"allowed_groups\": [\"vmnet\", 7]}", "allowed_groups[1]",
		  "string" },
		{ "{\"mode\": \"shared\", \"allowed_groups\": [\"-x\"]}", "allowed_groups[0]",
		  "not a valid name" },
		{ "{\"mode\": \"shared\", \"allowed_users\": [\"4294967295\"]}", "allowed_users[0]",
		  "not a valid" },
		/* lease_port_forwards */
		{ "{\"mode\": \"shared\", \"lease_port_forwards\": true}", "lease_port_forwards",
		  "must be an object" },
		{ "{\"mode\": \"shared\", \"lease_port_forwards\": {\"allow\": false}}",
		  "lease_port_forwards.allow", "unknown key" },
		{ "{\"mode\": \"shared\", \"lease_port_forwards\": {\"allowed\": 0}}",
		  "lease_port_forwards.allowed", "true or false" },
		{ "{\"mode\": \"shared\", \"lease_port_forwards\": {\"port_range\": \"2-1\"}}",
		  "lease_port_forwards.port_range", "not a port range" },
		{ "{\"mode\": \"shared\", \"lease_port_forwards\": {\"port_range\": \"0-10\"}}",
		  "lease_port_forwards.port_range", "not a port range" },
		{ "{\"mode\": \"shared\", \"lease_port_forwards\": {\"port_range\": \"1-65536\"}}",
		  "lease_port_forwards.port_range", "not a port range" },
		{ "{\"mode\": \"shared\", \"lease_port_forwards\": {\"port_range\": \"10-20x\"}}",
		  "lease_port_forwards.port_range", "not a port range" },
		{ "{\"mode\": \"shared\", \"lease_port_forwards\": {\"port_range\": 80}}",
		  "lease_port_forwards.port_range", "string" },
		{ "{\"mode\": \"shared\", \"lease_port_forwards\": {\"allowed_users\": [\"a b\"]}}",
		  "lease_port_forwards.allowed_users[0]", "not a valid name" },
		{ "{\"mode\": \"host\", \"lease_port_forwards\": {\"allowed\": false}}",
		  "lease_port_forwards", "only to mode \"shared\"" },
	};

	for (size_t i = 0; i < ELEMENTSOF(bad); i++)
		parse_bad(bad[i].text, bad[i].key, bad[i].words);
}

#define NET "\"mode\": \"shared\", \"subnet\": \"10.1.0.1\", \"mask\": \"255.255.255.0\""

static void test_bad_forwards_and_reservations(void **state)
{
	static const struct {
		const char *text, *key, *words;
	} bad[] = {
		{ "{" NET ", \"port_forwards\": {}}", "port_forwards", "array" },
		{ "{" NET ", \"port_forwards\": [5]}", "port_forwards[0]", "object" },
		{ "{" NET ", \"port_forwards\": [{\"protocol\": \"sctp\", \"external_port\": 1,"
		  " \"internal_address\": \"10.1.0.2\", \"internal_port\": 1}]}",
		  "port_forwards[0].protocol", "\"tcp\" or \"udp\"" },
		{ "{" NET ", \"port_forwards\": [{\"protocol\": \"tcp\", \"external_port\": 0,"
		  " \"internal_address\": \"10.1.0.2\", \"internal_port\": 1}]}",
		  "port_forwards[0].external_port", "1 to 65535" },
		{ "{" NET ", \"port_forwards\": [{\"protocol\": \"tcp\", \"external_port\": 1,"
		  " \"internal_address\": \"10.1.0.2\"}]}",
		  "port_forwards[0].internal_port", "required" },
		{ "{" NET ", \"port_forwards\": [{\"protocol\": \"tcp\", \"external_port\": 1,"
		  " \"internal_address\": \"10.1.0.2\", \"internal_port\": 1, \"x\": 1}]}",
		  "port_forwards[0].x", "unknown key" },
		{ "{" NET ", \"port_forwards\": [{\"protocol\": \"tcp\", \"external_port\": 1,"
		  " \"internal_address\": \"10.2.0.2\", \"internal_port\": 1}]}",
		  "port_forwards[0].internal_address", "outside the subnet" },
		{ "{" NET ", \"port_forwards\": [{\"protocol\": \"tcp\", \"external_port\": 1,"
		  " \"internal_address\": \"10.1.0.1\", \"internal_port\": 1}]}",
		  "port_forwards[0].internal_address", "gateway" },
		{ "{" NET ", \"port_forwards\": [{\"protocol\": \"tcp\", \"external_port\": 1,"
		  " \"internal_address\": \"10.1.0.2\", \"internal_port\": 1},"
		  " {\"protocol\": \"tcp\", \"external_port\": 1,"
		  " \"internal_address\": \"10.1.0.3\", \"internal_port\": 2}]}",
		  "port_forwards[1].external_port", "already forwarded" },
		{ "{\"mode\": \"shared\", \"port_forwards\": [{\"protocol\": \"tcp\", \"external_port\": 1,"
		  " \"internal_address\": \"10.1.0.2\", \"internal_port\": 1}]}",
		  "port_forwards", "fixed 'subnet'" },
		{ "{\"mode\": \"host\", \"subnet\": \"10.1.0.1\", \"mask\": \"255.255.255.0\","
		  " \"port_forwards\": [{\"protocol\": \"tcp\", \"external_port\": 1,"
		  " \"internal_address\": \"10.1.0.2\", \"internal_port\": 1}]}",
		  "port_forwards", "only to mode" },
		{ "{" NET ", \"dhcp_reservations\": [{\"mac\": \"01:00:5e:00:00:01\","
		  " \"address\": \"10.1.0.2\"}]}",
		  "dhcp_reservations[0].mac", "unicast MAC" },
		{ "{" NET ", \"dhcp_reservations\": [{\"mac\": \"52:54:00:00:00:01\","
		  " \"address\": \"10.1.0.255\"}]}",
		  "dhcp_reservations[0].address", "broadcast" },
		{ "{" NET ", \"dhcp_reservations\": [{\"mac\": \"52:54:00:00:00:01\","
		  " \"address\": \"10.1.0.2\"}, {\"mac\": \"52:54:00:00:00:01\","
		  " \"address\": \"10.1.0.3\"}]}",
		  "dhcp_reservations[1].mac", "already reserved" },
		{ "{" NET ", \"dhcp_reservations\": [{\"mac\": \"52:54:00:00:00:01\","
		  " \"address\": \"10.1.0.2\"}, {\"mac\": \"52:54:00:00:00:02\","
		  " \"address\": \"10.1.0.2\"}]}",
		  "dhcp_reservations[1].address", "already reserved" },
		{ "{" NET ", \"dhcp\": false, \"dhcp_reservations\": [{\"mac\": \"52:54:00:00:00:01\","
		  " \"address\": \"10.1.0.2\"}]}",
		  "dhcp_reservations", "no effect" },
		{ "{\"mode\": \"shared\", \"dhcp_reservations\": [{\"mac\": \"52:54:00:00:00:01\","
		  " \"address\": \"10.1.0.2\"}]}",
		  "dhcp_reservations", "fixed 'subnet'" },
		{ "{" NET ", \"dhcp_reservations\": [{\"address\": \"10.1.0.2\"}]}",
		  "dhcp_reservations[0].mac", "required" },
	};

	for (size_t i = 0; i < ELEMENTSOF(bad); i++)
		parse_bad(bad[i].text, bad[i].key, bad[i].words);
}

static void test_good_edges(void **state)
{
	static const char *const good[] = {
		"{\"mode\": \"shared\", \"subnet\": \"10.0.0.1\", \"mask\": \"255.255.0.0\"}",
		"{\"mode\": \"shared\", \"subnet\": \"172.31.255.254\", \"mask\": \"255.255.255.0\"}",
		"{\"mode\": \"shared\", \"subnet\": \"192.168.0.2\", \"mask\": \"255.255.255.252\"}",
		"{\"mode\": \"shared\", \"subnet\": \"192.168.0.2/30\"}",
		"{\"mode\": \"shared\", \"subnet\": \"10.0.0.1/16\"}",
		"{\"mode\": \"host\", \"nat44\": false, \"nat66\": false}",
		"{\"mode\": \"shared\", \"mtu\": 1280}",
		"{\"mode\": \"shared\", \"mtu\": 65535}",
		"{\"mode\": \"shared\", \"ipv6_prefix\": \"2001:db8:1:2::\"}",
		/* One string on two lines. NOLINTNEXTLINE(bugprone-suspicious-missing-comma) */
		"{\"mode\": \"shared\", \"ipv6_prefix\": \"fd42::\", \"prefix_len\": 48,"
		" \"router_advertisement\": false}",
		"{\"mode\": \"shared\", \"allowed_users\": [], \"allowed_groups\": [\"kvm\", \"0\"]}",
		"{\"mode\": \"shared\", \"allowed_users\": [\"machine$\", \"a.b-c_d\"]}",
		"{\"mode\": \"shared\", \"port_forwards\": [], \"dhcp_reservations\": []}",
		"{\"mode\": \"shared\", \"description\": \"\\u00e9t\\u00e9 \\u2014 ok\"}",
	};
	struct network_config c;

	for (size_t i = 0; i < ELEMENTSOF(good); i++) {
		parse_ok(good[i], &c);
		network_config_clear(&c);
	}
	/* The gateway in CIDR form is the gateway and the mask. */
	parse_ok("{\"mode\": \"shared\", \"subnet\": \"192.168.42.254/23\"}", &c);
	assert_true(c.has_subnet);
	assert_int_equal(c.gateway, 0xc0a82afe);
	assert_int_equal(c.prefix_len, 23);
	network_config_clear(&c);
	/* An empty allowed list restricts to root. */
	parse_ok("{\"mode\": \"shared\", \"allowed_users\": []}", &c);
	assert_true(c.restricted);
	network_config_clear(&c);
}

static void test_file_names(void **state)
{
	struct network_config c;
	struct config_errors e = { 0 };

	assert_int_equal(config_parse("bad name", "/d/bad name.json", "{\"mode\": \"shared\"}", 18,
				      &c, &e),
			 CONFIG_E_INVALID);
	assert_int_equal(e.n, 1);
	assert_string_equal(e.v[0].key, "");
	assert_non_null(strstr(e.v[0].reason, "not a valid network name"));
	config_errors_clear(&e);
	network_config_clear(&c);

	assert_int_equal(config_parse("shared", "/d/shared.json", "{\"mode\": \"shared\"}", 18, &c, &e),
			 CONFIG_E_INVALID);
	assert_non_null(strstr(e.v[0].reason, "built-in"));
	config_errors_clear(&e);
	network_config_clear(&c);
}

static void test_all_errors_at_once(void **state)
{
	struct network_config c;
	struct config_errors e;

	assert_int_equal(parse("{\"mode\": \"x\", \"mtu\": 1, \"dhcp\": 0, \"what\": 1}", &c, &e),
			 CONFIG_E_INVALID);
	assert_int_equal(e.n, 4);
	config_errors_clear(&e);
	network_config_clear(&c);
}

/* Two valid files, each parsed; Return: errors of config_check_files() for both. */
static size_t cross(const char *a, const char *b, struct config_errors errs[2])
{
	struct network_config ca, cb;
	struct config_errors e = { 0 };
	const struct network_config *v[2] = { &ca, &cb };
	size_t n;

	assert_int_equal(config_parse("a", "/d/a.json", a, strlen(a), &ca, &e), 0);
	assert_int_equal(config_parse("b", "/d/b.json", b, strlen(b), &cb, &e), 0);
	memset(errs, 0, 2 * sizeof(*errs));
	assert_int_equal(config_check_files(v, 2, errs), 0);
	n = errs[0].n + errs[1].n;
	network_config_clear(&ca);
	network_config_clear(&cb);
	return n;
}

static void test_files_against_each_other(void **state)
{
	struct config_errors errs[2];

	assert_int_equal(cross("{\"mode\": \"shared\", \"subnet\": \"10.1.0.1\", \"mask\": \"255.255.0.0\"}",
			       "{\"mode\": \"host\", \"subnet\": \"10.1.200.1\", \"mask\": \"255.255.255.0\"}",
			       errs),
			 2);
	assert_string_equal(errs[0].v[0].key, "subnet");
	assert_string_equal(errs[0].v[0].file, "/d/a.json");
	assert_non_null(strstr(errs[0].v[0].reason, "'b' (/d/b.json)"));
	assert_non_null(strstr(errs[1].v[0].reason, "'a' (/d/a.json)"));
	config_errors_clear(&errs[0]);
	config_errors_clear(&errs[1]);

	assert_int_equal(cross("{\"mode\": \"shared\", \"ipv6_prefix\": \"fd42::\", \"prefix_len\": 48,"
			       " \"router_advertisement\": false}",
			       "{\"mode\": \"shared\", \"ipv6_prefix\": \"fd42:0:0:7::\"}", errs),
			 2);
	assert_string_equal(errs[1].v[0].key, "ipv6_prefix");
	config_errors_clear(&errs[0]);
	config_errors_clear(&errs[1]);

	assert_int_equal(cross("{" NET ", \"port_forwards\": [{\"protocol\": \"udp\", \"external_port\": 53,"
			       " \"internal_address\": \"10.1.0.2\", \"internal_port\": 53}]}",
			       "{\"mode\": \"shared\", \"subnet\": \"10.2.0.1\", \"mask\": \"255.255.255.0\","
			       " \"port_forwards\": [{\"protocol\": \"tcp\", \"external_port\": 53,"
			       " \"internal_address\": \"10.2.0.2\", \"internal_port\": 53},"
			       " {\"protocol\": \"udp\", \"external_port\": 53,"
			       " \"internal_address\": \"10.2.0.3\", \"internal_port\": 53}]}",
			       errs),
			 2);
	assert_string_equal(errs[1].v[0].key, "port_forwards[1].external_port");
	assert_non_null(strstr(errs[1].v[0].reason, "udp port 53"));
	config_errors_clear(&errs[0]);
	config_errors_clear(&errs[1]);

	/* Neighbours do not overlap, and dynamic subnets never collide here. */
	assert_int_equal(cross("{\"mode\": \"shared\", \"subnet\": \"10.1.0.1\", \"mask\": \"255.255.255.0\"}",
			       "{\"mode\": \"shared\", \"subnet\": \"10.1.1.1\", \"mask\": \"255.255.255.0\","
			       " \"ipv6_prefix\": \"fd42::\"}",
			       errs),
			 0);
	assert_int_equal(cross("{\"mode\": \"shared\"}", "{\"mode\": \"host\"}", errs), 0);

	/* One domain for two networks: the host would not know whom to ask. */
	assert_int_equal(cross("{\"mode\": \"shared\", \"domain\": \"lab.test\"}",
			       "{\"mode\": \"host\", \"domain\": \"LAB.test\"}", errs),
			 2);
	assert_string_equal(errs[0].v[0].key, "domain");
	config_errors_clear(&errs[0]);
	config_errors_clear(&errs[1]);
	/* File a's default, a.vmnet, named by b. */
	assert_int_equal(cross("{\"mode\": \"shared\"}",
			       "{\"mode\": \"host\", \"domain\": \"a.vmnet\"}", errs),
			 2);
	config_errors_clear(&errs[0]);
	config_errors_clear(&errs[1]);
	/* A built-in's: only the file is wrong. */
	assert_int_equal(cross("{\"mode\": \"shared\", \"domain\": \"shared.vmnet\"}",
			       "{\"mode\": \"host\"}", errs),
			 1);
	assert_non_null(strstr(errs[0].v[0].reason, "built-in network 'shared'"));
	config_errors_clear(&errs[0]);
	config_errors_clear(&errs[1]);
	/* Without DNS a network has no names: its domain clashes with nothing. */
	assert_int_equal(cross("{\"mode\": \"shared\", \"dns_proxy\": false}",
			       "{\"mode\": \"host\", \"domain\": \"a.vmnet\"}", errs),
			 0);
}

/* A /24 lab network, the start of a file. */
#define LAB "\"mode\": \"shared\", \"subnet\": \"10.9.0.1\", \"mask\": \"255.255.255.0\""

static void test_dhcp_range(void **state)
{
	struct network_config c;

	parse_ok("{" LAB ", \"dhcp_range\": {\"start\": \"10.9.0.100\", \"end\": \"10.9.0.200\"},"
		 " \"dhcp_reservations\": [{\"mac\": \"52:54:00:00:00:01\", \"address\": \"10.9.0.10\"}]}",
		 &c);
	assert_true(c.has_dhcp_range);
	assert_int_equal(c.dhcp_range_start, A(10, 9, 0, 100));
	assert_int_equal(c.dhcp_range_end, A(10, 9, 0, 200));
	network_config_clear(&c);

	parse_bad("{\"mode\": \"shared\", \"dhcp_range\": {\"start\": \"10.9.0.100\","
		  " \"end\": \"10.9.0.200\"}}",
		  "dhcp_range", "fixed 'subnet'");
	parse_bad("{" LAB ", \"dhcp_range\": {\"start\": \"10.9.0.100\"}}", "dhcp_range.end",
		  "required");
	parse_bad("{" LAB ", \"dhcp_range\": {\"start\": \"10.9.0.100\", \"end\": \"x\"}}",
		  "dhcp_range.end", "not an IPv4");
	parse_bad("{" LAB ", \"dhcp_range\": [\"10.9.0.100\", \"10.9.0.200\"]}", "dhcp_range",
		  "must be an object");
	parse_bad("{" LAB ", \"dhcp_range\": {\"start\": \"10.9.1.100\", \"end\": \"10.9.0.200\"}}",
		  "dhcp_range.start", "outside the subnet");
	parse_bad("{" LAB ", \"dhcp_range\": {\"start\": \"10.9.0.200\", \"end\": \"10.9.0.100\"}}",
		  "dhcp_range", "after end");
	parse_bad("{\"mode\": \"shared\", \"subnet\": \"10.9.0.150\", \"mask\": \"255.255.255.0\","
		  " \"dhcp_range\": {\"start\": \"10.9.0.100\", \"end\": \"10.9.0.200\"}}",
		  "dhcp_range", "includes the gateway");
	parse_bad("{" LAB ", \"dhcp_range\": {\"start\": \"10.9.0.100\", \"end\": \"10.9.0.255\"}}",
		  "dhcp_range.end", "broadcast");
	parse_bad("{" LAB ", \"dhcp_range\": {\"start\": \"10.9.0.100\", \"end\": \"10.9.0.200\"},"
		  " \"dhcp_reservations\": [{\"mac\": \"52:54:00:00:00:01\", \"address\": \"10.9.0.150\"}]}",
		  "dhcp_reservations[0].address", "lies in dhcp_range");
	parse_bad("{" LAB ", \"dhcp_range\": {\"start\": \"10.9.0.100\", \"end\": \"10.9.0.200\"},"
		  " \"port_forwards\": [{\"protocol\": \"tcp\", \"external_port\": 2222,"
		  " \"internal_address\": \"10.9.0.101\", \"internal_port\": 22}]}",
		  "port_forwards[0].internal_address", "lies in dhcp_range");
	parse_bad("{" LAB ", \"dhcp\": false, \"dhcp_range\": {\"start\": \"10.9.0.100\","
		  " \"end\": \"10.9.0.200\"}}",
		  "dhcp_range", "no effect");
	/* Every address but the gateway dynamic: none left for ports. */
	parse_bad("{" LAB ", \"dhcp_range\": {\"start\": \"10.9.0.2\", \"end\": \"10.9.0.254\"}}",
		  "dhcp_range", "leaves no address");
	/* A /30: its one guest address is the range, or a port's; not both. */
	parse_bad("{\"mode\": \"shared\", \"subnet\": \"10.9.0.1\", \"mask\": \"255.255.255.252\","
		  " \"dhcp_range\": {\"start\": \"10.9.0.2\", \"end\": \"10.9.0.2\"}}",
		  "dhcp_range", "leaves no address");
}

static void test_domain(void **state)
{
	struct network_config c;
	char d[DNS_DOMAIN_MAX + 1];

	parse_ok("{\"mode\": \"shared\", \"domain\": \"Lab.Example\"}", &c);
	assert_string_equal(c.domain, "lab.example");
	assert_string_equal(config_domain(&c, d, sizeof(d)), "lab.example");
	network_config_clear(&c);
	parse_ok("{\"mode\": \"shared\"}", &c);
	assert_string_equal(config_domain(&c, d, sizeof(d)), "lab.vmnet");
	network_config_clear(&c);
	assert_string_equal(config_domain(config_builtin("shared"), d, sizeof(d)), "shared.vmnet");

	parse_bad("{\"mode\": \"shared\", \"domain\": \"a..b\"}", "domain", "not a DNS domain");
	parse_bad("{\"mode\": \"shared\", \"domain\": \"-a.b\"}", "domain", "not a DNS domain");
	parse_bad("{\"mode\": \"shared\", \"domain\": \"a_b.c\"}", "domain", "not a DNS domain");
	parse_bad("{\"mode\": \"shared\", \"domain\": \"lab.\"}", "domain", "not a DNS domain");
	parse_bad("{\"mode\": \"shared\", \"domain\": \"printers.local\"}", "domain",
		  "not a DNS domain");
	parse_bad("{\"mode\": \"shared\", \"domain\": 5}", "domain", "must be a string");
	parse_bad("{\"mode\": \"shared\", \"dns_proxy\": false, \"domain\": \"lab.test\"}",
		  "domain", "no effect");
}

static void test_dns_names(void **state)
{
	char d[DNS_DOMAIN_MAX + 1];

	assert_true(dns_label_is_valid("vm1"));
	assert_true(dns_label_is_valid("a-b"));
	assert_true(dns_label_is_valid("0"));
	assert_false(dns_label_is_valid(""));
	assert_false(dns_label_is_valid("-a"));
	assert_false(dns_label_is_valid("a-"));
	assert_false(dns_label_is_valid("a_b"));
	assert_false(dns_label_is_valid("a.b"));
	assert_false(dns_label_is_valid("qemu-helper pid 1"));
	assert_false(dns_label_is_valid(
		"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"));
	assert_true(dns_domain_is_valid("shared.vmnet"));
	assert_true(dns_domain_is_valid("lab"));
	assert_false(dns_domain_is_valid("local"));
	assert_false(dns_domain_is_valid("a.localhost"));
	assert_true(dns_domain_is_valid("notlocal"));
	assert_int_equal(dns_default_domain("My_Net", d, sizeof(d)), 0);
	assert_string_equal(d, "my-net.vmnet");
	assert_int_equal(dns_default_domain("lab.test", d, sizeof(d)), 0);
	assert_string_equal(d, "lab.test.vmnet");
	assert_int_equal(dns_default_domain("a_", d, sizeof(d)), -EINVAL);
	assert_string_equal(d, "");
}

static void test_json(void **state)
{
	struct network_config c;
	struct config_errors e;
	json_t *o;

	parse(full, &c, &e);
	o = config_json(&c, &e);
	assert_string_equal(json_string_value(json_object_get(o, "name")), "lab");
	assert_string_equal(json_string_value(json_object_get(o, "mode")), "shared");
	assert_string_equal(json_string_value(json_object_get(o, "source")), PATH);
	assert_string_equal(json_string_value(json_object_get(o, "description")), "My testing network");
	assert_true(json_is_true(json_object_get(o, "persistent")));
	assert_int_equal(json_array_size(json_object_get(o, "errors")), 0);
	json_decref(o);
	network_config_clear(&c);
	config_errors_clear(&e);

	/* A broken file shows its errors, and no mode when it has none. */
	parse("{\"mtu\": 1}", &c, &e);
	o = config_json(&c, &e);
	assert_null(json_object_get(o, "mode"));
	assert_int_equal(json_array_size(json_object_get(o, "errors")), 2);
	assert_string_equal(json_string_value(
				    json_object_get(json_array_get(json_object_get(o, "errors"), 0),
						    "file")),
			    PATH);
	json_decref(o);
	network_config_clear(&c);
	config_errors_clear(&e);

	o = config_json(config_builtin("host"), NULL);
	assert_string_equal(json_string_value(json_object_get(o, "source")), "builtin");
	json_decref(o);
}

/* ---- config-dir.c, on a temporary directory */

static void put_file(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_dir_refresh(void **state)
{
	char dir[] = "/tmp/test-config-XXXXXX", path[512];
	struct config_dir *d;
	const struct network_config *c;
	const struct config_entry *e;
	struct timespec ts[2] = { { 0, UTIME_OMIT }, { 1, 0 } };

	assert_non_null(mkdtemp(dir));
	put_file(dir, "a.json", "{\"mode\": \"shared\", \"description\": \"one\"}");
	put_file(dir, "b.json", "{\"mode\": \"bad\"}");
	put_file(dir, ".hidden.json", "{");
	put_file(dir, "notes.txt", "{");
	assert_int_equal(config_dir_new(dir, &d), 0);
	d->owner = geteuid();
	assert_int_equal(config_dir_refresh(d), 0);
	assert_int_equal(d->n, 2);
	assert_string_equal(d->v[0].name, "a");
	assert_string_equal(d->v[1].name, "b");

	assert_int_equal(config_dir_lookup(d, "a", &c, &e), 0);
	assert_string_equal(c->description, "one");
	assert_int_equal(config_dir_lookup(d, "b", &c, &e), CONFIG_E_INVALID);
	assert_string_equal(e->errors.v[0].key, "mode");
	assert_int_equal(config_dir_lookup(d, "c", &c, &e), CONFIG_E_NOT_FOUND);
	assert_null(e);
	assert_int_equal(config_dir_lookup(d, "shared", &c, NULL), 0);
	assert_null(c->source);

	/* A change of content with the same size and a new mtime is seen. */
	put_file(dir, "a.json", "{\"mode\": \"shared\", \"description\": \"two\"}");
	snprintf(path, sizeof(path), "%s/a.json", dir);
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
	assert_int_equal(config_dir_refresh(d), 0);
	assert_int_equal(config_dir_lookup(d, "a", &c, NULL), 0);
	assert_string_equal(c->description, "two");

	/* Two files with one subnet: both broken, until one goes. */
	put_file(dir, "b.json",
		 "{\"mode\": \"host\", \"subnet\": \"10.5.0.1\", \"mask\": \"255.255.255.0\"}");
	put_file(dir, "c.json",
		 "{\"mode\": \"host\", \"subnet\": \"10.5.0.9\", \"mask\": \"255.255.255.128\"}");
	assert_int_equal(config_dir_refresh(d), 0);
	assert_int_equal(config_dir_lookup(d, "b", &c, &e), CONFIG_E_INVALID);
	assert_int_equal(e->own.n, 0);
	assert_non_null(strstr(e->errors.v[0].reason, "'c'"));
	assert_int_equal(config_dir_lookup(d, "c", &c, &e), CONFIG_E_INVALID);
	snprintf(path, sizeof(path), "%s/c.json", dir);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(config_dir_refresh(d), 0);
	assert_int_equal(d->n, 2);
	assert_int_equal(config_dir_lookup(d, "b", &c, &e), 0);

	/* config_lookup() reads afresh and hands over a copy. */
	{
		struct network_config own;

		assert_int_equal(config_lookup(dir, "b", &own), 0);
		assert_int_equal(own.mode, MODE_HOST);
		network_config_clear(&own);
		assert_int_equal(config_lookup(dir, "nope", &own), CONFIG_E_NOT_FOUND);
		assert_int_equal(config_lookup(dir, "host", &own), 0);
		network_config_clear(&own);
	}

	snprintf(path, sizeof(path), "%s/a.json", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/b.json", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/.hidden.json", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/notes.txt", dir);
	unlink(path);
	assert_int_equal(rmdir(dir), 0);
	/* A missing directory has no files; that is not an error. */
	assert_int_equal(config_dir_refresh(d), 0);
	assert_int_equal(d->n, 0);
	config_dir_free(d);
}

/* The one error of @name in @d, whose reason must hold @want. */
static const struct config_entry *broken(const struct config_dir *d, const char *name, const char *want)
{
	const struct config_entry *e = config_dir_find(d, name);

	assert_non_null(e);
	assert_false(config_entry_valid(e));
	if (!strstr(e->errors.v[0].reason, want))
		fail_msg("%s: '%s' lacks '%s'", name, e->errors.v[0].reason, want);
	/* Listed under its own name and path, whatever is wrong with it. */
	assert_non_null(e->config.source);
	assert_non_null(strstr(e->config.source, ".json"));
	return e;
}

/* Whose files, which files, and what errors may quote (#16.6, #16.7). */
static void test_dir_trust(void **state)
{
	char dir[] = "/tmp/test-config-XXXXXX", path[512], target[512];
	const struct config_entry *e;
	struct config_dir *d;
	json_t *o;

	assert_non_null(mkdtemp(dir));
	put_file(dir, "good.json", "{\"mode\": \"host\"}");
	put_file(dir, "loose.json", "{\"mode\": \"host\"}");
	snprintf(path, sizeof(path), "%s/loose.json", dir);
	assert_int_equal(chmod(path, 0666), 0);
	snprintf(path, sizeof(path), "%s/fifo.json", dir);
	assert_int_equal(mkfifo(path, 0644), 0);
	/* A symlink to a trusted regular file is followed; to a FIFO, not. */
	snprintf(target, sizeof(target), "%s/.target", dir);
	put_file(dir, ".target", "{\"mode\": \"shared\"}");
	snprintf(path, sizeof(path), "%s/link.json", dir);
	assert_int_equal(symlink(target, path), 0);
	snprintf(target, sizeof(target), "%s/fifo.json", dir);
	snprintf(path, sizeof(path), "%s/linkfifo.json", dir);
	assert_int_equal(symlink(target, path), 0);
	snprintf(path, sizeof(path), "%s/dangling.json", dir);
	assert_int_equal(symlink("/nonexistent/x", path), 0);
	/* What a member could not read is never quoted; what anyone can read is. */
	put_file(dir, "private.json", "{\"mode\": \"SecretXyzzy\", \"SecretKey\": 1}");
	put_file(dir, "privjson.json", "SecretXyzzy");
	put_file(dir, "public.json", "{\"mode\": \"PublicXyzzy\"}");
	snprintf(path, sizeof(path), "%s/private.json", dir);
	assert_int_equal(chmod(path, 0600), 0);
	snprintf(path, sizeof(path), "%s/privjson.json", dir);
	assert_int_equal(chmod(path, 0600), 0);
	put_file(dir, "caf\xe9.json", "{\"mode\": \"host\"}");

	assert_int_equal(config_dir_new(dir, &d), 0);
	d->owner = geteuid();
	assert_int_equal(config_dir_refresh(d), 0);
	assert_true(config_entry_valid(config_dir_find(d, "good")));
	assert_true(config_entry_valid(config_dir_find(d, "link")));
	broken(d, "loose", "writable by group or others (mode 0666)");
	broken(d, "fifo", "a FIFO, not a regular file");
	broken(d, "linkfifo", "a symlink to a FIFO");
	broken(d, "dangling", "leads nowhere");
	e = broken(d, "private", "must be \"shared\" or \"host\", not \"...\"");
	for (size_t i = 0; i < e->errors.n; i++)
		assert_null(strstr(e->errors.v[i].reason, "Secret"));
	for (size_t i = 0; i < e->errors.n; i++)
		assert_null(strstr(e->errors.v[i].key, "Secret"));
	e = broken(d, "privjson", "not valid JSON: line 1");
	assert_null(strstr(e->errors.v[0].reason, "Secret"));
	broken(d, "public", "PublicXyzzy");
	e = broken(d, "caf\xe9", "not valid UTF-8");
	o = config_json(&e->config, &e->errors);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "name")), "caf?");
	json_decref(o);

	/* The directory's trust is every file's; a chmod alone counts. */
	assert_int_equal(chmod(dir, 0777), 0);
	assert_int_equal(config_dir_refresh(d), 0);
	broken(d, "good", "writable by group or others (mode 0777)");
	assert_int_equal(chmod(dir, 0755), 0);
	assert_int_equal(config_dir_refresh(d), 0);
	assert_true(config_entry_valid(config_dir_find(d, "good")));
	/* Another owner than the trusted one: neither the directory nor the files. */
	d->owner = geteuid() + 1;
	snprintf(path, sizeof(path), "%s/good.json", dir);
	assert_int_equal(chmod(path, 0640), 0); /* a change, for the refresh to look */
	assert_int_equal(config_dir_refresh(d), 0);
	broken(d, "good", "owned by uid");
	config_dir_free(d);

	/* check-config's view: its user reads only what it may, so anything is quoted. */
	assert_int_equal(config_dir_new(dir, &d), 0);
	d->owner = geteuid();
	config_dir_quote_all(d);
	assert_int_equal(config_dir_refresh(d), 0);
	broken(d, "private", "SecretXyzzy");
	config_dir_free(d);

	for (const char *const *f =
		     (const char *const[]){ "good.json", "loose.json", "fifo.json", ".target",
					    "link.json", "linkfifo.json", "dangling.json", "private.json",
					    "privjson.json", "public.json", "caf\xe9.json", NULL };
	     *f; f++) {
		snprintf(path, sizeof(path), "%s/%s", dir, *f);
		assert_int_equal(unlink(path), 0);
	}
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_builtins),
		cmocka_unit_test(test_minimal_file_gets_defaults),
		cmocka_unit_test(test_every_key),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_lease_forwards),
		cmocka_unit_test(test_bad_forwards_and_reservations),
		cmocka_unit_test(test_good_edges),
		cmocka_unit_test(test_file_names),
		cmocka_unit_test(test_all_errors_at_once),
		cmocka_unit_test(test_files_against_each_other),
		cmocka_unit_test(test_dhcp_range),
		cmocka_unit_test(test_domain),
		cmocka_unit_test(test_dns_names),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_dir_refresh),
		cmocka_unit_test(test_dir_trust),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
