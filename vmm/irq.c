/* irq.c: KVM's GSI routing table (default irqchip routes + MSI routes), lines, MSIs and irqfds. */
#include "vmm/irq.h"

#include <errno.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "firmware/layout.h"

#define IRQ_MAX_GSI 1024

static int irq_vm_fd = -1;
static pthread_mutex_t irq_lock = PTHREAD_MUTEX_INITIALIZER;
/* MSI routes by GSI; used[] marks allocated GSIs >= LAYOUT_IOAPIC_PINS. */
static struct kvm_irq_routing_msi msi[IRQ_MAX_GSI];
static bool used[IRQ_MAX_GSI];

static void irq_route_chip(struct kvm_irq_routing_entry *e, uint32_t gsi, uint32_t chip, uint32_t pin)
{
	memset(e, 0, sizeof(*e));
	e->gsi = gsi;
	e->type = KVM_IRQ_ROUTING_IRQCHIP;
	e->u.irqchip.irqchip = chip;
	e->u.irqchip.pin = pin;
}

/* Rebuilds the whole table: KVM's own defaults (GSI n -> IOAPIC pin n, and PIC for n < 16), the
 * same table KVM installs at KVM_CREATE_IRQCHIP, plus every allocated MSI route. */
static int irq_commit(void)
{
	size_t max = 16 * 2 + (LAYOUT_IOAPIC_PINS - 16) + IRQ_MAX_GSI;
	struct kvm_irq_routing *t = calloc(1, sizeof(*t) + max * sizeof(t->entries[0]));
	if (!t)
		return -ENOMEM;
	uint32_t n = 0;
	for (uint32_t g = 0; g < LAYOUT_IOAPIC_PINS; g++) {
		irq_route_chip(&t->entries[n++], g, KVM_IRQCHIP_IOAPIC, g);
		if (g < 16)
			irq_route_chip(&t->entries[n++], g, g < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE, g % 8);
	}
	for (uint32_t g = LAYOUT_IOAPIC_PINS; g < IRQ_MAX_GSI; g++) {
		if (!used[g])
			continue;
		struct kvm_irq_routing_entry *e = &t->entries[n++];
		e->gsi = g;
		e->type = KVM_IRQ_ROUTING_MSI;
		e->u.msi = msi[g];
	}
	t->nr = n;
	int ret = ioctl(irq_vm_fd, KVM_SET_GSI_ROUTING, t) < 0 ? -errno : 0;
	free(t);
	return ret;
}

int irq_init(int vm_fd)
{
	irq_vm_fd = vm_fd;
	memset(used, 0, sizeof(used));
	return irq_commit();
}

int irq_line(uint32_t gsi, int level)
{
	struct kvm_irq_level l = { .irq = gsi, .level = level };
	return ioctl(irq_vm_fd, KVM_IRQ_LINE, &l) < 0 ? -errno : 0;
}

int irq_pulse(uint32_t gsi)
{
	int ret = irq_line(gsi, 1);
	return ret ? ret : irq_line(gsi, 0);
}

int irq_msi_alloc(void)
{
	pthread_mutex_lock(&irq_lock);
	int gsi = -ENOSPC;
	for (uint32_t g = LAYOUT_IOAPIC_PINS; g < IRQ_MAX_GSI; g++) {
		if (!used[g]) {
			used[g] = true;
			memset(&msi[g], 0, sizeof(msi[g]));
			gsi = (int)g;
			break;
		}
	}
	pthread_mutex_unlock(&irq_lock);
	return gsi;
}

int irq_msi_set(uint32_t gsi, uint64_t addr, uint32_t data)
{
	if (gsi >= IRQ_MAX_GSI || !used[gsi])
		return -EINVAL;
	pthread_mutex_lock(&irq_lock);
	msi[gsi].address_lo = (uint32_t)addr;
	msi[gsi].address_hi = (uint32_t)(addr >> 32);
	msi[gsi].data = data;
	int ret = irq_commit();
	pthread_mutex_unlock(&irq_lock);
	return ret;
}

void irq_msi_free(uint32_t gsi)
{
	if (gsi >= IRQ_MAX_GSI)
		return;
	pthread_mutex_lock(&irq_lock);
	used[gsi] = false;
	irq_commit();
	pthread_mutex_unlock(&irq_lock);
}

int irq_msi_signal(uint64_t addr, uint32_t data)
{
	struct kvm_msi m = { .address_lo = (uint32_t)addr, .address_hi = (uint32_t)(addr >> 32), .data = data };
	int ret = ioctl(irq_vm_fd, KVM_SIGNAL_MSI, &m);
	return ret < 0 ? -errno : 0;
}

int irq_irqfd(int efd, uint32_t gsi, int assign)
{
	struct kvm_irqfd f = { .fd = (uint32_t)efd, .gsi = gsi, .flags = assign ? 0 : KVM_IRQFD_FLAG_DEASSIGN };
	return ioctl(irq_vm_fd, KVM_IRQFD, &f) < 0 ? -errno : 0;
}
