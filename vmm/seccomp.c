/* seccomp.c: the allow-lists of seccomp.h, one table, and the SIGSYS reporter. */
#include "vmm/seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <linux/vhost.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <termios.h>
#include <ucontext.h>
#include <unistd.h>

#include "vmm/log.h"

#define M   (1u << SECCOMP_MAIN)
#define V   (1u << SECCOMP_VCPU)
#define N   (1u << SECCOMP_NET_IO)
#define P   (1u << SECCOMP_IRQ_POLLER)
#define ALL (M | V | N | P)

/* One row allows syscall nr for the kinds in `kinds`; with `arg` >= 0 only when
 * (argument arg & mask) == val. Rows for the same call are alternatives. */
struct seccomp_rule {
	int nr;
	unsigned kinds;
	int arg;
	uint64_t mask, val;
};

/* The table reads as a table: */
/* clang-format off */
#define ANY(sys, k)	       { SCMP_SYS(sys), (k), -1, 0, 0 }
#define IF(sys, k, a, m, v)    { SCMP_SYS(sys), (k), (a), (m), (v) }
#define IOCTL(req, k)	       IF(ioctl, (k), 1, 0xffffffffu, (uint32_t)(req))
#define NOEXEC(sys)	       IF(sys, ALL, 2, PROT_EXEC, 0)

static const struct seccomp_rule seccomp_rules[] = {
	/* Every thread: memory (never executable), locks, time, signals, its own end. */
	ANY(read, ALL), ANY(write, ALL), ANY(futex, ALL), ANY(rt_sigreturn, ALL),
	ANY(restart_syscall, ALL), ANY(rt_sigprocmask, ALL), ANY(exit, ALL), ANY(exit_group, ALL),
	NOEXEC(mmap), NOEXEC(mprotect), ANY(munmap, ALL), ANY(mremap, ALL), ANY(madvise, ALL),
	ANY(brk, ALL), ANY(clock_gettime, ALL), ANY(gettimeofday, ALL), ANY(clock_nanosleep, ALL),
	ANY(nanosleep, ALL), ANY(getpid, ALL), ANY(gettid, ALL), ANY(sched_yield, ALL),
	/* abort() in any thread; main kicks vCPUs out of KVM_RUN with SIGUSR2 (vcpu.c). */
	IF(tgkill, ALL, 2, ~0ull, SIGABRT), IF(tgkill, M, 2, ~0ull, SIGUSR2),

	/* Event loops: main's, the NIC's I/O loop, the poller. vCPUs move call fds between the
	 * poller's epoll set and irqfds when the guest reprograms MSI-X. */
	ANY(epoll_wait, M | N | P), ANY(epoll_pwait, M | N | P), ANY(epoll_ctl, M | N | V),
	ANY(readv, M | N), ANY(writev, M | N), ANY(close, M | N), ANY(eventfd2, M),
	ANY(poll, M), ANY(fcntl, M | N), ANY(fstat, M | N), ANY(newfstatat, M | N), ANY(getrandom, M | N),

	/* main creates threads (net-io at activation; glibc falls back from clone3, see below),
	 * names them and the new thread registers itself before its own filter is on. */
	IF(clone, M, 0, CLONE_THREAD, CLONE_THREAD), ANY(set_robust_list, M), ANY(rseq, M),
	IF(prctl, M, 0, ~0ull, PR_SET_NAME), IF(prctl, ALL, 0, ~0ull, PR_GET_NAME),
	/* ...and installs its own filter, which can only take more away. */
	IF(prctl, M, 0, ~0ull, PR_SET_NO_NEW_PRIVS), ANY(seccomp, M),

	/* libslirp (--net user) on the net-io thread: IPv4/IPv6 sockets to the outside world and
	 * /etc/resolv.conf read-only. main holds these too because it creates the net-io threads. */
	IF(socket, M | N, 0, ~0ull, AF_INET), IF(socket, M | N, 0, ~0ull, AF_INET6),
	ANY(connect, M | N), ANY(bind, M | N), ANY(listen, M | N), ANY(accept, M | N),
	ANY(accept4, M | N), ANY(sendto, M | N), ANY(sendmsg, M | N), ANY(recvfrom, M | N),
	ANY(recvmsg, M | N), ANY(setsockopt, M | N), ANY(getsockopt, M | N),
	ANY(getsockname, M | N), ANY(getpeername, M | N), ANY(shutdown, M | N),
	IF(openat, M | N, 2, O_ACCMODE | O_CREAT | O_TRUNC, O_RDONLY),

	/* vCPU: the guest, and what its register writes set off in KVM. KVM_GET_*REGS: the
	 * register dump of a dying vCPU. */
	IOCTL(KVM_RUN, V), IOCTL(KVM_GET_REGS, V), IOCTL(KVM_GET_SREGS, V),
	IOCTL(KVM_IRQ_LINE, M | V | N | P), IOCTL(KVM_SIGNAL_MSI, M | V | N | P),
	IOCTL(KVM_SET_GSI_ROUTING, M | V), IOCTL(KVM_IRQFD, M | V), IOCTL(KVM_IOEVENTFD, M | V),

	/* main: device activation and reset (vhost_net.c, tap.c), the terminal at exit. The first
	 * activation owns vhost (SET_OWNER), under this list (vhost_net.h). */
	IOCTL(VHOST_SET_OWNER, M), IOCTL(VHOST_GET_FEATURES, M), IOCTL(VHOST_SET_FEATURES, M),
	IOCTL(VHOST_SET_MEM_TABLE, M), IOCTL(VHOST_SET_VRING_NUM, M), IOCTL(VHOST_SET_VRING_BASE, M),
	IOCTL(VHOST_GET_VRING_BASE, M), IOCTL(VHOST_SET_VRING_ADDR, M), IOCTL(VHOST_SET_VRING_KICK, M),
	IOCTL(VHOST_SET_VRING_CALL, M), IOCTL(VHOST_SET_VRING_ERR, M), IOCTL(VHOST_NET_SET_BACKEND, M),
	IOCTL(TCGETS, M), IOCTL(TCSETS, M),
	/* main: QMP (vmm/qmp.c, control.c): clients on the socket opened at setup, a timer each,
	 * the guest clock frozen across stop/cont, the socket removed at exit. */
	ANY(timerfd_create, M), ANY(timerfd_settime, M), ANY(unlink, M), ANY(unlinkat, M),
	IOCTL(KVM_GET_CLOCK, M), IOCTL(KVM_SET_CLOCK, M),
	/* The tap's offloads: main at activation, net-io when the guest changes them (ctrl vq).
	 * A multi-queue tap's queues: main attaches them at activation, each pair's net-io thread
	 * attaches or detaches its own as the guest picks how many pairs it uses (VQ_PAIRS_SET). */
	IOCTL(TUNSETOFFLOAD, M | N), IOCTL(TUNSETQUEUE, M | N), IOCTL(FIONREAD, M | N), IOCTL(FIONBIO, M | N),

#ifdef MINIVMM_TEST_HOOKS
	/* The sanitizer runtime (ASan/UBSan) keeps an alternate signal stack per thread and sizes
	 * a new thread's allocator caches by its CPU set. */
	ANY(sigaltstack, ALL), ANY(sched_getaffinity, M),
#endif
};

