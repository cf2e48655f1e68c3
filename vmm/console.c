/* console.c: host input for the serial console, with flow control: when the UART's FIFO is full
 * the rest waits here and stdin is not read until it drains. */
#include "vmm/console.h"

#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "vmm/vm.h"

#define CONSOLE_ESCAPE 0x01 /* Ctrl-A */

static struct console {
	struct loop *l;
	int fd;
	struct serial *s;
	uint8_t buf[256];
	size_t off, len;
	int escape;
} con;

/* Applies the escape sequence in place; returns the new length. */
static size_t console_filter(uint8_t *b, size_t n)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (con.escape) {
			con.escape = 0;
			if (b[i] == 'x') {
				vm_request_exit(0, "quit from the console (Ctrl-A x)");
				return o;
			}
			b[o++] = b[i]; /* Ctrl-A Ctrl-A and anything else: pass the second key on */
		} else if (b[i] == CONSOLE_ESCAPE) {
			con.escape = 1;
		} else {
			b[o++] = b[i];
		}
	}
	return o;
}

static void console_flush(void)
{
	con.off += serial_rx(con.s, con.buf + con.off, con.len - con.off);
	if (con.off == con.len)
		con.off = con.len = 0;
}

static void console_readable(void *opaque, uint32_t events)
{
	(void)opaque;
	if (con.len == 0) {
		ssize_t n = read(con.fd, con.buf, sizeof(con.buf));
		if (n <= 0) {
			if (n == 0 || (errno != EAGAIN && errno != EINTR) || (events & (EPOLLHUP | EPOLLERR)))
			{
				loop_del(con.l, con.fd); /* stdin closed: the guest keeps running headless */
				con.fd = -1;
			}
			return;
		}
		con.len = console_filter(con.buf, (size_t)n);
	}
	console_flush();
}

/* Called by the main loop's prepoll: retry pending input and only read stdin when there is room. */
static int console_prepoll(void *opaque)
{
	(void)opaque;
	if (con.len)
		console_flush();
	if (con.fd >= 0)
		loop_mod(con.l, con.fd, con.len ? 0 : EPOLLIN);
	return con.len ? 10 : -1;
}

int console_attach(struct loop *l, int in_fd, struct serial *s)
{
	con = (struct console){ .l = l, .fd = in_fd, .s = s };
	loop_set_prepoll(l, console_prepoll, NULL);
	int ret = loop_add(l, in_fd, EPOLLIN, console_readable, NULL);
	/* A regular file or /dev/null cannot be polled: then there is simply no console input. */
	if (ret == -EPERM) {
		con.fd = -1;
		return 0;
	}
	return ret;
}
