/* dtb.h: a flattened device tree of the machine minivmm built, for people (`--dump-dtb FILE`,
 * then `dtc -I dtb -O dts FILE`), the way QEMU's `-machine dumpdtb=FILE` is used. x86 Debian
 * kernels have CONFIG_OF off, so the guest never sees it: it describes, it does not configure.
 *
 * The tree is generated from the same sources as the other firmware tables (machine_desc and
 * layout.h, guest_mem's RAM regions, the registered PCI devices, boot_info), so it shows what
 * the guest finds, not a second opinion. Bindings, kept to the conventional ones:
 *
 *   /                 compatible "minivmm,pc", model "minivmm PC"; #address-cells = #size-cells
 *                     = 2 (RAM goes above 4 GiB); interrupt-parent = the IOAPIC.
 *   /chosen           bootargs (the kernel command line); linux,initrd-start/end (64-bit values,
 *                     end exclusive) when there is an initrd; stdout-path = the serial port.
 *   /cpus/cpu@N       one per vCPU: device_type "cpu", reg = the APIC id (N, 0..ncpus-1), which
 *                     is what Linux's x86 DT code reads.
 *   /memory@ADDR      one node per guest_mem region (low RAM from 0, RAM above 4 GiB after the
 *                     PCI hole), device_type "memory". What of that RAM e820 does not list as
 *                     RAM (below 1 MiB: EBDA, VGA hole, BIOS area with the ACPI and MP tables)
 *                     is a /memreserve/ entry.
 *   /interrupt-controller@fee00000   the LAPIC, "intel,ce4100-lapic" (the compatible Linux's
 *                     x86 DT code looks for).
 *   /interrupt-controller@fec00000   the IOAPIC, "intel,ce4100-ioapic", #interrupt-cells = 2:
 *                     <GSI sense>, sense 0 = edge rising, 1 = level low (that binding's codes);
 *                     phandle 1; minivmm,ioapic-id = its APIC id (ncpus, as in the MP table).
 *   /isa/serial@i3f8  the COM1 UART: "ns16550a", reg = <1 0x3f8 8> in the ISA binding's
 *                     (space, address) form where space 1 is I/O ports, interrupts = <4 0>.
 *                     /isa has no ranges: x86 I/O ports are not part of the memory space.
 *   /pci@c0000000     the host bridge: "minivmm,pci-host-conf1" (configuration mechanism #1 at
 *                     ports 0xcf8/0xcfc, so no config-space reg; the unit address is the start of
 *                     its first window), device_type "pci", bus-range <0 0>, ranges = the 32-bit
 *                     and the 64-bit MMIO window of layout.h, and an interrupt-map from each
 *                     device's (slot, INTx pin) to the IOAPIC GSI the PCI model drives, level low.
 *   /pci@c0000000/NAME@S   one per registered function (the host bridge too), per the PCI bus
 *                     binding (IEEE 1275): NAME is "ethernet" for network controllers,
 *                     "host-bridge" for the bridge, else "pciVVVV,DDDD"; reg = its config space
 *                     then one relocatable entry per BAR (size only), assigned-addresses = the
 *                     BARs as placed (non-relocatable, address and size); vendor-id, device-id,
 *                     revision-id, class-code, subsystem-vendor-id, subsystem-id; interrupts =
 *                     <pin> (1 = INTA#) when it has one, resolved through the parent's
 *                     interrupt-map; minivmm,msix-vectors = the MSI-X table size, if MSI-X. */
#ifndef MINIVMM_DTB_H
#define MINIVMM_DTB_H
#include <stddef.h>

#include "firmware/boot.h"
#include "firmware/machine.h"
#include "vmm/guest_mem.h"

/* Builds the blob into buf (size bytes) from md (CPUs), mem (RAM regions), the devices on the PCI
 * bus (pci_dev_count()/pci_dev_at()), bi (initrd; may be NULL) and cmdline (NULL = empty).
 * Returns the blob's length, -ENOSPC if it does not fit in size bytes, -EINVAL on other libfdt
 * errors. */
int dtb_build(void *buf, size_t size, const struct machine_desc *md, const struct guest_mem *mem,
	      const struct boot_info *bi, const char *cmdline);

/* dtb_build() into a buffer large enough, written to path (created or truncated). On error prints
 * one line with log_err() and returns -errno. */
int dtb_write_file(const char *path, const struct machine_desc *md, const struct guest_mem *mem,
		   const struct boot_info *bi, const char *cmdline);
#endif
