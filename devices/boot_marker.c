/* boot_marker.c: the "boot finished" debug port. */
#include "devices/boot_marker.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "firmware/layout.h"
#include "vmm/bus.h"

static uint64_t marker_t0;
static atomic_int marker_seen;

uint64_t boot_marker_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void boot_marker_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	(void)opaque;
	(void)off;
	if (!is_write) {
		memset(data, 0xff, len);
		return;
	}
	if (atomic_exchange(&marker_seen, 1))
		return;
	/* \r first: the console may be in raw mode and mid-line. */
	fprintf(stderr, "\r\nguest boot time: %llu ms\r\n",
		(unsigned long long)((boot_marker_now_ns() - marker_t0) / 1000000));
}

int boot_marker_init(uint64_t t0_ns)
{
	marker_t0 = t0_ns;
	return bus_register(BUS_PIO, LAYOUT_PORT_BOOTMARK, 1, boot_marker_io, NULL);
}
