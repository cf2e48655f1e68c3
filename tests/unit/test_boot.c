/* test_boot.c: boot_load() against synthetic bzImages and ELF vmlinux files: boot_params, e820,
 * command line, initrd placement, the PVH start info, the boot GDT/page tables, and each error. */
#include <asm/bootparam.h>
#include <check.h>
#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "firmware/boot.h"
#include "firmware/e820.h"
#include "firmware/kernel_image.h"
#include "firmware/layout.h"
#include "tests/unit/unit.h"

#define RAM (64ULL << 20)
#define SETUP_SECTS 2
#define PM_SIZE 8192
#define INIT_SIZE (4ULL << 20)

static uint8_t *ram;
static struct guest_mem mem;
static char paths[8][64];
static int npaths;

static void setup(void)
{
	ram = calloc(1, RAM);
	guest_mem_fake(&mem, ram, RAM);
}

static void teardown(void)
{
	free(ram);
	for (int i = 0; i < npaths; i++)
		unlink(paths[i]);
	npaths = 0;
}

static const char *tmpfile_with(const void *data, size_t len)
{
	char *p = paths[npaths++];
	strcpy(p, "/tmp/minivmm-test-XXXXXX");
	int fd = mkstemp(p);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
	return p;
}

/* A bzImage as the kernel build lays it out: boot sector + setup sectors with the setup header
 * at 0x1f1, then the protected-mode part (here a byte pattern). */
struct bz {
	uint8_t img[(SETUP_SECTS + 1) * 512 + PM_SIZE];
	struct setup_header *h;
};

static void bz_init(struct bz *b)
{
	memset(b->img, 0, sizeof(b->img));
	b->h = (struct setup_header *)(b->img + 0x1f1);
	b->h->setup_sects = SETUP_SECTS;
	b->h->boot_flag = 0xaa55;
	b->img[0x200] = 0xeb; /* jmp: its displacement says where the header ends */
	b->img[0x201] = (uint8_t)(0x1f1 + sizeof(struct setup_header) - 0x202);
	memcpy(b->img + 0x202, "HdrS", 4);
	b->h->version = 0x020f;
	b->h->loadflags = LOADED_HIGH;
	b->h->initrd_addr_max = 0x7fffffff;
	b->h->kernel_alignment = 0x200000;
	b->h->relocatable_kernel = 1;
	b->h->xloadflags = XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G;
	b->h->cmdline_size = 2047;
	b->h->init_size = INIT_SIZE;
	for (int i = 0; i < PM_SIZE; i++)
		b->img[(SETUP_SECTS + 1) * 512 + i] = (uint8_t)(i * 7 + 1);
}

static struct boot_spec spec_for(const char *kernel, const char *initrd, const char *cmdline)
{
	return (struct boot_spec){ .kernel = kernel, .initrd = initrd, .cmdline = cmdline,
				   .machine = { .ram_size = RAM, .ncpus = 1 } };
}

/* boot_load() of b as the kernel, without an initrd. */
static int bz_load(const struct bz *b, const char *cmdline, struct boot_info *bi)
{
	struct boot_spec s = spec_for(tmpfile_with(b->img, sizeof(b->img)), NULL, cmdline);
	return boot_load(&mem, &s, bi);
}

static struct boot_params *bp(void)
{
	return (struct boot_params *)(ram + LAYOUT_BOOT_PARAMS);
}

START_TEST(bzimage_is_loaded_at_1mib_with_64bit_entry)
{
	struct bz b;
	struct boot_info bi;
	bz_init(&b);
	ck_assert_int_eq(bz_load(&b, "console=ttyS0", &bi), 0);
	ck_assert_int_eq(bi.entry, BOOT_ENTRY_LINUX64);
	ck_assert_uint_eq(bi.rip, LAYOUT_KERNEL + 0x200);
	ck_assert_uint_eq(bi.rsi, LAYOUT_BOOT_PARAMS);
	ck_assert_uint_eq(bi.cr3, LAYOUT_PML4);
	ck_assert_uint_eq(bi.cs, 0x10);
	ck_assert_uint_eq(bi.ds, 0x18);
	ck_assert_mem_eq(ram + LAYOUT_KERNEL, b.img + (SETUP_SECTS + 1) * 512, PM_SIZE);
	ck_assert_uint_eq(bi.kernel_end, 0x200000 + INIT_SIZE); /* it runs at 2 MiB: kernel_alignment */
}
END_TEST

