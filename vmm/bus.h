/* bus.h: the PIO and MMIO dispatch that KVM exits are routed through. */
#ifndef MINIVMM_BUS_H
#define MINIVMM_BUS_H
#include <stdbool.h>
#include <stdint.h>

enum bus_kind { BUS_PIO, BUS_MMIO };

/* A device's access handler: `off` is relative to the registered base; data holds len (1,2,4,8)
 * little-endian bytes, filled by the handler on reads. Handlers may run on any vCPU thread. */
typedef void (*bus_io_fn)(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write);

/* Returns 0, -EEXIST on overlap, -ENOMEM. */
int bus_register(enum bus_kind kind, uint64_t base, uint64_t len, bus_io_fn fn, void *opaque);
/* Removes the range registered at exactly base; returns 0 or -ENOENT. */
int bus_unregister(enum bus_kind kind, uint64_t base);
/* Dispatches an access; unclaimed reads return all ones, unclaimed writes are ignored.
 * Returns true if a device claimed it. */
bool bus_access(enum bus_kind kind, uint64_t addr, uint8_t *data, uint32_t len, bool is_write);
/* Drops every registration (tests and teardown). */
void bus_reset(void);
#endif
