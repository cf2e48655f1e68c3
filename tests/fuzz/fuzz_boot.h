/* fuzz_boot.h: boot_load() (firmware/boot.c) on a kernel image from fuzz input, the way
 * minivmm loads --kernel/--initrd/--cmdline, into fenced guest memory. Shared by the bzImage
 * and ELF/PVH targets, which differ only in how they shape the image.
 *
 * Input: ctl:u8 cmdline_len:u8 initrd_len:u16, then the kernel image (the rest). The initrd is
 * initrd_len zero bytes (none when ctl bit 0 is clear), the command line cmdline_len 'x's.
 * Invariants on success: the kernel lies in RAM from 1 MiB on, the initrd in RAM past the
 * kernel's claim and below its limit, the entry protocol's pointers set. */
#ifndef MINIVMM_FUZZ_BOOT_H
#define MINIVMM_FUZZ_BOOT_H
#include <stddef.h>
#include <stdint.h>

#define FUZZ_BOOT_HDR 4 /* ctl, cmdline_len, initrd_len */

/* Runs boot_load() on data; the image is data + FUZZ_BOOT_HDR (copied, so it can be shaped:
 * shape(img, len) runs on the copy first when not NULL). */
void fuzz_boot_load(const uint8_t *data, size_t size, void (*shape)(uint8_t *img, size_t len));
#endif
