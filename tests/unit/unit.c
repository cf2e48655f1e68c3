/* unit.c: the shared runner for Check test binaries. */
#include "tests/unit/unit.h"

#include <sys/wait.h>
#include <unistd.h>

int unit_run(Suite *s)
{
	SRunner *r = srunner_create(s);
	srunner_run_all(r, CK_NORMAL);
	int failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? 1 : 0;
}

int unit_child_collect(pid_t pid, int fd, char *buf, size_t cap)
{
	size_t n = 0;
	ssize_t r;
	while (n < cap - 1 && (r = read(fd, buf + n, cap - 1 - n)) > 0)
		n += (size_t)r;
	buf[n] = 0;
	close(fd);
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return st;
}
