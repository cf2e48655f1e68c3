/* fuzz_bzimage.c: libFuzzer target for the bzImage loader (firmware/bzimage.c) and the zero page
 * written from its setup header (boot_params.c), through boot_load() (fuzz_boot.h). The image
 * always carries the "HdrS" magic, so every input reaches the setup-header checks. */
#include <string.h>

#include "tests/fuzz/fuzz_boot.h"

static void shape(uint8_t *img, size_t len)
{
	if (len >= 0x206)
		memcpy(img + 0x202, "HdrS", 4);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_boot_load(data, size, shape);
	return 0;
}
