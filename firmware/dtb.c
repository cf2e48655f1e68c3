/* dtb.c: the machine as a flattened device tree (libfdt's sequential-write API); the bindings
 * are described in dtb.h. */
#include "firmware/dtb.h"

#include <errno.h>
#include <fcntl.h>
#include <libfdt.h>
#include <linux/pci_regs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/pci.h"
#include "firmware/e820.h"
#include "firmware/layout.h"
#include "vmm/log.h"

#define PHANDLE_IOAPIC		 1
#define IOAPIC_SENSE_EDGE_RISING 0 /* intel,ce4100-ioapic interrupt sense codes */
#define IOAPIC_SENSE_LEVEL_LOW	 1
#define SERIAL_PORT		 0x3f8
#define SERIAL_PATH		 "/isa/serial@i3f8"
/* PCI class codes (base class, subclass), from the PCI Code and ID Assignment spec. */
#define CLASS_NETWORK	  0x02
#define CLASS_BRIDGE_HOST 0x0600
#define UART_CLOCK	  1843200 /* the PC UART's 1.8432 MHz crystal: divisor 1 = 115200 baud */

/* PCI bus binding (IEEE 1275), phys.hi cell: npt000ss bbbbbbbb dddddfff rrrrrrrr. */
#define PCI_PHYS_IO		 0x01000000u
#define PCI_PHYS_MEM32		 0x02000000u
#define PCI_PHYS_MEM64		 0x03000000u
#define PCI_PHYS_PREFETCH	 0x40000000u
#define PCI_PHYS_NONRELOC	 0x80000000u
#define PCI_PHYS_DEVFN(slot, fn) ((uint32_t)(slot) << 11 | (uint32_t)(fn) << 8)

/* Every libfdt call returns 0 or a negative FDT_ERR_*; the first failure ends the build. */
#define TRY(call)                                                                                            \
	do {                                                                                                 \
		int r_ = (call);                                                                             \
		if (r_ < 0)                                                                                  \
			return r_;                                                                           \
	} while (0)

/* A property of big-endian cells, collected before it is written. */
struct cells {
	fdt32_t v[PCI_MAX_DEVS * 4 * 7];
	int n;
};

static void cell(struct cells *c, uint32_t v)
{
	if (c->n < (int)(sizeof(c->v) / sizeof(c->v[0])))
		c->v[c->n] = cpu_to_fdt32(v);
	c->n++;
}

static void cell64(struct cells *c, uint64_t v)
{
	cell(c, v >> 32);
	cell(c, (uint32_t)v);
}

static int prop_cells(void *fdt, const char *name, const struct cells *c)
{
	if (c->n > (int)(sizeof(c->v) / sizeof(c->v[0])))
		return -FDT_ERR_INTERNAL;
	return fdt_property(fdt, name, c->v, c->n * sizeof(fdt32_t));
}

static int begin_node(void *fdt, const char *fmt, unsigned long long addr)
{
	char name[64];
	snprintf(name, sizeof(name), fmt, addr);
	return fdt_begin_node(fdt, name);
}

/* The parts of guest RAM that e820 does not call RAM (EBDA, the VGA hole, the BIOS area): RAM
 * the guest must not use, which is what /memreserve/ says. */
static int reserve_non_ram(void *fdt, const struct machine_desc *md, const struct guest_mem *mem)
{
	struct e820_range e[E820_MAX_RANGES];
	int ne = e820_build(md, e);
	for (int i = 0; i < mem->nr; i++) {
		uint64_t at = mem->r[i].gpa, end = mem->r[i].gpa + mem->r[i].size;
		/* e820_build() lists its ranges in ascending order. */
		for (int k = 0; k < ne && at < end; k++) {
			if (e[k].type != E820_TYPE_RAM || e[k].addr + e[k].size <= at || e[k].addr >= end)
				continue;
			if (e[k].addr > at)
				TRY(fdt_add_reservemap_entry(fdt, at, e[k].addr - at));
			at = e[k].addr + e[k].size;
		}
		if (at < end)
			TRY(fdt_add_reservemap_entry(fdt, at, end - at));
	}
	return 0;
}

static int chosen_node(void *fdt, const struct boot_info *bi, const char *cmdline)
{
	TRY(fdt_begin_node(fdt, "chosen"));
	TRY(fdt_property_string(fdt, "bootargs", cmdline ? cmdline : ""));
	if (bi && bi->initrd_size) {
		TRY(fdt_property_u64(fdt, "linux,initrd-start", bi->initrd_addr));
		TRY(fdt_property_u64(fdt, "linux,initrd-end", bi->initrd_addr + bi->initrd_size));
	}
	TRY(fdt_property_string(fdt, "stdout-path", SERIAL_PATH));
	return fdt_end_node(fdt);
}

