/* aml.c: AML encoding (ACPI 6.4 section 20.2), enough for a static DSDT. */
#include "firmware/aml.h"

#include <string.h>

#define ZERO_OP 0x00
#define ONE_OP 0x01
#define NAME_OP 0x08
#define BYTE_PREFIX 0x0a
#define WORD_PREFIX 0x0b
#define DWORD_PREFIX 0x0c
#define STRING_PREFIX 0x0d
#define QWORD_PREFIX 0x0e
#define SCOPE_OP 0x10
#define BUFFER_OP 0x11
#define PACKAGE_OP 0x12
#define EXT_OP_PREFIX 0x5b
#define DEVICE_OP 0x82 /* after EXT_OP_PREFIX */
#define DUAL_NAME_PREFIX 0x2e
#define MULTI_NAME_PREFIX 0x2f
#define ROOT_CHAR '\\'
#define PARENT_PREFIX_CHAR '^'

#define PKGLEN_RESERVE 4 /* the longest PkgLength encoding, shrunk in aml_end() */

void aml_init(struct aml *a, uint8_t *buf, size_t cap)
{
	*a = (struct aml){ .buf = buf, .cap = cap };
}

void aml_bytes(struct aml *a, const void *p, size_t n)
{
	if (a->overflow || n > a->cap - a->len) {
		a->overflow = true;
		return;
	}
	memcpy(a->buf + a->len, p, n);
	a->len += n;
}

void aml_byte(struct aml *a, uint8_t v)
{
	aml_bytes(a, &v, 1);
}

static void aml_le(struct aml *a, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		aml_byte(a, (uint8_t)(v >> (8 * i)));
}

void aml_namestring(struct aml *a, const char *path)
{
	const char *segs[16];
	int nseg = 0;

	while (*path == ROOT_CHAR || *path == PARENT_PREFIX_CHAR)
		aml_byte(a, (uint8_t)*path++);
	for (const char *s = path; *s && nseg < 16;) {
		segs[nseg++] = s;
		s += strcspn(s, ".");
		if (*s == '.')
			s++;
	}
	if (nseg == 0) {
		aml_byte(a, ZERO_OP); /* NullName */
		return;
	}
	if (nseg == 2) {
		aml_byte(a, DUAL_NAME_PREFIX);
	} else if (nseg > 2) {
		aml_byte(a, MULTI_NAME_PREFIX);
		aml_byte(a, (uint8_t)nseg);
	}
	for (int i = 0; i < nseg; i++) {
		size_t n = strcspn(segs[i], ".");
		for (size_t j = 0; j < 4; j++)
			aml_byte(a, j < n ? (uint8_t)segs[i][j] : '_');
	}
}

void aml_integer(struct aml *a, uint64_t v)
{
	if (v == 0) {
		aml_byte(a, ZERO_OP);
	} else if (v == 1) {
		aml_byte(a, ONE_OP);
	} else if (v <= 0xff) {
		aml_byte(a, BYTE_PREFIX);
		aml_le(a, v, 1);
	} else if (v <= 0xffff) {
		aml_byte(a, WORD_PREFIX);
		aml_le(a, v, 2);
	} else if (v <= 0xffffffff) {
		aml_byte(a, DWORD_PREFIX);
		aml_le(a, v, 4);
	} else {
		aml_byte(a, QWORD_PREFIX);
		aml_le(a, v, 8);
	}
}

void aml_string(struct aml *a, const char *s)
{
	aml_byte(a, STRING_PREFIX);
	aml_bytes(a, s, strlen(s) + 1);
}

void aml_name(struct aml *a, const char *path)
{
	aml_byte(a, NAME_OP);
	aml_namestring(a, path);
}

static size_t aml_pkg_open(struct aml *a)
{
	size_t mark = a->len;
	aml_bytes(a, "\0\0\0\0", PKGLEN_RESERVE);
	return mark;
}

