/* firmware.c: firmware_build(), the one call that writes all BIOS-provided tables. */
#include "firmware/firmware.h"

#include <errno.h>

#include "vmm/log.h"

/* Each of acpi.c's per-CPU entries is small, but the IOAPIC id (= ncpus) must fit a byte. */
#define FIRMWARE_MAX_CPUS 254

uint8_t firmware_checksum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t sum = 0;

	for (size_t i = 0; i < len; i++)
		sum += b[i];
	return (uint8_t)-sum;
}

int firmware_build(struct guest_mem *m, const struct machine_desc *md)
{
	if (md->ncpus < 1 || md->ncpus > FIRMWARE_MAX_CPUS) {
		log_err("firmware tables: %d CPUs is outside 1..%d", md->ncpus, FIRMWARE_MAX_CPUS);
		return -E2BIG;
	}
	int r = mptable_write(m, md);
	if (!r)
		r = acpi_write(m, md);
	if (r)
		log_err("cannot write the firmware tables: guest RAM below 1 MiB is missing");
	return r;
}
