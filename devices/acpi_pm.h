/* acpi_pm.h: the ACPI fixed-hardware PM1a event and control blocks (firmware/layout.h ports).
 * The guest's `poweroff` writes SLP_TYP=S5 with SLP_EN to PM1a_CNT; that ends the VM with 0.
 * The fixed-feature power button (PM1 PWRBTN_STS/EN, ACPI 4.8.3.1) raises the SCI, level
 * triggered on LAYOUT_IRQ_SCI, while its status and enable bits are both set. */
#ifndef MINIVMM_ACPI_PM_H
#define MINIVMM_ACPI_PM_H
#include <stdint.h>

/* How the SCI line is driven: irq_line() by default; tests record it. */
typedef int (*acpi_pm_irq_fn)(uint32_t gsi, int level);

int acpi_pm_init(void);
/* The same with another SCI line driver (tests). */
int acpi_pm_init_with(acpi_pm_irq_fn irq);
/* Presses the power button (QMP system_powerdown): PWRBTN_STS, then the SCI if enabled. */
void acpi_pm_power_button(void);
#endif
