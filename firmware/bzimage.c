/* bzimage.c: the Linux x86 boot protocol's image side (Documentation/arch/x86/boot.rst): the
 * setup header checks and loading the protected-mode kernel at 1 MiB for the 64-bit entry. */
#include <errno.h>
#include <string.h>

#include "firmware/kernel_image.h"
#include "firmware/layout.h"
#include "vmm/log.h"

#define HDR_OFFSET 0x1f1         /* struct setup_header inside the image and boot_params */
#define HDR_MAGIC_OFFSET 0x202
#define HDR_MAGIC "HdrS"
#define HDR_MIN_VERSION 0x0206   /* cmdline_size exists from 2.06 on */
#define ENTRY64_OFFSET 0x200     /* boot.rst "64-bit Boot Protocol": load address + 0x200 */

uint64_t kernel_runtime_start(const struct setup_header *h, uint64_t load)
{
	uint64_t pref = h->version >= 0x020a ? h->pref_address : 0;

	if (!h->relocatable_kernel)
		return pref > load ? pref : load;
	uint64_t align = h->kernel_alignment ? h->kernel_alignment : 1;
	/* kernel_alignment is a power of two on every kernel that sets relocatable_kernel; round
	 * with a division so a broken header cannot make the mask arithmetic lie. */
	uint64_t up = (load + align - 1) / align * align;
	return pref > up ? pref : up;
}

bool bzimage_detect(const uint8_t *img, size_t len)
{
	return len >= HDR_MAGIC_OFFSET + 4 && !memcmp(img + HDR_MAGIC_OFFSET, HDR_MAGIC, 4);
}

int bzimage_load(struct guest_mem *m, const struct machine_desc *md, const char *path,
		 const uint8_t *img, size_t len, struct kernel_image *k)
{
	struct setup_header *h = &k->hdr;

	memset(k, 0, sizeof(*k));
	/* The header ends at 0x202 + the byte at 0x201 (the jump's displacement); what follows is
	 * setup code, which must not leak into boot_params. */
	size_t end = HDR_MAGIC_OFFSET + img[0x201];
	if (end > HDR_OFFSET + sizeof(*h))
		end = HDR_OFFSET + sizeof(*h);
	if (end > len) {
		log_err("kernel %s: truncated setup header", path);
		return -EINVAL;
	}
	k->hdr_len = end - HDR_OFFSET;
	memcpy(h, img + HDR_OFFSET, k->hdr_len);
	k->has_hdr = true;

	if (h->version < HDR_MIN_VERSION || end < offsetof(struct setup_header, cmdline_size) + 4 + HDR_OFFSET) {
		log_err("kernel %s: boot protocol %u.%02u is too old (2.06 or newer needed)", path,
			h->version >> 8, h->version & 0xff);
		return -EINVAL;
	}
	/* xloadflags appeared in 2.12; an older header has none and so no 64-bit entry. */
	if (end < offsetof(struct setup_header, xloadflags) + 2 + HDR_OFFSET ||
	    !(h->xloadflags & XLF_KERNEL_64)) {
		log_err("kernel %s: no 64-bit entry point (xloadflags lacks XLF_KERNEL_64)", path);
		return -EINVAL;
	}

	uint64_t setup_sects = h->setup_sects ? h->setup_sects : 4;
	uint64_t setup_size = (setup_sects + 1) * 512;
	if (len <= setup_size) {
		log_err("kernel %s: truncated (%zu bytes, setup alone is %llu)", path, len,
			(unsigned long long)setup_size);
		return -EINVAL;
	}
	uint64_t pm_size = len - setup_size;
	/* init_size is what the kernel needs from the address it decompresses to and runs at, not
	 * from where it is loaded: a relocatable kernel moves itself up to kernel_alignment, and
	 * never below pref_address (16 MiB on distro kernels), before it decompresses there. */
	uint64_t run = kernel_runtime_start(h, LAYOUT_KERNEL);
	uint64_t top = run + h->init_size;
	if (top < LAYOUT_KERNEL + pm_size)
		top = LAYOUT_KERNEL + pm_size;
	if (top > machine_low_ram_end(md)) {
		log_err("kernel %s: needs RAM up to %llu MiB (init_size %llu KiB from %#llx), more than "
			"the guest has below the PCI hole", path, (unsigned long long)((top + (1 << 20) - 1) >> 20),
			(unsigned long long)(h->init_size >> 10), (unsigned long long)run);
		return -E2BIG;
	}
	if (guest_write(m, LAYOUT_KERNEL, img + setup_size, pm_size))
		return -EFAULT;

	k->entry = LAYOUT_KERNEL + ENTRY64_OFFSET;
	k->load_addr = LAYOUT_KERNEL;
	k->end = top;
	k->initrd_max = h->initrd_addr_max;
	k->cmdline_max = h->cmdline_size;
	return 0;
}