/* clang-format on */

static const char *const seccomp_kind_names[SECCOMP_KINDS] = {
    [SECCOMP_MAIN] = "main",
    [SECCOMP_VCPU] = "vcpu",
    [SECCOMP_NET_IO] = "net-io",
    [SECCOMP_IRQ_POLLER] = "irq-poller",
};

const char *seccomp_kind_name(enum seccomp_kind kind)
{
	return kind < SECCOMP_KINDS ? seccomp_kind_names[kind] : "?";
}

static bool seccomp_on;
/* The calling thread's kind and name, for the SIGSYS line. */
static __thread const char *seccomp_thread_kind;
static __thread char seccomp_thread_name[16];
/* Syscall names resolved before any filter (libseccomp allocates; a signal handler must not). */
#define SECCOMP_NAMES 512
static const char *seccomp_names[SECCOMP_NAMES];

/* ---- the SIGSYS reporter: async-signal-safe, one write(2), then _exit(1) ---- */

static size_t seccomp_put(char *buf, size_t at, size_t cap, const char *s)
{
	while (s && *s && at < cap)
		buf[at++] = *s++;
	return at;
}

static size_t seccomp_put_num(char *buf, size_t at, size_t cap, unsigned long v, int base)
{
	char tmp[24];
	int n = 0;
	do {
		tmp[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v && n < (int)sizeof(tmp));
	if (base == 16)
		at = seccomp_put(buf, at, cap, "0x");
	while (n && at < cap)
		buf[at++] = tmp[--n];
	return at;
}

static void seccomp_sigsys(int sig, siginfo_t *si, void *uc_)
{
	ucontext_t *uc = uc_;
	char buf[200];
	size_t n = 0, cap = sizeof(buf) - 1;
	int nr = si->si_syscall;
	static atomic_int reported;
	(void)sig;
	/* One line per process: a second thread caught at the same time waits for the exit. */
	if (atomic_exchange(&reported, 1))
		for (;;)
			sched_yield();
	n = seccomp_put(buf, n, cap, "minivmm: seccomp: ");
	/* A thread without a kind of its own yet runs under its creator's filter: main's. */
	n = seccomp_put(buf, n, cap, seccomp_thread_kind ? seccomp_thread_kind : "main");
	n = seccomp_put(buf, n, cap, " thread ");
	n = seccomp_put(buf, n, cap, seccomp_thread_name[0] ? seccomp_thread_name : "?");
	n = seccomp_put(buf, n, cap, " made a forbidden system call: ");
	n = seccomp_put(buf, n, cap,
			nr >= 0 && nr < SECCOMP_NAMES && seccomp_names[nr] ? seccomp_names[nr] : "?");
	n = seccomp_put(buf, n, cap, " (");
	n = seccomp_put_num(buf, n, cap, (unsigned long)nr, 10);
	if (nr == SYS_ioctl) {
		/* x86-64 syscall ABI: the request is the second argument. */
		n = seccomp_put(buf, n, cap, ", request ");
		n = seccomp_put_num(buf, n, cap, (unsigned long)(uint32_t)uc->uc_mcontext.gregs[REG_RSI], 16);
	}
	n = seccomp_put(buf, n, cap, ")\n");
	if (write(STDERR_FILENO, buf, n) < 0) {
		/* Nothing left to tell anyone. */
	}
	_exit(EXIT_RUNTIME);
}

#ifdef __SANITIZE_ADDRESS__
/* LeakSanitizer's exit-time check stops the world with ptrace: not under a filter. */
int __lsan_is_turned_off(void);
int __lsan_is_turned_off(void)
{
	return seccomp_on;
}
#endif

int seccomp_setup(bool on)
{
	seccomp_on = on;
	if (!on)
		return 0;
	for (int nr = 0; nr < SECCOMP_NAMES; nr++)
		seccomp_names[nr] = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
	struct sigaction sa = {.sa_sigaction = seccomp_sigsys, .sa_flags = SA_SIGINFO};
	sigfillset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) < 0) {
		log_err("seccomp: cannot install the SIGSYS reporter: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

#ifdef MINIVMM_TEST_HOOKS
/* MINIVMM_TEST_SECCOMP_VIOLATE=KIND: that kind's threads make a call no list allows, right after
 * their filter is on, so the tests see the report. Not in release builds. */
static void seccomp_test_violate(enum seccomp_kind kind)
{
	const char *want = getenv("MINIVMM_TEST_SECCOMP_VIOLATE");
	if (want && !strcmp(want, seccomp_kind_name(kind)))
		syscall(SYS_personality, 0xffffffffUL); /* a query, harmless if it were allowed */
}
#endif

int seccomp_enter(enum seccomp_kind kind)
{
	if (!seccomp_on)
		return 0;
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
	int r = ctx ? 0 : -ENOMEM;
	/* glibc's pthread_create tries clone3 first, whose flags a filter cannot see; ENOSYS
	 * sends it to clone, whose flags main's rule checks. The other kinds get EPERM for clone,
	 * not a trap: pthread_create blocks every signal around it, and a SIGSYS that cannot be
	 * delivered kills without a word; the caller reports the failed thread instead. */
	if (!r)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	if (!r && kind != SECCOMP_MAIN)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 0);
	for (size_t i = 0; !r && i < sizeof(seccomp_rules) / sizeof(seccomp_rules[0]); i++) {
		const struct seccomp_rule *ru = &seccomp_rules[i];
		if (!(ru->kinds & (1u << kind)) || ru->nr < 0)
			continue;
		if (ru->arg < 0)
			r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, ru->nr, 0);
		else
			r = seccomp_rule_add(
			    ctx, SCMP_ACT_ALLOW, ru->nr, 1,
			    SCMP_CMP((unsigned)ru->arg, SCMP_CMP_MASKED_EQ, ru->mask, ru->val));
	}
	/* libseccomp sets NO_NEW_PRIVS (SCMP_FLTATR_CTL_NNP defaults to on) before loading. */
	if (!r) {
		prctl(PR_GET_NAME, seccomp_thread_name);
		seccomp_thread_kind = seccomp_kind_name(kind);
		r = seccomp_load(ctx);
	}
	if (ctx)
		seccomp_release(ctx);
	if (r) {
		seccomp_thread_kind = NULL;
		log_err("seccomp: cannot install the %s thread's filter: %s", seccomp_kind_name(kind),
			strerror(-r));
		return r;
	}
#ifdef MINIVMM_TEST_HOOKS
	seccomp_test_violate(kind);
#endif
	return 0;
}