void aml_end(struct aml *a, size_t mark)
{
	if (a->overflow)
		return;
	size_t body = a->len - mark - PKGLEN_RESERVE;
	/* PkgLength counts its own bytes too (20.2.4): one byte holds up to 63, then each
	 * following byte adds 8 bits above the lead byte's low nibble. */
	int n = body + 1 <= 0x3f ? 1 : body + 2 <= 0xfff ? 2 : body + 3 <= 0xfffff ? 3 : 4;
	size_t total = body + n;
	uint8_t *p = a->buf + mark;

	memmove(p + n, p + PKGLEN_RESERVE, body);
	if (n == 1) {
		p[0] = (uint8_t)total;
	} else {
		p[0] = (uint8_t)(((n - 1) << 6) | (total & 0xf));
		for (int i = 1; i < n; i++)
			p[i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
	}
	a->len -= PKGLEN_RESERVE - n;
}

size_t aml_scope(struct aml *a, const char *path)
{
	aml_byte(a, SCOPE_OP);
	size_t mark = aml_pkg_open(a);
	aml_namestring(a, path);
	return mark;
}

size_t aml_device(struct aml *a, const char *path)
{
	aml_byte(a, EXT_OP_PREFIX);
	aml_byte(a, DEVICE_OP);
	size_t mark = aml_pkg_open(a);
	aml_namestring(a, path);
	return mark;
}

size_t aml_package(struct aml *a, uint8_t nelems)
{
	aml_byte(a, PACKAGE_OP);
	size_t mark = aml_pkg_open(a);
	aml_byte(a, nelems);
	return mark;
}

void aml_buffer(struct aml *a, const void *bytes, size_t n)
{
	aml_byte(a, BUFFER_OP);
	size_t mark = aml_pkg_open(a);
	aml_integer(a, n);
	aml_bytes(a, bytes, n);
	aml_end(a, mark);
}

uint32_t aml_eisaid(const char *id)
{
	/* Three letters in 5 bits each (A = 1), then four hex digits; stored big-endian. */
	uint32_t v = (uint32_t)((id[0] - '@') & 0x1f) << 26 | (uint32_t)((id[1] - '@') & 0x1f) << 21 |
		     (uint32_t)((id[2] - '@') & 0x1f) << 16;
	for (int i = 3; i < 7; i++) {
		char c = id[i];
		uint32_t d = c >= '0' && c <= '9' ? (uint32_t)(c - '0') : (uint32_t)((c | 0x20) - 'a' + 10);
		v |= d << (4 * (6 - i));
	}
	return __builtin_bswap32(v);
}

/* Small I/O port descriptor (6.4.2.5): decodes 16-bit addresses, fixed base. */
void aml_res_io(struct aml *a, uint16_t base, uint8_t len)
{
	aml_byte(a, 0x47);
	aml_byte(a, 0x01);
	aml_le(a, base, 2);
	aml_le(a, base, 2);
	aml_byte(a, 1);
	aml_byte(a, len);
}

enum { RES_MEM = 0, RES_IO = 1, RES_BUS = 2 };
#define RES_GEN_FLAGS 0x0c    /* producer, positive decode, MinFixed, MaxFixed */
#define RES_IO_ENTIRE 0x03    /* I/O type-specific flags: ISA and non-ISA ranges */
#define RES_MEM_RW 0x01
#define RES_MEM_CACHEABLE 0x02

/* Word/DWord/QWord Address Space Descriptors (6.4.3.5.1-3): one shape, three widths. */
static void aml_res_addr(struct aml *a, uint8_t tag, int w, uint8_t type, uint8_t tflags,
			 uint64_t min, uint64_t max)
{
	aml_byte(a, tag);
	aml_le(a, 3 + 5 * w, 2); /* length of what follows the 3-byte header */
	aml_byte(a, type);
	aml_byte(a, RES_GEN_FLAGS);
	aml_byte(a, tflags);
	aml_le(a, 0, w);             /* granularity */
	aml_le(a, min, w);
	aml_le(a, max, w);
	aml_le(a, 0, w);             /* translation offset */
	aml_le(a, max - min + 1, w); /* length */
}

void aml_res_bus(struct aml *a, uint16_t min, uint16_t max)
{
	aml_res_addr(a, 0x88, 2, RES_BUS, 0, min, max);
}

void aml_res_io_window(struct aml *a, uint16_t min, uint16_t max)
{
	aml_res_addr(a, 0x88, 2, RES_IO, RES_IO_ENTIRE, min, max);
}

void aml_res_mem32(struct aml *a, uint32_t min, uint32_t max)
{
	aml_res_addr(a, 0x87, 4, RES_MEM, RES_MEM_RW, min, max);
}

void aml_res_mem64(struct aml *a, uint64_t min, uint64_t max)
{
	aml_res_addr(a, 0x8a, 8, RES_MEM, RES_MEM_RW | RES_MEM_CACHEABLE, min, max);
}

void aml_res_end(struct aml *a)
{
	aml_byte(a, 0x79);
	aml_byte(a, 0);
}
