/* vcpu.h: one thread per vCPU: CPUID/MSR/LAPIC setup, the boot register state, and the KVM_RUN
 * loop that routes PIO/MMIO exits to the bus and turns fatal exits into a VM exit. */
#ifndef MINIVMM_VCPU_H
#define MINIVMM_VCPU_H
#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "firmware/boot.h"
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
	char fatal[160];                   /* why this vCPU stopped the VM, if it did */
};

/* Creates vCPU id of ncpus: CPUID, MSRs, LAPIC LINT0/1. 0 or -errno with a line printed. */
int vcpu_create(struct kvm *k, struct vcpu *v, int id, int ncpus);
/* Loads the boot register state boot_load() chose into the BSP. */
int vcpu_set_boot_state(struct vcpu *v, const struct boot_info *bi);
/* Starts the run thread. */
int vcpu_start(struct vcpu *v);
/* Parks every started vCPU of v[0..n) outside KVM_RUN; returns once all are parked, or
 * -ETIMEDOUT (and nothing stays paused) after timeout_ms. Main thread only. */
int vcpu_pause_all(struct vcpu *v, int n, int timeout_ms);
/* Lets parked vCPUs run again. */
void vcpu_resume_all(void);
/* Makes KVM_RUN return so the thread sees vm_exiting(); then joins (a parked vCPU too). */
void vcpu_stop(struct vcpu *v);
void vcpu_destroy(struct vcpu *v);
/* Register dump for fatal exits. */
void vcpu_dump(struct vcpu *v, FILE *f);
const char *vcpu_exit_name(uint32_t reason);
#endif