START_TEST(boot_params_carry_header_loader_and_cmdline)
{
	struct bz b;
	struct boot_info bi;
	bz_init(&b);
	b.h->kernel_version = 0x1234;
	ck_assert_int_eq(bz_load(&b, "console=ttyS0 quiet", &bi), 0);
	ck_assert_uint_eq(bp()->hdr.header, 0x53726448);
	ck_assert_uint_eq(bp()->hdr.version, 0x020f);
	ck_assert_uint_eq(bp()->hdr.kernel_version, 0x1234);
	ck_assert_uint_eq(bp()->hdr.boot_flag, 0xaa55);
	ck_assert_uint_eq(bp()->hdr.type_of_loader, 0xff);
	ck_assert(bp()->hdr.loadflags & CAN_USE_HEAP);
	ck_assert(bp()->hdr.loadflags & LOADED_HIGH);
	ck_assert_uint_ne(bp()->hdr.heap_end_ptr, 0);
	ck_assert_uint_eq(bp()->hdr.cmd_line_ptr, LAYOUT_CMDLINE);
	ck_assert_str_eq((char *)ram + LAYOUT_CMDLINE, "console=ttyS0 quiet");
	ck_assert_uint_eq(bp()->hdr.ramdisk_image, 0);
	ck_assert_uint_eq(bp()->hdr.ramdisk_size, 0);
	ck_assert_uint_eq(bp()->acpi_rsdp_addr, LAYOUT_RSDP);
}
END_TEST

START_TEST(setup_code_after_the_header_end_is_not_copied)
{
	struct bz b;
	struct boot_info bi;
	bz_init(&b);
	/* A 2.12 header ends right after init_size; what follows belongs to the setup code. */
	size_t end = 0x1f1 + offsetof(struct setup_header, init_size) + 4;
	b.img[0x201] = (uint8_t)(end - 0x202);
	b.h->handover_offset = 0xdeadbeef;
	ck_assert_int_eq(bz_load(&b, "", &bi), 0);
	ck_assert_uint_eq(bp()->hdr.init_size, INIT_SIZE);
	ck_assert_uint_eq(bp()->hdr.handover_offset, 0);
}
END_TEST

START_TEST(setup_sects_zero_means_four)
{
	uint8_t img[5 * 512 + 4096];
	struct bz b;
	struct boot_info bi;
	bz_init(&b);
	memcpy(img, b.img, 1024);
	((struct setup_header *)(img + 0x1f1))->setup_sects = 0;
	memset(img + 1024, 0, sizeof(img) - 1024);
	memset(img + 5 * 512, 0x5a, 4096);
	struct boot_spec s = spec_for(tmpfile_with(img, sizeof(img)), NULL, "");

	ck_assert_int_eq(boot_load(&mem, &s, &bi), 0);
	ck_assert_uint_eq(ram[LAYOUT_KERNEL], 0x5a);
	ck_assert_uint_eq(ram[LAYOUT_KERNEL + 4095], 0x5a);
	ck_assert_uint_eq(ram[LAYOUT_KERNEL + 4096], 0);
}
END_TEST

