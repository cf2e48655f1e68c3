/* fake_ring.c: the driver's side of a split virtqueue over fake guest memory (see fake_ring.h). */
#include "tests/unit/fake_ring.h"

#include <check.h>
#include <endian.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ALIGN_UP(x, a) (((x) + (a) - 1) & ~((uint64_t)(a) - 1))

void fake_ring_init(struct fake_ring *fr, uint16_t size, uint64_t data_bytes)
{
	memset(fr, 0, sizeof(*fr));
	fr->size = size;
	fr->desc_gpa = 0;
	fr->avail_gpa = 16ULL * size;
	fr->data_gpa = ALIGN_UP(fr->avail_gpa + 6 + 2ULL * size, 16);
	fr->data_end = fr->data_gpa + data_bytes;
	fr->data_next = fr->data_gpa;
	fr->used_gpa = ALIGN_UP(fr->data_end, 4);
	fr->mem_size = fr->used_gpa + 6 + 8ULL * size;
	fr->buf = calloc(1, fr->mem_size);
	ck_assert_msg(fr->buf, "fake_ring: out of memory");
	guest_mem_fake(&fr->mem, fr->buf, fr->mem_size);
}

void fake_ring_init_within(struct fake_ring *in, struct fake_ring *fr, uint16_t size, uint64_t data_bytes)
{
	/* The same layout as fake_ring_init(), placed at a fresh part of fr's data area. */
	uint64_t avail = 16ULL * size, data = ALIGN_UP(avail + 6 + 2ULL * size, 16);
	uint64_t used = ALIGN_UP(data + data_bytes, 4), len = used + 6 + 8ULL * size;
	uint64_t base = fake_ring_alloc(fr, len, NULL);
	memset(in, 0, sizeof(*in));
	in->buf = fr->buf;
	in->mem_size = fr->mem_size;
	in->mem = fr->mem;
	in->size = size;
	in->desc_gpa = base;
	in->avail_gpa = base + avail;
	in->data_gpa = in->data_next = base + data;
	in->data_end = base + data + data_bytes;
	in->used_gpa = base + used;
}

void fake_ring_free(struct fake_ring *fr)
{
	free(fr->buf);
	memset(fr, 0, sizeof(*fr));
}

int fake_ring_attach(struct fake_ring *fr, struct virtq *vq, uint64_t features)
{
	return virtq_init(vq, &fr->mem, fr->size, fr->desc_gpa, fr->avail_gpa, fr->used_gpa,
			  features);
}

void *fake_ring_host(struct fake_ring *fr, uint64_t gpa, uint64_t len)
{
	void *p = guest_ptr(&fr->mem, gpa, len);
	ck_assert_msg(p, "fake_ring: gpa 0x%llx+%llu outside fake memory", (unsigned long long)gpa,
		      (unsigned long long)len);
	return p;
}

uint64_t fake_ring_alloc(struct fake_ring *fr, uint64_t len, const void *init)
{
	uint64_t gpa = fr->data_next;
	ck_assert_msg(len <= fr->data_end - gpa, "fake_ring: data area full (%llu bytes wanted)",
		      (unsigned long long)len);
	fr->data_next = ALIGN_UP(gpa + len, 16);
	if (fr->data_next > fr->data_end)
		fr->data_next = fr->data_end;
	if (len) {
		uint8_t *p = fake_ring_host(fr, gpa, len);
		if (init)
			memcpy(p, init, len);
		else
			memset(p, 0, len);
	}
	return gpa;
}

static void seg_place(struct fake_ring *fr, struct fake_seg *s)
{
	if (!s->gpa)
		s->gpa = fake_ring_alloc(fr, s->len, s->in ? NULL : s->data);
}

static void desc_write(void *p, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	struct vring_desc d = {
		.addr = htole64(addr),
		.len = htole32(len),
		.flags = htole16(flags),
		.next = htole16(next),
	};
	memcpy(p, &d, sizeof(d));
}

void fake_ring_set_desc(struct fake_ring *fr, uint16_t i, uint64_t addr, uint32_t len,
			uint16_t flags, uint16_t next)
{
	ck_assert_msg(i < fr->size, "fake_ring: descriptor %u >= size", i);
	desc_write(fr->buf + fr->desc_gpa + 16ULL * i, addr, len, flags, next);
}

void fake_ring_set_table_desc(struct fake_ring *fr, uint64_t table_gpa, uint16_t i, uint64_t addr,
			      uint32_t len, uint16_t flags, uint16_t next)
{
	desc_write(fake_ring_host(fr, table_gpa + 16ULL * i, 16), addr, len, flags, next);
}

