/* fuzz_ring.c: chains from fuzz input (fuzz_ring.h). */
#include "tests/fuzz/fuzz_ring.h"

#include <endian.h>
#include <linux/virtio_ring.h>
#include <string.h>

void fuzz_ring_place(struct fuzz_ring *r, struct fuzz_mem *fm, uint16_t size, uint64_t desc, uint64_t avail,
		     uint64_t used, uint64_t data_lo, uint64_t data_hi)
{
	*r = (struct fuzz_ring){.fm = fm,
				.size = size,
				.desc = desc,
				.avail = avail,
				.used = used,
				.data_lo = data_lo,
				.data_hi = data_hi,
				.data_next = data_lo};
}

/* Host pointer for the driver's own writes; NULL when the ring lies outside memory. */
static void *at(struct fuzz_ring *r, uint64_t gpa, uint64_t len)
{
	if (gpa > r->fm->size || len > r->fm->size - gpa)
		return NULL;
	return r->fm->base + gpa;
}

static uint16_t le16_get(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return le16toh(v);
}

static void le16_put(uint8_t *p, uint16_t v)
{
	v = htole16(v);
	memcpy(p, &v, 2);
}

static void desc_put(void *p, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	struct vring_desc d = {htole64(addr), htole32(len), htole16(flags), htole16(next)};
	memcpy(p, &d, sizeof(d));
}

/* Reads one descriptor's program; table is the gpa of its indirect table if it has one. */
static void desc_read(struct fuzz_ring *r, struct fuzz_in *in, uint8_t *f, uint64_t *addr, uint32_t *len,
		      uint16_t *next, uint64_t *table, uint16_t *table_n)
{
	uint64_t span = r->data_hi - r->data_lo;
	*f = fuzz_u8(in);
	*len = fuzz_u16(in);
	*addr = r->data_lo + fuzz_u16(in) % span;
	*next = *f & FUZZ_DESC_RAW_NEXT ? fuzz_u16(in) : 0;
	if (*f & FUZZ_DESC_RAW_ADDR)
		*addr = fuzz_u64(in);
	else if (!(*f & FUZZ_DESC_RAW_LEN))
		*len %= r->data_hi - *addr + 1;
	*table = 0;
	*table_n = 0;
	if (*f & FUZZ_DESC_INDIRECT) {
		*table_n = 1 + *len % 8;
		if (r->data_next + 16ULL * *table_n > r->data_hi)
			r->data_next = r->data_lo;
		*table = r->data_next;
		r->data_next += 16ULL * *table_n;
		if (!(*f & (FUZZ_DESC_RAW_ADDR | FUZZ_DESC_RAW_LEN))) {
			*addr = *table;
			*len = 16 * *table_n;
		}
	}
}

static uint16_t vring_flags(uint8_t f, int more)
{
	return (f & FUZZ_DESC_WRITE ? VRING_DESC_F_WRITE : 0) |
	       (f & FUZZ_DESC_INDIRECT ? VRING_DESC_F_INDIRECT : 0) | (more ? VRING_DESC_F_NEXT : 0);
}

static void table_build(struct fuzz_ring *r, struct fuzz_in *in, uint64_t table, uint16_t n)
{
	for (uint16_t k = 0; k < n; k++) {
		uint8_t f;
		uint64_t addr, sub;
		uint32_t len;
		uint16_t next, sub_n;
		desc_read(r, in, &f, &addr, &len, &next, &sub, &sub_n);
		/* Nested tables are not built (the device must refuse them anyway); the flag stays. */
		int more = f & FUZZ_DESC_RAW_NEXT ? 1 : (k + 1 < n && !(f & FUZZ_DESC_STOP));
		void *p = at(r, table + 16ULL * k, 16);
		if (p)
			desc_put(p, addr, len, vring_flags(f, more), f & FUZZ_DESC_RAW_NEXT ? next : k + 1);
	}
}

void fuzz_ring_chain(struct fuzz_ring *r, struct fuzz_in *in)
{
	unsigned n = 1 + fuzz_u8(in) % 8;
	if (!r->size || !at(r, r->desc, 16ULL * r->size) || !at(r, r->avail, 6 + 2ULL * r->size))
		return;
	uint16_t head = r->cursor % r->size;
	for (unsigned k = 0; k < n; k++) {
		uint8_t f;
		uint64_t addr, table;
		uint32_t len;
		uint16_t next, table_n;
		desc_read(r, in, &f, &addr, &len, &next, &table, &table_n);
		uint16_t i = r->cursor++ % r->size;
		int more = f & FUZZ_DESC_RAW_NEXT ? 1 : (k + 1 < n && !(f & FUZZ_DESC_STOP));
		if (!(f & FUZZ_DESC_RAW_NEXT))
			next = r->cursor % r->size;
		desc_put(r->fm->base + r->desc + 16ULL * i, addr, len, vring_flags(f, more), next);
		if (table_n)
			table_build(r, in, table, table_n);
		if (!more)
			break;
	}
	uint8_t *a = r->fm->base + r->avail;
	uint16_t idx = le16_get(a + 2);
	le16_put(a + 4 + 2 * (idx % r->size), head);
	/* One thread: the device only looks between steps, so no barrier is needed here. */
	le16_put(a + 2, idx + 1);
}

void fuzz_ring_avail_add(struct fuzz_ring *r, uint16_t delta)
{
	uint8_t *a = at(r, r->avail, 4);
	if (!a)
		return;
	le16_put(a + 2, le16_get(a + 2) + delta);
}