static int cpus_node(void *fdt, const struct machine_desc *md)
{
	TRY(fdt_begin_node(fdt, "cpus"));
	TRY(fdt_property_cell(fdt, "#address-cells", 1));
	TRY(fdt_property_cell(fdt, "#size-cells", 0));
	for (int i = 0; i < md->ncpus; i++) {
		TRY(begin_node(fdt, "cpu@%llx", i));
		TRY(fdt_property_string(fdt, "device_type", "cpu"));
		TRY(fdt_property_cell(fdt, "reg", i)); /* the APIC id (machine.h) */
		TRY(fdt_end_node(fdt));
	}
	return fdt_end_node(fdt);
}

static int memory_nodes(void *fdt, const struct guest_mem *mem)
{
	for (int i = 0; i < mem->nr; i++) {
		struct cells reg = {.n = 0};
		cell64(&reg, mem->r[i].gpa);
		cell64(&reg, mem->r[i].size);
		TRY(begin_node(fdt, "memory@%llx", mem->r[i].gpa));
		TRY(fdt_property_string(fdt, "device_type", "memory"));
		TRY(prop_cells(fdt, "reg", &reg));
		TRY(fdt_end_node(fdt));
	}
	return 0;
}

/* Opens an APIC-style interrupt controller node at addr (4 KiB of registers, 2-cell interrupts,
 * no unit address in interrupt-map entries pointing here); the caller adds to it and closes it. */
static int intc_begin(void *fdt, uint64_t addr, const char *compatible)
{
	struct cells reg = {.n = 0};
	cell64(&reg, addr);
	cell64(&reg, 0x1000);
	TRY(begin_node(fdt, "interrupt-controller@%llx", (unsigned long long)addr));
	TRY(fdt_property_string(fdt, "compatible", compatible));
	TRY(prop_cells(fdt, "reg", &reg));
	TRY(fdt_property(fdt, "interrupt-controller", NULL, 0));
	TRY(fdt_property_cell(fdt, "#interrupt-cells", 2));
	return fdt_property_cell(fdt, "#address-cells", 0);
}

static int apic_nodes(void *fdt, const struct machine_desc *md)
{
	TRY(intc_begin(fdt, LAYOUT_LAPIC, "intel,ce4100-lapic"));
	TRY(fdt_end_node(fdt));
	TRY(intc_begin(fdt, LAYOUT_IOAPIC, "intel,ce4100-ioapic"));
	/* The IOAPIC's id, as the MP table and MADT give it. */
	TRY(fdt_property_cell(fdt, "minivmm,ioapic-id", md->ncpus));
	TRY(fdt_property_cell(fdt, "phandle", PHANDLE_IOAPIC));
	return fdt_end_node(fdt);
}

static int isa_node(void *fdt)
{
	struct cells c = {.n = 0};
	TRY(fdt_begin_node(fdt, "isa"));
	TRY(fdt_property_string(fdt, "device_type", "isa"));
	TRY(fdt_property_cell(fdt, "#address-cells", 2));
	TRY(fdt_property_cell(fdt, "#size-cells", 1));
	TRY(begin_node(fdt, "serial@i%llx", SERIAL_PORT));
	TRY(fdt_property_string(fdt, "compatible", "ns16550a"));
	cell(&c, 1); /* ISA binding: space 1 = I/O */
	cell(&c, SERIAL_PORT);
	cell(&c, 8);
	TRY(prop_cells(fdt, "reg", &c));
	TRY(fdt_property_cell(fdt, "clock-frequency", UART_CLOCK));
	c.n = 0;
	cell(&c, LAYOUT_IRQ_SERIAL);
	cell(&c, IOAPIC_SENSE_EDGE_RISING);
	TRY(prop_cells(fdt, "interrupts", &c));
	TRY(fdt_end_node(fdt));
	return fdt_end_node(fdt);
}

static uint32_t cfg_le(const struct pci_dev *d, int off, int len)
{
	uint32_t v = 0;
	for (int i = 0; i < len; i++)
		v |= (uint32_t)d->cfg[off + i] << (8 * i);
	return v;
}

