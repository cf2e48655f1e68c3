/* boot.c: boot_load(): reads the kernel, picks the protocol by format, places command line and
 * initrd, and writes the structures the entry protocol hands over. */
#include "firmware/boot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "firmware/kernel_image.h"
#include "firmware/layout.h"
#include "vmm/log.h"

#define PAGE 4096ULL

static int read_full(int fd, uint8_t *buf, uint64_t len)
{
	while (len) {
		ssize_t r = read(fd, buf, len > (1u << 30) ? (1u << 30) : len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -EIO;
		buf += r;
		len -= r;
	}
	return 0;
}

/* Opens path and returns its size in *size; on error prints one line naming what (kernel,
 * initrd) failed and returns -errno. */
static int file_open(const char *what, const char *path, uint64_t *size)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		int e = errno;
		log_err("cannot open %s %s: %s", what, path, strerror(e));
		return -e;
	}
	if (fstat(fd, &st)) {
		int e = errno;
		log_err("cannot stat %s %s: %s", what, path, strerror(e));
		close(fd);
		return -e;
	}
	if (!S_ISREG(st.st_mode)) {
		log_err("%s %s: not a regular file", what, path);
		close(fd);
		return -EINVAL;
	}
	*size = st.st_size;
	return fd;
}

static int kernel_load(struct guest_mem *m, const struct boot_spec *spec, struct kernel_image *k)
{
	uint64_t size;
	int fd = file_open("kernel", spec->kernel, &size);

	if (fd < 0)
		return fd;
	uint8_t *img = malloc(size ? size : 1);
	int r = img ? read_full(fd, img, size) : -ENOMEM;
	close(fd);
	if (r) {
		log_err("cannot read kernel %s: %s", spec->kernel, strerror(-r));
	} else if (bzimage_detect(img, size)) {
		r = bzimage_load(m, &spec->machine, spec->kernel, img, size, k);
	} else if (elf_detect(img, size)) {
		r = elf_load(m, spec->kernel, img, size, k);
	} else {
		log_err("kernel %s: neither a bzImage nor an ELF vmlinux", spec->kernel);
		r = -EINVAL;
	}
	free(img);
	return r;
}

/* The end (exclusive) of where an initrd may go: the kernel's limit or the end of low RAM. */
static uint64_t initrd_top(const struct kernel_image *k, const struct machine_desc *md)
{
	uint64_t top = machine_low_ram_end(md);
	return k->initrd_max + 1 < top ? k->initrd_max + 1 : top;
}

/* Highest page-aligned spot for the initrd below initrd_max and the end of low RAM that stays
 * clear of the kernel's claim: as high as possible, as boot.rst asks, so the kernel's own
 * decompression and early allocations have room. Returns 0 if it does not fit. */
static uint64_t initrd_place(const struct kernel_image *k, const struct machine_desc *md,
			     uint64_t size)
{
	uint64_t top = initrd_top(k, md);
	uint64_t lo = (k->end + PAGE - 1) & ~(PAGE - 1);

	if (size > top)
		return 0;
	uint64_t addr = (top - size) & ~(PAGE - 1);
	return addr >= lo ? addr : 0;
}

static int initrd_load(struct guest_mem *m, const struct boot_spec *spec,
		       const struct kernel_image *k, struct boot_payload *p)
{
	uint64_t size;
	int fd = file_open("initrd", spec->initrd, &size);

	if (fd < 0)
		return fd;
	uint64_t addr = size ? initrd_place(k, &spec->machine, size) : 0;
	if (size && !addr) {
		log_err("initrd %s (%llu KiB) does not fit in guest RAM between the kernel and %#llx",
			spec->initrd, (unsigned long long)(size >> 10),
			(unsigned long long)initrd_top(k, &spec->machine));
		close(fd);
		return -E2BIG;
	}
	uint8_t *dst = size ? guest_ptr(m, addr, size) : NULL;
	int r = size && !dst ? -EFAULT : (size ? read_full(fd, dst, size) : 0);
	close(fd);
	if (r) {
		log_err("cannot read initrd %s: %s", spec->initrd, strerror(-r));
		return r;
	}
	p->initrd_addr = addr;
	p->initrd_size = size;
	return 0;
}

int boot_load(struct guest_mem *m, const struct boot_spec *spec, struct boot_info *out)
{
	struct kernel_image k;
	struct boot_payload p = { 0 };
	const char *cmdline = spec->cmdline ? spec->cmdline : "";
	int r;

	memset(out, 0, sizeof(*out));
	r = kernel_load(m, spec, &k);
	if (r)
		return r;

	uint64_t len = strlen(cmdline);
	uint64_t max = k.cmdline_max < LAYOUT_CMDLINE_MAX - 1 ? k.cmdline_max : LAYOUT_CMDLINE_MAX - 1;
	if (len > max) {
		log_err("kernel command line is %llu bytes, the kernel takes at most %llu",
			(unsigned long long)len, (unsigned long long)max);
		return -E2BIG;
	}
	if (guest_write(m, LAYOUT_CMDLINE, cmdline, len + 1))
		return -EFAULT;
	p.cmdline_addr = LAYOUT_CMDLINE;
	p.cmdline_size = len + 1;

	if (spec->initrd) {
		r = initrd_load(m, spec, &k, &p);
		if (r)
			return r;
	}

	r = k.pvh ? pvh_start_info_write(m, &spec->machine, &p)
		  : boot_params_write(m, &spec->machine, &k, &p);
	if (!r)
		r = boot_gdt_write(m);
	if (!r && !k.pvh)
		r = boot_pagetable_write(m);
	if (r) {
		log_err("guest RAM too small for the boot structures");
		return r;
	}

	out->entry = k.pvh ? BOOT_ENTRY_PVH32 : BOOT_ENTRY_LINUX64;
	out->rip = k.entry;
	out->rsp = LAYOUT_BOOT_STACK;
	if (k.pvh) {
		out->rbx = LAYOUT_PVH_INFO;
		out->cs = BOOT_GDT_CODE32;
	} else {
		out->rsi = LAYOUT_BOOT_PARAMS;
		out->cr3 = LAYOUT_PML4;
		out->cs = BOOT_GDT_CODE64;
	}
	out->ds = BOOT_GDT_DATA;
	out->gdt_base = LAYOUT_GDT;
	out->gdt_limit = BOOT_GDT_ENTRIES * 8 - 1;
	out->idt_base = LAYOUT_IDT;
	out->idt_limit = 7;
	out->kernel_addr = k.load_addr;
	out->kernel_end = k.end;
	out->initrd_addr = p.initrd_addr;
	out->initrd_size = p.initrd_size;
	return 0;
}
