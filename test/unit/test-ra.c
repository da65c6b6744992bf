/* test-ra.c - unit tests of ra.c: the advertisement's bytes, and which solicitations count */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ra.h"

static const struct ra_params shared = {
	.ifindex = 7,
	.mac = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 },
	.prefix = { 0xfd, 0x42, 0, 1, 0, 2, 0, 3, 0xff, 0xff }, /* host bits ignored */
	.mtu = 1500,
	.router = true,
	.dns = true,
	.dns6 = { 0xfd, 0x42, 0, 1, 0, 2, 0, 3, [15] = 1 },
};

/* RFC 4861 4.2 and 4.6, RFC 8106 5.1, byte for byte. */
static const uint8_t shared_ra[] = {
	134,  0,    0,    0,    64,   0,    0x23, 0x28, 0, 0, 0,    0,    0, 0, 0, 0, /* lifetime 9000 */
	1,    1,    0x02, 0x11, 0x22, 0x33, 0x44, 0x55, /* source link-layer address */
	5,    1,    0,    0,    0,    0,    0x05, 0xdc, /* MTU 1500 */
	3,    4,    64,   0xc0, 0,    0x01, 0x51, 0x80, 0, 0, 0x38, 0x40, 0, 0, 0, 0, /* L A, 1 d, 4 h */
	0xfd, 0x42, 0,    1,    0,    2,    0,    3,    0, 0, 0,    0,    0, 0, 0, 0, 25,
	3,    0,    0,    0,    0,    0x23, 0x28, /* RDNSS, 9000 s */
	0xfd, 0x42, 0,    1,    0,    2,    0,    3,    0, 0, 0,    0,    0, 0, 0, 1,
};

static void test_shared_network_advertisement(void **state)
{
	uint8_t buf[256];

	(void)state;
	assert_int_equal(ra_build(&shared, RA_ROUTER_LIFETIME, buf, sizeof(buf)), sizeof(shared_ra));
	assert_memory_equal(buf, shared_ra, sizeof(shared_ra));
}

static void test_no_dns_no_rdnss_and_lifetime_as_given(void **state)
{
	struct ra_params p = shared;
	uint8_t buf[256];

	(void)state;
	p.dns = false;
	assert_int_equal(ra_build(&p, 0, buf, sizeof(buf)), sizeof(shared_ra) - 24);
	assert_int_equal(buf[6] | buf[7], 0);
	assert_memory_equal(buf + 8, shared_ra + 8, sizeof(shared_ra) - 32);
}

static void test_too_small_a_buffer_gets_nothing(void **state)
{
	uint8_t buf[sizeof(shared_ra)];

	(void)state;
	assert_int_equal(ra_build(&shared, 1800, buf, sizeof(buf) - 1), 0);
	assert_int_equal(ra_build(&shared, 1800, buf, sizeof(buf)), sizeof(buf));
}

static void test_which_solicitations_count(void **state)
{
	const uint8_t rs[] = { 133, 0, 0, 0, 0, 0, 0, 0 };
	const uint8_t rs_sll[] = { 133, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 0, 0, 0, 0, 1 };
	const uint8_t code1[] = { 133, 1, 0, 0, 0, 0, 0, 0 };
	const uint8_t ra[] = { 134, 0, 0, 0, 0, 0, 0, 0 };
	const uint8_t zero_len_opt[] = { 133, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0 };
	const uint8_t long_opt[] = { 133, 0, 0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 0, 0 };
	const uint8_t half_opt[] = { 133, 0, 0, 0, 0, 0, 0, 0, 1 };

	(void)state;
	assert_true(ra_is_solicitation(rs, sizeof(rs), 255, false));
	assert_true(ra_is_solicitation(rs_sll, sizeof(rs_sll), 255, false));
	assert_false(ra_is_solicitation(rs, sizeof(rs), 254, false)); /* routed: not a neighbour */
	assert_false(ra_is_solicitation(rs, sizeof(rs), -1, false));  /* hop limit unknown */
	assert_false(ra_is_solicitation(rs, 4, 255, false));
	assert_false(ra_is_solicitation(code1, sizeof(code1), 255, false));
	assert_false(ra_is_solicitation(ra, sizeof(ra), 255, false));
	assert_false(ra_is_solicitation(zero_len_opt, sizeof(zero_len_opt), 255, false));
	assert_false(ra_is_solicitation(long_opt, sizeof(long_opt), 255, false));
	assert_false(ra_is_solicitation(half_opt, sizeof(half_opt), 255, false));
	/* From ::, a solicitation may not carry a source link-layer address. */
	assert_true(ra_is_solicitation(rs, sizeof(rs), 255, true));
	assert_false(ra_is_solicitation(rs_sll, sizeof(rs_sll), 255, true));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shared_network_advertisement),
		cmocka_unit_test(test_no_dns_no_rdnss_and_lifetime_as_given),
		cmocka_unit_test(test_too_small_a_buffer_gets_nothing),
		cmocka_unit_test(test_which_solicitations_count),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