/* The MSI-X table size from the capability list, 0 without MSI-X. */
static int msix_vectors(const struct pci_dev *d)
{
	if (!(cfg_le(d, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST))
		return 0;
	uint8_t off = d->cfg[PCI_CAPABILITY_LIST];
	/* A capability takes at least 4 bytes: more hops than that means a loop. */
	for (int hops = 0; off >= PCI_STD_HEADER_SIZEOF && hops < PCI_CFG_SIZE / 4; hops++) {
		if (d->cfg[off] == PCI_CAP_ID_MSIX)
			return (cfg_le(d, off + PCI_MSIX_FLAGS, 2) & PCI_MSIX_FLAGS_QSIZE) + 1;
		off = d->cfg[off + PCI_CAP_LIST_NEXT] & ~3u;
	}
	return 0;
}

static const char *pci_node_name(const struct pci_dev *d, char *buf, size_t size)
{
	uint32_t class = cfg_le(d, PCI_CLASS_DEVICE, 2);
	if (class >> 8 == CLASS_NETWORK)
		return "ethernet";
	if (class == CLASS_BRIDGE_HOST)
		return "host-bridge";
	snprintf(buf, size, "pci%x,%x", cfg_le(d, PCI_VENDOR_ID, 2), cfg_le(d, PCI_DEVICE_ID, 2));
	return buf;
}

static int pci_function_node(void *fdt, const struct pci_dev *d)
{
	char node[64], buf[32];
	uint32_t devfn = PCI_PHYS_DEVFN(d->slot, 0);
	struct cells reg = {.n = 0}, assigned = {.n = 0};

	/* First reg entry: the function's configuration space. */
	cell(&reg, devfn);
	cell64(&reg, 0);
	cell64(&reg, 0);
	for (int n = 0; n < 6; n++) {
		const struct pci_bar *b = &d->bar[n];
		if (!b->size)
			continue;
		uint32_t hi = devfn | (PCI_BASE_ADDRESS_0 + 4 * n);
		hi |= b->io ? PCI_PHYS_IO : b->mem64 ? PCI_PHYS_MEM64 : PCI_PHYS_MEM32;
		if (b->prefetch)
			hi |= PCI_PHYS_PREFETCH;
		cell(&reg, hi);
		cell64(&reg, 0);
		cell64(&reg, b->size);
		cell(&assigned, hi | PCI_PHYS_NONRELOC);
		cell64(&assigned, b->addr);
		cell64(&assigned, b->size);
		if (b->mem64)
			n++;
	}

	snprintf(node, sizeof(node), "%s@%x", pci_node_name(d, buf, sizeof(buf)), d->slot);
	TRY(fdt_begin_node(fdt, node));
	TRY(prop_cells(fdt, "reg", &reg));
	if (assigned.n)
		TRY(prop_cells(fdt, "assigned-addresses", &assigned));
	TRY(fdt_property_cell(fdt, "vendor-id", cfg_le(d, PCI_VENDOR_ID, 2)));
	TRY(fdt_property_cell(fdt, "device-id", cfg_le(d, PCI_DEVICE_ID, 2)));
	TRY(fdt_property_cell(fdt, "revision-id", d->cfg[PCI_REVISION_ID]));
	TRY(fdt_property_cell(fdt, "class-code", cfg_le(d, PCI_CLASS_PROG, 3)));
	TRY(fdt_property_cell(fdt, "subsystem-vendor-id", cfg_le(d, PCI_SUBSYSTEM_VENDOR_ID, 2)));
	TRY(fdt_property_cell(fdt, "subsystem-id", cfg_le(d, PCI_SUBSYSTEM_ID, 2)));
	if (d->cfg[PCI_INTERRUPT_PIN] && d->intx_gsi)
		TRY(fdt_property_cell(fdt, "interrupts", d->cfg[PCI_INTERRUPT_PIN]));
	int nvec = msix_vectors(d);
	if (nvec)
		TRY(fdt_property_cell(fdt, "minivmm,msix-vectors", nvec));
	return fdt_end_node(fdt);
}

static int pci_node(void *fdt, const struct machine_desc *md)
{
	struct cells c = {.n = 0};
	int ndev = pci_dev_count();

	TRY(begin_node(fdt, "pci@%llx", LAYOUT_PCI_MMIO32));
	TRY(fdt_property_string(fdt, "compatible", "minivmm,pci-host-conf1"));
	TRY(fdt_property_string(fdt, "device_type", "pci"));
	TRY(fdt_property_cell(fdt, "#address-cells", 3));
	TRY(fdt_property_cell(fdt, "#size-cells", 2));
	TRY(fdt_property_cell(fdt, "#interrupt-cells", 1));
	cell(&c, 0);
	cell(&c, 0);
	TRY(prop_cells(fdt, "bus-range", &c));

	/* ranges: (PCI address, CPU address, size); both windows are identity-mapped. */
	c.n = 0;
	cell(&c, PCI_PHYS_MEM32);
	cell64(&c, LAYOUT_PCI_MMIO32);
	cell64(&c, LAYOUT_PCI_MMIO32);
	cell64(&c, LAYOUT_PCI_MMIO32_END + 1 - LAYOUT_PCI_MMIO32);
	cell(&c, PCI_PHYS_MEM64);
	cell64(&c, md->mmio64_base);
	cell64(&c, md->mmio64_base);
	cell64(&c, md->mmio64_size);
	TRY(prop_cells(fdt, "ranges", &c));

	/* interrupt-map: (slot, pin) -> IOAPIC <GSI level-low>, the GSI the PCI model assigned. */
	c.n = 0;
	for (int i = 0; i < ndev; i++) {
		const struct pci_dev *d = pci_dev_at(i);
		if (!d || !d->cfg[PCI_INTERRUPT_PIN] || !d->intx_gsi)
			continue;
		cell(&c, PCI_PHYS_DEVFN(d->slot, 0));
		cell64(&c, 0);
		cell(&c, d->cfg[PCI_INTERRUPT_PIN]);
		cell(&c, PHANDLE_IOAPIC);
		cell(&c, d->intx_gsi);
		cell(&c, IOAPIC_SENSE_LEVEL_LOW);
	}
	if (c.n) {
		TRY(prop_cells(fdt, "interrupt-map", &c));
		c.n = 0;
		cell(&c, PCI_PHYS_DEVFN(0x1f, 0));
		cell64(&c, 0);
		cell(&c, 7);
		TRY(prop_cells(fdt, "interrupt-map-mask", &c));
	}

	for (int i = 0; i < ndev; i++) {
		const struct pci_dev *d = pci_dev_at(i);
		if (d)
			TRY(pci_function_node(fdt, d));
	}
	return fdt_end_node(fdt);
}

static int tree_build(void *fdt, int size, const struct machine_desc *md, const struct guest_mem *mem,
		      const struct boot_info *bi, const char *cmdline)
{
	TRY(fdt_create(fdt, size));
	TRY(reserve_non_ram(fdt, md, mem));
	TRY(fdt_finish_reservemap(fdt));
	TRY(fdt_begin_node(fdt, ""));
	TRY(fdt_property_string(fdt, "compatible", "minivmm,pc"));
	TRY(fdt_property_string(fdt, "model", "minivmm PC"));
	TRY(fdt_property_cell(fdt, "#address-cells", 2));
	TRY(fdt_property_cell(fdt, "#size-cells", 2));
	TRY(fdt_property_cell(fdt, "interrupt-parent", PHANDLE_IOAPIC));
	TRY(chosen_node(fdt, bi, cmdline));
	TRY(cpus_node(fdt, md));
	TRY(memory_nodes(fdt, mem));
	TRY(apic_nodes(fdt, md));
	TRY(isa_node(fdt));
	TRY(pci_node(fdt, md));
	TRY(fdt_end_node(fdt));
	TRY(fdt_finish(fdt));
	return fdt_totalsize(fdt);
}

int dtb_build(void *buf, size_t size, const struct machine_desc *md, const struct guest_mem *mem,
	      const struct boot_info *bi, const char *cmdline)
{
	if (size > INT32_MAX)
		size = INT32_MAX;
	int ret = tree_build(buf, (int)size, md, mem, bi, cmdline);
	if (ret == -FDT_ERR_NOSPACE)
		return -ENOSPC;
	return ret < 0 ? -EINVAL : ret;
}

int dtb_write_file(const char *path, const struct machine_desc *md, const struct guest_mem *mem,
		   const struct boot_info *bi, const char *cmdline)
{
	/* The command line can be 64 KiB on its own; everything else takes a few KiB. */
	size_t size = 16384;
	void *buf = NULL;
	int len = -ENOSPC;
	while (len == -ENOSPC && size <= (4u << 20)) {
		free(buf);
		if (!(buf = malloc(size))) {
			len = -ENOMEM;
			break;
		}
		len = dtb_build(buf, size, md, mem, bi, cmdline);
		size *= 2;
	}
	if (len < 0) {
		log_err("cannot build the device tree: %s", strerror(-len));
		free(buf);
		return len;
	}
	int ret = 0;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		ret = -errno;
	} else {
		ssize_t n = write(fd, buf, len);
		if (n != len)
			ret = n < 0 ? -errno : -EIO;
		if (close(fd) && !ret)
			ret = -errno;
	}
	if (ret)
		log_err("--dump-dtb: cannot write %s: %s", path, strerror(-ret));
	free(buf);
	return ret;
}
