/* boot_cpu.c: the boot CPU's environment: GDT, empty IDT, identity page tables, and the
 * register values that go with them for each entry protocol. */
#include <errno.h>
#include <string.h>

#include "firmware/boot.h"
#include "firmware/layout.h"

/* Descriptors in the architectural format (SDM Vol. 3 3.4.5). Linux's 64-bit boot protocol wants
 * flat __BOOT_CS at 0x10 and __BOOT_DS at 0x18; PVH wants a flat 32-bit code segment, and the
 * slot left free at 0x08 holds it, so one table serves both entries. */
static const uint64_t boot_gdt[BOOT_GDT_ENTRIES] = {
	[0] = 0,
	[BOOT_GDT_CODE32 >> 3] = 0x00cf9b000000ffffULL, /* G, D, P, code exec/read accessed */
	[BOOT_GDT_CODE64 >> 3] = 0x00af9b000000ffffULL, /* G, L, P, code exec/read accessed */
	[BOOT_GDT_DATA >> 3] = 0x00cf93000000ffffULL,   /* G, B, P, data read/write accessed */
	[BOOT_GDT_TSS >> 3] = 0x00008b0000000067ULL,    /* P, busy TSS, base 0 limit 0x67 */
	[(BOOT_GDT_TSS >> 3) + 1] = 0,                  /* upper half of the 16-byte TSS desc. */
};

_Static_assert(LAYOUT_GDT + sizeof(boot_gdt) <= LAYOUT_IDT, "boot GDT runs into the IDT");

int boot_gdt_write(struct guest_mem *m)
{
	static const uint64_t idt_empty;

	if (guest_write(m, LAYOUT_GDT, boot_gdt, sizeof(boot_gdt)) ||
	    guest_write(m, LAYOUT_IDT, &idt_empty, sizeof(idt_empty)))
		return -EFAULT;
	return 0;
}

void boot_gdt_to_kvm_segment(uint16_t sel, struct kvm_segment *seg)
{
	unsigned int i = sel >> 3;
	uint64_t d = i < BOOT_GDT_ENTRIES ? boot_gdt[i] : 0;

	memset(seg, 0, sizeof(*seg));
	seg->selector = sel;
	seg->base = ((d >> 16) & 0xffffff) | (((d >> 56) & 0xff) << 24);
	seg->limit = (d & 0xffff) | (((d >> 48) & 0xf) << 16);
	seg->g = (d >> 55) & 1;
	if (seg->g)
		seg->limit = (seg->limit << 12) | 0xfff;
	seg->type = (d >> 40) & 0xf;
	seg->s = (d >> 44) & 1;
	seg->dpl = (d >> 45) & 3;
	seg->present = (d >> 47) & 1;
	seg->avl = (d >> 52) & 1;
	seg->l = (d >> 53) & 1;
	seg->db = (d >> 54) & 1;
	seg->unusable = !seg->present;
}

/* Identity map of 0-4 GiB with 2 MiB pages: enough for the kernel, boot_params, the command line
 * and the initrd, which all sit below the PCI hole (boot.rst: "the range with setup_header.
 * init_size from start address of loaded kernel and zero page and command line buffer get ident
 * mapping"). */
int boot_pagetable_write(struct guest_mem *m)
{
	uint64_t *pml4 = guest_ptr(m, LAYOUT_PML4, 4096);
	uint64_t *pdpt = guest_ptr(m, LAYOUT_PDPT, 4096);
	uint64_t *pd = guest_ptr(m, LAYOUT_PD, 4 * 4096);

	if (!pml4 || !pdpt || !pd)
		return -EFAULT;
	memset(pml4, 0, 4096);
	memset(pdpt, 0, 4096);
	pml4[0] = LAYOUT_PDPT | 0x3; /* present, writable */
	for (int i = 0; i < 4; i++)
		pdpt[i] = (LAYOUT_PD + i * 4096ULL) | 0x3;
	for (uint64_t j = 0; j < 4 * 512; j++)
		pd[j] = (j << 21) | 0x83; /* present, writable, 2 MiB page */
	return 0;
}

void boot_cpu_regs(const struct boot_info *bi, struct kvm_regs *regs)
{
	memset(regs, 0, sizeof(*regs));
	regs->rflags = 0x2; /* bit 1 is reserved-one; IF stays clear as both protocols require */
	regs->rip = bi->rip;
	regs->rsp = bi->rsp;
	regs->rsi = bi->rsi;
	regs->rbx = bi->rbx;
}

#define CR0_PE (1ULL << 0)
#define CR0_ET (1ULL << 4)
#define CR0_PG (1ULL << 31)
#define CR4_PAE (1ULL << 5)
#define EFER_LME (1ULL << 8)
#define EFER_LMA (1ULL << 10)

void boot_cpu_sregs(const struct boot_info *bi, struct kvm_sregs *sregs)
{
	boot_gdt_to_kvm_segment(bi->cs, &sregs->cs);
	boot_gdt_to_kvm_segment(bi->ds, &sregs->ds);
	sregs->es = sregs->fs = sregs->gs = sregs->ss = sregs->ds;
	boot_gdt_to_kvm_segment(BOOT_GDT_TSS, &sregs->tr);
	sregs->gdt.base = bi->gdt_base;
	sregs->gdt.limit = bi->gdt_limit;
	sregs->idt.base = bi->idt_base;
	sregs->idt.limit = bi->idt_limit;
	/* Reset CR0 has CD|NW set; a kernel entered with caches disabled crawls until it reloads
	 * CR0, so set it outright. */
	if (bi->entry == BOOT_ENTRY_LINUX64) {
		sregs->cr0 = CR0_PE | CR0_ET | CR0_PG;
		sregs->cr3 = bi->cr3;
		sregs->cr4 = CR4_PAE;
		sregs->efer = EFER_LME | EFER_LMA;
	} else {
		sregs->cr0 = CR0_PE | CR0_ET;
		sregs->cr3 = 0;
		sregs->cr4 = 0;
		sregs->efer = 0;
	}
}