START_TEST(e820_of_small_guest_has_low_ram_reserved_areas_and_ram_from_1mib)
{
	struct bz b;
	struct boot_info bi;
	bz_init(&b);
	ck_assert_int_eq(bz_load(&b, "", &bi), 0);
	ck_assert_uint_eq(bp()->e820_entries, 4);
	struct boot_e820_entry *e = bp()->e820_table;
	ck_assert_uint_eq(e[0].addr, 0);
	ck_assert_uint_eq(e[0].size, 0x9fc00);
	ck_assert_uint_eq(e[0].type, 1);
	ck_assert_uint_eq(e[1].addr, 0x9fc00);
	ck_assert_uint_eq(e[1].size, 0x400);
	ck_assert_uint_eq(e[1].type, 2);
	ck_assert_uint_eq(e[2].addr, 0xe0000);
	ck_assert_uint_eq(e[2].size, 0x20000);
	ck_assert_uint_eq(e[2].type, 2);
	ck_assert_uint_eq(e[3].addr, 0x100000);
	ck_assert_uint_eq(e[3].size, RAM - 0x100000);
	ck_assert_uint_eq(e[3].type, 1);
}
END_TEST

START_TEST(e820_of_big_guest_resumes_ram_at_4gib)
{
	struct e820_range r[E820_MAX_RANGES];
	struct machine_desc md = { .ram_size = 5ULL << 30, .ncpus = 1 };

	ck_assert_int_eq(e820_build(&md, r), 5);
	ck_assert_uint_eq(r[3].addr, 0x100000);
	ck_assert_uint_eq(r[3].addr + r[3].size, 3ULL << 30);
	ck_assert_uint_eq(r[4].addr, 4ULL << 30);
	ck_assert_uint_eq(r[4].size, 2ULL << 30);
	ck_assert_uint_eq(r[4].type, 1);

	md.ram_size = 3ULL << 30; /* exactly up to the hole: nothing above 4 GiB */
	ck_assert_int_eq(e820_build(&md, r), 4);
}
END_TEST

static uint8_t initrd_data[3 * 4096 + 123];

static void fill_initrd(void)
{
	for (size_t i = 0; i < sizeof(initrd_data); i++)
		initrd_data[i] = (uint8_t)(i * 13 + 5);
}

START_TEST(initrd_goes_page_aligned_to_the_top_of_ram)
{
	struct bz b;
	struct boot_info bi;
	bz_init(&b);
	fill_initrd();
	struct boot_spec s = spec_for(tmpfile_with(b.img, sizeof(b.img)),
				      tmpfile_with(initrd_data, sizeof(initrd_data)), "");

	ck_assert_int_eq(boot_load(&mem, &s, &bi), 0);
	uint64_t addr = bp()->hdr.ramdisk_image;
	ck_assert_uint_eq(addr % 4096, 0);
	ck_assert_uint_le(addr + sizeof(initrd_data), RAM);
	ck_assert_uint_gt(addr + 4096 + sizeof(initrd_data), RAM); /* no higher page would do */
	ck_assert_uint_eq(bp()->hdr.ramdisk_size, sizeof(initrd_data));
	ck_assert_uint_eq(bp()->ext_ramdisk_image, 0);
	ck_assert_mem_eq(ram + addr, initrd_data, sizeof(initrd_data));
	ck_assert_uint_eq(bi.initrd_addr, addr);
}
END_TEST

START_TEST(initrd_stays_below_initrd_addr_max)
{
	struct bz b;
	struct boot_info bi;
	bz_init(&b);
	b.h->initrd_addr_max = (32 << 20) - 1;
	fill_initrd();
	struct boot_spec s = spec_for(tmpfile_with(b.img, sizeof(b.img)),
				      tmpfile_with(initrd_data, sizeof(initrd_data)), "");

	ck_assert_int_eq(boot_load(&mem, &s, &bi), 0);
	uint64_t addr = bp()->hdr.ramdisk_image;
	ck_assert_uint_le(addr + sizeof(initrd_data), 32 << 20);
	ck_assert_uint_gt(addr + 4096 + sizeof(initrd_data), 32 << 20);
}
END_TEST

