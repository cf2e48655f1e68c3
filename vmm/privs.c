/* privs.c: --runas and the open-file limit (privs.h). */
#include "vmm/privs.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vmm/decimal.h"
#include "vmm/log.h"

int privs_lookup(const char *user, struct privs_user *u)
{
	struct passwd *pw = getpwnam(user);
	uint64_t id;
	if (pw) {
		u->uid = pw->pw_uid;
		u->gid = pw->pw_gid;
		return 0;
	}
	/* A bare number is a uid (its passwd entry, if any, gives the group; else gid = uid). */
	if (!decimal_parse(user, NULL, 0xfffffffeULL, &id)) {
		pw = getpwuid((uid_t)id);
		u->uid = (uid_t)id;
		u->gid = pw ? pw->pw_gid : (gid_t)id;
		return 0;
	}
	log_err("--runas: no such user \"%s\"", user);
	return -ENOENT;
}

void privs_raise_nofile(void)
{
	struct rlimit r;
	if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
		r.rlim_cur = r.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &r) < 0)
			log_warn("cannot raise the open-file limit to %llu: %s",
				 (unsigned long long)r.rlim_max, strerror(errno));
	}
}

/* Any capability left in the effective or permitted set. */
static int privs_caps_left(void)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2];
	if (syscall(SYS_capget, &h, d) < 0)
		return -1;
	return (d[0].effective | d[1].effective | d[0].permitted | d[1].permitted) != 0;
}

int privs_drop(const struct privs_user *u)
{
	/* Groups first: only root may change them. glibc applies set*id to every thread. */
	if (setgroups(0, NULL) < 0 || setresgid(u->gid, u->gid, u->gid) < 0 ||
	    setresuid(u->uid, u->uid, u->uid) < 0) {
		log_err("--runas: cannot drop to uid %u gid %u: %s (start minivmm as root to use --runas)",
			(unsigned)u->uid, (unsigned)u->gid, strerror(errno));
		return -EPERM;
	}
	if (u->uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
		log_err("--runas: setuid(0) still succeeds after dropping to uid %u; refusing to run",
			(unsigned)u->uid);
		abort();
	}
	if (u->uid != 0 && privs_caps_left() != 0) {
		log_err("--runas: capabilities are left after dropping to uid %u; refusing to run",
			(unsigned)u->uid);
		abort();
	}
	return 0;
}
