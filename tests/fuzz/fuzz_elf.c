/* fuzz_elf.c: libFuzzer target for the ELF vmlinux loader and its PVH note (firmware/elf.c) and
 * the hvm_start_info written for it (pvh.c), through boot_load() (fuzz_boot.h). The image always
 * starts with the ELF magic, so every input reaches the ELF header checks. */
#include <elf.h>
#include <string.h>

#include "tests/fuzz/fuzz_boot.h"

static void shape(uint8_t *img, size_t len)
{
	if (len >= SELFMAG)
		memcpy(img, ELFMAG, SELFMAG);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_boot_load(data, size, shape);
	return 0;
}
