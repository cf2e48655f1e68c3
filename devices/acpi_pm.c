/* acpi_pm.c: PM1a_EVT (status/enable, no events ever) and PM1a_CNT (SCI_EN, sleep requests). */
#include "devices/acpi_pm.h"

#include <string.h>

#include "firmware/layout.h"
#include "vmm/bus.h"
#include "vmm/vm.h"

#define PM1_CNT_SCI_EN 1u          /* ACPI mode is always on: there is no SMI_CMD */
#define PM1_CNT_SLP_TYP_SHIFT 10
#define PM1_CNT_SLP_EN (1u << 13)

static void acpi_pm_evt_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	(void)opaque;
	(void)off;
	if (!is_write)
		memset(data, 0, len);
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
