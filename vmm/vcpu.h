/* vcpu.h: one thread per vCPU: CPUID/MSR/LAPIC setup, the boot register state, and the KVM_RUN
 * loop that routes PIO/MMIO exits to the bus and turns fatal exits into a VM exit. */
#ifndef MINIVMM_VCPU_H
#define MINIVMM_VCPU_H
#include <linux/kvm.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include "vmm/kvm.h"

#define VCPU_EXIT_REASONS 64

struct vcpu {
	int id;
	int fd;
	struct kvm_run *run;
	int run_size;
	pthread_t thread;
	int started;
	uint64_t exits[VCPU_EXIT_REASONS]; /* KVM exits by reason, for --stats */
};

/* Where the BSP starts: Linux's 64-bit boot protocol entry, or a PVH 32-bit entry. */
enum vcpu_entry { VCPU_ENTRY_LINUX64, VCPU_ENTRY_PVH32 };

struct vcpu_boot {
	enum vcpu_entry mode;
	uint64_t rip;
	uint64_t rsi;     /* LINUX64: boot_params */
	uint64_t rbx;     /* PVH32: hvm_start_info */
	uint64_t rsp;
	uint64_t cr3;     /* LINUX64: PML4 */
	uint64_t gdt_base;
	uint16_t gdt_limit;
	uint16_t cs, ds;  /* selectors in that GDT */
	uint64_t code_desc, data_desc; /* the GDT descriptors behind cs and ds */
};

/* Creates vCPU id of ncpus: CPUID, MSRs, LAPIC LINT0/1. 0 or -errno with a line printed. */
int vcpu_create(struct kvm *k, struct vcpu *v, int id, int ncpus);
/* Loads the boot register state into the BSP. */
int vcpu_set_boot_state(struct vcpu *v, const struct vcpu_boot *b);
/* Starts the run thread. */
int vcpu_start(struct vcpu *v);
/* Makes KVM_RUN return so the thread sees vm_exiting(); then joins. */
void vcpu_stop(struct vcpu *v);
void vcpu_destroy(struct vcpu *v);
/* Register dump for fatal exits. */
void vcpu_dump(struct vcpu *v, FILE *f);
const char *vcpu_exit_name(uint32_t reason);
/* Fills a kvm_segment from a GDT descriptor and its selector. */
void vcpu_segment_from_desc(struct kvm_segment *s, uint16_t sel, uint64_t desc);
#endif
