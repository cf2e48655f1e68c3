/* guest_mem.c: guest RAM and the checked guest-physical -> host translation. */
#include "vmm/guest_mem.h"

#include <errno.h>
#include <string.h>
#include <stdint.h>
#include <sys/mman.h>

#include "firmware/layout.h"

/* THP backs a 2 MiB page only where host and guest address agree modulo 2 MiB; the regions'
 * guest addresses (0 and 4 GiB) are aligned, so the host mapping must start aligned too. */
#define GUEST_MEM_ALIGN (2ULL << 20)

/* size bytes of anonymous memory at a GUEST_MEM_ALIGN boundary: map more, trim both ends. */
static void *map_aligned(uint64_t size)
{
	uint64_t len = size + GUEST_MEM_ALIGN;
	uint8_t *raw = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (raw == MAP_FAILED)
		return MAP_FAILED;
	uint8_t *p = (uint8_t *)(((uintptr_t)raw + GUEST_MEM_ALIGN - 1) & ~(uintptr_t)(GUEST_MEM_ALIGN - 1));
	if (p > raw)
		munmap(raw, p - raw);
	if (raw + len > p + size)
		munmap(p + size, raw + len - (p + size));
	return p;
}

int guest_mem_init(struct guest_mem *m, uint64_t ram_size)
{
	memset(m, 0, sizeof(*m));
	void *p = map_aligned(ram_size);
	if (p == MAP_FAILED)
		return -errno;
	/* Guest RAM is mostly idle pages: let THP back it and keep it out of core dumps. */
	madvise(p, ram_size, MADV_HUGEPAGE);
	madvise(p, ram_size, MADV_DONTDUMP);
	m->map = p;
	m->map_len = ram_size;
	m->ram_size = ram_size;
	uint64_t low = ram_size < LAYOUT_PCI_HOLE ? ram_size : LAYOUT_PCI_HOLE;
	m->r[0] = (struct guest_region){ .gpa = 0, .size = low, .hva = p };
	m->nr = 1;
	if (ram_size > low) {
		m->r[1] = (struct guest_region){ .gpa = LAYOUT_HIGH_RAM, .size = ram_size - low, .hva = (uint8_t *)p + low };
		m->nr = 2;
	}
	return 0;
}

void guest_mem_free(struct guest_mem *m)
{
	if (m->map)
		munmap(m->map, m->map_len);
	memset(m, 0, sizeof(*m));
}

void guest_mem_fake(struct guest_mem *m, void *buf, uint64_t size)
{
	memset(m, 0, sizeof(*m));
	m->r[0] = (struct guest_region){ .gpa = 0, .size = size, .hva = buf };
	m->nr = 1;
	m->ram_size = size;
}

void *guest_ptr(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	if (len == 0)
		len = 1;
	for (int i = 0; i < m->nr; i++) {
		const struct guest_region *r = &m->r[i];
		/* Written so that no sum can overflow: gpa - r->gpa only after gpa >= r->gpa. */
		if (gpa < r->gpa || gpa - r->gpa >= r->size)
			continue;
		if (len > r->size - (gpa - r->gpa))
			return NULL;
		return r->hva + (gpa - r->gpa);
	}
	return NULL;
}

int guest_read(const struct guest_mem *m, uint64_t gpa, void *dst, uint64_t len)
{
	void *p = guest_ptr(m, gpa, len);
	if (!p)
		return -EFAULT;
	memcpy(dst, p, len);
	return 0;
}

int guest_write(const struct guest_mem *m, uint64_t gpa, const void *src, uint64_t len)
{
	void *p = guest_ptr(m, gpa, len);
	if (!p)
		return -EFAULT;
	memcpy(p, src, len);
	return 0;
}
