/* cpuid.h: shaping KVM_GET_SUPPORTED_CPUID into what one vCPU of an N-vCPU guest should see:
 * APIC ids, topology leaves matching --cpus, the hypervisor bit and KVM's leaves. Pure functions
 * over struct kvm_cpuid_entry2 arrays, so they are unit-tested without KVM. */
#ifndef MINIVMM_CPUID_H
#define MINIVMM_CPUID_H
#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>

struct cpuid_opts {
	uint32_t apic_id;  /* this vCPU's APIC id (== its index) */
	uint32_t ncpus;
	bool tsc_deadline; /* KVM_CAP_TSC_DEADLINE_TIMER: advertise the TSC-deadline LAPIC timer */
};

/* Rewrites the n entries in place for one vCPU. */
void cpuid_shape(struct kvm_cpuid_entry2 *e, uint32_t n, const struct cpuid_opts *o);
/* The entry for function/index, or NULL. */
struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid_entry2 *e, uint32_t n, uint32_t function, uint32_t index);
/* The guest's physical address bits from KVM_GET_SUPPORTED_CPUID: leaf 0x80000008 EAX[23:16]
 * (GuestPhysBits, set by KVM when its page tables reach less far than the host's) if non-zero,
 * else EAX[7:0]; 36 (the SDM's default) without the leaf. */
uint32_t cpuid_phys_bits(struct kvm_cpuid_entry2 *e, uint32_t n);
/* Bits needed to number ncpus APIC ids (0 for 1). */
uint32_t cpuid_id_bits(uint32_t ncpus);
#endif
