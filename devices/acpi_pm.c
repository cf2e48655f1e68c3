/* acpi_pm.c: PM1a_EVT (status/enable: no event ever fires, but the enable bits read back what
 * Linux wrote, or it reports the global lock event as broken) and PM1a_CNT (SCI_EN, sleep). */
#include "devices/acpi_pm.h"

#include <string.h>

#include "firmware/layout.h"
#include "vmm/bus.h"
#include "vmm/vm.h"

#define PM1_CNT_SCI_EN 1u          /* ACPI mode is always on: there is no SMI_CMD */
#define PM1_CNT_SLP_TYP_SHIFT 10
#define PM1_CNT_SLP_EN (1u << 13)

/* PM1_STS (bytes 0-1, write-1-to-clear, always 0 here) then PM1_EN (bytes 2-3). */
static uint8_t pm1_evt[4];

static void acpi_pm_evt_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	(void)opaque;
	if (!is_write)
		memset(data, 0, len);
	for (uint32_t i = 0; i < len && off + i < sizeof(pm1_evt); i++) {
		if (!is_write)
			data[i] = pm1_evt[off + i];
		else if (off + i >= 2)
			pm1_evt[off + i] = data[i];
	}
}

static void acpi_pm_cnt_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	(void)opaque;
	if (!is_write) {
		uint16_t v = PM1_CNT_SCI_EN;
		memset(data, 0, len);
		if (off < 2)
			memcpy(data, (uint8_t *)&v + off, len < 2 - off ? len : 2 - off);
		return;
	}
	if (off != 0 || len < 2)
		return;
	uint16_t v;
	memcpy(&v, data, 2);
	if ((v & PM1_CNT_SLP_EN) && ((v >> PM1_CNT_SLP_TYP_SHIFT) & 7) == LAYOUT_S5_SLP_TYP)
		vm_request_exit(0, "guest powered off");
}

int acpi_pm_init(void)
{
	int ret = bus_register(BUS_PIO, LAYOUT_PORT_PM1A_EVT, 4, acpi_pm_evt_io, NULL);
	return ret ? ret : bus_register(BUS_PIO, LAYOUT_PORT_PM1A_CNT, 2, acpi_pm_cnt_io, NULL);
}
