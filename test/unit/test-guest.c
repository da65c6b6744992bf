/* test-guest.c - unit tests of guest.c: what is behind a network's ports */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "guest.h"
#include "lease.h"
#include "util.h"

#define A(d) (0xc0a84000u | (d)) /* 192.168.64.d */

static void mac_of(uint8_t n, uint8_t ret[6])
{
	const uint8_t m[6] = { 0x52, 0x54, 0, 0, 0, n };

	memcpy(ret, m, 6);
}

static struct dhcp_host host(uint8_t mac, uint8_t d, const char *name)
{
	struct dhcp_host h = { .address = A(d) };

	mac_of(mac, h.mac);
	strcpy(h.name, name);
	return h;
}

static const uint8_t *v4(uint8_t d)
{
	static uint8_t b[16];

	memset(b, 0, sizeof(b));
	b[0] = 192;
	b[1] = 168;
	b[2] = 64;
	b[3] = d;
	return b;
}

static void test_fdb_and_dhcp(void **state)
{
	struct guest_table t;
	struct lease port = {};
	struct dhcp_host leases[1];
	uint8_t mac[6];
	struct guest *g;

	guest_table_init(&t);
	mac_of(1, mac);
	mac_of(1, port.mac);
	assert_int_equal(guest_fdb_add(&t, mac, &port), 0);
	assert_int_equal(port.n_guests, 1);
	/* Seen, no address yet. */
	assert_int_equal(guest_port_address(&port), 0);
	leases[0] = host(1, 2, "vm1");
	assert_int_equal(guest_dhcp_sync(&t, leases, 1), 0);
	assert_int_equal(guest_port_address(&port), A(2));
	g = guest_find(&t, mac);
	assert_string_equal(g->hostname, "vm1");
	/* dnsmasq dropped its name (another took it there): it keeps it. */
	leases[0].name[0] = '\0';
	assert_int_equal(guest_dhcp_sync(&t, leases, 1), 0);
	assert_string_equal(g->hostname, "vm1");
	/* The bridge forgets a quiet MAC; its lease keeps it behind the port. */
	guest_fdb_del(&t, mac, &port);
	assert_non_null(guest_find(&t, mac));
	assert_false(guest_find(&t, mac)->on_bridge);
	assert_int_equal(guest_port_address(&port), A(2));
	/* Its lease gone too, it goes. */
	assert_int_equal(guest_dhcp_sync(&t, NULL, 0), 0);
	assert_null(guest_find(&t, mac));
	assert_int_equal(port.n_guests, 0);
	assert_int_equal(t.n, 0);
	guest_table_clear(&t);
}

static void test_newest_lease_is_the_ports(void **state)
{
	struct guest_table t;
	struct lease port = {};
	struct dhcp_host leases[2];
	uint8_t a[6], b[6];

	guest_table_init(&t);
	mac_of(1, a);
	mac_of(2, b);
	mac_of(1, port.mac);
	guest_fdb_add(&t, a, &port);
	leases[0] = host(1, 2, "");
	assert_int_equal(guest_dhcp_sync(&t, leases, 1), 0);
	/* The guest changed its MAC and got a dynamic address: that is what it uses now. */
	guest_fdb_add(&t, b, &port);
	leases[0] = host(2, 130, ""); /* newest first, as dnsmasq writes them */
	leases[1] = host(1, 2, "");
	assert_int_equal(guest_dhcp_sync(&t, leases, 2), 0);
	assert_int_equal(guest_port_address(&port), A(130));
	/* A renewal is no news: the order stays. */
	leases[0] = host(1, 2, "");
	leases[1] = host(2, 130, "");
	assert_int_equal(guest_dhcp_sync(&t, leases, 2), 0);
	assert_int_equal(guest_port_address(&port), A(130));
	guest_table_clear(&t);
}

