/* acpi_pm.c: PM1a_EVT (status/enable, with the fixed-feature power button) and PM1a_CNT
 * (SCI_EN, sleep). */
#include "devices/acpi_pm.h"

#include <pthread.h>
#include <string.h>

#include "firmware/layout.h"
#include "vmm/bus.h"
#include "vmm/irq.h"
#include "vmm/vm.h"

#define PM1_CNT_SCI_EN 1u          /* ACPI mode is always on: there is no SMI_CMD */
#define PM1_CNT_SLP_TYP_SHIFT 10
#define PM1_CNT_SLP_EN (1u << 13)
#define PM1_PWRBTN (1u << 8)       /* PWRBTN_STS in PM1_STS, PWRBTN_EN in PM1_EN (4.8.3.1) */

/* PM1_STS (bytes 0-1, write-1-to-clear) then PM1_EN (bytes 2-3). vCPUs and the main thread
 * (the button) share them. */
static struct {
	pthread_mutex_t lock;
	uint16_t sts, en;
	int sci;
	acpi_pm_irq_fn irq;
} pm = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* The SCI is level triggered: up while an enabled event is pending (4.8.3.1). Lock held. */
static void sci_update(void)
{
	int level = (pm.sts & pm.en & PM1_PWRBTN) != 0;
	if (level != pm.sci) {
		pm.sci = level;
		pm.irq(LAYOUT_IRQ_SCI, level);
	}
}

static void acpi_pm_evt_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	(void)opaque;
	pthread_mutex_lock(&pm.lock);
	uint8_t reg[4] = {pm.sts, pm.sts >> 8, pm.en, pm.en >> 8};
	if (!is_write)
		memset(data, 0, len);
	for (uint32_t i = 0; i < len && off + i < sizeof(reg); i++) {
		uint32_t b = off + i;
		if (!is_write)
			data[i] = reg[b];
		else if (b < 2)
			reg[b] &= ~data[i]; /* status bits clear by writing 1 */
		else
			reg[b] = data[i];
	}
	if (is_write) {
		pm.sts = reg[0] | reg[1] << 8;
		pm.en = reg[2] | reg[3] << 8;
		sci_update();
	}
	pthread_mutex_unlock(&pm.lock);
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

void acpi_pm_power_button(void)
{
	pthread_mutex_lock(&pm.lock);
	pm.sts |= PM1_PWRBTN;
	sci_update();
	pthread_mutex_unlock(&pm.lock);
}

int acpi_pm_init_with(acpi_pm_irq_fn irq)
{
	pm.sts = pm.en = 0;
	pm.sci = 0;
	pm.irq = irq;
	int ret = bus_register(BUS_PIO, LAYOUT_PORT_PM1A_EVT, 4, acpi_pm_evt_io, NULL);
	return ret ? ret : bus_register(BUS_PIO, LAYOUT_PORT_PM1A_CNT, 2, acpi_pm_cnt_io, NULL);
}

int acpi_pm_init(void)
{
	return acpi_pm_init_with(irq_line);
}
