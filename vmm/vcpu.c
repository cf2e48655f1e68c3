/* vcpu.c: vCPU creation, boot state and the run loop. */
#include "vmm/vcpu.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "vmm/bus.h"
#include "vmm/cpuid.h"
#include "vmm/log.h"
#include "vmm/seccomp.h"
#include "vmm/vm.h"

#define VCPU_KICK_SIGNAL SIGUSR2

#define MSR_IA32_TSC 0x10
#define MSR_IA32_SYSENTER_CS 0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176
#define MSR_IA32_MISC_ENABLE 0x1a0
#define MSR_MTRR_DEF_TYPE 0x2ff
#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_CSTAR 0xc0000083
#define MSR_SYSCALL_MASK 0xc0000084
#define MSR_KERNEL_GS_BASE 0xc0000102

#define MISC_ENABLE_FAST_STRING 1ULL
#define MTRR_ENABLE (1ULL << 11)
#define MTRR_TYPE_WB 6ULL

#define APIC_LVT0 0x350
#define APIC_LVT1 0x360
#define APIC_MODE_NMI 4u
#define APIC_MODE_EXTINT 7u


static void vcpu_kick_handler(int sig)
{
	(void)sig; /* only here to make KVM_RUN return with EINTR */
}

/* Pausing (QMP stop/cont): a parked vCPU waits here, outside KVM_RUN, until resumed or the VM
 * exits. Only the main thread pauses and resumes. */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t changed; /* parked count or the request moved */
	bool want;		/* pause requested */
	int parked;
} pause_state = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, 0};

static void vcpu_park(void)
{
	pthread_mutex_lock(&pause_state.lock);
	pause_state.parked++;
	pthread_cond_broadcast(&pause_state.changed);
	while (pause_state.want && !vm_exiting())
		pthread_cond_wait(&pause_state.changed, &pause_state.lock);
	pause_state.parked--;
	pthread_cond_broadcast(&pause_state.changed);
	pthread_mutex_unlock(&pause_state.lock);
}

/* Makes a vCPU leave KVM_RUN now, or not enter it: immediate_exit covers the race where the
 * signal lands just before KVM_RUN is entered. */
static void vcpu_kick(struct vcpu *v)
{
	v->run->immediate_exit = 1;
	pthread_kill(v->thread, VCPU_KICK_SIGNAL);
}

int vcpu_pause_all(struct vcpu *v, int n, int timeout_ms)
{
	int started = 0, ret = 0;
	pthread_mutex_lock(&pause_state.lock);
	pause_state.want = true;
	for (int i = 0; i < n; i++) {
		if (v[i].started) {
			started++;
			vcpu_kick(&v[i]);
		}
	}
	struct timespec end;
	clock_gettime(CLOCK_REALTIME, &end);
	end.tv_sec += timeout_ms / 1000;
	end.tv_nsec += (timeout_ms % 1000) * 1000000L;
	if (end.tv_nsec >= 1000000000L) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000L;
	}
	/* Bounded: a vCPU stuck in a device access must not hang the main loop. */
	while (pause_state.parked < started && ret == 0)
		ret = pthread_cond_timedwait(&pause_state.changed, &pause_state.lock, &end);
	if (pause_state.parked < started) {
		pause_state.want = false;
		pthread_cond_broadcast(&pause_state.changed);
		ret = -ETIMEDOUT;
	} else {
		ret = 0;
	}
	pthread_mutex_unlock(&pause_state.lock);
	return ret;
}

void vcpu_resume_all(void)
{
	pthread_mutex_lock(&pause_state.lock);
	pause_state.want = false;
	pthread_cond_broadcast(&pause_state.changed);
	pthread_mutex_unlock(&pause_state.lock);
}

static int vcpu_set_cpuid(struct kvm *k, struct vcpu *v, int ncpus)
{
	struct kvm_cpuid2 *c = kvm_supported_cpuid(k);
	if (!c)
		return -EIO;
	int ret = 0;
	struct cpuid_opts o = { .apic_id = (uint32_t)v->id, .ncpus = (uint32_t)ncpus, .tsc_deadline = k->tsc_deadline };
	cpuid_shape(c->entries, c->nent, &o);
	if (ioctl(v->fd, KVM_SET_CPUID2, c) < 0) {
		ret = -errno;
		log_err("KVM_SET_CPUID2: %s", strerror(errno));
	}
	free(c);
	return ret;
}

