/* fuzz_mem.h: fake guest memory for the libFuzzer targets, fenced so that any access outside it
 * is reported at once, and a check on every translation the code under test asks for.
 *
 * The memory ends exactly at a PROT_NONE guard page, starts just after another one (the slack
 * in between is ASan-poisoned), and is one region at guest-physical 0 (guest_mem_fake). Targets
 * are linked with -Wl,--wrap=guest_ptr: every guest_ptr() call from another file goes through
 * a checker that aborts unless the returned range lies inside the region it was translated
 * for, at exactly region + (gpa - region start). The mapping is made once per process and
 * re-zeroed for each input, so inputs do not leak state into each other. */
#ifndef MINIVMM_FUZZ_MEM_H
#define MINIVMM_FUZZ_MEM_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "vmm/guest_mem.h"

struct fuzz_mem {
	uint8_t *base; /* guest-physical 0 */
	uint64_t size;
	struct guest_mem gm;
};

/* Fenced memory of `size` bytes; zeroed unless zero is false (loaders that only write). The
 * same size must be asked for on every call in one process. */
void fuzz_mem_init(struct fuzz_mem *fm, uint64_t size, int zero);

/* An invariant of the code under test broke: say which and abort (libFuzzer saves the input). */
#define FUZZ_CHECK(cond, ...)                                                                                \
	do {                                                                                                 \
		if (!(cond)) {                                                                               \
			fprintf(stderr, "fuzz invariant failed at %s:%d: ", __FILE__, __LINE__);             \
			fprintf(stderr, __VA_ARGS__);                                                        \
			fputc('\n', stderr);                                                                 \
			abort();                                                                             \
		}                                                                                            \
	} while (0)
#endif
