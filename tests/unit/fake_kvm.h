/* fake_kvm.h: recording stand-ins for the KVM calls devices make through their ops seams
 * (MSI routes and injection, irqfds, ioeventfds), so unit tests need no /dev/kvm. */
#ifndef MINIVMM_FAKE_KVM_H
#define MINIVMM_FAKE_KVM_H
#include <stdbool.h>
#include <stdint.h>

#include "devices/msix.h"

#define FAKE_KVM_LOG 64

struct fake_kvm {
	int next_gsi, nalloc, nfree;
	int nset;
	struct {
		uint32_t gsi;
		uint64_t addr;
		uint32_t data;
	} set[FAKE_KVM_LOG];
	int nsignal;
	struct {
		uint64_t addr;
		uint32_t data;
	} signal[FAKE_KVM_LOG];
	/* Currently assigned ioeventfds and irqfds (assign adds, deassign removes). */
	int nioev;
	struct {
		int efd;
		uint64_t addr;
		uint32_t len;
	} ioev[FAKE_KVM_LOG];
	int nirqfd;
	struct {
		int efd;
		uint32_t gsi;
	} irqfd[FAKE_KVM_LOG];
	int irqfd_calls;
	int line[32]; /* current level of each IOAPIC input */
	int line_calls;
};
extern struct fake_kvm fake_kvm;
extern const struct msix_kvm_ops fake_msix_kvm_ops;

void fake_kvm_reset(void);
/* Recording ioeventfd / irqfd (KVM_IOEVENTFD, KVM_IRQFD) with the vmm/ signatures. */
int fake_kvm_ioeventfd(int efd, uint64_t addr, uint32_t len, bool assign);
int fake_kvm_irqfd(int efd, uint32_t gsi, int assign);
/* Recording INTx line driver for pci_set_line_fn(). */
int fake_kvm_line(uint32_t gsi, int level);
/* The GSI efd is bound to, or -1. */
int fake_kvm_irqfd_gsi(int efd);
/* Whether an ioeventfd for efd is assigned at addr. */
bool fake_kvm_ioeventfd_at(int efd, uint64_t addr);
#endif
