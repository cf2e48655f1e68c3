/* boot_params.c: the zero page of the Linux boot protocol (boot.rst "The Zero Page"), filled
 * as a boot loader does: the image's setup header plus what the loader decides. */
#include <errno.h>
#include <string.h>

#include "firmware/e820.h"
#include "firmware/kernel_image.h"
#include "firmware/layout.h"

#define LOADER_TYPE_UNDEFINED 0xff /* boot.rst: "0xFF: undefined" -- no assigned loader id */
#define HDR_MAGIC_LE 0x53726448    /* "HdrS" */
#define HEAP_END 0xe000            /* setup heap end, as bootloaders conventionally use */

int boot_params_write(struct guest_mem *m, const struct machine_desc *md,
		      const struct kernel_image *k, const struct boot_payload *p)
{
	struct boot_params *bp = GUEST_PTR(m, LAYOUT_BOOT_PARAMS, struct boot_params);
	struct e820_range map[E820_MAX_RANGES];

	if (!bp)
		return -EFAULT;
	memset(bp, 0, sizeof(*bp));
	if (k->has_hdr) {
		memcpy(&bp->hdr, &k->hdr, k->hdr_len);
	} else {
		/* A vmlinux has no setup header; give the kernel the fields it checks. */
		bp->hdr.boot_flag = 0xaa55;
		bp->hdr.header = HDR_MAGIC_LE;
		bp->hdr.version = 0x020f;
		bp->hdr.kernel_alignment = 0x1000000;
		bp->hdr.loadflags = LOADED_HIGH;
		bp->hdr.initrd_addr_max = (uint32_t)k->initrd_max;
		bp->hdr.cmdline_size = (uint32_t)k->cmdline_max;
	}
	bp->hdr.type_of_loader = LOADER_TYPE_UNDEFINED;
	bp->hdr.loadflags |= CAN_USE_HEAP;
	bp->hdr.heap_end_ptr = HEAP_END - 0x200; /* boot.rst: offset from setup start, minus 0x200 */

	bp->hdr.cmd_line_ptr = (uint32_t)p->cmdline_addr;
	bp->ext_cmd_line_ptr = (uint32_t)(p->cmdline_addr >> 32);
	bp->hdr.ramdisk_image = (uint32_t)p->initrd_addr;
	bp->ext_ramdisk_image = (uint32_t)(p->initrd_addr >> 32);
	bp->hdr.ramdisk_size = (uint32_t)p->initrd_size;
	bp->ext_ramdisk_size = (uint32_t)(p->initrd_size >> 32);
	/* Saves the kernel the scan of 0xe0000-0xfffff (boot protocol 2.14; ignored before). */
	bp->acpi_rsdp_addr = LAYOUT_RSDP;

	int n = e820_build(md, map);
	for (int i = 0; i < n; i++) {
		bp->e820_table[i].addr = map[i].addr;
		bp->e820_table[i].size = map[i].size;
		bp->e820_table[i].type = map[i].type;
	}
	bp->e820_entries = (uint8_t)n;
	return 0;
}
