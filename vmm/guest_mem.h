/* guest_mem.h: guest-physical memory and the one helper that translates guest addresses.
 *
 * Every access to guest memory goes through guest_ptr(): it returns a host pointer only when the
 * whole range [gpa, gpa+len) lies inside one RAM region, so a hostile guest address can never
 * make the VMM touch memory outside the guest. */
#ifndef MINIVMM_GUEST_MEM_H
#define MINIVMM_GUEST_MEM_H
#include <stddef.h>
#include <stdint.h>

#define GUEST_MEM_MAX_REGIONS 2

struct guest_region {
	uint64_t gpa;  /* guest-physical start */
	uint64_t size; /* bytes */
	uint8_t *hva;  /* host mapping */
};

struct guest_mem {
	struct guest_region r[GUEST_MEM_MAX_REGIONS];
	int nr;
	uint64_t ram_size; /* sum of region sizes */
	void *map;         /* the single host mapping behind all regions (NULL for fakes) */
	size_t map_len;
};

/* Maps ram_size bytes, 2 MiB aligned (so THP can back them), and splits them around the PCI
 * hole (firmware/layout.h).
 * Returns 0 or -errno. */
int guest_mem_init(struct guest_mem *m, uint64_t ram_size);
void guest_mem_free(struct guest_mem *m);

/* For unit tests: one region of `size` bytes at guest-physical 0, backed by buf. */
void guest_mem_fake(struct guest_mem *m, void *buf, uint64_t size);

/* The translation helper: host pointer for [gpa, gpa+len), or NULL if any byte of it falls
 * outside guest RAM (including arithmetic overflow). len 0 is checked as len 1. */
void *guest_ptr(const struct guest_mem *m, uint64_t gpa, uint64_t len);

/* Typed, checked guest pointer: NULL if the object does not fit in RAM. */
#define GUEST_PTR(m, gpa, type) ((type *)guest_ptr((m), (gpa), sizeof(type)))

/* Copy helpers built on guest_ptr(); return 0 or -EFAULT. */
int guest_read(const struct guest_mem *m, uint64_t gpa, void *dst, uint64_t len);
int guest_write(const struct guest_mem *m, uint64_t gpa, const void *src, uint64_t len);
#endif