/* The MSR state Linux expects from firmware: fast strings on, MTRRs on with write-back default,
 * syscall MSRs clear. */
static int vcpu_set_msrs(struct vcpu *v)
{
	static const struct {
		uint32_t index;
		uint64_t data;
	} init[] = {
		{ MSR_IA32_SYSENTER_CS, 0 }, { MSR_IA32_SYSENTER_ESP, 0 }, { MSR_IA32_SYSENTER_EIP, 0 },
		{ MSR_STAR, 0 }, { MSR_CSTAR, 0 }, { MSR_KERNEL_GS_BASE, 0 }, { MSR_SYSCALL_MASK, 0 },
		{ MSR_LSTAR, 0 }, { MSR_IA32_TSC, 0 },
		{ MSR_IA32_MISC_ENABLE, MISC_ENABLE_FAST_STRING },
		{ MSR_MTRR_DEF_TYPE, MTRR_ENABLE | MTRR_TYPE_WB },
	};
	const size_t n = sizeof(init) / sizeof(init[0]);
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[sizeof(init) / sizeof(init[0])];
	} m;
	memset(&m, 0, sizeof(m));
	m.hdr.nmsrs = n;
	for (size_t i = 0; i < n; i++) {
		m.e[i].index = init[i].index;
		m.e[i].data = init[i].data;
	}
	int set = ioctl(v->fd, KVM_SET_MSRS, &m);
	if (set != (int)n) {
		log_err("KVM_SET_MSRS: set %d of %zu MSRs (first failing: %#x)", set, n,
			set >= 0 && set < (int)n ? init[set].index : 0);
		return -EINVAL;
	}
	return 0;
}

static void lapic_set_mode(struct kvm_lapic_state *l, int reg, uint32_t mode)
{
	uint32_t v;
	memcpy(&v, &l->regs[reg], 4);
	v = (v & ~0x700u) | (mode << 8);
	memcpy(&l->regs[reg], &v, 4);
}

/* LINT0 as ExtINT (the PIC) and LINT1 as NMI, as a PC's firmware leaves them. */
static int vcpu_set_lint(struct vcpu *v)
{
	struct kvm_lapic_state l;
	if (ioctl(v->fd, KVM_GET_LAPIC, &l) < 0)
		return -errno;
	lapic_set_mode(&l, APIC_LVT0, APIC_MODE_EXTINT);
	lapic_set_mode(&l, APIC_LVT1, APIC_MODE_NMI);
	return ioctl(v->fd, KVM_SET_LAPIC, &l) < 0 ? -errno : 0;
}

static int vcpu_set_fpu(struct vcpu *v)
{
	struct kvm_fpu fpu = { .fcw = 0x37f, .mxcsr = 0x1f80 };
	return ioctl(v->fd, KVM_SET_FPU, &fpu) < 0 ? -errno : 0;
}

int vcpu_create(struct kvm *k, struct vcpu *v, int id, int ncpus)
{
	memset(v, 0, sizeof(*v));
	v->id = id;
	v->fd = ioctl(k->vm_fd, KVM_CREATE_VCPU, id);
	if (v->fd < 0) {
		log_err("KVM_CREATE_VCPU %d: %s", id, strerror(errno));
		return -errno;
	}
	v->run_size = k->vcpu_mmap_size;
	v->run = mmap(NULL, v->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		v->run = NULL;
		log_err("mmap of vCPU %d: %s", id, strerror(errno));
		return -errno;
	}
	int ret = vcpu_set_cpuid(k, v, ncpus);
	if (!ret)
		ret = vcpu_set_msrs(v);
	if (!ret && (ret = vcpu_set_lint(v)))
		log_err("vCPU %d LAPIC LINT setup: %s", id, strerror(-ret));
	if (!ret && (ret = vcpu_set_fpu(v)))
		log_err("vCPU %d FPU setup: %s", id, strerror(-ret));
	return ret;
}

