/* kernel_image.h: what the kernel-format loaders (bzimage.c, elf.c) tell boot.c about the image
 * they put in guest memory, and the zero-page / PVH writers that consume it. Internal to the
 * boot code; the VMM uses boot.h. */
#ifndef MINIVMM_KERNEL_IMAGE_H
#define MINIVMM_KERNEL_IMAGE_H
#include <asm/bootparam.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "firmware/machine.h"
#include "vmm/guest_mem.h"

struct kernel_image {
	uint64_t entry;          /* guest-physical entry point */
	bool pvh;                /* entry is XEN_ELFNOTE_PHYS32_ENTRY: boot with hvm_start_info */
	uint64_t load_addr;      /* lowest byte the kernel occupies */
	uint64_t end;            /* first byte past the memory the kernel claims: for a bzImage
				  * the runtime start (kernel_runtime_start()) + init_size */
	uint64_t initrd_max;     /* last byte an initrd may occupy */
	uint64_t cmdline_max;    /* longest command line, NUL excluded */
	bool has_hdr;            /* bzImage: hdr holds the file's setup header (hdr_len bytes) */
	struct setup_header hdr;
	size_t hdr_len;
};

/* The initrd and command line as placed by boot.c (addresses 0 when absent). */
struct boot_payload {
	uint64_t cmdline_addr;
	uint64_t cmdline_size;   /* bytes including the NUL */
	uint64_t initrd_addr;
	uint64_t initrd_size;
};

bool bzimage_detect(const uint8_t *img, size_t len);
/* Where a bzImage loaded at load decompresses to and runs (boot.rst: pref_address,
 * kernel_alignment, relocatable_kernel): max(pref_address, align_up(load, kernel_alignment)) for
 * a relocatable kernel, else max(pref_address, load). Its init_size counts from there. */
uint64_t kernel_runtime_start(const struct setup_header *h, uint64_t load);
/* Checks the setup header and loads the protected-mode part at LAYOUT_KERNEL. Prints one line
 * naming path on error; -EINVAL or -E2BIG. */
int bzimage_load(struct guest_mem *m, const struct machine_desc *md, const char *path,
		 const uint8_t *img, size_t len, struct kernel_image *k);

bool elf_detect(const uint8_t *img, size_t len);
/* Loads the PT_LOAD segments at their physical addresses and looks for the PVH entry note. */
int elf_load(struct guest_mem *m, const char *path, const uint8_t *img, size_t len,
	     struct kernel_image *k);

/* Writes the zero page at LAYOUT_BOOT_PARAMS. 0 or -EFAULT. */
int boot_params_write(struct guest_mem *m, const struct machine_desc *md,
		      const struct kernel_image *k, const struct boot_payload *p);
/* Writes hvm_start_info, module list and memory map at LAYOUT_PVH_INFO. 0 or -EFAULT. */
int pvh_start_info_write(struct guest_mem *m, const struct machine_desc *md,
			 const struct boot_payload *p);
#endif
