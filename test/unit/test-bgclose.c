/* test-bgclose.c - unit tests of bgclose.c: fds closed off the caller's thread, and in place */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "bgclose.h"

/* Return: true once the write end of the pipe whose read end is @rfd is closed (EOF). */
static bool sees_eof(int rfd)
{
	struct pollfd p = { .fd = rfd, .events = POLLIN };
	char c;

	return poll(&p, 1, 5000) == 1 && read(rfd, &c, 1) == 0;
}

static void test_closes_in_place_before_start(void **state)
{
	int p[2];

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(bgclose(p[1]), -EBADF);
	/* Not started: closed before bgclose() returned. */
	assert_int_equal(fcntl(p[1], F_GETFD), -1);
	assert_true(sees_eof(p[0]));
	close(p[0]);
	assert_int_equal(bgclose(-EBADF), -EBADF);
}

static void test_closes_on_the_threads(void **state)
{
	enum {
		N = 200
	};
	int r[N], w[N];

	assert_int_equal(bgclose_start(), 0);
	assert_int_equal(bgclose_start(), 0); /* once is enough */
	for (int i = 0; i < N; i++) {
		int p[2];

		assert_int_equal(pipe2(p, O_CLOEXEC), 0);
		r[i] = p[0];
		w[i] = p[1];
	}
	for (int i = 0; i < N; i++)
		assert_int_equal(bgclose(w[i]), -EBADF);
	for (int i = 0; i < N; i++) {
		assert_true(sees_eof(r[i]));
		close(r[i]);
	}
	/* Stopping drains and joins; afterwards closes happen in place again. */
	bgclose_stop();
	bgclose_stop();
	test_closes_in_place_before_start(state);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_closes_in_place_before_start),
		cmocka_unit_test(test_closes_on_the_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
