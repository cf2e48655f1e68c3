/* e820.c: the memory map. It mirrors guest_mem_init()'s split of RAM around the PCI hole. */
#include "firmware/e820.h"

#include "firmware/layout.h"

int e820_build(const struct machine_desc *md, struct e820_range *out)
{
	uint64_t low_end = machine_low_ram_end(md);
	int n = 0;

	out[n++] = (struct e820_range){ 0, LAYOUT_EBDA, E820_TYPE_RAM };
	out[n++] = (struct e820_range){ LAYOUT_EBDA, LAYOUT_LOWMEM_END - LAYOUT_EBDA, E820_TYPE_RESERVED };
	/* 0xa0000-0xdffff is the legacy VGA/option-ROM hole: absent, so not listed at all. */
	out[n++] = (struct e820_range){ LAYOUT_BIOS_AREA, LAYOUT_BIOS_END - LAYOUT_BIOS_AREA,
					E820_TYPE_RESERVED };
	if (low_end > LAYOUT_BIOS_END)
		out[n++] = (struct e820_range){ LAYOUT_BIOS_END, low_end - LAYOUT_BIOS_END, E820_TYPE_RAM };
	if (md->ram_size > low_end)
		out[n++] = (struct e820_range){ LAYOUT_HIGH_RAM, md->ram_size - low_end, E820_TYPE_RAM };
	return n;
}
