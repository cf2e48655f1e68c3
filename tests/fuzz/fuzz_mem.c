/* fuzz_mem.c: fenced fake guest memory and the guest_ptr() checker (see fuzz_mem.h). */
#include "tests/fuzz/fuzz_mem.h"

#include <sanitizer/asan_interface.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static uint8_t *map_base;
static uint64_t map_size;

void fuzz_mem_init(struct fuzz_mem *fm, uint64_t size, int zero)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t body = (size + page - 1) & ~(page - 1);
	if (!map_base) {
		uint8_t *p = mmap(NULL, body + 2 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		FUZZ_CHECK(p != MAP_FAILED, "cannot map %llu bytes", (unsigned long long)size);
		FUZZ_CHECK(mprotect(p + page, body, PROT_READ | PROT_WRITE) == 0, "mprotect");
		map_base = p + page;
		map_size = size;
		/* The slack before the memory (the end abuts the trailing guard page). */
		ASAN_POISON_MEMORY_REGION(map_base, body - size);
	}
	FUZZ_CHECK(size == map_size, "fuzz_mem_init: size changed");
	fm->size = size;
	fm->base = map_base + body - size;
	if (zero)
		memset(fm->base, 0, size);
	guest_mem_fake(&fm->gm, fm->base, size);
}

void *__real_guest_ptr(const struct guest_mem *m, uint64_t gpa, uint64_t len);

void *__wrap_guest_ptr(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	uint8_t *p = __real_guest_ptr(m, gpa, len);
	if (!p)
		return NULL;
	uint64_t n = len ? len : 1;
	for (int i = 0; i < m->nr; i++) {
		const struct guest_region *r = &m->r[i];
		if (gpa < r->gpa || gpa - r->gpa >= r->size)
			continue;
		FUZZ_CHECK(p == r->hva + (gpa - r->gpa), "guest_ptr(0x%llx) translated to the wrong place",
			   (unsigned long long)gpa);
		FUZZ_CHECK(n <= r->size - (gpa - r->gpa), "guest_ptr(0x%llx, %llu) runs past its region",
			   (unsigned long long)gpa, (unsigned long long)len);
		return p;
	}
	FUZZ_CHECK(0, "guest_ptr(0x%llx, %llu) returned memory outside guest RAM", (unsigned long long)gpa,
		   (unsigned long long)len);
	return NULL;
}
