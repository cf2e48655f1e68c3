/* machine.c: the parts of the machine description that are computed: the 64-bit PCI window. */
#include "firmware/machine.h"

#include <errno.h>

/* x86-64 Linux with 4-level paging keeps physical addresses below 2^46 (MAX_PHYSMEM_BITS). */
#define MACHINE_MAX_PHYS_BITS 46
/* Intel SDM: without CPUID 0x80000008, 36 bits. Fewer cannot hold 4 GiB of RAM and a window. */
#define MACHINE_MIN_PHYS_BITS 36

int machine_mmio64_window(uint64_t ram_size, unsigned phys_bits, uint64_t *base, uint64_t *size)
{
	if (phys_bits < MACHINE_MIN_PHYS_BITS)
		return -EINVAL;
	if (phys_bits > MACHINE_MAX_PHYS_BITS)
		phys_bits = MACHINE_MAX_PHYS_BITS;
	uint64_t top = 1ULL << phys_bits;
	uint64_t sz = LAYOUT_PCI_MMIO64_SIZE;
	while (sz > top / 8)
		sz /= 2;
	uint64_t ram_end =
	    ram_size > LAYOUT_PCI_HOLE ? LAYOUT_HIGH_RAM + (ram_size - LAYOUT_PCI_HOLE) : LAYOUT_HIGH_RAM;
	uint64_t b = top / 2;
	if (b < ram_end)
		b = (ram_end + sz - 1) / sz * sz;
	if (b + sz > top)
		return -E2BIG;
	*base = b;
	*size = sz;
	return 0;
}

int machine_desc_init(struct machine_desc *md, uint64_t ram_size, int ncpus, unsigned phys_bits)
{
	*md = (struct machine_desc){.ram_size = ram_size, .ncpus = ncpus};
	return machine_mmio64_window(ram_size, phys_bits, &md->mmio64_base, &md->mmio64_size);
}
