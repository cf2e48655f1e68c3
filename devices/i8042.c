/* i8042.c: the reset line of the keyboard controller. */
#include "devices/i8042.h"

#include <string.h>

#include "vmm/bus.h"
#include "vmm/vm.h"

#define I8042_DATA 0x60
#define I8042_CMD 0x64
#define I8042_CMD_RESET 0xfe

static void i8042_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	(void)opaque;
	if (!is_write) {
		/* Status 0: output buffer empty, input buffer empty: nothing to read, ready for commands. */
		memset(data, 0, len);
		return;
	}
	if (off == I8042_CMD - I8042_DATA && data[0] == I8042_CMD_RESET)
		vm_request_exit(0, "guest rebooted");
}

int i8042_init(void)
{
	return bus_register(BUS_PIO, I8042_DATA, I8042_CMD - I8042_DATA + 1, i8042_io, NULL);
}
