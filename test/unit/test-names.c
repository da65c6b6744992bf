/* test-names.c - unit tests of names.c: first come, one name each */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "names.h"
#include "util.h"

/* Ports are opaque to names.c: any distinct addresses will do. */
static const int port_a, port_b;
#define A ((const void *)&port_a)
#define B ((const void *)&port_b)

static unsigned int refusals;

static void count_refused(const struct name_claim *c, const struct name_record *owner, void *ud)
{
	refusals++;
}

static struct name_claim claim(const char *name, uint32_t address, const void *port, bool host,
			       uint64_t seq)
{
	struct name_claim c = {
		.address = address, .port = port, .from_host = host, .seq = seq, .who = seq
	};

	strcpy(c.name, name);
	return c;
}

static uint32_t address_of(const struct name_table *t, const char *name)
{
	const struct name_record *r = names_find(t, name);

	return r ? r->address : 0;
}

static void test_first_come_keeps_it(void **state)
{
	struct name_table t;
	struct name_claim v[2];

	names_init(&t);
	refusals = 0;
	v[0] = claim("web", 10, A, true, 1);
	assert_int_equal(names_assign(&t, v, 1, count_refused, NULL), 1);
	assert_int_equal(address_of(&t, "web"), 10);
	/* Another port's guest asks for it later, with an earlier-looking
	 * sequence even: who has it keeps it, and the refusal is said once. */
	v[0] = claim("web", 10, A, true, 5);
	v[1] = claim("web", 20, B, true, 2);
	assert_int_equal(names_assign(&t, v, 2, count_refused, NULL), 0);
	assert_int_equal(address_of(&t, "web"), 10);
	assert_int_equal(refusals, 1);
	v[0] = claim("web", 10, A, true, 5);
	v[1] = claim("web", 20, B, true, 2);
	assert_int_equal(names_assign(&t, v, 2, count_refused, NULL), 0);
	assert_int_equal(refusals, 1);
	/* The first lets go: the other gets it. */
	v[0] = claim("web", 20, B, true, 2);
	assert_int_equal(names_assign(&t, v, 1, count_refused, NULL), 1);
	assert_int_equal(address_of(&t, "web"), 20);
	/* Nobody asks: it goes. */
	assert_int_equal(names_assign(&t, NULL, 0, count_refused, NULL), 1);
	assert_null(names_find(&t, "web"));
	names_clear(&t);
}

static void test_one_port_one_vm(void **state)
{
	struct name_table t;
	struct name_claim v[3];

	names_init(&t);
	refusals = 0;
	/* The port's label and its guest's host name agree: one name. */
	v[0] = claim("vm", 10, A, false, 1);
	v[1] = claim("vm", 10, A, true, 2);
	assert_int_equal(names_assign(&t, v, 2, count_refused, NULL), 1);
	assert_int_equal(address_of(&t, "vm"), 10);
	/* The guest changed its MAC (a new lease, newer): the name follows it. */
	v[0] = claim("vm", 30, A, false, 1);
	v[1] = claim("vm", 10, A, true, 2);
	v[2] = claim("vm", 30, A, true, 3);
	assert_int_equal(names_assign(&t, v, 3, count_refused, NULL), 1);
	assert_int_equal(address_of(&t, "vm"), 30);
	assert_int_equal(refusals, 0);
	/* A guest inside it (a nested VM) names itself after the label: the
	 * host name wins over the label, whatever the order. */
	v[0] = claim("inner", 40, A, true, 9);
	v[1] = claim("inner", 30, A, false, 1);
	assert_int_equal(names_assign(&t, v, 2, count_refused, NULL), 1);
	assert_int_equal(address_of(&t, "inner"), 40);
	names_clear(&t);
}

static void test_portless_guests_yield(void **state)
{
	struct name_table t;
	struct name_claim v[2];

	names_init(&t);
	/* A guest whose VM is gone (its lease lingers) keeps its name only
	 * while nobody behind a port wants it. */
	v[0] = claim("old", 10, NULL, true, 1);
	assert_int_equal(names_assign(&t, v, 1, NULL, NULL), 1);
	assert_int_equal(address_of(&t, "old"), 10);
	v[1] = claim("old", 20, B, false, 7);
	assert_int_equal(names_assign(&t, v, 2, NULL, NULL), 1);
	assert_int_equal(address_of(&t, "old"), 20);
	assert_ptr_equal(names_find(&t, "old")->port, B);
	names_clear(&t);
}

static void test_by_port(void **state)
{
	struct name_table t;
	struct name_claim v[3];
	const struct name_record *r;
	unsigned int count = 0;

	names_init(&t);
	v[0] = claim("one", 10, A, true, 1);
	v[1] = claim("two", 10, A, false, 2);
	v[2] = claim("three", 20, B, true, 3);
	assert_int_equal(names_assign(&t, v, 3, NULL, NULL), 1);
	for (r = names_of_port(&t, A); r; r = names_next_of_port(r))
		count++;
	assert_int_equal(count, 2);
	count = 0;
	for (r = names_next(&t, NULL); r; r = names_next(&t, r))
		count++;
	assert_int_equal(count, 3);
	assert_int_equal(t.n, 3);
	/* A port goes: its names are nobody's until the next round gives them on. */
	assert_true(names_drop_port(&t, A));
	assert_false(names_drop_port(&t, A));
	assert_null(names_find(&t, "one"));
	assert_int_equal(t.n, 1);
	v[0] = claim("three", 20, B, true, 3);
	assert_int_equal(names_assign(&t, v, 1, NULL, NULL), 0);
	names_clear(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_come_keeps_it),
		cmocka_unit_test(test_one_port_one_vm),
		cmocka_unit_test(test_portless_guests_yield),
		cmocka_unit_test(test_by_port),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
