/* test_dtb.c: the machine's device tree (firmware/dtb.c), built for a fake machine (2 vCPUs,
 * 4 GiB of RAM split around the PCI hole, one registered virtio-net-like PCI function) and read
 * back with libfdt. */
#include <check.h>
#include <errno.h>
#include <libfdt.h>
#include <linux/pci_regs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/pci.h"
#include "firmware/dtb.h"
#include "firmware/layout.h"
#include "vmm/bus.h"

#define GIB		 (1ULL << 30)
#define CMDLINE		 "console=ttyS0 quiet"
#define INITRD_ADDR	 0x7f000000ULL
#define INITRD_SIZE	 0x123000ULL
#define NIC_MSIX_VECTORS 3

static uint8_t blob[65536];
static struct machine_desc md; /* 4 GiB, 2 vCPUs, 39 physical address bits: machine_setup() */
/* Regions as guest_mem_init() splits 4 GiB; no host memory behind them, the DTB never reads RAM. */
static struct guest_mem mem = {
    .r = {{.gpa = 0, .size = 3 * GIB}, {.gpa = LAYOUT_HIGH_RAM, .size = 1 * GIB}},
    .nr = 2,
    .ram_size = 4 * GIB,
};
static struct boot_info boot = {.initrd_addr = INITRD_ADDR, .initrd_size = INITRD_SIZE};
static struct pci_dev nic;

static void nop_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	(void)opaque, (void)off, (void)data, (void)len, (void)is_write;
}

/* The host bridge at slot 0 and a NIC at slot 1 with a 32-bit BAR 1 (MSI-X) and a 64-bit
 * prefetchable BAR 4, as the virtio PCI transport lays them out. */
static void machine_setup(void)
{
	pci_reset_all();
	bus_reset();
	ck_assert_int_eq(machine_desc_init(&md, 4 * GIB, 2, 39), 0);
	pci_mmio64_window_set(md.mmio64_base, md.mmio64_size);
	ck_assert_int_eq(pci_host_init(), 0);
	pci_dev_init(&nic, 0x1af4, 0x1041, 0x020000, 1, 0x1af4, 0x1100);
	pci_bar_init(&nic, 1, 0x1000, false, false, false, nop_io, NULL);
	pci_bar_init(&nic, 4, 0x4000, false, true, true, nop_io, NULL);
	uint8_t cap[12] = {PCI_CAP_ID_MSIX, 0, NIC_MSIX_VECTORS - 1, 0, 1 /* table: BAR 1 */};
	ck_assert_uint_ne(pci_cap_add(&nic, cap, sizeof(cap)), 0);
	ck_assert_int_eq(pci_register(&nic), 0);
}

static void build(const struct boot_info *bi)
{
	machine_setup();
	int len = dtb_build(blob, sizeof(blob), &md, &mem, bi, CMDLINE);
	ck_assert_int_gt(len, 0);
	ck_assert_int_eq(fdt_check_header(blob), 0);
	ck_assert_int_eq(fdt_totalsize(blob), len);
	pci_reset_all();
	bus_reset();
}

static int node(const char *path)
{
	int off = fdt_path_offset(blob, path);
	ck_assert_msg(off >= 0, "no node %s: %s", path, fdt_strerror(off));
	return off;
}

static const void *prop(const char *path, const char *name, int *len)
{
	const void *p = fdt_getprop(blob, node(path), name, len);
	ck_assert_msg(p, "no %s in %s", name, path);
	return p;
}

static void assert_str(const char *path, const char *name, const char *want)
{
	int len;
	const char *s = prop(path, name, &len);
	ck_assert_int_eq(len, (int)strlen(want) + 1);
	ck_assert_str_eq(s, want);
}

/* A property as cells; n = how many there must be. */
static void assert_cells(const char *path, const char *name, const uint32_t *want, int n)
{
	int len;
	const fdt32_t *c = prop(path, name, &len);
	ck_assert_int_eq(len, n * 4);
	for (int i = 0; i < n; i++)
		ck_assert_msg(fdt32_to_cpu(c[i]) == want[i], "%s %s cell %d: 0x%x, want 0x%x", path, name, i,
			      fdt32_to_cpu(c[i]), want[i]);
}

#define CELLS(path, name, ...)                                                                               \
	assert_cells(path, name, (const uint32_t[]){__VA_ARGS__}, sizeof((const uint32_t[]){__VA_ARGS__}) / 4)
#define HI(v) (uint32_t)((uint64_t)(v) >> 32)
#define LO(v) (uint32_t)(v)

static int subnodes(const char *path)
{
	int n = 0, sub;
	fdt_for_each_subnode(sub, blob, node(path)) n++;
	return n;
}

START_TEST(blob_is_valid_and_names_the_machine)
{
	build(&boot);
	assert_str("/", "compatible", "minivmm,pc");
	CELLS("/", "#address-cells", 2);
	CELLS("/", "#size-cells", 2);
	/* The root's interrupt-parent is the IOAPIC's phandle. */
	int len;
	uint32_t ph = fdt32_to_cpu(*(const fdt32_t *)prop("/", "interrupt-parent", &len));
	ck_assert_int_eq(fdt_node_offset_by_phandle(blob, ph), node("/interrupt-controller@fec00000"));
}
END_TEST

