/* firmware.h: the tables a BIOS would leave in guest memory, generated from the machine
 * description: the MP table (mptable.c) and the ACPI tables (acpi.c, DSDT via aml.c).
 * main.c calls boot_load() (boot.h) and firmware_build(), in either order. */
#ifndef MINIVMM_FIRMWARE_H
#define MINIVMM_FIRMWARE_H
#include "firmware/machine.h"
#include "vmm/guest_mem.h"

/* Writes the MP and ACPI tables. 0 or -errno (-EFAULT: guest RAM below 1 MiB missing, -E2BIG:
 * too many CPUs for the tables), after one log_err() line. */
int firmware_build(struct guest_mem *m, const struct machine_desc *md);

/* MP spec 1.4 floating pointer + configuration table at LAYOUT_MPTABLE. */
int mptable_write(struct guest_mem *m, const struct machine_desc *md);
/* RSDP at LAYOUT_RSDP, then XSDT, FADT, FACS, MADT, DSDT in the LAYOUT_ACPI area. */
int acpi_write(struct guest_mem *m, const struct machine_desc *md);

/* The byte that makes len bytes at p sum to zero (the checksum rule of both specs). */
uint8_t firmware_checksum(const void *p, size_t len);
#endif
