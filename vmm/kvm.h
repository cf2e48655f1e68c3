/* kvm.h: opening /dev/kvm, checking it can run us, creating the VM with its irqchip and memory. */
#ifndef MINIVMM_KVM_H
#define MINIVMM_KVM_H
#include "vmm/guest_mem.h"

struct kvm {
	int fd;      /* /dev/kvm */
	int vm_fd;
	int vcpu_mmap_size;
	int tsc_deadline; /* KVM_CAP_TSC_DEADLINE_TIMER */
};

/* Opens path (normally "/dev/kvm"), checks the API version and every capability minivmm needs,
 * and refuses a PVM module that cannot run unmodified kernels. Prints one line and returns
 * -errno on failure. */
int kvm_open(struct kvm *k, const char *path);
/* Creates the VM: TSS and identity-map pages, in-kernel IOAPIC/PIC/LAPIC, PIT, GSI routing and
 * the guest memory slots. 0 or -errno with one line printed. */
int kvm_create_vm(struct kvm *k, const struct guest_mem *m);
/* KVM_GET_SUPPORTED_CPUID, malloc'ed (free() it), or NULL with one line printed. */
struct kvm_cpuid2 *kvm_supported_cpuid(struct kvm *k);
/* The physical address bits KVM gives the guest (cpuid_phys_bits()), or -EIO. */
int kvm_guest_phys_bits(struct kvm *k);
void kvm_close(struct kvm *k);
#endif
