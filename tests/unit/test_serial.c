/* test_serial.c: the 16550A model as Linux's 8250 driver probes and drives it. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/serial_reg.h>
#include <stdint.h>
#include <unistd.h>

#include "devices/serial.h"
#include "tests/unit/unit.h"
#include "vmm/bus.h"
#include "vmm/console.h"

static int irq_level_seen, irq_edges;
static int fake_irq(uint32_t gsi, int level)
{
	(void)gsi;
	if (level && !irq_level_seen)
		irq_edges++;
	irq_level_seen = level;
	return 0;
}

static struct serial s;
static int out[2];

static void setup(void)
{
	bus_reset();
	ck_assert_int_eq(pipe(out), 0);
	ck_assert_int_eq(serial_init(&s, 0x3f8, 4, out[1]), 0);
	s.set_irq = fake_irq;
	irq_level_seen = irq_edges = 0;
}

static void teardown(void)
{
	serial_free(&s);
	close(out[0]);
	close(out[1]);
	bus_reset();
}

static uint8_t rd(int reg)
{
	uint8_t v;
	ck_assert(bus_access(BUS_PIO, 0x3f8 + reg, &v, 1, false));
	return v;
}

static void wr(int reg, uint8_t v)
{
	ck_assert(bus_access(BUS_PIO, 0x3f8 + reg, &v, 1, true));
}

START_TEST(transmit_reaches_the_host_fd)
{
	wr(UART_TX, 'h');
	wr(UART_TX, 'i');
	ck_assert_int_eq(serial_out_drain(&s), 0);
	char buf[2];
	ck_assert_int_eq(read(out[0], buf, 2), 2);
	ck_assert_mem_eq(buf, "hi", 2);
	ck_assert_uint_eq(rd(UART_LSR) & (UART_LSR_THRE | UART_LSR_TEMT), UART_LSR_THRE | UART_LSR_TEMT);
}
END_TEST

START_TEST(output_to_a_pipe_nobody_reads_never_blocks_and_drops_are_counted)
{
	/* What console_out_fd() gives the serial for a pipe on stdout: non-blocking. */
	int fd = console_out_fd(out[1]);
	ck_assert_int_ne(fd, out[1]);
	ck_assert_int_eq(fcntl(out[1], F_GETFL) & O_NONBLOCK, 0); /* the shared one is untouched */
	ck_assert_int_ne(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
	ck_assert_int_eq(fcntl(fd, F_SETPIPE_SZ, 4096), 4096);
	s.out_fd = fd;
	/* More than the ring with nobody draining: every write returns, the excess is counted. */
	for (int i = 0; i < SERIAL_OUT_RING + 1000; i++) {
		uint8_t c = 'a' + i % 26;
		serial_io(&s, UART_TX, &c, 1, 1);
	}
	ck_assert_uint_eq(s.out_len, SERIAL_OUT_RING);
	ck_assert_uint_eq(s.out_dropped, 1000);
	/* The drainer fills the pipe and stops instead of waiting for a reader. */
	ck_assert_int_eq(serial_out_drain(&s), -EAGAIN);
	ck_assert_uint_eq(s.out_bytes, 4096);
	ck_assert_uint_eq(s.out_len, SERIAL_OUT_RING - 4096);
	for (int i = 0; i < 5000; i++)
		wr(UART_TX, 'x');
	ck_assert_uint_eq(s.out_dropped, 1000 + 5000 - 4096);
	ck_assert_int_eq(serial_out_drain(&s), -EAGAIN);
	/* A reader comes back: the bytes it gets are the oldest ones, in order. */
	char buf[4096];
	ck_assert_int_eq(read(out[0], buf, sizeof(buf)), 4096);
	ck_assert_int_eq(buf[0], 'a');
	ck_assert_int_eq(buf[27], 'b');
	ck_assert_int_eq(serial_out_drain(&s), -EAGAIN);
	ck_assert_uint_eq(s.out_bytes, 8192);
	close(fd);
}
END_TEST

START_TEST(the_drainer_is_kicked_once_per_empty_ring)
{
	uint64_t v;
	int kick = serial_out_fd(&s);
	ck_assert_int_eq(read(kick, &v, sizeof(v)), -1); /* nothing yet */
	wr(UART_TX, '1');
	wr(UART_TX, '2');
	ck_assert_int_eq(read(kick, &v, sizeof(v)), sizeof(v));
	ck_assert_uint_eq(v, 1);
	ck_assert_int_eq(serial_out_drain(&s), 0);
	wr(UART_TX, '3');
	ck_assert_int_eq(read(kick, &v, sizeof(v)), sizeof(v));
}
END_TEST

START_TEST(scratch_and_divisor_latch_hold_values)
{
	wr(UART_SCR, 0xa5);
	ck_assert_uint_eq(rd(UART_SCR), 0xa5);
	wr(UART_LCR, UART_LCR_DLAB);
	wr(UART_DLL, 0x01);
	wr(UART_DLM, 0x02);
	ck_assert_uint_eq(rd(UART_DLL), 0x01);
	ck_assert_uint_eq(rd(UART_DLM), 0x02);
	wr(UART_LCR, 0x03);
	ck_assert_uint_eq(rd(UART_IER), 0);
}
END_TEST

