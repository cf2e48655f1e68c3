/* fuzz_in.h: reading a libFuzzer input as a stream of little-endian fields; past its end every
 * field reads 0, so any input is a complete program for a target. */
#ifndef MINIVMM_FUZZ_IN_H
#define MINIVMM_FUZZ_IN_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct fuzz_in {
	const uint8_t *p;
	size_t n;
};

static inline uint64_t fuzz_in_le(struct fuzz_in *in, unsigned bytes)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < bytes && in->n; i++, in->p++, in->n--)
		v |= (uint64_t)in->p[0] << (8 * i);
	return v;
}
#define fuzz_u8(in)  ((uint8_t)fuzz_in_le((in), 1))
#define fuzz_u16(in) ((uint16_t)fuzz_in_le((in), 2))
#define fuzz_u32(in) ((uint32_t)fuzz_in_le((in), 4))
#define fuzz_u64(in) fuzz_in_le((in), 8)

/* Up to len bytes of the input (fewer at its end); returns how many were copied, the rest of
 * dst is zeroed. */
static inline size_t fuzz_bytes(struct fuzz_in *in, void *dst, size_t len)
{
	size_t k = len < in->n ? len : in->n;
	memcpy(dst, in->p, k);
	memset((uint8_t *)dst + k, 0, len - k);
	in->p += k;
	in->n -= k;
	return k;
}
#endif
