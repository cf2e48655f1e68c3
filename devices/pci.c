/* pci.c: the PCI config-space model, BAR placement and the conf1 host bridge. */
#include "devices/pci.h"

#include <errno.h>
#include <linux/pci_regs.h>
#include <pthread.h>
#include <string.h>

#include "firmware/layout.h"
#include "vmm/irq.h"

#define CONF1_ADDR_PORT 0xcf8
#define CONF1_ENABLE	0x80000000u

/* Host bridge ids: Intel Q35 DRAM controller, what guests expect of a PC's bus 0 slot 0. */
#define HOST_VENDOR 0x8086
#define HOST_DEVICE 0x29c0

/* One lock for every config access: conf1 latches an address, then a data access uses it, and
 * BAR moves must not interleave. Device hooks run under it, so they may take their own locks but
 * must never call back into a function that takes this one. */
static pthread_mutex_t pci_lock = PTHREAD_MUTEX_INITIALIZER;
/* Leaf lock for INTx: taken by device threads (never while holding pci_lock's callees' locks
 * in the other order, because it is the innermost lock). */
static pthread_mutex_t intx_lock = PTHREAD_MUTEX_INITIALIZER;

static struct pci_dev *slots[PCI_MAX_DEVS];
static struct pci_dev host;
static bool conf1_on;
static uint32_t conf1_addr;
static uint64_t mmio32_next = LAYOUT_PCI_MMIO32;
static uint64_t mmio64_base = LAYOUT_PCI_MMIO64, mmio64_size = LAYOUT_PCI_MMIO64_SIZE;
static uint64_t mmio64_next = LAYOUT_PCI_MMIO64;
static uint64_t io_next = LAYOUT_PORT_PCI_IO;
static int (*line_fn)(uint32_t gsi, int level) = irq_line;

static uint32_t le_get(const uint8_t *p, uint32_t len)
{
	uint32_t v = 0;
	for (uint32_t i = 0; i < len; i++)
		v |= (uint32_t)p[i] << (8 * i);
	return v;
}

static void le_put(uint8_t *p, uint32_t len, uint32_t v)
{
	for (uint32_t i = 0; i < len; i++)
		p[i] = v >> (8 * i);
}

static uint32_t cfg_get(const struct pci_dev *d, uint32_t off, uint32_t len)
{
	return le_get(&d->cfg[off], len);
}

static void cfg_put(struct pci_dev *d, uint32_t off, uint32_t len, uint32_t v)
{
	le_put(&d->cfg[off], len, v);
}

void pci_dev_init(struct pci_dev *d, uint16_t vendor, uint16_t device, uint32_t class_code, uint8_t revision,
		  uint16_t subsys_vendor, uint16_t subsys_id)
{
	memset(d, 0, sizeof(*d));
	cfg_put(d, PCI_VENDOR_ID, 2, vendor);
	cfg_put(d, PCI_DEVICE_ID, 2, device);
	d->cfg[PCI_REVISION_ID] = revision;
	cfg_put(d, PCI_CLASS_PROG, 3, class_code);
	d->cfg[PCI_HEADER_TYPE] = PCI_HEADER_TYPE_NORMAL;
	cfg_put(d, PCI_SUBSYSTEM_VENDOR_ID, 2, subsys_vendor);
	cfg_put(d, PCI_SUBSYSTEM_ID, 2, subsys_id);
	d->cfg[PCI_INTERRUPT_PIN] = 1; /* INTA# */

	le_put(&d->wmask[PCI_COMMAND], 2,
	       PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_SERR |
		   PCI_COMMAND_PARITY | PCI_COMMAND_INTX_DISABLE);
	/* Error bits of the status register are write-1-to-clear; the rest of it is read-only. */
	le_put(&d->w1cmask[PCI_STATUS], 2,
	       PCI_STATUS_PARITY | PCI_STATUS_SIG_TARGET_ABORT | PCI_STATUS_REC_TARGET_ABORT |
		   PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_SIG_SYSTEM_ERROR | PCI_STATUS_DETECTED_PARITY);
	d->wmask[PCI_CACHE_LINE_SIZE] = 0xff;
	d->wmask[PCI_LATENCY_TIMER] = 0xff;
	d->wmask[PCI_INTERRUPT_LINE] = 0xff;

	d->cap_next = PCI_STD_HEADER_SIZEOF;
	d->cap_last_link = &d->cfg[PCI_CAPABILITY_LIST];
	d->slot = -1;
}

static uint32_t bar_type_bits(const struct pci_bar *b)
{
	if (b->io)
		return PCI_BASE_ADDRESS_SPACE_IO;
	return (b->mem64 ? PCI_BASE_ADDRESS_MEM_TYPE_64 : 0) |
	       (b->prefetch ? PCI_BASE_ADDRESS_MEM_PREFETCH : 0);
}

