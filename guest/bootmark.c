/* bootmark.c: the test guest's "boot finished" signal: one byte to minivmm's debug port
 * (firmware/layout.h LAYOUT_PORT_BOOTMARK). Debian's cloud kernel has no /dev/port, so init runs
 * this static helper instead. */
#include <stdio.h>
#include <sys/io.h>

#include "firmware/layout.h"

int main(void)
{
	if (ioperm(LAYOUT_PORT_BOOTMARK, 1, 1) < 0) {
		perror("bootmark: ioperm");
		return 1;
	}
	outb('x', LAYOUT_PORT_BOOTMARK);
	return 0;
}
