/* boot_marker.h: a debug port (firmware/layout.h LAYOUT_PORT_BOOTMARK) the guest's init writes to
 * when boot is done; minivmm then prints "guest boot time: N ms" (since process start) on
 * stderr, once. Benchmarks read that line. */
#ifndef MINIVMM_BOOT_MARKER_H
#define MINIVMM_BOOT_MARKER_H
#include <stdint.h>
/* t0_ns: CLOCK_MONOTONIC at process start. */
int boot_marker_init(uint64_t t0_ns);
uint64_t boot_marker_now_ns(void);
#endif
