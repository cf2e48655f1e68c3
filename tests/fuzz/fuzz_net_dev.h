/* fuzz_net_dev.h: the real virtio-net device on a socketpair backend (tests/unit/fake_net.h) for
 * the fuzz targets, with its I/O thread turned into a step the fuzzer runs.
 *
 * Targets linking this are linked with -Wl,--wrap=pthread_create,--wrap=pthread_join: once a
 * device exists, a thread the code under test starts is not started but recorded, and joining
 * it returns at once. fuzz_net_io_step() runs one round of what that thread would do
 * (loop_run_once on the device's loop, without waiting), so an input replays deterministically.
 * The backend counts its send/recv calls in fuzz_work. stderr is replaced by a stream that counts
 * the lines it passes on, so fuzz_net_check_log() can tell a rate-limited diagnostic (log_guest)
 * from one line per guest event. */
#ifndef MINIVMM_FUZZ_NET_DEV_H
#define MINIVMM_FUZZ_NET_DEV_H
#include <stdint.h>

#include "tests/fuzz/fuzz_in.h"
#include "tests/unit/fake_net.h"

/* A device over guest memory gm whose backend offers these offloads (VIRTIO_NET_F_* bits);
 * vdev.tops is the fake transport until a real one wraps it. Aborts if it cannot be made. */
struct fake_net *fuzz_net_new(const struct guest_mem *gm, uint64_t be_offloads);
/* With FUZZ_VERBOSE set in the environment, prints the device's --stats lines first (to see
 * what a seed reaches). */
void fuzz_net_free(struct fake_net *t);
/* Lines printed since the device was made: a guest may not make more than FUZZ_LOG_MAX, whatever
 * it does (log.h: LOG_GUEST_BURST per kind of event, then one per interval). */
#define FUZZ_LOG_MAX 48
void fuzz_net_check_log(void);
/* One round of the device's I/O thread; checks its work against the bound for queues of
 * queue_size. Returns the events handled. */
int fuzz_net_io_step(struct fake_net *t, uint16_t queue_size);
/* A frame from the input arriving on the wire (vnet header + frame, at most max_len bytes). */
void fuzz_net_wire_send(struct fake_net *t, struct fuzz_in *in, uint16_t max_len);
/* Takes every frame the device sent; each must hold at least a vnet header. */
void fuzz_net_wire_drain(struct fake_net *t);
#endif
