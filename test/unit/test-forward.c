/* test-forward.c - unit tests of forward.c: who holds which forwarded host port */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "forward.h"
#include "util.h"

/* Stand-ins: the table never follows these pointers. */
static int net_a, net_b, lease_a;
#define A ((struct network *)&net_a)
#define B ((struct network *)&net_b)

static const struct port_forward tcp2222 = { .protocol = FORWARD_TCP, .external_port = 2222 };
static const struct port_forward udp2222 = { .protocol = FORWARD_UDP, .external_port = 2222 };
static const struct port_forward tcp8080 = { .protocol = FORWARD_TCP, .external_port = 8080 };

static void test_owner(void **state)
{
	struct forward_table t = {};

	assert_null(forward_table_owner(&t, FORWARD_TCP, 2222));
	assert_int_equal(forward_table_add(&t, &tcp2222, 1, A, A), 0);
	assert_ptr_equal(forward_table_owner(&t, FORWARD_TCP, 2222), A);
	/* The protocol is part of the port. */
	assert_null(forward_table_owner(&t, FORWARD_UDP, 2222));
	forward_table_done(&t);
}

static void test_first_taken(void **state)
{
	const struct port_forward want[] = { tcp8080, udp2222, tcp2222 };
	struct forward_table t = {};
	struct network *o = NULL;

	assert_int_equal(forward_table_add(&t, &tcp2222, 1, B, &lease_a), 0);
	assert_null(forward_table_first_taken(&t, want, 2, &o));
	assert_ptr_equal(forward_table_first_taken(&t, want, 3, &o), &want[2]);
	assert_ptr_equal(o, B);
	forward_table_done(&t);
}

static void test_remove_by_holder(void **state)
{
	const struct port_forward file[] = { tcp2222, udp2222 };
	struct forward_table t = {};

	/* A network's file forwards, and a lease of it forwards another port. */
	assert_int_equal(forward_table_add(&t, file, 2, A, A), 0);
	assert_int_equal(forward_table_add(&t, &tcp8080, 1, A, &lease_a), 0);
	forward_table_remove(&t, &lease_a);
	assert_null(forward_table_owner(&t, FORWARD_TCP, 8080));
	assert_ptr_equal(forward_table_owner(&t, FORWARD_UDP, 2222), A);
	forward_table_remove(&t, A);
	assert_int_equal(t.n, 0);
	forward_table_done(&t);
}

static void test_first_claim_owns(void **state)
{
	struct forward_table t = {};

	/* Adoption may claim a port twice: the first claim is the owner until it goes. */
	assert_int_equal(forward_table_add(&t, &tcp2222, 1, A, A), 0);
	assert_int_equal(forward_table_add(&t, &tcp2222, 1, B, B), 0);
	assert_ptr_equal(forward_table_owner(&t, FORWARD_TCP, 2222), A);
	forward_table_remove(&t, A);
	assert_ptr_equal(forward_table_owner(&t, FORWARD_TCP, 2222), B);
	forward_table_done(&t);
}

static void test_grows(void **state)
{
	struct forward_table t = {};

	for (uint16_t p = 1; p <= 1000; p++) {
		struct port_forward f = { .protocol = FORWARD_UDP, .external_port = p };

		assert_int_equal(forward_table_add(&t, &f, 1, A, A), 0);
	}
	assert_int_equal(t.n, 1000);
	assert_ptr_equal(forward_table_owner(&t, FORWARD_UDP, 1000), A);
	forward_table_done(&t);
}

/* Who may forward which port: the file's lease_port_forwards, else the unprivileged ports. */
static void test_policy(void **state)
{
	static const struct port_forward p22 = { .protocol = FORWARD_TCP, .external_port = 22 };
	static const struct port_forward p1024 = { .protocol = FORWARD_TCP, .external_port = 1024 };
	static const struct port_forward p20050 = { .protocol = FORWARD_UDP, .external_port = 20050 };
	static char *users[] = { "65534" };
	const struct access_peer nobody = { .uid = 65534, .gid = 65534 };
	const struct access_peer other = { .uid = 64010, .gid = 64010 };
	struct lease_forwards lf = {};

	/* The default: what a user may bind itself. */
	assert_int_equal(forward_policy_check(&lf, &nobody, &p22, 1024), FORWARD_E_PRIVILEGED);
	assert_int_equal(forward_policy_check(&lf, &nobody, &p1024, 1024), 0);
	assert_int_equal(forward_policy_check(&lf, &nobody, &p22, 0), 0);
	/* A range of the file's, which may include privileged ports. */
	lf.port_min = 20;
	lf.port_max = 1023;
	assert_int_equal(forward_policy_check(&lf, &nobody, &p22, 1024), 0);
	assert_int_equal(forward_policy_check(&lf, &nobody, &p20050, 1024), FORWARD_E_OUT_OF_RANGE);
	/* For whom. */
	lf.restricted = true;
	lf.allowed_users = users;
	lf.n_allowed_users = 1;
	assert_int_equal(forward_policy_check(&lf, &nobody, &p22, 1024), 0);
	assert_int_equal(forward_policy_check(&lf, &other, &p22, 1024), FORWARD_E_NOT_LISTED);
	/* Closed: no one (but root, whom the caller never asks about). */
	lf.closed = true;
	assert_int_equal(forward_policy_check(&lf, &nobody, &p22, 1024), FORWARD_E_CLOSED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_owner),
		cmocka_unit_test(test_first_taken),
		cmocka_unit_test(test_remove_by_holder),
		cmocka_unit_test(test_first_claim_owns),
		cmocka_unit_test(test_grows),
		cmocka_unit_test(test_policy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
