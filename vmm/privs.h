/* privs.h: running with least privilege: --runas USER drops root after setup, and the open-file
 * limit is raised for slirp while we still may. Every privileged open (kernel, initrd, /dev/kvm,
 * taps, /dev/vhost-net) happens before privs_drop(); nothing after it needs root. */
#ifndef MINIVMM_PRIVS_H
#define MINIVMM_PRIVS_H
#include <sys/types.h>

struct privs_user {
	uid_t uid;
	gid_t gid;
};

/* Looks USER up (a name, or a numeric uid). 0, or -ENOENT with one line printed. */
int privs_lookup(const char *user, struct privs_user *u);
/* RLIMIT_NOFILE soft limit up to the hard one: slirp holds a socket per guest connection. */
void privs_raise_nofile(void);
/* Drops supplementary groups, gid and uid (real, effective, saved) to u; with them every
 * capability goes. Verifies that setuid(0) now fails: 0, or -EPERM with one line printed (the
 * caller must not run the guest then). */
int privs_drop(const struct privs_user *u);
#endif
