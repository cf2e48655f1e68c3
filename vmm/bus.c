/* bus.c: PIO/MMIO ranges in sorted arrays, looked up by binary search under a read lock. */
#include "vmm/bus.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct bus_range {
	uint64_t base, len;
	bus_io_fn fn;
	void *opaque;
};

struct bus {
	struct bus_range *r;
	int nr, cap;
};

static struct bus buses[2];
static pthread_rwlock_t bus_lock = PTHREAD_RWLOCK_INITIALIZER;

int bus_register(enum bus_kind kind, uint64_t base, uint64_t len, bus_io_fn fn, void *opaque)
{
	struct bus *b = &buses[kind];
	if (len == 0 || base + len < base)
		return -EINVAL;
	pthread_rwlock_wrlock(&bus_lock);
	int i = 0;
	while (i < b->nr && b->r[i].base < base)
		i++;
	/* Overlap with the neighbours on either side. */
	if ((i > 0 && b->r[i - 1].base + b->r[i - 1].len > base) || (i < b->nr && base + len > b->r[i].base)) {
		pthread_rwlock_unlock(&bus_lock);
		return -EEXIST;
	}
	if (b->nr == b->cap) {
		int cap = b->cap ? b->cap * 2 : 16;
		struct bus_range *n = realloc(b->r, cap * sizeof(*n));
		if (!n) {
			pthread_rwlock_unlock(&bus_lock);
			return -ENOMEM;
		}
		b->r = n;
		b->cap = cap;
	}
	memmove(&b->r[i + 1], &b->r[i], (b->nr - i) * sizeof(*b->r));
	b->r[i] = (struct bus_range){ base, len, fn, opaque };
	b->nr++;
	pthread_rwlock_unlock(&bus_lock);
	return 0;
}

int bus_unregister(enum bus_kind kind, uint64_t base)
{
	struct bus *b = &buses[kind];
	int ret = -ENOENT;
	pthread_rwlock_wrlock(&bus_lock);
	for (int i = 0; i < b->nr; i++) {
		if (b->r[i].base == base) {
			memmove(&b->r[i], &b->r[i + 1], (b->nr - i - 1) * sizeof(*b->r));
			b->nr--;
			ret = 0;
			break;
		}
	}
	pthread_rwlock_unlock(&bus_lock);
	return ret;
}

bool bus_access(enum bus_kind kind, uint64_t addr, uint8_t *data, uint32_t len, bool is_write)
{
	struct bus *b = &buses[kind];
	struct bus_range hit = { 0 };
	pthread_rwlock_rdlock(&bus_lock);
	int lo = 0, hi = b->nr - 1;
	while (lo <= hi) {
		int mid = (lo + hi) / 2;
		struct bus_range *r = &b->r[mid];
		if (addr < r->base)
			hi = mid - 1;
		else if (addr - r->base >= r->len)
			lo = mid + 1;
		else {
			hit = *r;
			break;
		}
	}
	pthread_rwlock_unlock(&bus_lock);
	/* Called without the lock held: a handler may itself (un)register ranges (BAR moves). */
	if (hit.fn) {
		hit.fn(hit.opaque, addr - hit.base, data, len, is_write);
		return true;
	}
	if (!is_write)
		memset(data, 0xff, len);
	return false;
}

void bus_reset(void)
{
	pthread_rwlock_wrlock(&bus_lock);
	for (int k = 0; k < 2; k++) {
		free(buses[k].r);
		buses[k] = (struct bus){ 0 };
	}
	pthread_rwlock_unlock(&bus_lock);
}