START_TEST(loopback_reflects_modem_outputs_as_linux_probe_expects)
{
	wr(UART_MCR, UART_MCR_LOOP | UART_MCR_OUT2 | UART_MCR_RTS);
	ck_assert_uint_eq(rd(UART_MSR) & 0xf0, UART_MSR_DCD | UART_MSR_CTS);
	wr(UART_TX, 'z'); /* loops back into the receiver */
	ck_assert(rd(UART_LSR) & UART_LSR_DR);
	ck_assert_uint_eq(rd(UART_RX), 'z');
	wr(UART_MCR, 0);
	ck_assert_uint_eq(rd(UART_MSR) & 0xf0, UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS);
}
END_TEST

START_TEST(fifo_enable_shows_in_iir)
{
	ck_assert_uint_eq(rd(UART_IIR), UART_IIR_NO_INT);
	wr(UART_FCR, UART_FCR_ENABLE_FIFO);
	ck_assert_uint_eq(rd(UART_IIR) & 0xc0, 0xc0);
}
END_TEST

START_TEST(received_bytes_raise_rx_interrupt_until_drained)
{
	wr(UART_MCR, UART_MCR_OUT2);
	wr(UART_IER, UART_IER_RDI);
	ck_assert_int_eq(irq_level_seen, 0);
	ck_assert_uint_eq(serial_rx(&s, (const uint8_t *)"ab", 2), 2);
	ck_assert_int_eq(irq_level_seen, 1);
	ck_assert_uint_eq(rd(UART_IIR) & 0x0f, UART_IIR_RDI);
	ck_assert_uint_eq(rd(UART_RX), 'a');
	ck_assert_uint_eq(rd(UART_RX), 'b');
	ck_assert_int_eq(irq_level_seen, 0);
	ck_assert_uint_eq(rd(UART_LSR) & UART_LSR_DR, 0);
}
END_TEST

START_TEST(thre_interrupt_fires_on_enable_and_clears_on_iir_read)
{
	wr(UART_MCR, UART_MCR_OUT2);
	wr(UART_IER, UART_IER_THRI);
	ck_assert_int_eq(irq_edges, 1);
	ck_assert_uint_eq(rd(UART_IIR) & 0x0f, UART_IIR_THRI);
	ck_assert_int_eq(irq_level_seen, 0);
	wr(UART_TX, 'x');
	ck_assert_int_eq(irq_edges, 2);
}
END_TEST

START_TEST(out2_gates_the_interrupt_line)
{
	wr(UART_IER, UART_IER_RDI);
	serial_rx(&s, (const uint8_t *)"a", 1);
	ck_assert_int_eq(irq_level_seen, 0);
	wr(UART_MCR, UART_MCR_OUT2);
	ck_assert_int_eq(irq_level_seen, 1);
}
END_TEST

START_TEST(full_fifo_takes_no_more_input)
{
	uint8_t buf[SERIAL_RX_FIFO + 10] = { 0 };
	ck_assert_uint_eq(serial_rx(&s, buf, sizeof(buf)), SERIAL_RX_FIFO);
	ck_assert_uint_eq(serial_rx(&s, buf, 1), 0);
	rd(UART_RX);
	ck_assert_uint_eq(serial_rx(&s, buf, 5), 1);
}
END_TEST

START_TEST(wide_and_out_of_range_accesses_are_ignored)
{
	uint8_t v[4] = { 0 };
	ck_assert(bus_access(BUS_PIO, 0x3f8, v, 2, false));
	ck_assert_uint_eq(v[0], 0xff);
	ck_assert(!bus_access(BUS_PIO, 0x400, v, 1, false));
}
END_TEST

int main(void)
{
	Suite *su = suite_create("serial");
	TCase *tc = tcase_create("uart");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, transmit_reaches_the_host_fd);
	tcase_add_test(tc, output_to_a_pipe_nobody_reads_never_blocks_and_drops_are_counted);
	tcase_add_test(tc, the_drainer_is_kicked_once_per_empty_ring);
	tcase_add_test(tc, scratch_and_divisor_latch_hold_values);
	tcase_add_test(tc, loopback_reflects_modem_outputs_as_linux_probe_expects);
	tcase_add_test(tc, fifo_enable_shows_in_iir);
	tcase_add_test(tc, received_bytes_raise_rx_interrupt_until_drained);
	tcase_add_test(tc, thre_interrupt_fires_on_enable_and_clears_on_iir_read);
	tcase_add_test(tc, out2_gates_the_interrupt_line);
	tcase_add_test(tc, full_fifo_takes_no_more_input);
	tcase_add_test(tc, wide_and_out_of_range_accesses_are_ignored);
	suite_add_tcase(su, tc);
	return unit_run(su);
}
