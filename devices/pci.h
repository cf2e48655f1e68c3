/* pci.h: the PCI host bridge (conf1 at 0xCF8/0xCFC) and the config-space model devices plug into.
 *
 * A device fills a struct pci_dev (ids, BARs, capabilities) and registers it; the model handles
 * BAR sizing and placement, read-only bits, the capability list, and moves the device's BAR
 * handlers on the bus when the guest reprograms a BAR. It knows nothing of what a device does. */
#ifndef MINIVMM_PCI_H
#define MINIVMM_PCI_H
#include <stdbool.h>
#include <stdint.h>
#include "vmm/bus.h"

#define PCI_MAX_DEVS 32
#define PCI_CFG_SIZE 256

struct pci_dev;

struct pci_bar {
	uint64_t size; /* power of two, 0 = unused */
	bool io;       /* I/O BAR (else memory) */
	bool mem64;    /* 64-bit memory BAR (takes two BAR slots) */
	bool prefetch;
	bus_io_fn fn; /* accesses, offset relative to the BAR */
	void *opaque;
	uint64_t addr; /* current guest address (maintained by the model) */
	bool mapped;   /* registered on the bus */
};

struct pci_dev_ops {
	/* Optional hooks, called after the model applied a config write and before it returns a
	 * read, with the exact byte offset and length of the access (MSI-X watches its control
	 * word this way). */
	void (*cfg_write)(struct pci_dev *d, uint32_t off, uint32_t len, uint32_t val);
	void (*cfg_read)(struct pci_dev *d, uint32_t off, uint32_t len, uint32_t *val);
	/* A BAR moved or was (un)mapped (e.g. to re-register ioeventfds at the new address). */
	void (*bar_moved)(struct pci_dev *d, int bar);
};

struct pci_dev {
	uint8_t cfg[PCI_CFG_SIZE];
	uint8_t wmask[PCI_CFG_SIZE];   /* bits the guest may write */
	uint8_t w1cmask[PCI_CFG_SIZE]; /* write-1-to-clear bits (status register) */
	struct pci_bar bar[6];
	const struct pci_dev_ops *ops;
	void *opaque;		/* the device behind it */
	int slot;		/* assigned by pci_register */
	uint32_t intx_gsi;	/* GSI for INTA#, assigned by pci_register */
	uint8_t cap_next;	/* next free config offset for capabilities */
	uint8_t *cap_last_link; /* where to chain the next capability */
	int intx_level;		/* level the device asked for (INTx Disable may mask it) */
};

/* Initialises d: vendor/device/class/revision/subsystem, writable command bits, INTA#. */
void pci_dev_init(struct pci_dev *d, uint16_t vendor, uint16_t device, uint32_t class_code, uint8_t revision,
		  uint16_t subsys_vendor, uint16_t subsys_id);
/* Declares BAR n; 64-bit BARs use n and n+1. */
void pci_bar_init(struct pci_dev *d, int n, uint64_t size, bool io, bool mem64, bool prefetch, bus_io_fn fn,
		  void *opaque);
/* Appends a capability (cap[0] = id, cap[1] is filled with the next pointer) of len bytes;
 * returns its config-space offset, or 0 if it does not fit. wmask for it is all read-only;
 * callers open writable bytes with pci_cfg_set_wmask. */
uint8_t pci_cap_add(struct pci_dev *d, const void *cap, uint8_t len);
void pci_cfg_set_wmask(struct pci_dev *d, uint32_t off, uint32_t len, uint8_t mask);

/* The 64-bit BAR window (struct machine_desc's mmio64_*), before the first pci_register();
 * until then, and after pci_reset_all(), LAYOUT_PCI_MMIO64. */
void pci_mmio64_window_set(uint64_t base, uint64_t size);

/* Places the BARs in the PCI windows, assigns slot and INTx GSI. 0 or -errno. */
int pci_register(struct pci_dev *d);

/* Unmaps d's BARs and frees its slot (device teardown). */
void pci_unregister(struct pci_dev *d);

/* Config accesses (the conf1 handler and the virtio PCI_CFG window use these). */
uint32_t pci_cfg_read(struct pci_dev *d, uint32_t off, uint32_t len);
void pci_cfg_write(struct pci_dev *d, uint32_t off, uint32_t len, uint32_t val);

/* Registers the host bridge (slot 0) and the conf1 ports. 0 or -errno. */
int pci_host_init(void);
/* Registered devices, for the firmware tables (_PRT) and tests. */
int pci_dev_count(void);
struct pci_dev *pci_dev_at(int i);
/* Forgets all devices (tests). */
void pci_reset_all(void);

/* INTx: level-triggered assert/deassert of the device's INTA#. Honours INTx Disable and keeps
 * status bit 3 (Interrupt Status) in step. */
void pci_intx(struct pci_dev *d, int level);
/* Test seam: the function that drives a GSI line (default irq_line). NULL restores it. */
void pci_set_line_fn(int (*fn)(uint32_t gsi, int level));
/* True if the guest set Bus Master Enable / Memory Space Enable / INTx Disable. */
bool pci_bus_master(const struct pci_dev *d);
#endif