static void test_neighbours(void **state)
{
	struct guest_table t;
	struct lease p1 = {}, p2 = {};
	struct lease *was;
	uint8_t a[6], b[6], c[6];

	guest_table_init(&t);
	mac_of(1, a);
	mac_of(2, b);
	mac_of(3, c);
	guest_fdb_add(&t, a, &p1);
	guest_fdb_add(&t, b, &p2);
	/* A static address, known from the neighbour table only. */
	assert_int_equal(guest_neigh_set(&t, AF_INET, v4(50), a, &was), 1);
	assert_null(was);
	/* The same again (the entry went stale, say): no news. */
	assert_int_equal(guest_neigh_set(&t, AF_INET, v4(50), a, &was), 0);
	assert_int_equal(guest_port_address(&p1), A(50));
	assert_true(guest_has_ipv4(guest_find(&t, a), A(50)));
	/* The address moves to b's MAC: it leaves a. */
	assert_int_equal(guest_neigh_set(&t, AF_INET, v4(50), b, &was), 1);
	assert_ptr_equal(was, &p1);
	assert_int_equal(guest_port_address(&p1), 0);
	assert_int_equal(guest_port_address(&p2), A(50));
	/* A MAC behind none of our ports gets nothing. */
	assert_int_equal(guest_neigh_set(&t, AF_INET, v4(60), c, &was), 0);
	assert_null(guest_find(&t, c));
	/* Failed, or deleted: known at no MAC. */
	assert_int_equal(guest_neigh_set(&t, AF_INET, v4(50), NULL, &was), 1);
	assert_ptr_equal(was, &p2);
	assert_int_equal(guest_port_address(&p2), 0);
	/* At most GUEST_ADDRS_MAX per family: the oldest gives way. */
	for (unsigned int d = 1; d <= GUEST_ADDRS_MAX + 2; d++)
		assert_int_equal(guest_neigh_set(&t, AF_INET, v4((uint8_t)d), a, &was), 1);
	assert_int_equal(guest_find(&t, a)->n_addrs[0], GUEST_ADDRS_MAX);
	assert_false(guest_has_ipv4(guest_find(&t, a), A(1)));
	assert_true(guest_has_ipv4(guest_find(&t, a), A(GUEST_ADDRS_MAX + 2)));
	/* The kernel's view forgotten (a resync): only what DHCP says stays. */
	guest_forget_kernel(&t);
	assert_int_equal(t.n, 0);
	guest_table_clear(&t);
}

static void test_moves_and_limits(void **state)
{
	struct guest_table t;
	struct lease p1 = {}, p2 = {};
	uint8_t mac[6];

	guest_table_init(&t);
	mac_of(1, mac);
	guest_fdb_add(&t, mac, &p1);
	/* The bridge moved it: the new port has it, the old one's late news is ignored. */
	guest_fdb_add(&t, mac, &p2);
	assert_int_equal(p1.n_guests, 0);
	assert_int_equal(p2.n_guests, 1);
	guest_fdb_del(&t, mac, &p1);
	assert_true(guest_find(&t, mac)->on_bridge);
	/* A port follows GUEST_PORT_MACS_MAX MACs, no more. */
	for (unsigned int i = 10; i < 10 + GUEST_PORT_MACS_MAX - 1; i++) {
		mac_of((uint8_t)i, mac);
		assert_int_equal(guest_fdb_add(&t, mac, &p2), 0);
	}
	mac_of(200, mac);
	assert_int_equal(guest_fdb_add(&t, mac, &p2), GUEST_E_PORT_FULL);
	assert_null(guest_find(&t, mac));
	/* The port goes: its guests with nothing else to them go too. */
	guest_port_gone(&t, &p2);
	assert_int_equal(p2.n_guests, 0);
	assert_int_equal(t.n, 0);
	guest_table_clear(&t);
}

static void test_json(void **state)
{
	struct guest_table t;
	struct lease port = {};
	struct dhcp_host h = host(1, 130, "web");
	uint8_t mac[6], six[16] = { 0xfd, 0x12, [15] = 5 };
	struct lease *was;
	json_t *o;
	char *text;

	guest_table_init(&t);
	mac_of(1, mac);
	guest_fdb_add(&t, mac, &port);
	guest_dhcp_sync(&t, &h, 1);
	guest_neigh_set(&t, AF_INET, v4(130), mac, &was); /* the same: listed once */
	guest_neigh_set(&t, AF_INET6, six, mac, &was);
	o = guest_to_json(guest_find(&t, mac));
	text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(text, "{\"hostname\":\"web\",\"ipv4\":[\"192.168.64.130\"],"
				  "\"ipv6\":[\"fd12::5\"],\"mac\":\"52:54:00:00:00:01\","
				  "\"on_bridge\":true}");
	free(text);
	json_decref(o);
	guest_table_clear(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fdb_and_dhcp),
		cmocka_unit_test(test_newest_lease_is_the_ports),
		cmocka_unit_test(test_neighbours),
		cmocka_unit_test(test_moves_and_limits),
		cmocka_unit_test(test_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
