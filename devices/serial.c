/* serial.c: the 16550A model. Register names follow <linux/serial_reg.h>. */
#include "devices/serial.h"

#include <errno.h>
#include <linux/serial_reg.h>
#include <stdbool.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "vmm/bus.h"
#include "vmm/irq.h"

/* Modem status seen by the guest when not in loopback: carrier, DSR and CTS up. */
#define SERIAL_MSR_IDLE (UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS)

static uint8_t serial_iir(const struct serial *s)
{
	uint8_t fifo = (s->fcr & UART_FCR_ENABLE_FIFO) ? 0xc0 : 0;
	if ((s->ier & UART_IER_RDI) && s->rx_len)
		return fifo | UART_IIR_RDI;
	if ((s->ier & UART_IER_THRI) && s->thre_pending)
		return fifo | UART_IIR_THRI;
	return fifo | UART_IIR_NO_INT;
}

/* The line follows "an interrupt is pending"; the IOAPIC pin is edge-triggered for ISA IRQs, so
 * each rising edge is one interrupt. OUT2 gates the line as on a PC. */
static void serial_update_irq(struct serial *s)
{
	int level = !(serial_iir(s) & UART_IIR_NO_INT) && (s->mcr & UART_MCR_OUT2);
	if (level != s->irq_level) {
		s->irq_level = level;
		s->set_irq(s->gsi, level);
	}
}

static void serial_push_rx(struct serial *s, uint8_t c)
{
	if (s->rx_len == SERIAL_RX_FIFO)
		return; /* overrun: the byte is lost, as on hardware */
	s->rx[(s->rx_head + s->rx_len) % SERIAL_RX_FIFO] = c;
	s->rx_len++;
}

/* Under the lock. Returns true when the ring went from empty to non-empty (kick the drainer). */
static bool serial_push_out(struct serial *s, uint8_t c)
{
	if (s->out_len == SERIAL_OUT_RING) {
		s->out_dropped++; /* nobody reads our output: the guest goes on, the byte does not */
		return false;
	}
	s->out[(s->out_head + s->out_len) % SERIAL_OUT_RING] = c;
	s->out_len++;
	return s->out_len == 1;
}

/* Returns true when the drainer must be kicked. */
static bool serial_write_reg(struct serial *s, uint64_t off, uint8_t v)
{
	bool kick = false;
	int dlab = s->lcr & UART_LCR_DLAB;
	switch (off) {
	case UART_TX:
		if (dlab) {
			s->dll = v;
			break;
		}
		if (s->mcr & UART_MCR_LOOP)
			serial_push_rx(s, v);
		else
			kick = serial_push_out(s, v);
		s->thre_pending = 1;
		break;
	case UART_IER:
		if (dlab) {
			s->dlm = v;
			break;
		}
		/* Enabling THRI with an empty transmitter raises it at once (Linux relies on that). */
		if ((v & UART_IER_THRI) && !(s->ier & UART_IER_THRI))
			s->thre_pending = 1;
		s->ier = v & 0x0f;
		break;
	case UART_FCR:
		s->fcr = v & (UART_FCR_ENABLE_FIFO | 0xc0);
		if (v & UART_FCR_CLEAR_RCVR)
			s->rx_len = 0;
		break;
	case UART_LCR:
		s->lcr = v;
		break;
	case UART_MCR:
		s->mcr = v & 0x1f;
		break;
	case UART_SCR:
		s->scr = v;
		break;
	default: /* LSR and MSR are read-only */
		break;
	}
	return kick;
}

