/* serial.h: a 16550A UART (8250 family) on the PIO bus, its transmitter feeding a bounded ring the
 * main loop drains to a host fd, its receiver fed by the main loop from stdin. A vCPU never
 * waits on the host fd: when its reader stops, bytes past the ring are dropped and counted. Enough for Linux's 8250 driver: probing (scratch,
 * loopback MSR check, FIFO detection), THRE and RX-data interrupts on an edge ISA IRQ. */
#ifndef MINIVMM_SERIAL_H
#define MINIVMM_SERIAL_H
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define SERIAL_RX_FIFO 256
#define SERIAL_OUT_RING 65536 /* guest output waiting for the host fd: a few screens */

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
	/* Transmitted bytes on their way to out_fd (serial_out_drain). */
	uint8_t out[SERIAL_OUT_RING];
	size_t out_head, out_len;
	int out_kick; /* eventfd: the ring became non-empty; -1 = none */
	uint64_t out_bytes, out_dropped;
	/* Raise/lower the interrupt line; defaults to irq_line(). Tests replace it. */
	int (*set_irq)(uint32_t gsi, int level);
};

/* Registers the UART at port (8 ports) raising gsi; output goes to out_fd through the ring.
 * 0 or -errno. */
int serial_init(struct serial *s, uint16_t port, uint32_t gsi, int out_fd);
/* Writes what the ring holds to out_fd, never waiting (out_fd should be non-blocking): 0 when
 * the ring is empty, -EAGAIN when out_fd is full (wait for EPOLLOUT), another -errno when the
 * fd failed (the bytes are dropped and counted). */
int serial_out_drain(struct serial *s);
/* Eventfd that becomes readable when guest output waits in the ring. */
int serial_out_fd(const struct serial *s);
void serial_stats_print(struct serial *s, FILE *f);
void serial_free(struct serial *s);
/* Queues host input for the guest; returns how many bytes fitted. */
size_t serial_rx(struct serial *s, const uint8_t *buf, size_t len);
/* Register access, as the bus calls it (exposed for unit tests). */
void serial_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, int is_write);
#endif
