/* acpi_pm.h: the ACPI fixed-hardware PM1a event and control blocks (firmware/layout.h ports).
 * The guest's `poweroff` writes SLP_TYP=S5 with SLP_EN to PM1a_CNT; that ends the VM with 0. */
#ifndef MINIVMM_ACPI_PM_H
#define MINIVMM_ACPI_PM_H
int acpi_pm_init(void);
#endif
