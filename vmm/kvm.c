/* kvm.c: /dev/kvm checks and VM creation. */
#include "vmm/kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "firmware/layout.h"
#include "vmm/cpuid.h"
#include "vmm/ioeventfd.h"
#include "vmm/irq.h"
#include "vmm/log.h"

static const struct {
	int cap;
	const char *name;
} kvm_needed_caps[] = {
	{ KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP" },
	{ KVM_CAP_HLT, "KVM_CAP_HLT" },
	{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY" },
	{ KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR" },
	{ KVM_CAP_SET_IDENTITY_MAP_ADDR, "KVM_CAP_SET_IDENTITY_MAP_ADDR" },
	{ KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID" },
	{ KVM_CAP_MP_STATE, "KVM_CAP_MP_STATE" },
	{ KVM_CAP_PIT2, "KVM_CAP_PIT2" },
	{ KVM_CAP_IRQ_ROUTING, "KVM_CAP_IRQ_ROUTING" },
	{ KVM_CAP_IRQFD, "KVM_CAP_IRQFD" },
	{ KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD" },
	{ KVM_CAP_SIGNAL_MSI, "KVM_CAP_SIGNAL_MSI" },
	{ KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT" },
};

/* PVM runs guest ring 0 through KVM's instruction emulator; stock kernels die there. */
static int kvm_is_pvm(void)
{
	return access("/sys/module/kvm_pvm", F_OK) == 0;
}

int kvm_open(struct kvm *k, const char *path)
{
	memset(k, 0, sizeof(*k));
	k->fd = k->vm_fd = -1;
	k->fd = open(path, O_RDWR | O_CLOEXEC);
	if (k->fd < 0) {
		int err = -errno;
		if (err == -ENOENT)
			log_err("%s does not exist: KVM is not available on this machine (load kvm-intel or kvm-amd)", path);
		else if (err == -EACCES || err == -EPERM)
			log_err("no permission to open %s (run as root or join the kvm group)", path);
		else
			log_err("cannot open %s: %s", path, strerror(-err));
		return err;
	}
	if (kvm_is_pvm()) {
		log_err("%s is PVM (kvm_pvm): it cannot run unmodified kernels; run minivmm inside the nested test host (tests/e2e/testhost.sh)", path);
		kvm_close(k);
		return -ENOTSUP;
	}
	int ver = ioctl(k->fd, KVM_GET_API_VERSION, 0);
	if (ver != KVM_API_VERSION) {
		log_err("%s: KVM API version %d, need %d", path, ver, KVM_API_VERSION);
		kvm_close(k);
		return -ENOTSUP;
	}
	for (size_t i = 0; i < sizeof(kvm_needed_caps) / sizeof(kvm_needed_caps[0]); i++) {
		if (ioctl(k->fd, KVM_CHECK_EXTENSION, kvm_needed_caps[i].cap) <= 0) {
			log_err("%s lacks %s", path, kvm_needed_caps[i].name);
			kvm_close(k);
			return -ENOTSUP;
		}
	}
	k->tsc_deadline = ioctl(k->fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER) > 0;
	k->vcpu_mmap_size = ioctl(k->fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (k->vcpu_mmap_size <= 0) {
		log_err("%s: KVM_GET_VCPU_MMAP_SIZE failed", path);
		kvm_close(k);
		return -ENOTSUP;
	}
	return 0;
}

static int kvm_vm_ioctl(struct kvm *k, unsigned long req, unsigned long arg, const char *what)
{
	if (ioctl(k->vm_fd, req, arg) < 0) {
		int err = -errno;
		log_err("%s: %s", what, strerror(-err));
		return err;
	}
	return 0;
}

int kvm_create_vm(struct kvm *k, const struct guest_mem *m)
{
	k->vm_fd = ioctl(k->fd, KVM_CREATE_VM, 0);
	if (k->vm_fd < 0) {
		int err = -errno;
		log_err("KVM_CREATE_VM: %s", strerror(-err));
		return err;
	}
	int ret = kvm_vm_ioctl(k, KVM_SET_TSS_ADDR, LAYOUT_TSS, "KVM_SET_TSS_ADDR");
	if (ret)
		return ret;
	uint64_t ident = LAYOUT_IDENTITY_MAP;
	if ((ret = kvm_vm_ioctl(k, KVM_SET_IDENTITY_MAP_ADDR, (unsigned long)&ident, "KVM_SET_IDENTITY_MAP_ADDR")))
		return ret;
	if ((ret = kvm_vm_ioctl(k, KVM_CREATE_IRQCHIP, 0, "KVM_CREATE_IRQCHIP")))
		return ret;
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	if ((ret = kvm_vm_ioctl(k, KVM_CREATE_PIT2, (unsigned long)&pit, "KVM_CREATE_PIT2")))
		return ret;
	for (int i = 0; i < m->nr; i++) {
		struct kvm_userspace_memory_region r = {
			.slot = (uint32_t)i,
			.guest_phys_addr = m->r[i].gpa,
			.memory_size = m->r[i].size,
			.userspace_addr = (uint64_t)(uintptr_t)m->r[i].hva,
		};
		if ((ret = kvm_vm_ioctl(k, KVM_SET_USER_MEMORY_REGION, (unsigned long)&r, "KVM_SET_USER_MEMORY_REGION")))
			return ret;
	}
	if ((ret = irq_init(k->vm_fd))) {
		log_err("KVM_SET_GSI_ROUTING: %s", strerror(-ret));
		return ret;
	}
	if ((ret = ioeventfd_init(k->vm_fd))) {
		log_err("ioeventfd setup: %s", strerror(-ret));
		return ret;
	}
	return 0;
}

/* Room for every leaf KVM reports (a few dozen today). */
#define KVM_CPUID_MAX_ENTRIES 256

struct kvm_cpuid2 *kvm_supported_cpuid(struct kvm *k)
{
	size_t sz = sizeof(struct kvm_cpuid2) + KVM_CPUID_MAX_ENTRIES * sizeof(struct kvm_cpuid_entry2);
	struct kvm_cpuid2 *c = calloc(1, sz);
	if (!c) {
		log_err("KVM_GET_SUPPORTED_CPUID: %s", strerror(ENOMEM));
		return NULL;
	}
	c->nent = KVM_CPUID_MAX_ENTRIES;
	if (ioctl(k->fd, KVM_GET_SUPPORTED_CPUID, c) < 0) {
		log_err("KVM_GET_SUPPORTED_CPUID: %s", strerror(errno));
		free(c);
		return NULL;
	}
	return c;
}

int kvm_guest_phys_bits(struct kvm *k)
{
	struct kvm_cpuid2 *c = kvm_supported_cpuid(k);
	if (!c)
		return -EIO;
	int bits = (int)cpuid_phys_bits(c->entries, c->nent);
	free(c);
	return bits;
}

void kvm_close(struct kvm *k)
{
	if (k->vm_fd >= 0)
		close(k->vm_fd);
	if (k->fd >= 0)
		close(k->fd);
	k->fd = k->vm_fd = -1;
}
