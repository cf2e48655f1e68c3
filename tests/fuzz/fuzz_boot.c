/* fuzz_boot.c: boot_load() on fuzz input (fuzz_boot.h). */
#include "tests/fuzz/fuzz_boot.h"

#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "firmware/boot.h"
#include "firmware/layout.h"
#include "tests/fuzz/fuzz_in.h"
#include "tests/fuzz/fuzz_mem.h"

/* 2 MiB: room from 1 MiB on for small kernels, so both "fits" and "too big" are reachable. */
#define RAM (2ULL << 20)

static int kernel_fd = -1, initrd_fd = -1;
static char kernel_path[64], initrd_path[64];

static void file_fill(int fd, const void *data, size_t len)
{
	FUZZ_CHECK(ftruncate(fd, 0) == 0 && ftruncate(fd, len) == 0, "ftruncate");
	FUZZ_CHECK(!len || pwrite(fd, data, len, 0) == (ssize_t)len, "pwrite");
}

void fuzz_boot_load(const uint8_t *data, size_t size, void (*shape)(uint8_t *img, size_t len))
{
	static uint8_t img[1 << 20];
	static char cmdline[256];
	struct fuzz_in in = {data, size};
	if (kernel_fd < 0) {
		/* Files, since boot_load opens paths: memfds, named through /proc/self/fd. */
		kernel_fd = memfd_create("fuzz-kernel", MFD_CLOEXEC);
		initrd_fd = memfd_create("fuzz-initrd", MFD_CLOEXEC);
		FUZZ_CHECK(kernel_fd >= 0 && initrd_fd >= 0, "memfd_create");
		snprintf(kernel_path, sizeof(kernel_path), "/proc/self/fd/%d", kernel_fd);
		snprintf(initrd_path, sizeof(initrd_path), "/proc/self/fd/%d", initrd_fd);
	}
	uint8_t ctl = fuzz_u8(&in), cmdline_len = fuzz_u8(&in);
	uint16_t initrd_len = fuzz_u16(&in);
	size_t len = in.n < sizeof(img) ? in.n : sizeof(img);
	fuzz_bytes(&in, img, len);
	if (shape)
		shape(img, len);
	file_fill(kernel_fd, img, len);
	static const uint8_t zeros[65536];
	file_fill(initrd_fd, zeros, initrd_len);
	memset(cmdline, 'x', cmdline_len);
	cmdline[cmdline_len] = '\0';

	struct fuzz_mem fm;
	/* The loaders only write guest memory: no need to clear it between inputs. */
	fuzz_mem_init(&fm, RAM, 0);
	struct boot_spec spec = {.kernel = kernel_path,
				 .initrd = ctl & 1 ? initrd_path : NULL,
				 .cmdline = cmdline,
				 .machine = {.ram_size = RAM, .ncpus = 1 + (ctl >> 1) % 4}};
	struct boot_info bi;
	if (boot_load(&fm.gm, &spec, &bi) != 0)
		return;
	FUZZ_CHECK(bi.kernel_addr >= LAYOUT_KERNEL && bi.kernel_addr <= bi.kernel_end && bi.kernel_end <= RAM,
		   "kernel at [0x%llx, 0x%llx) in %llu bytes of RAM", (unsigned long long)bi.kernel_addr,
		   (unsigned long long)bi.kernel_end, (unsigned long long)RAM);
	if (bi.initrd_size) {
		FUZZ_CHECK(bi.initrd_addr >= bi.kernel_end && bi.initrd_addr <= RAM &&
			       bi.initrd_size <= RAM - bi.initrd_addr,
			   "initrd at 0x%llx+%llu overlaps the kernel or leaves RAM",
			   (unsigned long long)bi.initrd_addr, (unsigned long long)bi.initrd_size);
		FUZZ_CHECK(bi.initrd_addr % 4096 == 0, "initrd not page aligned");
	}
	if (bi.entry == BOOT_ENTRY_PVH32)
		FUZZ_CHECK(bi.rbx == LAYOUT_PVH_INFO && bi.rsi == 0, "PVH entry registers");
	else
		FUZZ_CHECK(bi.rsi == LAYOUT_BOOT_PARAMS && bi.cr3 == LAYOUT_PML4, "64-bit entry registers");
}
