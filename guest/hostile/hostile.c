/* hostile.c: a malicious virtio-net PCI driver for the test guest (e2e scenarios 6N-hostile-*, tests/e2e/hostile.sh).
 *
 *   hostile [-s SEED] [-r ROUNDS] [-t SECONDS] BDF        (e.g. 0000:00:01.0)
 *
 * Takes the NIC away from virtio-pci (sysfs unbind), enables memory decoding and bus mastering,
 * maps BAR 4 (virtio registers) and the MSI-X BAR through sysfs, and drives the device the way an
 * attacker would, every choice drawn from SEED: garbage programming (unoffered features, queue
 * sizes 3/0/65535, rings past RAM, DRIVER_OK with and without FEATURES_OK, status bits cleared
 * without a reset), rings with chain loops, out-of-RAM, wrapping and overlapping buffers,
 * indirect tables that loop or nest, runaway avail indices, descriptors rewritten under the
 * device, random accesses of every size to every register window (common, ISR, device, notify,
 * MSI-X table and PBA, the PCI_CFG window), random config-space writes, Bus Master toggles, kicks.
 * It stops after ROUNDS rounds or SECONDS seconds, resets the device (status 0, then waits for
 * it to read 0, bounded), restores what it changed in config space and binds virtio-pci again.
 * Exit status: 0 done, 1 the device misbehaved (reset never completed, rebind failed), 2 setup.
 *
 * Self-harm is avoided on purpose, so that whatever breaks is the VMM's doing: every address the
 * device may write (used rings, writable buffers) is in this program's own 2 MiB hugetlb arena
 * (physically contiguous, found through /proc/self/pagemap) or outside guest RAM; descriptor
 * tables live in a part of the arena nothing the device writes may overlap; MSI-X table entries
 * stay masked (a garbage message could be an INIT to a guest CPU).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ARENA_SIZE (2u << 20)
#define RING_MAX   256		/* queue sizes used for rings in the arena */
#define RING_ZONE  (64u << 10)	/* arena[0, RING_ZONE): the rings' descriptor tables */
#define DESC_ZONE  (512u << 10) /* arena[RING_ZONE, DESC_ZONE): indirect tables */
/* arena[DESC_ZONE, WRITE_END): all the device may write. The margin above WRITE_END is larger
 * than any frame, so whatever length a writable descriptor claims, a frame stays inside. */
#define WRITE_END  (ARENA_SIZE - (128u << 10))
#define RESET_WAIT_NS (5ull * 1000000000ull)

#define PCI_COMMAND	  0x04
#define PCI_CMD_MEM	  0x2
#define PCI_CMD_MASTER	  0x4
#define PCI_CAP_PTR	  0x34
#define PCI_CAP_ID_MSIX	  0x11
#define PCI_CAP_ID_VNDR	  0x09
#define MSIX_CTRL_ENABLE  0x8000
#define MSIX_CTRL_MASKALL 0x4000

#define CC(f) offsetof(struct virtio_pci_common_cfg, f)

struct win {
	volatile uint8_t *p;
	uint32_t len;
};

static struct {
	char sys[256];
	char bdf[64];
	int cfg_fd;
	uint8_t cfg0[256]; /* config space as the kernel left it */
	volatile uint8_t *bar[6];
	size_t bar_len[6];
	uint64_t bar_pa[6];
	struct win common, isr, devcfg, notify, msix_table, msix_pba;
	uint32_t notify_mult;
	uint8_t msix_cap, pcicfg_cap;
	uint16_t msix_n;
	uint16_t num_queues;
	uint16_t qmax[8];
	uint64_t offered;
} d;

static struct {
	uint8_t *va;
	uint64_t pa;
} arena;

static uint64_t ram_end;    /* first address above the highest System RAM range */
static uint64_t ram_ranges[32][2];
static int nram;

static struct {
	unsigned long rounds[4], accesses, kicks, resets, reset_timeouts, needs_reset_seen, cfg_writes;
} st;

static uint64_t rng_state;
static uint64_t rnd(void) /* splitmix64 */
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}
static uint64_t below(uint64_t n) { return n ? rnd() % n : 0; }
static int chance(unsigned pct) { return below(100) < pct; }

static void die(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "hostile: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(code);
}

static uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + t.tv_nsec;
}

/* --- sysfs --- */

static int sysfs_write(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	ssize_t n = write(fd, s, strlen(s));
	int e = n < 0 ? -errno : 0;
	close(fd);
	return e;
}

static uint32_t cfg_read(unsigned off, unsigned len)
{
	uint32_t v = 0;
	if (pread(d.cfg_fd, &v, len, off) != (ssize_t)len)
		die(2, "config read at %#x: %s", off, strerror(errno));
	return v;
}

static void cfg_write(unsigned off, unsigned len, uint32_t v)
{
	st.cfg_writes++;
	if (pwrite(d.cfg_fd, &v, len, off) != (ssize_t)len)
		die(2, "config write at %#x: %s", off, strerror(errno));
}

/* --- MMIO --- */

static uint64_t mmio_rd(volatile uint8_t *p, unsigned size)
{
	st.accesses++;
	switch (size) {
	case 1: return *p;
	case 2: return *(volatile uint16_t *)p;
	case 4: return *(volatile uint32_t *)p;
	default: return *(volatile uint64_t *)p;
	}
}

static void mmio_wr(volatile uint8_t *p, unsigned size, uint64_t v)
{
	st.accesses++;
	switch (size) {
	case 1: *p = v; break;
	case 2: *(volatile uint16_t *)p = v; break;
	case 4: *(volatile uint32_t *)p = v; break;
	default: *(volatile uint64_t *)p = v; break;
	}
}