START_TEST(one_cpu_node_per_vcpu_with_the_apic_id_as_reg)
{
	build(&boot);
	CELLS("/cpus", "#address-cells", 1);
	CELLS("/cpus", "#size-cells", 0);
	ck_assert_int_eq(subnodes("/cpus"), 2);
	assert_str("/cpus/cpu@0", "device_type", "cpu");
	CELLS("/cpus/cpu@0", "reg", 0);
	assert_str("/cpus/cpu@1", "device_type", "cpu");
	CELLS("/cpus/cpu@1", "reg", 1);
}
END_TEST

START_TEST(memory_nodes_are_exactly_the_guest_ram_regions)
{
	build(&boot);
	assert_str("/memory@0", "device_type", "memory");
	CELLS("/memory@0", "reg", 0, 0, 0, LO(3 * GIB));
	assert_str("/memory@100000000", "device_type", "memory");
	CELLS("/memory@100000000", "reg", 1, 0, 0, LO(GIB));
	int n = 0;
	for (int off = fdt_node_offset_by_prop_value(blob, -1, "device_type", "memory", 7); off >= 0;
	     off = fdt_node_offset_by_prop_value(blob, off, "device_type", "memory", 7))
		n++;
	ck_assert_int_eq(n, 2);
	/* e820's non-RAM below 1 MiB (EBDA, VGA hole, BIOS area) is one reserved range. */
	uint64_t addr, size;
	ck_assert_int_eq(fdt_num_mem_rsv(blob), 1);
	ck_assert_int_eq(fdt_get_mem_rsv(blob, 0, &addr, &size), 0);
	ck_assert_uint_eq(addr, LAYOUT_EBDA);
	ck_assert_uint_eq(addr + size, LAYOUT_BIOS_END);
}
END_TEST

START_TEST(chosen_has_the_command_line_and_the_initrd_range)
{
	build(&boot);
	assert_str("/chosen", "bootargs", CMDLINE);
	CELLS("/chosen", "linux,initrd-start", HI(INITRD_ADDR), LO(INITRD_ADDR));
	CELLS("/chosen", "linux,initrd-end", HI(INITRD_ADDR + INITRD_SIZE), LO(INITRD_ADDR + INITRD_SIZE));
	assert_str("/chosen", "stdout-path", "/isa/serial@i3f8");
	node("/isa/serial@i3f8");
}
END_TEST

START_TEST(chosen_has_no_initrd_without_one)
{
	struct boot_info none = {0};
	build(&none);
	assert_str("/chosen", "bootargs", CMDLINE);
	ck_assert_ptr_null(fdt_getprop(blob, node("/chosen"), "linux,initrd-start", NULL));
	ck_assert_ptr_null(fdt_getprop(blob, node("/chosen"), "linux,initrd-end", NULL));
}
END_TEST

START_TEST(lapic_and_ioapic_sit_at_their_layout_addresses)
{
	build(&boot);
	assert_str("/interrupt-controller@fee00000", "compatible", "intel,ce4100-lapic");
	CELLS("/interrupt-controller@fee00000", "reg", 0, LO(LAYOUT_LAPIC), 0, 0x1000);
	assert_str("/interrupt-controller@fec00000", "compatible", "intel,ce4100-ioapic");
	CELLS("/interrupt-controller@fec00000", "reg", 0, LO(LAYOUT_IOAPIC), 0, 0x1000);
	CELLS("/interrupt-controller@fec00000", "#interrupt-cells", 2);
	CELLS("/interrupt-controller@fec00000", "minivmm,ioapic-id", 2);
}
END_TEST

START_TEST(serial_is_an_ns16550a_at_port_3f8_on_irq_4)
{
	build(&boot);
	assert_str("/isa/serial@i3f8", "compatible", "ns16550a");
	CELLS("/isa/serial@i3f8", "reg", 1, 0x3f8, 8);
	CELLS("/isa/serial@i3f8", "interrupts", 4, 0);
}
END_TEST

START_TEST(pci_node_maps_the_32_and_64_bit_mmio_windows)
{
	build(&boot);
	const char *pci = "/pci@c0000000";
	assert_str(pci, "device_type", "pci");
	CELLS(pci, "#address-cells", 3);
	CELLS(pci, "#size-cells", 2);
	CELLS(pci, "bus-range", 0, 0);
	uint64_t size32 = LAYOUT_PCI_MMIO32_END + 1 - LAYOUT_PCI_MMIO32;
	CELLS(pci, "ranges",
	      /* 32-bit memory: PCI address, CPU address, size */
	      0x02000000, 0, LO(LAYOUT_PCI_MMIO32), 0, LO(LAYOUT_PCI_MMIO32), HI(size32), LO(size32),
	      /* 64-bit memory */
	      0x03000000, HI(md.mmio64_base), LO(md.mmio64_base), HI(md.mmio64_base),
	      LO(md.mmio64_base), HI(md.mmio64_size), LO(md.mmio64_size));
	/* The host bridge and the NIC, nothing else. */
	ck_assert_int_eq(subnodes(pci), 2);
	CELLS("/pci@c0000000/host-bridge@0", "vendor-id", 0x8086);
	ck_assert_ptr_null(fdt_getprop(blob, node("/pci@c0000000/host-bridge@0"), "interrupts", NULL));
}
END_TEST