static uint8_t serial_read_reg(struct serial *s, uint64_t off)
{
	int dlab = s->lcr & UART_LCR_DLAB;
	uint8_t v = 0;
	switch (off) {
	case UART_RX:
		if (dlab)
			return s->dll;
		if (s->rx_len) {
			v = s->rx[s->rx_head];
			s->rx_head = (s->rx_head + 1) % SERIAL_RX_FIFO;
			s->rx_len--;
		}
		return v;
	case UART_IER:
		return dlab ? s->dlm : s->ier;
	case UART_IIR:
		v = serial_iir(s);
		if ((v & 0x0f) == UART_IIR_THRI)
			s->thre_pending = 0; /* reading IIR acknowledges THRE */
		return v;
	case UART_LCR:
		return s->lcr;
	case UART_MCR:
		return s->mcr;
	case UART_LSR:
		return UART_LSR_TEMT | UART_LSR_THRE | (s->rx_len ? UART_LSR_DR : 0);
	case UART_MSR:
		if (s->mcr & UART_MCR_LOOP) /* loopback: outputs appear on the inputs */
			return (uint8_t)(((s->mcr & UART_MCR_DTR) ? UART_MSR_DSR : 0) |
					 ((s->mcr & UART_MCR_RTS) ? UART_MSR_CTS : 0) |
					 ((s->mcr & UART_MCR_OUT1) ? UART_MSR_RI : 0) |
					 ((s->mcr & UART_MCR_OUT2) ? UART_MSR_DCD : 0));
		return SERIAL_MSR_IDLE;
	case UART_SCR:
		return s->scr;
	}
	return 0xff;
}

void serial_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, int is_write)
{
	struct serial *s = opaque;
	if (len != 1 || off > 7) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	bool kick = false;
	pthread_mutex_lock(&s->lock);
	if (is_write)
		kick = serial_write_reg(s, off, data[0]);
	else
		data[0] = serial_read_reg(s, off);
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
	if (kick && s->out_kick >= 0)
		eventfd_write(s->out_kick, 1); /* cannot block: one count per empty->non-empty */
}

int serial_out_drain(struct serial *s)
{
	uint8_t buf[4096];
	for (;;) {
		/* Copy out under the lock, write without it: a vCPU never waits on the fd. */
		pthread_mutex_lock(&s->lock);
		size_t n = s->out_len < sizeof(buf) ? s->out_len : sizeof(buf);
		for (size_t i = 0; i < n; i++)
			buf[i] = s->out[(s->out_head + i) % SERIAL_OUT_RING];
		pthread_mutex_unlock(&s->lock);
		if (!n)
			return 0;
		ssize_t w = write(s->out_fd, buf, n);
		int err = w < 0 ? -errno : 0;
		if (err == -EAGAIN || err == -EINTR)
			return -EAGAIN;
		pthread_mutex_lock(&s->lock);
		size_t done = err ? n : (size_t)w; /* a broken fd: drop what we tried */
		s->out_head = (s->out_head + done) % SERIAL_OUT_RING;
		s->out_len -= done;
		if (err)
			s->out_dropped += done;
		else
			s->out_bytes += done;
		pthread_mutex_unlock(&s->lock);
		if (err)
			return err;
	}
}

int serial_out_fd(const struct serial *s)
{
	return s->out_kick;
}

void serial_stats_print(struct serial *s, FILE *f)
{
	pthread_mutex_lock(&s->lock);
	uint64_t out = s->out_bytes, dropped = s->out_dropped, queued = s->out_len;
	pthread_mutex_unlock(&s->lock);
	fprintf(f, "stats: console out_bytes=%llu queued=%llu dropped=%llu\n", (unsigned long long)out,
		(unsigned long long)queued, (unsigned long long)dropped);
}

static void serial_bus_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	serial_io(opaque, off, data, len, is_write);
}

size_t serial_rx(struct serial *s, const uint8_t *buf, size_t len)
{
	pthread_mutex_lock(&s->lock);
	size_t n = 0;
	while (n < len && s->rx_len < SERIAL_RX_FIFO)
		serial_push_rx(s, buf[n++]);
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return n;
}

int serial_init(struct serial *s, uint16_t port, uint32_t gsi, int out_fd)
{
	memset(s, 0, sizeof(*s));
	s->out_kick = -1;
	pthread_mutex_init(&s->lock, NULL);
	s->port = port;
	s->gsi = gsi;
	s->out_fd = out_fd;
	s->set_irq = irq_line;
	s->out_kick = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->out_kick < 0)
		return -errno;
	return bus_register(BUS_PIO, port, 8, serial_bus_io, s);
}

void serial_free(struct serial *s)
{
	if (s->out_kick >= 0)
		close(s->out_kick);
	s->out_kick = -1;
}