START_TEST(initrd_too_big_for_ram_after_the_kernel_is_refused)
{
	struct bz b;
	struct boot_info bi;
	bz_init(&b);
	/* The kernel claims 60 MiB from 1 MiB on: 3 MiB is left, the initrd wants 4. */
	b.h->init_size = 60 << 20;
	size_t n = 4 << 20;
	uint8_t *big = calloc(1, n);
	struct boot_spec s = spec_for(tmpfile_with(b.img, sizeof(b.img)), tmpfile_with(big, n), "");
	free(big);

	ck_assert_int_eq(boot_load(&mem, &s, &bi), -E2BIG);
}
END_TEST

/* --mem 80M, a distro-like kernel (pref_address 16 MiB) and a 30 MiB initrd: the initrd must stay
 * clear of [runtime start, runtime start + init_size), where the kernel decompresses, not only
 * of [1 MiB, 1 MiB + init_size). Too big to fit is refused; fitting is placed outside. */
static int load_80m(uint32_t init_size, struct boot_info *bi)
{
	uint64_t ram80 = 80ULL << 20;
	uint8_t *ram2 = calloc(1, ram80);
	struct guest_mem mem2;
	struct bz b;
	bz_init(&b);
	b.h->pref_address = 16ULL << 20;
	b.h->init_size = init_size;
	/* A sparse 30 MiB file: nothing to write, little to read. */
	const char *initrd = tmpfile_with("", 0);
	ck_assert_int_eq(truncate(initrd, 30 << 20), 0);
	struct boot_spec s = spec_for(tmpfile_with(b.img, sizeof(b.img)), initrd, "");
	s.machine.ram_size = ram80;
	guest_mem_fake(&mem2, ram2, ram80);
	int r = boot_load(&mem2, &s, bi);
	free(ram2);
	return r;
}

START_TEST(initrd_stays_clear_of_the_kernel_at_its_runtime_address)
{
	struct boot_info bi;
	uint64_t run = 16ULL << 20;

	/* 40 MiB from 16 MiB ends at 56 MiB: 24 MiB are left, the initrd wants 30. */
	int r = load_80m(40 << 20, &bi);
	ck_assert_msg(r == -E2BIG || bi.initrd_addr >= run + (40 << 20),
		      "initrd at [%#llx, +30M) overlaps the kernel's [%#llx, %#llx)",
		      (unsigned long long)bi.initrd_addr, (unsigned long long)run,
		      (unsigned long long)(run + (40 << 20)));
	ck_assert_int_eq(r, -E2BIG);

	/* 30 MiB from 16 MiB ends at 46 MiB: the initrd fits above it. */
	ck_assert_int_eq(load_80m(30 << 20, &bi), 0);
	ck_assert_uint_eq(bi.kernel_end, run + (30 << 20));
	ck_assert_uint_ge(bi.initrd_addr, run + (30 << 20));
}
END_TEST

START_TEST(runtime_start_is_pref_address_or_the_aligned_load_address)
{
	struct bz b;
	bz_init(&b);
	b.h->pref_address = 16ULL << 20;
	ck_assert_uint_eq(kernel_runtime_start(b.h, LAYOUT_KERNEL), 16ULL << 20);
	b.h->pref_address = 0x100000;
	ck_assert_uint_eq(kernel_runtime_start(b.h, LAYOUT_KERNEL), 0x200000); /* aligned up */
	b.h->relocatable_kernel = 0;
	ck_assert_uint_eq(kernel_runtime_start(b.h, LAYOUT_KERNEL), LAYOUT_KERNEL);
	b.h->pref_address = 16ULL << 20;
	ck_assert_uint_eq(kernel_runtime_start(b.h, LAYOUT_KERNEL), 16ULL << 20);
}
END_TEST

START_TEST(kernel_claiming_more_than_ram_is_refused)
{
	struct bz b;
	struct boot_info bi;
	bz_init(&b);
	b.h->init_size = RAM;
	ck_assert_int_eq(bz_load(&b, "", &bi), -E2BIG);
}
END_TEST