int vcpu_set_boot_state(struct vcpu *v, const struct boot_info *bi)
{
	struct kvm_sregs sr;
	struct kvm_regs r;
	/* Start from KVM's sregs so the APIC base and friends stay as KVM set them. */
	if (ioctl(v->fd, KVM_GET_SREGS, &sr) < 0)
		return -errno;
	boot_cpu_sregs(bi, &sr);
	if (ioctl(v->fd, KVM_SET_SREGS, &sr) < 0)
		return -errno;
	boot_cpu_regs(bi, &r);
	return ioctl(v->fd, KVM_SET_REGS, &r) < 0 ? -errno : 0;
}

static const char *const exit_names[] = {
	[KVM_EXIT_UNKNOWN] = "unknown", [KVM_EXIT_EXCEPTION] = "exception", [KVM_EXIT_IO] = "io",
	[KVM_EXIT_HYPERCALL] = "hypercall", [KVM_EXIT_DEBUG] = "debug", [KVM_EXIT_HLT] = "hlt",
	[KVM_EXIT_MMIO] = "mmio", [KVM_EXIT_IRQ_WINDOW_OPEN] = "irq_window_open",
	[KVM_EXIT_SHUTDOWN] = "shutdown", [KVM_EXIT_FAIL_ENTRY] = "fail_entry", [KVM_EXIT_INTR] = "intr",
	[KVM_EXIT_SET_TPR] = "set_tpr", [KVM_EXIT_TPR_ACCESS] = "tpr_access",
	[KVM_EXIT_NMI] = "nmi", [KVM_EXIT_INTERNAL_ERROR] = "internal_error",
	[KVM_EXIT_SYSTEM_EVENT] = "system_event", [KVM_EXIT_IOAPIC_EOI] = "ioapic_eoi",
	[KVM_EXIT_HYPERV] = "hyperv", [KVM_EXIT_X86_RDMSR] = "rdmsr", [KVM_EXIT_X86_WRMSR] = "wrmsr",
};

const char *vcpu_exit_name(uint32_t reason)
{
	if (reason < sizeof(exit_names) / sizeof(exit_names[0]) && exit_names[reason])
		return exit_names[reason];
	return "other";
}

void vcpu_dump(struct vcpu *v, FILE *f)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	if (ioctl(v->fd, KVM_GET_REGS, &r) < 0 || ioctl(v->fd, KVM_GET_SREGS, &s) < 0) {
		fprintf(f, "vCPU %d: registers unavailable\n", v->id);
		return;
	}
	fprintf(f, "vCPU %d registers:\n", v->id);
	fprintf(f, " rip %016llx rsp %016llx rflags %016llx\n", r.rip, r.rsp, r.rflags);
	fprintf(f, " rax %016llx rbx %016llx rcx %016llx rdx %016llx\n", r.rax, r.rbx, r.rcx, r.rdx);
	fprintf(f, " rsi %016llx rdi %016llx rbp %016llx\n", r.rsi, r.rdi, r.rbp);
	fprintf(f, " r8  %016llx r9  %016llx r10 %016llx r11 %016llx\n", r.r8, r.r9, r.r10, r.r11);
	fprintf(f, " r12 %016llx r13 %016llx r14 %016llx r15 %016llx\n", r.r12, r.r13, r.r14, r.r15);
	fprintf(f, " cr0 %016llx cr2 %016llx cr3 %016llx cr4 %016llx efer %016llx\n", s.cr0, s.cr2, s.cr3,
		s.cr4, s.efer);
	fprintf(f, " cs %04x base %llx l %d db %d  ss %04x  gdt %llx/%x idt %llx/%x\n", s.cs.selector,
		s.cs.base, s.cs.l, s.cs.db, s.ss.selector, s.gdt.base, s.gdt.limit, s.idt.base, s.idt.limit);
}

/* The register dump first, then main prints the reason as minivmm's last line. On AMD, KVM has
 * already reset the vCPU when it reports a triple fault (the VMCB is undefined after SHUTDOWN),
 * so the dump then shows the reset state. */
static void vcpu_fatal(struct vcpu *v, const char *why)
{
	snprintf(v->fatal, sizeof(v->fatal), "vCPU %d: %s", v->id, why);
	vcpu_dump(v, stderr);
	vm_request_exit(EXIT_RUNTIME, v->fatal);
}

