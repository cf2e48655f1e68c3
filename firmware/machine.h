/* machine.h: the description of the virtual machine that the firmware tables are generated from.
 *
 * main.c fills one from the vm_config; boot_load() (boot.h) and firmware_build() (firmware.h)
 * read it. Everything else about the machine is fixed in layout.h. */
#ifndef MINIVMM_MACHINE_H
#define MINIVMM_MACHINE_H
#include <stdint.h>
#include "firmware/layout.h"

struct machine_desc {
	uint64_t ram_size; /* bytes of guest RAM, split around the PCI hole as guest_mem does */
	int ncpus;         /* APIC ids 0..ncpus-1; the IOAPIC gets id ncpus */
	/* The 64-bit PCI BAR window, [mmio64_base, mmio64_base + mmio64_size): the PCI model places
	 * BARs there, the DSDT's _CRS and the DTB's ranges describe it, and it never overlaps RAM
	 * (e820). Set by machine_desc_init(). */
	uint64_t mmio64_base, mmio64_size;
};

/* Where the 64-bit BAR window goes in a guest with phys_bits physical address bits (CPUID
 * 0x80000008, as KVM gives it to the guest): Linux ignores a _CRS window that is not below
 * 2^phys_bits, and then has nowhere to put 64-bit BARs. The window is LAYOUT_PCI_MMIO64_SIZE
 * (less if the space is small) at 2^(phys_bits - 1), or right above RAM if RAM reaches that far;
 * bits above 46 are not used (4-level-paging guests: MAX_PHYSMEM_BITS). 0 or -E2BIG (RAM and
 * the window do not fit), -EINVAL (fewer than 36 bits). */
int machine_mmio64_window(uint64_t ram_size, unsigned phys_bits, uint64_t *base, uint64_t *size);
/* Fills md for ram_size bytes, ncpus vCPUs and a guest with phys_bits physical address bits;
 * 0 or machine_mmio64_window()'s error. */
int machine_desc_init(struct machine_desc *md, uint64_t ram_size, int ncpus, unsigned phys_bits);

/* RAM below the PCI hole ends here (exclusive); RAM above 4 GiB is ram_size minus that. */
static inline uint64_t machine_low_ram_end(const struct machine_desc *md)
{
	return md->ram_size < LAYOUT_PCI_HOLE ? md->ram_size : LAYOUT_PCI_HOLE;
}
#endif
