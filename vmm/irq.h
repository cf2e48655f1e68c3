/* irq.h: guest interrupts through KVM's in-kernel irqchip: INTx lines, MSI routes, irqfds.
 *
 * KVM_SET_GSI_ROUTING replaces the whole table, so this module owns it: the default IOAPIC/PIC
 * routes plus one MSI route per allocated GSI, committed on every change. */
#ifndef MINIVMM_IRQ_H
#define MINIVMM_IRQ_H
#include <stdint.h>

/* Binds the module to a VM fd, installs the default routes. 0 or -errno. */
int irq_init(int vm_fd);
/* Sets an IOAPIC/PIC input line level (KVM_IRQ_LINE). */
int irq_line(uint32_t gsi, int level);
/* Edge pulse: raise then lower. */
int irq_pulse(uint32_t gsi);
/* Allocates a GSI for an MSI route (>= 24); returns gsi or -errno. */
int irq_msi_alloc(void);
/* Points an allocated GSI at an MSI address/data pair and commits the table. */
int irq_msi_set(uint32_t gsi, uint64_t addr, uint32_t data);
void irq_msi_free(uint32_t gsi);
/* Injects one MSI directly (KVM_SIGNAL_MSI). */
int irq_msi_signal(uint64_t addr, uint32_t data);
/* KVM_IRQFD: a write to efd injects gsi. assign=0 detaches. */
int irq_irqfd(int efd, uint32_t gsi, int assign);
#endif
