/* aml.h: a small emitter for the ACPI Machine Language the DSDT is written in (ACPI 6.4 chapter
 * 20), just the terms minivmm's DSDT uses: names, integers, strings, packages, buffers, scopes,
 * devices, and the resource descriptors of _CRS (6.4). */
#ifndef MINIVMM_AML_H
#define MINIVMM_AML_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* An append-only byte buffer; overflow is sticky and checked once at the end. */
struct aml {
	uint8_t *buf;
	size_t len, cap;
	bool overflow;
};

void aml_init(struct aml *a, uint8_t *buf, size_t cap);
void aml_byte(struct aml *a, uint8_t v);
void aml_bytes(struct aml *a, const void *p, size_t n);

/* NameString: "\\_SB_.PCI0", "_HID", "^FOO"; segments shorter than 4 are padded with '_'. */
void aml_namestring(struct aml *a, const char *path);
/* Integer with the shortest encoding (ZeroOp, OneOp, Byte/Word/DWord/QWordPrefix). */
void aml_integer(struct aml *a, uint64_t v);
void aml_string(struct aml *a, const char *s);
/* Name(path, <the data object emitted next>). */
void aml_name(struct aml *a, const char *path);
/* Buffer(n) { bytes } */
void aml_buffer(struct aml *a, const void *bytes, size_t n);

/* Opens a PkgLength-framed term; each returns a mark to pass to aml_end(). */
size_t aml_scope(struct aml *a, const char *path);
size_t aml_device(struct aml *a, const char *path);
size_t aml_package(struct aml *a, uint8_t nelems);
/* Closes the term opened at mark: fills in its PkgLength in the shortest encoding. */
void aml_end(struct aml *a, size_t mark);

/* EisaId("PNP0A03") as the 32-bit integer ACPI expects. */
uint32_t aml_eisaid(const char *id);

/* Resource descriptors for a ResourceTemplate (append to a scratch struct aml, then
 * aml_buffer() it). Address-space descriptors are producers with fixed min and max. */
void aml_res_io(struct aml *a, uint16_t base, uint8_t len);
void aml_res_bus(struct aml *a, uint16_t min, uint16_t max);
void aml_res_io_window(struct aml *a, uint16_t min, uint16_t max);
void aml_res_mem32(struct aml *a, uint32_t min, uint32_t max);
void aml_res_mem64(struct aml *a, uint64_t min, uint64_t max);
/* End Tag; the checksum byte 0 means "treat as correct" (6.4.2.9). */
void aml_res_end(struct aml *a);
#endif
