/* test-address.c - unit tests of address.c: which host address a new port gets */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "address.h"
#include "util.h"

#define NET 0xc0a84000u /* 192.168.64.0/24 */

static const struct prefix4 subnet = { .addr = NET, .len = 24 };
static const struct dhcp_range no_range = { 0, 0 };

static void mac_of(uint8_t n, uint8_t ret[6])
{
	const uint8_t m[6] = { 0x02, 0, 0, 0, 0, n };

	memcpy(ret, m, 6);
}

/* The host number a port with MAC ..:@n gets, asserting it gets one. */
static unsigned int take(struct host_map *m, const struct network_config *c, uint8_t n,
			 const struct dhcp_host *leased, size_t n_leased)
{
	uint8_t mac[6];
	unsigned int h = 0;

	mac_of(n, mac);
	assert_int_equal(address_take(m, c, &subnet, &no_range, mac, leased, n_leased, &h), 0);
	return h;
}

static void test_next_fit(void **state)
{
	struct network_config c = { .dhcp = true };
	struct host_map m;

	host_map_init(&m, 24, 1);
	assert_int_equal(take(&m, &c, 1, NULL, 0), 2);
	assert_int_equal(take(&m, &c, 2, NULL, 0), 3);
	/* A released address is the last to come back: dnsmasq still remembers it. */
	host_map_put(&m, 2);
	assert_int_equal(take(&m, &c, 3, NULL, 0), 4);
}

static void test_reservation(void **state)
{
	struct dhcp_reservation res = { .address = NET + 100 };
	struct network_config c = { .dhcp = true, .reservations = &res, .n_reservations = 1 };
	struct host_map m;
	uint8_t mac[6];
	unsigned int h;

	host_map_init(&m, 24, 1);
	mac_of(9, res.mac);
	/* Its MAC gets it outright... */
	assert_int_equal(take(&m, &c, 9, NULL, 0), 100);
	/* ...once: a second port with that MAC finds it held. */
	mac_of(9, mac);
	assert_int_equal(address_take(&m, &c, &subnet, &no_range, mac, NULL, 0, &h), ADDRESS_E_TAKEN);
	/* Nobody else ever gets it, even when the map wraps around to it. */
	host_map_put(&m, 100);
	m.last = 99;
	assert_int_equal(take(&m, &c, 1, NULL, 0), 101);
}

static void test_forward_targets_are_fixed(void **state)
{
	struct port_forward fw = { .protocol = FORWARD_TCP,
				   .external_port = 2222,
				   .internal_port = 22,
				   .internal_address = NET + 2 };
	struct network_config c = { .dhcp = true, .forwards = &fw, .n_forwards = 1 };
	struct host_map m;

	host_map_init(&m, 24, 1);
	assert_int_equal(take(&m, &c, 1, NULL, 0), 3);
}

static void test_dnsmasq_remembers(void **state)
{
	struct network_config c = { .dhcp = true };
	struct dhcp_host leased[3] = {
		{ .address = NET + 2 },
		{ .address = NET + 3 },
		{ .address = 0x0a000005 }, /* not of this subnet: ignored */
	};
	struct host_map m;

	mac_of(1, leased[0].mac);
	mac_of(2, leased[1].mac);
	mac_of(3, leased[2].mac);
	host_map_init(&m, 24, 1);
	/* A MAC that comes back gets the address dnsmasq still has for it. */
	assert_int_equal(take(&m, &c, 2, leased, 3), 3);
	/* Another MAC skips what dnsmasq has leased to others. */
	assert_int_equal(take(&m, &c, 7, leased, 3), 4);
	assert_int_equal(take(&m, &c, 8, leased, 3), 5);
}

static void test_remembered_ones_last(void **state)
{
	const struct prefix4 s30 = { .addr = NET, .len = 30 };
	struct network_config c = { .dhcp = true };
	struct dhcp_host leased = { .address = NET + 2 };
	struct host_map m;
	uint8_t mac[6];
	unsigned int h = 0;

	/* A /30: the gateway .1 and one guest address, .2, which dnsmasq
	 * remembers for another MAC. With nothing else left, it is taken. */
	mac_of(1, leased.mac);
	host_map_init(&m, 30, 1);
	mac_of(5, mac);
	assert_int_equal(address_take(&m, &c, &s30, &no_range, mac, &leased, 1, &h), 0);
	assert_int_equal(h, 2);
	mac_of(6, mac);
	assert_int_equal(address_take(&m, &c, &s30, &no_range, mac, &leased, 1, &h), ADDRESS_E_FULL);
}

