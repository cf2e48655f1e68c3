/* e820.h: the guest's physical memory map, as given to Linux in boot_params and to a PVH kernel
 * in hvm_start_info (both use the e820 type numbers). */
#ifndef MINIVMM_E820_H
#define MINIVMM_E820_H
#include <stdint.h>
#include "firmware/machine.h"

#define E820_TYPE_RAM 1
#define E820_TYPE_RESERVED 2

struct e820_range {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
};

#define E820_MAX_RANGES 8

/* Fills out[] (room for E820_MAX_RANGES) with the map for md: conventional memory, the EBDA and
 * BIOS areas reserved, RAM from 1 MiB up to the PCI hole, and RAM above 4 GiB. Returns the count. */
int e820_build(const struct machine_desc *md, struct e820_range *out);
#endif
