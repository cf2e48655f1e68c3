/* acpi_tables.h: the ACPI table layouts minivmm generates (ACPI 6.4, chapter 5), packed, with
 * the spec's field names. There is no uapi header for them. */
#ifndef MINIVMM_ACPI_TABLES_H
#define MINIVMM_ACPI_TABLES_H
#include <stdint.h>

struct acpi_rsdp { /* 5.2.5.3 */
	char signature[8]; /* "RSD PTR " */
	uint8_t checksum;  /* over the first 20 bytes */
	char oem_id[6];
	uint8_t revision;  /* 2: ACPI 2.0+ with XSDT */
	uint32_t rsdt_address;
	uint32_t length;
	uint64_t xsdt_address;
	uint8_t extended_checksum; /* over the whole structure */
	uint8_t reserved[3];
} __attribute__((packed));

struct acpi_table_header { /* 5.2.6 */
	char signature[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	char creator_id[4];
	uint32_t creator_revision;
} __attribute__((packed));

struct acpi_gas { /* 5.2.3.2 Generic Address Structure */
	uint8_t space_id; /* 1: system I/O */
	uint8_t bit_width;
	uint8_t bit_offset;
	uint8_t access_size;
	uint64_t address;
} __attribute__((packed));

#define ACPI_GAS_SYSTEM_IO 1

struct acpi_fadt { /* 5.2.9, revision 6 */
	struct acpi_table_header header;
	uint32_t firmware_ctrl;
	uint32_t dsdt;
	uint8_t reserved0;
	uint8_t preferred_pm_profile;
	uint16_t sci_int;
	uint32_t smi_cmd;
	uint8_t acpi_enable;
	uint8_t acpi_disable;
	uint8_t s4bios_req;
	uint8_t pstate_cnt;
	uint32_t pm1a_evt_blk;
	uint32_t pm1b_evt_blk;
	uint32_t pm1a_cnt_blk;
	uint32_t pm1b_cnt_blk;
	uint32_t pm2_cnt_blk;
	uint32_t pm_tmr_blk;
	uint32_t gpe0_blk;
	uint32_t gpe1_blk;
	uint8_t pm1_evt_len;
	uint8_t pm1_cnt_len;
	uint8_t pm2_cnt_len;
	uint8_t pm_tmr_len;
	uint8_t gpe0_blk_len;
	uint8_t gpe1_blk_len;
	uint8_t gpe1_base;
	uint8_t cst_cnt;
	uint16_t p_lvl2_lat;
	uint16_t p_lvl3_lat;
	uint16_t flush_size;
	uint16_t flush_stride;
	uint8_t duty_offset;
	uint8_t duty_width;
	uint8_t day_alrm;
	uint8_t mon_alrm;
	uint8_t century;
	uint16_t iapc_boot_arch;
	uint8_t reserved1;
	uint32_t flags;
	struct acpi_gas reset_reg;
	uint8_t reset_value;
	uint16_t arm_boot_arch;
	uint8_t fadt_minor_version;
	uint64_t x_firmware_ctrl;
	uint64_t x_dsdt;
	struct acpi_gas x_pm1a_evt_blk;
	struct acpi_gas x_pm1b_evt_blk;
	struct acpi_gas x_pm1a_cnt_blk;
	struct acpi_gas x_pm1b_cnt_blk;
	struct acpi_gas x_pm2_cnt_blk;
	struct acpi_gas x_pm_tmr_blk;
	struct acpi_gas x_gpe0_blk;
	struct acpi_gas x_gpe1_blk;
	struct acpi_gas sleep_control_reg;
	struct acpi_gas sleep_status_reg;
	uint64_t hypervisor_vendor_identity;
} __attribute__((packed));

/* FADT flags (table 5.10) and IA-PC boot architecture flags (table 5.11). */
#define ACPI_FADT_WBINVD (1u << 0)
#define ACPI_FADT_PROC_C1 (1u << 2)
#define ACPI_FADT_PWR_BUTTON (1u << 4) /* power button is a control method or absent */
#define ACPI_FADT_SLP_BUTTON (1u << 5)
#define ACPI_FADT_HW_REDUCED (1u << 20)
#define ACPI_BOOT_ARCH_LEGACY_DEVICES (1u << 0)
#define ACPI_BOOT_ARCH_8042 (1u << 1)
#define ACPI_BOOT_ARCH_NO_VGA (1u << 2)
#define ACPI_BOOT_ARCH_NO_MSI (1u << 3)
#define ACPI_BOOT_ARCH_NO_CMOS_RTC (1u << 5)

struct acpi_facs { /* 5.2.10 */
	char signature[4]; /* "FACS" */
	uint32_t length;
	uint32_t hardware_signature;
	uint32_t firmware_waking_vector;
	uint32_t global_lock;
	uint32_t flags;
	uint64_t x_firmware_waking_vector;
	uint8_t version;
	uint8_t reserved0[3];
	uint32_t ospm_flags;
	uint8_t reserved1[24];
} __attribute__((packed));

struct acpi_madt { /* 5.2.12 */
	struct acpi_table_header header;
	uint32_t local_apic_address;
	uint32_t flags; /* bit 0 PCAT_COMPAT: dual 8259s present */
} __attribute__((packed));

#define ACPI_MADT_PCAT_COMPAT 1u

enum {
	ACPI_MADT_LOCAL_APIC = 0,
	ACPI_MADT_IO_APIC = 1,
	ACPI_MADT_INTERRUPT_OVERRIDE = 2,
	ACPI_MADT_LOCAL_APIC_NMI = 4,
};

struct acpi_madt_local_apic { /* 5.2.12.2 */
	uint8_t type, length;
	uint8_t processor_uid;
	uint8_t apic_id;
	uint32_t flags; /* bit 0 enabled */
} __attribute__((packed));

struct acpi_madt_io_apic { /* 5.2.12.3 */
	uint8_t type, length;
	uint8_t io_apic_id;
	uint8_t reserved;
	uint32_t io_apic_address;
	uint32_t global_system_interrupt_base;
} __attribute__((packed));

struct acpi_madt_interrupt_override { /* 5.2.12.5 */
	uint8_t type, length;
	uint8_t bus;    /* 0: ISA */
	uint8_t source; /* bus-relative IRQ */
	uint32_t global_system_interrupt;
	uint16_t flags; /* MPS INTI flags: polarity bits 1:0, trigger mode bits 3:2 */
} __attribute__((packed));

#define ACPI_MPS_INTI_ACTIVE_HIGH 0x1
#define ACPI_MPS_INTI_LEVEL 0xc

struct acpi_madt_local_apic_nmi { /* 5.2.12.7 */
	uint8_t type, length;
	uint8_t processor_uid; /* 0xff: all processors */
	uint16_t flags;
	uint8_t lint;
} __attribute__((packed));

_Static_assert(sizeof(struct acpi_rsdp) == 36, "RSDP is 36 bytes");
_Static_assert(sizeof(struct acpi_table_header) == 36, "table header is 36 bytes");
_Static_assert(sizeof(struct acpi_fadt) == 276, "FADT revision 6 is 276 bytes");
_Static_assert(sizeof(struct acpi_facs) == 64, "FACS is 64 bytes");
_Static_assert(sizeof(struct acpi_madt_interrupt_override) == 10, "MADT ISO is 10 bytes");
_Static_assert(sizeof(struct acpi_madt_local_apic_nmi) == 6, "MADT LAPIC NMI is 6 bytes");
#endif
