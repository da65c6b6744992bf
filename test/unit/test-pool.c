/* test-pool.c - unit tests of pool.c: IPv4 prefixes, subnet picking, host address next-fit */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "pool.h"
#include "util.h"

#define A(a, b, c, d) \
	((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

/* @s must parse; Return: the prefix. */
static struct prefix4 pfx(const char *s)
{
	struct prefix4 p;

	if (prefix4_parse(s, &p) != 0)
		fail_msg("prefix4_parse refused '%s'", s);
	return p;
}

static void test_prefix4_parse_good(void **state)
{
	static const struct {
		const char *in;
		uint32_t addr;
		uint8_t len;
	} good[] = {
		{ "192.168.64.0/18", A(192, 168, 64, 0), 18 },
		{ "10.1.2.3/24", A(10, 1, 2, 3), 24 }, /* host bits are kept */
		{ "0.0.0.0/0", 0, 0 },
		{ "255.255.255.255/32", A(255, 255, 255, 255), 32 },
		{ "172.16.0.0/12", A(172, 16, 0, 0), 12 },
		{ "10.0.0.1", A(10, 0, 0, 1), 32 }, /* no '/': one address */
		{ "255.255.255.255", A(255, 255, 255, 255), 32 },
	};
	struct prefix4 p;

	for (size_t i = 0; i < ELEMENTSOF(good); i++) {
		memset(&p, 0x5a, sizeof(p));
		if (prefix4_parse(good[i].in, &p) != 0)
			fail_msg("refused '%s'", good[i].in);
		assert_int_equal(p.addr, good[i].addr);
		assert_int_equal(p.len, good[i].len);
	}
}

static void test_prefix4_parse_bad(void **state)
{
	static const char *const bad[] = {
		"",
		"/",
		"/24",
		"10.0.0.0/",   /* '/' and nothing */
		"10.0.0.0/33", /* longer than an address */
		"10.0.0.0/100",
		"10.0.0.0/-1",
		"10.0.0.0/+8",
		"10.0.0.0/ 8",
		"10.0.0.0/8x", /* trailing junk */
		"10.0.0.0/8 ",
		"10.0.0.0/8/8",
		"10.0.0.0/99999999999999999999",
		"10.0.0.0 /8",
		"10.0.0.0x/8",
		"10.0.0.0 ",
		"hello", /* garbage */
		"hello/24",
		"256.0.0.0/8",
		"10.0.0/8",
		"10.0.0.0.0/8",
		"1.2.3.4.5.6.7.8.9/8", /* longer than any address */
		"::1/128",
		"fd00::/8",
	};
	struct prefix4 p;

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		memset(&p, 0x5a, sizeof(p));
		if (prefix4_parse(bad[i], &p) != -EINVAL)
			fail_msg("accepted '%s'", bad[i]);
		/* Left alone on failure. */
		assert_int_equal(p.addr, 0x5a5a5a5a);
		assert_int_equal(p.len, 0x5a);
	}
}

static void test_prefix4_format(void **state)
{
	static const char *const in[] = { "192.168.64.0/18", "10.1.2.3/24", "0.0.0.0/0",
					  "255.255.255.255/32" };
	char buf[32], a[16];

	for (size_t i = 0; i < ELEMENTSOF(in); i++) {
		struct prefix4 p = pfx(in[i]);

		assert_ptr_equal(prefix4_format(&p, buf, sizeof(buf)), buf);
		assert_string_equal(buf, in[i]);
	}
	assert_string_equal(addr4_format(A(192, 168, 64, 1), a, sizeof(a)), "192.168.64.1");
	assert_string_equal(addr4_format(0, a, sizeof(a)), "0.0.0.0");
}

static void test_prefix4_mask(void **state)
{
	assert_int_equal(prefix4_mask(0), 0);
	assert_int_equal(prefix4_mask(1), 0x80000000u);
	assert_int_equal(prefix4_mask(18), 0xffffc000u);
	assert_int_equal(prefix4_mask(24), 0xffffff00u);
	assert_int_equal(prefix4_mask(32), 0xffffffffu);
}

static void assert_overlap(const char *a, const char *b, bool want)
{
	struct prefix4 pa = pfx(a), pb = pfx(b);

	if (prefix4_overlaps(&pa, &pb) != want || prefix4_overlaps(&pb, &pa) != want)
		fail_msg("%s and %s: expected %s", a, b, want ? "overlap" : "no overlap");
}

static void test_prefix4_overlaps(void **state)
{
	/* Same, nested either way, host bits set. */
	assert_overlap("192.168.64.0/24", "192.168.64.0/24", true);
	assert_overlap("10.0.0.0/8", "10.1.2.0/24", true);
	assert_overlap("192.168.64.0/18", "192.168.127.0/24", true);
	assert_overlap("192.168.64.0/24", "192.168.64.77/32", true);
	assert_overlap("192.168.64.0/24", "192.168.64.1/24", true);
	assert_overlap("192.168.64.255/24", "192.168.64.0/30", true);
	/* A /0 covers everything. */
	assert_overlap("0.0.0.0/0", "203.0.113.7/32", true);
	assert_overlap("0.0.0.0/0", "0.0.0.0/0", true);
	/* Neighbours and strangers. */
	assert_overlap("192.168.64.0/24", "192.168.65.0/24", false);
	assert_overlap("192.168.64.0/24", "192.168.63.255/32", false);
	assert_overlap("192.168.64.0/18", "192.168.128.0/24", false);
	assert_overlap("192.168.64.0/18", "192.168.0.0/18", false);
	assert_overlap("10.0.0.0/8", "11.0.0.0/8", false);
	assert_overlap("10.0.0.1/32", "10.0.0.2/32", false);
}

static void assert_pick(const char *pool, const struct prefix4 *used, size_t n, const char *want)
{
	struct prefix4 p = pfx(pool), got, w = pfx(want);
	char buf[32];
	int r;

	r = pool_pick_subnet(&p, used, n, &got);
	if (r != 0)
		fail_msg("pool %s: got %d, want %s", pool, r, want);
	if (got.addr != w.addr || got.len != w.len)
		fail_msg("pool %s: got %s, want %s", pool, prefix4_format(&got, buf, sizeof(buf)),
			 want);
}

static void test_addr6_eui64(void **state)
{
	static const uint8_t prefix[16] = { 0xfd, 0x42, 0, 0x42, 0, 0x42, 0, 0x42, 0xff, 0xff };
	static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
	/* fd42:42:42:42:5054:ff:fe12:3456, as the kernel's SLAAC makes it. */
	static const uint8_t want[16] = { 0xfd, 0x42, 0,    0x42, 0,    0x42, 0,    0x42,
					  0x50, 0x54, 0x00, 0xff, 0xfe, 0x12, 0x34, 0x56 };
	uint8_t got[16];

	addr6_eui64(prefix, mac, got);
	assert_memory_equal(got, want, 16);
}

static void test_pick_first(void **state)
{
	assert_pick("192.168.64.0/18", NULL, 0, "192.168.64.0/24");
	/* The pool's own host bits do not leak into the subnet. */
	assert_pick("192.168.64.5/18", NULL, 0, "192.168.64.0/24");
	assert_pick("192.168.100.7/18", NULL, 0, "192.168.64.0/24");
	/* A /24 pool is one subnet. */
	assert_pick("10.9.8.0/24", NULL, 0, "10.9.8.0/24");
}

static void test_pick_skips_used(void **state)
{
	/* A host address on an interface: its own /24 is taken. */
	struct prefix4 addr[] = { pfx("192.168.64.1/24") };
	/* A single /32 is enough to rule a /24 out. */
	struct prefix4 host[] = { pfx("192.168.64.200/32") };
	/* A route wider than /24 rules out every /24 inside it. */
	struct prefix4 wide[] = { pfx("192.168.64.0/22") };
	/* Several, out of order. */
	struct prefix4 mixed[] = { pfx("192.168.65.0/24"), pfx("10.0.0.0/8"),
				   pfx("192.168.64.9/32"), pfx("192.168.66.0/23") };
	/* A route narrower than /24 still takes the /24 around it. */
	struct prefix4 narrow[] = { pfx("192.168.64.128/25") };

	assert_pick("192.168.64.0/18", addr, ELEMENTSOF(addr), "192.168.65.0/24");
	assert_pick("192.168.64.0/18", host, ELEMENTSOF(host), "192.168.65.0/24");
	assert_pick("192.168.64.0/18", wide, ELEMENTSOF(wide), "192.168.68.0/24");
	assert_pick("192.168.64.0/18", mixed, ELEMENTSOF(mixed), "192.168.68.0/24");
	assert_pick("192.168.64.0/18", narrow, ELEMENTSOF(narrow), "192.168.65.0/24");
}

static void test_pick_ignores_default_route(void **state)
{
	struct prefix4 dflt[] = { pfx("0.0.0.0/0") };
	struct prefix4 dflt_and_first[] = { pfx("0.0.0.0/0"), pfx("192.168.64.0/24") };

	assert_pick("192.168.64.0/18", dflt, ELEMENTSOF(dflt), "192.168.64.0/24");
	assert_pick("192.168.64.0/18", dflt_and_first, ELEMENTSOF(dflt_and_first), "192.168.65.0/24");
}

static void test_pick_exhausted(void **state)
{
	struct prefix4 pool = pfx("192.168.64.0/18"), small = pfx("10.0.0.0/22");
	struct prefix4 one = pfx("10.9.8.0/24");
	struct prefix4 cover[] = { pfx("192.168.0.0/16") };
	struct prefix4 all[64], got;

	/* Each /24 of the /18 taken one by one: the last is found, then none. */
	for (unsigned int i = 0; i < 64; i++)
		all[i] = (struct prefix4){ .addr = A(192, 168, 64 + i, 1), .len = 24 };
	assert_pick("192.168.64.0/18", all, 63, "192.168.127.0/24");
	memset(&got, 0x5a, sizeof(got));
	assert_int_equal(pool_pick_subnet(&pool, all, 64, &got), POOL_E_EXHAUSTED);
	assert_int_equal(got.addr, 0x5a5a5a5a); /* untouched */

	/* One route over the whole pool. */
	assert_int_equal(pool_pick_subnet(&pool, cover, ELEMENTSOF(cover), &got), POOL_E_EXHAUSTED);

	/* A /22 is four subnets. */
	all[0] = pfx("10.0.0.0/24");
	all[1] = pfx("10.0.1.0/24");
	all[2] = pfx("10.0.2.0/24");
	all[3] = pfx("10.0.3.0/24");
	assert_pick("10.0.0.0/22", all, 3, "10.0.3.0/24");
	assert_int_equal(pool_pick_subnet(&small, all, 4, &got), POOL_E_EXHAUSTED);

	/* A /24 pool whose one subnet is taken. */
	all[0] = pfx("10.9.8.1/32");
	assert_int_equal(pool_pick_subnet(&one, all, 1, &got), POOL_E_EXHAUSTED);
}

static void test_pick_narrow_pool(void **state)
{
	static const char *const narrow[] = { "192.168.64.0/25", "192.168.64.0/30", "10.0.0.1/32" };
	struct prefix4 got;

	for (size_t i = 0; i < ELEMENTSOF(narrow); i++) {
		struct prefix4 pool = pfx(narrow[i]);

		memset(&got, 0x5a, sizeof(got));
		assert_int_equal(pool_pick_subnet(&pool, NULL, 0, &got), -EINVAL);
		assert_int_equal(got.addr, 0x5a5a5a5a);
	}
}

static void test_host_map_sequence(void **state)
{
	struct host_map m = { 0 };
	unsigned int h;

	for (unsigned int want = 2; want <= 10; want++) {
		assert_int_equal(host_map_take(&m, &h), 0);
		assert_int_equal(h, want);
	}
}

/* A map of another size: a /29 whose gateway is .6, the last host. */
static void test_host_map_init(void **state)
{
	struct host_map m;
	unsigned int h;

	host_map_init(&m, 29, 6);
	for (unsigned int want = 1; want <= 5; want++) {
		assert_int_equal(host_map_take(&m, &h), 0);
		assert_int_equal(h, want);
	}
	assert_int_equal(host_map_take(&m, &h), POOL_E_EXHAUSTED);
	host_map_put(&m, 3);
	assert_int_equal(host_map_take(&m, &h), 0);
	assert_int_equal(h, 3);
	/* Network, broadcast and gateway are never handed out. */
	host_map_init(&m, 29, 6);
	assert_int_equal(host_map_take_exact(&m, 0), POOL_E_EXHAUSTED);
	assert_int_equal(host_map_take_exact(&m, 7), POOL_E_EXHAUSTED);
	assert_int_equal(host_map_take_exact(&m, 6), POOL_E_EXHAUSTED);
	assert_int_equal(host_map_take_exact(&m, 1), 0);
	/* A /16 has 65534 hosts, the gateway among them. */
	host_map_init(&m, 16, 1);
	assert_int_equal(host_map_take_exact(&m, 65534), 0);
	assert_int_equal(host_map_take_exact(&m, 65535), POOL_E_EXHAUSTED);
	assert_int_equal(host_map_take(&m, &h), 0);
	assert_int_equal(h, 2);
}

static void test_host_map_next_fit(void **state)
{
	struct host_map m = { 0 };
	unsigned int h;

	for (unsigned int want = 2; want <= 5; want++) {
		assert_int_equal(host_map_take(&m, &h), 0);
		assert_int_equal(h, want);
	}
	/* A released address is not handed out again before the others... */
	host_map_put(&m, 3);
	assert_int_equal(host_map_take(&m, &h), 0);
	assert_int_equal(h, 6);
	for (unsigned int want = 7; want <= 254; want++) {
		assert_int_equal(host_map_take(&m, &h), 0);
		assert_int_equal(h, want);
	}
	/* ...only once the search wraps around. */
	assert_int_equal(host_map_take(&m, &h), 0);
	assert_int_equal(h, 3);
	assert_int_equal(host_map_take(&m, &h), POOL_E_EXHAUSTED);

	/* After a wrap the search goes on from there, not from the start. */
	host_map_put(&m, 2);
	host_map_put(&m, 100);
	assert_int_equal(host_map_take(&m, &h), 0);
	assert_int_equal(h, 100);
	assert_int_equal(host_map_take(&m, &h), 0);
	assert_int_equal(h, 2);
}

static void test_host_map_take_exact(void **state)
{
	static const unsigned int out_of_range[] = { 0, 1, 255, 256, 1000 };
	struct host_map m = { 0 };
	unsigned int h;

	for (size_t i = 0; i < ELEMENTSOF(out_of_range); i++)
		assert_int_equal(host_map_take_exact(&m, out_of_range[i]), POOL_E_EXHAUSTED);

	assert_int_equal(host_map_take_exact(&m, 2), 0);
	assert_int_equal(host_map_take_exact(&m, 2), POOL_E_EXHAUSTED); /* conflict */
	assert_int_equal(host_map_take_exact(&m, 254), 0);
	assert_int_equal(host_map_take_exact(&m, 254), POOL_E_EXHAUSTED);
	assert_int_equal(host_map_take_exact(&m, 10), 0);

	/* take steps over exact reservations. */
	assert_int_equal(host_map_take(&m, &h), 0);
	assert_int_equal(h, 3);
	for (unsigned int want = 4; want <= 9; want++) {
		assert_int_equal(host_map_take(&m, &h), 0);
		assert_int_equal(h, want);
	}
	assert_int_equal(host_map_take(&m, &h), 0);
	assert_int_equal(h, 11);

	/* An address from take conflicts with take_exact too, until put. */
	assert_int_equal(host_map_take_exact(&m, 11), POOL_E_EXHAUSTED);
	host_map_put(&m, 11);
	assert_int_equal(host_map_take_exact(&m, 11), 0);
}

static void test_host_map_exhaustion(void **state)
{
	struct host_map m = { 0 };
	unsigned int h, n = 0;

	while (host_map_take(&m, &h) == 0) {
		assert_in_range(h, 2, 254);
		n++;
		assert_true(n <= 253);
	}
	assert_int_equal(n, 253);

	h = 12345;
	assert_int_equal(host_map_take(&m, &h), POOL_E_EXHAUSTED);
	assert_int_equal(h, 12345); /* untouched */
	for (unsigned int i = 2; i <= 254; i++)
		assert_int_equal(host_map_take_exact(&m, i), POOL_E_EXHAUSTED);

	/* One free address, wherever it is, is the one found. */
	host_map_put(&m, 77);
	assert_int_equal(host_map_take(&m, &h), 0);
	assert_int_equal(h, 77);
	assert_int_equal(host_map_take(&m, &h), POOL_E_EXHAUSTED);
}

static void test_host_map_put_harmless(void **state)
{
	struct host_map m = { 0 };
	unsigned int h;

	/* Releasing what was never taken (or cannot be) changes nothing. */
	host_map_put(&m, 0);
	host_map_put(&m, 1);
	host_map_put(&m, 50);
	host_map_put(&m, 255);
	host_map_put(&m, 100000);
	assert_int_equal(host_map_take(&m, &h), 0);
	assert_int_equal(h, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prefix4_parse_good),
		cmocka_unit_test(test_prefix4_parse_bad),
		cmocka_unit_test(test_prefix4_format),
		cmocka_unit_test(test_prefix4_mask),
		cmocka_unit_test(test_prefix4_overlaps),
		cmocka_unit_test(test_addr6_eui64),
		cmocka_unit_test(test_pick_first),
		cmocka_unit_test(test_pick_skips_used),
		cmocka_unit_test(test_pick_ignores_default_route),
		cmocka_unit_test(test_pick_exhausted),
		cmocka_unit_test(test_pick_narrow_pool),
		cmocka_unit_test(test_host_map_sequence),
		cmocka_unit_test(test_host_map_next_fit),
		cmocka_unit_test(test_host_map_init),
		cmocka_unit_test(test_host_map_take_exact),
		cmocka_unit_test(test_host_map_exhaustion),
		cmocka_unit_test(test_host_map_put_harmless),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