START_TEST(file_that_is_neither_bzimage_nor_elf_is_refused)
{
	uint8_t junk[4096];
	struct boot_info bi;
	memset(junk, 0x90, sizeof(junk));
	struct boot_spec s = spec_for(tmpfile_with(junk, sizeof(junk)), NULL, "");

	ck_assert_int_eq(boot_load(&mem, &s, &bi), -EINVAL);
	s = spec_for(tmpfile_with(junk, 3), NULL, ""); /* shorter than any header */
	ck_assert_int_eq(boot_load(&mem, &s, &bi), -EINVAL);
}
END_TEST

START_TEST(boot_protocol_older_than_2_06_is_refused)
{
	struct bz b;
	struct boot_info bi;
	bz_init(&b);
	b.h->version = 0x0205;
	ck_assert_int_eq(bz_load(&b, "", &bi), -EINVAL);
}
END_TEST

START_TEST(kernel_without_64bit_entry_is_refused)
{
	struct bz b;
	struct boot_info bi;
	bz_init(&b);
	b.h->xloadflags = 0;
	ck_assert_int_eq(bz_load(&b, "", &bi), -EINVAL);
}
END_TEST

START_TEST(cmdline_longer_than_cmdline_size_is_refused)
{
	struct bz b;
	struct boot_info bi;
	bz_init(&b);
	b.h->cmdline_size = 16;
	const char *kernel = tmpfile_with(b.img, sizeof(b.img));
	struct boot_spec s = spec_for(kernel, NULL, "0123456789abcdef"); /* 16: fits */

	ck_assert_int_eq(boot_load(&mem, &s, &bi), 0);
	s = spec_for(kernel, NULL, "0123456789abcdefg");
	ck_assert_int_eq(boot_load(&mem, &s, &bi), -E2BIG);
}
END_TEST

START_TEST(missing_kernel_or_initrd_is_enoent)
{
	struct bz b;
	struct boot_info bi;
	bz_init(&b);
	struct boot_spec s = spec_for("/nonexistent/bzImage", NULL, "");

	ck_assert_int_eq(boot_load(&mem, &s, &bi), -ENOENT);
	s = spec_for(tmpfile_with(b.img, sizeof(b.img)), "/nonexistent/initrd", "");
	ck_assert_int_eq(boot_load(&mem, &s, &bi), -ENOENT);
}
END_TEST

START_TEST(page_tables_identity_map_4gib_with_2mib_pages)
{
	struct bz b;
	struct boot_info bi;
	bz_init(&b);
	ck_assert_int_eq(bz_load(&b, "", &bi), 0);
	uint64_t *pml4 = (uint64_t *)(ram + LAYOUT_PML4);
	uint64_t *pdpt = (uint64_t *)(ram + LAYOUT_PDPT);
	uint64_t *pd = (uint64_t *)(ram + LAYOUT_PD);
	ck_assert_uint_eq(pml4[0], LAYOUT_PDPT | 3);
	ck_assert_uint_eq(pml4[1], 0);
	for (int i = 0; i < 4; i++)
		ck_assert_uint_eq(pdpt[i], (LAYOUT_PD + 4096 * i) | 3);
	ck_assert_uint_eq(pdpt[4], 0);
	ck_assert_uint_eq(pd[0], 0x83);
	ck_assert_uint_eq(pd[1], (1ULL << 21) | 0x83);
	ck_assert_uint_eq(pd[2047], (2047ULL << 21) | 0x83); /* the 2 MiB page below 4 GiB */
}
END_TEST

