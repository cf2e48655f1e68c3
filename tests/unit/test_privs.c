/* test_privs.c: --runas: the user lookup, and the drop itself in a forked child (needs root). */
#include <check.h>
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/unit/unit.h"
#include "vmm/privs.h"

START_TEST(lookup_takes_a_name_or_a_number)
{
	struct privs_user u;
	ck_assert_int_eq(privs_lookup("nobody", &u), 0);
	ck_assert_uint_eq(u.uid, 65534);
	ck_assert_int_eq(privs_lookup("4242", &u), 0);
	ck_assert_uint_eq(u.uid, 4242);
	ck_assert_uint_eq(u.gid, 4242); /* no passwd entry: the group is the uid's number */
}
END_TEST

START_TEST(lookup_of_an_unknown_user_is_one_line)
{
	struct privs_user u;
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	int saved = dup(2);
	dup2(p[1], 2);
	int r = privs_lookup("nosuchuser", &u);
	dup2(saved, 2);
	close(p[1]);
	char buf[256] = {0};
	ck_assert_int_gt(read(p[0], buf, sizeof(buf) - 1), 0);
	ck_assert_int_eq(r, -ENOENT);
	ck_assert_str_eq(buf, "minivmm: --runas: no such user \"nosuchuser\"\n");
}
END_TEST

START_TEST(drop_leaves_no_way_back_to_root)
{
	if (geteuid() != 0) {
		printf("SKIP: drop_leaves_no_way_back_to_root needs root\n");
		return;
	}
	pid_t pid = fork();
	if (pid == 0) {
		struct privs_user u = {.uid = 65534, .gid = 65534};
		if (privs_drop(&u))
			_exit(10);
		uid_t r, e, s;
		gid_t gr, ge, gs;
		getresuid(&r, &e, &s);
		getresgid(&gr, &ge, &gs);
		if (r != 65534 || e != 65534 || s != 65534 || gr != 65534 || ge != 65534 || gs != 65534)
			_exit(11);
		if (getgroups(0, NULL) != 0)
			_exit(12);
		struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
		struct __user_cap_data_struct d[2];
		if (syscall(SYS_capget, &h, d) || d[0].effective || d[0].permitted || d[1].effective ||
		    d[1].permitted)
			_exit(13);
		if (setuid(0) == 0 || setgroups(0, NULL) == 0)
			_exit(14);
		_exit(0);
	}
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 0);
}
END_TEST

START_TEST(open_file_limit_is_raised_to_the_hard_limit)
{
	struct rlimit r;
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &r), 0);
	r.rlim_cur = r.rlim_max > 64 ? 64 : r.rlim_max;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &r), 0);
	privs_raise_nofile();
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &r), 0);
	ck_assert_uint_eq(r.rlim_cur, r.rlim_max);
}
END_TEST

UNIT_MAIN("privs", lookup_takes_a_name_or_a_number, lookup_of_an_unknown_user_is_one_line,
	  drop_leaves_no_way_back_to_root, open_file_limit_is_raised_to_the_hard_limit)