static void test_default_range(void **state)
{
	struct network_config c = { .dhcp = true };
	struct dhcp_range r;

	/* A /24 with the gateway .1: the upper half is DHCP's. */
	address_dynamic_range(&c, &subnet, NULL, 1, &r);
	assert_int_equal(r.first, 128);
	assert_int_equal(r.last, 254);
	/* The gateway in the upper half: the lower half is, .1-.127. */
	address_dynamic_range(&c, &subnet, NULL, 200, &r);
	assert_int_equal(r.first, 1);
	assert_int_equal(r.last, 127);
	/* A /29: .4-.6; a /30 has no room for both. */
	address_dynamic_range(&c, &(struct prefix4){ .addr = NET, .len = 29 }, NULL, 1, &r);
	assert_int_equal(r.first, 4);
	assert_int_equal(r.last, 6);
	address_dynamic_range(&c, &(struct prefix4){ .addr = NET, .len = 30 }, NULL, 1, &r);
	assert_int_equal(r.first, 0);
	assert_false(address_in_range(&r, 2));
}

static void test_default_range_avoids_fixed_addresses(void **state)
{
	/* A reservation at .200 and a forward to .140 cut the upper half in
	 * three: .128-.139, .141-.199 and .201-.254. The longest is taken. */
	struct dhcp_reservation res = { .address = NET + 200 };
	struct port_forward fw = { .protocol = FORWARD_TCP,
				   .external_port = 2222,
				   .internal_port = 22,
				   .internal_address = NET + 140 };
	struct network_config c = {
		.dhcp = true, .reservations = &res, .n_reservations = 1, .forwards = &fw, .n_forwards = 1
	};
	struct dhcp_range r;

	address_dynamic_range(&c, &subnet, NULL, 1, &r);
	assert_int_equal(r.first, 141);
	assert_int_equal(r.last, 199);
	/* A file's range is taken as it is (config_parse() checked it). */
	c.has_dhcp_range = true;
	c.dhcp_range_start = NET + 10;
	c.dhcp_range_end = NET + 20;
	address_dynamic_range(&c, &subnet, NULL, 1, &r);
	assert_int_equal(r.first, 10);
	assert_int_equal(r.last, 20);
	assert_true(address_in_range(&r, 10) && address_in_range(&r, 20));
	assert_false(address_in_range(&r, 21));
}

/* A span's slices of 192.168.100.0/24 (gateway .1): each host's range lies in its own. */
static void test_range_in_slice(void **state)
{
	const struct prefix4 s0 = { .addr = NET, .len = 26 }, s1 = { .addr = NET + 64, .len = 26 },
			     s3 = { .addr = NET + 192, .len = 26 },
			     tiny = { .addr = NET + 8, .len = 30 };
	struct network_config c = { .dhcp = true };
	struct dhcp_range r;

	/* .0/26 holds the gateway .1 in its lower half: .32-.63. */
	address_dynamic_range(&c, &subnet, &s0, 1, &r);
	assert_int_equal(r.first, 32);
	assert_int_equal(r.last, 63);
	assert_true(address_ports_have_room(&c, &subnet, &s0, 1, &r));
	/* .64/26 has no gateway: its upper half, .96-.127. */
	address_dynamic_range(&c, &subnet, &s1, 1, &r);
	assert_int_equal(r.first, 96);
	assert_int_equal(r.last, 127);
	/* .192/26 ends at the broadcast address: .224-.254. */
	address_dynamic_range(&c, &subnet, &s3, 1, &r);
	assert_int_equal(r.first, 224);
	assert_int_equal(r.last, 254);
	/* A /30 slice: no range, ports only. */
	address_dynamic_range(&c, &subnet, &tiny, 1, &r);
	assert_int_equal(r.first, 0);
	/* The file's range: the part inside the slice, none when it misses it. */
	c.has_dhcp_range = true;
	c.dhcp_range_start = NET + 100;
	c.dhcp_range_end = NET + 200;
	address_dynamic_range(&c, &subnet, &s1, 1, &r);
	assert_int_equal(r.first, 100);
	assert_int_equal(r.last, 127);
	assert_true(address_ports_have_room(&c, &subnet, &s1, 1, &r));
	address_dynamic_range(&c, &subnet, &s0, 1, &r);
	assert_int_equal(r.first, 0);
	/* A range over all of a slice leaves its ports nothing. */
	c.dhcp_range_start = NET + 60;
	c.dhcp_range_end = NET + 130;
	address_dynamic_range(&c, &subnet, &s1, 1, &r);
	assert_int_equal(r.first, 64);
	assert_int_equal(r.last, 127);
	assert_false(address_ports_have_room(&c, &subnet, &s1, 1, &r));
}

