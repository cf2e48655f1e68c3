/* test_loop.c: the epoll loop (vmm/loop.c): deferred callbacks (loop_defer) run once, after the
 * round's fd callbacks, in a round that does not wait; they coalesce, can be cancelled, and a
 * full list says so instead of dropping one. */
#include <check.h>
#include <errno.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "tests/unit/unit.h"
#include "vmm/loop.h"

static struct loop *l;
static int efd = -1;
static char order[32]; /* 'f' an fd callback, 'a'/'b' deferred ones, in call order */
static int norder;

static void setup(void)
{
	l = loop_new();
	ck_assert_ptr_nonnull(l);
	efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	ck_assert_int_ge(efd, 0);
	norder = 0;
}

static void teardown(void)
{
	loop_free(l);
	close(efd);
}

static void note(char c)
{
	ck_assert_int_lt(norder, (int)sizeof(order) - 1);
	order[norder++] = c;
	order[norder] = 0;
}

static void on_fd(void *opaque, uint32_t events)
{
	uint64_t v;
	(void)opaque;
	(void)events;
	ck_assert_int_eq(read(efd, &v, sizeof(v)), sizeof(v));
	note('f');
}

static void deferred_a(void *opaque)
{
	(void)opaque;
	note('a');
}

static void deferred_b(void *opaque)
{
	(void)opaque;
	note('b');
}

/* Defers itself again from inside its own run: due in the round after. */
static void deferred_again(void *opaque)
{
	int *left = opaque;
	note('a');
	if (--*left > 0)
		ck_assert_int_eq(loop_defer(l, deferred_again, opaque), 0);
}

static void signal_fd(void)
{
	uint64_t one = 1;
	ck_assert_int_eq(write(efd, &one, sizeof(one)), sizeof(one));
}

START_TEST(deferred_callback_runs_once_after_the_rounds_fd_callbacks)
{
	ck_assert_int_eq(loop_add(l, efd, EPOLLIN, on_fd, NULL), 0);
	ck_assert_int_eq(loop_defer(l, deferred_a, NULL), 0);
	signal_fd();
	ck_assert_int_eq(loop_run_once(l, 0), 2);
	ck_assert_str_eq(order, "fa");
	/* Gone after it ran. */
	ck_assert_int_eq(loop_run_once(l, 0), 0);
	ck_assert_str_eq(order, "fa");
}
END_TEST

START_TEST(a_pending_deferred_callback_makes_the_round_not_wait)
{
	/* No fd is ready: with a callback due, an endless timeout must not block (the test would
	 * hang until Check's timeout). */
	ck_assert_int_eq(loop_defer(l, deferred_a, NULL), 0);
	ck_assert_int_eq(loop_run_once(l, -1), 1);
	ck_assert_str_eq(order, "a");
}
END_TEST

START_TEST(the_same_callback_deferred_twice_runs_once)
{
	int x, y;
	ck_assert_int_eq(loop_defer(l, deferred_a, &x), 0);
	ck_assert_int_eq(loop_defer(l, deferred_a, &x), 0);
	/* Another opaque is another callback. */
	ck_assert_int_eq(loop_defer(l, deferred_a, &y), 0);
	ck_assert_int_eq(loop_run_once(l, 0), 2);
	ck_assert_str_eq(order, "aa");
}
END_TEST

START_TEST(a_callback_deferring_itself_runs_in_the_next_round)
{
	int left = 3;
	ck_assert_int_eq(loop_defer(l, deferred_again, &left), 0);
	for (int round = 1; round <= 3; round++) {
		ck_assert_int_eq(loop_run_once(l, 0), 1);
		ck_assert_int_eq(norder, round);
	}
	ck_assert_int_eq(loop_run_once(l, 0), 0);
	ck_assert_str_eq(order, "aaa");
}
END_TEST

START_TEST(a_cancelled_callback_does_not_run)
{
	int x;
	ck_assert_int_eq(loop_defer(l, deferred_a, &x), 0);
	ck_assert_int_eq(loop_defer(l, deferred_b, &x), 0);
	loop_defer_cancel(l, deferred_a, &x);
	ck_assert_int_eq(loop_run_once(l, 0), 1);
	ck_assert_str_eq(order, "b");
}
END_TEST

/* Cancels deferred_b(&cancel_target) from an fd callback: in the round it was due. */
static int cancel_target;
static void on_fd_cancel(void *opaque, uint32_t events)
{
	on_fd(opaque, events);
	loop_defer_cancel(l, deferred_b, &cancel_target);
}

START_TEST(a_callback_cancelled_in_the_round_it_is_due_does_not_run)
{
	ck_assert_int_eq(loop_add(l, efd, EPOLLIN, on_fd_cancel, NULL), 0);
	ck_assert_int_eq(loop_defer(l, deferred_b, &cancel_target), 0);
	signal_fd();
	ck_assert_int_eq(loop_run_once(l, 0), 1);
	ck_assert_str_eq(order, "f");
}
END_TEST

START_TEST(a_full_defer_list_refuses_instead_of_dropping)
{
	int x[LOOP_DEFER_MAX + 1];
	for (int i = 0; i < LOOP_DEFER_MAX; i++)
		ck_assert_int_eq(loop_defer(l, deferred_a, &x[i]), 0);
	ck_assert_int_eq(loop_defer(l, deferred_a, &x[LOOP_DEFER_MAX]), -ENOSPC);
	/* Already pending: still fine. */
	ck_assert_int_eq(loop_defer(l, deferred_a, &x[0]), 0);
	ck_assert_int_eq(loop_run_once(l, 0), LOOP_DEFER_MAX);
	ck_assert_int_eq(norder, LOOP_DEFER_MAX);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("loop");
	TCase *tc = tcase_create("loop");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, deferred_callback_runs_once_after_the_rounds_fd_callbacks);
	tcase_add_test(tc, a_pending_deferred_callback_makes_the_round_not_wait);
	tcase_add_test(tc, the_same_callback_deferred_twice_runs_once);
	tcase_add_test(tc, a_callback_deferring_itself_runs_in_the_next_round);
	tcase_add_test(tc, a_cancelled_callback_does_not_run);
	tcase_add_test(tc, a_callback_cancelled_in_the_round_it_is_due_does_not_run);
	tcase_add_test(tc, a_full_defer_list_refuses_instead_of_dropping);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