uint16_t fake_ring_add_chain(struct fake_ring *fr, struct fake_seg *segs, unsigned n)
{
	ck_assert_msg(n > 0 && n <= fr->size, "fake_ring: chain of %u in a ring of %u", n,
		      fr->size);
	uint16_t head = fr->next_desc, i = head;
	for (unsigned k = 0; k < n; k++) {
		uint16_t next = (i + 1) % fr->size;
		seg_place(fr, &segs[k]);
		fake_ring_set_desc(fr, i, segs[k].gpa, segs[k].len,
				   (segs[k].in ? VRING_DESC_F_WRITE : 0) |
					   (k + 1 < n ? VRING_DESC_F_NEXT : 0),
				   k + 1 < n ? next : 0);
		i = next;
	}
	fr->next_desc = i;
	return head;
}

uint16_t fake_ring_add_indirect(struct fake_ring *fr, struct fake_seg *segs, unsigned n,
				uint64_t *table_gpa)
{
	ck_assert_msg(n > 0, "fake_ring: empty indirect table");
	uint64_t table = fake_ring_alloc(fr, 16ULL * n, NULL);
	for (unsigned k = 0; k < n; k++) {
		seg_place(fr, &segs[k]);
		fake_ring_set_table_desc(fr, table, k, segs[k].gpa, segs[k].len,
					 (segs[k].in ? VRING_DESC_F_WRITE : 0) |
						 (k + 1 < n ? VRING_DESC_F_NEXT : 0),
					 k + 1 < n ? k + 1 : 0);
	}
	uint16_t head = fr->next_desc;
	fake_ring_set_desc(fr, head, table, 16 * n, VRING_DESC_F_INDIRECT, 0);
	fr->next_desc = (head + 1) % fr->size;
	if (table_gpa)
		*table_gpa = table;
	return head;
}

static uint16_t *avail_field(struct fake_ring *fr, unsigned i)
{
	/* flags, idx, ring[size], used_event */
	return (uint16_t *)(fr->buf + fr->avail_gpa) + i;
}

static uint16_t *used_u16(struct fake_ring *fr, uint64_t off)
{
	return (uint16_t *)(fr->buf + fr->used_gpa + off);
}

void fake_ring_set_avail_entry(struct fake_ring *fr, uint16_t pos, uint16_t head)
{
	*avail_field(fr, 2 + pos % fr->size) = htole16(head);
}

void fake_ring_set_avail_idx(struct fake_ring *fr, uint16_t idx)
{
	fr->avail_idx = idx;
	__atomic_store_n(avail_field(fr, 1), htole16(idx), __ATOMIC_RELEASE);
}

void fake_ring_publish(struct fake_ring *fr, uint16_t head)
{
	fake_ring_set_avail_entry(fr, fr->avail_idx, head);
	fake_ring_set_avail_idx(fr, fr->avail_idx + 1);
}

uint16_t fake_ring_send(struct fake_ring *fr, struct fake_seg *segs, unsigned n)
{
	uint16_t head = fake_ring_add_chain(fr, segs, n);
	fake_ring_publish(fr, head);
	return head;
}

void fake_ring_recycle(struct fake_ring *fr)
{
	fr->next_desc = 0;
	fr->data_next = fr->data_gpa;
}

void fake_ring_set_avail_flags(struct fake_ring *fr, uint16_t flags)
{
	*avail_field(fr, 0) = htole16(flags);
}

void fake_ring_set_used_event(struct fake_ring *fr, uint16_t v)
{
	*avail_field(fr, 2 + fr->size) = htole16(v);
}

uint16_t fake_ring_used_idx(struct fake_ring *fr)
{
	return le16toh(__atomic_load_n(used_u16(fr, 2), __ATOMIC_ACQUIRE));
}

uint16_t fake_ring_used_flags(struct fake_ring *fr)
{
	return le16toh(*used_u16(fr, 0));
}

uint16_t fake_ring_avail_event(struct fake_ring *fr)
{
	return le16toh(*used_u16(fr, 4 + 8ULL * fr->size));
}

void fake_ring_used_elem(struct fake_ring *fr, uint16_t pos, uint32_t *id, uint32_t *len)
{
	struct vring_used_elem u;
	memcpy(&u, fr->buf + fr->used_gpa + 4 + 8ULL * (pos % fr->size), sizeof(u));
	*id = le32toh(u.id);
	*len = le32toh(u.len);
}

bool fake_ring_get_used(struct fake_ring *fr, uint32_t *id, uint32_t *len)
{
	if (fr->used_seen == fake_ring_used_idx(fr))
		return false;
	fake_ring_used_elem(fr, fr->used_seen++, id, len);
	return true;
}

void fake_ring_warp(struct fake_ring *fr, struct virtq *vq, uint16_t idx)
{
	fake_ring_set_avail_idx(fr, idx);
	*used_u16(fr, 2) = htole16(idx);
	fr->used_seen = idx;
	vq->last_avail = vq->shadow_avail = idx;
	vq->used_idx = idx;
	vq->signalled_used = idx;
}

bool fake_ring_wait_used(struct fake_ring *fr, uint16_t idx)
{
	for (int i = 0; i < 2000; i++) {
		if (fake_ring_used_idx(fr) == idx)
			return true;
		usleep(1000);
	}
	return false;
}