/* Where each host of a span answers names: its slice's first port address, one left over. */
static void test_names_host(void **state)
{
	const struct prefix4 s0 = { .addr = NET, .len = 26 }, s1 = { .addr = NET + 64, .len = 26 },
			     tiny = { .addr = NET + 8, .len = 30 };
	struct dhcp_reservation res = { .mac = { 0x02, 0, 0, 0, 0, 9 }, .address = NET + 64 };
	struct network_config c = { .dhcp = true };

	/* Not the network address, not the gateway .1. */
	assert_int_equal(address_names_host(&c, &subnet, &s0, 1), 2);
	assert_int_equal(address_names_host(&c, &subnet, &s1, 1), 64);
	assert_int_equal(address_names_host(&c, &subnet, &tiny, 1), 8);
	assert_int_equal(address_names_host(&c, &subnet, NULL, 1), 0);
	/* Not a reservation's. */
	c.reservations = &res;
	c.n_reservations = 1;
	assert_int_equal(address_names_host(&c, &subnet, &s1, 1), 65);
	/* Not the range's, and never the last address the ports have. */
	c.has_dhcp_range = true;
	c.dhcp_range_start = NET + 66;
	c.dhcp_range_end = NET + 127;
	assert_int_equal(address_names_host(&c, &subnet, &s1, 1), 0);
	c.dhcp_range_start = NET + 67;
	assert_int_equal(address_names_host(&c, &subnet, &s1, 1), 65);
}

static void test_ports_never_get_the_range(void **state)
{
	const struct prefix4 s28 = { .addr = NET, .len = 28 };
	struct network_config c = { .dhcp = true };
	struct dhcp_range r;
	struct host_map m;
	uint8_t mac[6];
	unsigned int h = 0;

	/* A /28: .8-.14 are DHCP's, so ports get .2-.7 and then nothing,
	 * not even an address dnsmasq has leased to nobody. */
	address_dynamic_range(&c, &s28, NULL, 1, &r);
	assert_int_equal(r.first, 8);
	host_map_init(&m, 28, 1);
	for (unsigned int want = 2; want <= 7; want++) {
		mac_of((uint8_t)want, mac);
		assert_int_equal(address_take(&m, &c, &s28, &r, mac, NULL, 0, &h), 0);
		assert_int_equal(h, want);
	}
	mac_of(99, mac);
	assert_int_equal(address_take(&m, &c, &s28, &r, mac, NULL, 0, &h), ADDRESS_E_FULL);
}

static void test_dynamic_lease_is_no_port_address(void **state)
{
	/* A MAC that had a dynamic lease (a guest that used its own MAC)
	 * comes back as a port's: it gets an address of the ports' part. */
	struct network_config c = { .dhcp = true };
	struct dhcp_host leased = { .address = NET + 130 };
	struct dhcp_range r;
	struct host_map m;
	uint8_t mac[6];
	unsigned int h = 0;

	address_dynamic_range(&c, &subnet, NULL, 1, &r);
	host_map_init(&m, 24, 1);
	mac_of(4, leased.mac);
	mac_of(4, mac);
	assert_int_equal(address_take(&m, &c, &subnet, &r, mac, &leased, 1, &h), 0);
	assert_int_equal(h, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_next_fit),
		cmocka_unit_test(test_reservation),
		cmocka_unit_test(test_forward_targets_are_fixed),
		cmocka_unit_test(test_dnsmasq_remembers),
		cmocka_unit_test(test_default_range),
		cmocka_unit_test(test_default_range_avoids_fixed_addresses),
		cmocka_unit_test(test_range_in_slice),
		cmocka_unit_test(test_names_host),
		cmocka_unit_test(test_ports_never_get_the_range),
		cmocka_unit_test(test_dynamic_lease_is_no_port_address),
		cmocka_unit_test(test_remembered_ones_last),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