static uint64_t common_rd(size_t off, unsigned size) { return mmio_rd(d.common.p + off, size); }
static void common_wr(size_t off, unsigned size, uint64_t v) { mmio_wr(d.common.p + off, size, v); }

static void kick(unsigned q)
{
	st.kicks++;
	uint64_t off = (uint64_t)q * d.notify_mult;
	if (off + 2 <= d.notify.len)
		mmio_wr(d.notify.p + off, 2, q);
}

/* --- guest memory --- */

static void ram_map(void)
{
	FILE *f = fopen("/proc/iomem", "r");
	if (!f)
		die(2, "/proc/iomem: %s", strerror(errno));
	char line[256];
	while (fgets(line, sizeof(line), f)) {
		uint64_t a, b;
		if (line[0] == ' ' || !strstr(line, ": System RAM"))
			continue;
		if (sscanf(line, "%" SCNx64 "-%" SCNx64, &a, &b) != 2 || nram == 32)
			continue;
		ram_ranges[nram][0] = a;
		ram_ranges[nram][1] = b + 1;
		nram++;
		if (b + 1 > ram_end)
			ram_end = b + 1;
	}
	fclose(f);
	if (!nram || ram_end < (16u << 20))
		die(2, "no System RAM in /proc/iomem (not root?)");
}

static int in_ram(uint64_t a, uint64_t len)
{
	for (int i = 0; i < nram; i++)
		if (a < ram_ranges[i][1] && a + len > ram_ranges[i][0])
			return 1;
	return 0;
}

/* A 2 MiB hugetlb page: physically contiguous, never swapped, returned to the hugetlb pool (not
 * to the kernel's allocator) when this program exits. */
static void arena_setup(void)
{
	void *p = MAP_FAILED;
	for (int tries = 0; tries < 3 && p == MAP_FAILED; tries++) {
		p = mmap(NULL, ARENA_SIZE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE, -1, 0);
		if (p != MAP_FAILED)
			break;
		FILE *f = fopen("/proc/sys/vm/nr_hugepages", "r");
		long n = 0;
		if (f) {
			if (fscanf(f, "%ld", &n) != 1)
				n = 0;
			fclose(f);
		}
		char b[32];
		snprintf(b, sizeof(b), "%ld", n + 1);
		sysfs_write("/proc/sys/vm/nr_hugepages", b);
	}
	if (p == MAP_FAILED)
		die(2, "no 2 MiB hugetlb page: %s", strerror(errno));
	if (mlock(p, ARENA_SIZE))
		die(2, "mlock: %s", strerror(errno));
	memset(p, 0, ARENA_SIZE);
	int fd = open("/proc/self/pagemap", O_RDONLY);
	if (fd < 0)
		die(2, "/proc/self/pagemap: %s", strerror(errno));
	uint64_t first = 0;
	for (size_t i = 0; i < ARENA_SIZE / 4096; i++) {
		uint64_t e;
		off_t at = ((uintptr_t)p / 4096 + i) * 8;
		if (pread(fd, &e, 8, at) != 8)
			die(2, "pagemap read: %s", strerror(errno));
		uint64_t pfn = e & ((1ull << 55) - 1);
		if (!(e >> 63) || !pfn)
			die(2, "pagemap shows no frame for the arena (need root)");
		if (i == 0)
			first = pfn;
		else if (pfn != first + i)
			die(2, "arena not physically contiguous");
	}
	close(fd);
	arena.va = p;
	arena.pa = first * 4096;
}

static void *va_of(uint64_t pa) { return arena.va + (pa - arena.pa); }

/* [a, a+len) inside arena[lo, hi) */
static int in_zone(uint64_t a, uint64_t len, uint64_t lo, uint64_t hi)
{
	return a >= arena.pa + lo && a <= arena.pa + hi && len <= arena.pa + hi - a;
}

/* Addresses the device must refuse: past RAM, in MMIO, wrapping the address space. */
static uint64_t addr_outside(void)
{
	uint64_t a;
	do {
		switch (below(9)) {
		case 0: a = ram_end; break;
		case 1: a = ram_end + below(1 << 20) * 16; break;
		case 2: a = 1ull << (33 + below(20)); break;
		case 3: a = 0xfee00000; break; /* the local APIC */
		case 4: a = d.bar_pa[4] ? d.bar_pa[4] + below(0x4000) : ram_end; break;
		case 5: a = d.bar_pa[1] ? d.bar_pa[1] : ram_end; break;
		case 6: a = ~0ull - below(64); break; /* wraps with any length */
		case 7: a = 0xfffffffffffff000ull; break;
		default: a = rnd() | (1ull << 62); break;
		}
	} while (in_ram(a, 1));
	return a;
}

enum role { R_DESC, R_WRITE, R_READ };
/* An address for something the device reads as descriptors (R_DESC), writes (R_WRITE: used
 * rings, writable buffers) or only reads (R_READ: avail rings, TX data), with room for len
 * bytes inside the arena, or (pct_out percent of the time) one outside RAM. */
static uint64_t addr_for(enum role r, uint32_t len, unsigned align, unsigned pct_out)
{
	if (chance(pct_out))
		return addr_outside();
	uint64_t lo = r == R_WRITE ? DESC_ZONE : 0;
	uint64_t hi = r == R_DESC ? RING_ZONE : r == R_WRITE ? WRITE_END : ARENA_SIZE;
	if (len > hi - lo)
		len = hi - lo;
	uint64_t off = lo + below(hi - lo - len + 1);
	if (align > 1)
		off &= ~(uint64_t)(align - 1);
	if (off < lo)
		off = lo;
	return arena.pa + off;
}

/* --- the device --- */