START_TEST(gdt_holds_linux_boot_cs_ds_and_a_pvh_code32)
{
	struct bz b;
	struct boot_info bi;
	struct kvm_segment seg;
	bz_init(&b);
	ck_assert_int_eq(bz_load(&b, "", &bi), 0);
	uint64_t *gdt = (uint64_t *)(ram + LAYOUT_GDT);
	ck_assert_uint_eq(bi.gdt_base, LAYOUT_GDT);
	ck_assert_uint_eq(bi.gdt_limit, BOOT_GDT_ENTRIES * 8 - 1);
	ck_assert_uint_eq(gdt[0], 0);
	ck_assert_uint_eq(gdt[2], 0x00af9b000000ffffULL);

	boot_gdt_to_kvm_segment(0x10, &seg);
	ck_assert_uint_eq(seg.selector, 0x10);
	ck_assert_uint_eq(seg.base, 0);
	ck_assert_uint_eq(seg.limit, 0xffffffff);
	ck_assert_uint_eq(seg.type, 0xb);
	ck_assert(seg.present && seg.s && seg.l && seg.g && !seg.db && !seg.unusable);

	boot_gdt_to_kvm_segment(0x18, &seg);
	ck_assert_uint_eq(seg.type, 0x3);
	ck_assert(seg.present && seg.s && !seg.l && seg.db && seg.g);
	ck_assert_uint_eq(seg.limit, 0xffffffff);

	boot_gdt_to_kvm_segment(0x08, &seg);
	ck_assert_uint_eq(seg.type, 0xb);
	ck_assert(seg.present && !seg.l && seg.db);

	boot_gdt_to_kvm_segment(BOOT_GDT_TSS, &seg);
	ck_assert_uint_eq(seg.type, 0xb);
	ck_assert(seg.present && !seg.s);
	ck_assert_uint_eq(seg.limit, 0x67);

	boot_gdt_to_kvm_segment(0, &seg);
	ck_assert(seg.unusable);
}
END_TEST

START_TEST(linux64_registers_enter_long_mode_with_paging)
{
	struct bz b;
	struct boot_info bi;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	bz_init(&b);
	ck_assert_int_eq(bz_load(&b, "", &bi), 0);
	memset(&sregs, 0, sizeof(sregs));
	sregs.apic_base = 0xfee00900; /* must survive */
	boot_cpu_regs(&bi, &regs);
	boot_cpu_sregs(&bi, &sregs);
	ck_assert_uint_eq(regs.rip, 0x100200);
	ck_assert_uint_eq(regs.rsi, LAYOUT_BOOT_PARAMS);
	ck_assert_uint_eq(regs.rflags, 2);
	ck_assert_uint_eq(sregs.cr3, LAYOUT_PML4);
	ck_assert(sregs.cr0 & (1ULL << 31));
	ck_assert(sregs.cr0 & 1);
	ck_assert(sregs.cr4 & (1 << 5));
	ck_assert_uint_eq(sregs.efer, (1 << 8) | (1 << 10));
	ck_assert_uint_eq(sregs.cs.selector, 0x10);
	ck_assert(sregs.cs.l);
	ck_assert_uint_eq(sregs.ss.selector, 0x18);
	ck_assert_uint_eq(sregs.es.selector, 0x18);
	ck_assert_uint_eq(sregs.tr.type, 0xb);
	ck_assert_uint_eq(sregs.apic_base, 0xfee00900);
	ck_assert_uint_eq(sregs.idt.base, LAYOUT_IDT);
}
END_TEST

/* An ELF vmlinux: one PT_LOAD at 16 MiB (4 KiB in the file, 8 KiB in memory) and optionally a
 * PT_NOTE with Xen's PHYS32_ENTRY. */
struct elf_img {
	Elf64_Ehdr eh;
	Elf64_Phdr ph[2];
	Elf64_Nhdr nh;
	char name[4];
	uint64_t desc;
	uint8_t pad[0x200 - sizeof(Elf64_Ehdr) - 2 * sizeof(Elf64_Phdr) - sizeof(Elf64_Nhdr) - 12];
	uint8_t text[4096];
} __attribute__((packed));

