/* seccomp.h: per-thread system call allow-lists (seccomp-bpf through libseccomp).
 *
 * Each thread kind installs its own filter (with NO_NEW_PRIVS) before it runs guest-driven code:
 *   main        the loop: console, signals, device activation/reset (vhost, TUNSETOFFLOAD,
 *               irqfd/ioeventfd), teardown; creates the net-io threads
 *   vcpu        KVM_RUN and the device models' register accesses (MSI-X routing, irqfd,
 *               ioeventfd, INTx, eventfd kicks)
 *   net-io      a NIC queue pair's I/O thread: tap read/write and queue attach (TUNSETQUEUE),
 *               eventfds, epoll, and libslirp's sockets
 *   irq-poller  the virtio transport's interrupt poller: eventfds -> MSI / INTx
 * A thread inherits its creator's filter and adds its own, so a kind gets the intersection:
 * the vcpu and irq-poller threads start before main installs its filter; net-io threads are
 * created by main at activation, so main's list holds what net-io needs (its own list then takes
 * KVM, vhost and thread creation away again).
 * A call outside the list raises SIGSYS (SECCOMP_RET_TRAP); the handler writes one line naming
 * the thread kind and the system call and exits 1: never a silent death. */
#ifndef MINIVMM_SECCOMP_H
#define MINIVMM_SECCOMP_H
#include <stdbool.h>

enum seccomp_kind { SECCOMP_MAIN, SECCOMP_VCPU, SECCOMP_NET_IO, SECCOMP_IRQ_POLLER, SECCOMP_KINDS };

/* Once, on the main thread before any other thread exists: on = filters are installed by
 * seccomp_enter(); off = seccomp_enter() does nothing. Installs the SIGSYS reporter. */
int seccomp_setup(bool on);
/* Installs the calling thread's filter for kind (no-op when off or never set up). 0 or -errno
 * with one line printed; the caller must not go on running guest-driven code then. */
int seccomp_enter(enum seccomp_kind kind);
const char *seccomp_kind_name(enum seccomp_kind kind);
#endif
