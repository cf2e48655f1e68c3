/* layout.h: the guest-physical memory map, one source of truth for the VMM, the boot code, the
 * firmware tables and the devices. */
#ifndef MINIVMM_LAYOUT_H
#define MINIVMM_LAYOUT_H

/* Low memory, below 1 MiB. */
#define LAYOUT_GDT 0x500ULL            /* boot GDT */
#define LAYOUT_IDT 0x540ULL            /* empty boot IDT, after the 6-entry GDT */
#define LAYOUT_PVH_INFO 0x6000ULL      /* PVH: hvm_start_info, module list, memory map (1 page) */
#define LAYOUT_BOOT_PARAMS 0x7000ULL   /* struct boot_params (zero page) */
#define LAYOUT_BOOT_STACK 0x8ff0ULL    /* initial rsp: nothing needs it, but it points at RAM */
#define LAYOUT_PML4 0x9000ULL          /* boot page tables: PML4, PDPT, 4 PDs (identity 0-4G) */
#define LAYOUT_PDPT 0xa000ULL
#define LAYOUT_PD 0xb000ULL            /* 4 pages: 0xb000-0xefff */
#define LAYOUT_CMDLINE 0x20000ULL      /* kernel command line */
#define LAYOUT_CMDLINE_MAX 0x10000ULL
#define LAYOUT_EBDA 0x9fc00ULL         /* start of reserved low memory (EBDA, left empty) */
#define LAYOUT_LOWMEM_END 0xa0000ULL   /* 640 KiB: end of usable conventional memory */
#define LAYOUT_BIOS_AREA 0xe0000ULL    /* reserved in e820 up to 1 MiB: ACPI and MP tables */
#define LAYOUT_ACPI 0xe0000ULL         /* RSDP (searched by Linux in 0xe0000-0xfffff) and tables */
#define LAYOUT_ACPI_MAX 0x10000ULL
#define LAYOUT_RSDP LAYOUT_ACPI        /* first thing in the ACPI area, 16-byte aligned */
/* MP floating pointer + config table. Not in the 1 KiB EBDA: 64 CPUs need 1.3 KiB of processor
 * entries alone. Linux scans 0xf0000-0xfffff for the floating pointer too. */
#define LAYOUT_MPTABLE 0xf0000ULL
#define LAYOUT_MPTABLE_MAX 0x10000ULL
#define LAYOUT_BIOS_END 0x100000ULL

#define LAYOUT_KERNEL 0x100000ULL      /* bzImage protected-mode code is loaded at 1 MiB */

/* The PCI hole: RAM stops at 3 GiB and resumes at 4 GiB. */
#define LAYOUT_PCI_HOLE 0xc0000000ULL
#define LAYOUT_PCI_MMIO32 0xc0000000ULL  /* 32-bit BAR window */
#define LAYOUT_PCI_MMIO32_END 0xfebfffffULL
#define LAYOUT_IOAPIC 0xfec00000ULL
#define LAYOUT_LAPIC 0xfee00000ULL
#define LAYOUT_TSS 0xfffbd000ULL         /* KVM_SET_TSS_ADDR: 3 pages */
#define LAYOUT_IDENTITY_MAP 0xfffbc000ULL /* KVM_SET_IDENTITY_MAP_ADDR: 1 page */
#define LAYOUT_HIGH_RAM 0x100000000ULL
/* The 64-bit BAR window depends on the guest's physical address bits: machine_mmio64_window()
 * (machine.h) places it. LAYOUT_PCI_MMIO64 is where it lands with 40 bits (QEMU TCG's -cpu max),
 * and the PCI model's window until main sets the machine's (tests rely on it). */
#define LAYOUT_PCI_MMIO64 0x8000000000ULL
#define LAYOUT_PCI_MMIO64_SIZE 0x1000000000ULL /* 64 GiB at most */

/* I/O ports. */
#define LAYOUT_PORT_PM1A_EVT 0x600 /* ACPI PM1a event block, 4 bytes */
#define LAYOUT_PORT_PM1A_CNT 0x604 /* ACPI PM1a control block, 2 bytes: S5 = poweroff */
#define LAYOUT_PORT_BOOTMARK 0xf4  /* guest init writes a byte here: "boot finished" */
#define LAYOUT_PORT_PCI_IO 0x1000  /* PCI I/O BAR window start (unused by virtio modern) */

/* ACPI S5 sleep type written into PM1a_CNT.SLP_TYP by the guest (DSDT \_S5). */
#define LAYOUT_S5_SLP_TYP 5

/* Interrupts (GSIs on the IOAPIC). */
#define LAYOUT_IRQ_SERIAL 4
#define LAYOUT_IRQ_SCI 9
/* PCI INTx swizzle, shared by the PCI model, the MP table and the DSDT _PRT:
 * slot s, pin p (0 = INTA#) -> GSI 16 + ((s + p) % 8); a device's INTA# is 16 + (s % 8). */
#define LAYOUT_PCI_INTX_GSI_BASE 16
#define LAYOUT_PCI_INTX_GSI(slot, pin) (LAYOUT_PCI_INTX_GSI_BASE + (((slot) + (pin)) % 8))
#define LAYOUT_IOAPIC_PINS 24
#endif
