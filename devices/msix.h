/* msix.h: MSI-X for a PCI device: the capability, the vector table and PBA in a BAR of their own,
 * one KVM MSI route per vector kept in step with the table, and delivery (inject now, or set the
 * pending bit while masked and inject on unmask).
 *
 * The owner forwards its pci_dev_ops.cfg_write hook to msix_cfg_write() (Message Control lives
 * in config space) and learns through `changed` when a vector's deliverability or route changes,
 * so it can bind or unbind an irqfd on msix_vector_gsi(). */
#ifndef MINIVMM_MSIX_H
#define MINIVMM_MSIX_H
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/pci.h"

#define MSIX_MAX_VECTORS 64 /* one 64-bit PBA word */
#define MSIX_BAR_SIZE	 0x1000
#define MSIX_TABLE_OFF	 0x000
#define MSIX_PBA_OFF	 0x800

/* The KVM side, a seam for tests. Defaults to vmm/irq.c (irq_msi_*). */
struct msix_kvm_ops {
	int (*msi_alloc)(void);
	int (*msi_set)(uint32_t gsi, uint64_t addr, uint32_t data);
	void (*msi_free)(uint32_t gsi);
	int (*msi_signal)(uint64_t addr, uint32_t data);
};
extern const struct msix_kvm_ops msix_kvm_irq;

/* Called (with no MSI-X lock held) after vector's mask, route or the function's enable/mask
 * changed; vector -1 means "possibly all of them". */
typedef void (*msix_changed_fn)(void *opaque, int vector);

struct msix_entry {
	uint32_t addr_lo, addr_hi, data, ctrl;
};

struct msix {
	struct pci_dev *pci;
	const struct msix_kvm_ops *kops;
	msix_changed_fn changed;
	void *opaque;
	int bar;
	uint16_t nvec;
	uint8_t cap;  /* config-space offset of the capability */
	bool enabled; /* Message Control: MSI-X Enable */
	bool fmask;   /* Message Control: Function Mask */
	pthread_mutex_t lock;
	struct msix_entry table[MSIX_MAX_VECTORS];
	uint64_t pba; /* pending bits */
	int gsi[MSIX_MAX_VECTORS];
	struct {
		uint64_t addr;
		uint32_t data;
		bool valid; /* committed to KVM for gsi[v] */
	} route[MSIX_MAX_VECTORS];
	uint64_t delivered, pended; /* counters for --stats and tests */
};

/* Declares BAR `bar` (32-bit memory, MSIX_BAR_SIZE) on d, adds the capability and allocates one
 * GSI per vector. Call before pci_register(d). kops NULL = msix_kvm_irq. 0 or -errno. */
int msix_init(struct msix *m, struct pci_dev *d, int bar, uint16_t nvec, const struct msix_kvm_ops *kops,
	      msix_changed_fn changed, void *opaque);
void msix_free(struct msix *m);

/* Forward of the owner's cfg_write hook; looks at Message Control. */
void msix_cfg_write(struct msix *m, uint32_t off, uint32_t len);

bool msix_enabled(struct msix *m);
/* Signals vector: 1 injected, 0 left pending (masked), -EINVAL (MSI-X off or no such vector;
 * the caller falls back to INTx or drops). */
int msix_notify(struct msix *m, uint16_t vector);
/* The GSI whose route injects vector when KVM may deliver it directly (MSI-X on, function and
 * vector unmasked, route committed), else -1: then use msix_notify(). */
int msix_vector_gsi(struct msix *m, uint16_t vector);
#endif
