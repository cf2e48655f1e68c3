/* fuzz_ring.c: chains from fuzz input (fuzz_ring.h). */
#include "tests/fuzz/fuzz_ring.h"

#include <endian.h>
#include <stdbool.h>
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

/* One descriptor of a chain program, decoded. */
struct desc_prog {
	uint8_t f; /* FUZZ_DESC_* */
	uint64_t addr;
	uint32_t len;
	uint16_t next;
	bool more;	  /* VRING_DESC_F_NEXT */
	uint64_t table;	  /* gpa of its indirect table, if it has one */
	uint16_t table_n; /* entries of that table, 0 if none */
};

/* Reads descriptor k of n of a chain or table; its next is `next` unless the program says. */
static void desc_read(struct fuzz_ring *r, struct fuzz_in *in, struct desc_prog *d, unsigned k, unsigned n,
		      uint16_t next)
{
	uint64_t span = r->data_hi - r->data_lo;
	d->f = fuzz_u8(in);
	d->len = fuzz_u16(in);
	d->addr = r->data_lo + fuzz_u16(in) % span;
	d->next = d->f & FUZZ_DESC_RAW_NEXT ? fuzz_u16(in) : next;
	d->more = d->f & FUZZ_DESC_RAW_NEXT ? true : k + 1 < n && !(d->f & FUZZ_DESC_STOP);
	if (d->f & FUZZ_DESC_RAW_ADDR)
		d->addr = fuzz_u64(in);
	else if (!(d->f & FUZZ_DESC_RAW_LEN))
		d->len %= r->data_hi - d->addr + 1;
	d->table = 0;
	d->table_n = 0;
	if (d->f & FUZZ_DESC_INDIRECT) {
		d->table_n = 1 + d->len % 8;
		if (r->data_next + 16ULL * d->table_n > r->data_hi)
			r->data_next = r->data_lo;
		d->table = r->data_next;
		r->data_next += 16ULL * d->table_n;
		if (!(d->f & (FUZZ_DESC_RAW_ADDR | FUZZ_DESC_RAW_LEN))) {
			d->addr = d->table;
			d->len = 16 * d->table_n;
		}
	}
}

static void desc_write(void *p, const struct desc_prog *d)
{
	uint16_t flags = (d->f & FUZZ_DESC_WRITE ? VRING_DESC_F_WRITE : 0) |
			 (d->f & FUZZ_DESC_INDIRECT ? VRING_DESC_F_INDIRECT : 0) |
			 (d->more ? VRING_DESC_F_NEXT : 0);
	struct vring_desc v = {htole64(d->addr), htole32(d->len), htole16(flags), htole16(d->next)};
	memcpy(p, &v, sizeof(v));
}

static void table_build(struct fuzz_ring *r, struct fuzz_in *in, uint64_t table, uint16_t n)
{
	for (uint16_t k = 0; k < n; k++) {
		struct desc_prog d;
		desc_read(r, in, &d, k, n, k + 1);
		/* Nested tables are not built (the device must refuse them anyway); the flag stays. */
		void *p = at(r, table + 16ULL * k, 16);
		if (p)
			desc_write(p, &d);
	}
}

void fuzz_ring_chain(struct fuzz_ring *r, struct fuzz_in *in)
{
	unsigned n = 1 + fuzz_u8(in) % 8;
	if (!r->size || !at(r, r->desc, 16ULL * r->size) || !at(r, r->avail, 6 + 2ULL * r->size))
		return;
	uint16_t head = r->cursor % r->size;
	for (unsigned k = 0; k < n; k++) {
		struct desc_prog d;
		uint16_t i = r->cursor++ % r->size;
		desc_read(r, in, &d, k, n, r->cursor % r->size);
		desc_write(r->fm->base + r->desc + 16ULL * i, &d);
		if (d.table_n)
			table_build(r, in, d.table, d.table_n);
		if (!d.more)
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
