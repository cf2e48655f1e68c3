/* ioeventfd.h: KVM_IOEVENTFD: a guest MMIO write to an address signals an eventfd in the kernel,
 * without a VM exit to userspace (the virtio doorbells). */
#ifndef MINIVMM_IOEVENTFD_H
#define MINIVMM_IOEVENTFD_H
#include <stdbool.h>
#include <stdint.h>

/* Binds the module to the VM fd (call once next to irq_init). 0 or -errno. */
int ioeventfd_init(int vm_fd);
/* Assigns (or with assign=false removes) efd on writes of `len` bytes (1, 2, 4, 8; 0 = any
 * length) to MMIO address addr. No datamatch: every write signals. 0 or -errno. */
int ioeventfd_mmio(int efd, uint64_t addr, uint32_t len, bool assign);
/* The same with datamatch: only writes of exactly `data` signal. */
int ioeventfd_mmio_match(int efd, uint64_t addr, uint32_t len, uint64_t data, bool assign);
#endif
