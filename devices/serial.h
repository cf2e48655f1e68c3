/* serial.h: a 16550A UART (8250 family) on the PIO bus, its transmitter wired to a host fd and
 * its receiver fed by the main loop from stdin. Enough for Linux's 8250 driver: probing (scratch,
 * loopback MSR check, FIFO detection), THRE and RX-data interrupts on an edge ISA IRQ. */
#ifndef MINIVMM_SERIAL_H
#define MINIVMM_SERIAL_H
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define SERIAL_RX_FIFO 256

struct serial {
	pthread_mutex_t lock;
	uint16_t port;
	uint32_t gsi;
	int out_fd;
	uint8_t ier, lcr, mcr, scr, fcr, dll, dlm;
	int thre_pending; /* THR-empty interrupt armed (cleared by reading IIR or writing THR) */
	int irq_level;
	uint8_t rx[SERIAL_RX_FIFO];
	size_t rx_head, rx_len;
	/* Raise/lower the interrupt line; defaults to irq_line(). Tests replace it. */
	int (*set_irq)(uint32_t gsi, int level);
};

/* Registers the UART at port (8 ports) raising gsi; output goes to out_fd. 0 or -errno. */
int serial_init(struct serial *s, uint16_t port, uint32_t gsi, int out_fd);
/* Queues host input for the guest; returns how many bytes fitted. */
size_t serial_rx(struct serial *s, const uint8_t *buf, size_t len);
/* Register access, as the bus calls it (exposed for unit tests). */
void serial_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, int is_write);
#endif