static void vcpu_handle_io(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint8_t *p = (uint8_t *)run + run->io.data_offset;
	bool out = run->io.direction == KVM_EXIT_IO_OUT;
	/* String I/O (rep outsb) arrives as count back-to-back items. */
	for (uint32_t i = 0; i < run->io.count; i++, p += run->io.size)
		bus_access(BUS_PIO, run->io.port, p, run->io.size, out);
}

static void vcpu_handle_system_event(struct vcpu *v)
{
	switch (v->run->system_event.type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		vm_request_exit(0, "guest powered off");
		break;
	case KVM_SYSTEM_EVENT_RESET:
		vm_request_exit(0, "guest rebooted");
		break;
	default:
		vcpu_fatal(v, "guest crashed (KVM_EXIT_SYSTEM_EVENT)");
		break;
	}
}

/* One exit; returns false when the vCPU must stop. */
static bool vcpu_handle_exit(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	char why[128];
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		vcpu_handle_io(v);
		return true;
	case KVM_EXIT_MMIO:
		bus_access(BUS_MMIO, run->mmio.phys_addr, run->mmio.data, run->mmio.len, run->mmio.is_write);
		return true;
	case KVM_EXIT_INTR:
		return true;
	case KVM_EXIT_SHUTDOWN:
		vcpu_fatal(v, "guest triple fault (KVM_EXIT_SHUTDOWN)");
		return false;
	case KVM_EXIT_SYSTEM_EVENT:
		vcpu_handle_system_event(v);
		return false;
	case KVM_EXIT_INTERNAL_ERROR:
		snprintf(why, sizeof(why), "KVM internal error, suberror %u%s", run->internal.suberror,
			 run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION ? " (emulation failure)" : "");
		vcpu_fatal(v, why);
		return false;
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(why, sizeof(why), "KVM entry failed, hardware reason %#llx",
			 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		vcpu_fatal(v, why);
		return false;
	default:
		snprintf(why, sizeof(why), "unexpected KVM exit %u (%s)", run->exit_reason, vcpu_exit_name(run->exit_reason));
		vcpu_fatal(v, why);
		return false;
	}
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	char name[16];
	snprintf(name, sizeof(name), "vcpu%d", v->id);
	pthread_setname_np(pthread_self(), name);
	if (seccomp_enter(SECCOMP_VCPU)) {
		vm_request_exit(EXIT_RUNTIME, "cannot install a vCPU thread's system call filter");
		return NULL;
	}
	while (!vm_exiting()) {
		if (__atomic_load_n(&pause_state.want, __ATOMIC_ACQUIRE))
			vcpu_park();
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				v->run->immediate_exit = 0;
				continue;
			}
			char why[96];
			snprintf(why, sizeof(why), "KVM_RUN failed: %s", strerror(errno));
			vcpu_fatal(v, why);
			break;
		}
		if (v->run->exit_reason < VCPU_EXIT_REASONS)
			v->exits[v->run->exit_reason]++;
		if (!vcpu_handle_exit(v))
			break;
	}
	return NULL;
}

/* No SA_RESTART: the kick must make KVM_RUN return EINTR. */
static void vcpu_install_kick_handler(void)
{
	struct sigaction sa = { .sa_handler = vcpu_kick_handler };
	sigemptyset(&sa.sa_mask);
	sigaction(VCPU_KICK_SIGNAL, &sa, NULL);
}

int vcpu_start(struct vcpu *v)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, vcpu_install_kick_handler);
	int ret = pthread_create(&v->thread, NULL, vcpu_thread, v);
	if (ret)
		return -ret;
	v->started = 1;
	return 0;
}

void vcpu_stop(struct vcpu *v)
{
	if (!v->started)
		return;
	vcpu_kick(v);
	/* A parked vCPU sleeps on the condition variable, not in KVM_RUN: wake it to see the exit. */
	pthread_mutex_lock(&pause_state.lock);
	pthread_cond_broadcast(&pause_state.changed);
	pthread_mutex_unlock(&pause_state.lock);
	pthread_join(v->thread, NULL);
	v->started = 0;
}

void vcpu_destroy(struct vcpu *v)
{
	if (v->run)
		munmap(v->run, v->run_size);
	if (v->fd >= 0)
		close(v->fd);
	v->run = NULL;
	v->fd = -1;
}
