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
};

/* RAM below the PCI hole ends here (exclusive); RAM above 4 GiB is ram_size minus that. */
static inline uint64_t machine_low_ram_end(const struct machine_desc *md)
{
	return md->ram_size < LAYOUT_PCI_HOLE ? md->ram_size : LAYOUT_PCI_HOLE;
}
#endif
