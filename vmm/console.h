/* console.h: stdin -> the UART, on the main loop. Ctrl-A x quits (Ctrl-A Ctrl-A sends one Ctrl-A),
 * as in QEMU, since raw mode hands Ctrl-C to the guest. */
#ifndef MINIVMM_CONSOLE_H
#define MINIVMM_CONSOLE_H
#include "devices/serial.h"
#include "vmm/loop.h"

/* Watches in_fd on l and feeds s; drains s's output ring to its out_fd. 0 or -errno. */
int console_attach(struct loop *l, int in_fd, struct serial *s);
/* An fd for writing to fd (stdout) that never blocks: fd itself when it is a file or already
 * non-blocking, else a non-blocking description of its own. Before dropping privileges (it
 * reopens /proc/self/fd/N). */
int console_out_fd(int fd);
/* Drains s's output ring at exit, waiting at most max_ms for a full stdout. */
void console_out_flush(struct serial *s, int max_ms);
#endif