static void elf_init(struct elf_img *e, int pvh)
{
	memset(e, 0, sizeof(*e));
	memcpy(e->eh.e_ident, ELFMAG, SELFMAG);
	e->eh.e_ident[EI_CLASS] = ELFCLASS64;
	e->eh.e_ident[EI_DATA] = ELFDATA2LSB;
	e->eh.e_ident[EI_VERSION] = EV_CURRENT;
	e->eh.e_type = ET_EXEC;
	e->eh.e_machine = EM_X86_64;
	e->eh.e_entry = 0x1000000;
	e->eh.e_phoff = offsetof(struct elf_img, ph);
	e->eh.e_phentsize = sizeof(Elf64_Phdr);
	e->eh.e_phnum = pvh ? 2 : 1;
	e->eh.e_ehsize = sizeof(Elf64_Ehdr);
	e->ph[0] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_offset = offsetof(struct elf_img, text),
				 .p_vaddr = 0xffffffff81000000ULL, .p_paddr = 0x1000000,
				 .p_filesz = 4096, .p_memsz = 8192 };
	e->ph[1] = (Elf64_Phdr){ .p_type = PT_NOTE, .p_offset = offsetof(struct elf_img, nh),
				 .p_filesz = sizeof(Elf64_Nhdr) + 12 };
	e->nh = (Elf64_Nhdr){ .n_namesz = 4, .n_descsz = 8, .n_type = 18 };
	memcpy(e->name, "Xen", 4);
	e->desc = 0x1000abc;
	memset(e->text, 0xc3, sizeof(e->text));
}

START_TEST(elf_with_pvh_note_boots_pvh_with_start_info)
{
	struct elf_img e;
	struct boot_info bi;
	struct kvm_sregs sregs;
	elf_init(&e, 1);
	fill_initrd();
	memset(ram + 0x1000000, 0xee, 16384);
	struct boot_spec s = spec_for(tmpfile_with(&e, sizeof(e)),
				      tmpfile_with(initrd_data, sizeof(initrd_data)), "root=/dev/vda");

	ck_assert_int_eq(boot_load(&mem, &s, &bi), 0);
	ck_assert_int_eq(bi.entry, BOOT_ENTRY_PVH32);
	ck_assert_uint_eq(bi.rip, 0x1000abc);
	ck_assert_uint_eq(bi.rbx, LAYOUT_PVH_INFO);
	ck_assert_uint_eq(bi.rsi, 0);
	ck_assert_uint_eq(ram[0x1000000], 0xc3);
	ck_assert_uint_eq(ram[0x1000000 + 4096], 0); /* bss zeroed */
	ck_assert_uint_eq(ram[0x1000000 + 8192], 0xee);

	uint32_t *si = (uint32_t *)(ram + LAYOUT_PVH_INFO);
	ck_assert_uint_eq(si[0], 0x336ec578); /* magic */
	ck_assert_uint_eq(si[1], 1);          /* version */
	ck_assert_uint_eq(si[3], 1);          /* nr_modules */
	uint64_t modlist = *(uint64_t *)(si + 4), cmdline = *(uint64_t *)(si + 6);
	uint64_t rsdp = *(uint64_t *)(si + 8), memmap = *(uint64_t *)(si + 10);
	ck_assert_str_eq((char *)ram + cmdline, "root=/dev/vda");
	ck_assert_uint_eq(rsdp, LAYOUT_RSDP);
	ck_assert_uint_eq(si[12], 4); /* memmap_entries */
	uint64_t *mod = (uint64_t *)(ram + modlist);
	ck_assert_uint_eq(mod[0], bi.initrd_addr);
	ck_assert_uint_eq(mod[1], sizeof(initrd_data));
	ck_assert_mem_eq(ram + mod[0], initrd_data, sizeof(initrd_data));
	uint64_t *mm = (uint64_t *)(ram + memmap);
	ck_assert_uint_eq(mm[3 * 3], 0x100000); /* 4th entry: addr, size, type */
	ck_assert_uint_eq(mm[3 * 3 + 1], RAM - 0x100000);

	memset(&sregs, 0, sizeof(sregs));
	boot_cpu_sregs(&bi, &sregs);
	ck_assert_uint_eq(sregs.cr0 & 1, 1);
	ck_assert_uint_eq(sregs.cr0 >> 31, 0);
	ck_assert_uint_eq(sregs.efer, 0);
	ck_assert_uint_eq(sregs.cs.selector, 0x08);
	ck_assert(sregs.cs.db && !sregs.cs.l);
	ck_assert_uint_eq(sregs.ds.selector, 0x18);
}
END_TEST