void pci_bar_init(struct pci_dev *d, int n, uint64_t size, bool io, bool mem64, bool prefetch, bus_io_fn fn,
		  void *opaque)
{
	struct pci_bar *b = &d->bar[n];
	*b = (struct pci_bar){.size = size,
			      .io = io,
			      .mem64 = mem64 && !io,
			      .prefetch = prefetch && !io,
			      .fn = fn,
			      .opaque = opaque};
	/* Sizing falls out of the write mask: writing all ones reads back ~(size - 1) plus the
	 * read-only type bits. */
	uint32_t off = PCI_BASE_ADDRESS_0 + 4 * n;
	uint32_t low = (uint32_t) ~(size - 1) & (io ? PCI_BASE_ADDRESS_IO_MASK : PCI_BASE_ADDRESS_MEM_MASK);
	le_put(&d->wmask[off], 4, low);
	cfg_put(d, off, 4, bar_type_bits(b));
	if (b->mem64 && n < 5)
		le_put(&d->wmask[off + 4], 4, (uint32_t)(~(size - 1) >> 32));
}

uint8_t pci_cap_add(struct pci_dev *d, const void *cap, uint8_t len)
{
	uint32_t off = d->cap_next;
	uint32_t alen = (len + 3u) & ~3u;
	if (len < 2 || off + alen > PCI_CFG_SIZE)
		return 0;
	memcpy(&d->cfg[off], cap, len);
	d->cfg[off + 1] = 0;
	*d->cap_last_link = off;
	d->cap_last_link = &d->cfg[off + 1];
	d->cap_next = off + alen;
	d->cfg[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
	return off;
}

void pci_cfg_set_wmask(struct pci_dev *d, uint32_t off, uint32_t len, uint8_t mask)
{
	for (uint32_t i = 0; i < len && off + i < PCI_CFG_SIZE; i++)
		d->wmask[off + i] = mask;
}

static uint16_t command(const struct pci_dev *d)
{
	return cfg_get(d, PCI_COMMAND, 2);
}

/* Where BAR n currently points according to config space. */
static uint64_t bar_cfg_addr(const struct pci_dev *d, int n)
{
	const struct pci_bar *b = &d->bar[n];
	uint32_t lo = cfg_get(d, PCI_BASE_ADDRESS_0 + 4 * n, 4);
	if (b->io)
		return lo & PCI_BASE_ADDRESS_IO_MASK;
	uint64_t a = lo & PCI_BASE_ADDRESS_MEM_MASK;
	if (b->mem64 && n < 5)
		a |= (uint64_t)cfg_get(d, PCI_BASE_ADDRESS_0 + 4 * (n + 1), 4) << 32;
	return a;
}

/* Brings the bus registrations of d's BARs in line with config space: a BAR is mapped when its
 * decode bit is on and its address is sane. Called under pci_lock. */
static void bars_update(struct pci_dev *d)
{
	uint16_t cmd = command(d);
	for (int n = 0; n < 6; n++) {
		struct pci_bar *b = &d->bar[n];
		if (!b->size)
			continue;
		uint64_t addr = bar_cfg_addr(d, n);
		bool decode = cmd & (b->io ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY);
		bool sane = addr != 0 && addr + b->size - 1 >= addr && (!b->io || addr + b->size <= 0x10000);
		bool want = decode && sane;
		if (want == b->mapped && addr == b->addr)
			continue;
		enum bus_kind kind = b->io ? BUS_PIO : BUS_MMIO;
		if (b->mapped)
			bus_unregister(kind, b->addr);
		b->mapped = false;
		b->addr = addr;
		if (want) {
			/* An overlapping address (a guest bug) leaves the BAR unmapped. */
			b->mapped = bus_register(kind, addr, b->size, b->fn, b->opaque) == 0;
		}
		if (d->ops && d->ops->bar_moved)
			d->ops->bar_moved(d, n);
		if (b->mem64)
			n++;
	}
}

static void intx_apply(struct pci_dev *d)
{
	int level = d->intx_level && !(command(d) & PCI_COMMAND_INTX_DISABLE);
	if (d->intx_gsi)
		line_fn(d->intx_gsi, level);
}

static uint32_t cfg_read_locked(struct pci_dev *d, uint32_t off, uint32_t len)
{
	if (off >= PCI_CFG_SIZE || len > PCI_CFG_SIZE - off || !len || len > 4)
		return 0xffffffffu;
	uint32_t v = cfg_get(d, off, len);
	if (d->ops && d->ops->cfg_read)
		d->ops->cfg_read(d, off, len, &v);
	return v;
}

static bool overlaps(uint32_t off, uint32_t len, uint32_t start, uint32_t end)
{
	return off < end && off + len > start;
}

static void cfg_write_locked(struct pci_dev *d, uint32_t off, uint32_t len, uint32_t val)
{
	if (off >= PCI_CFG_SIZE || len > PCI_CFG_SIZE - off || !len || len > 4)
		return;
	uint16_t old_cmd = command(d);
	for (uint32_t i = 0; i < len; i++) {
		uint32_t o = off + i;
		uint8_t b = val >> (8 * i), w = d->wmask[o], c = d->w1cmask[o];
		/* Bytes with nothing writable are left alone: status bit 3 is updated by pci_intx()
		 * outside this lock. */
		if (!(w | c))
			continue;
		d->cfg[o] = ((d->cfg[o] & ~w) | (b & w)) & ~(b & c);
	}
	if (overlaps(off, len, PCI_COMMAND, PCI_COMMAND + 2) ||
	    overlaps(off, len, PCI_BASE_ADDRESS_0, PCI_BASE_ADDRESS_5 + 4))
		bars_update(d);
	if ((old_cmd ^ command(d)) & PCI_COMMAND_INTX_DISABLE) {
		pthread_mutex_lock(&intx_lock);
		intx_apply(d);
		pthread_mutex_unlock(&intx_lock);
	}
	if (d->ops && d->ops->cfg_write)
		d->ops->cfg_write(d, off, len, val);
}

uint32_t pci_cfg_read(struct pci_dev *d, uint32_t off, uint32_t len)
{
	pthread_mutex_lock(&pci_lock);
	uint32_t v = cfg_read_locked(d, off, len);
	pthread_mutex_unlock(&pci_lock);
	return v;
}

void pci_cfg_write(struct pci_dev *d, uint32_t off, uint32_t len, uint32_t val)
{
	pthread_mutex_lock(&pci_lock);
	cfg_write_locked(d, off, len, val);
	pthread_mutex_unlock(&pci_lock);
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/* Firmware's job, done here since there is no BIOS: give every BAR a naturally aligned home in
 * its window. Allocation only grows; addresses are never reused. */
static int bars_place(struct pci_dev *d)
{
	for (int n = 0; n < 6; n++) {
		struct pci_bar *b = &d->bar[n];
		if (!b->size)
			continue;
		if (b->size & (b->size - 1))
			return -EINVAL;
		uint64_t *next, end;
		if (b->io) {
			next = &io_next;
			end = 0xffff;
		} else if (b->mem64) {
			next = &mmio64_next;
			end = mmio64_base + mmio64_size - 1;
		} else {
			next = &mmio32_next;
			end = LAYOUT_PCI_MMIO32_END;
		}
		uint64_t a = align_up(*next, b->size);
		if (a + b->size - 1 > end)
			return -ENOSPC;
		*next = a + b->size;
		uint32_t off = PCI_BASE_ADDRESS_0 + 4 * n;
		cfg_put(d, off, 4, (uint32_t)a | bar_type_bits(b));
		if (b->mem64) {
			cfg_put(d, off + 4, 4, a >> 32);
			n++;
		}
	}
	return 0;
}

static int slot_register(struct pci_dev *d, int slot)
{
	d->slot = slot;
	d->intx_gsi = d->cfg[PCI_INTERRUPT_PIN] ? LAYOUT_PCI_INTX_GSI_BASE + (slot % 8) : 0;
	int r = bars_place(d);
	if (r)
		return r;
	/* Decode on, as firmware leaves it; the guest may turn it off to size BARs. */
	uint16_t cmd = command(d);
	for (int n = 0; n < 6; n++)
		if (d->bar[n].size)
			cmd |= d->bar[n].io ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY;
	cfg_put(d, PCI_COMMAND, 2, cmd);
	slots[slot] = d;
	bars_update(d);
	return 0;
}

int pci_register(struct pci_dev *d)
{
	pthread_mutex_lock(&pci_lock);
	int r = -ENOSPC;
	for (int s = 1; s < PCI_MAX_DEVS; s++) {
		if (!slots[s]) {
			r = slot_register(d, s);
			break;
		}
	}
	pthread_mutex_unlock(&pci_lock);
	return r;
}

static struct pci_dev *conf1_target(void)
{
	if (!(conf1_addr & CONF1_ENABLE))
		return NULL;
	uint32_t bus = (conf1_addr >> 16) & 0xff, dev = (conf1_addr >> 11) & 0x1f,
		 fn = (conf1_addr >> 8) & 0x7;
	if (bus != 0 || fn != 0)
		return NULL;
	return slots[dev];
}

/* 0xCF8: the dword address latch; 0xCFC-0xCFF: a window on the latched dword. */
static void conf1_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	(void)opaque;
	pthread_mutex_lock(&pci_lock);
	if (off < 4) {
		if (off == 0 && len == 4) {
			if (is_write)
				conf1_addr = le_get(data, 4) & 0x80fffffcu;
			else
				le_put(data, 4, conf1_addr);
		} else if (!is_write) {
			memset(data, 0xff, len);
		}
		pthread_mutex_unlock(&pci_lock);
		return;
	}
	uint32_t k = off - 4;
	struct pci_dev *d = conf1_target();
	if (!d || len > 4 || k + len > 4) {
		if (!is_write)
			memset(data, 0xff, len);
		pthread_mutex_unlock(&pci_lock);
		return;
	}
	uint32_t reg = (conf1_addr & 0xfc) + k;
	if (is_write) {
		cfg_write_locked(d, reg, len, le_get(data, len));
	} else {
		le_put(data, len, cfg_read_locked(d, reg, len));
	}
	pthread_mutex_unlock(&pci_lock);
}

int pci_host_init(void)
{
	pthread_mutex_lock(&pci_lock);
	int r = -EEXIST;
	if (!slots[0] && !conf1_on) {
		pci_dev_init(&host, HOST_VENDOR, HOST_DEVICE, 0x060000, 0, HOST_VENDOR, HOST_DEVICE);
		host.cfg[PCI_INTERRUPT_PIN] = 0;
		host.wmask[PCI_INTERRUPT_LINE] = 0;
		r = bus_register(BUS_PIO, CONF1_ADDR_PORT, 8, conf1_io, NULL);
		if (r == 0) {
			conf1_on = true;
			r = slot_register(&host, 0);
		}
	}
	pthread_mutex_unlock(&pci_lock);
	return r;
}

int pci_dev_count(void)
{
	int n = 0;
	pthread_mutex_lock(&pci_lock);
	for (int s = 0; s < PCI_MAX_DEVS; s++)
		n += slots[s] != NULL;
	pthread_mutex_unlock(&pci_lock);
	return n;
}

struct pci_dev *pci_dev_at(int i)
{
	struct pci_dev *d = NULL;
	pthread_mutex_lock(&pci_lock);
	for (int s = 0; s < PCI_MAX_DEVS && !d; s++)
		if (slots[s] && i-- == 0)
			d = slots[s];
	pthread_mutex_unlock(&pci_lock);
	return d;
}

static void bars_unmap(struct pci_dev *d)
{
	for (int n = 0; n < 6; n++) {
		if (d->bar[n].mapped)
			bus_unregister(d->bar[n].io ? BUS_PIO : BUS_MMIO, d->bar[n].addr);
		d->bar[n].mapped = false;
	}
}

void pci_unregister(struct pci_dev *d)
{
	pthread_mutex_lock(&pci_lock);
	if (d->slot >= 0 && d->slot < PCI_MAX_DEVS && slots[d->slot] == d) {
		bars_unmap(d);
		slots[d->slot] = NULL;
	}
	pthread_mutex_unlock(&pci_lock);
}

void pci_mmio64_window_set(uint64_t base, uint64_t size)
{
	pthread_mutex_lock(&pci_lock);
	mmio64_base = mmio64_next = base;
	mmio64_size = size;
	pthread_mutex_unlock(&pci_lock);
}

void pci_reset_all(void)
{
	pthread_mutex_lock(&pci_lock);
	for (int s = 0; s < PCI_MAX_DEVS; s++) {
		if (slots[s])
			bars_unmap(slots[s]);
		slots[s] = NULL;
	}
	if (conf1_on)
		bus_unregister(BUS_PIO, CONF1_ADDR_PORT);
	conf1_on = false;
	conf1_addr = 0;
	mmio32_next = LAYOUT_PCI_MMIO32;
	mmio64_base = LAYOUT_PCI_MMIO64;
	mmio64_size = LAYOUT_PCI_MMIO64_SIZE;
	mmio64_next = LAYOUT_PCI_MMIO64;
	io_next = LAYOUT_PORT_PCI_IO;
	pthread_mutex_unlock(&pci_lock);
}

void pci_set_line_fn(int (*fn)(uint32_t gsi, int level))
{
	line_fn = fn ? fn : irq_line;
}

void pci_intx(struct pci_dev *d, int level)
{
	pthread_mutex_lock(&intx_lock);
	d->intx_level = !!level;
	if (level)
		__atomic_fetch_or(&d->cfg[PCI_STATUS], PCI_STATUS_INTERRUPT, __ATOMIC_RELAXED);
	else
		__atomic_fetch_and(&d->cfg[PCI_STATUS], (uint8_t)~PCI_STATUS_INTERRUPT, __ATOMIC_RELAXED);
	intx_apply(d);
	pthread_mutex_unlock(&intx_lock);
}

bool pci_bus_master(const struct pci_dev *d)
{
	return command(d) & PCI_COMMAND_MASTER;
}