START_TEST(pci_function_has_ids_bars_as_placed_intx_gsi_and_msix_vectors)
{
	build(&boot);
	const char *nicp = "/pci@c0000000/ethernet@1";
	const uint32_t devfn = 1 << 11;
	CELLS(nicp, "vendor-id", 0x1af4);
	CELLS(nicp, "device-id", 0x1041);
	CELLS(nicp, "class-code", 0x020000);
	CELLS(nicp, "revision-id", 1);
	CELLS(nicp, "subsystem-id", 0x1100);
	/* Config space, then BAR 1 (32-bit) and BAR 4 (64-bit prefetchable) by size. */
	CELLS(nicp, "reg", devfn, 0, 0, 0, 0, 0x02000000 | devfn | 0x14, 0, 0, 0, 0x1000,
	      0x43000000 | devfn | 0x20, 0, 0, 0, 0x4000);
	/* Where pci_register() put them: the start of each window. */
	CELLS(nicp, "assigned-addresses", 0x82000000 | devfn | 0x14, 0, LO(LAYOUT_PCI_MMIO32), 0, 0x1000,
	      0xc3000000 | devfn | 0x20, HI(md.mmio64_base), LO(md.mmio64_base), 0, 0x4000);
	CELLS(nicp, "interrupts", 1);
	CELLS(nicp, "minivmm,msix-vectors", NIC_MSIX_VECTORS);
	/* INTA# of slot 1 is GSI 17 (layout.h's swizzle), level low, on the IOAPIC (phandle 1). */
	CELLS("/pci@c0000000", "interrupt-map", devfn, 0, 0, 1, 1, LAYOUT_PCI_INTX_GSI(1, 0), 1);
	CELLS("/pci@c0000000", "interrupt-map-mask", 0xf800, 0, 0, 7);
	CELLS("/interrupt-controller@fec00000", "phandle", 1);
}
END_TEST

START_TEST(too_small_a_buffer_is_enospc)
{
	machine_setup();
	ck_assert_int_eq(dtb_build(blob, 256, &md, &mem, &boot, CMDLINE), -ENOSPC);
	pci_reset_all();
	bus_reset();
}
END_TEST

START_TEST(write_file_writes_the_blob_and_reports_an_unwritable_path)
{
	char path[] = "/tmp/minivmm-dtb-XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	close(fd);
	machine_setup();
	/* A command line longer than the first buffer try makes it grow. */
	static char longcmd[40000];
	memset(longcmd, 'x', sizeof(longcmd) - 1);
	ck_assert_int_eq(dtb_write_file(path, &md, &mem, &boot, longcmd), 0);
	ck_assert_int_eq(dtb_write_file("/nonexistent-dir/m.dtb", &md, &mem, &boot, CMDLINE), -ENOENT);
	pci_reset_all();
	bus_reset();

	FILE *f = fopen(path, "rb");
	ck_assert_ptr_nonnull(f);
	size_t n = fread(blob, 1, sizeof(blob), f);
	fclose(f);
	unlink(path);
	static const uint8_t magic[4] = {0xd0, 0x0d, 0xfe, 0xed};
	ck_assert_uint_gt(n, sizeof(longcmd));
	ck_assert_mem_eq(blob, magic, 4);
	ck_assert_int_eq(fdt_check_header(blob), 0);
	ck_assert_uint_eq(fdt_totalsize(blob), n);
	ck_assert_int_eq(strlen(fdt_getprop(blob, fdt_path_offset(blob, "/chosen"), "bootargs", NULL)),
			 sizeof(longcmd) - 1);
}
END_TEST

#include "tests/unit/unit.h"
UNIT_MAIN("dtb", blob_is_valid_and_names_the_machine, one_cpu_node_per_vcpu_with_the_apic_id_as_reg,
	  memory_nodes_are_exactly_the_guest_ram_regions, chosen_has_the_command_line_and_the_initrd_range,
	  chosen_has_no_initrd_without_one, lapic_and_ioapic_sit_at_their_layout_addresses,
	  serial_is_an_ns16550a_at_port_3f8_on_irq_4, pci_node_maps_the_32_and_64_bit_mmio_windows,
	  pci_function_has_ids_bars_as_placed_intx_gsi_and_msix_vectors, too_small_a_buffer_is_enospc,
	  write_file_writes_the_blob_and_reports_an_unwritable_path)