START_TEST(elf_without_pvh_note_boots_linux64_at_e_entry)
{
	struct elf_img e;
	struct boot_info bi;
	elf_init(&e, 0);
	struct boot_spec s = spec_for(tmpfile_with(&e, sizeof(e)), NULL, "quiet");

	ck_assert_int_eq(boot_load(&mem, &s, &bi), 0);
	ck_assert_int_eq(bi.entry, BOOT_ENTRY_LINUX64);
	ck_assert_uint_eq(bi.rip, 0x1000000);
	ck_assert_uint_eq(bi.rsi, LAYOUT_BOOT_PARAMS);
	ck_assert_uint_eq(bp()->hdr.header, 0x53726448);
	ck_assert_uint_eq(bp()->hdr.boot_flag, 0xaa55);
	ck_assert_uint_eq(bp()->hdr.type_of_loader, 0xff);
	ck_assert_uint_eq(bp()->hdr.cmd_line_ptr, LAYOUT_CMDLINE);
	ck_assert_uint_eq(bp()->e820_entries, 4);
}
END_TEST

START_TEST(elf_segment_outside_ram_is_refused)
{
	struct elf_img e;
	struct boot_info bi;
	elf_init(&e, 0);
	e.ph[0].p_paddr = RAM - 4096;
	struct boot_spec s = spec_for(tmpfile_with(&e, sizeof(e)), NULL, "");

	ck_assert_int_eq(boot_load(&mem, &s, &bi), -E2BIG);
}
END_TEST

static Suite *boot_suite(void)
{
	Suite *s = suite_create("boot");
	TCase *tc = tcase_create("boot");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, bzimage_is_loaded_at_1mib_with_64bit_entry);
	tcase_add_test(tc, boot_params_carry_header_loader_and_cmdline);
	tcase_add_test(tc, setup_code_after_the_header_end_is_not_copied);
	tcase_add_test(tc, setup_sects_zero_means_four);
	tcase_add_test(tc, e820_of_small_guest_has_low_ram_reserved_areas_and_ram_from_1mib);
	tcase_add_test(tc, e820_of_big_guest_resumes_ram_at_4gib);
	tcase_add_test(tc, initrd_goes_page_aligned_to_the_top_of_ram);
	tcase_add_test(tc, initrd_stays_below_initrd_addr_max);
	tcase_add_test(tc, initrd_too_big_for_ram_after_the_kernel_is_refused);
	tcase_add_test(tc, initrd_stays_clear_of_the_kernel_at_its_runtime_address);
	tcase_add_test(tc, runtime_start_is_pref_address_or_the_aligned_load_address);
	tcase_add_test(tc, kernel_claiming_more_than_ram_is_refused);
	tcase_add_test(tc, file_that_is_neither_bzimage_nor_elf_is_refused);
	tcase_add_test(tc, boot_protocol_older_than_2_06_is_refused);
	tcase_add_test(tc, kernel_without_64bit_entry_is_refused);
	tcase_add_test(tc, cmdline_longer_than_cmdline_size_is_refused);
	tcase_add_test(tc, missing_kernel_or_initrd_is_enoent);
	tcase_add_test(tc, page_tables_identity_map_4gib_with_2mib_pages);
	tcase_add_test(tc, gdt_holds_linux_boot_cs_ds_and_a_pvh_code32);
	tcase_add_test(tc, linux64_registers_enter_long_mode_with_paging);
	tcase_add_test(tc, elf_with_pvh_note_boots_pvh_with_start_info);
	tcase_add_test(tc, elf_without_pvh_note_boots_linux64_at_e_entry);
	tcase_add_test(tc, elf_segment_outside_ram_is_refused);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return unit_run(boot_suite());
}
