/* unit.h: what every Check test binary shares. */
#ifndef MINIVMM_UNIT_H
#define MINIVMM_UNIT_H
#include <check.h>
/* Runs the suite, prints Check's summary, returns main's exit status. */
int unit_run(Suite *s);
/* For tests that run code in a forked child: reads the child's end of a pipe (its stderr) into
 * buf until EOF (NUL-terminated, at most cap - 1 bytes), closes fd, reaps pid and returns its
 * wait status. */
#include <sys/types.h>
int unit_child_collect(pid_t pid, int fd, char *buf, size_t cap);
/* One TCase named after the suite holding the given tests, then unit_run(). */
#define UNIT_MAIN(name, ...)                                                                   \
	int main(void)                                                                         \
	{                                                                                      \
		Suite *s_ = suite_create(name);                                                \
		TCase *tc_ = tcase_create(name);                                               \
		const TTest *tests_[] = { __VA_ARGS__ };                                       \
		for (unsigned i_ = 0; i_ < sizeof(tests_) / sizeof(tests_[0]); i_++)          \
			_tcase_add_test(tc_, tests_[i_], 0, 0, 0, 1);                          \
		suite_add_tcase(s_, tc_);                                                      \
		return unit_run(s_);                                                           \
	}
#endif
