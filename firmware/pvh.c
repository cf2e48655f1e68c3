/* pvh.c: the start-of-day structure of the Xen PVH boot ABI (xen/include/public/arch-x86/hvm/
 * start_info.h, version 1), which Linux accepts when entered at its PHYS32_ENTRY note. There is
 * no uapi header for it, so the structures are spelled out here with Xen's names. */
#include <errno.h>
#include <string.h>

#include "firmware/e820.h"
#include "firmware/kernel_image.h"
#include "firmware/layout.h"

#define XEN_HVM_START_MAGIC_VALUE 0x336ec578

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;    /* version 1 */
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct hvm_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
};

struct hvm_memmap_table_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type; /* e820 types */
	uint32_t reserved;
};

_Static_assert(sizeof(struct hvm_start_info) == 56, "hvm_start_info layout");
_Static_assert(sizeof(struct hvm_memmap_table_entry) == 24, "memmap entry layout");

#define PVH_MODLIST (LAYOUT_PVH_INFO + 64)
#define PVH_MEMMAP (LAYOUT_PVH_INFO + 128)

int pvh_start_info_write(struct guest_mem *m, const struct machine_desc *md,
			 const struct boot_payload *p)
{
	struct e820_range map[E820_MAX_RANGES];
	struct hvm_start_info si = {
		.magic = XEN_HVM_START_MAGIC_VALUE,
		.version = 1,
		.cmdline_paddr = p->cmdline_addr,
		.rsdp_paddr = LAYOUT_RSDP,
		.memmap_paddr = PVH_MEMMAP,
	};

	if (p->initrd_size) {
		/* Linux takes the first module as its initrd. */
		struct hvm_modlist_entry mod = { .paddr = p->initrd_addr, .size = p->initrd_size };
		if (guest_write(m, PVH_MODLIST, &mod, sizeof(mod)))
			return -EFAULT;
		si.nr_modules = 1;
		si.modlist_paddr = PVH_MODLIST;
	}
	int n = e820_build(md, map);
	for (int i = 0; i < n; i++) {
		struct hvm_memmap_table_entry e = { map[i].addr, map[i].size, map[i].type, 0 };
		if (guest_write(m, PVH_MEMMAP + i * sizeof(e), &e, sizeof(e)))
			return -EFAULT;
	}
	si.memmap_entries = n;
	return guest_write(m, LAYOUT_PVH_INFO, &si, sizeof(si)) ? -EFAULT : 0;
}