static uint8_t status_rd(void)
{
	uint8_t s = common_rd(CC(device_status), 1);
	if (s & VIRTIO_CONFIG_S_NEEDS_RESET)
		st.needs_reset_seen++;
	return s;
}

/* 4.1.4.3.1: write 0, then wait until it reads 0. */
static int device_reset(void)
{
	st.resets++;
	common_wr(CC(device_status), 1, 0);
	uint64_t end = now_ns() + RESET_WAIT_NS;
	while (status_rd() != 0) {
		if (now_ns() > end) {
			st.reset_timeouts++;
			return -1;
		}
		usleep(1000);
	}
	return 0;
}

/* Restores the command register (memory decoding, bus master) for this program's own use. */
static void decode_on(void)
{
	uint16_t c = cfg_read(PCI_COMMAND, 2);
	if ((c & (PCI_CMD_MEM | PCI_CMD_MASTER)) != (PCI_CMD_MEM | PCI_CMD_MASTER))
		cfg_write(PCI_COMMAND, 2, c | PCI_CMD_MEM | PCI_CMD_MASTER);
}

static volatile uint8_t *bar_map(int bar)
{
	if (d.bar[bar])
		return d.bar[bar];
	char path[300];
	snprintf(path, sizeof(path), "%s/resource%d", d.sys, bar);
	int fd = open(path, O_RDWR | O_SYNC);
	if (fd < 0)
		die(2, "%s: %s", path, strerror(errno));
	struct stat sb;
	fstat(fd, &sb);
	void *p = mmap(NULL, sb.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		die(2, "mmap %s: %s", path, strerror(errno));
	close(fd);
	d.bar[bar] = p;
	d.bar_len[bar] = sb.st_size;
	/* resource: one "start end flags" line per BAR */
	snprintf(path, sizeof(path), "%s/resource", d.sys);
	FILE *f = fopen(path, "r");
	char line[128];
	for (int i = 0; f && fgets(line, sizeof(line), f); i++)
		if (i == bar)
			d.bar_pa[bar] = strtoull(line, NULL, 16);
	if (f)
		fclose(f);
	return p;
}

static struct win win_of(int bar, uint32_t off, uint32_t len)
{
	volatile uint8_t *b = bar_map(bar);
	if (off >= d.bar_len[bar] || len > d.bar_len[bar] - off)
		die(2, "capability window %u+%u outside BAR %d", off, len, bar);
	return (struct win){b + off, len};
}

static void caps_find(void)
{
	unsigned at = cfg_read(PCI_CAP_PTR, 1) & ~3u;
	for (int n = 0; at && n < 48; n++) {
		uint8_t id = cfg_read(at, 1);
		if (id == PCI_CAP_ID_MSIX) {
			d.msix_cap = at;
			d.msix_n = (cfg_read(at + 2, 2) & 0x7ff) + 1;
			uint32_t t = cfg_read(at + 4, 4), p = cfg_read(at + 8, 4);
			d.msix_table = win_of(t & 7, t & ~7u, d.msix_n * 16);
			d.msix_pba = win_of(p & 7, p & ~7u, ((d.msix_n + 63) / 64) * 8);
		} else if (id == PCI_CAP_ID_VNDR) {
			uint8_t type = cfg_read(at + 3, 1), bar = cfg_read(at + 4, 1);
			uint32_t off = cfg_read(at + 8, 4), len = cfg_read(at + 12, 4);
			switch (type) {
			case VIRTIO_PCI_CAP_COMMON_CFG: d.common = win_of(bar, off, len); break;
			case VIRTIO_PCI_CAP_ISR_CFG: d.isr = win_of(bar, off, len); break;
			case VIRTIO_PCI_CAP_DEVICE_CFG: d.devcfg = win_of(bar, off, len); break;
			case VIRTIO_PCI_CAP_NOTIFY_CFG:
				d.notify = win_of(bar, off, len);
				d.notify_mult = cfg_read(at + 16, 4);
				break;
			case VIRTIO_PCI_CAP_PCI_CFG: d.pcicfg_cap = at; break;
			}
		}
		at = cfg_read(at + 1, 1) & ~3u;
	}
	if (!d.common.p || !d.notify.p || !d.isr.p || d.common.len < sizeof(struct virtio_pci_common_cfg))
		die(2, "%s: not a modern virtio-pci device", d.bdf);
}

static void device_probe(void)
{
	if (device_reset())
		die(1, "the device did not reset before the attack");
	d.num_queues = common_rd(CC(num_queues), 2);
	if (d.num_queues > 8)
		d.num_queues = 8;
	for (unsigned q = 0; q < d.num_queues; q++) {
		common_wr(CC(queue_select), 2, q);
		d.qmax[q] = common_rd(CC(queue_size), 2);
	}
	for (unsigned s = 0; s < 2; s++) {
		common_wr(CC(device_feature_select), 4, s);
		d.offered |= common_rd(CC(device_feature), 4) << (32 * s);
	}
}

/* Keeps every MSI-X table entry masked whatever a write did (see the top comment). */
static void msix_remask(void)
{
	for (unsigned v = 0; v < d.msix_n; v++) {
		volatile uint8_t *c = d.msix_table.p + v * 16 + 12;
		uint32_t ctl = mmio_rd(c, 4);
		if (!(ctl & 1))
			mmio_wr(c, 4, ctl | 1);
	}
}

/* A queue's ring addresses after a random write: an address the device would use in a role
 * the arena has no room for (descriptors outside the ring zone, a used ring outside the writable
 * zone, anything in the guest's own memory) is moved out of RAM. */
static void queue_sanitize(void)
{
	static const size_t f[] = {CC(queue_desc_lo), CC(queue_avail_lo), CC(queue_used_lo)};
	static const uint64_t lo[] = {0, 0, DESC_ZONE}, hi[] = {RING_ZONE, ARENA_SIZE, WRITE_END};
	for (int i = 0; i < 3; i++) {
		uint64_t a = common_rd(f[i], 4) | common_rd(f[i] + 4, 4) << 32;
		if (in_ram(a, 1) && !in_zone(a, 1, lo[i], hi[i])) {
			common_wr(f[i], 4, (uint32_t)a);
			common_wr(f[i] + 4, 4, (uint32_t)(a >> 32) | 0x40000000);
		}
	}
}

static void queues_sanitize(void)
{
	uint16_t qs = common_rd(CC(queue_select), 2);
	for (unsigned q = 0; q < d.num_queues; q++) {
		common_wr(CC(queue_select), 2, q);
		queue_sanitize();
	}
	common_wr(CC(queue_select), 2, qs);
}

/* --- round 0: garbage programming --- */

static uint64_t feature_garbage(void)
{
	switch (below(5)) {
	case 0: return ~0ull;
	case 1: return d.offered;
	case 2: return d.offered & ~(1ull << VIRTIO_F_VERSION_1);
	case 3: return rnd();
	default: return (d.offered & rnd()) | (1ull << below(64));
	}
}

static uint16_t qsize_garbage(unsigned q)
{
	static const uint16_t odd[] = {3, 0, 65535, 1, 2, 6, 0x8000};
	switch (below(4)) {
	case 0: return odd[below(sizeof(odd) / sizeof(odd[0]))];
	case 1: return q < 8 && d.qmax[q] ? d.qmax[q] * 2 : 512;
	case 2: return rnd();
	default: return q < 8 && d.qmax[q] ? d.qmax[q] >> below(4) : 16;
	}
}

static void status_garbage(void)
{
	const uint8_t A = VIRTIO_CONFIG_S_ACKNOWLEDGE, D = VIRTIO_CONFIG_S_DRIVER,
		      F = VIRTIO_CONFIG_S_FEATURES_OK, O = VIRTIO_CONFIG_S_DRIVER_OK;
	static uint8_t v[8];
	v[0] = A | D | O;	  /* DRIVER_OK without FEATURES_OK */
	v[1] = A | D | F | O;
	v[2] = O;
	v[3] = A | D | F | O | VIRTIO_CONFIG_S_NEEDS_RESET;
	v[4] = VIRTIO_CONFIG_S_FAILED;
	v[5] = A | D;		  /* clears FEATURES_OK / DRIVER_OK without a reset */
	v[6] = 0xff;
	v[7] = rnd();
	common_wr(CC(device_status), 1, v[below(8)]);
}

static void round_garbage(void)
{
	st.rounds[0]++;
	if (chance(80))
		device_reset();
	common_wr(CC(device_status), 1, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	common_wr(CC(device_status), 1, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	uint64_t f = feature_garbage();
	for (unsigned s = 0; s < 4; s++) {
		common_wr(CC(guest_feature_select), 4, s < 3 ? s : rnd());
		common_wr(CC(guest_feature), 4, f >> (32 * (s & 1)));
	}
	if (chance(60))
		common_wr(CC(device_status), 1,
			  VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK);
	status_rd();
	if (chance(30)) /* features after FEATURES_OK: must not stick */
		common_wr(CC(guest_feature), 4, rnd());
	unsigned nq = d.num_queues + 2;
	for (unsigned i = 0; i < nq; i++) {
		unsigned q = chance(90) ? i : rnd();
		common_wr(CC(queue_select), 2, q);
		uint16_t size = qsize_garbage(q);
		common_wr(CC(queue_size), 2, size);
		uint32_t span = size ? size : 1024;
		/* Misaligned rings only outside RAM: a device that accepted one in the arena would
		 * read descriptors made of halves of two, which could point anywhere. */
		common_wr(CC(queue_desc_lo), 8, chance(10) ? addr_outside() | 1 : addr_for(R_DESC, span * 16, 16, 40));
		common_wr(CC(queue_avail_lo), 8, chance(10) ? addr_outside() | 1 : addr_for(R_READ, 6 + 2 * span, 2, 30));
		common_wr(CC(queue_used_lo), 8, chance(10) ? addr_outside() | 1 : addr_for(R_WRITE, 6 + 8 * span, 4, 30));
		common_wr(CC(queue_msix_vector), 2, chance(50) ? below(d.msix_n + 2) : rnd());
		static const uint16_t en[] = {1, 1, 1, 0, 2, 0xffff};
		common_wr(CC(queue_enable), 2, en[below(6)]);
		queue_sanitize();
	}
	status_garbage();
	for (unsigned i = 0; i < 8; i++)
		kick(below(d.num_queues + 2));
	/* Reprogramming a running device: registers must stay as DRIVER_OK found them. */
	for (unsigned i = 0; i < 4; i++) {
		common_wr(CC(queue_select), 2, below(d.num_queues));
		common_wr(CC(queue_size), 2, qsize_garbage(0));
		common_wr(CC(queue_desc_lo), 4, addr_outside());
		common_wr(CC(queue_enable), 2, below(3));
		kick(below(d.num_queues));
	}
	queues_sanitize();
	status_garbage();
	for (unsigned i = 0; i < 32; i++) {
		kick(below(d.num_queues));
		mmio_rd(d.isr.p, 1);
		status_rd();
	}
}

/* --- round 1: a well-negotiated device with evil rings --- */

struct ring {
	unsigned q, size;
	uint64_t desc, avail, used; /* guest-physical */
	struct vring_desc *dv;
	struct vring_avail *av;
	uint16_t next_avail;
};

/* Writable addresses already in use this round (rings, buffers): new buffers overlap them. */
static uint64_t hot[64];
static unsigned nhot;
static void hot_add(uint64_t a)
{
	hot[nhot++ % 64] = a;
}

static uint64_t evil_indirect(int depth);

/* One descriptor as an attacker would write it; q: its queue (RX 0 wants writable buffers).
 * Whatever the fields say, the device may write only the writable zone (or outside RAM) and
 * read descriptors only from the descriptor zone (or outside RAM). */
static void evil_desc(struct vring_desc *x, unsigned idx, unsigned count, unsigned q, int depth)
{
	uint16_t wflag = q % 2 == 0 || chance(10) ? VRING_DESC_F_WRITE : 0;
	if (q == 2 && chance(50)) /* ctrl: read header, write ack */
		wflag = idx % 2 ? VRING_DESC_F_WRITE : 0;
	if (chance(10))
		wflag ^= VRING_DESC_F_WRITE; /* the wrong direction */
	uint64_t len = chance(70) ? 1 + below(2048) : chance(50) ? 0 : rnd() & 0xffffffffu;
	uint64_t a;
	switch (below(10)) {
	case 0: a = addr_outside(); break;
	case 1: a = ~0ull - below(4096); break; /* a + len wraps */
	case 2:
	case 3: a = nhot ? hot[below(nhot < 64 ? nhot : 64)] + below(64) : addr_outside(); break; /* overlaps */
	default: a = addr_for(wflag ? R_WRITE : R_READ, len > 65536 ? 65536 : len, 1, 0); break;
	}
	x->addr = a;
	x->len = len;
	x->flags = wflag;
	x->next = idx + 1;
	if (idx + 1 < count && chance(70))
		x->flags |= VRING_DESC_F_NEXT;
	switch (below(12)) {
	case 0: /* loop: back to itself or to the chain's start */
		x->flags |= VRING_DESC_F_NEXT;
		x->next = chance(50) ? idx : 0;
		break;
	case 1: /* next out of the table */
		x->flags |= VRING_DESC_F_NEXT;
		x->next = count + below(65536 - count);
		break;
	case 2:
	case 3: /* indirect, possibly nested, possibly with NEXT or WRITE (both illegal) */
		if (depth < 3) {
			x->flags = VRING_DESC_F_INDIRECT | (chance(20) ? VRING_DESC_F_NEXT : 0) |
				   (chance(20) ? VRING_DESC_F_WRITE : 0);
			unsigned n = 1 + below(32);
			x->addr = evil_indirect(depth + 1);
			switch (below(5)) {
			case 0: x->len = 0; break;
			case 1: x->len = n * 16 + 1 + below(15); break;
			case 2: x->len = chance(50) ? 0xfffffff0u : 16 * 65536u;
				x->addr = addr_outside();
				break;
			default: x->len = n * 16; break;
			}
		}
		break;
	case 4: x->flags = rnd(); x->next = rnd(); break; /* every flag bit */
	}
	if (x->flags & VRING_DESC_F_INDIRECT) {
		if (in_ram(x->addr, 1) && !in_zone(x->addr, x->len, RING_ZONE, DESC_ZONE))
			x->addr = addr_outside();
	} else if (in_ram(x->addr, 1) && !in_zone(x->addr, 1, DESC_ZONE, WRITE_END)) {
		/* Readable buffers may be anywhere in the arena; writable ones not in the tables. */
		if (!in_zone(x->addr, 1, 0, ARENA_SIZE) || (x->flags & VRING_DESC_F_WRITE))
			x->addr = addr_outside();
	}
	if (in_zone(x->addr, 1, DESC_ZONE, WRITE_END))
		hot_add(x->addr);
}

/* An indirect table (16-byte aligned, like every table: no descriptor is ever read from halves
 * of two) whose entries loop, nest and point anywhere. */
static uint64_t evil_indirect(int depth)
{
	unsigned n = 32;
	uint64_t off = RING_ZONE + below((DESC_ZONE - RING_ZONE - n * 16) / 16) * 16;
	struct vring_desc *t = va_of(arena.pa + off);
	for (unsigned i = 0; i < n; i++)
		evil_desc(&t[i], i, n, below(3), depth);
	return arena.pa + off;
}

/* A one- or two-descriptor chain of a plain kind, for rings that look almost right: the device
 * gets far into its RX/TX paths before it meets the bad entry. */
static void desc_plain(struct vring_desc *x, unsigned idx, unsigned count, unsigned q)
{
	int rx = q % 2 == 0;
	uint16_t w = rx ? VRING_DESC_F_WRITE : 0;
	uint32_t len;
	switch (below(20)) {
	case 0:
	case 1:
	case 2:
	case 3: len = 1 + below(64); break; /* tiny: a frame does not fit */
	case 4:
	case 5:
	case 6:
	case 7: w ^= VRING_DESC_F_WRITE; len = 1 + below(2048); break; /* the wrong direction */
	case 8: len = 0; break;
	default: len = rx ? 1526 + below(2600) : 12 + 14 + below(1500); break;
	}
	uint64_t a = addr_for(R_WRITE, len, 1, 5);
	x->addr = a;
	x->len = len;
	x->flags = w;
	x->next = idx + 1 < count ? idx + 1 : 0;
	if (idx + 1 < count && chance(25))
		x->flags |= VRING_DESC_F_NEXT;
	if (chance(3)) { /* a loop */
		x->flags |= VRING_DESC_F_NEXT;
		x->next = idx;
	}
	if (!rx && in_zone(a, len, DESC_ZONE, WRITE_END)) {
		/* TX: a virtio_net_hdr with garbage offload fields, then a frame of random bytes */
		uint8_t *b = va_of(a);
		for (uint32_t i = 0; i < len; i++)
			b[i] = chance(50) ? 0 : rnd();
	}
	if (in_zone(a, 1, DESC_ZONE, WRITE_END))
		hot_add(a);
}

static void ring_fill(struct ring *r)
{
	int plain = chance(50);
	for (unsigned i = 0; i < r->size; i++) {
		if (plain && chance(90))
			desc_plain(&r->dv[i], i, r->size, r->q);
		else
			evil_desc(&r->dv[i], i, r->size, r->q, 0);
	}
	unsigned n = below(r->size + 1);
	for (unsigned i = 0; i < r->size; i++)
		r->av->ring[i] = plain ? i : chance(90) ? below(r->size) : rnd();
	r->av->flags = chance(80) ? 0 : rnd();
	r->av->ring[r->size] = rnd(); /* used_event */
	switch (plain && chance(60) ? 5 : below(5)) {
	case 5: r->next_avail = r->size; break; /* every buffer on offer */
	case 0: r->next_avail = n + r->size; break; /* more than the queue holds */
	case 1: r->next_avail = 0xffff; break;
	case 2: r->next_avail = rnd(); break;
	default: r->next_avail = n; break;
	}
	__atomic_store_n(&r->av->idx, r->next_avail, __ATOMIC_RELEASE);
}

/* A descriptor changed under the device. Only the chain structure and lengths change, never the
 * address or the buffer/indirect/direction kind: the device may read the 16 bytes half before
 * and half after the change, and every mix must stay inside the rules of evil_desc(). */
static void desc_mutate(struct ring *r)
{
	struct vring_desc *x = &r->dv[below(r->size)];
	switch (below(3)) {
	case 0: x->next = chance(50) ? below(r->size) : rnd(); break;
	case 1: x->flags ^= VRING_DESC_F_NEXT; break;
	default:
		if (!(x->flags & VRING_DESC_F_INDIRECT) || !in_ram(x->addr, 1))
			x->len = chance(50) ? below(4096) : rnd();
		break;
	}
}

/* 5.1.3.1: a feature set a device accepts: what needs a feature the set lacks is dropped. */
static uint64_t features_consistent(uint64_t f)
{
#define B(x) (1ull << VIRTIO_NET_F_##x)
	static const uint64_t dep[][2] = {
	    {B(GUEST_TSO4), B(GUEST_CSUM)}, {B(GUEST_TSO6), B(GUEST_CSUM)},
	    {B(GUEST_UFO), B(GUEST_CSUM)},  {B(GUEST_ECN), B(GUEST_TSO4) | B(GUEST_TSO6)},
	    {B(HOST_TSO4), B(CSUM)},	    {B(HOST_TSO6), B(CSUM)},
	    {B(HOST_UFO), B(CSUM)},	    {B(HOST_ECN), B(HOST_TSO4) | B(HOST_TSO6)},
	    {B(CTRL_RX), B(CTRL_VQ)},	    {B(CTRL_VLAN), B(CTRL_VQ)},
	    {B(GUEST_ANNOUNCE), B(CTRL_VQ)}, {B(MQ), B(CTRL_VQ)},
	    {B(CTRL_MAC_ADDR), B(CTRL_VQ)}, {B(CTRL_GUEST_OFFLOADS), B(CTRL_VQ)},
	};
#undef B
	for (int pass = 0; pass < 3; pass++)
		for (size_t i = 0; i < sizeof(dep) / sizeof(dep[0]); i++)
			if ((f & dep[i][0]) && !(f & dep[i][1]))
				f &= ~dep[i][0];
	return f;
}

static void round_rings(void)
{
	st.rounds[1]++;
	if (device_reset())
		return;
	common_wr(CC(device_status), 1, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	uint64_t want = (d.offered & (rnd() | (1ull << VIRTIO_NET_F_MRG_RXBUF) | (1ull << VIRTIO_RING_F_INDIRECT_DESC))) |
			(1ull << VIRTIO_F_VERSION_1);
	if (chance(90))
		want = features_consistent(want);
	for (unsigned s = 0; s < 2; s++) {
		common_wr(CC(guest_feature_select), 4, s);
		common_wr(CC(guest_feature), 4, want >> (32 * s));
	}
	common_wr(CC(device_status), 1,
		  VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK);
	memset(arena.va, 0, ARENA_SIZE);
	nhot = 0;
	struct ring rings[8];
	unsigned nq = d.num_queues;
	int shared_layout = chance(20); /* avail and used rings of all queues on one spot */
	uint64_t shared = addr_for(R_WRITE, 4096, 4, 0);
	for (unsigned q = 0; q < nq; q++) {
		struct ring *r = &rings[q];
		unsigned max = d.qmax[q] && d.qmax[q] < RING_MAX ? d.qmax[q] : RING_MAX;
		r->q = q;
		r->size = max >> below(4);
		if (!r->size)
			r->size = 1;
		r->desc = arena.pa + q * (RING_MAX * 16);
		/* Avail and used rings in the writable zone: buffers may overlap them. */
		r->avail = shared_layout ? shared : addr_for(R_WRITE, 6 + 2 * r->size, 2, 0);
		r->used = shared_layout && chance(50) ? shared : addr_for(R_WRITE, 6 + 8 * r->size, 4, 0);
		hot_add(r->avail);
		hot_add(r->used);
		r->dv = va_of(r->desc);
		r->av = va_of(r->avail);
		common_wr(CC(queue_select), 2, q);
		common_wr(CC(queue_size), 2, r->size);
		common_wr(CC(queue_desc_lo), 8, r->desc);
		common_wr(CC(queue_avail_lo), 8, r->avail);
		common_wr(CC(queue_used_lo), 8, r->used);
		common_wr(CC(queue_msix_vector), 2, chance(50) ? VIRTIO_MSI_NO_VECTOR : below(d.msix_n));
	}
	for (unsigned q = 0; q < nq; q++)
		ring_fill(&rings[q]);
	for (unsigned q = 0; q < nq; q++) {
		common_wr(CC(queue_select), 2, q);
		common_wr(CC(queue_enable), 2, chance(95) ? 1 : 0);
	}
	common_wr(CC(device_status), 1,
		  VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK |
			  VIRTIO_CONFIG_S_DRIVER_OK);
	/* Run: kicks while the host's frames arrive, the rings rewritten under the device. */
	unsigned steps = 50 + below(400);
	for (unsigned i = 0; i < steps; i++) {
		struct ring *r = &rings[below(nq)];
		switch (below(10)) {
		case 0: desc_mutate(r); break;
		case 1: /* runaway avail index */
			r->next_avail += chance(50) ? 1 + below(4) : below(65536);
			__atomic_store_n(&r->av->idx, r->next_avail, __ATOMIC_RELEASE);
			break;
		case 2: r->av->ring[below(r->size)] = chance(80) ? below(r->size) : rnd(); break;
		case 3: status_rd(); break;
		case 4: mmio_rd(d.isr.p, 1); break;
		case 5:
			if (chance(5)) { /* Bus Master off under a running device, then on again */
				uint16_t c = cfg_read(PCI_COMMAND, 2);
				cfg_write(PCI_COMMAND, 2, c & ~PCI_CMD_MASTER);
				kick(r->q);
				cfg_write(PCI_COMMAND, 2, c | PCI_CMD_MASTER);
			}
			break;
		default:
			r->next_avail++;
			__atomic_store_n(&r->av->idx, r->next_avail, __ATOMIC_RELEASE);
			kick(r->q);
			break;
		}
	}
	if (chance(30))
		status_garbage(); /* e.g. DRIVER_OK cleared without a reset */
	kick(0);
	kick(1);
}

/* --- round 2: random accesses to every register window --- */

static int overlaps(volatile uint8_t *p, unsigned size, volatile uint8_t *w, size_t off, size_t len)
{
	return w && p < w + off + len && p + size > w + off;
}

static void random_access(struct win w)
{
	static const unsigned sizes[] = {1, 2, 4, 8};
	unsigned size = sizes[below(4)];
	if (w.len < size)
		size = w.len < 2 ? 1 : w.len < 4 ? 2 : 4;
	uint32_t off = below(w.len - size + 1);
	if (chance(70))
		off &= ~(size - 1);
	volatile uint8_t *p = w.p + off;
	if (chance(40)) {
		mmio_rd(p, size);
		return;
	}
	uint64_t v = chance(20) ? (chance(50) ? 0 : ~0ull) : rnd();
	/* Garbage in the MSI-X table's address and data, but never an unmask: a pending vector
	 * would be delivered at once with that garbage (an INIT or SMI to a guest CPU), the guest
	 * shooting itself, which says nothing about the VMM. */
	if (w.p == d.msix_table.p)
		for (unsigned i = 0; i < size; i++)
			if ((off + i) % 16 == 12)
				v |= 1ull << (8 * i);
	mmio_wr(p, size, v);
	if (overlaps(p, size, d.common.p, CC(queue_desc_lo), 24))
		queue_sanitize();
	if (overlaps(p, size, d.msix_table.p, 0, d.msix_table.len))
		msix_remask();
}

static void round_registers(void)
{
	st.rounds[2]++;
	unsigned n = 100 + below(400);
	for (unsigned i = 0; i < n; i++) {
		switch (below(9)) {
		case 1: random_access(d.isr); break;
		case 2: if (d.devcfg.p) random_access(d.devcfg); break;
		case 3: random_access(d.notify); break;
		case 4: if (d.msix_table.p) random_access(d.msix_table); break;
		case 5: if (d.msix_pba.p) random_access(d.msix_pba); break;
		case 6: random_access((struct win){d.bar[4], d.bar_len[4]}); break; /* gaps too */
		case 7: kick(below(d.num_queues + 1)); break;
		default: random_access(d.common); break;
		}
	}
	queues_sanitize();
}

/* --- round 3: config space --- */

/* 4.1.4.9: a BAR access through the VIRTIO_PCI_CAP_PCI_CFG window, any bar/offset/length
 * (never BAR 1: the MSI-X table stays masked). */
static void window_access(void)
{
	unsigned c = d.pcicfg_cap;
	static const uint8_t bars[] = {4, 4, 4, 0, 2, 5, 6, 0xff};
	uint32_t len = chance(80) ? 1u << below(3) : rnd();
	uint32_t o = chance(80) ? below(d.bar_len[4]) : rnd();
	size_t q0 = (d.common.p - d.bar[4]) + CC(queue_desc_lo);
	if (o + 8 > q0 && o < q0 + 24)
		o = q0 + 24 + below(8);
	cfg_write(c + 4, 1, bars[below(8)]);
	cfg_write(c + 8, 4, o);
	cfg_write(c + 12, 4, len);
	if (chance(50))
		cfg_write(c + 16, 4, rnd());
	else
		cfg_read(c + 16, 4);
}

static void round_config(void)
{
	st.rounds[3]++;
	unsigned n = 20 + below(80);
	for (unsigned i = 0; i < n; i++) {
		static const unsigned sizes[] = {1, 2, 4};
		unsigned size = sizes[below(3)];
		unsigned off = below(256) & ~(size - 1);
		uint32_t v = rnd();
		if (d.pcicfg_cap && (chance(30) || (off < d.pcicfg_cap + 20u && off + size > d.pcicfg_cap))) {
			window_access();
			continue;
		}
		if (off >= 0x10 && off < 0x28) { /* a BAR: the sizing probe, then the old value */
			off &= ~3u;
			uint32_t old = cfg_read(off, 4);
			cfg_write(off, 4, 0xffffffff);
			cfg_read(off, 4);
			cfg_write(off, 4, old);
			continue;
		}
		if (off >= 0x30 && off < 0x34) /* expansion ROM */
			continue;
		if (d.msix_cap) { /* MSI-X may be enabled, never unmasked */
			unsigned hi = d.msix_cap + 3u; /* the control word's high byte */
			if (off <= hi && off + size > hi)
				v |= 0x40u << (8 * (hi - off));
		}
		cfg_write(off, size, v);
	}
	decode_on();
	queues_sanitize();
	msix_remask();
}

/* --- setup and teardown --- */

static void unbind(void)
{
	char path[300], link[300];
	snprintf(path, sizeof(path), "%s/driver", d.sys);
	ssize_t n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return;
	link[n] = 0;
	snprintf(path, sizeof(path), "%s/driver/unbind", d.sys);
	int e = sysfs_write(path, d.bdf);
	if (e)
		die(2, "unbind %s: %s", d.bdf, strerror(-e));
}

static int rebind(void)
{
	int e = sysfs_write("/sys/bus/pci/drivers/virtio-pci/bind", d.bdf);
	if (e) {
		fprintf(stderr, "hostile: bind %s to virtio-pci: %s\n", d.bdf, strerror(-e));
		return -1;
	}
	return 0;
}

/* Everything this program changed in config space back as the kernel left it. */
static void config_restore(void)
{
	cfg_write(0x3c, 1, d.cfg0[0x3c]);
	if (d.pcicfg_cap)
		for (unsigned o = 4; o < 20; o += 4)
			cfg_write(d.pcicfg_cap + o, 4, 0);
	if (d.msix_cap) {
		uint16_t ctl;
		memcpy(&ctl, &d.cfg0[d.msix_cap + 2], 2);
		cfg_write(d.msix_cap + 2, 2, ctl & ~(MSIX_CTRL_ENABLE));
	}
	uint16_t cmd;
	memcpy(&cmd, &d.cfg0[PCI_COMMAND], 2);
	cfg_write(PCI_COMMAND, 2, cmd | PCI_CMD_MEM | PCI_CMD_MASTER);
}

int main(int argc, char **argv)
{
	uint64_t seed = 1;
	unsigned long rounds = ULONG_MAX;
	double secs = 20;
	int opt;
	while ((opt = getopt(argc, argv, "s:r:t:")) != -1) {
		switch (opt) {
		case 's': seed = strtoull(optarg, NULL, 0); break;
		case 'r': rounds = strtoul(optarg, NULL, 0); break;
		case 't': secs = strtod(optarg, NULL); break;
		default: die(2, "usage: hostile [-s SEED] [-r ROUNDS] [-t SECONDS] BDF");
		}
	}
	if (optind != argc - 1)
		die(2, "usage: hostile [-s SEED] [-r ROUNDS] [-t SECONDS] BDF");
	rng_state = seed;
	snprintf(d.bdf, sizeof(d.bdf), "%s", argv[optind]);
	snprintf(d.sys, sizeof(d.sys), "/sys/bus/pci/devices/%s", d.bdf);
	char path[300];
	snprintf(path, sizeof(path), "%s/config", d.sys);
	/* Unbuffered, so a hang shows how far it got on the console. */
	setvbuf(stdout, NULL, _IONBF, 0);

	ram_map();
	arena_setup();
	unbind();
	d.cfg_fd = open(path, O_RDWR);
	if (d.cfg_fd < 0)
		die(2, "%s: %s", path, strerror(errno));
	if (pread(d.cfg_fd, d.cfg0, sizeof(d.cfg0), 0) != sizeof(d.cfg0))
		die(2, "%s: short read (not root?)", path);
	decode_on();
	caps_find();
	device_probe();
	printf("hostile: %s seed %" PRIu64 ": %u queues (max %u), features %#" PRIx64 ", %u MSI-X vectors, "
	       "arena at %#" PRIx64 ", RAM ends at %#" PRIx64 "\n",
	       d.bdf, seed, d.num_queues, d.qmax[0], d.offered, d.msix_n, arena.pa, ram_end);
	msix_remask();

	uint64_t end = now_ns() + (uint64_t)(secs * 1e9);
	unsigned long r;
	for (r = 0; r < rounds && now_ns() < end; r++) {
		switch (below(10)) {
		case 0:
		case 1:
		case 2: round_garbage(); break;
		case 3:
		case 4:
		case 5:
		case 6: round_rings(); break;
		case 7:
		case 8: round_registers(); break;
		default: round_config(); break;
		}
		decode_on();
		if (r % 50 == 49)
			printf("hostile: %lu rounds\n", r + 1);
	}

	int rc = 0;
	config_restore();
	msix_remask();
	if (device_reset()) {
		printf("hostile: FAIL the device did not reset within %llu s (status %#x)\n",
		       RESET_WAIT_NS / 1000000000ull, status_rd());
		rc = 1;
	}
	printf("hostile: %lu rounds (garbage %lu, rings %lu, registers %lu, config %lu), %lu MMIO accesses, "
	       "%lu kicks, %lu config writes, %lu resets (%lu timed out), NEEDS_RESET seen %lu times\n",
	       r, st.rounds[0], st.rounds[1], st.rounds[2], st.rounds[3], st.accesses, st.kicks, st.cfg_writes,
	       st.resets, st.reset_timeouts, st.needs_reset_seen);
	if (rc == 0 && rebind())
		rc = 1;
	/* The arena stays in the hugetlb pool; the device was reset, so nothing writes it any more. */
	return rc;
}
