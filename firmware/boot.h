/* boot.h: loading a Linux kernel into guest memory and the CPU state it must be entered with.
 *
 * boot_load() writes everything the boot CPU needs before its first instruction: the kernel
 * (bzImage per Documentation/arch/x86/boot.rst, or an uncompressed ELF vmlinux), the initrd,
 * the command line, boot_params + e820 or the PVH hvm_start_info, and the boot GDT, IDT and
 * identity page tables. It fills a struct boot_info; boot_cpu_regs()/boot_cpu_sregs() turn that
 * into the register state of the boot vCPU, so the vCPU code needs no knowledge of either
 * protocol. Application processors are left to the in-kernel LAPIC (INIT/SIPI). */
#ifndef MINIVMM_BOOT_H
#define MINIVMM_BOOT_H
#include <linux/kvm.h>
#include <stdint.h>

#include "firmware/machine.h"
#include "vmm/guest_mem.h"

struct boot_spec {
	const char *kernel;  /* path to a bzImage or an ELF vmlinux */
	const char *initrd;  /* path, or NULL */
	const char *cmdline; /* NULL = empty */
	struct machine_desc machine;
};

enum boot_entry {
	/* 64-bit boot protocol (boot.rst "64-bit Boot Protocol"): long mode, identity paging,
	 * CS = __BOOT_CS (0x10), DS/ES/SS = __BOOT_DS (0x18), rsi = boot_params. */
	BOOT_ENTRY_LINUX64,
	/* Xen PVH direct boot (XEN_ELFNOTE_PHYS32_ENTRY): 32-bit protected mode, paging off,
	 * CS = 0x08 (flat 32-bit code), DS/ES/SS = 0x18, TR = 0x20, ebx = hvm_start_info. */
	BOOT_ENTRY_PVH32,
};

/* The boot GDT at LAYOUT_GDT (selectors; the index is selector >> 3). */
#define BOOT_GDT_CODE32 0x08 /* flat 32-bit code, for PVH */
#define BOOT_GDT_CODE64 0x10 /* __BOOT_CS: 64-bit code */
#define BOOT_GDT_DATA 0x18   /* __BOOT_DS: flat data */
#define BOOT_GDT_TSS 0x20    /* a busy TSS, base 0 limit 0x67: VMX needs a usable TR */
#define BOOT_GDT_ENTRIES 6   /* the 64-bit TSS descriptor takes two slots */

struct boot_info {
	enum boot_entry entry;
	uint64_t rip;
	uint64_t rsi;            /* LINUX64: guest-physical address of boot_params, else 0 */
	uint64_t rbx;            /* PVH32: guest-physical address of hvm_start_info, else 0 */
	uint64_t rsp;            /* LAYOUT_BOOT_STACK */
	uint64_t cr3;            /* LINUX64: LAYOUT_PML4; PVH32: 0 (paging off) */
	uint64_t gdt_base;       /* LAYOUT_GDT */
	uint16_t gdt_limit;
	uint64_t idt_base;       /* LAYOUT_IDT: an empty IDT, interrupts stay off */
	uint16_t idt_limit;
	uint16_t cs, ds;         /* selectors: ds also goes into es, fs, gs, ss */
	/* Where things went, for diagnostics and tests. */
	uint64_t kernel_addr, kernel_end; /* [kernel_addr, kernel_end): includes init_size */
	uint64_t initrd_addr, initrd_size;
};

/* Loads spec->kernel (+ initrd, cmdline) into m and fills *out. On error prints exactly one
 * line with log_err() and returns -errno: -ENOENT etc. (a file cannot be opened or read),
 * -EINVAL (not a bzImage or ELF; boot protocol older than 2.06; no 64-bit entry), -E2BIG
 * (command line too long; kernel or initrd does not fit in guest RAM). */
int boot_load(struct guest_mem *m, const struct boot_spec *spec, struct boot_info *out);

/* The segment that selector sel of the boot GDT describes, in KVM's form; the descriptor
 * bits are decoded from the very table boot_load() wrote, so the two cannot disagree. */
void boot_gdt_to_kvm_segment(uint16_t sel, struct kvm_segment *seg);

/* Sets the general registers for bi's entry (rip, rsi/rbx, rsp, rflags = 0x2); the rest are
 * zeroed. */
void boot_cpu_regs(const struct boot_info *bi, struct kvm_regs *regs);
/* Updates sregs (obtained with KVM_GET_SREGS, so the APIC base etc. stay) for bi's entry:
 * segments, GDT/IDT, TR, LDT unusable, and CR0/CR3/CR4/EFER:
 *   LINUX64: CR0 = PE|ET|PG, CR4 = PAE, EFER = LME|LMA, CR3 = LAYOUT_PML4;
 *   PVH32:   CR0 = PE|ET, CR4 = 0, EFER = 0. */
void boot_cpu_sregs(const struct boot_info *bi, struct kvm_sregs *sregs);

/* Pieces boot_load() is made of (boot_*.c); exposed for the tests. */
int boot_pagetable_write(struct guest_mem *m);
int boot_gdt_write(struct guest_mem *m);
#endif
