/* console.c: host input for the serial console, with flow control: when the UART's FIFO is full
 * the rest waits here and stdin is not read until it drains. And the UART's output ring drained
 * to stdout without ever blocking: when stdout is full, EPOLLOUT says when to go on. */
#include "vmm/console.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/stat.h>
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
	int out_fd; /* serial's out_fd, watched for EPOLLOUT while it is full */
	bool out_watched;
} con = {.fd = -1, .out_fd = -1};

/* The flags stdout's shared description had before we made it non-blocking; -1 = untouched. */
static int out_saved_fd = -1, out_saved_flags;

static void console_out_restore(void)
{
	if (out_saved_fd >= 0)
		fcntl(out_saved_fd, F_SETFL, out_saved_flags);
	out_saved_fd = -1;
}

int console_out_fd(int fd)
{
	struct stat st;
	if (fstat(fd, &st) < 0 || S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))
		return fd; /* a file never waits for a reader */
	int flags = fcntl(fd, F_GETFL);
	if (flags < 0 || (flags & O_NONBLOCK))
		return fd;
	/* A description of our own, so O_NONBLOCK does not reach the shell that shares stdout. */
	char path[32];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	int nfd = open(path, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (nfd >= 0)
		return nfd;
	/* A socket cannot be reopened: set the flag on the shared one and put it back at exit. */
	if (fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0) {
		out_saved_fd = fd;
		out_saved_flags = flags;
		atexit(console_out_restore);
	}
	return fd;
}

static void console_out_drain(void)
{
	int r = serial_out_drain(con.s);
	bool want = r == -EAGAIN && con.out_fd >= 0;
	if (want != con.out_watched && loop_mod(con.l, con.out_fd, want ? EPOLLOUT : 0) == 0)
		con.out_watched = want;
}

static void console_out_kick(void *opaque, uint32_t events)
{
	uint64_t v;
	(void)opaque;
	(void)events;
	if (read(serial_out_fd(con.s), &v, sizeof(v)) < 0) {
		/* Spurious: the ring is what matters. */
	}
	console_out_drain();
}

static void console_out_writable(void *opaque, uint32_t events)
{
	(void)opaque;
	(void)events;
	console_out_drain();
}

void console_out_flush(struct serial *s, int max_ms)
{
	/* At exit: what the guest printed last (a panic) is worth a short, bounded wait. */
	for (int waited = 0; serial_out_drain(s) == -EAGAIN && waited < max_ms; waited += 10) {
		struct pollfd p = {.fd = s->out_fd, .events = POLLOUT};
		poll(&p, 1, 10);
	}
}

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
			if (n == 0 || (errno != EAGAIN && errno != EINTR) ||
			    (events & (EPOLLHUP | EPOLLERR))) {
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
	con = (struct console){.l = l, .fd = in_fd, .s = s, .out_fd = s->out_fd};
	loop_set_prepoll(l, console_prepoll, NULL);
	int ret = loop_add(l, serial_out_fd(s), EPOLLIN, console_out_kick, NULL);
	if (ret)
		return ret;
	/* Registered idle; EPOLLOUT only while stdout is full. A file (EPERM) never is. */
	if (loop_add(l, con.out_fd, 0, console_out_writable, NULL) < 0)
		con.out_fd = -1;
	ret = loop_add(l, in_fd, EPOLLIN, console_readable, NULL);
	/* A regular file or /dev/null cannot be polled: then there is simply no console input. */
	if (ret == -EPERM) {
		con.fd = -1;
		return 0;
	}
	return ret;
}
